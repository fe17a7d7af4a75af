"""pwreg: a holder adds or removes their authenticator app (SPEC 12).

Only the session's own holder may: the one who proved their number in this session (pwreg's
"Lägg till mig", services/registration.py `verify_holder`); any other holder id, or one the
account does not have, is 404 `not_found`, as an unknown id is.

Adding is two steps. `add_app` draws a new nonce, shows the secret derived from it (as
base32 for typing, as an otpauth:// URI, and as a QR code in inline SVG) and keeps only the
nonce, in a short-lived AppEnrolment keyed by the session (domain/records.py): nothing is
saved on the holder yet. `verify_app` spends one attempt before comparing (at most
`code.max_attempts` codes per shown key, whatever runs in parallel), checks the code
against the app's secret within one step either side, and when it is right saves the nonce
on the holder in ONE transaction with the enrolment deleted, the accepted time step noted
for the holder (so that the same code cannot then be used for a reset: Records
`accepted_step`) and the audit record `authenticator.added` (outcome `success`, or
`replaced` when the holder had an app, whose codes are accepted no longer). A time step
that was accepted already is answered as a wrong code (audit outcome `code_used`).

Removing needs no code (they are logged in as that holder); `authenticator.removed`. Both
are told to the holder by SMS (services/notifications.py `authenticator_changed`), after
the change: never the secret, the nonce, the URI or a code in a message, a log line or an
audit record.

AWS calls (the API's budget is 4 a step): `add_app` reads the session and the account and
puts the enrolment (3); `verify_app` with a wrong code spends the attempt and writes its
audit record (2), with the right one spends the attempt, reads the account, commits the
transaction and queues the SMS (4); `remove_app` reads the session and the account,
commits, and queues the SMS (4).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from chalicelib.domain import authenticator, holders as holding
from chalicelib.domain.account import Account
from chalicelib.domain.errors import CodeExpired, InvalidCode, NotFound
from chalicelib.domain.events import Caller
from chalicelib.domain.holders import Holder
from chalicelib.domain.records import AppEnrolment
from chalicelib.messages import text
from chalicelib.ports import Clock, Refused
from chalicelib.services.holder_fields import acting_as, shown, subject
from chalicelib.services.sessions import account_of
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.records import Records
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.sessions import Sessions
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

# the names of the enrolment's writes, as a refusal names them
ACCOUNT, ENROLMENT, STEP = "account", "enrolment", "step"


@dataclass(frozen=True, kw_only=True)
class AuthenticatorEnrolment:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    audit: Audit
    sessions: Sessions
    notifications: Notifications
    authenticator_key: Callable[[], bytes]  # what apps' secrets derive from (SPEC 12)

    def now(self) -> float:
        return self.clock.now().timestamp()

    # -- add: show the key -----------------------------------------------------------------

    def add_app(self, session_secret: str, holder_id: str, caller: Caller
                ) -> dict[str, Any]:
        """A new app for the session's own holder: `{secret, otpauth_uri, qr_svg,
        expires_in}`. Nothing is saved on the holder before its first code is right."""
        now = self.now()
        session = self.sessions.live(session_secret, now)
        if not holding.is_id(holder_id) or holder_id != session.holder_id:
            raise NotFound()
        account = account_of(session.epoch, self.accounts.get(session.username))
        holder = account.holder(holder_id)
        if holder is None:
            raise NotFound()
        nonce = authenticator.new_nonce()
        expires_at = min(now + authenticator.ENROLMENT_SECONDS, session.expires_at)
        # one app waits at a time per session: asking again replaces it (a new key)
        self.uow.write(self.records.add(AppEnrolment(
            AppEnrolment.id_of(session_secret), account.username, holder.id, holder.name,
            nonce, account.session_epoch, session.expires_at, expires_at)))
        secret = authenticator.secret_for(self.authenticator_key(), nonce)
        organisation = self.settings.organisation_name
        uri = authenticator.uri(secret, organisation, account.username, holder.name)
        title = text("authenticator.qr_title", caller.lang, label=authenticator.label(
            organisation, account.username, holder.name))
        return {"secret": secret, "otpauth_uri": uri,
                "qr_svg": authenticator.qr_svg(uri, title),
                "expires_in": max(1, math.ceil(expires_at - now))}

    # -- add: the app's first code ---------------------------------------------------------

    def verify_app(self, session_secret: str, holder_id: str, raw_code: object,
                   caller: Caller) -> dict[str, Any]:
        """The app's first code: right, and the app is the holder's (`{holder}` as pwreg
        shows it); wrong, 400 `invalid_code` with the attempts left; the key expired, used,
        replaced or out of attempts, 410 `code_expired`."""
        def refused(enrolment: AppEnrolment | None, why: str) -> None:
            session = self.sessions.live(session_secret)  # ended: 401
            if not holding.is_id(holder_id) or holder_id != session.holder_id:
                raise NotFound()
            if enrolment:
                self.audit.write(self.audit.record(
                    "authenticator.added", enrolment.username, why, caller,
                    **acting_as(enrolment.holder_id, enrolment.holder_name),
                    subject_id=enrolment.holder_id, subject_name=enrolment.holder_name))

        spent = self.sessions.spend_code(AppEnrolment, session_secret, raw_code, refused)
        enrolment, code, now = spent.record, spent.code, spent.now
        max_attempts = self.settings.code.max_attempts
        if holder_id != enrolment.holder_id:
            raise NotFound()
        secret = authenticator.secret_for(self.authenticator_key(), enrolment.nonce)
        step = authenticator.accepted_step(secret, code, now)
        if step is None:
            self._wrong(enrolment, "wrong_code", caller, max_attempts)
        account, holder = self._save_app(enrolment, step, caller)
        self.notifications.authenticator_changed(
            "added", account.username, holder, self.clock.now(), account.lang, holder.name,
            caller)
        return {"holder": shown(holder)}

    def _wrong(self, enrolment: AppEnrolment, outcome: str, caller: Caller,
               max_attempts: int) -> NoReturn:
        attempts_left = max(0, max_attempts - enrolment.attempts)
        self.audit.write(self.audit.record(
            "authenticator.added", enrolment.username, outcome, caller,
            attempts_left=attempts_left,
            **acting_as(enrolment.holder_id, enrolment.holder_name),
            subject_id=enrolment.holder_id, subject_name=enrolment.holder_name))
        raise InvalidCode(attempts_left=attempts_left)

    def _save_app(self, enrolment: AppEnrolment, step: int, caller: Caller
                  ) -> tuple[Account, Holder]:
        """The nonce on the holder, the enrolment gone, the step noted and the record
        written, all at once; retried on a concurrent change of the account."""
        username = enrolment.username

        def attempt(_: Attempt) -> tuple[Account, Holder]:
            account = account_of(enrolment.epoch, self.accounts.get(username))
            holder = account.holder(enrolment.holder_id)
            if holder is None:  # removed meanwhile
                raise NotFound()
            moment = self.clock.now()
            replaced = holder.authenticator is not None
            saved = holder.with_app(enrolment.nonce, moment, holder.id)
            updated = account.with_holders(
                [saved if h.id == holder.id else h for h in account.holders])
            updated.lang = caller.lang
            tx = self.uow.begin()
            tx.add(ACCOUNT, self.accounts.save(updated, account.version))
            tx.add(ENROLMENT, self.records.use_up(enrolment, moment.timestamp()))
            tx.add(STEP, self.records.accepted_step(holder.id, step))
            tx.record(self.audit.record(
                "authenticator.added", username, "replaced" if replaced else "success",
                caller, **acting_as(holder.id, holder.name), **subject(holder)))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by_any(ENROLMENT):
                    raise CodeExpired() from None
                if refused.by_any(STEP):  # this code's time step was accepted before
                    self._wrong(enrolment, "code_used", caller,
                                self.settings.code.max_attempts)
                raise
            return updated, saved

        return retrying(attempt, retryable=refused_by(ACCOUNT))

    # -- remove ----------------------------------------------------------------------------

    def remove_app(self, session_secret: str, holder_id: str, caller: Caller) -> None:
        """The session's own holder removes their app: its codes are accepted no longer.
        404 `not_found` for another holder's id, an unknown one, or a holder without an
        app."""
        session = self.sessions.live(session_secret)
        if not holding.is_id(holder_id) or holder_id != session.holder_id:
            raise NotFound()
        username = session.username

        def attempt(_: Attempt) -> tuple[Account, Holder]:
            account = account_of(session.epoch, self.accounts.get(username))
            holder = account.holder(holder_id)
            if holder is None or holder.authenticator is None:
                raise NotFound()
            updated = account.with_holders(
                [holder.without_app() if h.id == holder.id else h for h in account.holders])
            tx = self.uow.begin()
            tx.add(ACCOUNT, self.accounts.save(updated, account.version))
            tx.record(self.audit.record("authenticator.removed", username, "success", caller,
                                         **acting_as(holder.id, holder.name),
                                         **subject(holder)))
            tx.commit()
            return updated, holder

        account, holder = retrying(attempt, retryable=refused_by(ACCOUNT))
        self.notifications.authenticator_changed(
            "removed", username, holder, self.clock.now(), account.lang, holder.name, caller)

