"""Unlock without a new password (SPEC 16): pwreset's other way out once the holder is proven.

A shared mailbox lives on several phones; after a change one of them keeps trying the old
password, and the directory locks the account for everyone (AD's `lockoutTime`, OpenLDAP
ppolicy's `pwdAccountLockedTime`). The holder proves themselves exactly as for a reset (a
code: the reset token of `reset/verify`), and the service account lifts the lock, the
password untouched.

- `locked`: `reset/verify`'s `directory_locked`, asked only once the code was right, so that
  only a proven holder learns it. A directory that cannot answer then says "not locked"
  (`directory.failed`, step `locked`): the token is already given, and the holder can still
  change the password.
- `unlock`: the token as the completion takes it (`completion.usable_token`: live, its holder
  still one, the same app); the directory lifts the lock; then, in one transaction, the token
  used (single use: a second unlock or a `complete` with it is 410), the holder's last use
  (SPEC 11) and `account.unlocked` by the holder (`cleared: ["directory"]`, or outcome
  `not_locked` when there was nothing to lift); then every holder is told by SMS. The
  directory failing is 503 `service_unavailable` with `directory.failed` (step `unlock`),
  the token kept for another try. The directory is asked before the token is used, so that
  its failure never costs the holder their code; a lock two parallel requests with one token
  both lift is lifted once, and recorded even by the one whose token use lost.

In `portal` mode no directory holds the password and nothing locks: `NoDirectory` says so,
and the unlock answers as for an account that was not locked. Which one is given is
bootstrap.py's choice; nothing here asks which mode it is.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.domain.errors import DirectoryUnavailable, InvalidRequest, TokenExpired
from chalicelib.domain.events import Caller
from chalicelib.domain.records import ResetToken
from chalicelib.ports import ACCOUNT_WRITE, Clock, DirectoryLocks, DirectoryState, Refused
from chalicelib.services.completion import usable_token
from chalicelib.services.holder_fields import acting_as
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.records import Records
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork

# the names of an unlock's writes, as a refusal names them (the account's: ports.ACCOUNT_WRITE)
TOKEN = "token"
CLEARED = "directory"  # what `account.unlocked` says was cleared (support's: the portal's locks)


class NoDirectory:
    """The DirectoryLocks of `portal` mode: the password lives in the portal, whose own locks
    are support's to lift (services/support/changes.py); no directory locks anything."""

    def locked(self, username: str, now: datetime) -> bool:
        return False

    def state(self, username: str, now: datetime) -> DirectoryState | None:
        return None

    def unlock(self, username: str, now: datetime) -> bool:
        return False


@dataclass(frozen=True, kw_only=True)
class DirectoryUnlock:
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    audit: Audit
    notifications: Notifications
    directory: Callable[[], DirectoryLocks]  # built on first use

    def locked(self, username: str, caller: Caller) -> bool:
        """Has the directory locked the account (for a proven holder only: see the module)."""
        try:
            return self.directory().locked(username, self.clock.now())
        except DirectoryUnavailable as failure:
            self._failed(username, "locked", failure, caller)
            return False

    def state(self, username: str) -> DirectoryState | None:
        """The account's entry as the support console shows it: exists, locked; None where
        no directory holds the passwords. DirectoryUnavailable (503) when it cannot answer."""
        return self.directory().state(username, self.clock.now())

    def unlock(self, raw_token: object, caller: Caller) -> dict[str, Any]:
        if not isinstance(raw_token, str) or not raw_token:
            raise InvalidRequest(field="reset_token")
        token_id = ResetToken.id_of(raw_token)
        now = self.clock.now()
        proven = usable_token(self.records, self.accounts, token_id, now.timestamp())
        username = proven.account.username
        try:
            cleared = self.directory().unlock(username, now)
        except DirectoryUnavailable as failure:
            self._failed(username, "unlock", failure, caller)
            raise
        token = proven.token
        unlocked = self.audit.record("account.unlocked", username,
                                     "success" if cleared else "not_locked", caller,
                                     cleared=[CLEARED] if cleared else [],
                                     **acting_as(token.holder_id, token.holder_name,
                                                 token.proven_by))

        def attempt(_: Attempt) -> None:
            at = self.clock.now()
            current = usable_token(self.records, self.accounts, token_id, at.timestamp())
            account = current.account
            # the holder who verified the code used the account now (SPEC 11): one change
            used = replace(account.used_by(token.holder_id, at), version=account.version + 1)
            tx = self.uow.begin()
            tx.add(ACCOUNT_WRITE, self.accounts.save(used, account.version))
            tx.add(TOKEN, self.records.use(current.token, at.timestamp()))
            tx.record(unlocked)
            try:
                tx.commit()
            except Refused as refused:
                if refused.by_any(TOKEN):
                    raise TokenExpired() from None
                raise

        try:
            retrying(attempt, retryable=refused_by(ACCOUNT_WRITE))
        except TokenExpired:
            if cleared:  # lifted all the same, by this request: the trail says so
                self.audit.write_if_possible(unlocked)
            raise
        if cleared:
            account = proven.account
            self.notifications.account_unlocked(
                username, now, caller.lang, caller,
                holders=[holder.phone for holder in account.holders],
                by=token.holder_name if token.holder_id else "support")  # "": no name
        return {"unlocked": True, "username": username}

    def _failed(self, username: str, step: str, failure: DirectoryUnavailable,
                caller: Caller) -> None:
        self.audit.write_if_possible(self.audit.record("directory.failed", username,
                                                       failure.reason, caller, step=step))

