"""End to end with the identity provider (SPEC 15): `make run IDP=local` as a separate
process, Canaille its child; the agent signs in through Canaille's own pages and the stack's
front server, as a browser would, and a SIGTERM of the stack stops the provider too."""
from __future__ import annotations

import signal
import socket

import pytest
import requests

from infra.identity_provider import PEOPLE
from tests.idp.provider_login import sign_in
from tests.local_stack_process import RunningStack


def free_port() -> int:
    """A port free now, for the provider: the stack starts no provider on port 0 (its
    issuer is its own address, which the stack must know before it starts it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def stack():
    running = RunningStack({"PWPORTAL_IDP": "local", "PWPORTAL_IDP_PORT": str(free_port())})
    running.idp_port = int(running.env["PWPORTAL_IDP_PORT"])
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.kill()


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_summary_names_the_provider_and_its_people(stack):
    assert f"http://127.0.0.1:{stack.idp_port}" in stack.output
    for person in PEOPLE:
        assert person.user_name in stack.output and person.password in stack.output
        assert person.name in stack.output


def test_the_agent_signs_in_through_the_providers_pages_and_signs_out(stack):
    browser = requests.Session()
    started = browser.get(stack.url + "/api/support/login", allow_redirects=False, timeout=10)
    assert started.status_code == 302
    assert started.headers["Location"].startswith(f"http://127.0.0.1:{stack.idp_port}/")
    answer = sign_in(started.headers["Location"], "sam.support", "Demo-Support-2026",
                     stop_at=stack.url + "/api/support/callback", browser=browser)
    done = browser.get(answer, allow_redirects=False, timeout=10)
    assert done.status_code == 303 and done.headers["Location"] == "/support/"
    me = browser.get(stack.url + "/api/support/me", timeout=10)
    assert me.json()["agent"] == {"subject": "sam.support", "name": "Sam Support"}
    out = browser.post(stack.url + "/api/support/logout", timeout=10, headers={
        "X-Pwportal-Console": "1", "Origin": stack.url, "Content-Type": "application/json"})
    assert out.status_code == 204
    assert browser.get(stack.url + "/api/support/me", timeout=10).status_code == 401


def test_a_care_worker_is_refused_the_console(stack):
    browser = requests.Session()
    started = browser.get(stack.url + "/api/support/login", allow_redirects=False, timeout=10)
    answer = sign_in(started.headers["Location"], "bo.berg", "Demo-Bo-2026",
                     stop_at=stack.url + "/api/support/callback", browser=browser)
    refused = browser.get(answer, allow_redirects=False, timeout=10,
                          headers={"Accept": "text/html"})
    assert refused.status_code == 403 and "supporthandläggare" in refused.text


def test_sigterm_stops_the_provider_with_the_rest(stack):  # last: it ends the stack
    assert answers(stack.idp_port)
    code, took = stack.interrupt(signal.SIGTERM)
    assert code == 0 and took < 10
    assert not answers(stack.idp_port)
