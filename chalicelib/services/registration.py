"""pwreg: log in with the account's current password, then see its holders, add oneself
(name and number; saved only once a code sent to the new number is verified) or remove a
holder who has left (SPEC 2, 5, 6, 11).

SPEC 15: a session the organisation's identity provider proved a person in (services/
holder_identity.py) adds that person, named by the provider, keeping its issuer and subject;
with `PWPORTAL_HOLDER_IDENTITY=required` a session adds nobody before that (a holder already
listed may still prove their number, "Det här är jag").

What a session does once a holder was verified in it is that holder's: the audit records
name them and `last_used_at` is theirs (a login alone names nobody: the account's password
is shared).

A login attempt is counted before the password is compared (SPEC 5 v2): one event reserved
on the username's counter for the client's network (5 per 15 min: that network's lock) and
one on its all-networks ceiling (50 per 24 h). A burst of parallel guesses therefore has at
most as many passwords compared as the limits allow, every failure is counted whatever
happens after it, and a success gives its reservations back, as does an attempt that was
never compared (the directory unreachable, SPEC 13). The session is issued in a
transaction that checks the ceiling's lock again.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from chalicelib.domain.limits import (CODE_SMS, CODE_SMS_ACCOUNT, CODE_SMS_REGISTRATION,
                                      LOGIN_FAILURES, LOGINS, NUMBERS, LimitLog)
from chalicelib.repositories.limits import Reservation
from chalicelib.domain import codes, holders as holding, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import (CodeExpired, IdentityRequired, InvalidCode,
                                      InvalidCredentials, InvalidRequest, InvalidSession,
                                      NotFound,
                                      ServiceUnavailable, TooManyAttempts, TooManyHolders,
                                      TooManyRequests)
from chalicelib.messages import text
from chalicelib.domain.events import Caller
from chalicelib.domain.records import AppEnrolment, PhoneChange, Session
from chalicelib.domain.holders import Added, Holder
from chalicelib.ports import Clock, Conflict, PasswordChange, Refused
from chalicelib.services.holder_fields import acting_as, shown, subject
from chalicelib.services.sessions import account_of
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Counters, Logs
    from chalicelib.repositories.records import Records
    from chalicelib.services.code_sms import CodeSms
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.refusals import Refusals
    from chalicelib.services.sessions import Sessions
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

# the names of pwreg's writes, as a refusal names them
SESSION, LOCK, FAILURES = "session", "lock", "failures"
PHONE_CHANGE, APP_ENROLMENT, SMS_LIMITS = "phone change", "app enrolment", "sms limits"
ACCOUNT, CODE, NUMBERS_LIMIT = "account", "code", "numbers"


def acting(session: Session) -> dict[str, str]:
    """The audit fields naming the holder a session acts as, if one was verified in it."""
    return acting_as(session.holder_id, session.holder_name, session.holder_proven_by)


@dataclass(frozen=True, kw_only=True)
class Registration:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    counters: Counters
    logs: Logs
    audit: Audit
    sessions: Sessions
    refusals: Refusals
    code_sms: CodeSms
    notifications: Notifications
    code_key: Callable[[], bytes]  # read from the secrets on first use
    password_change: PasswordChange  # where the password lives: the login's check (SPEC 13)

    def now(self) -> float:
        return self.clock.now().timestamp()

    # -- login -----------------------------------------------------------------------------

    def login(self, raw_username: object, password: object, caller: Caller
              ) -> dict[str, Any]:
        username = normalise_username(raw_username)
        if not isinstance(password, str) or not password:
            raise InvalidRequest(field="password")
        now = self.now()
        decision = self.counters.reserve(LOGINS, "", now, ip=caller.ip)
        if not decision.allowed:
            self._refused("logins_per_ip", username, caller, decision, who=LOGINS.name,
                          ip=caller.ip)  # once per network and window, not per service
        account: Account | None = self.uow.read(account=self.accounts.read(username)).account
        # Counted before the compare, on the caller's network and on every network's ceiling.
        reserved = self.counters.reserve(LOGIN_FAILURES, username, now, ip=caller.ip)
        if not reserved.allowed:
            self._refused("login_failures_per_network" if reserved.network
                          else "login_failures_per_username", username, caller, reserved,
                          who=username, ip=caller.ip if reserved.network else None)
        # why the login fails; None: it does not
        reason: str | None = "oversized"  # no account's password is this long: skip argon2
        if len(password) <= self.settings.policy.max_length * 4:
            # where the password lives (SPEC 13); no account: the same work, refused
            try:
                ok = self.password_change.check(account, username, password, caller)
            except ServiceUnavailable:
                # Not compared (the directory unreachable): no failure, so it is given back,
                # or an outage would lock the username out of every network.
                self.counters.give_back(reserved)
                raise
            reason = ("unknown_user" if account is None else "wrong_password" if not ok
                      else "disabled" if account.disabled else None)
        if reason is None and account is not None:
            return self._open_session(account, reserved, caller)
        self._record_failure(username, reason or "unknown_user", reserved, caller)
        raise InvalidCredentials(attempts_left=reserved.network_left)

    def _refused(self, limit: str, username: str, caller: Caller, refusal: Reservation,
                 who: str = "", ip: str | None = None) -> NoReturn:
        self.refusals.note(limit, username, caller, refusal.window, who=who, ip=ip)
        raise TooManyAttempts(retry_after=refusal.retry_after)

    def _record_failure(self, username: str, reason: str, reserved: Reservation,
                        caller: Caller) -> None:
        """The failure is counted already (its reservations); record it, and lock the
        username for every network if it filled the ceiling. If that cannot be written:
        503, the counters still hold the failure."""
        limits = self.settings.limits

        def attempt(_: Attempt) -> None:
            now = self.now()
            tx = self.uow.begin()
            tx.record(self.audit.record("login.failed", username, reason, caller,
                                         attempts_left=reserved.network_left))
            network_until = now + limits.login_lock_seconds if reserved.network_filled else 0.0
            if reserved.filled:
                window = max(rule.window for rule in limits.login_failures_per_username)
                tx.add(LOCK, self.counters.locked_until(LOGIN_FAILURES, username,
                                                        now + window,
                                                        network_until=network_until))
                tx.record(self.audit.record("login.locked", username, "locked", caller,
                                             minutes=window // 60, scope="all_networks"))
            elif reserved.network_filled:
                tx.add(LOCK, self.counters.network_locked_until(LOGIN_FAILURES, username,
                                                                network_until))
            if reserved.network_filled:
                tx.record(self.audit.record("login.locked", username, "locked", caller,
                                             minutes=limits.login_lock_seconds // 60,
                                             scope="network"))
            tx.commit()
        retrying(attempt)

    def _open_session(self, account: Account, reserved: Reservation, caller: Caller
                      ) -> dict[str, Any]:
        secret = codes.new_secret()
        now = self.now()
        tx = self.uow.begin()
        tx.add(SESSION, self.records.add(Session(
            Session.id_of(secret), account.username, account.session_epoch,
            expires_at=now + self.settings.session_seconds)))
        # The attempt was no failure: its reservation goes back, in the same write that
        # checks the lock again (locked while the password was compared: no session).
        returned = self.counters.returned(reserved, now)
        tx.add(LOCK, returned.if_unlocked)
        tx.add_group(FAILURES, returned.others)
        tx.record(self.audit.record("login.succeeded", account.username, "success", caller))
        try:
            tx.commit()
        except Refused:  # locked for every network while the password was compared
            raise TooManyAttempts(retry_after=self.settings.limits.login_lock_seconds) \
                from None
        except Conflict:
            raise ServiceUnavailable() from None
        return {"session": secret, "username": account.username,
                "holders": [shown(holder) for holder in account.holders],
                "max_holders": self.settings.max_holders,
                "holder_identity": self.settings.holder_identity_mode,
                "password_changed_at": iso(account.password_changed_at),
                "password_expires_at": iso(account.password_expires_at)}

    # -- the session -----------------------------------------------------------------------

    def _session(self, secret: str) -> Session:
        return self.sessions.live(secret)

    def logout(self, secret: str) -> None:
        if not isinstance(secret, str) or not secret:
            return
        tx = self.uow.begin()
        tx.add(SESSION, self.records.delete(Session.id_of(secret)))
        tx.add(PHONE_CHANGE, self.records.delete(PhoneChange.id_of(secret)))
        tx.add(APP_ENROLMENT, self.records.delete(AppEnrolment.id_of(secret)))
        try:
            tx.commit()
        except (Conflict, Refused):  # no condition to fail here: a conflict
            raise ServiceUnavailable() from None

    # -- a new number ----------------------------------------------------------------------

    def _within(self, log: LimitLog, now: float, username: str, limit: str,
                caller: Caller) -> None:
        decision = log.decide(now)
        if not decision.allowed:
            self.refusals.note(limit, username, caller, max(r.window for r in log.rules))
            raise TooManyRequests(retry_after=decision.retry_after)

    def _name(self, session: Session, raw_name: object, listed: bool) -> str:
        """The name the holder is saved with: the provider's when the session proved the
        person (a typed one is ignored, SPEC 15); else as typed, unless proving is required
        (403 `identity_required`) and this is no holder already listed."""
        if session.proven_issuer:
            return holding.provider_name(session.proven_name)
        if self.settings.holder_identity_mode == "required" and not listed:
            raise IdentityRequired()
        return holding.normalise_name(raw_name, self.settings.reserved_names)

    def request_holder(self, secret: str, raw_name: object, raw_phone: object,
                       caller: Caller, listed: bool = False) -> dict[str, Any]:
        """Send a code to the number of the person who adds themselves (SPEC 2, 11); they
        are saved only once it is verified. 409 when the account has its holders already
        and the number is none of theirs. `listed`: a holder already listed proving their
        own number."""
        session = self._session(secret)
        if not isinstance(raw_phone, str):
            raise InvalidRequest(field="phone")
        name = self._name(session, raw_name, listed)
        settings = self.settings
        number = phones.parse(raw_phone, settings.allowed_countries)
        username = session.username
        change_id = PhoneChange.id_of(secret)
        # SPEC 5 v3: the SMS limits of this (username, number), a new number's its own, and
        # the account's ceiling: five people added in one morning each get their code
        number_key = self.logs.number_key(username, number)

        def attempt(_: Attempt) -> tuple[str, float]:
            found = self.uow.read(
                account=self.accounts.read(username),
                sms=self.logs.read(CODE_SMS, username, number_key),
                flow_sms=self.logs.read(CODE_SMS_REGISTRATION, username, number_key),
                account_sms=self.logs.read(CODE_SMS_ACCOUNT, username),
                numbers=self.logs.read(NUMBERS, username),
                before=self.records.read(PhoneChange, change_id))
            account = account_of(session.epoch, found.account)
            sms_log, flow_log, before = found.sms, found.flow_sms, found.before
            if (len(account.holders) >= settings.max_holders
                    and all(h.phone != number for h in account.holders)):
                raise TooManyHolders(max_holders=settings.max_holders)
            now = self.now()
            if all(h.phone != number for h in account.holders):  # a number new to it
                self._within(found.numbers, now, username, "numbers_per_account", caller)
            self._within(sms_log, now, username, "sms_per_number", caller)
            self._within(flow_log, now, username, "sms_per_flow", caller)
            self._within(found.account_sms, now, username, "sms_per_account", caller)
            # A new code for this session carries the wrong attempts of the one before
            # (SPEC 4 v2), as a reset's resend does: asking again restores nothing.
            attempts = before.attempts if before and not before.used else 0
            code = codes.new_code()
            tx = self.uow.begin()
            tx.add(PHONE_CHANGE, self.records.replace(PhoneChange(
                change_id, username, number, account.session_epoch, session.expires_at,
                code_mac=codes.code_mac(self.code_key(), change_id, code), sent_at=now,
                expires_at=min(now + settings.code.lifetime_seconds, session.expires_at),
                attempts=attempts, name=name, by_id=session.holder_id,
                by_name=session.holder_name, issuer=session.proven_issuer,
                subject=session.proven_subject, by_proven=session.holder_proven_by), before))
            tx.add_group(SMS_LIMITS, [self.logs.record(log, now)
                                      for log in (sms_log, flow_log, found.account_sms)])
            tx.record(self.audit.record("phone.change_requested", username, "code_queued",
                                         caller, phone=number, **acting(session)))
            tx.commit()
            return code, now

        code, now = retrying(attempt, retryable=refused_by(SMS_LIMITS, PHONE_CHANGE),
                             otherwise=self._too_soon)
        try:
            self.code_sms.send(code, caller, to=number)
        except ServiceUnavailable:
            self.code_sms.take_back(username, number_key, now, caller, CODE_SMS_REGISTRATION,
                                    phone=number)
            raise
        return {"phone": number, "expires_in": settings.code.lifetime_seconds,
                "resend_after": settings.code.resend_after_seconds}

    def _too_soon(self) -> NoReturn:
        raise TooManyRequests(retry_after=self.settings.code.resend_after_seconds)

    def verify_holder(self, secret: str, raw_code: object, caller: Caller
                      ) -> dict[str, Any]:
        """Check the code sent to the new number; if right, the person is a holder (the
        same number again: that holder's name is updated), and the session is theirs."""
        def refused(change: PhoneChange | None, why: str) -> None:
            self._session(secret)  # an ended session says so, rather than "code expired"
            if change:
                self.audit.write(self.audit.record("phone.changed", change.username, why,
                                                     caller, phone=change.phone))

        spent = self.sessions.spend_code(PhoneChange, secret, raw_code, refused)
        change, code = spent.record, spent.code
        max_attempts = self.settings.code.max_attempts
        # the session as it was when it asked (one holder waits at a time per session)
        session = Session(Session.id_of(secret), change.username, change.epoch,
                          change.session_expires_at, holder_id=change.by_id,
                          holder_name=change.by_name, holder_proven_by=change.by_proven)
        if not (codes.looks_like_code(code)
                and codes.code_matches(self.code_key(), change.id, code, change.code_mac)):
            attempts_left = max(0, max_attempts - change.attempts)
            self.audit.write(self.audit.record("phone.changed", change.username,
                                                 "wrong_code", caller, phone=change.phone,
                                                 attempts_left=attempts_left,
                                                 **acting(session)))
            raise InvalidCode(attempts_left=attempts_left)
        account, added, by = self._save_holder(change, session, caller)
        if added.new:
            self.notifications.holder_changed(
                "added", account.username, added.holder,
                [h.phone for h in account.holders if h.id != added.holder.id],
                self.clock.now(), account.lang, by, caller)
        return {"holder": shown(added.holder)}

    def _save_holder(self, change: PhoneChange, session: Session, caller: Caller
                     ) -> tuple[Account, Added, str]:
        """Save the verified holder with the code used up, within the new-numbers limit and
        the most holders an account may have; the session acts as them from now on.
        Answers (the account as saved, what was added, the name of who added them)."""
        username = change.username
        name = change.name or holding.MIGRATED_NAME

        def attempt(_: Attempt) -> tuple[Account, Added, str]:
            found = self.uow.read(account=self.accounts.read(username),
                                  numbers=self.logs.read(NUMBERS, username))
            account, numbers = account_of(change.epoch, found.account), found.numbers
            moment = self.clock.now()
            now = moment.timestamp()
            added = holding.add(account.holders, name, change.phone, moment,
                                session.holder_id, self.settings.max_holders,
                                issuer=change.issuer, subject=change.subject)
            if added.new:  # a listed holder proving their number is no new number
                self._within(numbers, now, username, "numbers_per_account", caller)
            holder = added.holder
            if added.new and not session.holder_id:  # they added themselves
                holder = replace(holder, added_by=holder.id)
            holder = replace(holder, last_used_at=moment)
            holders = [holder if h.id == holder.id else h for h in added.holders]
            updated = account.with_holders(holders)
            updated.lang = caller.lang
            proven_by = holder.issuer if holder.proven else ""
            actor = acting(session) or acting_as(holder.id, holder.name, proven_by)
            tx = self.uow.begin()
            tx.add(ACCOUNT, self.accounts.save(updated, account.version))
            tx.add(CODE, self.records.use(change, now))
            if added.new:
                tx.add(NUMBERS_LIMIT, self.logs.record(numbers, now))
            tx.add(SESSION, self.records.name_session(session, holder.id, holder.name,
                                                      proven_by))
            tx.record(self.audit.record(
                "holder.added", username, "success" if added.new else "renamed", caller,
                phone=change.phone, **actor, **subject(holder, added=added.new),
                previous_name=None if added.new else added.previous_name))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by_any(CODE):
                    raise CodeExpired() from None
                if refused.by_any(SESSION):
                    raise InvalidSession() from None
                raise
            result = replace(added, holders=updated.holders, holder=holder)
            return updated, result, holder.name if not session.holder_id else session.holder_name

        return retrying(attempt, retryable=refused_by(ACCOUNT, NUMBERS_LIMIT))

    # -- remove a holder -------------------------------------------------------------------

    def remove_holder(self, secret: str, holder_id: str, caller: Caller) -> None:
        """Remove a holder who has left (SPEC 11): no code needed; told by SMS to the removed
        holder and to the others. 404 `not_found` for an id that is no holder of the
        session's account."""
        session = self._session(secret)
        if not holding.is_id(holder_id):
            raise NotFound()
        username = session.username

        def attempt(_: Attempt) -> tuple[Account, Holder]:
            account = account_of(session.epoch, self.accounts.get(username))
            rest, gone = holding.remove(account.holders, holder_id)
            updated = account.with_holders(rest)
            tx = self.uow.begin()
            tx.add(ACCOUNT, self.accounts.save(updated, account.version))
            tx.record(self.audit.record("holder.removed", username, "success", caller,
                                         phone=gone.phone, **acting(session),
                                         **subject(gone)))
            tx.commit()
            return updated, gone

        account, gone = retrying(attempt, retryable=refused_by(ACCOUNT))
        by = session.holder_name or text("sms.by_login", account.lang)
        self.notifications.holder_changed(
            "removed", username, gone, [h.phone for h in account.holders] + [gone.phone],
            self.clock.now(), account.lang, by, caller)

    # -- a holder already listed: "Det här är jag" -----------------------------------------

    def request_as_holder(self, secret: str, holder_id: object, raw_name: object,
                          caller: Caller) -> dict[str, Any]:
        """A holder already listed proves their number to act as themselves, e.g. to add
        their app, without adding themselves again (issue 22 point 5): the code goes to THAT
        holder's number, which the page never shows whole, and is verified by
        `verify_holder` (the same number: no new holder; the name kept, or `raw_name` for a
        holder without one). Answers the masked number only. 404 `not_found` for an id that
        is no holder of the session's account."""
        session = self._session(secret)
        if not holding.is_id(holder_id):
            raise NotFound()
        account = account_of(session.epoch, self.accounts.get(session.username))
        holder = next((h for h in account.holders if h.id == holder_id), None)
        if holder is None:
            raise NotFound()
        name = raw_name if raw_name is not None or not holder.name else holder.name
        sent = self.request_holder(secret, name, holder.phone, caller, listed=True)
        return {"phone_masked": phones.masked_national(holder.phone),
                **{key: value for key, value in sent.items() if key != "phone"}}
