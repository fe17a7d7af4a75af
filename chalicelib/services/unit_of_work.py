"""The unit of work: the writes of one change, each under a name, committed all or none.

    tx = uow.begin()
    tx.add(CHALLENGE, records.use(challenge, now))
    tx.add(TOKEN, records.add(token))
    tx.add_group(NETWORK, limits.counting_writes(RESENDS, "", now, ip=ip))
    tx.record(audit.record("reset.code_verified", ...))
    tx.commit()          # Refused(by=CHALLENGE) if the code was used first

A refusal names the operation, or the group of operations, whose condition failed, never a
position, so adding an operation changes nothing for the others. A use case names its
writes by constants of its module and asks `refused.by_any(NAME)`, never the name's text.
The audit records of the change are written in the same transaction (the group `AUDIT`)
and logged only once it has succeeded.

Reads are named too: `uow.read(account=…, pause=…)` reads in one batch and answers each
value by its name (`found.account`, or `found[name]` for a name made at run time).

`retrying` is the one optimistic-retry loop: build the change from a fresh read, commit,
and on a conflict (or a refusal the caller calls retryable, e.g. `refused_by(ACCOUNT)`)
read and build again.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.ports import Conflict, Item, Read, Refused, Store, Write

if TYPE_CHECKING:
    from chalicelib.repositories.audit import Audit

T = TypeVar("T")
TRIES = 8
AUDIT = "audit"  # the group of a change's audit records


class Tx:
    def __init__(self, store: Store, audit: Audit) -> None:
        self._store = store
        self._audit = audit
        self._writes: list[tuple[str, Write]] = []
        self._names: set[str] = set()
        self._records: list[Item] = []

    def _named(self, name: str) -> None:
        if name in self._names or name == AUDIT:
            raise ValueError(f"two writes or groups named {name!r} in one unit of work")
        self._names.add(name)

    def add(self, name: str, write: Write) -> "Tx":
        """One write under its own name: `refused.by_any(name)` when its condition fails."""
        self._named(name)
        self._writes.append((name, write))
        return self

    def add_group(self, name: str, writes: Iterable[Write]) -> "Tx":
        """Several writes of one kind (a counter's rules, a lock's items) under one name: a
        refusal of any of them is `refused.by_any(name)`. An empty group adds nothing."""
        self._named(name)
        self._writes.extend((name, write) for write in writes)
        return self

    def record(self, *records: Item) -> "Tx":
        """Audit records written with the change (the group `AUDIT`) and logged after it."""
        self._records.extend(records)
        return self

    def commit(self) -> None:
        self._store.commit(self._writes + [(AUDIT, self._audit.put(record))
                                           for record in self._records])
        for record in self._records:
            self._audit.emit(record)


class Found:
    """What a batch of named reads found, by the names they were given: `found.account`."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        """By a name made at run time (one per username of a batch, say)."""
        return self._values[name]


class UnitOfWork:
    def __init__(self, store: Store, audit: Audit) -> None:
        self._store = store
        self._audit = audit

    def begin(self) -> Tx:
        return Tx(self._store, self._audit)

    def write(self, write: Write) -> None:
        """One conditional write on its own (Refused if its condition fails)."""
        self._store.write(write)

    def read(self, **named: Read[Any]) -> Found:
        """Several items in one strongly consistent batch, each as its repository makes it,
        by the names given: `uow.read(account=accounts.read(u), pause=…).account`, or
        `found[name]` for names made at run time. Never by position."""
        wanted = list(named.values())
        found = [read.parse(item) for read, item in zip(wanted, self._store.get_many(
            [(read.table, read.key) for read in wanted]))]
        return Found(dict(zip(named, found)))


def refused_by(*names: str) -> Callable[[Refused], bool]:
    """`retryable` for `retrying`: a refusal by one of these writes or groups."""
    return lambda refused: refused.by_any(*names)


@dataclass(frozen=True)
class Attempt:
    number: int
    last: bool  # the final try: a use case may choose a change that cannot be refused


def back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * (2 ** min(attempt, 5))))


def retrying(build: Callable[[Attempt], T],
             retryable: Callable[[Refused], bool] = lambda refused: False,
             tries: int = TRIES, otherwise: Callable[[], T] | None = None) -> T:
    """Run `build` until it returns, at most `tries` times: again after a Conflict, or a
    Refused that `retryable` accepts (somebody wrote what was read since). When every try
    lost: `otherwise()`, or ServiceUnavailable. `build` turns the refusals that mean
    something to its use case into domain errors; any other is ServiceUnavailable."""
    for number in range(tries):
        try:
            return build(Attempt(number, last=number == tries - 1))
        except Conflict:
            pass
        except Refused as refused:
            if not retryable(refused):
                raise ServiceUnavailable() from refused
        back_off(number)
    if otherwise is not None:
        return otherwise()
    raise ServiceUnavailable()
