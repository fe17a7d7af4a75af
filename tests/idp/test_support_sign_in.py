"""SPEC 14, 15: the support console's sign-in against the real provider (Canaille, on this
machine): its own login and consent pages, its real ID tokens. No token here is one the
provider could have issued but did not; the refusals take real tokens and alter what an
attacker could alter (the state, the code, the audience a token was issued for, the time it
is presented, its signature bytes)."""
from __future__ import annotations

import base64
import json
import socket
import urllib.parse
from datetime import timedelta

import pytest

from chalicelib.adapters.oidc import OidcProvider
from chalicelib.domain.sign_in import SignInRefused
from tests.idp.conftest import (CALLBACK, OTHER_CALLBACK, OTHER_CLIENT, OTHER_SECRET,
                                PORTAL)
from tests.idp.provider_login import query, sign_in

SAM = ("sam.support", "Demo-Support-2026")
ANNA = ("anna.andersson", "Demo-Anna-2026")
BO = ("bo.berg", "Demo-Bo-2026")


def cookies(response) -> dict[str, str]:
    """name → the whole Set-Cookie line, of every cookie the answer sets."""
    raw = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or []
    lines = raw if isinstance(raw, list) else [raw]
    return {line.split("=", 1)[0]: line for line in lines if line}


def value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1]


class Browser:
    """One browser's cookies for the portal, and its trip through the provider."""

    def __init__(self, client):
        self.client = client
        self.jar: dict[str, str] = {}

    def get(self, path: str, accept: str = "application/json"):
        headers = {"Accept": accept}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        answer = self.client.http.get(path, headers=headers)
        for name, line in cookies(answer).items():
            if "Max-Age=0" in line:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value(line)
        return answer

    def post(self, path: str, headers: dict[str, str] | None = None):
        sent = {"Content-Type": "application/json", **(headers or {})}
        if self.jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        return self.client.http.post(path, headers=sent, body=b"")

    def login(self) -> str:
        """GET /api/support/login: the provider's authorize URL."""
        started = self.get("/api/support/login")
        assert started.status_code == 302
        return started.headers["Location"]

    def provider_answer(self, person=SAM, answer="accept") -> str:
        """Through the provider's pages as `person`: the callback URL it redirects to."""
        return sign_in(self.login(), *person, stop_at=CALLBACK, answer=answer)

    def callback(self, url: str, accept: str = "application/json"):
        return self.get("/api/support/callback?" + urllib.parse.urlsplit(url).query, accept)


def events(world, name: str) -> list[dict]:
    return [r for r in world.portal.audit.events("-", limit=1000) if r["event"] == name]


def refused(response, reason: str) -> None:
    assert response.status_code == 400, response.json_body
    assert response.json_body["error"]["code"] == "sign_in_refused"
    assert response.json_body["error"]["reason"] == reason
    assert "pwportal_support" not in cookies(response)


CONSOLE_HEADERS = {"X-Pwportal-Console": "1", "Origin": PORTAL}


# -- signing in ------------------------------------------------------------------------------

def test_an_agent_signs_in_through_the_providers_own_pages_and_gets_a_console_session(
        console, client):
    browser = Browser(client)
    authorize = browser.login()
    asked = query(authorize)
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["nonce"] and asked["state"] and asked["redirect_uri"] == CALLBACK
    assert "pwportal_sign_in" in browser.jar  # the browser that asked is bound to the answer

    done = browser.callback(sign_in(authorize, *SAM, stop_at=CALLBACK))

    assert done.status_code == 303 and done.headers["Location"] == "/support/"
    line = cookies(done)["pwportal_support"]
    assert {"HttpOnly", "SameSite=Strict", "Path=/api/support"} <= {
        part.strip() for part in line.split(";")}
    assert "Secure" not in line  # the local stage is plain HTTP; a deployed one sets it
    assert len(base64.urlsafe_b64decode(value(line) + "=")) == 32  # 256 bits
    me = browser.get("/api/support/me")
    assert me.status_code == 200
    assert me.json_body["agent"] == {"subject": "sam.support", "name": "Sam Support"}
    [record] = events(console, "support.signed_in")
    assert record["agent_subject"] == "sam.support" and record["agent_name"] == "Sam Support"
    assert value(line) not in json.dumps(record)  # the session is never in the audit


def test_a_care_worker_signs_in_but_is_refused_the_console(console, client):
    browser = Browser(client)
    answer = browser.callback(browser.provider_answer(ANNA))
    assert answer.status_code == 403
    assert answer.json_body["error"]["code"] == "not_an_agent"
    assert "pwportal_support" not in cookies(answer)
    assert browser.get("/api/support/me").status_code == 401
    [record] = events(console, "support.sign_in_refused")
    assert (record["outcome"], record["agent_subject"]) == ("not_an_agent", "anna.andersson")


def test_the_refusal_is_a_page_for_a_browser_that_navigated_back(console, client):
    browser = Browser(client)
    answer = browser.callback(browser.provider_answer(ANNA), accept="text/html,*/*")
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "inte supporthandläggare" in answer.body.decode("utf-8")
    assert 'href="/api/support/login"' in answer.body.decode("utf-8")


def test_a_person_who_says_no_at_the_consent_page_is_refused(console, client):
    browser = Browser(client)
    # `prompt=consent`: the provider asks again even if someone consented before in this run.
    authorize = browser.login() + "&prompt=consent"
    answer = sign_in(authorize, *BO, stop_at=CALLBACK, answer="deny")
    assert query(answer)["error"] == "access_denied"
    refused(browser.callback(answer), "provider_error")


# -- refusals, each audited ------------------------------------------------------------------

def test_a_forged_state_is_refused_and_audited(console, client):
    browser = Browser(client)
    answer = query(browser.provider_answer())
    answer["state"] = "forged-" + answer["state"][7:]
    refused(browser.callback(CALLBACK + "?" + urllib.parse.urlencode(answer)), "bad_state")
    [record] = events(console, "support.sign_in_refused")
    assert record["outcome"] == "bad_state"
    assert answer["code"] not in json.dumps(record)


def test_an_answer_carried_to_another_browser_is_refused(console, client):
    """Login CSRF: the attacker's own code and state, pasted into the victim's browser."""
    attacker = Browser(client)
    answer = attacker.provider_answer()
    victim = Browser(client)
    refused(victim.callback(answer), "other_browser")
    refused(attacker.callback(answer), "used_state")  # and it is spent


def test_the_same_answer_replayed_is_refused(console, client):
    browser = Browser(client)
    answer = browser.provider_answer()
    assert browser.callback(answer).status_code == 303
    refused(browser.callback(answer), "used_state")
    assert [r["outcome"] for r in events(console, "support.sign_in_refused")] == ["used_state"]


def test_a_code_replayed_under_a_new_sign_in_is_refused_by_the_provider(console, client):
    browser = Browser(client)
    first = query(browser.provider_answer())
    done = browser.callback(CALLBACK + "?" + urllib.parse.urlencode(first))
    assert done.status_code == 303, done.json_body
    second = query(browser.provider_answer())
    replayed = {**second, "code": first["code"]}
    refused(browser.callback(CALLBACK + "?" + urllib.parse.urlencode(replayed)),
            "code_refused")


def test_an_answer_naming_another_provider_is_refused(console, client):
    """RFC 9207: the mix-up attack brings another provider's answer to our callback."""
    browser = Browser(client)
    answer = {**query(browser.provider_answer()), "iss": "https://evil.example"}
    refused(browser.callback(CALLBACK + "?" + urllib.parse.urlencode(answer)), "wrong_issuer")


def test_a_provider_that_stops_answering_is_503_and_audited(console, client, monkeypatch):
    browser = Browser(client)
    answer = browser.provider_answer()
    adapter = console.portal.identity_provider
    with socket.socket() as closed:  # a port the OS gave and nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/oauth/token"
    monkeypatch.setitem(adapter.discovery, "token_endpoint", dead)
    failed = browser.callback(answer)
    assert failed.status_code == 503
    assert failed.json_body["error"]["code"] == "service_unavailable"
    [record] = events(console, "support.sign_in_refused")
    assert record["outcome"] == "provider_unavailable"


def test_an_answer_after_ten_minutes_is_refused(console, client):
    browser = Browser(client)
    answer = browser.provider_answer()
    console.clock.advance(seconds=601)
    refused(browser.callback(answer), "expired_state")


def other_clients_token(provider) -> str:
    """A real ID token the provider issued to the client `other`."""
    from chalicelib.services.sign_in import pkce_challenge
    other = OidcProvider(provider.issuer, OTHER_CLIENT, lambda: OTHER_SECRET,
                         scopes="openid profile groups")
    verifier = "v" * 64
    url = other.authorization_url(OTHER_CALLBACK, "s" * 20, "n" * 20, pkce_challenge(verifier))
    code = query(sign_in(url, *SAM, stop_at=OTHER_CALLBACK))["code"]
    return other.exchange(code, OTHER_CALLBACK, verifier)


def test_a_token_issued_to_another_client_is_refused_and_audited(console, client, provider,
                                                                 monkeypatch):
    token = other_clients_token(provider)
    assert OidcProvider(provider.issuer, OTHER_CLIENT, lambda: OTHER_SECRET).verify(
        token, "n" * 20, console.clock.now()).subject == "sam.support"  # good for `other`
    browser = Browser(client)
    answer = browser.provider_answer()
    # The token endpoint's answer replaced by the other client's token, as a man in the
    # middle (or a provider mix-up) would present it.
    monkeypatch.setattr(console.portal.identity_provider, "exchange", lambda *a: token)
    refused(browser.callback(answer), "wrong_audience")
    assert events(console, "support.sign_in_refused")[0]["outcome"] == "wrong_audience"


def test_an_expired_token_is_refused_and_audited(console, client):
    # The whole sign-in happens on a clock a day ahead: the sign-in record is fresh by it,
    # the provider's real token (issued now, for minutes or an hour) is long expired.
    console.clock.advance(days=1)
    browser = Browser(client)
    refused(browser.callback(browser.provider_answer()), "expired_token")
    assert events(console, "support.sign_in_refused")[0]["outcome"] == "expired_token"


def altered_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, payload,
                     base64.urlsafe_b64encode(bytes(raw)).decode("ascii").rstrip("=")])


def test_a_real_token_with_its_signature_altered_is_refused_and_audited(console, client,
                                                                        monkeypatch):
    adapter = console.portal.identity_provider
    real = adapter.exchange
    monkeypatch.setattr(adapter, "exchange", lambda *a: altered_signature(real(*a)))
    browser = Browser(client)
    refused(browser.callback(browser.provider_answer()), "bad_signature")
    assert events(console, "support.sign_in_refused")[0]["outcome"] == "bad_signature"


def test_a_token_of_another_sign_in_is_refused_by_its_nonce(console, client, provider,
                                                            monkeypatch):
    browser = Browser(client)
    earlier = browser.provider_answer()
    adapter = console.portal.identity_provider
    real = adapter.exchange
    kept: list[str] = []
    monkeypatch.setattr(adapter, "exchange", lambda *a: kept.append(real(*a)) or kept[-1])
    assert browser.callback(earlier).status_code == 303
    monkeypatch.setattr(adapter, "exchange", lambda *a: kept[0])  # the earlier sign-in's
    refused(browser.callback(browser.provider_answer()), "wrong_nonce")


# -- the session -----------------------------------------------------------------------------

def test_no_session_is_401_in_the_envelope(console, client):
    answer = client.http.get("/api/support/me")
    assert answer.status_code == 401
    assert answer.json_body["error"]["code"] == "not_signed_in"
    assert answer.headers["Cache-Control"] == "no-store"
    forged = client.http.get("/api/support/me", headers={"Cookie": "pwportal_support=x" * 3})
    assert forged.status_code == 401


def test_the_session_ends_when_idle_for_30_minutes_and_after_8_hours_in_any_case(console,
                                                                                 client):
    browser = Browser(client)
    browser.callback(browser.provider_answer())
    console.clock.advance(minutes=29)
    assert browser.get("/api/support/me").status_code == 200  # each call moves the idle end
    for _ in range(15):  # 16 × 29 minutes: 7 h 44 min
        console.clock.advance(minutes=29)
        assert browser.get("/api/support/me").status_code == 200
    console.clock.advance(minutes=29)  # 8 h 13 min after the sign-in
    assert browser.get("/api/support/me").status_code == 401
    other = Browser(client)
    other.callback(other.provider_answer())
    console.clock.advance(minutes=31)
    assert other.get("/api/support/me").status_code == 401


@pytest.mark.parametrize("headers", [
    {},                                                           # neither
    {"Origin": PORTAL},                                           # no console header
    {"X-Pwportal-Console": "1"},                                  # no Origin
    {"X-Pwportal-Console": "1", "Origin": "https://evil.example"},  # another site
    {"X-Pwportal-Console": "1", "Origin": "null"},
])
def test_a_state_change_without_the_header_and_the_own_origin_is_refused(console, client,
                                                                         headers):
    browser = Browser(client)
    browser.callback(browser.provider_answer())
    answer = browser.post("/api/support/logout", headers)
    assert answer.status_code == 403
    assert answer.json_body["error"]["code"] == "origin_refused"
    assert browser.get("/api/support/me").status_code == 200  # still signed in


def test_logout_ends_the_session_and_the_cookie_is_refused_after(console, client):
    browser = Browser(client)
    browser.callback(browser.provider_answer())
    token = browser.jar["pwportal_support"]
    answer = browser.post("/api/support/logout", CONSOLE_HEADERS)
    assert answer.status_code == 204
    assert "Max-Age=0" in cookies(answer)["pwportal_support"]
    replayed = client.http.get("/api/support/me",
                               headers={"Cookie": f"pwportal_support={token}"})
    assert replayed.status_code == 401
    [record] = events(console, "support.signed_out")
    assert record["agent_subject"] == "sam.support"


def test_without_a_provider_configured_the_console_is_off(world, client):
    for answer in (client.http.get("/api/support/login"),
                   client.http.get("/api/support/callback?state=x&code=y"),
                   client.http.get("/api/support/me"),
                   client.http.post("/api/support/logout", headers=CONSOLE_HEADERS, body=b"")):
        assert answer.status_code == 404
        assert answer.json_body["error"]["code"] == "not_found"


# -- the client itself -----------------------------------------------------------------------

def test_discovery_and_keys_are_fetched_once_per_container(console, client, monkeypatch):
    adapter = console.portal.identity_provider
    fetched: list[str] = []
    real = adapter._get_json
    monkeypatch.setattr(adapter, "_get_json", lambda url: fetched.append(url) or real(url))
    for _ in range(2):
        browser = Browser(client)
        assert browser.callback(browser.provider_answer()).status_code == 303
    assert [u.rsplit("/", 1)[-1] for u in fetched] == ["openid-configuration", "jwks.json"]


def test_a_key_the_provider_does_not_hold_makes_one_refetch_then_a_refusal(console, provider,
                                                                            monkeypatch):
    token = other_clients_token(provider)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    renamed = base64.urlsafe_b64encode(json.dumps({**claims, "kid": "rotated-away"}).encode()
                                       ).decode().rstrip("=")
    adapter = OidcProvider(provider.issuer, OTHER_CLIENT, lambda: OTHER_SECRET)
    fetched: list[str] = []
    real = adapter._get_json
    monkeypatch.setattr(adapter, "_get_json", lambda url: fetched.append(url) or real(url))
    with pytest.raises(SignInRefused) as refusal:
        adapter.verify(".".join([renamed, payload, signature]), "n" * 20, console.clock.now())
    assert refusal.value.reason == "bad_signature"
    assert [u.rsplit("/", 1)[-1] for u in fetched] == [
        "openid-configuration", "jwks.json", "jwks.json"]


@pytest.mark.parametrize("algorithm", ["none", "HS256", "HS512", "ES256"])
def test_an_algorithm_other_than_rs256_and_rs512_is_refused(console, provider, algorithm):
    """`none` or a MAC keyed with the provider's public key (algorithm confusion) would let
    anyone write tokens: the header alone refuses them, before any key is chosen."""
    import hashlib
    import hmac
    token = other_clients_token(provider)
    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "alg": algorithm}).encode()
                                      ).decode().rstrip("=")
    mac = hmac.new(b"public key bytes", f"{forged}.{payload}".encode(), hashlib.sha256).digest()
    signature = "" if algorithm == "none" else base64.urlsafe_b64encode(mac).decode().rstrip("=")
    adapter = OidcProvider(provider.issuer, OTHER_CLIENT, lambda: OTHER_SECRET)
    with pytest.raises(SignInRefused) as refusal:
        adapter.verify(f"{forged}.{payload}.{signature}", "n" * 20, console.clock.now())
    assert refusal.value.reason == "bad_token"


def test_a_real_token_is_accepted_until_its_expiry_and_refused_after(console, provider):
    token = other_clients_token(provider)
    adapter = OidcProvider(provider.issuer, OTHER_CLIENT, lambda: OTHER_SECRET)
    payload = token.split(".")[1]
    expires = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    from datetime import datetime, timezone
    at_expiry = datetime.fromtimestamp(expires, timezone.utc)
    assert adapter.verify(token, "n" * 20, at_expiry).subject == "sam.support"
    with pytest.raises(SignInRefused) as refusal:
        adapter.verify(token, "n" * 20, at_expiry + timedelta(seconds=61))
    assert refusal.value.reason == "expired_token"
