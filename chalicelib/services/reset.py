"""pwreset: start with a username, verify the SMS code, set a new password (SPEC 2, 4–6).

Unknown usernames travel exactly the same path as known ones: a challenge is stored, the
per-username limits are counted and a message is queued; the SMS worker, not the API, is
what finds out whether there is a number to send to. So nothing in a response, its shape
or its timing, says whether an account exists.
"""
from __future__ import annotations

import math
from dataclasses import replace

from chalicelib.adapters import sms
from chalicelib.adapters.challenges import reset_id, token_id, why_refused
from chalicelib.adapters.dynamo import ConditionFailed, TransactionCancelled, update_op
from chalicelib.adapters.limits import ip_subject
from chalicelib.adapters.passwords import in_history
from chalicelib.domain import codes, policy
from chalicelib.domain.account import normalise_username
from chalicelib.domain.errors import (ChallengeExpired, InvalidCode, InvalidRequest,
                                      PasswordRejected, ResendTooSoon, ServiceUnavailable,
                                      TokenExpired, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.limits import decide, recent
from chalicelib.messages import text
from chalicelib.services.contention import RETRIES, back_off

CHALLENGE_SECONDS = 3600  # how long "Skicka ny kod" keeps working on one challenge


def sms_log_key(username: str) -> str:
    return f"sms#{username}"


def wrong_codes_key(username: str) -> str:
    return f"wrongcode#{username}"


def login_failures_key(username: str) -> str:
    return f"loginfail#{username}"


def required_text(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(field=name)
    return value


class Reset:
    def __init__(self, portal):
        self.p = portal

    # -- start and resend ------------------------------------------------------------------

    def start(self, raw_username, caller: Caller) -> dict:
        username = normalise_username(raw_username)
        p, limits = self.p, self.p.settings.limits
        decision = p.limits.hit("ip-reset", ip_subject(caller.ip), limits.reset_starts_per_ip)
        if not decision.allowed:
            p.audit.write(p.audit.record("ratelimit.exceeded", username, "refused", caller,
                                         limit="reset_starts_per_ip"))
            raise TooManyRequests(retry_after=decision.retry_after)
        challenge = codes.new_secret()
        cid = reset_id(challenge)
        now = p.now()
        item = {"id": cid, "kind": "reset", "username": username, "attempts": 0,
                "used": False, "created_at": now, "lang": caller.lang,
                "ttl": int(now + CHALLENGE_SECONDS + 60)}
        self._send_code(item, caller, first=True)
        return self._challenge_answer(challenge)

    def resend(self, raw_challenge, caller: Caller) -> dict:
        challenge = required_text(raw_challenge, "challenge")
        cid = reset_id(challenge)
        item = self.p.challenges.get(cid)
        now = self.p.now()
        if (not item or item.get("kind") != "reset" or item.get("used")
                or now > item["created_at"] + CHALLENGE_SECONDS
                or item["attempts"] >= self.p.settings.code.max_attempts):
            raise ChallengeExpired()
        wait = item["sent_at"] + self.p.settings.code.resend_after_seconds - now
        if wait > 0:
            raise ResendTooSoon(retry_after=math.ceil(wait))
        self._send_code(item, caller, first=False)
        return self._challenge_answer(challenge)

    def _challenge_answer(self, challenge: str) -> dict:
        code = self.p.settings.code
        return {"challenge": challenge, "expires_in": code.lifetime_seconds,
                "resend_after": code.resend_after_seconds}

    def _send_code(self, item: dict, caller: Caller, first: bool) -> None:
        """Store the challenge with a fresh code and queue the SMS, unless a limit says no
        SMS now: then the challenge is stored (or kept) all the same, and nothing is sent."""
        p, settings = self.p, self.p.settings
        username = item["username"]
        rules = settings.limits.sms_per_username
        for attempt in range(RETRIES + 1):
            sms_log, pause = (p.limits.parse(key, found) for key, found in zip(
                (sms_log_key(username), wrong_codes_key(username)),
                p.dynamo.batch_get([(p.limits.table, {"key": sms_log_key(username)}),
                                    (p.limits.table, {"key": wrong_codes_key(username)})])))
            now = p.now()
            paused = pause.locked(now)
            allowed = decide(sms_log.events, rules, now).allowed
            send = allowed and not paused and attempt < RETRIES
            code = codes.new_code()
            records = [p.audit.record("reset.requested", username,
                                      "code_queued" if send else "no_sms", caller,
                                      resend=not first)]
            if paused:
                records.append(p.audit.record("reset.paused", username, "no_sms", caller))
            elif not allowed:
                records.append(p.audit.record("ratelimit.exceeded", username, "no_sms", caller,
                                              limit="sms_per_username"))
            ops = [self._challenge_op(item, code, now, send, first)]
            ops += [p.audit.op(record) for record in records]
            if send:
                ops.append(p.limits.record_op(sms_log, rules))
            try:
                p.dynamo.transact(ops)
                break
            except TransactionCancelled as cancelled:
                if not first and cancelled.failed(0):
                    raise ResendTooSoon(retry_after=settings.code.resend_after_seconds)
                if not (cancelled.conflict or (send and cancelled.failed(len(ops) - 1))):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
        else:
            # Not even the SMS-less write went through: never answer with a challenge that
            # was not stored.
            raise ServiceUnavailable()
        for record in records:
            p.audit.emit(record)
        if send:
            body = text("sms.code", caller.lang, code=code, host=settings.portal_host,
                        minutes=settings.code.lifetime_seconds // 60)
            try:
                p.queue.send(sms.message("code", body, username=username,
                                         event="reset.code_sent", lang=caller.lang))
            except ServiceUnavailable:
                self._not_queued(item, now, first, caller)
                raise

    def _not_queued(self, item: dict, now: float, first: bool, caller: Caller) -> None:
        """The challenge was saved but its SMS could not be queued: the SMS must not count
        against the limits, and a resend must be allowed again at once, so that the user's
        retry gets a code. (A first challenge is simply never answered with.)"""
        p = self.p
        p.limits.forget(sms_log_key(item["username"]), now)
        if not first:
            try:
                p.dynamo.update(p.challenges.table, {"id": item["id"]}, "SET sent_at = :old",
                                condition="sent_at = :now",
                                values={":old": item["sent_at"], ":now": now})
            except (ConditionFailed, ServiceUnavailable):
                pass
        p.audit.write_if_possible(p.audit.record("sms.failed", item["username"], "not_queued",
                                                 caller, kind="code"))

    def _challenge_op(self, item: dict, code: str, now: float, send: bool, first: bool) -> dict:
        p = self.p
        mac = codes.code_mac(p.secrets.code_key, item["id"], code)
        expires = now + p.settings.code.lifetime_seconds
        if first:
            # With no SMS, the stored code is one nobody was ever told.
            return p.challenges.put_op({**item, "code_mac": mac, "sent_at": now,
                                        "expires_at": expires})
        if send:
            return update_op(p.challenges.table, {"id": item["id"]},
                             "SET code_mac = :mac, sent_at = :now, expires_at = :exp",
                             condition="sent_at = :sent AND used = :false",
                             values={":mac": mac, ":now": now, ":exp": expires,
                                     ":sent": item["sent_at"], ":false": False})
        # Limited resend: the code that was sent before stays the valid one.
        return update_op(p.challenges.table, {"id": item["id"]}, "SET sent_at = :now",
                         condition="sent_at = :sent AND used = :false",
                         values={":now": now, ":sent": item["sent_at"], ":false": False})

    # -- verify ----------------------------------------------------------------------------

    def verify(self, raw_challenge, raw_code, caller: Caller) -> dict:
        challenge = required_text(raw_challenge, "challenge")
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        code = raw_code.strip()
        p, settings = self.p, self.p.settings
        cid = reset_id(challenge)
        now = p.now()
        try:
            item = p.challenges.reserve_attempt(cid, settings.code.max_attempts, now)
        except ConditionFailed as refused:
            if refused.item and refused.item.get("kind") == "reset":
                p.audit.write(p.audit.record(
                    "reset.code_failed", refused.item["username"],
                    why_refused(refused.item, settings.code.max_attempts, now), caller))
            raise ChallengeExpired() from None
        username = item["username"]
        if item.get("kind") != "reset":
            raise ChallengeExpired()
        attempts_left = max(0, settings.code.max_attempts - item["attempts"])
        if codes.looks_like_code(code) and codes.code_matches(p.secrets.code_key, cid, code,
                                                              item["code_mac"]):
            return self._issue_token(item, caller)
        self._count_wrong_code(username, attempts_left, caller)
        raise InvalidCode(attempts_left=attempts_left)

    def _issue_token(self, item: dict, caller: Caller) -> dict:
        p, settings = self.p, self.p.settings
        username = item["username"]
        token = codes.new_secret()
        now = p.now()
        record = p.audit.record("reset.code_verified", username, "success", caller)
        try:
            p.dynamo.transact([
                p.challenges.use_op(item["id"], now, item["code_mac"]),
                p.challenges.put_op({"id": token_id(token), "kind": "token",
                                     "username": username, "used": False,
                                     "expires_at": now + settings.reset_token_seconds,
                                     "ttl": int(now + settings.reset_token_seconds + 60)}),
                p.limits.unlocked_op(wrong_codes_key(username)),
                p.audit.op(record),
            ])
        except TransactionCancelled as cancelled:
            if cancelled.failed(0) or cancelled.failed(2):
                raise ChallengeExpired() from None
            raise ServiceUnavailable() from cancelled
        p.audit.emit(record)
        return {"reset_token": token, "username": username,
                "expires_in": settings.reset_token_seconds}

    def _count_wrong_code(self, username: str, attempts_left: int, caller: Caller) -> None:
        p, limits = self.p, self.p.settings.limits
        rules = limits.wrong_codes_per_username
        key = wrong_codes_key(username)
        for attempt in range(RETRIES):
            log = p.limits.read(key)
            now = p.now()
            pause = not decide(recent(log.events, rules, now) + [now], rules, now).allowed
            until = now + limits.reset_pause_seconds if pause and not log.locked(now) else 0.0
            records = [p.audit.record("reset.code_failed", username, "wrong_code", caller,
                                      attempts_left=attempts_left)]
            if until:
                records.append(p.audit.record("reset.paused", username, "paused", caller))
            try:
                p.dynamo.transact([p.limits.record_op(log, rules, until=until)]
                                  + [p.audit.op(record) for record in records])
                break
            except TransactionCancelled as cancelled:
                if not (cancelled.conflict or cancelled.failed(0)):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
        else:
            # Under heavy contention the attempt is still spent on the code itself.
            records = [p.audit.record("reset.code_failed", username, "not_counted", caller)]
        for record in records:
            p.audit.emit(record)

    # -- complete --------------------------------------------------------------------------

    def complete(self, raw_token, password, caller: Caller) -> dict:
        token = required_text(raw_token, "reset_token")
        if not isinstance(password, str):
            raise InvalidRequest(field="password")
        p, settings = self.p, self.p.settings
        tid = token_id(token)
        for attempt in range(RETRIES):
            now = p.now()
            item = p.challenges.get(tid)
            if not item or item.get("kind") != "token" or item["used"] \
                    or item["expires_at"] <= now:
                raise TokenExpired()
            username = item["username"]
            account = p.accounts.get(username)
            if not account or account.disabled:
                raise TokenExpired()
            broken = policy.violations(password, username, settings.policy)
            fingerprint = None
            if "max_length" not in broken:  # never spend argon2 on an oversized password
                fingerprint = p.hasher.fingerprint(password, bytes.fromhex(account.history_salt))
                if in_history(fingerprint, account.history[:settings.policy.history]):
                    broken = policy.violations(password, username, settings.policy,
                                               reused=True)
            if broken:
                p.audit.write(p.audit.record("password.rejected", username, "rejected", caller,
                                             rules=broken))
                raise PasswordRejected(broken)
            changed = replace(account.with_password(p.hasher.hash(password), fingerprint,
                                                    settings.policy.history, p.clock.now(),
                                                    settings.policy.max_age_days),
                              lang=caller.lang)
            record = p.audit.record("password.changed", username, "success", caller,
                                    via="reset")
            try:
                p.dynamo.transact([
                    p.accounts.save_op(changed, account.version),
                    p.challenges.use_op(tid, now),
                    p.limits.clear_op(login_failures_key(username)),
                    p.audit.op(record),
                ])
                break
            except TransactionCancelled as cancelled:
                if cancelled.failed(1):
                    raise TokenExpired() from None
                if not (cancelled.failed(0) or cancelled.conflict):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
        else:
            raise ServiceUnavailable()
        p.audit.emit(record)
        p.notifications.password_changed(username, changed.password_changed_at, caller.lang,
                                         caller)
        return {"changed": True, "username": username}
