"""SPEC 14: the support console's work on one account, by an agent signed in through the real
provider (Canaille): the account view, the caller's verification by a code read out, the
actions (each refused before it), the reset link and the monthly report."""
from __future__ import annotations

import json
import re
import threading

import pytest

from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, app_code, complete,
                               give_app, login, wrong)
from tests.idp.conftest import PORTAL
from tests.idp.test_support_sign_in import CONSOLE_HEADERS, SAM, Browser

ACCOUNT = f"/api/support/accounts/{USERNAME}"
OTHER_PHONE = "+46705550123"


class Agent(Browser):
    """A browser signed in to the console as `person`."""

    def __init__(self, client, person=SAM):
        super().__init__(client)
        answer = self.callback(self.provider_answer(person))
        assert answer.status_code == 303, answer.body

    def send(self, method: str, path: str, body: dict | None = None,
             headers: dict | None = None):
        sent = {"Content-Type": "application/json", "Accept-Language": "sv",
                **(CONSOLE_HEADERS if headers is None else headers)}
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        return self.client.http.request(method, path, headers=sent,
                                        body=json.dumps(body or {}).encode())

    def view(self):
        answer = self.get(ACCOUNT)
        assert answer.status_code == 200, answer.body
        return answer.json_body


def read_out(world, number: str) -> str:
    """The code the SMS to `number` asked to be read out to the support desk."""
    world.deliver()
    texts = [text for to, text in world.sent() if to == number and "Supportens kod" in text]
    assert texts, f"no support code was sent to {number}"
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def texts_to(world, number: str) -> list[str]:
    world.deliver()
    return [text for to, text in world.sent() if to == number]


def holder_id(agent: Agent, phone_tail: str = "67") -> str:
    return next(h["id"] for h in agent.view()["holders"] if h["phone"].endswith(phone_tail))


def trail(world, event: str) -> list[dict]:
    return [r for r in world.audit(USERNAME) if r["event"] == event]


@pytest.fixture
def account(console):
    console.create_account(USERNAME, PASSWORD, PHONE)
    console.portal.holder_changes.add(USERNAME, "Bo Berg", OTHER_PHONE)
    return console


@pytest.fixture
def agent(account, client):
    return Agent(client)


def verified(world, agent: Agent, phone=PHONE) -> str:
    """The caller at `phone` verified by the code they read out; their holder id."""
    holder = holder_id(agent, phone[-2:])
    started = agent.send("POST", ACCOUNT + "/verify/start", {"holder_id": holder,
                                                            "channel": "sms"})
    assert started.status_code == 200, started.body
    answer = agent.send("POST", ACCOUNT + "/verify", {"code": read_out(world, phone)})
    assert answer.status_code == 200, answer.body
    return holder


# -- no session, no verification ---------------------------------------------------------------

def test_the_account_view_without_a_session_is_401_in_the_envelope(account, client):
    answer = client.http.get(ACCOUNT)
    assert answer.status_code == 401
    assert answer.json_body["error"]["code"] == "not_signed_in"


ACTIONS = [("POST", "/unlock", {}), ("POST", "/disable", {}), ("POST", "/enable", {}),
           ("POST", "/holders", {"name": "Cecilia", "phone": NEW_PHONE}),
           ("POST", "/reset-link", {"holder_id": "HOLDER"}),
           ("DELETE", "/holders/HOLDER", None),
           ("DELETE", "/holders/HOLDER/authenticator", None)]


@pytest.mark.parametrize("method,path,body", ACTIONS)
def test_every_action_before_the_caller_is_verified_is_403_and_changes_nothing(
        account, agent, method, path, body):
    holder = holder_id(agent)
    before = account.portal.accounts.get(USERNAME)
    sent = len(texts_to(account, PHONE))
    answer = agent.send(method, ACCOUNT + path.replace("HOLDER", holder),
                        json.loads(json.dumps(body).replace("HOLDER", holder)))
    assert answer.status_code == 403, answer.body
    assert answer.json_body["error"]["code"] == "caller_not_verified"
    assert account.portal.accounts.get(USERNAME) == before
    assert len(texts_to(account, PHONE)) == sent


@pytest.mark.parametrize("method,path,body", ACTIONS[:2])
def test_an_action_without_the_console_header_and_own_origin_is_403(account, agent, method,
                                                                    path, body):
    verified(account, agent)
    for headers in ({}, {"X-Pwportal-Console": "1"}, {"Origin": PORTAL}):
        answer = agent.send(method, ACCOUNT + path, body, headers=headers)
        assert answer.status_code == 403
        assert answer.json_body["error"]["code"] == "origin_refused"


def test_an_unknown_account_is_404(account, agent):
    answer = agent.get("/api/support/accounts/ingetsadantkonto")
    assert answer.status_code == 404 and answer.json_body["error"]["code"] == "not_found"


# -- the view ------------------------------------------------------------------------------------

def test_the_account_view_shows_the_state_holders_and_events_with_who_and_no_full_number(
        account, client, agent):
    for _ in range(5):
        login(client, USERNAME, "fel-Losen-1")
    view = agent.view()
    assert view["username"] == USERNAME and view["disabled"] is False
    assert view["locks"]["login_locked_until"]  # five wrong logins: locked
    assert view["password"]["age_days"] == 0 and not view["password"]["expired"]
    assert [h["name"] for h in view["holders"]] == ["", "Bo Berg"]
    assert view["code_now"] is True and view["why_no_code"] == []
    assert {e["event"] for e in view["events"]} >= {"login.failed", "holder.added"}
    assert any(e["who"] == "support" for e in view["events"])  # the CLI added Bo
    assert view["verified"] is None
    page = json.dumps(view)
    assert PHONE not in page and OTHER_PHONE not in page
    assert len(view["events"]) <= 50


# -- verifying the caller ------------------------------------------------------------------------

def test_a_caller_verified_by_the_sms_code_may_be_acted_for_15_minutes(account, agent):
    holder = verified(account, agent)
    view = agent.view()
    assert view["verified"]["holder_id"] == holder
    [record] = trail(account, "support.caller_verified")
    assert (record["agent_subject"], record["agent_name"], record["for_holder_id"]) == \
        ("sam.support", "Sam Support", holder)
    assert agent.send("POST", ACCOUNT + "/unlock").status_code == 200
    account.clock.advance(minutes=16)
    answer = agent.send("POST", ACCOUNT + "/unlock")
    assert answer.status_code == 403
    assert answer.json_body["error"]["code"] == "caller_not_verified"


def test_a_caller_verified_by_their_apps_code_gets_no_sms(account, agent):
    secret = give_app(account.portal, account.clock.now())
    holder = holder_id(agent)
    before = len(texts_to(account, PHONE))
    started = agent.send("POST", ACCOUNT + "/verify/start", {"holder_id": holder,
                                                            "channel": "app"})
    assert started.status_code == 200 and "phone" not in started.json_body
    answer = agent.send("POST", ACCOUNT + "/verify",
                        {"code": app_code(secret, account.clock.now())})
    assert answer.status_code == 200, answer.body
    assert len(texts_to(account, PHONE)) == before
    # the same app code cannot verify anyone again (nor reset: one use per time step)
    agent.send("POST", ACCOUNT + "/verify/start", {"holder_id": holder, "channel": "app"})
    again = agent.send("POST", ACCOUNT + "/verify",
                       {"code": app_code(secret, account.clock.now())})
    assert again.status_code == 400


def test_the_app_is_refused_for_a_holder_without_one(account, agent):
    answer = agent.send("POST", ACCOUNT + "/verify/start",
                        {"holder_id": holder_id(agent), "channel": "app"})
    assert answer.status_code == 409
    assert answer.json_body["error"]["code"] == "no_authenticator"


def test_a_wrong_code_is_audited_and_the_fifth_pauses_the_agent_on_that_account(account,
                                                                               agent):
    holder = holder_id(agent)
    for round_ in range(5):
        agent.send("POST", ACCOUNT + "/verify/start", {"holder_id": holder, "channel": "sms"})
        account.clock.advance(minutes=4)  # the number's SMS limit: 3 per 15 minutes
        answer = agent.send("POST", ACCOUNT + "/verify",
                            {"code": wrong(read_out(account, PHONE))})
        assert answer.status_code == 400 and answer.json_body["error"]["code"] == \
            "invalid_code", round_
    failed = trail(account, "support.caller_failed")
    assert len(failed) == 5 and {r["agent_subject"] for r in failed} == {"sam.support"}
    paused = agent.send("POST", ACCOUNT + "/verify/start", {"holder_id": holder,
                                                           "channel": "sms"})
    assert paused.status_code == 429
    assert paused.json_body["error"]["code"] == "too_many_attempts"
    assert agent.view()["verified"] is None


def one_at_a_time(store) -> None:
    """Each call of `store` whole before the next, as each DynamoDB request is atomic: the
    threads interleave between calls, as Lambdas do (moto's in-process backend is not
    thread-safe; the stack's parallel tests run against its server)."""
    lock = threading.Lock()
    for name in ("get", "get_many", "write", "commit", "query", "scan"):
        def locked(*args, _call=getattr(store, name), **kwargs):
            with lock:
                return _call(*args, **kwargs)
        setattr(store, name, locked)


def test_twenty_parallel_wrong_codes_are_counted_five_times_and_the_rest_refused(
        account, agent, environment):
    """The code itself would take 50 tries here: the agent's counter alone must hold."""
    from chalicelib.domain.console import Agent as Signed
    from chalicelib.domain.events import Caller
    environment.setenv("PWPORTAL_CODE_MAX_ATTEMPTS", "50")
    portal = account.use()
    one_at_a_time(portal.store)
    sam = Signed(account.settings.idp_issuer, "sam.support", "Sam Support")
    caller = Caller(ip="198.51.100.7", request_id="test")
    portal.caller_checks.start(USERNAME, holder_id(agent), "sms", sam, caller)
    code = read_out(account, PHONE)
    answers: list[str] = []
    ready = threading.Barrier(20)

    def guess(n: int) -> None:
        ready.wait()
        try:
            portal.caller_checks.verify(USERNAME, wrong(f"{(int(code) + n) % 10**6:06d}"),
                                        sam, caller)
            answers.append("verified")
        except Exception as error:  # noqa: BLE001 - the refusal's code is what is compared
            answers.append(getattr(error, "code", repr(error)))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["invalid_code"] * 5 + ["too_many_attempts"] * 15, answers
    failed = trail(account, "support.caller_failed")
    assert sorted(r["outcome"] for r in failed) == ["paused"] * 15 + ["wrong_code"] * 5
    # and the right code, now, is refused too: the agent is paused on this account
    with pytest.raises(Exception) as paused:
        portal.caller_checks.verify(USERNAME, code, sam, caller)
    assert getattr(paused.value, "code", "") == "too_many_attempts"


def test_a_code_to_one_holder_does_not_verify_the_other(account, agent):
    bo = holder_id(agent, OTHER_PHONE[-2:])
    agent.send("POST", ACCOUNT + "/verify/start", {"holder_id": bo, "channel": "sms"})
    code = read_out(account, OTHER_PHONE)
    answer = agent.send("POST", ACCOUNT + "/verify", {"code": code})
    assert answer.json_body["verified"]["holder_name"] == "Bo Berg"
    assert answer.status_code == 200


def test_another_agents_verification_is_not_this_agents(account, client, provider):
    sam = Agent(client)
    verified(account, sam)
    from chalicelib.domain.console import Agent as Who, CallerVerified
    other = Who(account.settings.idp_issuer, "someone.else", "Someone")
    assert account.portal.records.get(
        CallerVerified, CallerVerified.key(USERNAME, other)) is None


# -- the actions ---------------------------------------------------------------------------------

def test_lifting_a_login_lock_is_audited_with_agent_and_holder_and_every_holder_is_told(
        account, client, agent):
    for _ in range(5):
        login(client, USERNAME, "fel-Losen-1")
    holder = verified(account, agent)
    answer = agent.send("POST", ACCOUNT + "/unlock")
    assert answer.status_code == 200 and "login_lock" in answer.json_body["cleared"]
    [record] = trail(account, "account.unlocked")
    assert (record["actor"], record["agent_name"], record["for_holder_id"]) == \
        ("support", "Sam Support", holder)
    assert login(client, USERNAME, PASSWORD).status_code == 200
    for number in (PHONE, OTHER_PHONE):
        [notice] = [t for t in texts_to(account, number) if "Spärrar" in t]
        assert '"Sam Support"' in notice


def test_disable_and_enable_are_told_to_every_holder(account, agent):
    verified(account, agent)
    assert agent.send("POST", ACCOUNT + "/disable").json_body == {"disabled": True,
                                                                 "changed": True}
    assert account.portal.accounts.get(USERNAME).disabled
    assert agent.send("POST", ACCOUNT + "/enable").json_body == {"disabled": False,
                                                                "changed": True}
    assert any("stängdes av" in t for t in texts_to(account, OTHER_PHONE))
    assert any("öppnades igen" in t for t in texts_to(account, OTHER_PHONE))


def test_a_new_holder_is_added_only_with_the_code_they_read_back(account, agent):
    verified(account, agent)
    asked = agent.send("POST", ACCOUNT + "/holders", {"name": "Cecilia Ek",
                                                     "phone": NEW_PHONE})
    assert asked.status_code == 200 and NEW_PHONE not in json.dumps(asked.json_body)
    code = read_out(account, NEW_PHONE)
    refused = agent.send("POST", ACCOUNT + "/holders/verify", {"code": wrong(code)})
    assert refused.status_code == 400
    assert len(account.portal.accounts.get(USERNAME).holders) == 2
    added = agent.send("POST", ACCOUNT + "/holders/verify", {"code": code})
    assert added.status_code == 200 and added.json_body["holder"]["name"] == "Cecilia Ek"
    assert NEW_PHONE in [h.phone for h in account.portal.accounts.get(USERNAME).holders]
    [record] = [r for r in trail(account, "holder.added") if r["subject_name"] == "Cecilia Ek"]
    assert record["agent_name"] == "Sam Support" and record["for_holder_id"]


def test_removing_a_holder_and_a_holders_app(account, agent):
    give_app(account.portal, account.clock.now(), phone=OTHER_PHONE)
    verified(account, agent)
    bo = holder_id(agent, OTHER_PHONE[-2:])
    assert agent.send("DELETE", ACCOUNT + f"/holders/{bo}/authenticator").status_code == 200
    assert not agent.view()["holders"][1]["app"]
    assert agent.send("DELETE", ACCOUNT + f"/holders/{bo}").json_body == {"removed": bo}
    assert [h.phone for h in account.portal.accounts.get(USERNAME).holders] == [PHONE]
    assert any("togs bort" in t for t in texts_to(account, OTHER_PHONE))


def test_the_reset_link_goes_to_the_verified_holder_only_and_sets_a_password_once(
        account, client, agent):
    holder = verified(account, agent)
    bo = holder_id(agent, OTHER_PHONE[-2:])
    other = agent.send("POST", ACCOUNT + "/reset-link", {"holder_id": bo})
    assert other.status_code == 403

    answer = agent.send("POST", ACCOUNT + "/reset-link", {"holder_id": holder})
    assert answer.status_code == 200 and answer.json_body["expires_in"] == 600
    [sms] = [t for t in texts_to(account, PHONE) if "/pwreset/#reset=" in t]
    found = re.search(r"/pwreset/#reset=([^&\s]+)&u=(\w+)", sms)
    assert found and found.group(2) == USERNAME
    token = found.group(1)
    assert '"Sam Support"' in sms  # the holder's own SMS names the agent
    assert token not in json.dumps(account.audit(USERNAME))  # never in the trail
    assert any("skickades" in t and '"Sam Support"' in t for t in texts_to(account,
                                                                            OTHER_PHONE))
    [record] = trail(account, "support.reset_link_sent")
    assert (record["agent_subject"], record["holder_id"]) == ("sam.support", holder)

    done = complete(client, token, "Ny-Sommar-Dag-42")
    assert done.status_code == 200, done.body
    assert login(client, USERNAME, "Ny-Sommar-Dag-42").status_code == 200
    assert complete(client, token, "Annan-Host-Dag-43").status_code == 410


def test_a_reset_link_after_ten_minutes_is_expired(account, client, agent):
    holder = verified(account, agent)
    agent.send("POST", ACCOUNT + "/reset-link", {"holder_id": holder})
    [sms] = [t for t in texts_to(account, PHONE) if "/pwreset/#reset=" in t]
    token = re.search(r"#reset=([^&\s]+)", sms).group(1)
    account.clock.advance(minutes=10, seconds=1)
    assert complete(client, token, "Ny-Sommar-Dag-42").status_code == 410


# -- the report ----------------------------------------------------------------------------------

def test_the_monthly_report_needs_no_verification_and_comes_as_csv_too(account, agent):
    month = account.clock.now().strftime("%Y-%m")
    answer = agent.get(ACCOUNT + f"/report?month={month}")
    assert answer.status_code == 200, answer.body
    assert answer.json_body["title"] == f"{USERNAME} {month}"
    assert any(row[1] == "holder.added" for row in answer.json_body["rows"])
    csv_ = agent.get(ACCOUNT + f"/report?month={month}&format=csv")
    assert csv_.status_code == 200
    assert csv_.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_.headers["Content-Disposition"]
    assert agent.get(ACCOUNT + "/report?month=2026-13").status_code == 400


def test_a_care_worker_never_reaches_an_account(account, client):
    from tests.idp.test_support_sign_in import ANNA
    browser = Browser(client)
    assert browser.callback(browser.provider_answer(ANNA)).status_code == 403
    assert browser.get(ACCOUNT).status_code == 401
    assert Browser(client).get(ACCOUNT).status_code == 401


# -- the directory (SPEC 14, 16: ldap mode) -----------------------------------------------------

@pytest.fixture
def in_directory(console, environment, client):
    """The account in `ldap` mode, its entry in a directory in memory
    (tests/unit/fakes.FakeDirectory); an agent signed in."""
    from tests.unit.fakes import FakeDirectory
    directory = FakeDirectory(console.clock)
    directory.add(USERNAME, PASSWORD)
    environment.setenv("PWPORTAL_DIRECTORY", "ldap")
    console.use(passwords=directory)
    console.portal.account_changes.create(USERNAME, None, PHONE)
    console.portal.holder_changes.add(USERNAME, "Bo Berg", OTHER_PHONE)
    return directory, Agent(client)


def test_the_view_shows_the_directorys_lock_and_unlock_lifts_it_with_the_password_unchanged(
        console, client, in_directory):
    directory, agent = in_directory
    directory.lock(USERNAME)
    assert agent.view()["directory"] == {"exists": True, "locked": True}
    holder = verified(console, agent)
    answer = agent.send("POST", ACCOUNT + "/unlock")
    assert answer.status_code == 200 and answer.json_body["cleared"] == ["directory"]
    assert agent.view()["directory"] == {"exists": True, "locked": False}
    assert directory.entries[USERNAME][0] == PASSWORD  # the same password, unlocked
    [record] = trail(console, "account.unlocked")
    assert (record["cleared"], record["agent_name"], record["for_holder_id"]) == \
        (["directory"], "Sam Support", holder)
    assert any("Spärrar" in t and '"Sam Support"' in t for t in texts_to(console, OTHER_PHONE))


def test_a_directory_that_does_not_answer_is_said_in_the_view_and_unlock_changes_nothing(
        console, client, in_directory):
    directory, agent = in_directory
    for _ in range(5):
        login(client, USERNAME, "fel-Losen-1")
    verified(console, agent)
    directory.down = True
    view = agent.view()
    assert view["directory"]["unavailable"] is True and view["locks"]["login_locked_until"]
    answer = agent.send("POST", ACCOUNT + "/unlock")
    assert answer.status_code == 503
    assert agent.view()["locks"]["login_locked_until"]  # the portal's lock stays too
    assert not trail(console, "account.unlocked")
    assert [r["step"] for r in trail(console, "directory.failed")] == ["unlock"]


def test_in_portal_mode_the_view_has_no_directory(account, agent):
    assert agent.view()["directory"] is None
