"""pwreset: start with a username and the holder's own number, verify the SMS code, set a
new password (SPEC 2, 4–6, 11).

Unknown usernames and numbers that are no holder's travel exactly the same path as a
holder's: the account is read in the same batch as the limits, a challenge is stored, the
number's and the account's SMS logs are read, the same puts as their records are written
(to items beside them when nothing is sent) and a message is queued; the
SMS worker, not the API, looks up the holder's number and drops a message that names none.
So nothing in a response, its shape or its timing, says whether an account exists or whose
a number is. The code SMS limits are per (username, number) and per account (SPEC 5 v3):
only a code sent counts, so a number that is no holder's, which never gets an SMS, counts
only against the client network, and a stranger's starts never use up a holder's codes.

A challenge whose number was no holder's never yields a token, and its wrong codes count
only against the client network (the per-network verify limit), never the account's: nobody
without a holder's number can pause the account's reset (SPEC 11). They are answered as a
holder's are in every state: where a holder's wrong code is reserved on the username's
counter, theirs is the same conditional update, counting nothing, that is refused while the
reset is paused (`Counters.unlocked_check`). From the verified code on, the holder is
known: the token, the password change, its audit record and the notices name them.

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
nonce: the completion (services/completion.py) refuses it if the holder's app was removed or
replaced since.

The SMS and the app are two `CodeChannel`s (ports.py, services/channels.py), picked per
request by the challenge's `channel`: each issues what a challenge stores and checks a code.
What a start or resend sends, counts and records is decided by `domain/sending.decide` from
what it read; `_send_code` reads, decides, and writes what was decided.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

from chalicelib.domain.limits import (CODE_SMS, CODE_SMS_ACCOUNT, CODE_SMS_RESET, RESENDS,
                                      RESET_STARTS, VERIFIES, WRONG_CODES, Counter, LimitLog)
from chalicelib.domain import codes, phone as phones
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.errors import (ChallengeExpired, InvalidCode, InvalidPhone,
                                      InvalidRequest, PhoneNotAllowed, ResendTooSoon,
                                      ServiceUnavailable, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.holders import Holder
from chalicelib.domain.records import CODE_CHANNELS, SMS, ResetChallenge, ResetToken
from chalicelib.domain.sending import Seen, Sending, decide
from chalicelib.ports import Clock, CodeChannel, Conflict, Item, Refused
from chalicelib.repositories.limits import Reservation
from chalicelib.repositories.records import NotTriable
from chalicelib.services.unit_of_work import TRIES, Attempt, Tx, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.code_sms import CodeSms
    from chalicelib.services.directory_unlock import DirectoryUnlock
    from chalicelib.services.refusals import Refusals
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

# the names of a reset's writes, as a refusal names them
CHALLENGE, TOKEN, REPLAY, PAUSE = "challenge", "token", "replay", "pause"
WRONG_CODES_BACK, NETWORK, SMS_LIMITS = "wrong codes", "network", "sms limits"
FIRST_REFUSAL = "first refusal"  # the window's first `ratelimit.exceeded` of the SMS limits
SMS_REFUSALS = "sms"  # the subject of that marker, with the username


def required_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(field=name)
    return value


def channel_of(raw: object) -> str:
    """Where the code is to come from: "sms" when not given, "sms" or "app" exactly, else
    400 invalid_request (SPEC 8 v2)."""
    if raw is None:
        return SMS
    if not isinstance(raw, str) or raw not in CODE_CHANNELS:
        raise InvalidRequest(field="channel")
    return raw


class _Replayed(Exception):
    """The app code's time step was accepted for the holder before (no replay, SPEC 12)."""


def holder_of(account: Account | None, phone: str | None, holder_id: str | None = None
              ) -> Holder | None:
    """The holder of `account` with that number (or id), if the account can be reset."""
    if account is None or account.disabled:
        return None
    for holder in account.holders:
        if (phone is not None and holder.phone == phone) or \
                (holder_id and holder.id == holder_id):
            return holder
    return None


@dataclass(frozen=True)
class _Sent:
    """A start's or resend's change, committed: the `code` to queue (None: no message),
    when, the SMS limit to note as refused, the holder the SMS goes to ("": none, the
    worker drops it), and whether it was counted on the SMS logs of `number_key`."""

    code: str | None
    now: float
    refused_limit: str | None
    holder_id: str
    counted: bool
    number_key: str


@dataclass(frozen=True, kw_only=True)
class Reset:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits  # counters (wrong codes, networks) and logs (the SMS limits)
    audit: Audit
    refusals: Refusals
    channels: Mapping[str, CodeChannel]  # by the name a challenge keeps (services/channels.py)
    code_sms: CodeSms
    unlocks: DirectoryUnlock  # verify's `directory_locked` (SPEC 16)

    def now(self) -> float:
        return self.clock.now().timestamp()

    # -- start and resend ------------------------------------------------------------------

    def start(self, raw_username: object, raw_phone: object, caller: Caller,
              channel: object = None) -> dict[str, Any]:
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
                                   expires_at=now, code_mac="", channel=chosen,
                                   number_key=self.limits.number_key(username, number))
        self._send_code(challenge, caller, first=True, phone=number)
        return self._answer(secret)

    def resend(self, raw_secret: object, caller: Caller) -> dict[str, Any]:
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

    def _per_network(self, counter: Counter, username: str | None, caller: Caller,
                     now: float) -> None:
        """Count the request against the client network's limit; 429 if it is spent."""
        decision = self.limits.reserve(counter, "", now, ip=caller.ip)
        if not decision.allowed:
            self.refusals.note(counter.setting, username, caller, decision.window,
                               who=counter.name, ip=caller.ip)
            raise TooManyRequests(retry_after=decision.retry_after)

    def _network_refused(self, counter: Counter, username: str, caller: Caller,
                         now: float) -> None:
        """A transaction's count on the network's limit was refused: 429, unless only old
        slices held the room (dropped now: the caller builds the transaction again)."""
        refusal = self.limits.refusal_of(counter, "", now, ip=caller.ip)
        if refusal is not None:
            self.refusals.note(counter.setting, username, caller, refusal.window,
                               who=counter.name, ip=caller.ip)
            raise TooManyRequests(retry_after=refusal.retry_after)

    def _answer(self, secret: str) -> dict[str, Any]:
        code = self.settings.code
        return {"challenge": secret, "expires_in": code.lifetime_seconds,
                "resend_after": code.resend_after_seconds}

    def _send_code(self, challenge: ResetChallenge, caller: Caller, first: bool,
                   phone: str | None = None) -> None:
        """Store the challenge with a fresh code and queue the SMS, unless a limit says no
        SMS now: then the challenge is stored (or kept) all the same, and nothing is sent.
        The last try sends nothing, so that it cannot lose to the SMS limit: never answer
        with a challenge that was not stored. A start names the holder by `phone`; a resend
        goes to the challenge's holder if they still are one. Each try reads, decides
        (domain/sending.py) and writes; the challenge's channel issues the code."""
        channel = self.channels[challenge.channel]
        sent = retrying(lambda try_: self._send_once(challenge, channel, caller, first, phone,
                                                     try_),
                        retryable=refused_by(SMS_LIMITS, NETWORK),
                        tries=TRIES + 1)
        if sent.code is not None:
            self._queue(challenge, sent.code, sent, caller, first)

    def _send_once(self, challenge: ResetChallenge, channel: CodeChannel, caller: Caller,
                   first: bool, phone: str | None, try_: Attempt) -> _Sent:
        username = challenge.username
        # the number's logs, a holder's or not (a challenge from before keys had none: "-")
        number_key = challenge.number_key or "-"
        now = self.now()
        found = self.uow.read(
            account=self.accounts.read(username),
            sms=self.limits.read(CODE_SMS, username, number_key),
            flow_sms=self.limits.read(CODE_SMS_RESET, username, number_key),
            account_sms=self.limits.read(CODE_SMS_ACCOUNT, username),
            pause=self.limits.lock_read(WRONG_CODES, username),
            refused_before=self.limits.refused_before(SMS_REFUSALS, username,
                                                      self._refusal_window(), now))
        holder = holder_of(found.account, phone if first else None,
                           None if first else challenge.holder_id)
        shared, flow = found.sms, found.flow_sms
        if holder and first:
            challenge = replace(challenge, holder_id=holder.id, holder_name=holder.name)
        issue = channel.issue(challenge, holder, now, self.settings.code.lifetime_seconds)
        sending = decide(Seen(
            first=first, holder=holder is not None, has_app=bool(holder and holder.app_nonce),
            by_sms=channel.sends, paused=found.pause.locked(now),
            per_flow=flow.decide(now), per_number=shared.decide(now),
            per_account=found.account_sms.decide(now), last_try=try_.last))
        self._write_sending(challenge, issue.challenge, sending,
                            (shared, flow, found.account_sms), holder, caller, now,
                            # the last try writes no marker, so that it cannot lose
                            found.refused_before or try_.last)
        return _Sent(issue.code if sending.queue else None, now, sending.refused_limit,
                     holder.id if holder and sending.send else "", sending.send, number_key)

    def _refusal_window(self) -> int:
        return self.settings.code.resend_after_seconds

    def _write_sending(self, challenge: ResetChallenge, issued: ResetChallenge,
                       sending: Sending, sms_logs: tuple[LimitLog, ...],
                       holder: Holder | None, caller: Caller, now: float,
                       refused_before: bool) -> None:
        """Write what `sending` says: the challenge (stored, or renewed, or kept), the
        counts, the trail. An SMS limit that held a holder's code back is noted
        (`ratelimit.exceeded`) in the same transaction, the window's first time only, so
        that a limited start makes no call that another start does not (issue 21)."""
        username = challenge.username
        refusal = self.audit.record("ratelimit.exceeded", username, "no_sms", caller,
                                    limit=sending.refused_limit) \
            if sending.refused_limit else None
        tx = self._sending_tx(challenge, issued, sending, sms_logs, holder, caller, now,
                              None if refused_before else refusal)
        try:
            try:
                tx.commit()
            except Refused as refused:
                if not refused.by_any(FIRST_REFUSAL):
                    raise
                # noted by a parallel start this window: the same change without the note
                # (its other writes were not refused), rather than a whole new try
                refused_before = True
                self._sending_tx(challenge, issued, sending, sms_logs, holder, caller, now,
                                 None).commit()
        except Refused as refused:
            if refused.by_any(CHALLENGE):  # resent or used since it was read
                raise ResendTooSoon(
                    retry_after=self.settings.code.resend_after_seconds) from None
            if refused.by_any(NETWORK):
                self._network_refused(RESENDS, username, caller, now)
            raise
        if refusal is not None and refused_before:
            self.audit.emit(refusal)  # once per window in the table; every time in the log

    def _sending_tx(self, challenge: ResetChallenge, issued: ResetChallenge,
                    sending: Sending, sms_logs: tuple[LimitLog, ...],
                    holder: Holder | None, caller: Caller, now: float,
                    refusal: Item | None) -> Tx:
        """The transaction of `_write_sending`, with the window's first note of `refusal`
        if given."""
        username = challenge.username
        tx = self.uow.begin()
        if not sending.resend:  # with no SMS (and always for the app), a code nobody knows
            tx.add(CHALLENGE, self.records.add(replace(issued, sent_at=now,
                                                       void=sending.void)))
        else:  # a resend counts against its network only if it happens
            tx.add(CHALLENGE, self.records.resent(challenge, issued, now, renew=sending.renew,
                                                  void=sending.void))
            tx.add_group(NETWORK, self.limits.counting_writes(RESENDS, "", now, ip=caller.ip))
        # The same writes whether or not the code is sent: counted on the logs, or the
        # same puts to items beside them (`touched`) that count nothing.
        if sending.queue:
            tx.add_group(SMS_LIMITS, [self.limits.record(log, now) if sending.send
                                      else self.limits.touched(log, now)
                                      for log in sms_logs])
        tx.record(self.audit.record(
            "reset.requested", username, sending.outcome, caller, channel=challenge.channel,
            resend=sending.resend, phone=holder.phone if holder else None,
            holder_id=holder.id if holder else None,
            holder_name=holder.name if holder else None))
        if sending.void:
            tx.record(self.audit.record("reset.paused", username, "no_sms", caller))
        if refusal is not None:  # once per window in the table (the marker's condition)
            tx.add(FIRST_REFUSAL, self.limits.first_refusal(
                SMS_REFUSALS, username, self._refusal_window(), now))
            tx.record(refusal)
        return tx

    def _queue(self, challenge: ResetChallenge, code: str, sent: _Sent, caller: Caller,
               first: bool) -> None:
        username = challenge.username
        try:
            # The worker looks the holder's number up (none: dropped, as an unknown
            # username's code is, or a code a limit held back), so this is the same work
            # whoever the number is and whatever the limits say.
            self.code_sms.send(code, caller, username=username, event="reset.code_sent",
                               holder=sent.holder_id)
        except ServiceUnavailable:
            # Saved but not on its way: a resend must be allowed again at once, and the SMS
            # must not count, so that the user's retry gets a code.
            if not first:
                try:
                    self.records.unsend(challenge, sent.now)
                except (Refused, ServiceUnavailable):
                    pass
            if sent.counted:
                self.code_sms.take_back(username, sent.number_key, sent.now, caller,
                                        CODE_SMS_RESET)
            raise

    # -- verify ----------------------------------------------------------------------------

    def verify(self, raw_secret: object, raw_code: object, caller: Caller
               ) -> dict[str, Any]:
        secret = required_text(raw_secret, "challenge")
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        code = raw_code.strip()
        now = self.now()
        self._per_network(VERIFIES, None, caller, now)
        challenge = self._spend_attempt(ResetChallenge.id_of(secret), caller, now)
        username = challenge.username
        if challenge.void:
            self._paused(challenge, caller)
        # The wrong code this may be is counted before it is compared: parallel guesses
        # cannot outrun the pause, and none goes uncounted. Refused while paused. Without a
        # holder it counts nowhere but on the network (SPEC 11 v3), by the same update that
        # counts nothing: answered as a holder's is, paused or not.
        reserved = self.limits.reserve(WRONG_CODES, username, now) if challenge.holder_id \
            else self.limits.unlocked_check(WRONG_CODES, username, now)
        if not reserved.allowed:
            self._paused(challenge, caller)
        attempts_left = max(0, self.settings.code.max_attempts - challenge.attempts)
        proof = self.channels[challenge.channel].check(challenge, code, now)
        outcome = proof.wrong if challenge.holder_id else "no_holder"
        if proof.right and challenge.holder_id:  # no holder: nobody was sent it, never right
            try:
                token = self._issue_token(challenge, reserved, caller, proof.step)
            except _Replayed:  # the app's code was used before: a wrong code
                outcome = "replayed"
            else:  # only a proven holder learns whether the directory locked the account
                return {**token, "directory_locked": self.unlocks.locked(username, caller)}
        self._count_wrong_code(reserved, attempts_left, caller,
                               username=username, holder=bool(challenge.holder_id),
                               outcome=outcome, channel=challenge.channel)
        raise InvalidCode(attempts_left=attempts_left)

    def _spend_attempt(self, challenge_id: str, caller: Caller, now: float) -> ResetChallenge:
        """One attempt spent on the challenge before its code is compared; 410 (and the
        reason in its username's trail) when it cannot be tried."""
        try:
            challenge = self.records.spend_attempt(ResetChallenge, challenge_id, now,
                                                   self.settings.code.max_attempts)
        except NotTriable as refused:
            if refused.record:
                self.audit.write(self.audit.record(
                    "reset.code_failed", refused.record.username, refused.why, caller,
                    channel=refused.record.channel))
            raise ChallengeExpired() from None
        if challenge is None:
            raise ChallengeExpired()
        return challenge

    def _paused(self, challenge: ResetChallenge, caller: Caller) -> NoReturn:
        """The answer to every code, right or wrong, while the username is paused: the code
        is not compared, and the challenge is void for good."""
        tx = self.uow.begin()
        tx.add(CHALLENGE, self.records.void(challenge))
        tx.record(self.audit.record("reset.code_failed", challenge.username, "paused", caller,
                                     channel=challenge.channel))
        try:
            tx.commit()
        except (Refused, Conflict):
            raise ServiceUnavailable() from None
        raise ChallengeExpired()

    def _issue_token(self, challenge: ResetChallenge, reserved: Reservation,
                     caller: Caller, step: int | None = None) -> dict[str, Any]:
        """The reset token for a right code; for an app's code (`step`), in the same write
        that notes the step as accepted for the holder: _Replayed if it was before."""
        username = challenge.username
        secret = codes.new_secret()
        now = self.now()
        lifetime = self.settings.reset_token_seconds
        tx = self.uow.begin()
        tx.add(CHALLENGE, self.records.use(challenge, now))
        tx.add(TOKEN, self.records.add(ResetToken(
            ResetToken.id_of(secret), username, expires_at=now + lifetime,
            holder_id=challenge.holder_id, holder_name=challenge.holder_name,
            app_nonce=challenge.app_nonce if step is not None else "")))
        if step is not None:
            tx.add(REPLAY, self.records.accepted_step(challenge.holder_id, step))
        # A right code is no wrong code: its reservation goes back, in the same write that
        # checks the pause again (paused while the code was compared: no token).
        returned = self.limits.returned(reserved, now)
        tx.add(PAUSE, returned.if_unlocked)
        tx.add_group(WRONG_CODES_BACK, returned.others)
        tx.record(self.audit.record("reset.code_verified", username, "success", caller,
                                     channel=challenge.channel,
                                     holder_id=challenge.holder_id,
                                     holder_name=challenge.holder_name))
        try:
            tx.commit()
        except Refused as refused:
            if refused.by_any(PAUSE):
                self._paused(challenge, caller)
            if refused.by_any(REPLAY):
                raise _Replayed() from None
            raise ChallengeExpired() from None  # used in parallel
        except Conflict:
            raise ServiceUnavailable() from None
        return {"reset_token": secret, "username": username, "expires_in": lifetime}

    def _count_wrong_code(self, reserved: Reservation, attempts_left: int,
                          caller: Caller, username: str, holder: bool, outcome: str,
                          channel: str) -> None:
        """The wrong code is counted already (its reservation, when the challenge named a
        holder); record it, and pause the username's reset if it filled the counter (a
        holderless challenge's check never fills it). If even that cannot be written, 503:
        the counter still holds the failure."""
        limits = self.settings.limits

        def attempt(_: Attempt) -> None:
            now = self.now()
            tx = self.uow.begin()
            tx.record(self.audit.record("reset.code_failed", username, outcome, caller,
                                         channel=channel, attempts_left=attempts_left))
            if reserved.filled:
                tx.add(PAUSE, self.limits.locked_until(
                    WRONG_CODES, username, now + limits.reset_pause_seconds))
                tx.record(self.audit.record("reset.paused", username, "paused", caller))
            tx.commit()
        retrying(attempt)
