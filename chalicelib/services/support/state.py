"""What login and reset see of a username right now (SPEC 9: `accounts show|list`, `events`).

The account, its per-username limit logs and counters are read together, each through its
own named Read in one batched `uow.read`, and matched back by name (the limit's subject and
the username), never by position in the batch. The code SMS limits are per (username,
number) since SPEC 5 v3: `state` reads each holder's number's logs in a second batch, once
the account says who the holders are (a list needs no SMS limits: it shows the locks). (A per-network login lock is keyed by an HMAC of the network:
support sees the username's all-networks failures, not which networks are locked.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from chalicelib.domain.limits import (CODE_SMS, CODE_SMS_ACCOUNT, CODE_SMS_RESET,
                                      LOGIN_FAILURES, NUMBERS, SERVICE_SMS, WRONG_CODES)
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.errors import NotFound
from chalicelib.domain.limits import Counter, LimitLog, Log
from chalicelib.ports import Clock, Read
from chalicelib.services.unit_of_work import Found

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits, Lock
    from chalicelib.services.unit_of_work import UnitOfWork

# The subject the SMS worker (services/delivery.py) counts every SMS of the service under.
EVERY_SMS = "all"
ACCOUNT = "account"  # the account's own read, named next to its limit subjects
LOGS = (CODE_SMS_ACCOUNT, NUMBERS)  # per username; CODE_SMS and CODE_SMS_RESET per number
NUMBER_LOGS = (CODE_SMS, CODE_SMS_RESET)
COUNTERS = (LOGIN_FAILURES, WRONG_CODES)  # each with its lock


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def read_name(subject: str, username: str) -> str:
    """The name of one username's read of `subject` (a limit's name, or ACCOUNT) in a batch:
    the subject first, as subjects hold no space."""
    return f"{subject} {username}"


def existing(accounts: Accounts, raw_username: str) -> Account:
    """The account of `raw_username`, or NotFound."""
    account = accounts.get(normalise_username(raw_username))
    if not account:
        raise NotFound()
    return account


@dataclass(frozen=True)
class AccountState:
    """One username as login and reset see it at `now`: the account (None if there is none)
    and the per-username limits that stand in its way."""

    username: str
    account: Account | None
    now: datetime
    login_failures: int = 0  # failures that still count toward the login lock
    login_locked_until: datetime | None = None
    wrong_codes: int = 0  # wrong codes that still count toward the reset pause
    reset_paused_until: datetime | None = None
    codes_sent_recently: int = 0  # the account's code SMS (every number) in its window
    # None: the limits of the first holder's number (a reset's to it) allow an SMS now
    sms_allowed_at: datetime | None = None
    account_sms_allowed_at: datetime | None = None  # None: the account's ceiling has room
    # each holder's (id, when their number may get a reset's code: None now), SPEC 5 v3
    holders_sms_allowed_at: tuple[tuple[str, datetime | None], ...] = ()
    numbers_allowed_at: datetime | None = None  # None: a new number may be verified now
    service_sms_allowed_at: datetime | None = None  # None: the service-wide limit has room

    @property
    def locked(self) -> bool:
        return bool(self.login_locked_until or self.reset_paused_until)

    def why_no_code(self) -> list[str]:
        """Why a reset started now would get no SMS to any holder, most basic reason first;
        [] if it would (services/support/diagnosis.py says it per holder and channel).

        `no_account`, `disabled`, `no_number` (no holders), `reset_paused`, `sms_limit` (the
        first holder's number's), `account_sms_limit` (every number together),
        `service_sms_limit`.
        """
        if self.account is None:
            return ["no_account"]
        reasons = []
        if self.account.disabled:
            reasons.append("disabled")
        if not self.account.holders:
            reasons.append("no_number")
        if self.reset_paused_until:
            reasons.append("reset_paused")
        if self.sms_allowed_at:
            reasons.append("sms_limit")
        if self.account_sms_allowed_at:
            reasons.append("account_sms_limit")
        if self.service_sms_allowed_at:
            reasons.append("service_sms_limit")
        return reasons


def state_of(username: str, account: Account | None, logs: dict[Log, LimitLog],
             counters: dict[Counter, tuple[Lock, int]], now: datetime,
             service_sms_allowed_at: datetime | None = None,
             numbers_logs: dict[str, tuple[LimitLog, ...]] | None = None) -> AccountState:
    """The state of `username` from its account, its limit logs and its counters (each
    with its lock and how many events count), by subject, at `now`."""
    at = now.timestamp()
    (login, login_failures) = counters[LOGIN_FAILURES]
    (codes, wrong_codes) = counters[WRONG_CODES]
    every, numbers = logs[CODE_SMS_ACCOUNT], logs[NUMBERS]

    def allowed_at(*logs: LimitLog) -> datetime | None:
        wait = max((log.decide(at).retry_after for log in logs), default=0)
        return _moment(at + wait) if wait else None

    holders = tuple((holder_id, allowed_at(*found))
                    for holder_id, found in (numbers_logs or {}).items())
    first = account.holders[0].id if account and account.holders else None

    return AccountState(
        username=username, account=account, now=now,
        login_failures=login_failures,
        login_locked_until=_moment(login.locked_somewhere(at)) if login.locked_somewhere(at)
        else None,
        wrong_codes=wrong_codes,
        reset_paused_until=_moment(codes.until) if codes.locked(at) else None,
        codes_sent_recently=len(every.recent(at)),
        sms_allowed_at=dict(holders).get(first) if first else None,
        account_sms_allowed_at=allowed_at(every),
        holders_sms_allowed_at=holders,
        numbers_allowed_at=allowed_at(numbers),
        service_sms_allowed_at=service_sms_allowed_at)


@dataclass(frozen=True, kw_only=True)
class AccountStates:
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    limits: Limits
    audit: Audit

    def show(self, raw_username: str) -> Account:
        return existing(self.accounts, raw_username)

    def state(self, raw_username: str) -> AccountState:
        """The account (or its absence), every per-username limit and the service-wide SMS
        limit, from one batched read."""
        username = normalise_username(raw_username)
        now = self.clock.now()
        at = now.timestamp()
        service = read_name(SERVICE_SMS.name, EVERY_SMS)
        found = self.uow.read(**self._reads(username, with_account=True),
                              **{service: self.limits.lock_read(SERVICE_SMS, EVERY_SMS)})
        wait = self.limits.wait(SERVICE_SMS, found[service], at)
        account = found[read_name(ACCOUNT, username)]
        return state_of(username, account, *self._limits(found, username, now), now,
                        service_sms_allowed_at=_moment(at + wait) if wait else None,
                        numbers_logs=self._numbers_logs(username, account))

    def _numbers_logs(self, username: str, account: Account | None
                      ) -> dict[str, tuple[LimitLog, ...]]:
        """Each holder's number's SMS logs (a reset's: the number's and its flow's), by the
        holder's id, from one batch: what decides whether a reset sends them a code."""
        holders = account.holders if account else []
        if not holders:
            return {}
        found = self.uow.read(**{
            read_name(log.name, holder.id): self.limits.read(
                log, username, self.limits.number_key(username, holder.phone))
            for holder in holders for log in NUMBER_LOGS})
        return {holder.id: tuple(found[read_name(log.name, holder.id)] for log in NUMBER_LOGS)
                for holder in holders}

    def events(self, raw_username: str, limit: int = 50
               ) -> tuple[AccountState, list[dict[str, Any]]]:
        """Why a username does or does not get codes, and its audit trail, newest first."""
        state = self.state(raw_username)
        return state, self.audit.events(state.username, limit=limit)

    def list_accounts(self) -> list[AccountState]:
        """Every account, by username. A paginated Scan of the accounts table: fine for the
        CLI (hundreds of accounts, run by a person), never used on a request path."""
        now = self.clock.now()
        accounts = [Account.from_item(item) for item in self.accounts.all()]
        found = self.uow.read(**{name: read for account in accounts
                                 for name, read in self._reads(account.username).items()})
        states = [state_of(account.username, account,
                           *self._limits(found, account.username, now), now)
                  for account in accounts]
        return sorted(states, key=lambda state: state.username)

    def expiring(self, days: int, now: datetime | None = None) -> list[AccountState]:
        """Accounts whose password expires from today (UTC) to today + `days`, soonest first.
        Earlier today's expiries are included; accounts that expired before today are not
        (`list_accounts` shows those). Never scans: one `by_expiry` query per day, then one
        BatchGetItem per 100 items (the accounts with their limit logs)."""
        now = now or self.clock.now()
        first, last = now.date(), now.date() + timedelta(days=days)
        usernames: list[str] = []
        day = first
        while day <= last:
            usernames += self.accounts.expiring_on(day.isoformat())
            day += timedelta(days=1)
        found = self.uow.read(**{name: read for username in usernames for name, read
                                 in self._reads(username, with_account=True).items()})
        states = [state_of(username, found[read_name(ACCOUNT, username)],
                           *self._limits(found, username, now), now)
                  for username in usernames]
        # The index is eventually consistent: keep only what the accounts themselves say.
        expiring = [(state.account.password_expires_at, state) for state in states
                    if state.account
                    and first <= state.account.password_expires_at.date() <= last]
        return [state for _, state in sorted(expiring, key=lambda pair: (
            pair[0], pair[1].username))]

    # -- reading ---------------------------------------------------------------------------

    def _reads(self, username: str, with_account: bool = False) -> dict[str, Read[Any]]:
        """The reads of one username's limit logs and counters (and account), each named
        by `read_name`."""
        reads: dict[str, Read[Any]] = {read_name(log.name, username):
                                       self.limits.read(log, username) for log in LOGS}
        reads.update({read_name(counter.name, username):
                      self.limits.lock_read(counter, username) for counter in COUNTERS})
        if with_account:
            reads[read_name(ACCOUNT, username)] = self.accounts.read(username)
        return reads

    def _limits(self, found: Found, username: str, now: datetime
                ) -> tuple[dict[Log, LimitLog], dict[Counter, tuple[Lock, int]]]:
        """The username's logs, and each counter's lock with how many events count."""
        at = now.timestamp()
        logs = {log: found[read_name(log.name, username)] for log in LOGS}
        counters = {}
        for counter in COUNTERS:
            lock = found[read_name(counter.name, username)]
            counters[counter] = (lock, self.limits.counted(counter, lock, at))
        return logs, counters
