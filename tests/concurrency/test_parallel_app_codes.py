"""An authenticator app's code is used once (SPEC 12, issue 15), also when the same right
code arrives in parallel: on one challenge, and on several challenges for the same holder
(each challenge's own single use cannot stop that: the accepted time step, noted in the
transaction that issues the token, does). Real parallel HTTP against an AWS that serialises
every call; the codes are pyotp's at the real time, as an app shows them."""
from __future__ import annotations

from datetime import UTC, datetime

from tests.api.helpers import app_code, give_app


def network(i: int) -> str:
    return f"2001:db8:a:{i + 1:x}::7"


def app_start(stack, username, phone, ip):
    started = stack.post("/api/reset/start",
                         {"username": username, "phone": phone, "channel": "app"}, ip=ip)
    assert started.status == 202, started
    return started.body["challenge"]


def verify(stack, challenge, code, ip):
    return stack.post("/api/reset/verify", {"challenge": challenge, "code": code}, ip=ip)


def tokens(stack, username) -> list[dict]:
    return stack.items(stack.portal.settings.challenges_table, kind="token", username=username)


def with_app(stack, username, phone) -> str:
    stack.create_account(username, phone)
    return give_app(stack.portal, datetime.now(UTC), username, phone)


def test_ten_parallel_verifies_of_one_right_app_code_on_one_challenge_give_one_token(stack):
    username, phone = "parallel-app-one", "+46701130001"
    secret = with_app(stack, username, phone)
    challenge = app_start(stack, username, phone, ip="192.0.2.31")
    code = app_code(secret, datetime.now(UTC))

    answers = stack.parallel(10, lambda i: verify(stack, challenge, code, ip=network(i)))

    statuses = [answer.status for answer in answers]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 400, 410}, statuses
    assert len(tokens(stack, username)) == 1
    assert stack.events(username).count("reset.code_verified") == 1


def test_ten_parallel_verifies_of_one_right_app_code_on_ten_challenges_give_one_token(stack):
    username, phone = "parallel-app-many", "+46701130002"
    secret = with_app(stack, username, phone)
    challenges = [app_start(stack, username, phone, ip=f"192.0.2.{40 + i}") for i in range(10)]
    code = app_code(secret, datetime.now(UTC))

    answers = stack.parallel(10, lambda i: verify(stack, challenges[i], code, ip=network(i)))

    statuses = [answer.status for answer in answers]
    assert statuses.count(200) == 1, statuses
    # the others: the code was used (a wrong code, counted), or, should DynamoDB cancel a
    # transaction on a conflict, 503; never a second token
    assert set(statuses) <= {200, 400, 503}, statuses
    refused = [a.body["error"] for a in answers if a.status == 400]
    assert {e["code"] for e in refused} <= {"invalid_code"}
    assert len(tokens(stack, username)) == 1
    assert stack.events(username).count("reset.code_verified") == 1
    failed = [r for r in stack.portal.audit.events(username, limit=1000)
              if r["event"] == "reset.code_failed"]
    assert len(failed) == len(refused) and {r["outcome"] for r in failed} <= {"replayed"}
