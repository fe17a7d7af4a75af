"""Canaille's own pages driven with `requests`, as a person in a browser would: the login
form, the password form, the consent page; then the provider's redirect back, not followed
(the test hands it to the portal)."""
from __future__ import annotations

import re
import urllib.parse

import requests

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(page: requests.Response) -> dict[str, str]:
    found = _CSRF.search(page.text)
    assert found, f"no form on {page.url}"
    return {"csrf_token": found.group(1)}


def sign_in(authorize_url: str, username: str, password: str, stop_at: str,
            answer: str = "accept", browser: requests.Session | None = None) -> str:
    """Log in at the provider and answer its consent page; the URL it redirects to (which
    starts with `stop_at`) with `code`, `state` and `iss` (or `error`)."""
    browser = browser or requests.Session()
    url = authorize_url
    for _ in range(12):
        page = browser.get(url, allow_redirects=False, timeout=10)
        if page.status_code in (301, 302, 303):
            url = urllib.parse.urljoin(url, page.headers["Location"])
            if url.startswith(stop_at):
                return url
            continue
        assert page.status_code == 200, (page.status_code, page.url)
        if 'id="loginform"' in page.text:
            sent = browser.post(url, data={**_csrf(page), "login": username},
                                allow_redirects=False, timeout=10)
        elif 'id="passwordform"' in page.text:
            sent = browser.post(url, data={**_csrf(page), "username": username,
                                           "password": password},
                                allow_redirects=False, timeout=10)
        elif 'id="authorizeform"' in page.text:
            sent = browser.post(url, data={**_csrf(page), "answer": answer},
                                allow_redirects=False, timeout=10)
        else:
            raise AssertionError(f"an unexpected page at {url}")
        assert sent.status_code in (302, 303), (sent.status_code, sent.text[:500])
        url = urllib.parse.urljoin(url, sent.headers["Location"])
        if url.startswith(stop_at):
            return url
    raise AssertionError("the provider never sent the browser back")


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
