"""DynamoDB leaving keys of a BatchGetItem unprocessed (it does when a table or partition is
throttled): the store asks again for what is left, backing off with jitter between tries,
and after a bounded number of tries refuses with 503 rather than spin or answer from a
partial read (issue 12, finding 12). The real botocore client, with its Stubber."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.adapters import aws, dynamo
from chalicelib.adapters.dynamo import DynamoStore, to_dynamo
from chalicelib.domain.errors import ServiceUnavailable

TABLE = "pwportal-local-limits"
KEYS = [{"key": f"net-login#{i}"} for i in range(3)]


@pytest.fixture
def stubbed(monkeypatch):
    client = boto3.client("dynamodb", region_name="eu-north-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    monkeypatch.setattr(aws, "client", lambda service: client)
    waits: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", waits.append)
    with Stubber(client) as stubber:
        yield stubber, waits


def request(keys):
    return {"RequestItems": {TABLE: {"Keys": [to_dynamo(k) for k in keys],
                                     "ConsistentRead": True}}}


def unprocessed(keys, found=()):
    return {"Responses": {TABLE: [to_dynamo({**k, "n": 1}) for k in found]},
            "UnprocessedKeys": {TABLE: {"Keys": [to_dynamo(k) for k in keys],
                                        "ConsistentRead": True}}}


def test_unprocessed_keys_are_asked_for_again_after_a_jittered_back_off(stubbed):
    stubber, waits = stubbed
    stubber.add_response("batch_get_item", unprocessed(KEYS[1:], found=KEYS[:1]),
                         request(KEYS))
    stubber.add_response("batch_get_item", unprocessed(KEYS[2:], found=KEYS[1:2]),
                         {"RequestItems": unprocessed(KEYS[1:])["UnprocessedKeys"]})
    stubber.add_response("batch_get_item",
                         {"Responses": {TABLE: [to_dynamo({**KEYS[2], "n": 1})]}},
                         {"RequestItems": unprocessed(KEYS[2:])["UnprocessedKeys"]})

    found = DynamoStore().get_many([(TABLE, key) for key in KEYS])

    assert [item["key"] for item in found] == [key["key"] for key in KEYS]
    stubber.assert_no_pending_responses()
    assert len(waits) == 2  # one pause before each retry, none before the first call
    assert 0 <= waits[0] <= dynamo.BATCH_GET_BACKOFF
    assert 0 <= waits[1] <= dynamo.BATCH_GET_BACKOFF * 2


def test_keys_left_unprocessed_try_after_try_give_service_unavailable(stubbed):
    stubber, waits = stubbed
    for _ in range(dynamo.BATCH_GET_TRIES):
        stubber.add_response("batch_get_item", unprocessed(KEYS))

    with pytest.raises(ServiceUnavailable):
        DynamoStore().get_many([(TABLE, key) for key in KEYS])

    stubber.assert_no_pending_responses()  # exactly BATCH_GET_TRIES calls, then it stops
    assert len(waits) == dynamo.BATCH_GET_TRIES - 1
    ceilings = [dynamo.BATCH_GET_BACKOFF * 2 ** retry for retry in range(len(waits))]
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings))
    assert len(set(waits)) > 1  # jittered, not one fixed wait
