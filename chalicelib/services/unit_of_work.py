"""The unit of work: the writes of one change, each under a name, committed all or none.

    tx = uow.begin()
    tx.add("challenge", records.use(challenge, now))
    tx.add("token", records.add(token))
    tx.record(audit.record("reset.code_verified", ...))
    tx.commit()          # Refused(by="challenge") if the code was used first

A refusal names the operation whose condition failed, never a position, so adding an
operation changes nothing for the others. The audit records of the change are written in
the same transaction and logged only once it has succeeded.

`retrying` is the one optimistic-retry loop: build the change from a fresh read, commit,
and on a conflict (or a refusal the caller calls retryable) read and build again.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.ports import Conflict, Read, Refused, Store, Write

T = TypeVar("T")
TRIES = 8


class Tx:
    def __init__(self, store: Store, audit):
        self._store = store
        self._audit = audit
        self._writes: dict[str, Write] = {}
        self._records: list[dict] = []

    def add(self, name: str, write: Write) -> "Tx":
        if name in self._writes:
            raise ValueError(f"two writes named {name!r} in one unit of work")
        self._writes[name] = write
        return self

    def record(self, *records: dict) -> "Tx":
        for record in records:
            self._records.append(record)
            self.add(f"audit{len(self._records)}", self._audit.put(record))
        return self

    def commit(self) -> None:
        self._store.commit(list(self._writes.items()))
        for record in self._records:
            self._audit.emit(record)


class UnitOfWork:
    def __init__(self, store: Store, audit):
        self._store = store
        self._audit = audit

    def begin(self) -> Tx:
        return Tx(self._store, self._audit)

    def write(self, write: Write) -> None:
        """One conditional write on its own (Refused if its condition fails)."""
        self._store.write(write)

    def read(self, *reads: Read) -> list:
        """Several items in one strongly consistent batch, each as its repository makes it."""
        found = self._store.get_many([(read.table, read.key) for read in reads])
        return [read.parse(item) for read, item in zip(reads, found)]


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
