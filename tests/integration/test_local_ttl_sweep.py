"""The local stack's stand-in for DynamoDB's TTL (moto has none): expired items go, live
ones and tables without TTL stay; the stack runs it every minute (infra/local_stack.py)."""
from __future__ import annotations

from infra.local_stack import sweep_expired

NOW = 1_800_000_000


def key_of(dynamodb, table: str, n: int) -> dict:
    schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
    return {key["AttributeName"]: {"S": f"sweep-{n}"} for key in schema}


def test_expired_items_are_deleted_and_live_ones_kept_in_every_ttl_table(world):
    dynamodb = world.dynamodb
    tables = dynamodb.list_tables()["TableNames"]
    assert tables
    for table in tables:
        for n, ttl in enumerate((NOW - 1, NOW, NOW + 1)):
            dynamodb.put_item(TableName=table, Item={**key_of(dynamodb, table, n),
                                                     "ttl": {"N": str(ttl)}})
        dynamodb.put_item(TableName=table, Item=key_of(dynamodb, table, 9))  # no ttl: stays
    dynamodb.create_table(TableName="no-ttl", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.put_item(TableName="no-ttl", Item={"pk": {"S": "old"}, "ttl": {"N": "1"}})

    assert sweep_expired(dynamodb, NOW) == len(tables)

    for table in tables:
        left = {item[next(iter(key_of(dynamodb, table, 0)))]["S"]
                for item in dynamodb.scan(TableName=table)["Items"]}
        assert left == {"sweep-1", "sweep-2", "sweep-9"}, table
    assert dynamodb.scan(TableName="no-ttl")["Count"] == 1
