"""pwreg: log in with the account's current password, then register or change its mobile
number, which is saved only once a code sent to the new number is verified (SPEC 2, 5, 6).

A login attempt is counted before the password is compared (SPEC 5 v2): one event reserved
on the username's counter for the client's network (5 per 15 min: that network's lock) and
one on its all-networks ceiling (50 per 24 h). A burst of parallel guesses therefore has at
most as many passwords compared as the limits allow, every failure is counted whatever
happens after it, and a success gives its reservations back. The session is issued in a
transaction that checks the ceiling's lock again.
"""
from __future__ import annotations

from dataclasses import replace

from chalicelib.adapters.limits import (CODE_SMS, CODE_SMS_REGISTRATION, LOGIN_FAILURES, LOGINS,
                                       NUMBERS, Reservation)
from chalicelib.domain import codes, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import (CodeExpired, InvalidCode, InvalidCredentials,
                                      InvalidRequest, InvalidSession, ServiceUnavailable,
                                      TooManyAttempts, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.records import PhoneChange, Session, why_not_triable
from chalicelib.ports import Conflict, Refused
from chalicelib.services.code_flow import CodeFlow
from chalicelib.services.unit_of_work import retrying


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
            ok = self.directory.check(account, username, password, caller)
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
        return {"session": secret, "username": account.username, "phone": account.phone,
                "password_changed_at": iso(account.password_changed_at),
                "password_expires_at": iso(account.password_expires_at)}

    # -- the session -----------------------------------------------------------------------

    def _session(self, secret) -> Session:
        if not isinstance(secret, str) or not secret:
            raise InvalidSession()
        session = self.records.get(Session, Session.id_of(secret))
        if not session or not session.is_live(self.now()):
            raise InvalidSession()
        return session

    @staticmethod
    def _account_of(epoch: int, account: Account | None) -> Account:
        if not account or account.disabled or account.session_epoch != epoch:
            raise InvalidSession()
        return account

    def logout(self, secret) -> None:
        if not isinstance(secret, str) or not secret:
            return
        tx = self.uow.begin()
        tx.add("session", self.records.delete(Session.id_of(secret)))
        tx.add("phone change", self.records.delete(PhoneChange.id_of(secret)))
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

    def request_phone(self, secret, raw_phone, caller: Caller) -> dict:
        session = self._session(secret)
        if not isinstance(raw_phone, str):
            raise InvalidRequest(field="phone")
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
                attempts=attempts), before))
            tx.add("sms limit", self.limits.record(sms_log, now))
            tx.add("flow sms limit", self.limits.record(flow_log, now))
            tx.record(self.audit.record("phone.change_requested", username, "code_queued",
                                         caller, phone=number))
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

    def verify_phone(self, secret, raw_code, caller: Caller) -> dict:
        if not isinstance(secret, str) or not secret:
            raise InvalidSession()
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        code = raw_code.strip()
        max_attempts = self.settings.code.max_attempts
        change_id = PhoneChange.id_of(secret)
        now = self.now()
        try:
            change = self.records.spend_attempt(PhoneChange, change_id, now, max_attempts)
        except Refused as refused:
            self._session(secret)  # an ended session says so, rather than "code expired"
            if refused.item:
                self.audit.write(self.audit.record(
                    "phone.changed", refused.item["username"],
                    why_not_triable(refused.item, now, max_attempts), caller,
                    phone=refused.item.get("phone")))
            raise CodeExpired() from None
        if change is None:
            raise CodeExpired()
        if not change.session_live(now):
            raise InvalidSession()
        if not (codes.looks_like_code(code)
                and codes.code_matches(self.code_key(), change_id, code, change.code_mac)):
            attempts_left = max(0, max_attempts - change.attempts)
            self.audit.write(self.audit.record("phone.changed", change.username,
                                                 "wrong_code", caller, phone=change.phone,
                                                 attempts_left=attempts_left))
            raise InvalidCode(attempts_left=attempts_left)
        before = self._save_number(change, caller)
        self.notifications.phone_changed(change.username, before.phone, change.phone,
                                          self.clock.now(), caller.lang, caller)
        return {"phone": change.phone}

    def _save_number(self, change: PhoneChange, caller: Caller) -> Account:
        """Save the verified number with the code used up, within the new-numbers limit;
        answers the account as it was."""
        username = change.username

        def attempt(_):
            account, numbers = self.uow.read(self.accounts.read(username),
                                              self.limits.read(NUMBERS, username))
            account = self._account_of(change.epoch, account)
            now = self.now()
            self._within(numbers, now, username, "numbers_per_account", caller)
            tx = self.uow.begin()
            tx.add("account", self.accounts.save(
                replace(account, phone=change.phone, lang=caller.lang,
                        version=account.version + 1), account.version))
            tx.add("code", self.records.use(change, now))
            tx.add("numbers", self.limits.record(numbers, now))
            tx.record(self.audit.record("phone.changed", username, "success", caller,
                                         phone=change.phone,
                                         previous=phones.masked(account.phone) or "-"))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by == "code":
                    raise CodeExpired() from None
                raise
            return account

        return retrying(attempt, retryable=lambda refused: refused.by in ("account", "numbers"))
