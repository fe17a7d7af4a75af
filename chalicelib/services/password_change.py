"""Where the password lives, `portal` mode (SPEC 13, the default): the PasswordChange of
chalicelib/ports.py over the account's own argon2 verifier (adapters/passwords.py).

The login compares with the account's verifier (no account: the same work on a dummy
hash, never accepted). A reset's new verifier is written with the account, in one
transaction with the token spent, the pwreg login lock lifted and `password.changed`;
then every holder is told. A new account gets the verifier of the password it was given.
The `ldap` mode's PasswordChange is services/directory_changes.py; bootstrap.py picks one.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain import policy
from chalicelib.domain.account import Account, FirstPassword
from chalicelib.domain.errors import PasswordRejected, TokenExpired
from chalicelib.domain.events import SUPPORT, Caller
from chalicelib.domain.limits import LOGIN_FAILURES
from chalicelib.domain.records import ResetToken
from chalicelib.ports import ACCOUNT_WRITE, Clock, Hasher, Refused
from chalicelib.services.breach_check import BreachCheck
from chalicelib.services.holder_fields import acting_as

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

# the names of a change's writes, as a refusal names them (the account's: ports.ACCOUNT_WRITE)
TOKEN, LOGIN_LOCK = "token", "login lock"



@dataclass(frozen=True, kw_only=True)
class PortalPasswordChange:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    notifications: Notifications
    hasher: Callable[[], Hasher]  # built on first use (argon2 and the pepper)
    breach_check: BreachCheck  # a new account's password too, given or generated (SPEC 16)

    def check(self, account: Account | None, username: str, password: str,
              caller: Caller) -> bool:
        if account is None:
            return self.hasher().verify_nothing(password)
        return self.hasher().verify(account.password_hash, password)

    def change(self, account: Account, token: ResetToken, password: str, fingerprint: str,
               caller: Caller) -> Account:
        moment = self.clock.now()
        rules = self.settings.policy
        # the holder who verified the code used the account now (SPEC 11)
        used = account.used_by(token.holder_id, moment)
        changed = replace(used.with_password(self.hasher().hash(password), fingerprint,
                                             rules.history, moment, rules.max_age_days),
                          lang=caller.lang, version=account.version + 1)  # one change
        username = account.username
        tx = self.uow.begin()
        tx.add(ACCOUNT_WRITE, self.accounts.save(changed, account.version))
        tx.add(TOKEN, self.records.use(token, moment.timestamp()))
        tx.add_group(LOGIN_LOCK, self.limits.unlock(LOGIN_FAILURES, username))
        tx.record(self.audit.record("password.changed", username, "success", caller,
                                     via="reset",
                                     **acting_as(token.holder_id, token.holder_name,
                                               token.proven_by)))
        try:
            tx.commit()
        except Refused as refused:
            if refused.by_any(TOKEN):
                raise TokenExpired() from None
            raise
        self.notifications.password_changed(
            username, changed.password_changed_at, caller.lang, caller,
            holders=[h.phone for h in changed.holders],
            by=token.holder_name if token.holder_id else "support")  # "": no name
        return changed

    def first(self, username: str, password: Callable[[], str], now: datetime
              ) -> FirstPassword:
        given = password()
        rules = self.settings.policy
        broken = policy.violations(given, username, rules)
        if self.breach_check.breached(given, broken, username, SUPPORT):
            broken = policy.violations(given, username, rules, breached=True)
        if broken:
            raise PasswordRejected(broken)
        hasher = self.hasher()
        salt = secrets.token_bytes(16)
        return FirstPassword(password_hash=hasher.hash(given), history_salt=salt.hex(),
                             history=[hasher.fingerprint(given, salt)],
                             changed_at=now, given=given)

    def can_hold(self, username: str) -> bool:
        return True

    def set_later(self, account: Account) -> datetime | None:
        return None  # nobody sets it but the portal

    def settle_left_behind(self) -> dict[str, int]:
        return {}  # no change is ever half way: the account's own write is the change
