"""Where the password lives, `ldap` mode (SPEC 13): the PasswordChange of chalicelib/ports.py
over an LDAP directory (adapters/ldap_directory.py), with the portal's record of each change.
(`portal` mode's is services/password_change.py; bootstrap.py picks one.)

The login is a bind as the entry, once a marker left behind (4.) is dealt with. A new
account links the directory's existing entry and takes the date of its last set; the
reminder job follows a later set made in the directory itself (`set_later`). A reset:

1. a pending marker (`PendingPassword`, domain/records.py) is written, in one transaction
   with a check that the token is still usable; one change at a time per account;
2. the directory sets the password (adapters/ldap_directory.py). It refuses: the marker is
   deleted, `password.rejected` (rule `directory`), 422, the token kept. It fails before
   the request went out, or answers an error: the marker is deleted, `directory.failed`,
   503, nothing changed. Its answer is lost (a timeout or a lost connection after the
   request went out: `DirectoryAnswerLost`): `directory.failed` (`answer_lost`), the
   marker kept, and the directory asked at once with a bind as the entry with the new
   password: it binds, and on to 3.; otherwise ChangeUnconfirmed (503
   `change_unconfirmed`: the outcome is being checked) and 4. settles it;
3. the portal records the change (history fingerprint, expiry, sessions ended, login lock
   lifted, token spent, `password.changed`, the marker deleted: one transaction) through
   `retrying`, where a transaction DynamoDB failed or throttled is tried again as a
   conflicting one is; then the SMS notice. Should every try fail, `directory.failed` with
   outcome `unrecorded` is logged (the `DirectoryUnrecorded` alarm watches it) and the
   answer is still "changed": the directory has the password.
4. The next request for the account (a login, a reset's completion) that finds a marker
   older than a directory call can last asks the directory when the password was last
   set: at or after the marker, the record is completed (as in 3, `via=repair`); before
   it, the directory never took it and the marker is dropped. A directory that does not
   say (no `pwdChangedTime`/`pwdLastSet`) is taken to have taken it: the portal would
   rather know of a change that did not happen than not know of one that did. The daily
   job does the same for every marker still there (`settle_left_behind`), found through
   the challenges table's sparse `by_pending` index: a change whose account nobody uses
   again is still recorded and its holders told.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from chalicelib.domain.account import Account, FirstPassword
from chalicelib.domain.errors import (ChangeUnconfirmed, DirectoryAnswerLost,
                                      DirectoryUnavailable, NoDirectoryEntry, PasswordRejected,
                                      ServiceUnavailable, TokenExpired)
from chalicelib.domain.events import DAILY_JOB, Caller
from chalicelib.domain.limits import LOGIN_FAILURES
from chalicelib.domain.records import PendingPassword, ResetToken
from chalicelib.ports import (ACCOUNT_WRITE, Clock, Conflict, OperationsLog, PasswordStore,
                              Refused)
from chalicelib.services.holder_fields import acting_as
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

CLOCK_SKEW_SECONDS = 5  # between this function's clock and the directory's
REMINDER_SKEW = timedelta(minutes=1)  # a set later than the portal knows, for the reminders
BEGIN_TRIES = 2  # the marker, and again once a marker left behind is repaired

# the names of a change's writes, as a refusal names them (the account's: ports.ACCOUNT_WRITE)
PENDING, TOKEN, LOGIN_LOCK = "pending", "token", "login lock"




@dataclass(frozen=True, kw_only=True)
class DirectoryPasswordChange:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    notifications: Notifications
    log: OperationsLog
    passwords: Callable[[], PasswordStore]  # the directory, built on first use

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
        """A bind as the entry. A username without an account costs the same work and is
        never accepted."""
        # Looked for a marker whether or not the account exists: the same calls either way.
        self.repair(account.username if account is not None else username, caller)
        try:
            return self.passwords().verify(username, account.password_hash if account else None,
                                           password)
        except DirectoryUnavailable as failure:
            self.failed(username, "login", failure, caller)
            raise

    # -- accounts --------------------------------------------------------------------------

    def first(self, username: str, password: Callable[[], str], now: datetime
              ) -> FirstPassword:
        """The link to the directory's entry: no hash, an empty history, and the date the
        directory says it was last set (or now, where it does not say); the password is
        never asked for."""
        store = self.passwords()
        if not store.exists(username):
            raise NoDirectoryEntry()
        return FirstPassword(password_hash="", history_salt=secrets.token_bytes(16).hex(),
                             history=[],
                             changed_at=store.changed_at(username) or now,
                             details={"directory": "linked"})

    def can_hold(self, username: str) -> bool:
        return self.passwords().exists(username)

    def set_later(self, account: Account) -> datetime | None:
        """A set in the directory itself (e.g. at a Windows logon) later than the portal
        knows; a directory that does not answer leaves the portal's dates."""
        try:
            changed_at = self.passwords().changed_at(account.username)
        except DirectoryUnavailable:
            return None
        if changed_at is None or changed_at <= account.password_changed_at + REMINDER_SKEW:
            return None
        return changed_at

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
                                                 **acting_as(token.holder_id,
                                                             token.holder_name,
                                                             token.proven_by)))
            raise
        except DirectoryAnswerLost as lost:
            # Sent, and no answer: the directory may have it. The marker stays.
            self.failed(username, "reset", lost, caller)
            return self._settle_now(account, marker, password, caller)
        except DirectoryUnavailable as failure:
            self._drop(marker)
            self.failed(username, "reset", failure, caller)
            raise
        recorded = self.record(marker, caller, via="reset", account=account)
        return recorded or self._as_recorded(account, marker)

    def _settle_now(self, account: Account, marker: PendingPassword, password: str,
                    caller: Caller) -> Account:
        """A set whose answer was lost: a bind with the new password asks the directory at
        once. It binds: recorded (as in 3.). Anything else — a refusal that may only mean
        the set is still on its way, or no answer again — leaves the marker for the repair
        (4.), and the answer is ChangeUnconfirmed: the outcome is being checked."""
        try:
            took = self.passwords().verify(marker.username, account.password_hash, password)
        except DirectoryUnavailable as failure:
            self.failed(marker.username, "settle", failure, caller)
            took = False
        if not took:
            raise ChangeUnconfirmed()
        recorded = self.record(marker, caller, via="reset", account=account)
        return recorded or self._as_recorded(account, marker)

    def _begin(self, username: str, token: ResetToken, fingerprint: str,
               caller: Caller) -> PendingPassword:
        """Write the pending marker, with the token's claim; a marker an earlier request
        left is repaired first, one still under way is 503."""
        def attempt(try_: Attempt) -> PendingPassword:
            now = self.clock.now().timestamp()
            marker = PendingPassword(id=PendingPassword.id_of(username), username=username,
                                     token_id=token.id, fingerprint=fingerprint,
                                     started_at=now, lang=caller.lang, expires_at=now,
                                     holder_id=token.holder_id,
                                     holder_name=token.holder_name,
                                     holder_proven_by=token.proven_by)
            tx = self.uow.begin()
            tx.add(PENDING, self.records.begin_change(marker))
            tx.add(TOKEN, self.records.changing(token, now))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by_any(TOKEN):
                    raise TokenExpired() from None
                if not try_.last:
                    self.repair(username, caller)  # a marker is there: finish it, then again
                raise
            return marker

        # Still a marker after the repair: another change of this account is under way (503).
        return retrying(attempt, retryable=refused_by(PENDING), tries=BEGIN_TRIES)

    def _drop(self, marker: PendingPassword) -> None:
        try:
            self.uow.write(self.records.end_change(marker))
        except (Refused, ServiceUnavailable):
            pass  # found by the next request: the directory's date then tells

    def _as_recorded(self, account: Account, marker: PendingPassword) -> Account:
        rules = self.settings.policy
        at = datetime.fromtimestamp(marker.started_at, tz=timezone.utc)
        # the holder who verified the code used the account then (SPEC 11), as in portal mode
        return replace(account.used_by(marker.holder_id, at).with_password(
            "", marker.fingerprint, rules.history, at, rules.max_age_days), lang=marker.lang)

    def record(self, marker: PendingPassword, caller: Caller, via: str,
               account: Account | None = None) -> Account | None:
        """Record a change the directory took: the account, the token spent, the login lock
        lifted, the marker gone, `password.changed`; then the SMS notice. None when DynamoDB
        would not take it (logged for the alarm; the marker stays for the repair) or when a
        parallel request recorded it first."""
        username = marker.username
        known = [account]  # the account as the caller read it, for the first try only

        def attempt(_: Attempt) -> Account | None:
            try:
                current = known.pop() if known and known[0] is not None else \
                    self.accounts.get(username)
                known.clear()
                if current is None:
                    return None
                changed = self._as_recorded(current, marker)
                tx = self.uow.begin()
                tx.add(ACCOUNT_WRITE, self.accounts.save(changed, current.version))
                tx.add(TOKEN, self.records.delete(marker.token_id))
                tx.add_group(LOGIN_LOCK, self.limits.unlock(LOGIN_FAILURES, username))
                tx.add(PENDING, self.records.end_change(marker))
                tx.record(self.audit.record("password.changed", username, "success", caller,
                                             via=via, **acting_as(
                                                 marker.holder_id, marker.holder_name,
                                                 marker.holder_proven_by)))
                tx.commit()
            except Refused as refused:
                if refused.by_any(PENDING):
                    return None  # recorded by a parallel request
                raise
            except ServiceUnavailable:
                # DynamoDB failed or throttled the read or the transaction: nothing was
                # written, so it is tried again as a conflicting one is.
                raise Conflict() from None
            return changed

        def unrecorded() -> Account | None:
            # The words the operators' log search looks for, as they always were.
            self.log.error('"alarm": "directory.unrecorded"', username=username)
            self.audit.emit(self.audit.record("directory.failed", username, "unrecorded",
                                                caller, step=via))
            return None

        # Whatever refused it, the directory has the password: tried until the tries run out.
        changed = retrying(attempt, retryable=lambda refused: True, otherwise=unrecorded)
        if changed is not None:
            self.notifications.password_changed(
                username, changed.password_changed_at, marker.lang, caller,
                holders=[h.phone for h in changed.holders],
                by=marker.holder_name if marker.holder_id else "support")  # "": no name
        return changed

    # -- the repair ------------------------------------------------------------------------

    def repair(self, username: str, caller: Caller) -> str:
        """Finish (or drop) a change a request left half way; see the module. Never raises:
        whatever it cannot do now, a later request (or the daily job) does. The outcome:
        `none` (no marker), `under_way` (too young to judge), `unreachable` (left for
        later), `dropped`, `recorded` or `unrecorded` (DynamoDB would not take it)."""
        try:
            marker = self.records.get(PendingPassword, PendingPassword.id_of(username))
        except ServiceUnavailable:
            return "unreachable"
        if marker is None:
            return "none"
        if self.clock.now().timestamp() - marker.started_at < self.in_flight_seconds():
            return "under_way"
        try:
            changed_at = self.passwords().changed_at(username)
        except DirectoryUnavailable as failure:
            self.failed(username, "repair", failure, caller)
            return "unreachable"
        if changed_at is not None and \
                changed_at.timestamp() < marker.started_at - CLOCK_SKEW_SECONDS:
            self._drop(marker)  # the directory never took it
            return "dropped"
        return "recorded" if self.record(marker, caller, via="repair") else "unrecorded"

    def settle_left_behind(self) -> dict[str, int]:
        """The daily job's part (services/reminders.py): every marker still there, found
        through the challenges table's by_pending index, repaired as a request would; a
        marker repaired meanwhile (or twice) is recorded once."""
        try:
            usernames = self.records.left_behind()
        except ServiceUnavailable:
            return {"unreachable": 1}
        counts: dict[str, int] = {}
        for username in usernames:
            outcome = self.repair(username, DAILY_JOB)
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts
