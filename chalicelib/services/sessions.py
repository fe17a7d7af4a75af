"""pwreg's session, as its use cases need it (services/registration.py,
authenticator_enrolment.py): the live session a secret names, the account it still holds,
and a code kept by the session (a new holder's number, an app's first code) spent before it
is compared.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from chalicelib.domain.account import Account
from chalicelib.domain.errors import CodeExpired, InvalidRequest, InvalidSession
from chalicelib.domain.records import AppEnrolment, PhoneChange, Session
from chalicelib.ports import Clock
from chalicelib.repositories.records import NotTriable

if TYPE_CHECKING:
    from chalicelib.repositories.records import Records
    from chalicelib.settings import Settings

R = TypeVar("R", PhoneChange, AppEnrolment)  # the codes a session keeps


def account_of(epoch: int, account: Account | None) -> Account:
    """The session's account, if the session still holds: not disabled, and no password
    change since the login (which ends every session); InvalidSession otherwise."""
    if not account or account.disabled or account.session_epoch != epoch:
        raise InvalidSession()
    return account


@dataclass(frozen=True)
class SpentCode(Generic[R]):
    """A session's code with one attempt spent on it: its `record` after the spend, the
    `code` as typed (no spaces around it), and `now`, when it was spent."""

    record: R
    code: str
    now: float


@dataclass(frozen=True, kw_only=True)
class Sessions:
    settings: Settings
    clock: Clock
    records: Records

    def now(self) -> float:
        return self.clock.now().timestamp()

    def live(self, secret: object, now: float | None = None) -> Session:
        """The live pwreg session `secret` names; InvalidSession otherwise."""
        if not isinstance(secret, str) or not secret:
            raise InvalidSession()
        session = self.records.get(Session, Session.id_of(secret))
        if not session or not session.is_live(self.now() if now is None else now):
            raise InvalidSession()
        return session

    def spend_code(self, kind: type[R], session_secret: object, raw_code: object,
                   refused: Callable[[R | None, str], None]) -> SpentCode[R]:
        """One attempt spent on the session's record of `kind` (PhoneChange, AppEnrolment)
        before the code is compared, whatever runs in parallel. No session string: 401; a
        code that is no text: 400 `invalid_request`; a record used, expired, replaced or out
        of attempts: `refused(the record as it was or None, why)` (which may raise its own
        answer), else 410 `code_expired`; a record whose session ended meanwhile: 401."""
        if not isinstance(session_secret, str) or not session_secret:
            raise InvalidSession()
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        now = self.now()
        try:
            record = self.records.spend_attempt(kind, kind.id_of(session_secret), now,
                                                self.settings.code.max_attempts)
        except NotTriable as refusal:
            refused(refusal.record, refusal.why)
            raise CodeExpired() from None
        if record is None:
            raise CodeExpired()
        if not record.session_live(now):
            raise InvalidSession()
        return SpentCode(record, raw_code.strip(), now)
