"""DynamoDB throttled, failing or out of reach in the middle of a request (SPEC 8: 503
`service_unavailable`, nothing half done).

Each step of both flows is tried again and again on the same state, with the 1st, then the
2nd, then the 3rd... DynamoDB call of the request failing, until the step makes fewer calls
than that and succeeds. Every failed try must answer the 503 envelope and leave nothing half
done: no changed password without its history, no used code without its token, no session,
no counted SMS and no queued SMS for an answer the caller never got. Only the counters that
are spent before the work starts by design (the per-IP counters, a code's attempts) may move.
"""
from __future__ import annotations

import json

import pytest

from chalicelib.domain.records import ResetChallenge
from chalicelib.adapters.dynamo import from_dynamo
from tests.api.helpers import (
    API_HEADERS,
    NEW_PHONE,
    PASSWORD,
    PHONE,
    USERNAME,
    app_challenge,
    app_code,
    challenge_of,
    complete,
    give_app,
    login,
    request_phone,
    resend,
    reset_token,
    session_of,
    start,
    start_app,
    verify,
    verify_phone,
    wrong,
)
from tests.api_client import post
from tests.faults.conftest import client_error, dynamodb_error, transaction_items

NEW_PASSWORD = "Nytt-Hus-2026!x"


def logout(client, session):
    return post(client, "/api/registration/logout", {}, session=session)


# What each step needs first: a context for it (taken without faults).

def nothing(world, client):
    return {}


def a_session(world, client):
    return {"session": session_of(client)}


def a_phone_code(world, client):
    session = session_of(client)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    return {"session": session, "code": world.last_code(NEW_PHONE)}


def a_challenge(world, client):
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    world.clock.advance(seconds=61)  # past the resend delay
    return {"challenge": challenge, "code": code}


def a_token(world, client):
    return {"token": reset_token(world, client)}


def an_app(world, client):
    return {"secret": give_app(world.portal, world.clock.now())}


def an_app_challenge(world, client):
    secret = give_app(world.portal, world.clock.now())
    challenge = app_challenge(client)
    world.clock.advance(seconds=61)  # past the resend delay
    return {"challenge": challenge, "code": app_code(secret, world.clock.now())}


# step: (what it needs, the request, the status it answers when nothing fails)
STEPS = {
    "login": (nothing, lambda client, c: login(client), 200),
    "login_wrong_password": (
        nothing, lambda client, c: login(client, password="Fel-Losen-99"), 401),
    "phone": (a_session, lambda client, c: request_phone(client, c["session"], NEW_PHONE), 202),
    "phone_verify": (
        a_phone_code, lambda client, c: verify_phone(client, c["session"], c["code"]), 200),
    "logout": (a_session, lambda client, c: logout(client, c["session"]), 204),
    "reset_start": (nothing, lambda client, c: start(client), 202),
    "reset_resend": (a_challenge, lambda client, c: resend(client, c["challenge"]), 202),
    "reset_verify": (
        a_challenge, lambda client, c: verify(client, c["challenge"], c["code"]), 200),
    "reset_verify_wrong_code": (
        a_challenge, lambda client, c: verify(client, c["challenge"], wrong(c["code"])), 400),
    "reset_complete": (
        a_token, lambda client, c: complete(client, c["token"], NEW_PASSWORD), 200),
    # the authenticator app (SPEC 12): no SMS, the accepted step in the token's transaction
    "reset_start_app": (an_app, lambda client, c: start_app(client), 202),
    "reset_resend_app": (an_app_challenge, lambda client, c: resend(client, c["challenge"]),
                         202),
    "reset_verify_app": (
        an_app_challenge, lambda client, c: verify(client, c["challenge"], c["code"]), 200),
    "reset_verify_app_wrong_code": (
        an_app_challenge, lambda client, c: verify(client, c["challenge"], wrong(c["code"])),
        400),
}


def snapshot(world) -> dict:
    """What a failed request must not have changed."""
    settings = world.settings

    def items(table):
        return [from_dynamo(raw) for raw in world.dynamodb.scan(TableName=table)["Items"]]

    attributes = world.sqs.get_queue_attributes(
        QueueUrl=world.queue_url, AttributeNames=["ApproximateNumberOfMessages",
                                                  "ApproximateNumberOfMessagesNotVisible"])
    return {
        "accounts": sorted(items(settings.accounts_table), key=lambda i: i["username"]),
        # A code's attempts are spent before it is compared, on purpose (SPEC 4).
        "challenges": sorted(({k: v for k, v in item.items() if k != "attempts"}
                              for item in items(settings.challenges_table)),
                             key=lambda i: i["id"]),
        # So are the counters (repositories/limits.py: items with a total `t`): per network, and
        # the failures reserved before a password or code is compared (SPEC 5 v2). A
        # request that got in counts, whatever became of it.
        "limits": sorted((item for item in items(settings.limits_table) if "t" not in item),
                         key=lambda i: i["key"]),
        "audit": sorted(json.dumps(item, sort_keys=True)
                        for item in items(settings.audit_table)),
        "queued": sum(int(v) for v in attributes["Attributes"].values()),
    }


def assert_service_unavailable(response):
    assert response.status_code == 503, response.body
    body = response.json_body
    assert set(body) == {"error"}
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["message"] and body["error"]["support"]
    assert set(body["error"]) == {"code", "message", "support"}
    assert response.headers["Content-Type"].startswith("application/json")
    for name, value in API_HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("kind", ["throttled", "unreachable"])
@pytest.mark.parametrize("step", list(STEPS))
def test_dynamodb_failing_at_any_call_of_a_step_answers_503_and_leaves_nothing_half_done(
        world, client, dynamodb_faults, step, kind):
    prepare, act, success = STEPS[step]
    world.create_account()
    context = prepare(world, client)
    failed_calls = []
    for call in range(1, 12):
        before = snapshot(world)
        with dynamodb_faults.failing(lambda op, params: dynamodb_error(kind, op, params),
                                     call=call):
            response = act(client, context)
        if not dynamodb_faults.failed:  # no call left to fail: the step went through
            break
        failed_calls += dynamodb_faults.failed
        assert_service_unavailable(response)
        assert snapshot(world) == before, f"{step}: call {call} ({failed_calls[-1]}) failed"
    else:
        pytest.fail(f"{step} still failing after {call} calls")
    assert response.status_code == success, (step, response.body)
    assert failed_calls, "the step made no DynamoDB call at all"


def throttled(operation, params):
    return dynamodb_error("throttled", operation, params)


def conflict(operation, params):
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
               for _ in transaction_items(params)]
    return client_error(operation, "TransactionCanceledException", CancellationReasons=reasons)


def test_after_a_failed_complete_the_same_token_still_changes_the_password(
        world, client, dynamodb_faults):
    world.create_account()
    token = reset_token(world, client)
    with dynamodb_faults.failing(throttled, operation="TransactWriteItems"):
        assert_service_unavailable(complete(client, token, NEW_PASSWORD))
    assert dynamodb_faults.failed == ["TransactWriteItems"]
    account = world.portal.accounts.get(USERNAME)
    assert len(account.history) == 1
    assert world.portal.hasher.verify(account.password_hash, PASSWORD)
    assert complete(client, token, NEW_PASSWORD).status_code == 200
    account = world.portal.accounts.get(USERNAME)
    assert len(account.history) == 2
    assert world.portal.hasher.verify(account.password_hash, NEW_PASSWORD)
    assert login(client, password=NEW_PASSWORD).status_code == 200


def test_after_a_failed_verify_the_same_code_still_gives_a_token(
        world, client, dynamodb_faults):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    with dynamodb_faults.failing(throttled, operation="TransactWriteItems"):
        assert_service_unavailable(verify(client, challenge, code))
    assert dynamodb_faults.failed == ["TransactWriteItems"]
    assert world.portal.records.get(ResetChallenge, ResetChallenge.id_of(challenge)).used is False
    assert scan_tokens(world) == []
    verified = verify(client, challenge, code)
    assert verified.status_code == 200 and verified.json_body["reset_token"]
    assert len(scan_tokens(world)) == 1


def test_after_a_failed_app_verify_no_token_and_the_same_code_still_gives_one(
        world, client, dynamodb_faults):
    """Fail closed: the transaction that would issue the token and note the app's time step
    fails, so neither is written, and the code is not spent either."""
    world.create_account()
    context = an_app_challenge(world, client)
    with dynamodb_faults.failing(throttled, operation="TransactWriteItems"):
        assert_service_unavailable(verify(client, context["challenge"], context["code"]))
    assert dynamodb_faults.failed == ["TransactWriteItems"]
    assert scan_tokens(world) == []
    assert [item for item in map(from_dynamo, world.dynamodb.scan(
        TableName=world.settings.challenges_table)["Items"])
        if item["id"].startswith("step#")] == []
    verified = verify(client, context["challenge"], context["code"])
    assert verified.status_code == 200 and verified.json_body["reset_token"]
    assert len(scan_tokens(world)) == 1


def scan_tokens(world):
    return [item for item in map(from_dynamo, world.dynamodb.scan(
        TableName=world.settings.challenges_table)["Items"]) if item.get("kind") == "token"]


@pytest.mark.parametrize("step", list(STEPS))
def test_a_transaction_conflict_is_retried_or_answered_503_never_500(
        world, client, dynamodb_faults, step):
    """DynamoDB cancels a transaction that touches an item another transaction is writing
    at that moment (TransactionConflict), and botocore does not retry that: the step either
    retries it itself and succeeds, or answers 503 with nothing half done."""
    prepare, act, success = STEPS[step]
    world.create_account()
    context = prepare(world, client)
    before = snapshot(world)
    with dynamodb_faults.failing(conflict, operation="TransactWriteItems"):
        response = act(client, context)
    assert dynamodb_faults.failed == ["TransactWriteItems"], dynamodb_faults.calls
    assert response.status_code in (success, 503), (step, response.status_code, response.body)
    if response.status_code == 503:
        assert_service_unavailable(response)
        assert snapshot(world) == before
