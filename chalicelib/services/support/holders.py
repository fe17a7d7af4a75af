"""What support does to an account's holders (SPEC 9, 11, 12): list, add, remove, remove a
holder's authenticator app, and the migration that turns each version 1 number into one
holder.

Support adds a person after checking them by phone, so the holder is saved at once, added
by `support`. Every change is one write of the account conditioned on the version read
(repositories/accounts.py), holding its audit record: two holders added at the same moment
cannot both take the last place, the loser reads again and is told `too_many_holders`.
Once saved, the change is told by SMS (SPEC 7) to the other holders and to the holder
concerned; a renamed holder (the same number added again) is told nothing, as the numbers
that get codes are unchanged.

An account migrated from version 1 has its number and no holders: any change here first
makes that number a holder without a name, in the same write, as the migration
would.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.domain import holders as holding, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.console import CLI, Acting
from chalicelib.domain.errors import NotFound
from chalicelib.domain.events import SUPPORT
from chalicelib.domain.holders import Holder
from chalicelib.ports import Clock
from chalicelib.services.support.state import existing
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

ACCOUNT = "account"  # the name of the account's write: refused when it changed since read

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings


@dataclass(frozen=True)
class HolderAdded:
    account: Account  # as saved (or as read, when nothing changed)
    holder: Holder
    new: bool  # False: the number was a holder's already, and only the name was updated
    changed: bool  # False: the same number with the same name: nothing was written


@dataclass(frozen=True)
class HolderRemoved:
    account: Account  # as saved
    holder: Holder


@dataclass
class Migration:
    """What `migrate holders` did (or, dry, would do), account by account."""

    migrated: list[str] = field(default_factory=list)  # usernames whose number became a holder
    already: int = 0  # accounts that have holders
    without_number: int = 0  # accounts with neither a number nor holders: nothing to do
    dry_run: bool = False


def _subject(holder: Holder, added: bool = False) -> dict[str, Any]:
    """The audit fields naming the holder an event is about (and, for a new holder, who
    added them)."""
    fields = {"subject_id": holder.id, "subject_name": holder.name}
    return {**fields, "added_by": holder.added_by} if added else fields


@dataclass(frozen=True, kw_only=True)
class HolderChanges:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    audit: Audit
    notifications: Notifications

    def holders(self, raw_username: str) -> Account:
        """The account, whose `holders` support lists (NotFound if there is none)."""
        return existing(self.accounts, raw_username)

    def add(self, raw_username: str, raw_name: str, raw_phone: str, acting: Acting = CLI
            ) -> HolderAdded:
        """Add the person `raw_name` at `raw_phone`, whom support has checked by phone; the
        same number again updates that holder's name. InvalidName, InvalidPhone,
        PhoneNotAllowed, TooManyHolders or NotFound change nothing."""
        username = normalise_username(raw_username)
        name = holding.normalise_name(raw_name, self.settings.reserved_names)
        number = phones.parse(raw_phone, self.settings.allowed_countries)

        def attempt(_: Attempt) -> HolderAdded:
            account = existing(self.accounts, username)
            now = self.clock.now()
            before, records = self._migrated(account, now)
            added = holding.add(before, name, number, now, holding.SUPPORT,
                                self.settings.max_holders)
            if not added.new and added.previous_name == name and not records:
                return HolderAdded(account, added.holder, new=False, changed=False)
            updated = account.with_holders(added.holders)
            records.append(self.audit.record(
                "holder.added", username, "success" if added.new else "renamed", acting.caller,
                phone=number, **_subject(added.holder, added=added.new),
                previous_name=None if added.new else added.previous_name, **acting.fields))
            self._save(account, updated, records)
            return HolderAdded(updated, added.holder, new=added.new, changed=True)

        done = retrying(attempt, retryable=refused_by(ACCOUNT))
        if done.new:
            self.notifications.holder_changed(
                "added", username, done.holder, [h.phone for h in done.account.holders],
                self.clock.now(), done.account.lang, acting.by, acting.caller)
        return done

    def remove(self, raw_username: str, holder_id: str, acting: Acting = CLI
               ) -> HolderRemoved:
        """Remove the holder `holder_id`; NotFound(holder_id=…) if the account has none such.
        Removing needs no code (SPEC 11); it is told to the removed holder and the others."""
        username = normalise_username(raw_username)

        def attempt(_: Attempt) -> HolderRemoved:
            account = existing(self.accounts, username)
            before, records = self._migrated(account, self.clock.now())
            try:
                rest, gone = holding.remove(before, holder_id)
            except NotFound:
                raise NotFound(holder_id=holder_id) from None
            updated = account.with_holders(rest)
            records.append(self.audit.record("holder.removed", username, "success",
                                             acting.caller, phone=gone.phone,
                                             **_subject(gone), **acting.fields))
            self._save(account, updated, records)
            return HolderRemoved(updated, gone)

        done = retrying(attempt, retryable=refused_by(ACCOUNT))
        self.notifications.holder_changed(
            "removed", username, done.holder,
            [h.phone for h in done.account.holders] + [done.holder.phone],
            self.clock.now(), done.account.lang, acting.by, acting.caller)
        return done

    def remove_app(self, raw_username: str, holder_id: str, acting: Acting = CLI
                   ) -> HolderRemoved:
        """Remove the authenticator app of the holder `holder_id` (SPEC 9, 12: a lost
        phone), so that its codes are accepted no longer; told to that holder by SMS.
        NotFound if there is no such account, NotFound(holder_id=…) if it has no such
        holder, NotFound(holder_id=…, without_app=True) if that holder has no app."""
        username = normalise_username(raw_username)

        def attempt(_: Attempt) -> HolderRemoved:
            account = existing(self.accounts, username)
            holder = account.holder(holder_id)
            if holder is None:
                raise NotFound(holder_id=holder_id)
            if holder.authenticator is None:
                raise NotFound(holder_id=holder_id, without_app=True)
            updated = account.with_holders(
                [holder.without_app() if h.id == holder.id else h for h in account.holders])
            self._save(account, updated, [self.audit.record(
                "authenticator.removed", username, "success", acting.caller,
                **_subject(holder), **acting.fields)])
            return HolderRemoved(updated, holder)

        done = retrying(attempt, retryable=refused_by(ACCOUNT))
        self.notifications.authenticator_changed(
            "removed", username, done.holder, self.clock.now(), done.account.lang, acting.by,
            acting.caller)
        return done

    def migrate(self, dry_run: bool = False) -> Migration:
        """Each version 1 account's number becomes one holder without a name,
        added by support (SPEC 9). Idempotent and resumable: an account with holders is left
        alone, each account is its own conditional write, and one that changed meanwhile is
        read again. A dry run writes nothing and counts what it would do. Nobody is told:
        nothing changes for the people who hold the accounts."""
        result = Migration(dry_run=dry_run)
        for item in sorted(self.accounts.all(), key=lambda item: item["username"]):
            account = Account.from_item(item)
            if account.holders:
                result.already += 1
            elif not account.version_1_number:
                result.without_number += 1
            elif dry_run:
                result.migrated.append(account.username)
            elif self._migrate_one(account.username):
                result.migrated.append(account.username)
            else:
                result.already += 1
        return result

    # -- inside ----------------------------------------------------------------------------

    def _migrate_one(self, username: str) -> bool:
        def attempt(_: Attempt) -> bool:
            account = self.accounts.get(username)
            if account is None or account.holders or not account.version_1_number:
                return False  # removed, migrated or changed by someone else meanwhile
            before, records = self._migrated(account, self.clock.now())
            self._save(account, account.with_holders(before), records)
            return True
        return retrying(attempt, retryable=refused_by(ACCOUNT))

    def _migrated(self, account: Account, now: datetime
                  ) -> tuple[list[Holder], list[dict[str, Any]]]:
        """The account's holders, a version 1 number made a holder without a name
        first; and the audit record of that, if it happened."""
        if account.holders or not account.version_1_number:
            return account.holders, []
        holder = holding.migrated(account.version_1_number, now)
        return [holder], [self.audit.record("holder.added", account.username, "migrated",
                                            SUPPORT, phone=holder.phone,
                                            **_subject(holder, added=True))]

    def _save(self, read: Account, updated: Account, records: list[dict[str, Any]]) -> None:
        tx = self.uow.begin()
        tx.add(ACCOUNT, self.accounts.save(updated, read.version))
        tx.record(*records)
        tx.commit()

