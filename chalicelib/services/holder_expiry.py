"""SPEC 11's storage limitation, part of the daily job: a holder who has not used the
account (no reset, no pwreg login as them) for 400 days *(config)* is removed, and the
other holders and the removed one are told.

The job never scans. Each account item with holders carries the day its longest-unused
holder was last used (`Account.to_item`), in the accounts table's sparse `by_holder_use`
index; one Query finds the accounts whose day lies on or before the limit, however long the
job was down. Each account is then one write conditioned on the version read, with its
`holder.expired` records: a holder who used the account meanwhile is not removed (the write
is refused and the account read again).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.domain import holders as holding
from chalicelib.domain.events import DAILY_JOB
from chalicelib.domain.account import Account
from chalicelib.domain.holders import Holder
from chalicelib.ports import Clock
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

ACCOUNT = "account"  # the name of the account's write: refused when it changed since read

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings


@dataclass(frozen=True, kw_only=True)
class HolderExpiry:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    audit: Audit
    notifications: Notifications

    def run(self) -> dict[str, int]:
        """Remove today's expired holders; how many accounts and holders, for the log."""
        now = self.clock.now()
        days = self.settings.holder_unused_days
        counts = {"accounts": 0, "holders_expired": 0}
        for username in self.accounts.least_used_before((now - timedelta(days=days)).date()):
            gone = self._expire(username, days)
            if gone:
                counts["accounts"] += 1
                counts["holders_expired"] += gone
        return counts

    def _expire(self, username: str, days: int) -> int:
        def attempt(_: Attempt
                    ) -> tuple[Account, list[Holder], list[Holder], datetime] | None:
            account = self.accounts.get(username)
            now = self.clock.now()
            if account is None:
                return None
            kept, gone = holding.expired(account.holders, now, days)
            if not gone:
                return None  # the index is a day's grain: due tomorrow, or used meanwhile
            tx = self.uow.begin()
            tx.add(ACCOUNT, self.accounts.save(account.with_holders(kept), account.version))
            tx.record(*(self.audit.record(
                "holder.expired", username, "success", DAILY_JOB, phone=holder.phone,
                subject_id=holder.id, subject_name=holder.name, unused_days=days)
                for holder in gone))
            tx.commit()
            return account, kept, gone, now

        done = retrying(attempt, retryable=refused_by(ACCOUNT))
        if done is None:
            return 0
        account, kept, gone, now = done
        for holder in gone:
            self.notifications.holder_changed(
                "expired", username, holder, [h.phone for h in kept] + [holder.phone], now,
                account.lang, "system", DAILY_JOB, days=days)
        return len(gone)
