"""The daily expiry reminders of SPEC 3: an SMS 14 and 3 days *(config)* before a password
expires, exactly once each per password.

The job finds the accounts through the accounts table's `by_expiry` index, one query per
expiry date it looks at, never a scan: its cost grows with the accounts due, not with all
accounts. If the job missed a day or two (an outage), it catches up: a reminder that is
still due (before the next, shorter one) is sent late rather than not at all.

Every holder is reminded (SPEC 7, 11): one message per holder, queued in one batch, each
naming its holder, so that the worker sends it to that holder's number as it is when
delivered (a holder removed meanwhile gets nothing).

Once per password: the reminder is marked in the account (`reminders_sent`), conditioned
on the account's version, before the SMS are queued; if queueing fails, the mark is taken
back so that tomorrow's run tries again. A new password starts with no reminders sent.

In `ldap` mode (SPEC 13) the directory has the last word on when a password was set (it may
have been changed there directly): before reminding, the job asks where the password lives
(`PasswordChange.set_later`: the directory's `pwdLastSet`, `pwdChangedTime`), and an
account whose password was set later than the portal knows gets that date and its new
expiry instead of a reminder. First, though, the job finishes the portal's own changes that
requests left half way (`PasswordChange.settle_left_behind`: a directory whose answer to
the set was lost, a record DynamoDB would not take): recorded, with `password.changed` and
the holders told, or dropped, from what the directory says.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from chalicelib.domain.account import Account
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.ports import Clock, Conflict, PasswordChange, Queue, Refused

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

CATCH_UP_DAYS = 2


@dataclass(frozen=True, kw_only=True)
class Reminders:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    queue: Queue
    notifications: Notifications
    password_change: PasswordChange  # where the password lives (SPEC 13)

    def due(self) -> list[tuple[int, int, str]]:
        """(reminder, days left, expiry date) for every date today's run looks at."""
        today = self.clock.now().date()
        reminders = sorted(set(self.settings.policy.reminder_days), reverse=True)
        looked_at = []
        for index, reminder in enumerate(reminders):
            shorter = reminders[index + 1] if index + 1 < len(reminders) else 0
            for late in range(CATCH_UP_DAYS + 1):
                left = reminder - late
                if left <= shorter or left < 1:
                    break
                looked_at.append((reminder, left, (today + timedelta(days=left)).isoformat()))
        return looked_at

    def run(self) -> dict[str, int]:
        """Send today's reminders; returns how many were queued and skipped, for the log."""
        counts = {"queued": 0, "already_sent": 0, "no_number": 0, "disabled": 0, "changed": 0}
        # First the changes left half way (ldap mode): a change recorded now moves its expiry.
        settled = self.password_change.settle_left_behind()
        if settled:
            counts.update({f"pending_{outcome}": n for outcome, n in settled.items()})
        for reminder, left, day in self.due():
            usernames = self.accounts.expiring_on(day)
            for account in self.accounts.get_many(usernames) if usernames else []:
                outcome = self._remind(account, reminder, left, day)
                counts[outcome] += 1
        return counts

    def _remind(self, account: Account, reminder: int, left: int, day: str) -> str:
        if account.disabled:
            return "disabled"
        if not account.holders:
            return "no_number"
        if reminder in account.reminders_sent:
            return "already_sent"
        if account.password_expires_at.date().isoformat() != day:
            return "changed"  # the index lags a password change made a moment ago
        if self._set_later(account):
            return "changed"
        marked = replace(account, reminders_sent=account.reminders_sent + [reminder],
                         version=account.version + 1)
        try:
            self.uow.write(self.accounts.save(marked, account.version))
        except (Refused, Conflict):  # a change raced us: tomorrow's run sees the new state
            return "changed"
        messages = [self.notifications.reminder(account.username, account.password_expires_at,
                                                 left, account.lang, holder=holder.id)
                    for holder in account.holders]
        try:
            self.queue.send_many(messages)
        except ServiceUnavailable:
            self._unmark(marked, reminder)
            raise
        return "queued"

    def _set_later(self, account: Account) -> bool:
        """The password was set later than the portal knows, where it lives (ldap mode: in
        the directory itself); the account takes that date (and a new expiry, no reminders
        sent yet)."""
        changed_at = self.password_change.set_later(account)
        if changed_at is None:
            return False
        days = self.settings.policy.max_age_days
        moved = replace(account, password_changed_at=changed_at,
                        password_expires_at=changed_at + timedelta(days=days),
                        reminders_sent=[], version=account.version + 1)
        try:
            self.uow.write(self.accounts.save(moved, account.version))
        except (Refused, Conflict):
            pass  # changed meanwhile: tomorrow's run sees it
        return True

    def _unmark(self, marked: Account, reminder: int) -> None:
        unmarked = replace(marked, reminders_sent=[d for d in marked.reminders_sent
                                                   if d != reminder],
                           version=marked.version + 1)
        try:
            self.uow.write(self.accounts.save(unmarked, marked.version))
        except Refused:
            pass
