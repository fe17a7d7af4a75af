"""The store on DynamoDB: the Store port of chalicelib/ports.py over the DynamoDB client.

Writes arrive as data (Put, Update, Delete, Check) with a condition from
domain/conditions.py; this module alone turns them into expressions. A failed condition
becomes Refused, naming the operation of a transaction that failed; a transaction that lost
to a parallel one becomes Conflict; every other AWS failure ServiceUnavailable, which the
API answers with 503.
"""
from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any, overload

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.domain import conditions as c
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.ports import Check, Conflict, Delete, Item, Key, Put, Refused, Update, Write

BATCH_GET_KEYS = 100
BATCH_GET_TRIES = 6  # the first call and 5 retries of what DynamoDB left unprocessed
BATCH_GET_BACKOFF = 0.05  # seconds: the base of the exponential back-off between them


def _pause(retry: int) -> None:
    """Full jitter (AWS's advice for throttling): a random wait up to base * 2^retry."""
    time.sleep(random.uniform(0, BATCH_GET_BACKOFF * (2 ** retry)))


def _serializer() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    return TypeSerializer(), TypeDeserializer()


def _prepare(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prepare(v) for v in value]
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    if isinstance(value, set):
        return {_restore(v) for v in value}
    return value


def to_dynamo(item: dict[str, Any]) -> dict[str, Any]:
    serializer, _ = _serializer()
    return {k: serializer.serialize(_prepare(v)) for k, v in item.items() if v is not None}


# An item read is an item; only "no item" (None) gives None.
@overload
def from_dynamo(item: dict[str, Any]) -> dict[str, Any]: ...


@overload
def from_dynamo(item: dict[str, Any] | None) -> dict[str, Any] | None: ...


def from_dynamo(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    _, deserializer = _serializer()
    return {k: _restore(deserializer.deserialize(v)) for k, v in item.items()}


class _Expression:
    """Builds one request's expressions, with a placeholder for every name and value."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, object] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def condition(self, condition: c.Condition) -> str:
        if isinstance(condition, c.Present):
            return f"attribute_exists({self.name(condition.attribute)})"
        if isinstance(condition, c.Missing):
            return f"attribute_not_exists({self.name(condition.attribute)})"
        if isinstance(condition, c.Compare):
            return (f"{self.name(condition.attribute)} {condition.op} "
                    f"{self.value(condition.value)}")
        joiner = " AND " if isinstance(condition, c.All) else " OR "
        return "(" + joiner.join(self.condition(part) for part in condition.parts) + ")"

    def update(self, write: Update) -> str:
        clauses: list[str] = []
        if write.set:
            clauses.append("SET " + ", ".join(f"{self.name(k)} = {self.value(v)}"
                                               for k, v in write.set.items()))
        if write.add:
            clauses.append("ADD " + ", ".join(f"{self.name(k)} {self.value(v)}"
                                               for k, v in write.add.items()))
        if write.remove:
            clauses.append("REMOVE " + ", ".join(self.name(k) for k in write.remove))
        return " ".join(clauses)

    def request(self, write: Write) -> tuple[str, dict[str, Any]]:
        """(the client's operation, its arguments) for one write."""
        if isinstance(write, Put):
            kind = "Put"
            kwargs: dict[str, Any] = {"TableName": write.table, "Item": to_dynamo(write.item)}
        else:
            kind = {Update: "Update", Delete: "Delete", Check: "ConditionCheck"}[type(write)]
            kwargs = {"TableName": write.table, "Key": to_dynamo(write.key)}
        if isinstance(write, Update):
            kwargs["UpdateExpression"] = self.update(write)
        if write.expect is not None:
            kwargs["ConditionExpression"] = self.condition(write.expect)
        if self.names:
            kwargs["ExpressionAttributeNames"] = self.names
        if self.values:
            kwargs["ExpressionAttributeValues"] = to_dynamo(self.values)
        return kind, kwargs


SINGLE = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


class DynamoStore:
    @property
    def _client(self) -> Any:  # boto3's client: untyped
        return aws.client("dynamodb")

    def _call(self, operation: str, names: list[str] | None = None, **kwargs: Any
              ) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**kwargs)
            return answer
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise Refused(item=from_dynamo(error.response.get("Item"))) from None
            if code == "TransactionCanceledException":
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                failed = [name for name, reason in zip(names or [], reasons)
                          if reason == "ConditionalCheckFailed"]
                if failed:
                    raise Refused(by=failed[0]) from None
                if "TransactionConflict" in reasons:
                    raise Conflict() from None
                # Throttled or failed inside DynamoDB: nothing for a use case to judge.
                raise ServiceUnavailable() from error
            raise ServiceUnavailable() from error
        except BotoCoreError as error:
            raise ServiceUnavailable() from error

    def get(self, table: str, key: Key) -> Item | None:
        response = self._call("get_item", TableName=table, Key=to_dynamo(key),
                              ConsistentRead=True)
        return from_dynamo(response.get("Item"))

    def get_many(self, wanted: list[tuple[str, Key]]) -> list[Item | None]:
        """Several items of one or more tables, strongly consistent: one call for up to 100
        keys (DynamoDB's limit), in order; None where an item does not exist."""
        if len(wanted) > BATCH_GET_KEYS:
            return [item for start in range(0, len(wanted), BATCH_GET_KEYS)
                    for item in self.get_many(wanted[start:start + BATCH_GET_KEYS])]
        request: dict[str, Any] = {}
        for table, key in wanted:
            keys = request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"]
            if to_dynamo(key) not in keys:
                keys.append(to_dynamo(key))
        found: dict[tuple[str, tuple[tuple[str, Any], ...]], Item] = {}
        for retry in range(BATCH_GET_TRIES + 1):
            if not request:
                break
            if retry == BATCH_GET_TRIES:
                # DynamoDB kept leaving keys unprocessed (throttled): refuse rather than
                # answer from a partial read, or loop on a table that is out of capacity.
                raise ServiceUnavailable()
            if retry:
                _pause(retry - 1)
            response = self._call("batch_get_item", RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                for raw in items:
                    item = from_dynamo(raw)
                    for wanted_table, key in wanted:
                        if wanted_table == table and all(item.get(k) == v
                                                         for k, v in key.items()):
                            found[(table, tuple(sorted(key.items())))] = item
            request = response.get("UnprocessedKeys") or {}
        return [found.get((table, tuple(sorted(key.items())))) for table, key in wanted]

    def write(self, write: Write, returns_new: bool = False) -> Item | None:
        kind, kwargs = _Expression().request(write)
        if kind == "Update":
            kwargs["ReturnValues"] = "ALL_NEW" if returns_new else "NONE"
            if write.expect is not None:
                kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        response = self._call(SINGLE[kind], **kwargs)
        return from_dynamo(response.get("Attributes"))

    def commit(self, writes: list[tuple[str, Write]]) -> None:
        items: list[dict[str, Any]] = []
        for _, write in writes:
            kind, kwargs = _Expression().request(write)
            items.append({kind: kwargs})
        self._call("transact_write_items", names=[name for name, _ in writes],
                   TransactItems=items)

    def query(self, table: str, attribute: str, value: Any, index: str | None = None,
              order: str | None = None, newest_first: bool = False,
              limit: int | None = None, between: tuple[Any, Any] | None = None
              ) -> list[Item]:
        """The items whose `attribute` (the table's or `index`'s partition key) is `value`,
        in the order of the sort key (`order` is what it is; DynamoDB knows); with
        `between`, only those whose sort key lies from its low to its high end."""
        kwargs: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "#k = :k",
                  "ExpressionAttributeNames": {"#k": attribute},
                  "ExpressionAttributeValues": to_dynamo({":k": value}),
                  "ScanIndexForward": not newest_first}
        if between is not None:
            if not order:
                raise ValueError("a query between two sort keys names the sort key (order)")
            kwargs["KeyConditionExpression"] += " AND #r BETWEEN :low AND :high"
            kwargs["ExpressionAttributeNames"]["#r"] = order
            kwargs["ExpressionAttributeValues"].update(
                to_dynamo({":low": between[0], ":high": between[1]}))
        if index:
            kwargs["IndexName"] = index
        items: list[Item] = []
        while True:
            if limit:
                kwargs["Limit"] = limit - len(items)
            response = self._call("query", **kwargs)
            items.extend(from_dynamo(raw) for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response or (limit and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def scan(self, table: str, attributes: list[str] | None = None) -> list[Item]:
        """Every item of a table, page by page: for the support CLI only. Nothing on a
        request path or in a scheduled job may scan; they use keys and indexes."""
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            kwargs["ProjectionExpression"] = ", ".join(names)
            kwargs["ExpressionAttributeNames"] = names
        items: list[Item] = []
        while True:
            response = self._call("scan", **kwargs)
            items += [from_dynamo(raw) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
