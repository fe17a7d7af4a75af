"""What the support desk and the operator do to accounts through the admin CLI (SPEC 9).

Create and import accounts, list them (all, or those whose password expires soon), look at
one account's state and audit trail, disable, enable and unlock an account, set a number
after checking identity by phone, and summarise the audit trail of a period.

`Support` is the one face the CLI (chalicelib/admin.py) sees; the use cases live beside it:

- changes.py: create, disable, enable, set_phone, unlock, generate_password;
- imports.py: an account list in CSV, checked whole, then imported;
- report.py: what the report counts (REPORT_COUNTS) and the report;
- state.py: AccountState, and show/state/events/list_accounts/expiring;
- holders.py: an account's holders: list, add, remove, remove one's authenticator app,
  and the migration from version 1;
- monthly.py: one account's events of one month, with who did each (`report --account`).

Every change is one transaction that holds its own audit record and is conditioned on what
was read; a concurrent change makes it read again and retry. Answers are plain values
(AccountState, Report, ImportResult) that the CLI lays out; nothing here prints.
"""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.account import Account
from chalicelib.services.support.changes import AccountChanges, Unlocked
from chalicelib.services.support.holders import (HolderAdded, HolderChanges, HolderRemoved,
                                                 Migration)
from chalicelib.services.support.monthly import MonthlyLog, MonthlyReports
from chalicelib.services.support.imports import (ImportProblem, ImportResult, Imported,
                                                 Imports)
from chalicelib.services.support.report import (REPORT_COUNTS, Report, Reports,
                                                expiring_window)
from chalicelib.services.support.state import AccountState, AccountStates

__all__ = ["AccountState", "HolderAdded", "HolderRemoved", "ImportProblem", "Migration",
           "MonthlyLog", "ImportResult", "Imported", "REPORT_COUNTS",
           "Report", "Support", "Unlocked", "expiring_window"]


class Support:
    def __init__(self, *, settings, clock, uow, accounts, limits, audit, notifications,
                 hasher, passwords):
        """`hasher` and `passwords` are zero-argument callables returning the Hasher and the
        PasswordStore, built on first use."""
        self.states = AccountStates(clock=clock, uow=uow, accounts=accounts, limits=limits,
                                    audit=audit)
        self.changes = AccountChanges(settings=settings, clock=clock, uow=uow,
                                      accounts=accounts, limits=limits, audit=audit,
                                      notifications=notifications, hasher=hasher,
                                      passwords=passwords)
        self.imports = Imports(settings=settings, accounts=accounts, changes=self.changes)
        self.reports = Reports(settings=settings, clock=clock, accounts=accounts, audit=audit,
                               states=self.states)
        self.holder_changes = HolderChanges(settings=settings, clock=clock, uow=uow,
                                            accounts=accounts, audit=audit,
                                            notifications=notifications)
        self.monthly = MonthlyReports(accounts=accounts, audit=audit)

    # -- creating and importing ------------------------------------------------------------

    def generate_password(self, username: str) -> str:
        return self.changes.generate_password(username)

    @property
    def in_directory(self) -> bool:
        """`ldap` mode (SPEC 13): accounts link directory entries and have no password here."""
        return self.changes.in_directory

    def create(self, raw_username, password: str | None, raw_phone: str | None = None,
               raw_name: str | None = None) -> Account:
        return self.changes.create(raw_username, password, raw_phone, raw_name)

    def check_import(self, csv_text: str) -> list[tuple[int, str, str | None]]:
        return self.imports.check_import(csv_text)

    def import_accounts(self, csv_text: str) -> ImportResult:
        return self.imports.import_accounts(csv_text)

    # -- looking at accounts ---------------------------------------------------------------

    def show(self, raw_username) -> Account:
        return self.states.show(raw_username)

    def state(self, raw_username) -> AccountState:
        return self.states.state(raw_username)

    def events(self, raw_username, limit: int = 50) -> tuple[AccountState, list[dict]]:
        return self.states.events(raw_username, limit=limit)

    def list_accounts(self) -> list[AccountState]:
        return self.states.list_accounts()

    def expiring(self, days: int) -> list[AccountState]:
        return self.states.expiring(days)

    # -- changing accounts -----------------------------------------------------------------

    def disable(self, raw_username) -> tuple[Account, bool]:
        return self.changes.disable(raw_username)

    def enable(self, raw_username) -> tuple[Account, bool]:
        return self.changes.enable(raw_username)

    def set_phone(self, raw_username, raw_phone: str, raw_name: str | None = None) -> Account:
        return self.changes.set_phone(raw_username, raw_phone, raw_name)

    def unlock(self, raw_username) -> Unlocked:
        return self.changes.unlock(raw_username)

    # -- the report ------------------------------------------------------------------------

    def report(self, period: timedelta) -> Report:
        return self.reports.report(period)

    # -- holders (SPEC 11) -----------------------------------------------------------------

    def holders(self, raw_username) -> Account:
        return self.holder_changes.holders(raw_username)

    def add_holder(self, raw_username, raw_name, raw_phone) -> HolderAdded:
        return self.holder_changes.add(raw_username, raw_name, raw_phone)

    def remove_holder(self, raw_username, holder_id: str) -> HolderRemoved:
        return self.holder_changes.remove(raw_username, holder_id)

    def remove_authenticator(self, raw_username, holder_id: str) -> HolderRemoved:
        """`authenticator remove` (SPEC 9, 12): the holder keeps their place, without app."""
        return self.holder_changes.remove_app(raw_username, holder_id)

    def migrate_holders(self, dry_run: bool = False) -> Migration:
        return self.holder_changes.migrate(dry_run=dry_run)

    def monthly_log(self, raw_username, year: int, month: int) -> MonthlyLog:
        return self.monthly.log(raw_username, year, month)
