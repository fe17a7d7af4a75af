"""pwreg: log in with the account's current password, then see its holders, add oneself
(name and number; saved only once a code sent to the new number is verified) or remove a
holder who has left (SPEC 2, 5, 6, 11).

What a session does once a holder was verified in it is that holder's: the audit records
name them and `last_used_at` is theirs (a login alone names nobody: the account's password
is shared).

A login attempt is counted before the password is compared (SPEC 5 v2): one event reserved
on the username's counter for the client's network (5 per 15 min: that network's lock) and
one on its all-networks ceiling (50 per 24 h). A burst of parallel guesses therefore has at
most as many passwords compared as the limits allow, every failure is counted whatever
happens after it, and a success gives its reservations back. The session is issued in a
transaction that checks the ceiling's lock again.
"""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.limits import (CODE_SMS, CODE_SMS_REGISTRATION, LOGIN_FAILURES, LOGINS,
                                      NUMBERS)
from chalicelib.repositories.limits import Reservation
from chalicelib.domain import codes, holders as holding, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import (CodeExpired, InvalidCode, InvalidCredentials,
                                      InvalidRequest, InvalidSession, NotFound,
                                      ServiceUnavailable, TooManyAttempts, TooManyHolders,
                                      TooManyRequests)
from chalicelib.domain.holders import Holder
from chalicelib.messages import text
from chalicelib.domain.events import Caller
from chalicelib.domain.records import AppEnrolment, PhoneChange, Session, why_not_triable
from chalicelib.ports import Conflict, Refused
from chalicelib.services.code_flow import CodeFlow
from chalicelib.services.unit_of_work import retrying


def shown(holder: Holder) -> dict:
    """A holder as pwreg shows them (SPEC 8 v2): never the whole number."""
    return {"id": holder.id, "name": holder.name,
            "phone_masked": phones.masked_national(holder.phone),
            "authenticator": holder.authenticator is not None}


def acting(session: Session) -> dict:
    """The audit fields naming the holder a session acts as, if one was verified in it."""
    if not session.holder_id:
        return {}
    return {"holder_id": session.holder_id, "holder_name": session.holder_name}


def subject(holder: Holder, added: bool = False) -> dict:
    """The audit fields naming the holder an event is about."""
    fields = {"subject_id": holder.id, "subject_name": holder.name}
    return {**fields, "added_by": holder.added_by} if added else fields


def live_session(records, secret, now: float) -> Session:
    """The live pwreg session `secret` names; InvalidSession otherwise."""
    if not isinstance(secret, str) or not secret:
        raise InvalidSession()
    session = records.get(Session, Session.id_of(secret))
    if not session or not session.is_live(now):
        raise InvalidSession()
    return session


def account_of(epoch: int, account: Account | None) -> Account:
    """The session's account, if the session still holds: not disabled, and no password
    change since the login (which ends every session); InvalidSession otherwise."""
    if not account or account.disabled or account.session_epoch != epoch:
        raise InvalidSession()
    return account


class Registration(CodeFlow):
    # -- login -----------------------------------------------------------------------------

    def login(self, raw_username, password, caller: Caller) -> dict:
        username = normalise_username(raw_username)
        if not isinstance(password, str) or not password:
            raise InvalidRequest(field="password")
        now = self.now()
        decision = self.limits.hit(LOGINS, "", now, ip=caller.ip)
        if not decision.allowed:
            self._refused("logins_per_ip", username, caller, decision, who=LOGINS.name)
        [account] = self.uow.read(self.accounts.read(username))
        # Counted before the compare, on the caller's network and on every network's ceiling.
        reserved = self.limits.reserve(LOGIN_FAILURES, username, now, ip=caller.ip)
        if not reserved.allowed:
            self._refused("login_failures_per_network" if reserved.network
                          else "login_failures_per_username", username, caller, reserved,
                          who=username, ip=caller.ip if reserved.network else None)
        if len(password) > self.settings.policy.max_length * 4:
            reason, ok = "oversized", False  # no account's password is this long: skip argon2
        else:  # where the password lives (SPEC 13); no account: the same work, refused
            ok = self.password_change.check(account, username, password, caller)
            reason = "unknown_user" if account is None else "wrong_password" if not ok else None
            if ok and account.disabled:
                reason, ok = "disabled", False
        if not ok:
            self._record_failure(username, reason, reserved, caller)
            raise InvalidCredentials(attempts_left=reserved.network_left)
        return self._open_session(account, reserved, caller)

    def _refused(self, limit: str, username: str, caller: Caller, refusal: Reservation,
                 who: str = "", ip: str | None = None):
        self.note_refusal(limit, username, caller, refusal.window, who=who, ip=ip)
        raise TooManyAttempts(retry_after=refusal.retry_after)

    def _record_failure(self, username: str, reason: str, reserved: Reservation,
                        caller: Caller) -> None:
        """The failure is counted already (its reservations); record it, and lock the
        username for every network if it filled the ceiling. If that cannot be written:
        503, the counters still hold the failure."""
        limits = self.settings.limits

        def attempt(_):
            now = self.now()
            tx = self.uow.begin()
            tx.record(self.audit.record("login.failed", username, reason, caller,
                                         attempts_left=reserved.network_left))
            network_until = now + limits.login_lock_seconds if reserved.network_filled else 0.0
            if reserved.filled:
                window = max(rule.window for rule in limits.login_failures_per_username)
                tx.add("lock", self.limits.locked_until(LOGIN_FAILURES, username,
                                                        now + window,
                                                        network_until=network_until))
                tx.record(self.audit.record("login.locked", username, "locked", caller,
                                             minutes=window // 60, scope="all_networks"))
            elif reserved.network_filled:
                tx.add("lock", self.limits.network_locked_until(LOGIN_FAILURES, username,
                                                                network_until))
            if reserved.network_filled:
                tx.record(self.audit.record("login.locked", username, "locked", caller,
                                             minutes=limits.login_lock_seconds // 60,
                                             scope="network"))
            tx.commit()
        retrying(attempt)

    def _open_session(self, account: Account, reserved: Reservation, caller: Caller) -> dict:
        secret = codes.new_secret()
        now = self.now()
        tx = self.uow.begin()
        tx.add("session", self.records.add(Session(
            Session.id_of(secret), account.username, account.session_epoch,
            expires_at=now + self.settings.session_seconds)))
        # The attempt was no failure: its reservation goes back, in the same write that
        # checks the lock again (locked while the password was compared: no session).
        returned = self.limits.returned(reserved, now)
        tx.add("lock", returned[0])
        for n, update in enumerate(returned[1:]):
            tx.add(f"failures {n}", update)
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
                "password_changed_at": iso(account.password_changed_at),
                "password_expires_at": iso(account.password_expires_at)}

    # -- the session -----------------------------------------------------------------------

    def _session(self, secret) -> Session:
        return live_session(self.records, secret, self.now())

    @staticmethod
    def _account_of(epoch: int, account: Account | None) -> Account:
        return account_of(epoch, account)

    def logout(self, secret) -> None:
        if not isinstance(secret, str) or not secret:
            return
        tx = self.uow.begin()
        tx.add("session", self.records.delete(Session.id_of(secret)))
        tx.add("phone change", self.records.delete(PhoneChange.id_of(secret)))
        tx.add("app enrolment", self.records.delete(AppEnrolment.id_of(secret)))
        try:
            tx.commit()
        except (Conflict, Refused):  # no condition to fail here: a conflict
            raise ServiceUnavailable() from None

    # -- a new number ----------------------------------------------------------------------

    def _within(self, log, now: float, username: str, limit: str, caller: Caller) -> None:
        decision = log.decide(now)
        if not decision.allowed:
            self.note_refusal(limit, username, caller, max(r.window for r in log.rules))
            raise TooManyRequests(retry_after=decision.retry_after)

    def request_holder(self, secret, raw_name, raw_phone, caller: Caller) -> dict:
        """Send a code to the number of the person who adds themselves (SPEC 2, 11); they
        are saved only once it is verified. 409 when the account has its holders already
        and the number is none of theirs."""
        session = self._session(secret)
        if not isinstance(raw_phone, str):
            raise InvalidRequest(field="phone")
        name = holding.normalise_name(raw_name)
        settings = self.settings
        number = phones.parse(raw_phone, settings.allowed_countries)
        username = session.username
        change_id = PhoneChange.id_of(secret)

        def attempt(_):
            account, sms_log, flow_log, numbers, before = self.uow.read(
                self.accounts.read(username), self.limits.read(CODE_SMS, username),
                self.limits.read(CODE_SMS_REGISTRATION, username),
                self.limits.read(NUMBERS, username),
                self.records.read(PhoneChange, change_id))
            account = self._account_of(session.epoch, account)
            if (len(account.holders) >= settings.max_holders
                    and all(h.phone != number for h in account.holders)):
                raise TooManyHolders(max_holders=settings.max_holders)
            now = self.now()
            self._within(numbers, now, username, "numbers_per_account", caller)
            self._within(sms_log, now, username, "sms_per_username", caller)
            self._within(flow_log, now, username, "sms_per_flow", caller)
            # A new code for this session carries the wrong attempts of the one before
            # (SPEC 4 v2), as a reset's resend does: asking again restores nothing.
            attempts = before.attempts if before and not before.used else 0
            code = codes.new_code()
            tx = self.uow.begin()
            tx.add("phone change", self.records.replace(PhoneChange(
                change_id, username, number, account.session_epoch, session.expires_at,
                code_mac=codes.code_mac(self.code_key(), change_id, code), sent_at=now,
                expires_at=min(now + settings.code.lifetime_seconds, session.expires_at),
                attempts=attempts, name=name, by_id=session.holder_id,
                by_name=session.holder_name), before))
            tx.add("sms limit", self.limits.record(sms_log, now))
            tx.add("flow sms limit", self.limits.record(flow_log, now))
            tx.record(self.audit.record("phone.change_requested", username, "code_queued",
                                         caller, phone=number, **acting(session)))
            tx.commit()
            return code, now

        code, now = retrying(attempt, retryable=lambda refused: refused.by in (
            "sms limit", "flow sms limit", "phone change"), otherwise=self._too_soon)
        try:
            self.code_sms.send(code, caller, to=number)
        except ServiceUnavailable:
            self.code_sms.take_back(username, now, caller, CODE_SMS_REGISTRATION, phone=number)
            raise
        return {"phone": number, "expires_in": settings.code.lifetime_seconds,
                "resend_after": settings.code.resend_after_seconds}

    def _too_soon(self):
        raise TooManyRequests(retry_after=self.settings.code.resend_after_seconds)

    def verify_holder(self, secret, raw_code, caller: Caller) -> dict:
        """Check the code sent to the new number; if right, the person is a holder (the
        same number again: that holder's name is updated), and the session is theirs."""
        def refused(item, now, max_attempts):
            self._session(secret)  # an ended session says so, rather than "code expired"
            if item:
                self.audit.write(self.audit.record(
                    "phone.changed", item["username"], why_not_triable(item, now, max_attempts),
                    caller, phone=item.get("phone")))

        change, code, _ = self.spend_session_code(PhoneChange, secret, raw_code, refused)
        max_attempts = self.settings.code.max_attempts
        # the session as it was when it asked (one holder waits at a time per session)
        session = Session(Session.id_of(secret), change.username, change.epoch,
                          change.session_expires_at, holder_id=change.by_id,
                          holder_name=change.by_name)
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

    def _save_holder(self, change: PhoneChange, session: Session, caller: Caller):
        """Save the verified holder with the code used up, within the new-numbers limit and
        the most holders an account may have; the session acts as them from now on.
        Answers (the account as saved, what was added, the name of who added them)."""
        username = change.username
        name = change.name or holding.MIGRATED_NAME

        def attempt(_):
            account, numbers = self.uow.read(self.accounts.read(username),
                                              self.limits.read(NUMBERS, username))
            account = self._account_of(change.epoch, account)
            moment = self.clock.now()
            now = moment.timestamp()
            self._within(numbers, now, username, "numbers_per_account", caller)
            added = holding.add(account.holders, name, change.phone, moment,
                                session.holder_id, self.settings.max_holders)
            holder = added.holder
            if added.new and not session.holder_id:  # they added themselves
                holder = replace(holder, added_by=holder.id)
            holder = replace(holder, last_used_at=moment)
            holders = [holder if h.id == holder.id else h for h in added.holders]
            updated = account.with_holders(holders)
            updated.lang = caller.lang
            actor = acting(session) or {"holder_id": holder.id, "holder_name": holder.name}
            tx = self.uow.begin()
            tx.add("account", self.accounts.save(updated, account.version))
            tx.add("code", self.records.use(change, now))
            tx.add("numbers", self.limits.record(numbers, now))
            tx.add("session", self.records.name_session(session, holder.id, holder.name))
            tx.record(self.audit.record(
                "holder.added", username, "success" if added.new else "renamed", caller,
                phone=change.phone, **actor, **subject(holder, added=added.new),
                previous_name=None if added.new else added.previous_name))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by == "code":
                    raise CodeExpired() from None
                if refused.by == "session":
                    raise InvalidSession() from None
                raise
            result = replace(added, holders=updated.holders, holder=holder)
            return updated, result, actor["holder_name"]

        return retrying(attempt, retryable=lambda refused: refused.by in ("account", "numbers"))

    # -- remove a holder -------------------------------------------------------------------

    def remove_holder(self, secret, holder_id, caller: Caller) -> None:
        """Remove a holder who has left (SPEC 11): no code needed; told by SMS to the removed
        holder and to the others. 404 `not_found` for an id that is no holder of the
        session's account."""
        session = self._session(secret)
        if not holding.is_id(holder_id):
            raise NotFound()
        username = session.username

        def attempt(_):
            account = self._account_of(session.epoch, self.accounts.get(username))
            rest, gone = holding.remove(account.holders, holder_id)
            updated = account.with_holders(rest)
            tx = self.uow.begin()
            tx.add("account", self.accounts.save(updated, account.version))
            tx.record(self.audit.record("holder.removed", username, "success", caller,
                                         phone=gone.phone, **acting(session),
                                         **subject(gone)))
            tx.commit()
            return updated, gone

        account, gone = retrying(attempt, retryable=lambda refused: refused.by == "account")
        by = session.holder_name or text("sms.by_login", account.lang)
        self.notifications.holder_changed(
            "removed", username, gone, [h.phone for h in account.holders] + [gone.phone],
            self.clock.now(), account.lang, by, caller)
