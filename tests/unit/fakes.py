"""In-memory stand-ins for the ports of chalicelib/ports.py, for use-case tests without moto.

- `MemoryStore`: the Store port on dicts, with DynamoStore's semantics (conditional writes,
  all-or-none transactions that name the refused write, Update creating, ADD, REMOVE, query
  by table or index key in sort-key order with the index's projection). Items are stored
  and returned as DynamoDB would give them back (`from_dynamo(to_dynamo(x))`), as copies.
  Requests DynamoDB would reject (an unknown table, a key that is not the table's, two
  writes to one item in a transaction, ...) raise `StoreMisuse`, a ServiceUnavailable as
  the real store's ValidationException becomes, with a message that says what was wrong.
  tests/integration/test_store_contract.py runs the same cases on both stores.
- `FakeClock`, `FakeQueue`, `FakeGateway`: time that moves when told; the SMS queue and the
  SNS gateway, recording what they were given and failing when told to.
- `FastHasher`: the real PasswordHasher with argon2's smallest parameters.
- `FakeDirectory`: the `ldap` mode's password store (adapters/ldap_directory.py) in memory.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.low_level import hash_secret_raw

from chalicelib.adapters.dynamo import from_dynamo, to_dynamo
from chalicelib.adapters.passwords import HASH_LEN, PARALLELISM, PasswordHasher
from chalicelib.domain.conditions import holds
from chalicelib.domain.sms import SmsMessage
from chalicelib.domain.errors import DirectoryUnavailable, ServiceUnavailable
from chalicelib.ports import Check, Conflict, Delete, DirectoryState, Put, Refused, Update, Write
from chalicelib.settings import Settings
from tests.clock import FakeClock
from infra import resources

TRANSACTION_LIMIT = 100  # DynamoDB's most operations in one TransactWriteItems


# --- the store ---------------------------------------------------------------------------

class StoreMisuse(ServiceUnavailable):
    """A request DynamoDB would reject as invalid (the real store answers ServiceUnavailable
    for it); the message names the mistake."""

    def __init__(self, reason: str):
        super().__init__()
        self.args = (reason,)


@dataclass(frozen=True)
class Index:
    hash: str
    range: str | None = None
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    include: tuple[str, ...] = ()


def schema_of(settings: Settings | None = None):
    """(table → key attributes, table → {index name → Index}) from infra/resources.json,
    with the table names of `settings` (default: Settings(), the local stage's)."""
    settings = settings or Settings()
    keys: dict[str, tuple[str, ...]] = {}
    indexes: dict[str, dict[str, Index]] = {}
    for spec in resources.definitions()["Tables"].values():
        table = getattr(settings, spec["setting"])
        props = spec["Properties"]
        keys[table] = _key_attributes(props["KeySchema"])
        indexes[table] = {}
        for index in props.get("GlobalSecondaryIndexes", []):
            projection = index["Projection"]
            indexes[table][index["IndexName"]] = Index(
                *_key_attributes(index["KeySchema"]) + (None,) * (2 - len(index["KeySchema"])),
                projection=projection["ProjectionType"],
                include=tuple(projection.get("NonKeyAttributes", ())))
    return keys, indexes


def _key_attributes(schema: list[dict]) -> tuple[str, ...]:
    order = {"HASH": 0, "RANGE": 1}
    return tuple(part["AttributeName"]
                 for part in sorted(schema, key=lambda part: order[part["KeyType"]]))


def _stored(value):
    """`value` as DynamoDB gives it back: Decimals restored, None values dropped."""
    return from_dynamo(to_dynamo(value))


def _decimal(value) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class MemoryStore:
    """The Store port in memory. `keys` (table → key attributes) and `indexes` (table →
    {name: Index}) default to the tables of infra/resources.json under Settings()' names.

    For tests: `items(table)` shows a table; `down = True` makes every call fail with
    ServiceUnavailable; `conflict_next(times)` makes the next transactions lose to a
    parallel one (Conflict, nothing written)."""

    def __init__(self, keys: dict[str, tuple[str, ...]] | None = None,
                 indexes: dict[str, dict[str, Index]] | None = None):
        default_keys, default_indexes = schema_of()
        self._keys = {table: tuple(attrs) for table, attrs in (keys or default_keys).items()}
        self._indexes = default_indexes if indexes is None and keys is None else (indexes or {})
        self._tables: dict[str, dict[tuple, dict]] = {table: {} for table in self._keys}
        self._lock = threading.Lock()
        self._conflicts = 0
        self.down = False

    # - for tests -

    def items(self, table: str) -> list[dict]:
        """Every item of `table`, in the order they were first written (copies)."""
        with self._lock:
            return [copy.deepcopy(item) for item in self._table(table).values()]

    def conflict_next(self, times: int = 1) -> None:
        self._conflicts = times

    # - the Store port -

    def get(self, table: str, key: dict) -> dict | None:
        with self._lock:
            self._reachable()
            return copy.deepcopy(self._table(table).get(self._key(table, key)))

    def get_many(self, wanted: list[tuple[str, dict]]) -> list[dict | None]:
        with self._lock:
            self._reachable()
            return [copy.deepcopy(self._table(table).get(self._key(table, key)))
                    for table, key in wanted]

    def write(self, write: Write, returns_new: bool = False) -> dict | None:
        if isinstance(write, Check):
            raise StoreMisuse("a Check is only a transaction's operation")
        with self._lock:
            self._reachable()
            table, key = self._address(write)
            old = self._table(table).get(key)
            if not holds(write.expect, old):
                # The real store asks for the old item only where it uses it: on an Update.
                raise Refused(item=copy.deepcopy(old) if isinstance(write, Update) else None)
            new = self._apply(write, old)
            self._store(table, key, new)
            return copy.deepcopy(new) if isinstance(write, Update) and returns_new else None

    def commit(self, writes: list[tuple[str, Write]]) -> None:
        with self._lock:
            self._reachable()
            if not writes or len(writes) > TRANSACTION_LIMIT:
                raise StoreMisuse(f"a transaction holds 1 to {TRANSACTION_LIMIT} operations, "
                                  f"not {len(writes)}")
            addresses = [self._address(write) for _, write in writes]
            if len(set(addresses)) < len(addresses):
                raise StoreMisuse("a transaction cannot include two operations on one item")
            olds = [self._table(table).get(key) for table, key in addresses]
            for (name, write), old in zip(writes, olds):
                if not holds(write.expect, old):
                    raise Refused(by=name)
            news = [old if isinstance(write, Check) else self._apply(write, old)
                    for (_, write), old in zip(writes, olds)]
            if self._conflicts:
                self._conflicts -= 1
                raise Conflict()
            for (_, write), (table, key), new in zip(writes, addresses, news):
                if not isinstance(write, Check):
                    self._store(table, key, new)

    def query(self, table: str, attribute: str, value, index: str | None = None,
              order: str | None = None, newest_first: bool = False,
              limit: int | None = None, between: tuple | None = None) -> list[dict]:
        with self._lock:
            self._reachable()
            schema = self._queried(table, index, attribute, order)
            if between is not None and (order is None or schema.range is None):
                raise StoreMisuse("a query between two sort keys names the sort key (order)")
            value = _stored({"v": value})["v"]
            found = [item for item in self._table(table).values()
                     if item.get(schema.hash) == value
                     and (schema.range is None or schema.range in item)
                     and (between is None or between[0] <= item[schema.range] <= between[1])]
            if schema.range:
                found.sort(key=lambda item: item[schema.range], reverse=newest_first)
            if limit:
                found = found[:limit]
            return [copy.deepcopy(self._project(item, self._keys[table], schema))
                    for item in found]

    def scan(self, table: str, attributes: list[str] | None = None) -> list[dict]:
        with self._lock:
            self._reachable()
            return [copy.deepcopy({name: value for name, value in item.items()
                                   if not attributes or name in attributes})
                    for item in self._table(table).values()]

    # - inside -

    def _reachable(self) -> None:
        if self.down:
            raise ServiceUnavailable()

    def _keys_of(self, table: str) -> tuple[str, ...]:
        if table not in self._keys:
            raise StoreMisuse(f"no table {table!r} (known: {', '.join(self._keys)})")
        return self._keys[table]

    def _table(self, table: str) -> dict[tuple, dict]:
        self._keys_of(table)
        return self._tables[table]

    def _index(self, table: str, name: str) -> Index:
        if name not in self._indexes.get(table, {}):
            raise StoreMisuse(f"no index {name!r} on {table}")
        return self._indexes[table][name]

    def _queried(self, table: str, index: str | None, attribute: str,
                 order: str | None) -> Index:
        """The key schema a query reads, checked as DynamoDB checks it: by the partition
        key, in the order of the sort key (which `order` may only restate)."""
        keys = self._keys_of(table)
        schema = self._index(table, index) if index else Index(*keys + (None,) * (2 - len(keys)))
        if attribute != schema.hash:
            raise StoreMisuse(f"{table} {index or ''}: the partition key is "
                              f"{schema.hash!r}, not {attribute!r}")
        if order is not None and order != schema.range:
            raise StoreMisuse(f"{table} {index or ''}: items are ordered by "
                              f"{schema.range!r}, not {order!r}")
        return schema

    def _key(self, table: str, key: dict) -> tuple:
        attributes = self._keys_of(table)
        if set(key) != set(attributes) or any(key[name] is None for name in attributes):
            raise StoreMisuse(f"the key of {table} is {attributes}, not {tuple(key)}")
        stored = _stored(key)
        return tuple(stored[name] for name in attributes)

    def _address(self, write: Write) -> tuple[str, tuple]:
        if isinstance(write, Put):
            attributes = self._keys_of(write.table)
            missing = [name for name in attributes if write.item.get(name) is None]
            if missing:
                raise StoreMisuse(f"an item of {write.table} needs its key {missing}")
            return write.table, self._key(write.table, {a: write.item[a] for a in attributes})
        return write.table, self._key(write.table, write.key)

    def _apply(self, write: Write, old: dict | None) -> dict | None:
        """The item after `write` (None: deleted), without storing it."""
        if isinstance(write, Put):
            return _stored(write.item)
        if isinstance(write, Delete):
            return None
        return self._updated(write, old)

    def _updated(self, write: Update, old: dict | None) -> dict:
        named = [*write.set, *write.add, *write.remove]
        if not named:
            raise StoreMisuse("an Update with nothing to set, add or remove")
        if len(set(named)) < len(named):
            raise StoreMisuse(f"an Update names one attribute twice: {named}")
        if set(named) & set(self._keys[write.table]):
            raise StoreMisuse(f"an Update cannot change the key {self._keys[write.table]}")
        if any(value is None for value in [*write.set.values(), *write.add.values()]):
            raise StoreMisuse("an Update cannot set or add None (remove the attribute)")
        item = copy.deepcopy(old) if old is not None else _stored(write.key)
        item.update(_stored(write.set))
        for name, amount in _stored(write.add).items():
            item[name] = self._added(name, item.get(name), amount)
        for name in write.remove:
            item.pop(name, None)
        return item

    @staticmethod
    def _added(name: str, current, amount):
        if _number(amount) and (current is None or _number(current)):
            total = _decimal(current or 0) + _decimal(amount)
            return _stored({"n": total})["n"]
        if isinstance(amount, set) and (current is None or isinstance(current, set)):
            return (current or set()) | amount
        raise StoreMisuse(f"ADD {name}: cannot add {amount!r} to {current!r}")

    def _store(self, table: str, key: tuple, item: dict | None) -> None:
        if item is None:
            self._tables[table].pop(key, None)
        else:
            self._tables[table][key] = item

    def _project(self, item: dict, keys: tuple[str, ...], schema: Index) -> dict:
        if schema.projection == "ALL":
            return item
        wanted = {*keys, schema.hash, schema.range, *schema.include}
        return {name: value for name, value in item.items() if name in wanted}


# --- time, the queue, the gateway --------------------------------------------------------

class FakeQueue:
    """The SMS queue: `sent` holds every message as the worker would read it back (through
    JSON, as SQS carries it); with `down = True` a send raises ServiceUnavailable and
    queues nothing."""

    def __init__(self):
        self.sent: list[dict] = []
        self.down = False

    def send(self, message: SmsMessage | dict) -> None:
        if self.down:
            raise ServiceUnavailable()
        self.sent.append(self._carried(message))

    def send_many(self, messages: list[SmsMessage]) -> None:
        if self.down:
            raise ServiceUnavailable()
        self.sent.extend(self._carried(message) for message in messages)

    @staticmethod
    def _carried(message: SmsMessage | dict) -> dict:
        body = message.to_message() if isinstance(message, SmsMessage) else message
        return json.loads(json.dumps(body))


class FakeGateway:
    """SNS: `published` holds (phone, text) of every accepted SMS. Set `failure` to an
    exception (e.g. RuntimeError("SNS is down")) to have every publish raise it; the
    attempts are still counted in `calls`."""

    def __init__(self):
        self.published: list[tuple[str, str]] = []
        self.failure: Exception | None = None
        self.calls = 0

    def publish(self, phone: str, text: str) -> str:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        self.published.append((phone, text))
        return f"message-{len(self.published)}"


# --- the hasher --------------------------------------------------------------------------

FAST_TIME_COST = 1
FAST_MEMORY_COST_KIB = 8  # argon2's least: 8 KiB per lane
# The hash of 32 random bytes with the fast parameters, as passwords.DUMMY_HASH is with the
# real ones.
FAST_DUMMY_HASH = ("$argon2id$v=19$m=8,t=1,p=1$SSEqYc3YoBHoNFJOw8F5Zw$"
                   "3TQrdV/Uv7jG0euquXSbC9gwZRyDCK+fXo/Qj2G+Puk")


class FastHasher(PasswordHasher):
    """The real hasher (pepper, NFC, argon2id, history fingerprints) at argon2's smallest
    cost: a hash or a verification takes microseconds instead of ~50 ms."""

    def __init__(self, pepper: bytes = b"p" * 32):
        super().__init__(pepper)

    @cached_property
    def _argon2(self) -> Argon2Hasher:
        return Argon2Hasher(time_cost=FAST_TIME_COST, memory_cost=FAST_MEMORY_COST_KIB,
                            parallelism=PARALLELISM, hash_len=HASH_LEN, type=Type.ID)

    def verify_nothing(self, password: str) -> bool:
        self.verify(FAST_DUMMY_HASH, password)
        return False

    def fingerprint(self, password: str, salt: bytes) -> str:
        raw = hash_secret_raw(self._peppered(password), salt, time_cost=FAST_TIME_COST,
                              memory_cost=FAST_MEMORY_COST_KIB, parallelism=PARALLELISM,
                              hash_len=HASH_LEN, type=Type.ID)
        return hmac.new(self._pepper, raw, hashlib.sha256).hexdigest()


# --- the directory (SPEC 13) ------------------------------------------------------------

class FakeDirectory:
    """An LDAP directory's entries in memory: username → (password, when it was last set, or
    None as a new slapd entry says nothing). `add` makes an entry as the directory's own
    administrator would; `set` is the portal's change, at `clock`'s time; `down = True`
    makes every call fail as an unreachable directory does; `lock` locks an entry as failed
    binds would."""

    def __init__(self, clock=None):
        self.clock = clock
        self.entries: dict[str, tuple[str, object]] = {}
        self.locks: set[str] = set()
        self.down = False

    def add(self, username: str, password: str) -> None:
        self.entries[username] = (password, None)

    def _reachable(self) -> None:
        if self.down:
            raise DirectoryUnavailable("unreachable")

    def verify(self, username: str, stored_hash: str | None, password: str) -> bool:
        self._reachable()
        entry = self.entries.get(username)
        return entry is not None and stored_hash is not None and \
            hmac.compare_digest(entry[0].encode(), password.encode())

    def set(self, username: str, password: str) -> None:
        self._reachable()
        self.entries[username] = (password, self.clock.now())

    def exists(self, username: str) -> bool:
        self._reachable()
        return username in self.entries

    def changed_at(self, username: str):
        self._reachable()
        entry = self.entries.get(username)
        return entry[1] if entry else None

    # SPEC 16: the directory's lockout after failed logins (`lock` is the directory's doing)

    def lock(self, username: str) -> None:
        self.locks.add(username)

    def locked(self, username: str, now) -> bool:
        self._reachable()
        return username in self.locks

    def state(self, username: str, now) -> DirectoryState:
        self._reachable()
        return DirectoryState(exists=username in self.entries, locked=username in self.locks)

    def unlock(self, username: str, now) -> bool:
        self._reachable()
        if username not in self.locks:
            return False
        self.locks.discard(username)
        return True


__all__ = ["FakeClock", "FakeDirectory", "FakeGateway", "FakeQueue", "FastHasher",
           "MemoryStore", "StoreMisuse"]
