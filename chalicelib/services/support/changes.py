"""What support does to one account (SPEC 9): create, disable, enable, set a number, unlock.

Every change is one transaction holding its own audit record, conditioned on what was read
(the account's version): when someone changed the same items first, it is read and built
again (`retrying`). Unlocking starts new failure counters (adapters/limits.py `unlock`).
"""
from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from chalicelib.adapters.limits import LOGIN_FAILURES, WRONG_CODES
from chalicelib.domain import phone as phones, policy
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.errors import AccountExists, PasswordRejected, ServiceUnavailable
from chalicelib.domain.events import SUPPORT
from chalicelib.ports import Clock, Conflict, Hasher, Refused
from chalicelib.services.support.state import existing
from chalicelib.services.unit_of_work import retrying

if TYPE_CHECKING:
    from chalicelib.adapters.accounts import Accounts
    from chalicelib.adapters.audit import Audit
    from chalicelib.adapters.limits import Limits
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

GENERATED_ALPHABET = string.ascii_letters + string.digits + "!#%+-.:=?_"

# What unlock clears: (name of the write, subject, what a lock is called, what failures are).
UNLOCKED = (("login failures", LOGIN_FAILURES, "login_lock", "login_failures"),
            ("wrong codes", WRONG_CODES, "reset_pause", "wrong_codes"))


@dataclass(frozen=True)
class Unlocked:
    account: Account
    cleared: list[str]  # login_lock, login_failures, reset_pause, wrong_codes


# A change of an account as read: (the changed account, the audit record's details), or
# None when there is nothing to change.
Change = Callable[[Account], "tuple[Account, dict] | None"]


@dataclass(frozen=True, kw_only=True)
class AccountChanges:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    limits: Limits
    audit: Audit
    notifications: Notifications
    hasher: Callable[[], Hasher]  # built on first use (argon2 and the pepper)

    # -- creating --------------------------------------------------------------------------

    def generate_password(self, username: str) -> str:
        rules = self.settings.policy
        length = max(16, rules.min_length)
        while True:
            candidate = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))
            if not policy.violations(candidate, username, rules):
                return candidate

    def create(self, raw_username, password: str, raw_phone: str | None = None) -> Account:
        username = normalise_username(raw_username)
        number = (phones.parse(raw_phone, self.settings.allowed_countries)
                  if raw_phone else None)
        broken = policy.violations(password, username, self.settings.policy)
        if broken:
            raise PasswordRejected(broken)
        return self.insert(username, password, number)

    def insert(self, username: str, password: str, number: str | None, **details) -> Account:
        """Store a new account (`username` already normalised, `password` already judged),
        with its `account.created` record; AccountExists if the username is taken."""
        hasher = self.hasher()
        salt = secrets.token_bytes(16)
        now = self.clock.now()
        account = Account(
            username=username, password_hash=hasher.hash(password), history_salt=salt.hex(),
            history=[hasher.fingerprint(password, salt)], password_changed_at=now,
            password_expires_at=now + timedelta(days=self.settings.policy.max_age_days),
            created_at=now, phone=number)
        tx = self.uow.begin()
        tx.add("account", self.accounts.create(account))
        tx.record(self.audit.record("account.created", username, "success", SUPPORT,
                                     phone=number, **details))
        try:
            tx.commit()
        except Refused as refused:
            if refused.by == "account":
                raise AccountExists() from None
            raise ServiceUnavailable() from refused
        except Conflict as conflict:  # never retried: the password is hashed once
            raise ServiceUnavailable() from conflict
        return account

    # -- changing --------------------------------------------------------------------------

    def disable(self, raw_username) -> tuple[Account, bool]:
        """Disable an account and end its pwreg sessions (and any number change they had
        started): sessions carry the account's session epoch, which this bumps. Logins, codes
        and resets then fail as for a wrong password. (account, False) if already disabled."""
        def disabled(account: Account):
            if account.disabled:
                return None
            return replace(account, disabled=True,
                           session_epoch=account.session_epoch + 1), {}
        before, after = self._change(raw_username, "account.disabled", disabled)
        return after or before, after is not None

    def enable(self, raw_username) -> tuple[Account, bool]:
        """(account, False) if it was not disabled."""
        def enabled(account: Account):
            return (replace(account, disabled=False), {}) if account.disabled else None
        before, after = self._change(raw_username, "account.enabled", enabled)
        return after or before, after is not None

    def set_phone(self, raw_username, raw_phone: str) -> Account:
        number = phones.parse(raw_phone, self.settings.allowed_countries)
        now = self.clock.now()
        before, after = self._change(raw_username, "phone.set_by_support", lambda account: (
            replace(account, phone=number),
            {"phone": number, "previous": phones.masked(account.phone) or "-"}))
        if after is not None:  # SPEC 7: the number that was replaced hears of it
            self.notifications.phone_changed(after.username, before.phone, number, now,
                                              after.lang, SUPPORT)
        return after

    def _change(self, raw_username, event: str, change: Change
                ) -> tuple[Account, Account | None]:
        """Apply `change` to the account as read, with its audit record, in one transaction
        conditioned on the version read; read again and retry when someone changed it first.
        Answers (before, after); after is None when there was nothing to change."""
        username = normalise_username(raw_username)

        def attempt(_):
            account = existing(self.accounts, username)
            changed = change(account)
            if changed is None:
                return account, None
            updated, details = changed
            updated = replace(updated, version=account.version + 1)
            tx = self.uow.begin()
            tx.add("account", self.accounts.save(updated, account.version))
            tx.record(self.audit.record(event, username, "success", SUPPORT, **details))
            tx.commit()
            return account, updated

        return retrying(attempt, retryable=lambda refused: refused.by == "account")

    # -- unlocking -------------------------------------------------------------------------

    def unlock(self, raw_username) -> Unlocked:
        """Clear the account's pwreg login lock and its reset pause, and forget the failures
        counting toward them, so the holder starts afresh (after support has checked who they
        are). The SMS limits are left alone: they protect the service's SMS budget and clear
        themselves. Nothing to clear: no write, no audit record."""
        username = normalise_username(raw_username)
        names = {name for name, *_ in UNLOCKED}

        def attempt(_):
            account = existing(self.accounts, username)
            now = self.clock.now().timestamp()
            locks = self.uow.read(*(self.limits.lock_read(subject, username)
                                     for _, subject, _, _ in UNLOCKED))
            tx = self.uow.begin()
            cleared = []
            for (name, subject, locked, counted), lock in zip(UNLOCKED, locks):
                if lock.locked_somewhere(now) or self.limits.counted(subject, lock, now):
                    cleared.append(locked if lock.locked_somewhere(now) else counted)
                    # Every network's failures with it: they live in the same item.
                    for n, clear in enumerate(self.limits.unlock(subject, username)):
                        tx.add(f"{name} {n}", clear)
            if not cleared:
                return Unlocked(account, [])
            tx.record(self.audit.record("account.unlocked", username, "success", SUPPORT,
                                         cleared=cleared))
            tx.commit()
            return Unlocked(account, cleared)

        return retrying(attempt, retryable=lambda refused: refused.by in names)
