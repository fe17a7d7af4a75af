"""The audit trail: one DynamoDB item and one JSON log line (and, where metrics are on, one
CloudWatch metric) per security event.

A record holds the UTC time, request id, username, event, outcome, the client IP cut to
/24 or /48 and, where relevant, a masked number: never a password, code, token or full
number. Records that belong to a change are written in the change's own transaction
(`op`), and logged (`emit`) only once that transaction has succeeded.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import EVENTS, Caller, truncate_ip
from chalicelib.domain.phone import masked
from chalicelib.ports import AuditLog, Clock, Item, Put, Store

if TYPE_CHECKING:
    from chalicelib.settings import Settings


def _at(moment: datetime) -> str:
    """The sort key's form of a moment: a record made then sorts just after it (`#…`)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Audit:
    def __init__(self, settings: Settings, clock: Clock, store: Store, log: AuditLog) -> None:
        self._settings = settings
        self._clock = clock
        self._store = store
        self._log = log

    def record(self, event: str, username: str | None, outcome: str, caller: Caller,
               phone: str | None = None, **details: Any) -> Item:
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        now = self._clock.now()
        record = {
            "username": username or "-",
            "at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "#" + secrets.token_hex(4),
            "day": now.strftime("%Y-%m-%d"),  # the by_day index: what `report` reads
            "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "event": event,
            "outcome": outcome,
            "request_id": caller.request_id or "-",
            "ip": truncate_ip(caller.ip) or "-",
            "ttl": int((now + timedelta(days=self._settings.audit_retention_days)).timestamp()),
        }
        if phone:
            record["phone"] = masked(phone)
        for key, value in details.items():
            if value is not None:
                record[key] = value
        return record

    def put(self, record: Item) -> Put:
        return Put(self._settings.audit_table, record)

    def write(self, record: Item) -> None:
        self._store.write(self.put(record))
        self.emit(record)

    def write_if_possible(self, record: Item) -> None:
        """For a record about a failure already under way: into the table if DynamoDB
        answers, into the log in any case."""
        try:
            self._store.write(self.put(record))
        except ServiceUnavailable:
            pass
        self.emit(record)

    def emit(self, record: Item) -> None:
        """The record's log line (and metric), through the `AuditLog` port."""
        self._log.emit(record["event"], {k: v for k, v in record.items()
                                         if k not in ("at", "day", "ttl")})

    def on_day(self, day: str) -> list[Item]:
        """Every record of one UTC day (YYYY-MM-DD), oldest first, through the by_day index."""
        return self._store.query(self._settings.audit_table, "day", day, index="by_day",
                                 order="at")

    def events(self, username: str, limit: int = 50) -> list[Item]:
        return self._store.query(self._settings.audit_table, "username", username,
                                 order="at", newest_first=True, limit=limit)

    def between(self, username: str, start: datetime, end: datetime) -> list[Item]:
        """Every record of `username` from `start` up to (not including) `end`, oldest
        first: one Query on the table's key, never the whole trail."""
        return self._store.query(self._settings.audit_table, "username", username,
                                 order="at", between=(_at(start), _at(end)))
