"""What support does to one account (SPEC 9): create, disable, enable, set a number, unlock.

Every change is one transaction holding its own audit record, conditioned on what was read
(the account's version): when someone changed the same items first, it is read and built
again (`retrying`). Unlocking starts new failure counters (repositories/limits.py `unlock`).
"""
from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.limits import LOGIN_FAILURES, WRONG_CODES
from chalicelib.domain import holders as holding, phone as phones, policy
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.console import CLI, Acting
from chalicelib.domain.errors import AccountExists, DirectoryUnavailable, ServiceUnavailable
from chalicelib.domain.events import SUPPORT
from chalicelib.ports import Clock, Conflict, DirectoryLocks, PasswordChange, Refused
from chalicelib.services.support.state import existing
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

GENERATED_ALPHABET = string.ascii_letters + string.digits + "!#%+-.:=?_"

# The names of a change's writes (and of unlock's reads): how a refusal says which it was.
ACCOUNT = "account"
LOGIN_LOCK, CODES_PAUSE = "login_lock", "codes_pause"
DIRECTORY = "directory"  # what `cleared` says of the directory's own lockout (SPEC 16)

# What unlock clears: (name of the group, subject, what a lock is called, what failures are).
UNLOCKED = ((LOGIN_LOCK, LOGIN_FAILURES, "login_lock", "login_failures"),
            (CODES_PAUSE, WRONG_CODES, "reset_pause", "wrong_codes"))


@dataclass(frozen=True)
class Unlocked:
    account: Account
    cleared: list[str]  # directory, login_lock, login_failures, reset_pause, wrong_codes


def first_number(account: Account) -> str | None:
    """The number first in line on the account: its first holder's, or a version 1 account's
    one number."""
    return account.holders[0].phone if account.holders else account.version_1_number


# A change of an account as read: (the changed account, the audit record's details), or
# None when there is nothing to change.
Change = Callable[[Account], "tuple[Account, dict[str, Any]] | None"]


@dataclass(frozen=True, kw_only=True)
class AccountChanges:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    limits: Limits
    audit: Audit
    notifications: Notifications
    password_change: PasswordChange  # where the password lives (SPEC 13)
    directory: Callable[[], DirectoryLocks]  # its lockouts (SPEC 16), built on first use

    # -- creating --------------------------------------------------------------------------

    def generate_password(self, username: str) -> str:
        rules = self.settings.policy
        length = max(16, rules.min_length)
        while True:
            candidate = "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))
            if not policy.violations(candidate, username, rules):
                return candidate

    def create(self, raw_username: str, password: str | Callable[[], str] | None,
               raw_phone: str | None = None, raw_name: str | None = None) -> Account:
        """A new account; with a number, its first holder (SPEC 9): named `raw_name`, or
        without a name (MIGRATED_NAME) when support gives none. Its password is `password` (or what
        `password()` answers, asked only where the portal keeps it), judged by the policy;
        where the directory keeps it (SPEC 13), the link to the existing entry, whose
        password is never set nor asked for."""
        username = normalise_username(raw_username)
        number = (phones.parse(raw_phone, self.settings.allowed_countries)
                  if raw_phone else None)
        name = holding.normalise_name(raw_name, self.settings.reserved_names) \
            if raw_name is not None else None
        def given() -> str:
            if password is None:  # only a directory's account may come without one
                raise ValueError("a password is needed where the portal keeps it")
            return password if isinstance(password, str) else password()

        account, _ = self._create(username, given, number, name, {})
        return account

    def imported(self, username: str, number: str | None) -> tuple[Account, str | None]:
        """An account of an import file (`username` and `number` checked already), with a
        generated password where the portal keeps it; (account, that password or None).
        AccountExists if the username is taken."""
        return self._create(username, lambda: self.generate_password(username), number, None,
                            {"source": "import"}, handover=True)

    def can_hold(self, username: str) -> bool:
        """Whether an account can be made for `username` where the password lives."""
        return self.password_change.can_hold(username)

    def _create(self, username: str, password: Callable[[], str], number: str | None,
                holder_name: str | None, details: dict[str, Any], handover: bool = False
                ) -> tuple[Account, str | None]:
        now = self.clock.now()
        first = self.password_change.first(username, password, now)
        account = Account(
            username=username, password_hash=first.password_hash,
            history_salt=first.history_salt, history=first.history,
            password_changed_at=first.changed_at,
            password_expires_at=first.changed_at + timedelta(
                days=self.settings.policy.max_age_days),
            created_at=now, holders=self._holders(number, holder_name, now))
        details = {**first.details, **details}
        if handover and first.given is not None:  # how its holder learns the password
            details["handover"] = "pwreset" if number else "printed_once"
        return self._add(account, number, details), first.given

    def _holders(self, number: str | None, holder_name: str | None, now: datetime
                 ) -> list[holding.Holder]:
        return ([holding.Holder(id=holding.new_id(),
                                name=holder_name or holding.MIGRATED_NAME, phone=number,
                                added_at=now, added_by=holding.SUPPORT)]
                if number else [])

    def _add(self, account: Account, number: str | None, details: dict[str, Any]
             ) -> Account:
        username, holders = account.username, account.holders
        tx = self.uow.begin()
        tx.add(ACCOUNT, self.accounts.create(account))
        tx.record(self.audit.record("account.created", username, "success", SUPPORT,
                                     phone=number, **details))
        if holders:
            tx.record(self.audit.record("holder.added", username, "success", SUPPORT,
                                         phone=number, subject_id=holders[0].id,
                                         subject_name=holders[0].name,
                                         added_by=holders[0].added_by))
        try:
            tx.commit()
        except Refused as refused:
            if refused.by_any(ACCOUNT):
                raise AccountExists() from None
            raise ServiceUnavailable() from refused
        except Conflict as conflict:  # never retried: the password is hashed once
            raise ServiceUnavailable() from conflict
        return account

    # -- changing --------------------------------------------------------------------------

    def disable(self, raw_username: str, acting: Acting = CLI) -> tuple[Account, bool]:
        """Disable an account and end its pwreg sessions (and any number change they had
        started): sessions carry the account's session epoch, which this bumps. Logins, codes
        and resets then fail as for a wrong password. (account, False) if already disabled.
        Every holder is told (SPEC 14)."""
        def disabled(account: Account) -> tuple[Account, dict[str, Any]] | None:
            if account.disabled:
                return None
            return replace(account, disabled=True,
                           session_epoch=account.session_epoch + 1), {}
        before, after = self._change(raw_username, "account.disabled", disabled, acting)
        if after is not None:
            self._tell("disabled", after, acting)
        return after or before, after is not None

    def enable(self, raw_username: str, acting: Acting = CLI) -> tuple[Account, bool]:
        """(account, False) if it was not disabled."""
        def enabled(account: Account) -> tuple[Account, dict[str, Any]] | None:
            return (replace(account, disabled=False), {}) if account.disabled else None
        before, after = self._change(raw_username, "account.enabled", enabled, acting)
        if after is not None:
            self._tell("enabled", after, acting)
        return after or before, after is not None

    def _unlock_directory(self, username: str, acting: Acting) -> bool:
        """Lift the directory's lockout of the account, if it has one (never in `portal`
        mode); DirectoryUnavailable, recorded, when the directory cannot."""
        try:
            return self.directory().unlock(username, self.clock.now())
        except DirectoryUnavailable as failure:
            self.audit.write_if_possible(self.audit.record(
                "directory.failed", username, failure.reason, acting.caller, step="unlock",
                **acting.fields))
            raise

    def _tell(self, change: str, account: Account, acting: Acting) -> None:
        """Every holder hears what support did to the account, and who (SPEC 14)."""
        self.notifications.support_changed(
            change, account.username, [h.phone for h in account.holders], self.clock.now(),
            account.lang, acting.by, acting.caller)

    def set_phone(self, raw_username: str, raw_phone: str, raw_name: str | None = None
                  ) -> Account:
        """A number set after support checked the person by phone (SPEC 9: the adding of one
        holder, named as support gives). The number becomes a holder (or, already one, keeps
        its holder, renamed if a name is given) and the account's first holder; the holders
        before stay (a version 1 number becomes one of them first). The number that was
        first before is told (SPEC 7)."""
        number = phones.parse(raw_phone, self.settings.allowed_countries)
        name = holding.normalise_name(raw_name, self.settings.reserved_names) \
            if raw_name is not None else None
        now = self.clock.now()

        def set_first(account: Account) -> tuple[Account, dict[str, Any]] | None:
            holders = account.holders or ([holding.migrated(account.version_1_number, now)]
                                          if account.version_1_number else [])
            known = next((h for h in holders if h.phone == number), None)
            added = holding.add(holders, name or (known.name if known else
                                                  holding.MIGRATED_NAME),
                                number, now, holding.SUPPORT, self.settings.max_holders)
            ordered = holding.first(added.holders, added.holder.id)
            if ordered == account.holders:
                return None
            return account.with_holders(ordered), {
                "phone": number, "previous": phones.masked(first_number(account)) or "-",
                "subject_id": added.holder.id, "subject_name": added.holder.name}

        before, after = self._change(raw_username, "phone.set_by_support", set_first)
        if after is None:
            return before
        # SPEC 7: the number that was replaced hears of it
        self.notifications.phone_changed(after.username, first_number(before), number, now,
                                         after.lang, SUPPORT)
        return after

    def _change(self, raw_username: str, event: str, change: Change, acting: Acting = CLI
                ) -> tuple[Account, Account | None]:
        """Apply `change` to the account as read, with its audit record, in one transaction
        conditioned on the version read; read again and retry when someone changed it first.
        Answers (before, after); after is None when there was nothing to change."""
        username = normalise_username(raw_username)

        def attempt(_: Attempt) -> tuple[Account, Account | None]:
            account = existing(self.accounts, username)
            changed = change(account)
            if changed is None:
                return account, None
            updated, details = changed
            updated = replace(updated, version=account.version + 1)
            tx = self.uow.begin()
            tx.add(ACCOUNT, self.accounts.save(updated, account.version))
            tx.record(self.audit.record(event, username, "success", acting.caller,
                                         **details, **acting.fields))
            tx.commit()
            return account, updated

        return retrying(attempt, retryable=refused_by(ACCOUNT))

    # -- unlocking -------------------------------------------------------------------------

    def unlock(self, raw_username: str, acting: Acting = CLI) -> Unlocked:
        """Clear the account's lockout in the directory (SPEC 16, `ldap` mode: the password
        untouched), its pwreg login lock and its reset pause, and forget the failures
        counting toward them, so the holder starts afresh (after support has checked who they
        are). The directory first: when it cannot do it (503, `directory.failed`), nothing
        else is changed either, and trying again is safe. The SMS limits are left alone:
        they protect the service's SMS budget and clear themselves. Nothing to clear: no
        write, no audit record."""
        username = normalise_username(raw_username)
        existing(self.accounts, username)
        in_directory = self._unlock_directory(username, acting)

        def attempt(_: Attempt) -> Unlocked:
            account = existing(self.accounts, username)
            now = self.clock.now().timestamp()
            locks = self.uow.read(**{name: self.limits.lock_read(subject, username)
                                     for name, subject, _, _ in UNLOCKED})
            tx = self.uow.begin()
            cleared = [DIRECTORY] if in_directory else []
            for name, subject, locked, counted in UNLOCKED:
                lock = getattr(locks, name)
                if lock.locked_somewhere(now) or self.limits.counted(subject, lock, now):
                    cleared.append(locked if lock.locked_somewhere(now) else counted)
                    # Every network's failures with it: they live in the same item.
                    tx.add_group(name, self.limits.unlock(subject, username))
            if not cleared:
                return Unlocked(account, [])
            tx.record(self.audit.record("account.unlocked", username, "success", acting.caller,
                                         cleared=cleared, **acting.fields))
            tx.commit()
            return Unlocked(account, cleared)

        done = retrying(attempt, retryable=refused_by(LOGIN_LOCK, CODES_PAUSE))
        if done.cleared:
            self._tell("unlocked", done.account, acting)
        return done
