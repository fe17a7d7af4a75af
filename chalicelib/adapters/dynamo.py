"""A thin layer over the DynamoDB client: Python values in and out, one error vocabulary.

Every write that must not get past a limit or overwrite a concurrent change carries a
condition; several writes that belong together go in one transaction. AWS failures other
than a failed condition become ServiceUnavailable, which the API answers with 503.
"""
from __future__ import annotations

from decimal import Decimal

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.domain.errors import ServiceUnavailable


BATCH_GET_KEYS = 100


class ConditionFailed(Exception):
    """A conditional write was refused; `item` is the item as it was, when asked for."""

    def __init__(self, item: dict | None = None):
        super().__init__("condition failed")
        self.item = item


class TransactionCancelled(Exception):
    """`reasons[i]` is the failure code of the i-th operation, or None where it was fine."""

    def __init__(self, reasons: list[str | None]):
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return self.reasons[index] == "ConditionalCheckFailed"

    @property
    def conflict(self) -> bool:
        return any(reason == "TransactionConflict" for reason in self.reasons)


def _serializer():
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    return TypeSerializer(), TypeDeserializer()


def _prepare(value):
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prepare(v) for v in value]
    return value


def _restore(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    if isinstance(value, set):
        return {_restore(v) for v in value}
    return value


def to_dynamo(item: dict) -> dict:
    serializer, _ = _serializer()
    return {k: serializer.serialize(_prepare(v)) for k, v in item.items() if v is not None}


def from_dynamo(item: dict | None) -> dict | None:
    if item is None:
        return None
    _, deserializer = _serializer()
    return {k: _restore(deserializer.deserialize(v)) for k, v in item.items()}


def _values(values: dict | None) -> dict | None:
    if not values:
        return None
    serializer, _ = _serializer()
    return {k: serializer.serialize(_prepare(v)) for k, v in values.items()}


def _expression(kwargs: dict, condition=None, names=None, values=None, update=None) -> dict:
    if update:
        kwargs["UpdateExpression"] = update
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = names
    serialized = _values(values)
    if serialized:
        kwargs["ExpressionAttributeValues"] = serialized
    return kwargs


# Operations for transact(): plain dicts in the client's own format.

def put_op(table: str, item: dict, condition=None, names=None, values=None) -> dict:
    return {"Put": _expression({"TableName": table, "Item": to_dynamo(item)},
                               condition, names, values)}


def update_op(table: str, key: dict, update: str, condition=None, names=None,
              values=None) -> dict:
    return {"Update": _expression({"TableName": table, "Key": to_dynamo(key)},
                                  condition, names, values, update)}


def delete_op(table: str, key: dict, condition=None, names=None, values=None) -> dict:
    return {"Delete": _expression({"TableName": table, "Key": to_dynamo(key)},
                                  condition, names, values)}


def check_op(table: str, key: dict, condition: str, names=None, values=None) -> dict:
    return {"ConditionCheck": _expression({"TableName": table, "Key": to_dynamo(key)},
                                          condition, names, values)}


class Dynamo:
    @property
    def _client(self):
        return aws.client("dynamodb")

    def _call(self, operation: str, **kwargs):
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(from_dynamo(error.response.get("Item"))) from None
            if code == "TransactionCanceledException":
                reasons = [r.get("Code") if r.get("Code") not in (None, "None") else None
                           for r in error.response.get("CancellationReasons", [])]
                if not {"ConditionalCheckFailed", "TransactionConflict"} & set(reasons):
                    # Throttled or failed inside DynamoDB: nothing for a use case to judge.
                    raise ServiceUnavailable() from error
                raise TransactionCancelled(reasons) from None
            raise ServiceUnavailable() from error
        except BotoCoreError as error:
            raise ServiceUnavailable() from error

    def get(self, table: str, key: dict) -> dict | None:
        response = self._call("get_item", TableName=table, Key=to_dynamo(key),
                              ConsistentRead=True)
        return from_dynamo(response.get("Item"))

    def batch_get(self, wanted: list[tuple[str, dict]]) -> list[dict | None]:
        """Read several items of one or more tables, strongly consistent: one call for up
        to 100 keys (DynamoDB's limit), in order; None where an item does not exist."""
        if len(wanted) > BATCH_GET_KEYS:
            return [item for start in range(0, len(wanted), BATCH_GET_KEYS)
                    for item in self.batch_get(wanted[start:start + BATCH_GET_KEYS])]
        request: dict[str, dict] = {}
        for table, key in wanted:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})
            request[table]["Keys"].append(to_dynamo(key))
        found: dict[tuple[str, tuple], dict] = {}
        while request:
            response = self._call("batch_get_item", RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                for raw in items:
                    item = from_dynamo(raw)
                    found[(table, _key_of(item, wanted, table))] = item
            request = response.get("UnprocessedKeys") or {}
        return [found.get((table, tuple(sorted(key.items())))) for table, key in wanted]

    def put(self, table: str, item: dict, condition=None, names=None, values=None) -> None:
        self._call("put_item", **_expression({"TableName": table, "Item": to_dynamo(item)},
                                             condition, names, values))

    def update(self, table: str, key: dict, update: str, condition=None, names=None,
               values=None, returns: str = "NONE", old_on_failure: bool = False) -> dict | None:
        kwargs = _expression({"TableName": table, "Key": to_dynamo(key),
                              "ReturnValues": returns}, condition, names, values, update)
        if old_on_failure:
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        response = self._call("update_item", **kwargs)
        return from_dynamo(response.get("Attributes"))

    def delete(self, table: str, key: dict) -> None:
        self._call("delete_item", TableName=table, Key=to_dynamo(key))

    def transact(self, operations: list[dict]) -> None:
        self._call("transact_write_items", TransactItems=operations)

    def scan(self, table: str, attributes: list[str] | None = None) -> list[dict]:
        """Every item of a table, page by page: for the support CLI only. Nothing on a
        request path or in a scheduled job may scan; they use keys and indexes."""
        kwargs: dict = {"TableName": table, "ConsistentRead": True}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(attributes)}
            kwargs["ProjectionExpression"] = ", ".join(names)
            kwargs["ExpressionAttributeNames"] = names
        items: list[dict] = []
        while True:
            response = self._call("scan", **kwargs)
            items += [from_dynamo(raw) for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def query(self, limit: int | None = None, **kwargs) -> list[dict]:
        items: list[dict] = []
        while True:
            if limit:
                kwargs["Limit"] = limit - len(items)
            response = self._call("query", **kwargs)
            items.extend(from_dynamo(raw) for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response or (limit and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _key_of(item: dict, wanted: list[tuple[str, dict]], table: str) -> tuple:
    for wanted_table, key in wanted:
        if wanted_table == table and all(item.get(k) == v for k, v in key.items()):
            return tuple(sorted(key.items()))
    return ()
