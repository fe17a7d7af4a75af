"""What a flow that sends and checks codes is given (pwreset, pwreg): its parts, by name.

The composition root (bootstrap.py) builds each flow with exactly these; a test builds one
with fakes in their place.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.ports import Clock, Hasher, PasswordStore

if TYPE_CHECKING:
    from chalicelib.adapters.accounts import Accounts
    from chalicelib.adapters.audit import Audit
    from chalicelib.adapters.limits import Limits
    from chalicelib.adapters.records import Records
    from chalicelib.services.code_sms import CodeSms
    from chalicelib.services.directory_changes import DirectoryChanges
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings


@dataclass(frozen=True, kw_only=True)
class CodeFlow:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    code_sms: CodeSms
    notifications: Notifications
    hasher: Callable[[], Hasher]  # built on first use (argon2 and the pepper)
    code_key: Callable[[], bytes]  # read from the secrets on first use
    passwords: Callable[[], PasswordStore]  # where the password lives (SPEC 13)
    directory: DirectoryChanges  # its login check; ldap mode's change and repair

    def now(self) -> float:
        return self.clock.now().timestamp()
