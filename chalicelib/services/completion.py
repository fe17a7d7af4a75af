"""pwreset's last step (SPEC 2, 3, 6, 11, 13): a verified reset token and a new password.

The token must be live and its holder still one of the account's (and, for a code from the
authenticator app, with the same app: the token carries its nonce). The password is judged
by the policy, its history included (its fingerprint under the account's salt), then by
the breach check (SPEC 16, services/breach_check.py), before anything is written; a
rejection is recorded and the token kept. The password store then makes it the account's
(ports.PasswordChange, picked in bootstrap.py: the portal's own verifier, or the directory
with the portal's record): the token spent, the pwreg login lock lifted, `password.changed`
recorded and every holder told. Read again and tried again when the account changed in
between (`retrying`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from chalicelib.domain import policy
from chalicelib.domain.account import Account, in_history
from chalicelib.domain.errors import InvalidRequest, PasswordRejected, TokenExpired
from chalicelib.domain.events import Caller
from chalicelib.domain.records import ResetToken
from chalicelib.ports import ACCOUNT_WRITE, Clock, Hasher, PasswordChange
from chalicelib.services.breach_check import BreachCheck
from chalicelib.services.holder_fields import acting_as
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.records import Records
    from chalicelib.settings import Settings


@dataclass(frozen=True)
class Proven:
    """A live reset token and the account it lets its holder act on."""

    token: ResetToken
    account: Account


def usable_token(records: Records, accounts: Accounts, token_id: str, now: float) -> Proven:
    """The token and its account, if the token is live and its holder still one of the
    account's, with the same app where an app's code gave it; TokenExpired otherwise (also
    when the holder, or the app whose code it was, was removed since). What the completion
    and the directory's unlock (services/directory_unlock.py) both ask of a token."""
    token = records.get(ResetToken, token_id)
    if not token or not token.is_live(now):
        raise TokenExpired()
    account = accounts.get(token.username)
    holder = account.holder(token.holder_id) if account and token.holder_id else None
    if not account or account.disabled or (token.holder_id and holder is None) or (
            token.app_nonce and (holder is None or holder.app_nonce != token.app_nonce)):
        raise TokenExpired()
    return Proven(token, account)


@dataclass(frozen=True, kw_only=True)
class ResetCompletion:
    settings: Settings
    clock: Clock
    accounts: Accounts
    records: Records
    audit: Audit
    hasher: Callable[[], Hasher]  # built on first use: the history's fingerprints
    password_change: PasswordChange
    breach_check: BreachCheck

    def complete(self, raw_token: object, password: object, caller: Caller
                 ) -> dict[str, Any]:
        if not isinstance(raw_token, str) or not raw_token:
            raise InvalidRequest(field="reset_token")
        if not isinstance(password, str):
            raise InvalidRequest(field="password")
        rules = self.settings.policy
        token_id = ResetToken.id_of(raw_token)

        def attempt(_: Attempt) -> Account:
            proven = usable_token(self.records, self.accounts, token_id,
                               self.clock.now().timestamp())
            token, account = proven.token, proven.account
            username = account.username
            broken = policy.violations(password, username, rules)
            if "max_length" in broken:  # never spend argon2 on an oversized password
                self._rejected(username, token, broken, caller)
            fingerprint = self.hasher().fingerprint(password, bytes.fromhex(account.history_salt))
            if in_history(fingerprint, account.history[:rules.history]):
                broken = policy.violations(password, username, rules, reused=True)
            if self.breach_check.breached(password, broken, username, caller):
                broken = policy.violations(password, username, rules, breached=True)
            if broken:
                self._rejected(username, token, broken, caller)
            return self.password_change.change(account, token, password, fingerprint, caller)

        changed = retrying(attempt, retryable=refused_by(ACCOUNT_WRITE))
        return {"changed": True, "username": changed.username}

    def _rejected(self, username: str, token: ResetToken, broken: list[str],
                  caller: Caller) -> NoReturn:
        self.audit.write(self.audit.record("password.rejected", username, "rejected", caller,
                                           rules=broken,
                                           **acting_as(token.holder_id, token.holder_name,
                                                     token.proven_by)))
        raise PasswordRejected(broken)
