"""Where the password lives, in the use cases (SPEC 13): pwreg's login check, and in `ldap`
mode the change of a password in the directory with its record in the portal.

`portal` mode: the login checks the account's own verifier; a reset writes the new one with
the account (services/reset.py, unchanged). `ldap` mode, a reset:

1. a pending marker (`PendingPassword`, domain/records.py) is written, in one transaction
   with a check that the token is still usable; one change at a time per account;
2. the directory sets the password (adapters/ldap_directory.py). It refuses: the marker is
   deleted, `password.rejected` (rule `directory`), 422, the token kept. It fails: the
   marker is deleted, `directory.failed`, 503, nothing changed;
3. the portal records the change (history fingerprint, expiry, sessions ended, login lock
   cleared, token spent, `password.changed`, the marker deleted: one transaction), retried;
   then the SMS notice. Should DynamoDB still refuse, `directory.failed` with outcome
   `unrecorded` is logged (the `DirectoryUnrecorded` alarm watches it) and the answer is
   still "changed": the directory has the password.
4. The next request for the account (a login, a reset's completion, the reminder job) that
   finds a marker older than a directory call can last asks the directory when the password
   was last set: at or after the marker, the record is completed (as in 3, `via=repair`);
   before it, the directory never took it and the marker is dropped. A directory that does
   not say (no `pwdChangedTime`/`pwdLastSet`) is taken to have taken it: the portal would
   rather know of a change that did not happen than not know of one that did.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from chalicelib.domain.limits import LOGIN_FAILURES
from chalicelib.domain.account import Account
from chalicelib.domain.errors import (DirectoryUnavailable, PasswordRejected,
                                      ServiceUnavailable, TokenExpired)
from chalicelib.domain.events import Caller
from chalicelib.domain.records import PendingPassword, ResetToken
from chalicelib.ports import Clock, Conflict, Delete, PasswordStore, Put, Refused, Update
from chalicelib.domain import conditions as c
from chalicelib.services.unit_of_work import back_off, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

log = logging.getLogger("pwportal.directory")

RECORD_ROUNDS = 3  # rounds of `retrying` (each up to TRIES) before the change is unrecorded
CLOCK_SKEW_SECONDS = 5  # between this function's clock and the directory's


@dataclass(frozen=True, kw_only=True)
class DirectoryChanges:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    notifications: Notifications
    passwords: Callable[[], PasswordStore]  # built on first use

    @property
    def in_directory(self) -> bool:
        return self.passwords().in_directory

    def in_flight_seconds(self) -> float:
        """How long a directory call can take: a marker younger than this may be one that is
        still on its way (search, bind, set: each bounded by the timeout)."""
        return 6 * self.settings.directory.timeout_seconds + CLOCK_SKEW_SECONDS

    def failed(self, username: str, step: str, failure: DirectoryUnavailable,
               caller: Caller) -> None:
        self.audit.write_if_possible(self.audit.record("directory.failed", username,
                                                       failure.reason, caller, step=step))

    # -- login -----------------------------------------------------------------------------

    def check(self, account: Account | None, username: str, password: str,
              caller: Caller) -> bool:
        """pwreg's login check where the password lives. A username without an account costs
        the same work and is never accepted."""
        # Looked for a marker whether or not the account exists: the same calls either way.
        self.repair(account.username if account is not None else username, caller)
        try:
            return self.passwords().verify(username, account.password_hash if account else None,
                                           password)
        except DirectoryUnavailable as failure:
            self.failed(username, "login", failure, caller)
            raise

    # -- a reset's change ------------------------------------------------------------------

    def change(self, account: Account, token: ResetToken, password: str, fingerprint: str,
               caller: Caller) -> Account:
        """Set the password in the directory, then record it (see the module). Answers the
        account as recorded (or as it will be, once repaired)."""
        username = account.username
        marker = self._begin(username, token, fingerprint, caller)
        try:
            self.passwords().set(username, password)
        except PasswordRejected as refused:
            self._drop(marker)
            self.audit.write(self.audit.record("password.rejected", username, "rejected",
                                                 caller, rules=refused.rules,
                                                 holder_id=token.holder_id or None,
                                                 holder_name=token.holder_name or None))
            raise
        except DirectoryUnavailable as failure:
            self._drop(marker)
            self.failed(username, "reset", failure, caller)
            raise
        recorded = self.record(marker, caller, via="reset", account=account)
        return recorded or self._as_recorded(account, marker)

    def _begin(self, username: str, token: ResetToken, fingerprint: str,
               caller: Caller) -> PendingPassword:
        """Write the pending marker, with the token's claim; a marker an earlier request
        left is repaired first, one still under way is 503."""
        for first in (True, False):
            now = self.clock.now().timestamp()
            marker = PendingPassword(id=PendingPassword.id_of(username), username=username,
                                     token_id=token.id, fingerprint=fingerprint,
                                     started_at=now, lang=caller.lang, expires_at=now,
                                     holder_id=token.holder_id,
                                     holder_name=token.holder_name)
            tx = self.uow.begin()
            tx.add("pending", Put(self.records.table, marker.to_item(),
                                  expect=c.Missing("id")))
            # The token still usable, stated on it (an UpdateItem: no grant beyond the
            # flows').
            tx.add("token", Update(self.records.table, {"id": token.id},
                                   set={"changing_since": now}, expect=token.usable(now)))
            try:
                tx.commit()
                return marker
            except Refused as refused:
                if refused.by == "token":
                    raise TokenExpired() from None
                if not first:
                    break
                self.repair(username, caller)  # a marker is there: finish it, then again
            except Conflict:
                break
        raise ServiceUnavailable()  # another change of this account is under way

    def _drop(self, marker: PendingPassword) -> None:
        try:
            self.uow.write(Delete(self.records.table, {"id": marker.id}, expect=marker.same()))
        except (Refused, ServiceUnavailable):
            pass  # found by the next request: the directory's date then tells

    def _as_recorded(self, account: Account, marker: PendingPassword) -> Account:
        rules = self.settings.policy
        at = datetime.fromtimestamp(marker.started_at, tz=timezone.utc)
        return replace(account.with_password("", marker.fingerprint, rules.history, at,
                                             rules.max_age_days), lang=marker.lang)

    def record(self, marker: PendingPassword, caller: Caller, via: str,
               account: Account | None = None) -> Account | None:
        """Record a change the directory took: the account, the token spent, the login lock
        cleared, the marker gone, `password.changed`; then the SMS notice. None when DynamoDB
        would not take it (logged for the alarm; the marker stays for the repair) or when a
        parallel request recorded it first."""
        username = marker.username
        known = [account]  # the account as the caller read it, for the first try only

        def attempt(_):
            account = known.pop() if known and known[0] is not None else \
                self.accounts.get(username)
            known.clear()
            if account is None:
                return None
            changed = self._as_recorded(account, marker)
            tx = self.uow.begin()
            tx.add("account", self.accounts.save(changed, account.version))
            tx.add("token", Delete(self.records.table, {"id": marker.token_id}))
            for n, clear in enumerate(self.limits.unlock(LOGIN_FAILURES, username)):
                tx.add(f"login lock {n}", clear)
            tx.add("pending", Delete(self.records.table, {"id": marker.id},
                                     expect=marker.same()))
            tx.record(self.audit.record("password.changed", username, "success", caller,
                                         via=via, holder_id=marker.holder_id or None,
                                         holder_name=marker.holder_name or None))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by == "pending":
                    return None  # recorded by a parallel request
                raise
            return changed

        for round_ in range(RECORD_ROUNDS):
            try:
                changed = retrying(attempt, retryable=lambda refused: refused.by == "account")
                break
            except ServiceUnavailable:
                back_off(round_ + 3)
        else:
            log.error('{"alarm": "directory.unrecorded", "username": "%s"}', username)
            self.audit.emit(self.audit.record("directory.failed", username, "unrecorded",
                                                caller, step=via))
            return None
        if changed is not None:
            self.notifications.password_changed(
                username, changed.password_changed_at, marker.lang, caller,
                holders=[h.phone for h in changed.holders],
                by=marker.holder_name or "support")
        return changed

    # -- the repair ------------------------------------------------------------------------

    def repair(self, username: str, caller: Caller) -> Account | None:
        """Finish (or drop) a change a request left half way; see the module. Never raises:
        whatever it cannot do now, a later request does."""
        if not self.in_directory:
            return None
        try:
            marker = self.records.get(PendingPassword, PendingPassword.id_of(username))
        except ServiceUnavailable:
            return None
        if marker is None:
            return None
        if self.clock.now().timestamp() - marker.started_at < self.in_flight_seconds():
            return None
        try:
            changed_at = self.passwords().changed_at(username)
        except DirectoryUnavailable as failure:
            self.failed(username, "repair", failure, caller)
            return None
        if changed_at is not None and \
                changed_at.timestamp() < marker.started_at - CLOCK_SKEW_SECONDS:
            self._drop(marker)  # the directory never took it
            return None
        return self.record(marker, caller, via="repair")
