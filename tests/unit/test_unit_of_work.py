"""The unit of work names its writes, its groups of writes and its reads
(services/unit_of_work.py): a refusal says which, never a position."""
from __future__ import annotations

import pytest

from chalicelib.domain import conditions as c
from chalicelib.ports import Put, Read, Refused
from chalicelib.services.unit_of_work import AUDIT, UnitOfWork, refused_by
from chalicelib.settings import Settings
from tests.unit.fakes import MemoryStore

TABLE = Settings().limits_table


class NoAudit:
    def put(self, record):
        return Put(TABLE, {"key": "audit#" + record["id"]})

    def emit(self, record):
        pass


def put(key: str, expect=None) -> Put:
    return Put(TABLE, {"key": key}, expect=expect)


@pytest.fixture
def uow():
    store = MemoryStore()
    store.write(put("taken"))
    return UnitOfWork(store, NoAudit())


def test_a_refusal_of_any_write_of_a_group_names_the_group(uow):
    tx = uow.begin().add("first", put("a", expect=c.Missing("key")))
    tx.add_group("network", [put("b", expect=c.Missing("key")),
                             put("taken", expect=c.Missing("key"))])
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert refused.value.by == "network"
    assert refused_by("network")(refused.value) and not refused_by("first")(refused.value)


def test_an_empty_group_adds_nothing(uow):
    uow.begin().add("first", put("a")).add_group("others", []).commit()


def test_a_name_is_used_once_in_a_change_and_audit_is_the_trails(uow):
    tx = uow.begin().add("first", put("a"))
    with pytest.raises(ValueError):
        tx.add_group("first", [put("b")])
    with pytest.raises(ValueError):
        tx.add(AUDIT, put("c"))


def test_reads_are_answered_by_their_names(uow):
    found = uow.read(taken=Read(TABLE, {"key": "taken"}, lambda item: item is not None),
                     free=Read(TABLE, {"key": "free"}, lambda item: item is not None))
    assert (found.taken, found.free) == (True, False)
    with pytest.raises(AttributeError):
        found.other
