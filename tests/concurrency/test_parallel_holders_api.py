"""SPEC 11 through the API under real parallel calls, on an AWS that serialises every call:
two holders verified at once never exceed the maximum, and a holder removed while a reset
starts for their number never gets a token. Its own stack: pwreg's 1 code per minute per
username is widened, so that two people can ask for their codes within a test."""
from __future__ import annotations

import pytest

from tests.concurrency.stack import start_stack, stop_stack


@pytest.fixture(scope="module")
def stack():
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PWPORTAL_LIMIT_SMS_PER_FLOW", "10/60")
        running = start_stack(monkeypatch)
        try:
            yield running
        finally:
            stop_stack(running)


def delete(stack, path: str, session: str, ip: str = "198.51.100.7") -> int:
    import http.client

    from tests.concurrency.stack import HOST, REQUEST_TIMEOUT
    connection = http.client.HTTPConnection(HOST, stack.server.port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("DELETE", path, headers={"Authorization": f"Bearer {session}",
                                                    "X-Forwarded-For": ip})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def session_of(stack, username: str, ip: str) -> str:
    from tests.concurrency.stack import PASSWORD
    login = stack.post("/api/registration/login", {"username": username, "password": PASSWORD},
                       ip=ip)
    assert login.status == 200, login
    return login.body["session"]


def test_two_holders_verified_at_once_through_the_api_never_exceed_the_maximum(stack):
    username = "api-parallel-holders"
    stack.create_account(username, "+46701140000")
    for n in range(1, 4):
        stack.portal.holder_changes.add(username, f"Person {chr(65 + n)}", f"+4670114000{n}")
    numbers = ["+46701140008", "+46701140009"]
    sessions = [session_of(stack, username, f"192.0.2.{60 + i}") for i in range(2)]
    for i, (session, number) in enumerate(zip(sessions, numbers)):
        asked = stack.post("/api/registration/holders",
                           {"name": f"Ny {chr(65 + i)}", "phone": number}, session=session,
                           ip=f"192.0.2.{60 + i}")
        assert asked.status == 202, asked
    stack.deliver()
    codes = [stack.codes_to(number)[-1] for number in numbers]

    answers = stack.parallel(2, lambda i: stack.post(
        "/api/registration/holders/verify", {"code": codes[i]}, session=sessions[i],
        ip=f"192.0.2.{60 + i}"))

    assert sorted(a.status for a in answers) == [200, 409], answers
    [refused] = [a for a in answers if a.status == 409]
    assert refused.body["error"]["code"] == "too_many_holders"
    holders = stack.portal.accounts.get(username).holders
    assert len(holders) == 5
    assert len({h.phone for h in holders} & set(numbers)) == 1


def test_a_holder_removed_while_a_reset_starts_for_their_number_never_changes_the_password(
        stack):
    username, gone = "api-removed-holder", "+46701150001"
    stack.create_account(username, "+46701150000")
    holder = stack.portal.holder_changes.add(username, "Bo Ek", gone).holder
    stack.deliver()
    session = session_of(stack, username, "192.0.2.70")
    before = len(stack.codes_to(gone))

    answers = stack.parallel(2, lambda i: delete(
        stack, f"/api/registration/holders/{holder.id}", session) if i == 0 else stack.post(
        "/api/reset/start", {"username": username, "phone": gone}, ip="192.0.2.71"))

    assert answers[0] == 204 and answers[1].status == 202, answers
    stack.deliver()
    sent = stack.codes_to(gone)[before:]
    if sent:  # the start came first: the code went out, and is worth nothing now
        verified = stack.post("/api/reset/verify", {"challenge": answers[1].body["challenge"],
                                                     "code": sent[-1]}, ip="192.0.2.71")
        assert verified.status == 200, verified
        changed = stack.post("/api/reset/complete", {
            "reset_token": verified.body["reset_token"], "password": "Borta-Men-Kvar-42"},
            ip="192.0.2.71")
        assert changed.status == 410 and changed.body["error"]["code"] == "token_expired"
    # after the removal, that number gets nothing at all
    later = stack.post("/api/reset/start", {"username": username, "phone": gone},
                       ip="192.0.2.72")
    assert later.status == 202
    stack.deliver()
    assert stack.codes_to(gone)[before:] == sent
