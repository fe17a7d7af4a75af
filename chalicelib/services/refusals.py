"""A refused request's trail (SPEC 5 v2): `ratelimit.exceeded`, in the audit table once per
limit, subject and window, and in the log every time.

Shared by pwreset and pwreg (services/reset.py, registration.py), given to each by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.events import Caller
from chalicelib.ports import Clock, Conflict, Refused

if TYPE_CHECKING:
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Counters
    from chalicelib.services.unit_of_work import UnitOfWork

FIRST = "first"  # the write only the window's first refusal of a subject can make


@dataclass(frozen=True, kw_only=True)
class Refusals:
    clock: Clock
    uow: UnitOfWork
    counters: Counters
    audit: Audit

    def note(self, limit: str, username: str | None, caller: Caller, window: int,
             who: str = "", ip: str | None = None, outcome: str = "refused") -> None:
        """Record `ratelimit.exceeded` for a refused request, once per subject (`who`, and
        the client network if `ip`) and window: a flood of refused requests cannot grow the
        audit table. Every refusal is still logged (the log line, not the table)."""
        record = self.audit.record("ratelimit.exceeded", username, outcome, caller,
                                   limit=limit)
        tx = self.uow.begin()
        tx.add(FIRST, self.counters.first_refusal(limit, who or (username or ""), window,
                                                self.clock.now().timestamp(), ip=ip))
        tx.record(record)
        try:
            tx.commit()
        except (Refused, Conflict):  # in the table already for this window: log it only
            self.audit.emit(record)
