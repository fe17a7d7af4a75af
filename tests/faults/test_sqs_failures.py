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
