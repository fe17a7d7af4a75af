"""Faults injected into the real AWS clients that pwportal builds, with botocore's own event
hooks: the code under test is exactly the code that runs in Lambda, and only the answer of
one chosen call is replaced by the error AWS would give."""
from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError


class WorkerDied(BaseException):
    """A Lambda container killed mid-invocation: nothing after this point runs, not even
    the local worker's `except Exception` (so the message is neither deleted nor retried
    at once)."""


def client_error(operation: str, code: str, status: int = 400, **extra) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"},
                        "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, operation)


def dynamodb_error(kind: str, operation: str, params: dict) -> Exception:
    """What botocore raises when DynamoDB fails in the way `kind` names, its own retries
    spent."""
    if kind == "unreachable":
        return EndpointConnectionError(endpoint_url="https://dynamodb.eu-north-1.amazonaws.com")
    if operation == "TransactWriteItems":
        # A throttled transaction is cancelled, with a reason per item.
        reasons = [{"Code": "ThrottlingError", "Message": "Throughput exceeds the current "
                    "capacity of your table or index."} for _ in transaction_items(params)]
        return client_error(operation, "TransactionCanceledException",
                            CancellationReasons=reasons)
    return client_error(operation, "ThrottlingException")


def transaction_items(request: dict) -> list:
    """The items of a TransactWriteItems call, from the request botocore is about to send
    (a before-call hook sees the serialised request, not the call's arguments)."""
    return json.loads(request["body"])["TransactItems"]


class Faults:
    """Counts the calls one AWS client makes while armed, and fails the chosen one."""

    def __init__(self, service: str):
        from chalicelib.adapters import aws
        self.service = service
        self.calls: list[str] = []
        self.failed: list[str] = []
        self._armed = False
        self._should_fail = None
        self._error = None
        aws.client(service).meta.events.register(f"before-call.{service}", self._before,
                                                 unique_id=f"faults-{service}")

    def _before(self, model, params, **kwargs):
        if not self._armed:
            return
        self.calls.append(model.name)
        if self._should_fail(len(self.calls), model.name):
            self.failed.append(model.name)
            raise self._error(model.name, params)
        return

    @contextmanager
    def failing(self, error, call: int | None = None, operation: str | None = None,
                times: int = 1):
        """Within the block, the `call`-th call (1-based), or the first `times` calls of
        `operation`, raise `error(operation, params)`; `calls` lists every call made."""
        self.calls, self.failed, self._armed, self._error = [], [], True, error
        if call is not None:
            self._should_fail = lambda n, name: n == call
        else:
            self._should_fail = lambda n, name: name == operation and \
                self.failed.count(operation) < times
        try:
            yield self
        finally:
            self._armed = False


@pytest.fixture
def dynamodb_faults(world):
    return Faults("dynamodb")
