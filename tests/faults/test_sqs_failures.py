"""SQS failing when the API queues a code SMS: the caller gets the 503 envelope, never a
challenge or a 202 for a code that is not on its way."""
from __future__ import annotations

import pytest

from tests.api.helpers import NEW_PHONE, request_phone, session_of, start
from tests.faults.conftest import Faults, client_error
from tests.faults.test_dynamodb_failures import assert_service_unavailable


@pytest.fixture
def sqs_faults(world):
    return Faults("sqs")


def throttled(operation, params):
    return client_error(operation, "AWS.SimpleQueueService.RequestThrottled")


@pytest.mark.parametrize("step", ["reset_start", "phone"])
def test_sqs_failing_when_a_code_is_queued_answers_503_and_queues_nothing(
        world, client, sqs_faults, step):
    world.create_account()
    session = session_of(client) if step == "phone" else None
    with sqs_faults.failing(throttled, operation="SendMessage"):
        if step == "phone":
            response = request_phone(client, session, NEW_PHONE)
        else:
            response = start(client)
    assert sqs_faults.failed == ["SendMessage"]
    assert_service_unavailable(response)
    assert world.deliver() == {"delivered": 0, "failed": 0}
    assert world.sent() == []


def test_a_code_sms_that_could_not_be_queued_does_not_count_against_the_retry(
        world, client, sqs_faults):
    world.create_account()
    with sqs_faults.failing(throttled, operation="SendMessage"):
        assert_service_unavailable(start(client))
    again = start(client)  # at once, within the 1-per-60-s limit had the SMS counted
    assert again.status_code == 202
    assert world.last_code("+46701234567")
    failed = [r for r in world.audit("hemtjanstab") if r["event"] == "sms.failed"]
    assert [(r["outcome"], r["kind"]) for r in failed] == [("not_queued", "code")]


def test_a_resend_that_could_not_be_queued_can_be_asked_for_again_at_once(
        world, client, sqs_faults):
    from tests.api_client import post
    world.create_account()
    challenge = start(client).json_body["challenge"]
    world.deliver()
    world.clock.advance(seconds=61)
    with sqs_faults.failing(throttled, operation="SendMessage"):
        assert_service_unavailable(post(client, "/api/reset/resend", {"challenge": challenge}))
    resent = post(client, "/api/reset/resend", {"challenge": challenge})
    assert resent.status_code == 202, resent.body
    code = world.last_code("+46701234567")
    verified = post(client, "/api/reset/verify", {"challenge": challenge, "code": code})
    assert verified.status_code == 200


def test_a_new_number_whose_code_could_not_be_queued_can_be_asked_for_again_at_once(
        world, client, sqs_faults):
    world.create_account()
    session = session_of(client)
    with sqs_faults.failing(throttled, operation="SendMessage"):
        assert_service_unavailable(request_phone(client, session, NEW_PHONE))
    assert request_phone(client, session, NEW_PHONE).status_code == 202
