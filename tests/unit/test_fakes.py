"""The fakes the use-case tests run on behave as the real ports do.

The store's cases that can also run on DynamoDB (moto) are in
tests/integration/test_store_contract.py; these pin the rest: what the fake alone offers
(failure switches, misuse messages) and the clock, queue, gateway and hasher.
"""
from datetime import datetime, timezone

import pytest
from argon2 import extract_parameters

from chalicelib.domain import conditions as c
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.ports import Check, Conflict, Delete, Put, Refused, Update
from chalicelib.settings import Settings
from tests.unit.fakes import (FAST_DUMMY_HASH, FakeClock, FakeGateway, FakeQueue, FastHasher,
                              MemoryStore, StoreMisuse)

SETTINGS = Settings()
ACCOUNTS, CHALLENGES = SETTINGS.accounts_table, SETTINGS.challenges_table
LIMITS, AUDIT = SETTINGS.limits_table, SETTINGS.audit_table


@pytest.fixture
def store():
    return MemoryStore()


# --- the store: writes -------------------------------------------------------------------


def test_a_transaction_applies_every_write(store):
    store.write(Put(CHALLENGES, {"id": "old"}))
    store.commit([("new", Put(CHALLENGES, {"id": "new", "n": 1})),
                  ("old", Delete(CHALLENGES, {"id": "old"}, expect=c.Present("id"))),
                  ("count", Update(LIMITS, {"key": "k"}, add={"n": 2}))])
    assert store.items(CHALLENGES) == [{"id": "new", "n": 1}]
    assert store.get(LIMITS, {"key": "k"}) == {"key": "k", "n": 2}


def test_add_adds_to_a_number_as_decimals_and_a_missing_one_counts_as_zero(store):
    store.write(Put(LIMITS, {"key": "k", "n": 0.1}))
    new = store.write(Update(LIMITS, {"key": "k"}, add={"n": 0.2, "m": 5}), returns_new=True)
    assert new == {"key": "k", "n": 0.3, "m": 5}


def test_remove_deletes_attributes_and_ignores_missing_ones(store):
    store.write(Put(CHALLENGES, {"id": "c", "code": "x", "tries": 2}))
    store.write(Update(CHALLENGES, {"id": "c"}, remove=("code", "never")))
    assert store.get(CHALLENGES, {"id": "c"}) == {"id": "c", "tries": 2}


def test_an_update_returns_the_new_item_only_when_asked(store):
    assert store.write(Update(LIMITS, {"key": "k"}, set={"a": 1})) is None
    assert store.write(Update(LIMITS, {"key": "k"}, set={"b": 2}), returns_new=True) == \
        {"key": "k", "a": 1, "b": 2}
    assert store.write(Put(LIMITS, {"key": "p"}), returns_new=True) is None


def test_a_refusal_reports_a_copy_of_the_old_item(store):
    store.write(Put(CHALLENGES, {"id": "c", "tags": ["a"]}))
    with pytest.raises(Refused) as refused:
        store.write(Update(CHALLENGES, {"id": "c"}, set={"x": 1}, expect=c.Missing("id")))
    refused.value.item["tags"].append("b")
    assert store.get(CHALLENGES, {"id": "c"}) == {"id": "c", "tags": ["a"]}


# --- the store: what comes back ----------------------------------------------------------

def test_items_come_back_as_dynamodb_returns_them(store):
    store.write(Put(ACCOUNTS, {"username": "anna", "whole": 2.0, "part": 0.5, "n": 3,
                               "gone": None, "nested": {"at": 1.0, "none": None},
                               "flag": True, "salt": b"\x00\x01"}))
    item = store.get(ACCOUNTS, {"username": "anna"})
    assert item == {"username": "anna", "whole": 2, "part": 0.5, "n": 3,
                    "nested": {"at": 1, "none": None}, "flag": True, "salt": item["salt"]}
    # Only top-level None attributes are dropped; inside a map None is DynamoDB's NULL.
    assert type(item["whole"]) is int and type(item["part"]) is float
    assert bytes(item["salt"]) == b"\x00\x01"


def test_what_a_test_gets_back_is_a_copy_never_the_stored_item(store):
    written = {"id": "c", "list": [1]}
    store.write(Put(CHALLENGES, written))
    written["list"].append(2)
    store.get(CHALLENGES, {"id": "c"})["list"].append(3)
    store.items(CHALLENGES)[0]["list"].append(4)
    store.query(CHALLENGES, "id", "c")[0]["list"].append(5)
    assert store.get(CHALLENGES, {"id": "c"}) == {"id": "c", "list": [1]}


# --- the store: what DynamoDB would reject, and failures on demand -------------------------

@pytest.mark.parametrize("call, says", [
    (lambda s: s.get("pwportal-local-nope", {"id": "x"}), "no table"),
    (lambda s: s.get(ACCOUNTS, {"id": "x"}), "the key of"),
    (lambda s: s.write(Put(AUDIT, {"username": "anna"})), "needs its key"),
    (lambda s: s.write(Update(LIMITS, {"key": "k"})), "nothing to set"),
    (lambda s: s.write(Update(LIMITS, {"key": "k"}, set={"key": "j"})), "cannot change the key"),
    (lambda s: s.write(Update(LIMITS, {"key": "k"}, set={"n": 1}, remove=("n",))), "twice"),
    (lambda s: s.write(Update(LIMITS, {"key": "k"}, set={"n": None})), "None"),
    (lambda s: s.write(Update(LIMITS, {"key": "k"}, add={"n": "one"})), "ADD n"),
    (lambda s: s.write(Check(LIMITS, {"key": "k"}, c.Present("key"))), "transaction"),
    (lambda s: s.commit([]), "1 to 100"),
    (lambda s: s.commit([("a", Put(LIMITS, {"key": "k"})),
                         ("b", Check(LIMITS, {"key": "k"}, c.Missing("key")))]), "one item"),
    (lambda s: s.query(AUDIT, "day", "2026-11-25"), "partition key"),
    (lambda s: s.query(AUDIT, "username", "anna", order="day"), "ordered by"),
    (lambda s: s.query(AUDIT, "day", "2026-11-25", index="by_month"), "no index"),
])
def test_a_request_dynamodb_would_reject_is_a_service_failure_that_says_why(store, call, says):
    with pytest.raises(StoreMisuse, match=says) as rejected:
        call(store)
    assert isinstance(rejected.value, ServiceUnavailable)
    assert store.items(LIMITS) == []


def test_a_store_that_is_down_answers_service_unavailable_to_everything(store):
    store.down = True
    for call in (lambda: store.get(LIMITS, {"key": "k"}),
                 lambda: store.write(Put(LIMITS, {"key": "k"})),
                 lambda: store.commit([("p", Put(LIMITS, {"key": "k"}))]),
                 lambda: store.query(LIMITS, "key", "k"), lambda: store.scan(LIMITS)):
        with pytest.raises(ServiceUnavailable):
            call()
    store.down = False
    assert store.items(LIMITS) == []


def test_a_transaction_told_to_conflict_writes_nothing_and_the_next_one_commits(store):
    store.conflict_next(1)
    writes = [("p", Put(LIMITS, {"key": "k"}))]
    with pytest.raises(Conflict):
        store.commit(writes)
    assert store.items(LIMITS) == []
    store.commit(writes)
    assert store.items(LIMITS) == [{"key": "k"}]


def test_the_tables_and_keys_can_be_given(store):
    custom = MemoryStore(keys={"events": ("who", "when")})
    custom.write(Put("events", {"who": "a", "when": 2}))
    custom.write(Put("events", {"who": "a", "when": 1}))
    assert [item["when"] for item in custom.query("events", "who", "a")] == [1, 2]


# --- the clock, the queue, the gateway, the hasher --------------------------------------------

def test_the_clock_starts_on_a_fixed_morning_and_moves_only_when_told():
    clock = FakeClock()
    assert clock.now() == datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
    assert clock.now() == clock.now()
    assert clock.advance(minutes=15, seconds=1) == datetime(2026, 11, 25, 8, 15, 1,
                                                             tzinfo=timezone.utc)
    moment = datetime(2027, 3, 28, 1, 0, tzinfo=timezone.utc)
    assert clock.set(moment) is None and clock.now() == moment
    assert FakeClock(moment).now() == moment


def test_the_queue_keeps_what_was_sent_as_json_and_refuses_when_down():
    queue = FakeQueue()
    queue.send({"to": "+46701234567", "text": "Kod", "kind": ("code",)})
    assert queue.sent == [{"to": "+46701234567", "text": "Kod", "kind": ["code"]}]
    queue.down = True
    with pytest.raises(ServiceUnavailable):
        queue.send({"text": "lost"})
    assert len(queue.sent) == 1
    with pytest.raises(TypeError):  # SQS carries JSON: a datetime is a bug, as it is live
        FakeQueue().send({"at": datetime.now()})


def test_the_gateway_records_what_it_publishes_and_fails_when_told():
    gateway = FakeGateway()
    first, second = gateway.publish("+4671", "a"), gateway.publish("+4672", "b")
    assert first != second and gateway.published == [("+4671", "a"), ("+4672", "b")]
    gateway.failure = RuntimeError("SNS is down")
    with pytest.raises(RuntimeError, match="SNS is down"):
        gateway.publish("+4673", "c")
    assert gateway.calls == 3 and len(gateway.published) == 2


def test_the_fast_hasher_is_the_real_hasher_at_argon2s_least_cost():
    hasher = FastHasher()
    stored = hasher.hash("Åsa-Hus-12")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 8, 1)
    assert hasher.verify(stored, "A\u030asa-Hus-12") and not hasher.verify(stored, "asa")
    assert not FastHasher(b"q" * 32).verify(stored, "Åsa-Hus-12")
    assert hasher.verify_nothing("Åsa-Hus-12") is False
    dummy = extract_parameters(FAST_DUMMY_HASH)
    assert (dummy.time_cost, dummy.memory_cost, dummy.parallelism) == (1, 8, 1)


def test_the_fast_hashers_fingerprints_depend_on_password_salt_and_pepper():
    hasher, salt = FastHasher(), b"s" * 16
    print_ = hasher.fingerprint("tuvKAJ58!x", salt)
    assert hasher.fingerprint("tuvKAJ58!x", salt) == print_
    assert hasher.fingerprint("tuvKAJ58!X", salt) != print_
    assert hasher.fingerprint("tuvKAJ58!x", b"t" * 16) != print_
    assert FastHasher(b"q" * 32).fingerprint("tuvKAJ58!x", salt) != print_
