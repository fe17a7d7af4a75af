"""SPEC 15: holders proven by the organisation's identity provider on pwreg, and pwreset's third
way, against the real provider (Canaille, on this machine): its own login and consent pages,
its real ID tokens. Refusals alter what an attacker could alter in a real answer (the state,
the code, the token the provider gave, the time it is presented), never forge a token."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from chalicelib import bootstrap
from tests.api.helpers import NEW_PHONE, PASSWORD, PHONE, USERNAME, complete, login
from tests.api_client import post
from tests.idp.conftest import CALLBACK, IDP_CALLBACK
from tests.idp.provider_login import query, sign_in
from tests.idp.test_support_sign_in import (ANNA, BO, altered_signature, cookies,
                                            other_clients_token, value)

NEW_PASSWORD = "Sommar-Regn-Tuva7"
OTHER_ACCOUNT = "hemvardsgruppen"


class Page:
    """One browser tab of pwreg or pwreset: its binding cookie for the callback, its trip
    through the provider's pages."""

    def __init__(self, client):
        self.client = client
        self.jar: dict[str, str] = {}

    def _keep(self, answer) -> None:
        for name, line in cookies(answer).items():
            if "Max-Age=0" in line:
                self.jar.pop(name, None)
            else:
                self.jar[name] = value(line)

    def post(self, path: str, body: dict | None = None, session: str | None = None):
        headers = {"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.7"}
        if session:
            headers["Authorization"] = f"Bearer {session}"
        answer = self.client.http.post(path, headers=headers,
                                       body=json.dumps(body or {}).encode())
        self._keep(answer)
        return answer

    def begin_holder(self, session: str) -> str:
        begun = self.post("/api/registration/idp/begin", session=session)
        assert begun.status_code == 200, begun.body
        return begun.json_body["url"]

    def begin_reset(self, username: str = USERNAME) -> str:
        begun = self.post("/api/reset/idp/begin", {"username": username})
        assert begun.status_code == 200, begun.body
        return begun.json_body["url"]

    def callback(self, url: str):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())} \
            if self.jar else {}
        answer = self.client.http.get("/api/idp/callback?" + urllib.parse.urlsplit(url).query,
                                      headers=headers)
        self._keep(answer)
        return answer


def fragment(answer) -> tuple[str, dict[str, str]]:
    """(the page the callback sent the browser to, its fragment's fields)."""
    assert answer.status_code == 303, answer.body
    page, _, rest = answer.headers["Location"].partition("#")
    return page, dict(urllib.parse.parse_qsl(rest))


def trail(world, event: str, username: str | None = USERNAME) -> list[dict]:
    return [r for r in world.portal.audit.events(username or "-", limit=1000)
            if r["event"] == event]


@pytest.fixture
def holders(console, environment):
    """The console's world with PWPORTAL_HOLDER_IDENTITY=offered and the account."""
    environment.setenv("PWPORTAL_HOLDER_IDENTITY", "offered")
    console.portal = bootstrap.override(clock=console.clock)
    console.settings = console.portal.settings
    console.create_account(USERNAME, PASSWORD, PHONE)
    return console


def signed_in_session(client, person=ANNA, username=USERNAME) -> str:
    """A pwreg session in which the provider proved `person`."""
    session = login(client, username).json_body["session"]
    page = Page(client)
    back = page.callback(sign_in(page.begin_holder(session), *person, stop_at=IDP_CALLBACK))
    where, parts = fragment(back)
    assert where == "/pwreg/" and parts["idp"], parts
    finished = page.post("/api/registration/idp/finish", {"handle": parts["idp"]}, session)
    assert finished.status_code == 200, finished.body
    return session


def add_proven(world, client, person=ANNA, phone=NEW_PHONE, username=USERNAME,
               typed: str = "Someone Else") -> dict:
    """`person` proven at the provider adds themselves with `phone` (a typed name besides,
    which is ignored); the holder as verify answers it."""
    session = signed_in_session(client, person, username)
    asked = post(client, "/api/registration/holders", {"name": typed, "phone": phone},
                 session=session)
    assert asked.status_code == 202, asked.body
    verified = post(client, "/api/registration/holders/verify",
                    {"code": world.last_code(phone)}, session=session)
    assert verified.status_code == 200, verified.body
    return verified.json_body["holder"]


# -- pwreg: a holder proven by the provider ------------------------------------------------

def test_anna_signs_in_and_becomes_a_holder_named_by_the_provider(holders, client, provider):
    session = login(client).json_body["session"]
    page = Page(client)
    url = page.begin_holder(session)
    asked = query(url)
    assert asked["redirect_uri"] == IDP_CALLBACK and asked["code_challenge_method"] == "S256"
    line = cookies(client.http.post("/api/registration/idp/begin", headers={
        "Authorization": f"Bearer {session}", "Content-Type": "application/json"},
        body=b"{}"))["pwportal_idp"]
    assert {"HttpOnly", "SameSite=Lax", "Path=/api/idp/callback"} <= {
        part.strip() for part in line.split(";")}

    where, parts = fragment(page.callback(sign_in(url, *ANNA, stop_at=IDP_CALLBACK)))
    assert where == "/pwreg/" and len(parts["idp"]) >= 43
    finished = page.post("/api/registration/idp/finish", {"handle": parts["idp"]}, session)
    assert finished.json_body == {"name": "Anna Andersson"}
    asked = post(client, "/api/registration/holders", {"name": "Kalle Typad", "phone": NEW_PHONE},
                 session=session)
    assert asked.status_code == 202
    holder = post(client, "/api/registration/holders/verify",
                  {"code": holders.last_code(NEW_PHONE)}, session=session).json_body["holder"]

    assert holder["name"] == "Anna Andersson" and holder["proven"] is True
    saved = holders.portal.accounts.get(USERNAME).holder(holder["id"])
    assert (saved.issuer, saved.subject) == (provider.issuer, "anna.andersson")
    listed = login(client).json_body["holders"]
    assert {h["name"]: h["proven"] for h in listed} == {"": False, "Anna Andersson": True}
    [added] = [r for r in trail(holders, "holder.added") if r["subject_name"] == "Anna Andersson"]
    assert added["subject_proven_by"] == provider.issuer
    assert added["proven_by"] == provider.issuer  # she acted, proven


def test_a_person_proven_again_updates_their_holder_instead_of_adding_one(holders, client):
    first = add_proven(holders, client, ANNA, NEW_PHONE)
    again = add_proven(holders, client, ANNA, "+46705550199")
    assert again["id"] == first["id"]
    account = holders.portal.accounts.get(USERNAME)
    assert [h.phone for h in account.holders if h.proven] == ["+46705550199"]
    assert len(account.holders) == 2


def test_in_required_mode_no_holder_is_added_without_the_provider(holders, client,
                                                                  environment):
    environment.setenv("PWPORTAL_HOLDER_IDENTITY", "required")
    holders.portal = bootstrap.override(clock=holders.clock)
    assert login(client).json_body["holder_identity"] == "required"
    session = login(client).json_body["session"]
    refused = post(client, "/api/registration/holders", {"name": "Kalle Typad",
                                                         "phone": NEW_PHONE}, session=session)
    assert refused.status_code == 403
    assert refused.json_body["error"]["code"] == "identity_required"
    assert add_proven(holders, client, BO)["name"] == "Bo Berg"


def test_the_handle_is_only_for_the_session_that_began_and_only_once(holders, client):
    session = login(client).json_body["session"]
    other = login(client).json_body["session"]
    page = Page(client)
    _, parts = fragment(page.callback(sign_in(page.begin_holder(session), *ANNA,
                                              stop_at=IDP_CALLBACK)))
    stolen = page.post("/api/registration/idp/finish", {"handle": parts["idp"]}, other)
    assert stolen.status_code == 410
    assert page.post("/api/registration/idp/finish", {"handle": parts["idp"]},
                     session).status_code == 200
    assert page.post("/api/registration/idp/finish", {"handle": parts["idp"]},
                     session).status_code == 410  # once
    # the other session proved nobody: its typed name stays typed
    post(client, "/api/registration/holders", {"name": "Kalle Typad", "phone": NEW_PHONE},
         session=other)
    holder = post(client, "/api/registration/holders/verify",
                  {"code": holders.last_code(NEW_PHONE)}, session=other).json_body["holder"]
    assert (holder["name"], holder["proven"]) == ("Kalle Typad", False)


def test_the_holder_group_limits_who_may_become_a_holder(holders, client, environment):
    environment.setenv("PWPORTAL_IDP_HOLDER_GROUP", "pwportal-support")
    holders.portal = bootstrap.override(clock=holders.clock)
    session = login(client).json_body["session"]
    page = Page(client)
    back = page.callback(sign_in(page.begin_holder(session), *ANNA, stop_at=IDP_CALLBACK))
    assert fragment(back) == ("/pwreg/", {"idp": "failed"})
    [record] = trail(holders, "idp.sign_in_refused")
    assert (record["outcome"], record["person_subject"]) == ("not_in_group", "anna.andersson")


def test_a_holder_sign_in_answer_at_the_consoles_callback_is_refused(holders, client):
    session = login(client).json_body["session"]
    page = Page(client)
    answer = sign_in(page.begin_holder(session), *ANNA, stop_at=IDP_CALLBACK)
    moved = CALLBACK + "?" + urllib.parse.urlsplit(answer).query
    refused = client.http.get("/api/support/callback?" + urllib.parse.urlsplit(moved).query,
                              headers={"Cookie": f"pwportal_sign_in={page.jar['pwportal_idp']}"})
    assert refused.status_code == 400
    assert refused.json_body["error"]["reason"] == "bad_state"


# -- pwreset: the third way ----------------------------------------------------------------

def test_a_proven_holder_resets_through_the_provider_without_any_sms(holders, client,
                                                                     provider):
    holder = add_proven(holders, client, ANNA)
    holders.deliver()
    sms_before = len(holders.sent())
    page = Page(client)
    where, parts = fragment(page.callback(sign_in(page.begin_reset(), *ANNA,
                                                  stop_at=IDP_CALLBACK)))
    assert where == "/pwreset/" and parts["u"] == USERNAME
    changed = complete(client, parts["reset"], NEW_PASSWORD)
    assert changed.status_code == 200, changed.body
    holders.deliver()
    texts = holders.sent()[sms_before:]
    assert texts and all("säkerhetskod" not in text.lower()  # only the change's notice
                         for _, text in texts), texts
    [requested] = [r for r in trail(holders, "reset.requested") if r.get("channel") == "idp"]
    assert requested["outcome"] == "sign_in_started"
    [verified] = [r for r in trail(holders, "reset.code_verified") if r["channel"] == "idp"]
    assert (verified["holder_id"], verified["proven_by"]) == (holder["id"], provider.issuer)
    [password] = trail(holders, "password.changed")
    assert password["holder_name"] == "Anna Andersson"
    assert password["proven_by"] == provider.issuer


def test_bo_who_holds_no_place_is_told_so_and_it_is_audited(holders, client):
    add_proven(holders, client, ANNA)
    page = Page(client)
    back = page.callback(sign_in(page.begin_reset(), *BO, stop_at=IDP_CALLBACK))
    assert fragment(back) == ("/pwreset/", {"idp": "not_a_holder", "u": USERNAME})
    [failed] = [r for r in trail(holders, "reset.code_failed") if r["channel"] == "idp"]
    assert (failed["outcome"], failed["person_name"]) == ("not_a_holder", "Bo Berg")


def test_a_subject_on_another_account_gets_no_token(holders, client):
    holders.create_account(OTHER_ACCOUNT, PASSWORD, "+46705550123")
    add_proven(holders, client, ANNA, username=OTHER_ACCOUNT)
    page = Page(client)
    back = page.callback(sign_in(page.begin_reset(USERNAME), *ANNA, stop_at=IDP_CALLBACK))
    assert fragment(back) == ("/pwreset/", {"idp": "not_a_holder", "u": USERNAME})
    assert [r["outcome"] for r in trail(holders, "reset.code_failed")] == ["not_a_holder"]


def test_the_start_answers_alike_for_any_username_and_counts_per_network(holders, client,
                                                                         environment):
    environment.setenv("PWPORTAL_LIMIT_RESET_STARTS_PER_IP", "2/3600")
    holders.portal = bootstrap.override(clock=holders.clock)
    answers = [Page(client).post("/api/reset/idp/begin", {"username": name})
               for name in (USERNAME, "finnsinte")]
    assert [a.status_code for a in answers] == [200, 200]
    assert [sorted(a.json_body) for a in answers] == [["url"], ["url"]]
    assert all("pwportal_idp" in cookies(a) for a in answers)
    third = Page(client).post("/api/reset/idp/begin", {"username": USERNAME})
    assert third.status_code == 429
    assert third.json_body["error"]["code"] == "too_many_requests"


def test_a_paused_or_disabled_account_gives_no_token(holders, client):
    from chalicelib.domain.limits import WRONG_CODES
    add_proven(holders, client, ANNA)
    limits = holders.portal.limits
    now = holders.clock.now().timestamp()
    holders.portal.store.write(limits.locked_until(WRONG_CODES, USERNAME, now + 3600))
    page = Page(client)
    back = page.callback(sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK))
    assert fragment(back) == ("/pwreset/", {"idp": "paused", "u": USERNAME})
    holders.portal.store.write(limits.locked_until(WRONG_CODES, USERNAME, now - 1))
    holders.portal.account_changes.disable(USERNAME)
    page = Page(client)
    back = page.callback(sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK))
    assert fragment(back) == ("/pwreset/", {"idp": "disabled", "u": USERNAME})


# -- refusals: no token, each audited --------------------------------------------------------

def refused_reset(world, back, reason: str) -> None:
    where, parts = fragment(back)
    assert where == "/pwreset/" and "reset" not in parts and parts["idp"] == "failed", parts
    assert reason in [r["outcome"] for r in trail(world, "reset.code_failed")
                      if r["channel"] == "idp"]


def test_a_forged_state_is_refused_and_audited(holders, client):
    page = Page(client)
    answer = query(sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK))
    answer["state"] = "forged-" + answer["state"][7:]
    back = page.callback(IDP_CALLBACK + "?" + urllib.parse.urlencode(answer))
    assert fragment(back) == ("/pwreset/", {"idp": "failed"})
    [record] = trail(holders, "idp.sign_in_refused", None)
    assert record["outcome"] == "bad_state"


def test_a_replayed_code_is_refused_by_the_provider(holders, client):
    add_proven(holders, client, ANNA)
    page = Page(client)
    first = query(sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK))
    assert "reset" in fragment(page.callback(IDP_CALLBACK + "?"
                                             + urllib.parse.urlencode(first)))[1]
    second = query(sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK))
    replayed = {**second, "code": first["code"]}
    refused_reset(holders, page.callback(IDP_CALLBACK + "?" + urllib.parse.urlencode(replayed)),
                  "code_refused")


def test_the_same_answer_twice_is_refused(holders, client):
    add_proven(holders, client, ANNA)
    page = Page(client)
    answer = sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK)
    jar = dict(page.jar)
    assert "reset" in fragment(page.callback(answer))[1]
    page.jar = jar
    refused_reset(holders, page.callback(answer), "used_state")


def test_an_answer_in_another_browser_is_refused(holders, client):
    add_proven(holders, client, ANNA)
    page = Page(client)
    answer = sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK)
    refused_reset(holders, Page(client).callback(answer), "other_browser")


def test_a_token_for_another_client_is_refused(holders, client, provider, monkeypatch):
    add_proven(holders, client, ANNA)
    token = other_clients_token(provider)
    page = Page(client)
    answer = sign_in(page.begin_reset(), *ANNA, stop_at=IDP_CALLBACK)
    monkeypatch.setattr(holders.portal.identity_provider, "exchange", lambda *a: token)
    refused_reset(holders, page.callback(answer), "wrong_audience")


def test_an_expired_token_is_refused(holders, client):
    add_proven(holders, client, ANNA)
    holders.clock.advance(days=1)
    page = Page(client)
    refused_reset(holders, page.callback(sign_in(page.begin_reset(), *ANNA,
                                                 stop_at=IDP_CALLBACK)), "expired_token")


def test_a_real_token_with_its_signature_altered_is_refused(holders, client, monkeypatch):
    add_proven(holders, client, ANNA)
    adapter = holders.portal.identity_provider
    real = adapter.exchange
    monkeypatch.setattr(adapter, "exchange", lambda *a: altered_signature(real(*a)))
    page = Page(client)
    refused_reset(holders, page.callback(sign_in(page.begin_reset(), *ANNA,
                                                 stop_at=IDP_CALLBACK)), "bad_signature")


# -- off -------------------------------------------------------------------------------------

def test_off_every_path_is_404_and_pwreg_as_before(console, client):
    console.create_account(USERNAME, PASSWORD, PHONE)
    session = login(client).json_body["session"]
    assert login(client).json_body["holder_identity"] == "off"
    page = Page(client)
    for answer in (page.post("/api/registration/idp/begin", session=session),
                   page.post("/api/registration/idp/finish", {"handle": "x"}, session),
                   page.post("/api/reset/idp/begin", {"username": USERNAME}),
                   page.callback(IDP_CALLBACK + "?state=x&code=y")):
        assert answer.status_code == 404
        assert answer.json_body["error"]["code"] == "not_found"
    assert post(client, "/api/registration/holders", {"name": "Kalle Typad",
                                                      "phone": NEW_PHONE},
                session=session).status_code == 202


# -- proven holders are marked everywhere support looks ------------------------------------

def test_the_console_the_cli_and_the_monthly_report_mark_the_proven_holder(holders, client):
    import io
    from types import SimpleNamespace

    from chalicelib import admin
    from tests.idp.test_support_console import Agent
    anna = add_proven(holders, client, ANNA)
    view = Agent(client).view()
    assert {h["name"]: h["proven"] for h in view["holders"]} == {"": False,
                                                                 "Anna Andersson": True}
    out = io.StringIO()
    admin.list_holders(SimpleNamespace(username=USERNAME), holders.portal,
                       SimpleNamespace(out=out))
    [line] = [row for row in out.getvalue().splitlines() if anna["id"] in row]
    assert "yes, by work login" in line
    now = holders.clock.now()
    rows = holders.portal.monthly_reports.log(USERNAME, now.year, now.month).rows()
    [added] = [row for row in rows if row[1] == "holder.added" and "Anna" in row[6]]
    assert added[4] == "Anna Andersson (jobbinloggning)"
    assert added[6].endswith("(jobbinloggning)")


def test_a_reset_through_the_provider_says_when_the_directory_has_locked_the_account(
        console, environment, client):
    """SPEC 16 on the third way: the token comes with `locked=1` when the directory has
    locked the account (as verify's directory_locked after a code), so pwreset offers "Lås
    upp kontot"; the unlock takes that token. Not locked: no such part."""
    from tests.unit.fakes import FakeDirectory
    directory = FakeDirectory(console.clock)
    directory.add(USERNAME, PASSWORD)
    environment.setenv("PWPORTAL_HOLDER_IDENTITY", "offered")
    environment.setenv("PWPORTAL_DIRECTORY", "ldap")
    console.use(passwords=directory)
    console.portal.account_changes.create(USERNAME, None, PHONE)
    add_proven(console, client, ANNA)

    page = Page(client)
    _, parts = fragment(page.callback(sign_in(page.begin_reset(), *ANNA,
                                              stop_at=IDP_CALLBACK)))
    assert "locked" not in parts and parts["reset"]
    directory.lock(USERNAME)
    page = Page(client)
    _, parts = fragment(page.callback(sign_in(page.begin_reset(), *ANNA,
                                              stop_at=IDP_CALLBACK)))
    assert parts["locked"] == "1"
    unlocked = post(client, "/api/reset/unlock", {"reset_token": parts["reset"]})
    assert unlocked.status_code == 200, unlocked.body
    assert not directory.locked(USERNAME, console.clock.now())
