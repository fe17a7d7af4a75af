"""pwreg: log in with the account's current password, then register or change its mobile
number, which is saved only once a code sent to the new number is verified (SPEC 2, 5, 6)."""
from __future__ import annotations

import math
from dataclasses import replace

from chalicelib.adapters import sms
from chalicelib.adapters.challenges import phone_id, session_id, why_refused
from chalicelib.adapters.dynamo import ConditionFailed, TransactionCancelled, delete_op
from chalicelib.adapters.limits import ip_subject
from chalicelib.domain import codes, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import (CodeExpired, InvalidCode, InvalidCredentials,
                                      InvalidRequest, InvalidSession, ServiceUnavailable,
                                      TooManyAttempts, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.limits import decide, recent
from chalicelib.messages import text
from chalicelib.services.contention import RETRIES, back_off
from chalicelib.services.reset import login_failures_key, sms_log_key


def numbers_key(username: str) -> str:
    return f"numbers#{username}"


class Registration:
    def __init__(self, portal):
        self.p = portal

    # -- login -----------------------------------------------------------------------------

    def login(self, raw_username, password, caller: Caller) -> dict:
        username = normalise_username(raw_username)
        if not isinstance(password, str) or not password:
            raise InvalidRequest(field="password")
        p, settings = self.p, self.p.settings
        decision = p.limits.hit("ip-login", ip_subject(caller.ip), settings.limits.logins_per_ip)
        if not decision.allowed:
            p.audit.write(p.audit.record("ratelimit.exceeded", username, "refused", caller,
                                         limit="logins_per_ip"))
            raise TooManyAttempts(retry_after=decision.retry_after)
        key = login_failures_key(username)
        account_item, failures_item = p.dynamo.batch_get([p.accounts.key(username),
                                                          (p.limits.table, {"key": key})])
        account = Account.from_item(account_item) if account_item else None
        failures = p.limits.parse(key, failures_item)
        now = p.now()
        if failures.locked(now):
            p.audit.write(p.audit.record("login.failed", username, "locked", caller))
            raise TooManyAttempts(retry_after=math.ceil(failures.until - now))
        if len(password) > settings.policy.max_length * 4:
            reason, ok = "oversized", False  # no account's password is this long: skip argon2
        elif account is None:
            reason, ok = "unknown_user", p.hasher.verify_nothing(password)
        else:
            ok = p.hasher.verify(account.password_hash, password)
            reason = "wrong_password" if not ok else None
            if ok and account.disabled:
                reason, ok = "disabled", False
        if not ok:
            self._count_failure(username, failures, reason, caller)
            raise InvalidCredentials()
        return self._open_session(account, failures, caller)

    def _open_session(self, account: Account, failures, caller: Caller) -> dict:
        p, settings = self.p, self.p.settings
        session = codes.new_secret()
        now = p.now()
        record = p.audit.record("login.succeeded", account.username, "success", caller)
        ops = [p.challenges.put_op({"id": session_id(session), "kind": "session",
                                    "username": account.username,
                                    "epoch": account.session_epoch,
                                    "expires_at": now + settings.session_seconds,
                                    "ttl": int(now + settings.session_seconds + 60)}),
               p.audit.op(record)]
        if failures.version:
            ops.append(p.limits.clear_op(failures.key))
        try:
            p.dynamo.transact(ops)
        except TransactionCancelled as cancelled:  # a conflict: no condition to fail here
            raise ServiceUnavailable() from cancelled
        p.audit.emit(record)
        return {"session": session, "username": account.username, "phone": account.phone,
                "password_changed_at": iso(account.password_changed_at),
                "password_expires_at": iso(account.password_expires_at)}

    def _count_failure(self, username: str, failures, reason: str, caller: Caller) -> None:
        p, limits = self.p, self.p.settings.limits
        rules = limits.login_failures_per_username
        for attempt in range(RETRIES):
            now = p.now()
            lock = not decide(recent(failures.events, rules, now) + [now], rules, now).allowed
            until = now + limits.login_lock_seconds if lock else 0.0
            records = [p.audit.record("login.failed", username, reason, caller)]
            if lock:
                records.append(p.audit.record("login.locked", username, "locked", caller,
                                              minutes=limits.login_lock_seconds // 60))
            try:
                p.dynamo.transact([p.limits.record_op(failures, rules, until=until)]
                                  + [p.audit.op(record) for record in records])
                break
            except TransactionCancelled as cancelled:
                if not (cancelled.conflict or cancelled.failed(0)):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
                failures = p.limits.read(failures.key)
        else:
            records = [p.audit.record("login.failed", username, "not_counted", caller)]
        for record in records:
            p.audit.emit(record)

    # -- the session -----------------------------------------------------------------------

    def _session(self, session) -> dict:
        if not isinstance(session, str) or not session:
            raise InvalidSession()
        item = self.p.challenges.get(session_id(session))
        if not item or item.get("kind") != "session" or item["expires_at"] <= self.p.now():
            raise InvalidSession()
        return item

    @staticmethod
    def _account_of(session: dict, account_item: dict | None) -> Account:
        account = Account.from_item(account_item) if account_item else None
        if not account or account.disabled or account.session_epoch != session["epoch"]:
            raise InvalidSession()
        return account

    def logout(self, session) -> None:
        if not isinstance(session, str) or not session:
            return
        p = self.p
        try:
            p.dynamo.transact([delete_op(p.challenges.table, {"id": session_id(session)}),
                               delete_op(p.challenges.table, {"id": phone_id(session)})])
        except TransactionCancelled as cancelled:  # a conflict: no condition to fail here
            raise ServiceUnavailable() from cancelled

    # -- a new number ----------------------------------------------------------------------

    def request_phone(self, session, raw_phone, caller: Caller) -> dict:
        p, settings = self.p, self.p.settings
        found = self._session(session)
        if not isinstance(raw_phone, str):
            raise InvalidRequest(field="phone")
        number = phones.parse(raw_phone, settings.allowed_countries)
        username = found["username"]
        for attempt in range(RETRIES):
            account_item, sms_item, numbers_item = p.dynamo.batch_get([
                p.accounts.key(username),
                (p.limits.table, {"key": sms_log_key(username)}),
                (p.limits.table, {"key": numbers_key(username)})])
            account = self._account_of(found, account_item)
            now = p.now()
            numbers = p.limits.parse(numbers_key(username), numbers_item)
            self._within(numbers.events, settings.limits.numbers_per_account, now, username,
                         "numbers_per_account", caller)
            sms_log = p.limits.parse(sms_log_key(username), sms_item)
            self._within(sms_log.events, settings.limits.sms_per_username, now, username,
                         "sms_per_username", caller)
            code = codes.new_code()
            pid = phone_id(session)
            record = p.audit.record("phone.change_requested", username, "code_queued", caller,
                                    phone=number)
            try:
                p.dynamo.transact([
                    p.challenges.put_op({
                        "id": pid, "kind": "phone", "username": username, "phone": number,
                        "epoch": account.session_epoch, "session_expires_at": found["expires_at"],
                        "code_mac": codes.code_mac(p.secrets.code_key, pid, code),
                        "attempts": 0, "used": False, "sent_at": now,
                        "expires_at": min(now + settings.code.lifetime_seconds,
                                          found["expires_at"]),
                        "ttl": int(now + settings.code.lifetime_seconds + 60)}),
                    p.limits.record_op(sms_log, settings.limits.sms_per_username),
                    p.audit.op(record)])
                break
            except TransactionCancelled as cancelled:
                if not (cancelled.conflict or cancelled.failed(1)):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
        else:
            raise TooManyRequests(retry_after=settings.code.resend_after_seconds)
        p.audit.emit(record)
        body = text("sms.code", caller.lang, code=code, host=settings.portal_host,
                    minutes=settings.code.lifetime_seconds // 60)
        try:
            p.queue.send(sms.message("code", body, to=number, lang=caller.lang))
        except ServiceUnavailable:
            # saved but not on its way: it must not count against the user's retry
            p.limits.forget(sms_log_key(username), now)
            p.audit.write_if_possible(p.audit.record("sms.failed", username, "not_queued",
                                                     caller, kind="code", phone=number))
            raise
        return {"phone": number, "expires_in": settings.code.lifetime_seconds,
                "resend_after": settings.code.resend_after_seconds}

    def _within(self, events, rules, now, username, limit, caller):
        decision = decide(events, rules, now)
        if not decision.allowed:
            self.p.audit.write(self.p.audit.record("ratelimit.exceeded", username, "refused",
                                                   caller, limit=limit))
            raise TooManyRequests(retry_after=decision.retry_after)

    def verify_phone(self, session, raw_code, caller: Caller) -> dict:
        p, settings = self.p, self.p.settings
        if not isinstance(session, str) or not session:
            raise InvalidSession()
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        code = raw_code.strip()
        pid = phone_id(session)
        now = p.now()
        try:
            item = p.challenges.reserve_attempt(pid, settings.code.max_attempts, now)
        except ConditionFailed as refused:
            self._session(session)  # an ended session says so, rather than "code expired"
            if refused.item:
                p.audit.write(p.audit.record(
                    "phone.changed", refused.item["username"],
                    why_refused(refused.item, settings.code.max_attempts, now), caller,
                    phone=refused.item.get("phone")))
            raise CodeExpired() from None
        if item["session_expires_at"] <= now:
            raise InvalidSession()
        username = item["username"]
        if not (codes.looks_like_code(code)
                and codes.code_matches(p.secrets.code_key, pid, code, item["code_mac"])):
            attempts_left = max(0, settings.code.max_attempts - item["attempts"])
            p.audit.write(p.audit.record("phone.changed", username, "wrong_code", caller,
                                         phone=item["phone"], attempts_left=attempts_left))
            raise InvalidCode(attempts_left=attempts_left)
        for attempt in range(RETRIES):
            account_item, numbers_item = p.dynamo.batch_get([
                p.accounts.key(username), (p.limits.table, {"key": numbers_key(username)})])
            account = self._account_of(item, account_item)
            numbers = p.limits.parse(numbers_key(username), numbers_item)
            now = p.now()
            self._within(numbers.events, settings.limits.numbers_per_account, now, username,
                         "numbers_per_account", caller)
            changed = replace(account, phone=item["phone"], lang=caller.lang,
                              version=account.version + 1)
            record = p.audit.record("phone.changed", username, "success", caller,
                                    phone=item["phone"],
                                    previous=phones.masked(account.phone) or "-")
            try:
                p.dynamo.transact([
                    p.accounts.save_op(changed, account.version),
                    p.challenges.use_op(pid, now, item["code_mac"]),
                    p.limits.record_op(numbers, settings.limits.numbers_per_account),
                    p.audit.op(record)])
                break
            except TransactionCancelled as cancelled:
                if cancelled.failed(1):
                    raise CodeExpired() from None
                if not (cancelled.conflict or cancelled.failed(0) or cancelled.failed(2)):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
        else:
            raise ServiceUnavailable()
        p.audit.emit(record)
        p.notifications.phone_changed(username, account.phone, item["phone"], p.clock.now(),
                                      caller.lang, caller)
        return {"phone": item["phone"]}
