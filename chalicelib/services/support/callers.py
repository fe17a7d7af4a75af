"""Codes read out over the phone to a console agent (SPEC 14): the caller's, which proves
they are a holder of the account, and a new holder's, which proves their number.

`start` sends a code to the chosen holder's number (an SMS within SPEC 5's limits of that
number and of the account) or, for the holder's app, sends nothing: the caller reads the
app's code. `verify` compares the code read out: right, the agent may act on the account
for that holder for `support_verified_seconds` (`support.caller_verified`); wrong,
`support.caller_failed`. A wrong code is counted before it is compared, on a counter of the
account and the agent (CALLER_CODES: 5 per hour), so that parallel guesses cannot outrun
the pause, and on two ceilings beside it: one agent's on every account (20 per hour: a
session in the wrong hands), every agent's on one account (10 per hour); a right one gives
its counts back in the write that verifies.

`start_new_holder` and `prove_new_holder` do the same for a person the verified caller
adds: the code goes to the number they give, and only a right code read back yields the
number (which HolderChanges then adds). `acting` is what every other console change asks
first: the live verification of this agent on this account, or CallerNotVerified.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chalicelib.domain import authenticator, codes, holders as holding, phone as phones
from chalicelib.domain.account import normalise_username
from chalicelib.domain.console import (CALLER, NEW_HOLDER, Acting, Agent, CallerNotVerified,
                                       CallerVerified, CodeReadOut, HolderNotFound,
                                       NoAuthenticator)
from chalicelib.domain.errors import (CodeExpired, InvalidCode, InvalidRequest,
                                      ServiceUnavailable, TooManyAttempts, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.limits import (CALLER_CODES, CALLER_CODES_ACCOUNT,
                                      CALLER_CODES_AGENT, CODE_SMS, CODE_SMS_ACCOUNT,
                                      CODE_SMS_RESET)
from chalicelib.domain.records import APP, SMS
from chalicelib.ports import Clock, Conflict, Refused
from chalicelib.repositories.limits import Reservation
from chalicelib.repositories.records import NotTriable
from chalicelib.services.support.state import existing
from chalicelib.services.unit_of_work import Attempt, Tx, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.code_sms import CodeSms
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

# the names of the writes of a verification
READ_OUT, VERIFIED, PAUSE, BACK, REPLAY, SMS_LIMITS = (
    "read out", "verified", "pause", "count back", "replay", "sms limits")


@dataclass(frozen=True)
class Proven:
    """A new holder's number, proven by the code they read back: add them."""

    name: str
    phone: str


def text_of(raw: object, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidRequest(field=field)
    return raw.strip()


@dataclass(frozen=True, kw_only=True)
class CallerChecks:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    code_sms: CodeSms
    code_key: Callable[[], bytes]  # read from the secrets on first use
    authenticator_key: Callable[[], bytes]

    def now(self) -> float:
        return self.clock.now().timestamp()

    # -- the caller ------------------------------------------------------------------------

    def start(self, raw_username: str, raw_holder_id: object, raw_channel: object,
              agent: Agent, caller: Caller) -> dict[str, Any]:
        """A code for the holder the caller says they are: an SMS to their number, or (app)
        nothing sent. A new start replaces the agent's earlier one on this account."""
        username = normalise_username(raw_username)
        holder_id = text_of(raw_holder_id, "holder_id")
        channel = raw_channel if raw_channel in (SMS, APP) else None
        if channel is None:
            raise InvalidRequest(field="channel")
        self._not_paused(username, agent)
        account = existing(self.accounts, username)
        holder = account.holder(holder_id)
        if holder is None:
            raise HolderNotFound(holder_id=holder_id)
        if channel == APP and not holder.app_nonce:
            raise NoAuthenticator(holder_id=holder_id)
        now = self.now()
        lifetime = self.settings.code.lifetime_seconds
        record_id = CodeReadOut.key(CALLER, username, agent)
        code = codes.new_code()
        record = CodeReadOut(
            id=record_id, username=username, purpose=CALLER, agent=agent.key,
            code_mac=codes.code_mac(self.code_key(), record_id, code), expires_at=now + lifetime,
            channel=channel, holder_id=holder.id, holder_name=holder.name,
            app_nonce=holder.app_nonce if channel == APP else "")
        answer: dict[str, Any] = {"channel": channel, "holder_id": holder.id,
                                  "holder_name": holder.name}
        if channel == APP:
            self.uow.begin().add(READ_OUT, self.records.add(record)).commit()
            return answer
        self._send(record, code, holder.phone, caller, holder_id=holder.id)
        return {**answer, "phone": phones.masked(holder.phone), "expires_in": lifetime}

    def verify(self, raw_username: str, raw_code: object, agent: Agent, caller: Caller
               ) -> CallerVerified:
        """The code the caller read out: right, a verification (`until` its end); wrong,
        InvalidCode(attempts_left); TooManyAttempts while paused; CodeExpired without a
        live code."""
        username = normalise_username(raw_username)
        record, proof_step, reserved = self._compare(CALLER, username, raw_code, agent,
                                                     caller)
        now = self.now()
        verified = CallerVerified(
            id=CallerVerified.key(username, agent), username=username, agent=agent.key,
            holder_id=record.holder_id, holder_name=record.holder_name,
            expires_at=now + self.settings.support_verified_seconds)
        tx = self._right(record, reserved, proof_step, now)
        tx.add(VERIFIED, self.records.add(verified))
        tx.record(self.audit.record(
            "support.caller_verified", username, "success", caller, channel=record.channel,
            **Acting(caller, agent, record.holder_id, record.holder_name).fields))
        self._commit_right(tx, record, agent, caller)
        return verified

    def verification(self, raw_username: str, agent: Agent) -> CallerVerified | None:
        """This agent's live verification on the account, if any."""
        username = normalise_username(raw_username)
        found = self.records.get(CallerVerified, CallerVerified.key(username, agent))
        return found if found and found.is_live(self.now()) else None

    def acting(self, raw_username: str, agent: Agent, caller: Caller) -> Acting:
        """Who a change of the account is made by: this agent for the holder they verified
        in the last `support_verified_seconds`; CallerNotVerified otherwise."""
        verified = self.verification(raw_username, agent)
        if verified is None:
            raise CallerNotVerified()
        return Acting(caller, agent, verified.holder_id, verified.holder_name)

    # -- a new holder ----------------------------------------------------------------------

    def start_new_holder(self, raw_username: str, raw_name: object, raw_phone: object,
                         acting: Acting) -> dict[str, Any]:
        """A code to the number a new holder gives, for them to read back (SPEC 14)."""
        assert acting.agent is not None, "only a console agent proves a number this way"
        username = normalise_username(raw_username)
        name = holding.normalise_name(text_of(raw_name, "name"), self.settings.reserved_names)
        number = phones.parse(text_of(raw_phone, "phone"), self.settings.allowed_countries)
        self._not_paused(username, acting.agent)
        existing(self.accounts, username)
        now = self.now()
        lifetime = self.settings.code.lifetime_seconds
        record_id = CodeReadOut.key(NEW_HOLDER, username, acting.agent)
        code = codes.new_code()
        record = CodeReadOut(
            id=record_id, username=username, purpose=NEW_HOLDER, agent=acting.agent.key,
            code_mac=codes.code_mac(self.code_key(), record_id, code), expires_at=now + lifetime,
            phone=number, name=name)
        self._send(record, code, number, acting.caller, to=number)
        return {"phone": phones.masked(number), "expires_in": lifetime}

    def prove_new_holder(self, raw_username: str, raw_code: object, acting: Acting
                         ) -> Proven:
        """The code the new holder read back: right, their number is proven."""
        assert acting.agent is not None, "only a console agent proves a number this way"
        username = normalise_username(raw_username)
        record, step, reserved = self._compare(NEW_HOLDER, username, raw_code, acting.agent,
                                               acting.caller)
        tx = self._right(record, reserved, step, self.now())
        self._commit_right(tx, record, acting.agent, acting.caller)
        return Proven(record.name, record.phone)

    # -- the parts -------------------------------------------------------------------------

    def _who(self, username: str, agent: Agent) -> str:
        return f"{username}#{agent.key}"

    def _not_paused(self, username: str, agent: Agent) -> None:
        """TooManyAttempts while the agent's verifications on the account are paused: no
        code is sent for a verification that could not be made."""
        now = self.now()
        lock = self.uow.read(pause=self.limits.lock_read(CALLER_CODES,
                                                         self._who(username, agent))).pause
        if lock.locked(now):
            raise TooManyAttempts(retry_after=max(1, int(lock.until - now)))

    def _send(self, record: CodeReadOut, code: str, number: str, caller: Caller,
              holder_id: str | None = None, to: str | None = None) -> None:
        """Store `record` and queue its code to `number` (a holder's, by `holder_id`, or the
        new number `to`), counted against the number's and the account's code SMS limits in
        the same write; TooManyRequests when they have no room."""
        username = record.username
        number_key = self.limits.number_key(username, number)

        def attempt(_: Attempt) -> float:
            now = self.now()
            found = self.uow.read(sms=self.limits.read(CODE_SMS, username, number_key),
                                  account_sms=self.limits.read(CODE_SMS_ACCOUNT, username))
            for log in (found.sms, found.account_sms):
                decision = log.decide(now)
                if not decision.allowed:
                    raise TooManyRequests(retry_after=decision.retry_after)
            tx = self.uow.begin()
            tx.add(READ_OUT, self.records.add(record))
            tx.add_group(SMS_LIMITS, [self.limits.record(found.sms, now),
                                      self.limits.record(found.account_sms, now)])
            tx.commit()
            return now

        at = retrying(attempt, retryable=refused_by(SMS_LIMITS))
        try:
            self.code_sms.read_out(code, caller, username=username, holder=holder_id, to=to)
        except ServiceUnavailable:
            self.code_sms.take_back(username, number_key, at, caller, CODE_SMS_RESET)
            raise

    def _compare(self, purpose: str, username: str, raw_code: object, agent: Agent,
                 caller: Caller) -> tuple[CodeReadOut, int | None, Reservation]:
        """The live record whose code `raw_code` is, its app step if by app, and the
        reservation the right answer gives back; every other answer raised and audited."""
        if not isinstance(raw_code, str):
            raise InvalidRequest(field="code")
        code = raw_code.strip()
        now = self.now()
        max_attempts = self.settings.code.max_attempts
        try:
            record = self.records.spend_attempt(
                CodeReadOut, CodeReadOut.key(purpose, username, agent), now, max_attempts)
        except NotTriable:
            raise CodeExpired() from None
        if record is None:
            raise CodeExpired()
        who = self._who(username, agent)
        reserved = self.limits.reserve(CALLER_CODES, who, now)
        if not reserved.allowed:
            self._failed(record, agent, caller, "paused")
            raise TooManyAttempts(retry_after=reserved.retry_after)
        ceilings: list[Reservation] = []
        for counter, subject in ((CALLER_CODES_AGENT, agent.key),
                                 (CALLER_CODES_ACCOUNT, username)):
            ceiling = self.limits.reserve(counter, subject, now)
            if not ceiling.allowed:
                for taken in (reserved, *ceilings):
                    self.limits.give_back(taken)
                self._failed(record, agent, caller, "limited")
                raise TooManyAttempts(retry_after=ceiling.retry_after)
            ceilings.append(ceiling)
        reserved = replace(reserved, give_back=reserved.give_back + tuple(
            update for ceiling in ceilings for update in ceiling.give_back))
        step = None
        if record.channel == APP:
            secret = authenticator.secret_for(self.authenticator_key(), record.app_nonce)
            step = authenticator.accepted_step(secret, code, now) \
                if codes.looks_like_code(code) else None
            right = step is not None
        else:
            right = codes.looks_like_code(code) and codes.code_matches(
                self.code_key(), record.id, code, record.code_mac)
        if right:
            return record, step, reserved
        attempts_left = max(0, max_attempts - record.attempts)
        self._failed(record, agent, caller, "wrong_code", attempts_left=attempts_left,
                     pause_until=now + self.settings.limits.caller_pause_seconds
                     if reserved.filled else None)
        raise InvalidCode(attempts_left=attempts_left)

    def _right(self, record: CodeReadOut, reserved: Reservation, step: int | None,
               now: float) -> Tx:
        """The writes of a right code: the record used, the wrong code's count given back
        (if the agent is not paused meanwhile), an app's step accepted once."""
        returned = self.limits.returned(reserved, now)
        tx = self.uow.begin()
        tx.add(READ_OUT, self.records.use(record, now))
        tx.add(PAUSE, returned.if_unlocked)
        tx.add_group(BACK, returned.others)
        if step is not None:
            tx.add(REPLAY, self.records.accepted_step(record.holder_id, step))
        return tx

    def _commit_right(self, tx: Tx, record: CodeReadOut, agent: Agent, caller: Caller
                      ) -> None:
        try:
            tx.commit()
        except Refused as refused:
            if refused.by_any(PAUSE):
                self._failed(record, agent, caller, "paused")
                raise TooManyAttempts(
                    retry_after=self.settings.limits.caller_pause_seconds) from None
            if refused.by_any(REPLAY):  # the app's code was used before
                self._failed(record, agent, caller, "replayed")
                raise InvalidCode(attempts_left=max(
                    0, self.settings.code.max_attempts - record.attempts)) from None
            raise CodeExpired() from None  # used in parallel
        except Conflict:
            raise ServiceUnavailable() from None

    def _failed(self, record: CodeReadOut, agent: Agent, caller: Caller, outcome: str,
                attempts_left: int | None = None, pause_until: float | None = None) -> None:
        acting = Acting(caller, agent, record.holder_id, record.holder_name)
        tx = self.uow.begin()
        tx.record(self.audit.record(
            "support.caller_failed", record.username, outcome, caller, channel=record.channel,
            purpose=record.purpose, attempts_left=attempts_left, **acting.fields))
        if pause_until is not None:
            tx.add(PAUSE, self.limits.locked_until(
                CALLER_CODES, self._who(record.username, agent), pause_until))
        try:
            tx.commit()
        except (Refused, Conflict):
            raise ServiceUnavailable() from None
