"""pwreset: start with a username and the holder's own number, verify the SMS code (SPEC 2,
4–6, 11); the new password is services/completion.py's.

Unknown usernames and numbers that are no holder's travel exactly the same path as a
holder's: the account is read in the same batch as the limits, a challenge is stored, SMS
limits are counted and a message is queued; the SMS worker, not the API, looks up the
holder's number and drops a message that names none. So nothing in a response, its shape
or its timing, says whether an account exists or whose a number is. Without a holder the
SMS limits counted are a stand-in subject's (`~username`), so a stranger's starts never use
up the codes of the account's holders.

A challenge whose number was no holder's never yields a token, and its wrong codes are
counted on the stand-in's counter, never the account's: nobody without a holder's number
can pause the account's reset (SPEC 11). From the verified code on, the holder is known:
the token, the password change, its audit record and the notices name them.

A wrong code is counted before the code is compared: `verify` reserves one event on the
username's wrong-code counter (repositories/limits.py), and the reservation that fills it pauses
the reset. While paused, every code gets the same answer without being compared, and the
challenge is made void: a challenge created or tried during a pause never yields a token,
also after the pause. The token is issued in a transaction that checks the pause again.

The authenticator app (SPEC 12, `channel: "app"` on start): the same path with no SMS. A
start (or resend) reads what an SMS start reads and writes the same kind of records for every
username and number, queues nothing and counts no SMS limit; the challenge names the holder
the number is, and the nonce their app's secret derives from (`app_nonce`), so that verify
needs no read of the account. Verify compares the code with the app's codes of the time step
before, at and after now (domain/authenticator.py), and a right code gives its token in the
transaction that also notes the step as accepted for that holder (`Records.accepted_step`):
a step once accepted, by a reset or by the enrolment, is refused ever after, and a refused
one is answered and counted as a wrong code (`replayed` in the trail). A holder without an
app gets a challenge that never yields a token, whose wrong codes count against the account
as any holder's do: only someone with a holder's number reaches that counter (SPEC 11), and
the pause comes alike whether or not the holder has an app. The token carries the app's
nonce: the completion (services/completion.py) refuses it if the holder's app was removed or replaced since.
"""
from __future__ import annotations

import math
from dataclasses import replace

from chalicelib.domain.limits import (CODE_SMS, CODE_SMS_RESET, RESENDS, RESET_STARTS,
                                      VERIFIES, WRONG_CODES)
from chalicelib.repositories.limits import Reservation
from chalicelib.domain import authenticator, codes, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.errors import (ChallengeExpired, InvalidCode, InvalidPhone,
                                      InvalidRequest, PhoneNotAllowed, ResendTooSoon,
                                      ServiceUnavailable, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.records import (APP, CHANNELS, SMS, ResetChallenge, ResetToken,
                                       why_not_triable)
from chalicelib.ports import Conflict, Refused
from chalicelib.services.code_flow import CodeFlow
from chalicelib.services.unit_of_work import TRIES, retrying


def required_text(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(field=name)
    return value


def channel_of(raw) -> str:
    """Where the code is to come from: "sms" when not given, "sms" or "app" exactly, else
    400 invalid_request (SPEC 8 v2)."""
    if raw is None:
        return SMS
    if not isinstance(raw, str) or raw not in CHANNELS:
        raise InvalidRequest(field="channel")
    return raw


class _Replayed(Exception):
    """The app code's time step was accepted for the holder before (no replay, SPEC 12)."""


def stand_in(username: str) -> str:
    """The subject whose limits a start without a holder counts: never a username (SPEC 8)."""
    return "~" + username


def holder_of(account: Account | None, phone: str | None, holder_id: str | None = None):
    """The holder of `account` with that number (or id), if the account can be reset."""
    if account is None or account.disabled:
        return None
    for holder in account.holders:
        if (phone is not None and holder.phone == phone) or \
                (holder_id and holder.id == holder_id):
            return holder
    return None


class Reset(CodeFlow):
    # -- start and resend ------------------------------------------------------------------

    def start(self, raw_username, raw_phone, caller: Caller, channel=None) -> dict:
        """A challenge for `username` and the holder's number; the code by SMS, or (channel
        "app") from the holder's authenticator app, with no SMS. 202 alike in every case."""
        username = normalise_username(raw_username)
        if not isinstance(raw_phone, str):
            raise InvalidRequest(field="phone")
        try:  # no holder has a number that is not an allowed mobile number
            number = phones.parse(raw_phone, self.settings.allowed_countries)
        except (InvalidPhone, PhoneNotAllowed):
            raise InvalidRequest(field="phone") from None
        chosen = channel_of(channel)  # before anything is counted
        now = self.now()
        self._per_network(RESET_STARTS, username, caller, now)
        secret = codes.new_secret()
        challenge = ResetChallenge(id=ResetChallenge.id_of(secret), username=username,
                                   lang=caller.lang, created_at=now, sent_at=now,
                                   expires_at=now, code_mac="", channel=chosen)
        self._send_code(challenge, caller, first=True, phone=number)
        return self._answer(secret)

    def resend(self, raw_secret, caller: Caller) -> dict:
        secret = required_text(raw_secret, "challenge")
        code = self.settings.code
        challenge = self.records.get(ResetChallenge, ResetChallenge.id_of(secret))
        now = self.now()
        if not challenge or not challenge.open_for_resend(now, code.max_attempts):
            raise ChallengeExpired()
        wait = challenge.sent_at + code.resend_after_seconds - now
        if wait > 0:
            raise ResendTooSoon(retry_after=math.ceil(wait))
        self._send_code(challenge, caller, first=False)
        return self._answer(secret)

    def _per_network(self, counter, username: str | None, caller: Caller, now: float):
        """Count the request against the client network's limit; 429 if it is spent."""
        decision = self.limits.hit(counter, "", now, ip=caller.ip)
        if not decision.allowed:
            self.note_refusal(counter.setting, username, caller, decision.window,
                              who=counter.name, ip=caller.ip)
            raise TooManyRequests(retry_after=decision.retry_after)

    def _network_refused(self, counter, username: str, caller: Caller, now: float):
        """A transaction's count on the network's limit was refused: 429, unless only old
        slices held the room (dropped now: the caller builds the transaction again)."""
        refusal = self.limits.refusal_of(counter, "", now, ip=caller.ip)
        if refusal is not None:
            self.note_refusal(counter.setting, username, caller, refusal.window,
                              who=counter.name, ip=caller.ip)
            raise TooManyRequests(retry_after=refusal.retry_after)

    def _answer(self, secret: str) -> dict:
        code = self.settings.code
        return {"challenge": secret, "expires_in": code.lifetime_seconds,
                "resend_after": code.resend_after_seconds}

    def _send_code(self, challenge: ResetChallenge, caller: Caller, first: bool,
                   phone: str | None = None) -> None:
        """Store the challenge with a fresh code and queue the SMS, unless a limit says no
        SMS now: then the challenge is stored (or kept) all the same, and nothing is sent.
        The last try sends nothing, so that it cannot lose to the SMS limit: never answer
        with a challenge that was not stored. A start names the holder by `phone`; a resend
        goes to the challenge's holder if they still are one.

        An app challenge (SPEC 12) makes the same reads and the same kind of writes with no
        SMS and no SMS limit counted: it notes the holder's app as it is (none: ""), and a
        resend of it renews the challenge's time as a resent code would."""
        username = challenge.username
        app = challenge.channel == APP

        def attempt(try_):
            (account, sms_log, flow_log, other_sms_log, other_flow_log,
             pause) = self.uow.read(
                self.accounts.read(username),
                self.limits.read(CODE_SMS, username), self.limits.read(CODE_SMS_RESET, username),
                self.limits.read(CODE_SMS, stand_in(username)),
                self.limits.read(CODE_SMS_RESET, stand_in(username)),
                self.limits.lock_read(WRONG_CODES, username))
            holder = holder_of(account, phone if first else None,
                               None if first else challenge.holder_id)
            if holder is None:  # the same writes, on the stand-in's limits
                sms_log, flow_log = other_sms_log, other_flow_log
            now = self.now()
            paused = pause.locked(now)
            limited = None if app else next(
                (name for name, log in (("sms_per_flow", flow_log),
                                        ("sms_per_username", sms_log))
                 if not log.decide(now).allowed), None)
            allowed = limited is None
            send = not app and allowed and not paused and not try_.last
            code = codes.new_code()
            named = challenge
            if holder and first:
                named = replace(named, holder_id=holder.id, holder_name=holder.name)
            if app:
                named = replace(named, app_nonce=holder.app_nonce if holder else "")
            tx = self.uow.begin()
            tx.add("challenge", self._challenge_write(named, code, now,
                                                      send or (app and not paused), first,
                                                      void=paused))
            if not first:  # a resend counts against its network only if it happens
                for n, write in enumerate(self.limits.counting_writes(RESENDS, "", now,
                                                                      ip=caller.ip)):
                    tx.add(f"network {n}", write)
            if send:
                tx.add("sms limit", self.limits.record(sms_log, now))
                tx.add("flow sms limit", self.limits.record(flow_log, now))
            if holder is None:
                outcome = "no_holder"
            elif app:
                outcome = "app" if holder.app_nonce else "no_app"
            else:
                outcome = "code_queued" if send else "no_sms"
            tx.record(self.audit.record(
                "reset.requested", username, outcome, caller, channel=challenge.channel,
                resend=not first, phone=holder.phone if holder else None,
                holder_id=holder.id if holder else None,
                holder_name=holder.name if holder else None))
            if paused:
                tx.record(self.audit.record("reset.paused", username, "no_sms", caller))
            try:
                tx.commit()
            except Refused as refused:
                if refused.by == "challenge":  # resent or used since it was read
                    raise ResendTooSoon(
                        retry_after=self.settings.code.resend_after_seconds) from None
                if refused.by.startswith("network"):
                    self._network_refused(RESENDS, username, caller, now)
                raise
            return ((code if send else None), now, (None if paused or not holder else limited),
                    holder.id if holder else "")

        code, now, limited, holder_id = retrying(
            attempt, retryable=lambda refused: refused.by in ("sms limit", "flow sms limit")
            or refused.by.startswith("network"), tries=TRIES + 1)
        if limited:
            self.note_refusal(limited, username, caller,
                              self.settings.code.resend_after_seconds, outcome="no_sms")
        if code is None:
            return
        try:
            # The worker looks the holder's number up (none: dropped, as an unknown
            # username's code is), so this is the same work whoever the number is.
            self.code_sms.send(code, caller, username=username, event="reset.code_sent",
                               holder=holder_id)
        except ServiceUnavailable:
            # Saved but not on its way: a resend must be allowed again at once, and the SMS
            # must not count, so that the user's retry gets a code.
            if not first:
                try:
                    self.records.unsend(challenge, now)
                except (Refused, ServiceUnavailable):
                    pass
            self.code_sms.take_back(username, now, caller, CODE_SMS_RESET)
            raise

    def _challenge_write(self, challenge: ResetChallenge, code: str, now: float, renew: bool,
                         first: bool, void: bool):
        mac = codes.code_mac(self.code_key(), challenge.id, code)
        expires = now + self.settings.code.lifetime_seconds
        if first:
            # With no SMS (and always for the app), the stored code is one nobody was told.
            return self.records.add(replace(challenge, code_mac=mac, sent_at=now,
                                             expires_at=expires, void=void))
        app_nonce = challenge.app_nonce if challenge.channel == APP else None
        if renew:
            return self.records.resent(challenge, now, code_mac=mac, expires_at=expires,
                                       app_nonce=app_nonce)
        # the code sent before stays valid (unless paused: then nothing from it ever is)
        return self.records.resent(challenge, now, void=void, app_nonce=app_nonce)

    # -- verify ----------------------------------------------------------------------------

    def verify(self, raw_secret, raw_code, caller: Caller) -> dict:
        secret = required_text(raw_secret, "challenge")
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        code = raw_code.strip()
        max_attempts = self.settings.code.max_attempts
        cid = ResetChallenge.id_of(secret)
        now = self.now()
        self._per_network(VERIFIES, None, caller, now)
        try:
            challenge = self.records.spend_attempt(ResetChallenge, cid, now, max_attempts)
        except Refused as refused:
            if refused.item and refused.item.get("kind") == ResetChallenge.KIND:
                self.audit.write(self.audit.record(
                    "reset.code_failed", refused.item["username"],
                    why_not_triable(refused.item, now, max_attempts), caller,
                    channel=refused.item.get("channel", SMS)))
            raise ChallengeExpired() from None
        if challenge is None:
            raise ChallengeExpired()
        username = challenge.username
        if challenge.void:
            self._paused(challenge, caller)
        # The wrong code this may be is counted before it is compared: parallel guesses
        # cannot outrun the pause, and none goes uncounted. Refused while paused. Without a
        # holder, on the stand-in's counter: such codes never pause the account (SPEC 11).
        subject = username if challenge.holder_id else stand_in(username)
        reserved = self.limits.reserve(WRONG_CODES, subject, now)
        if not reserved.allowed:
            self._paused(challenge, caller)
        attempts_left = max(0, max_attempts - challenge.attempts)
        step = None
        if challenge.channel == APP:
            step = self._app_step(challenge, code, now)
            matches = step is not None and bool(challenge.app_nonce)
        else:
            matches = codes.looks_like_code(code) and codes.code_matches(
                self.code_key(), cid, code, challenge.code_mac)
        outcome = ("no_holder" if not challenge.holder_id else
                   "no_app" if challenge.channel == APP and not challenge.app_nonce else
                   "wrong_code")
        if matches and challenge.holder_id:  # no holder: nobody was sent it, never right
            try:
                return self._issue_token(challenge, reserved, caller, step)
            except _Replayed:  # the app's code was used before: a wrong code
                outcome = "replayed"
        self._count_wrong_code(subject, reserved, attempts_left, caller,
                               username=username, holder=bool(challenge.holder_id),
                               outcome=outcome, channel=challenge.channel)
        raise InvalidCode(attempts_left=attempts_left)

    def _app_step(self, challenge: ResetChallenge, code: str, now: float) -> int | None:
        """The time step `code` is right for by the app of the challenge's holder (SPEC 12),
        None if it is for none. Without an app (no holder, or a holder without one) the code
        is compared all the same, with a secret nobody has: the same work in every case."""
        secret = authenticator.secret_for(self.authenticator_key(),
                                          challenge.app_nonce or "~" + challenge.id)
        if not codes.looks_like_code(code):
            return None
        return authenticator.accepted_step(secret, code, now)

    def _paused(self, challenge: ResetChallenge, caller: Caller):
        """The answer to every code, right or wrong, while the username is paused: the code
        is not compared, and the challenge is void for good."""
        tx = self.uow.begin()
        tx.add("challenge", self.records.void(challenge))
        tx.record(self.audit.record("reset.code_failed", challenge.username, "paused", caller,
                                     channel=challenge.channel))
        try:
            tx.commit()
        except (Refused, Conflict):
            raise ServiceUnavailable() from None
        raise ChallengeExpired()

    def _issue_token(self, challenge: ResetChallenge, reserved: Reservation,
                     caller: Caller, step: int | None = None) -> dict:
        """The reset token for a right code; for an app's code (`step`), in the same write
        that notes the step as accepted for the holder: _Replayed if it was before."""
        username = challenge.username
        secret = codes.new_secret()
        now = self.now()
        lifetime = self.settings.reset_token_seconds
        tx = self.uow.begin()
        tx.add("challenge", self.records.use(challenge, now))
        tx.add("token", self.records.add(ResetToken(
            ResetToken.id_of(secret), username, expires_at=now + lifetime,
            holder_id=challenge.holder_id, holder_name=challenge.holder_name,
            app_nonce=challenge.app_nonce if step is not None else "")))
        if step is not None:
            tx.add("replay", self.records.accepted_step(challenge.holder_id, step))
        # A right code is no wrong code: its reservation goes back, in the same write that
        # checks the pause again (paused while the code was compared: no token).
        returned = self.limits.returned(reserved, now)
        tx.add("pause", returned[0])
        for n, update in enumerate(returned[1:]):
            tx.add(f"wrong codes {n}", update)
        tx.record(self.audit.record("reset.code_verified", username, "success", caller,
                                     channel=challenge.channel,
                                     holder_id=challenge.holder_id,
                                     holder_name=challenge.holder_name))
        try:
            tx.commit()
        except Refused as refused:
            if refused.by == "pause":
                self._paused(challenge, caller)
            if refused.by == "replay":
                raise _Replayed() from None
            raise ChallengeExpired() from None  # used in parallel
        except Conflict:
            raise ServiceUnavailable() from None
        return {"reset_token": secret, "username": username, "expires_in": lifetime}

    def _count_wrong_code(self, subject: str, reserved: Reservation, attempts_left: int,
                          caller: Caller, username: str, holder: bool, outcome: str,
                          channel: str) -> None:
        """The wrong code is counted already (its reservation, on `subject`); record it,
        and pause `subject` if it filled the counter: the username's reset when the
        challenge named a holder, else only the stand-in's (`stand_in`). If even that
        cannot be written, 503: the counter still holds the failure."""
        limits = self.settings.limits

        def attempt(_):
            now = self.now()
            tx = self.uow.begin()
            tx.record(self.audit.record("reset.code_failed", username, outcome, caller,
                                         channel=channel, attempts_left=attempts_left))
            if reserved.filled:
                tx.add("pause", self.limits.locked_until(
                    WRONG_CODES, subject, now + limits.reset_pause_seconds))
                if holder:
                    tx.record(self.audit.record("reset.paused", username, "paused", caller))
            tx.commit()
        retrying(attempt)
