"""What the support desk and the operator do to accounts through the admin CLI (SPEC 9):
create accounts, look at them, set a number after checking identity by phone."""
from __future__ import annotations

import secrets
import string
from dataclasses import replace
from datetime import timedelta

from chalicelib.adapters.dynamo import TransactionCancelled
from chalicelib.domain import phone as phones, policy
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.errors import AccountExists, NotFound, PasswordRejected, ServiceUnavailable
from chalicelib.domain.events import SUPPORT

_GENERATED_ALPHABET = string.ascii_letters + string.digits + "!#%+-.:=?_"


class Support:
    def __init__(self, portal):
        self.p = portal

    def generate_password(self, username: str) -> str:
        length = max(16, self.p.settings.policy.min_length)
        while True:
            candidate = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
            if not policy.violations(candidate, username, self.p.settings.policy):
                return candidate

    def create(self, raw_username: str, password: str, raw_phone: str | None = None) -> Account:
        p, settings = self.p, self.p.settings
        username = normalise_username(raw_username)
        number = phones.parse(raw_phone, settings.allowed_countries) if raw_phone else None
        broken = policy.violations(password, username, settings.policy)
        if broken:
            raise PasswordRejected(broken)
        salt = secrets.token_bytes(16)
        now = p.clock.now()
        account = Account(
            username=username, password_hash=p.hasher.hash(password), history_salt=salt.hex(),
            history=[p.hasher.fingerprint(password, salt)], password_changed_at=now,
            password_expires_at=now + timedelta(days=settings.policy.max_age_days),
            created_at=now, phone=number)
        record = p.audit.record("account.created", username, "success", SUPPORT, phone=number)
        try:
            p.dynamo.transact([p.accounts.create_op(account), p.audit.op(record)])
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise AccountExists() from None
            raise ServiceUnavailable() from cancelled
        p.audit.emit(record)
        return account

    def show(self, raw_username: str) -> Account:
        account = self.p.accounts.get(normalise_username(raw_username))
        if not account:
            raise NotFound()
        return account

    def set_phone(self, raw_username: str, raw_phone: str) -> Account:
        p = self.p
        number = phones.parse(raw_phone, p.settings.allowed_countries)
        account = self.show(raw_username)
        changed = replace(account, phone=number, version=account.version + 1)
        record = p.audit.record("phone.set_by_support", account.username, "success", SUPPORT,
                                phone=number, previous=phones.masked(account.phone) or "-")
        try:
            p.dynamo.transact([p.accounts.save_op(changed, account.version), p.audit.op(record)])
        except TransactionCancelled as cancelled:
            raise ServiceUnavailable() from cancelled
        p.audit.emit(record)
        return changed
