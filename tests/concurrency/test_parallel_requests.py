"""Real parallel HTTP clients against the app, which talks to an AWS that serialises every
call (SPEC 4, 5, 6): what a limit, a single-use code or a single-use token promises must hold
when twenty or fifty requests for it arrive at the same moment."""
from __future__ import annotations

from tests.concurrency.stack import PASSWORD


def start(stack, username, ip="198.51.100.7"):
    return stack.post("/api/reset/start", {"username": username}, ip=ip)


def verify(stack, challenge, code, ip="198.51.100.7"):
    return stack.post("/api/reset/verify", {"challenge": challenge, "code": code}, ip=ip)


def network(i: int) -> str:
    """The i-th of many client networks (the per-network limits are not what is tested)."""
    return f"2001:db8:{i + 1:x}::7"


def code_for(stack, username, phone) -> tuple[str, str]:
    """Start a reset for `username`; the challenge and the code that reached `phone`."""
    started = start(stack, username)
    assert started.status == 202, started
    stack.deliver()
    codes = stack.codes_to(phone)
    assert codes, f"no code reached {phone}"
    return started.body["challenge"], codes[-1]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_twenty_parallel_verifications_of_the_right_code_give_exactly_one_reset_token(stack):
    username, phone = "parallel-verify", "+46701110001"
    stack.create_account(username, phone)
    challenge, code = code_for(stack, username, phone)

    answers = stack.parallel(20, lambda i: verify(stack, challenge, code, ip=network(i)))

    statuses = [answer.status for answer in answers]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 410}, statuses
    assert {a.body["error"]["code"] for a in answers if a.status == 410} == {"challenge_expired"}
    tokens = stack.items(stack.portal.settings.challenges_table, kind="token",
                         username=username)
    assert len(tokens) == 1
    assert stack.events(username).count("reset.code_verified") == 1


def test_twenty_parallel_completes_with_one_token_change_the_password_once(stack):
    username, phone = "parallel-complete", "+46701110002"
    stack.create_account(username, phone)
    challenge, code = code_for(stack, username, phone)
    verified = verify(stack, challenge, code)
    assert verified.status == 200, verified
    token = verified.body["reset_token"]
    before = stack.portal.accounts.get(username)
    passwords = [f"Parallel-{i:02d}-Hus!" for i in range(20)]

    answers = stack.parallel(20, lambda i: stack.post(
        "/api/reset/complete", {"reset_token": token, "password": passwords[i]}))

    statuses = [answer.status for answer in answers]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 410}, statuses
    assert {a.body["error"]["code"] for a in answers if a.status == 410} == {"token_expired"}
    after = stack.portal.accounts.get(username)
    assert after.version == before.version + 1
    assert len(after.history) == len(before.history) + 1
    assert stack.events(username).count("password.changed") == 1
    winner = passwords[statuses.index(200)]
    loser = passwords[(statuses.index(200) + 1) % 20]
    login = "/api/registration/login"
    assert stack.post(login, {"username": username, "password": winner}).status == 200
    assert stack.post(login, {"username": username, "password": loser}).status == 401
    assert stack.post(login, {"username": username, "password": PASSWORD}).status == 401


def test_fifty_parallel_starts_for_one_username_send_one_sms(stack):
    """1 SMS per 60 s per username (SPEC 5); every caller still gets the same 202."""
    username, phone = "parallel-start", "+46701110003"
    stack.create_account(username, phone)

    answers = stack.parallel(50, lambda i: start(stack, username, ip=f"203.0.113.{i + 1}"))

    assert [answer.status for answer in answers] == [202] * 50
    assert {tuple(sorted(answer.body)) for answer in answers} == {
        ("challenge", "expires_in", "resend_after")}
    assert len({answer.body["challenge"] for answer in answers}) == 50
    stack.deliver()
    assert len(stack.codes_to(phone)) == 1
    events = stack.events(username)
    assert events.count("reset.requested") == 50
    assert events.count("reset.code_sent") == 1


def test_fifty_parallel_wrong_codes_never_get_more_than_five_attempts(stack):
    username, phone = "parallel-guess", "+46701110004"
    stack.create_account(username, phone)
    challenge, code = code_for(stack, username, phone)

    answers = stack.parallel(50, lambda i: verify(stack, challenge, wrong(code),
                                                  ip=network(i)))

    wrong_code = [a for a in answers if a.status == 400]
    assert len(wrong_code) == 5, [a.status for a in answers]
    assert sorted(a.body["error"]["attempts_left"] for a in wrong_code) == [0, 1, 2, 3, 4]
    assert {a.body["error"]["code"] for a in wrong_code} == {"invalid_code"}
    assert [a.status for a in answers].count(410) == 45
    # The code is dead now, even for the right value.
    late = verify(stack, challenge, code)
    assert late.status == 410 and late.body["error"]["code"] == "challenge_expired"
    assert stack.items(stack.portal.settings.challenges_table, kind="token",
                       username=username) == []
