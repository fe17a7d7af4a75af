"""The store's contract, run on the in-memory store of the use-case tests and on the real
DynamoDB store (over moto, with the tables of infra/resources.json): the fake cannot drift
from what DynamoDB does without one of these failing for one of the two."""
import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.domain import conditions as c
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.ports import Check, Delete, Put, Refused, Update
from chalicelib.settings import Settings
from infra import resources
from tests.conftest import REGION
from tests.unit.fakes import MemoryStore

SETTINGS = Settings()
ACCOUNTS, CHALLENGES = SETTINGS.accounts_table, SETTINGS.challenges_table
LIMITS, AUDIT = SETTINGS.limits_table, SETTINGS.audit_table


@pytest.fixture(params=["memory", "dynamo"])
def store(request):
    if request.param == "memory":
        yield MemoryStore()
        return
    request.getfixturevalue("environment")
    with mock_aws():
        aws.reset()
        resources.create_tables(boto3.client("dynamodb", region_name=REGION), SETTINGS)
        yield DynamoStore()
        aws.reset()


def contents(store, table: str) -> list[dict]:
    return sorted(store.scan(table), key=repr)


def test_items_come_back_with_whole_numbers_as_ints_and_without_none(store):
    store.write(Put(ACCOUNTS, {"username": "anna", "whole": 2.0, "part": 0.5, "n": 3,
                               "gone": None, "nested": {"at": 1.0, "none": None}}))
    item = store.get(ACCOUNTS, {"username": "anna"})
    assert item == {"username": "anna", "whole": 2, "part": 0.5, "n": 3,
                    "nested": {"at": 1, "none": None}}
    assert type(item["whole"]) is int and type(item["part"]) is float


def test_get_many_answers_in_order_with_none_where_missing(store):
    store.write(Put(LIMITS, {"key": "a"}))
    store.write(Put(CHALLENGES, {"id": "b"}))
    assert store.get_many([(CHALLENGES, {"id": "b"}), (LIMITS, {"key": "x"}),
                           (LIMITS, {"key": "a"})]) == [{"id": "b"}, None, {"key": "a"}]


def test_a_refused_transaction_changes_nothing_and_names_the_first_failing_write(store):
    store.write(Put(LIMITS, {"key": "sms#anna", "count": 1}))
    with pytest.raises(Refused) as refused:
        store.commit([
            ("token", Put(CHALLENGES, {"id": "token#1"})),
            ("limit", Update(LIMITS, {"key": "sms#anna"}, add={"count": 1},
                             expect=c.lt("count", 1))),
            ("account", Update(ACCOUNTS, {"username": "anna"}, set={"x": 1},
                               expect=c.Present("username"))),
        ])
    assert refused.value.by == "limit"
    assert contents(store, CHALLENGES) == [] and contents(store, ACCOUNTS) == []
    assert contents(store, LIMITS) == [{"key": "sms#anna", "count": 1}]


def test_a_check_refuses_without_writing_and_passes_without_writing(store):
    with pytest.raises(Refused) as refused:
        store.commit([("put", Put(CHALLENGES, {"id": "t"})),
                      ("session", Check(CHALLENGES, {"id": "s"}, c.Present("id")))])
    assert refused.value.by == "session" and contents(store, CHALLENGES) == []
    store.commit([("absent", Check(CHALLENGES, {"id": "s"}, c.Missing("id"))),
                  ("put", Put(CHALLENGES, {"id": "t"}))])
    assert contents(store, CHALLENGES) == [{"id": "t"}]


def test_an_update_creates_a_missing_item_adds_and_removes(store):
    assert store.write(Update(LIMITS, {"key": "k"}, set={"ttl": 100}, add={"n": 0.1})) is None
    new = store.write(Update(LIMITS, {"key": "k"}, add={"n": 0.2, "m": 5}, remove=("ttl",)),
                      returns_new=True)
    assert new == {"key": "k", "n": 0.3, "m": 5} == store.get(LIMITS, {"key": "k"})


def test_a_refused_update_carries_the_old_item_and_a_refused_put_or_delete_none(store):
    store.write(Put(CHALLENGES, {"id": "c", "used": True}))
    with pytest.raises(Refused) as update:
        store.write(Update(CHALLENGES, {"id": "c"}, set={"used": True},
                           expect=c.Missing("used")))
    with pytest.raises(Refused) as missing:
        store.write(Update(CHALLENGES, {"id": "nope"}, set={"a": 1}, expect=c.Present("id")))
    with pytest.raises(Refused) as put:
        store.write(Put(CHALLENGES, {"id": "c"}, expect=c.Missing("id")))
    with pytest.raises(Refused) as delete:
        store.write(Delete(CHALLENGES, {"id": "c"}, expect=c.eq("used", False)))
    assert update.value.item == {"id": "c", "used": True}
    assert (missing.value.item, put.value.item, delete.value.item) == (None, None, None)
    assert contents(store, CHALLENGES) == [{"id": "c", "used": True}]


def test_a_query_orders_by_the_sort_key_newest_first_when_asked_and_stops_at_limit(store):
    for at in ("2026-11-25T08:00:02Z", "2026-11-25T08:00:00Z", "2026-11-25T08:00:01Z"):
        store.write(Put(AUDIT, {"username": "anna", "at": at, "day": at[:10]}))
    store.write(Put(AUDIT, {"username": "bo", "at": "2026-11-25T09:00:00Z"}))
    oldest_first = store.query(AUDIT, "username", "anna", order="at")
    newest = store.query(AUDIT, "username", "anna", order="at", newest_first=True, limit=2)
    by_day = store.query(AUDIT, "day", "2026-11-25", index="by_day", order="at")
    assert [item["at"][-3:] for item in oldest_first] == ["00Z", "01Z", "02Z"]
    assert [item["at"][-3:] for item in newest] == ["02Z", "01Z"]
    assert [item["username"] for item in by_day] == ["anna"] * 3  # bo's has no day


def test_a_query_between_two_sort_keys_answers_those_inclusive_in_order(store):
    for at in ("2026-10-31T23:59:59Z#a", "2026-11-01T00:00:00Z#b", "2026-11-15T12:00:00Z#c",
               "2026-11-30T23:59:59Z#d", "2026-12-01T00:00:00Z#e"):
        store.write(Put(AUDIT, {"username": "anna", "at": at}))
    store.write(Put(AUDIT, {"username": "bo", "at": "2026-11-15T12:00:00Z#f"}))
    november = store.query(AUDIT, "username", "anna", order="at",
                           between=("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"))
    assert [item["at"][-1] for item in november] == ["b", "c", "d"]
    newest = store.query(AUDIT, "username", "anna", order="at", newest_first=True,
                         between=("2026-11-15T12:00:00Z#c", "2026-12-01T00:00:00Z#e"))
    assert [item["at"][-1] for item in newest] == ["e", "d", "c"]


def test_a_keys_only_index_answers_with_the_keys_alone(store):
    for name in ("cecilia", "anna"):
        store.write(Put(ACCOUNTS, {"username": name, "expires_on": "2026-12-01",
                                   "phone": "+46701234567"}))
    store.write(Put(ACCOUNTS, {"username": "bo", "phone": "+46701234568"}))
    assert store.query(ACCOUNTS, "expires_on", "2026-12-01", index="by_expiry",
                       order="username") == [
        {"username": "anna", "expires_on": "2026-12-01"},
        {"username": "cecilia", "expires_on": "2026-12-01"}]


def test_a_scan_answers_every_item_or_only_the_attributes_asked_for(store):
    store.write(Put(ACCOUNTS, {"username": "anna", "phone": "1", "hash": "h"}))
    store.write(Put(ACCOUNTS, {"username": "bo"}))
    assert contents(store, ACCOUNTS) == [{"hash": "h", "phone": "1", "username": "anna"},
                                         {"username": "bo"}]
    assert sorted(store.scan(ACCOUNTS, ["username", "phone"]), key=repr) == [
        {"phone": "1", "username": "anna"}, {"username": "bo"}]


@pytest.mark.parametrize("name, invalid", [
    ("two operations on one item", lambda s: s.commit([
        ("put", Put(LIMITS, {"key": "k"})),
        ("check", Check(LIMITS, {"key": "k"}, c.Missing("key")))])),
    ("an update of the key", lambda s: s.write(Update(LIMITS, {"key": "k"},
                                                      set={"key": "j"}))),
    ("a key that is not the table's", lambda s: s.get(ACCOUNTS, {"id": "x"})),
])
def test_a_request_dynamodb_rejects_is_a_service_failure_and_writes_nothing(store, name,
                                                                             invalid):
    with pytest.raises(ServiceUnavailable):
        invalid(store)
    assert contents(store, LIMITS) == []
