"""What a flow that sends and checks codes is given (pwreset, pwreg): its parts, by name.

The composition root (bootstrap.py) builds each flow with exactly these; a test builds one
with fakes in their place.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.errors import CodeExpired, InvalidRequest, InvalidSession
from chalicelib.domain.events import Caller
from chalicelib.ports import Clock, Conflict, Hasher, PasswordChange, Refused

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.code_sms import CodeSms
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
    authenticator_key: Callable[[], bytes]  # what apps' secrets derive from (SPEC 12)
    password_change: PasswordChange  # where the password lives (SPEC 13): the login's check

    def now(self) -> float:
        return self.clock.now().timestamp()

    def spend_session_code(self, kind, session_secret, raw_code,
                           refused: Callable[[dict | None, float, int], None]):
        """pwreg's code steps kept by the session (a new holder's number, an app's first
        code, both `kind`s of domain/records.py): one attempt spent on the session's record
        before the code is compared, whatever runs in parallel. Returns `(record, code,
        now)`, the code as typed without spaces around it. No session string: 401; a code
        that is no text: 400 `invalid_request`; a record used, expired, replaced or out of
        attempts: `refused(item as it was or None, now, max_attempts)` (which may raise its
        own answer), else 410 `code_expired`; a record whose session ended meanwhile: 401."""
        if not isinstance(session_secret, str) or not session_secret:
            raise InvalidSession()
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        max_attempts = self.settings.code.max_attempts
        now = self.now()
        try:
            record = self.records.spend_attempt(kind, kind.id_of(session_secret), now,
                                                max_attempts)
        except Refused as refusal:
            refused(refusal.item, now, max_attempts)
            raise CodeExpired() from None
        if record is None:
            raise CodeExpired()
        if not record.session_live(now):
            raise InvalidSession()
        return record, raw_code.strip(), now

    def note_refusal(self, limit: str, username: str | None, caller: Caller, window: int,
                     who: str = "", ip: str | None = None, outcome: str = "refused") -> None:
        """Record `ratelimit.exceeded` for a refused request, once per subject (`who`, and the
        client network if `ip`) and window: a flood of refused requests cannot grow the audit
        table (SPEC 5 v2). Every refusal is still logged (the log line, not the table)."""
        record = self.audit.record("ratelimit.exceeded", username, outcome, caller,
                                   limit=limit)
        tx = self.uow.begin()
        tx.add("first", self.limits.first_refusal(limit, who or (username or ""), window,
                                                  self.now(), ip=ip))
        tx.record(record)
        try:
            tx.commit()
        except (Refused, Conflict):  # in the table already for this window: log it only
            self.audit.emit(record)
