"""What the support desk and the operator do to accounts through the admin CLI (SPEC 9).

Create and import accounts, list them (all, or those whose password expires soon), look at
one account's state and audit trail, disable, enable and unlock an account, set a number
after checking identity by phone, and summarise the audit trail of a period.

Every change is one DynamoDB transaction that holds its own audit record and is conditioned
on what was read; a concurrent change makes it read again and retry. Answers are plain
values (AccountState, Report, ImportResult) that the CLI lays out; nothing here prints.
"""
from __future__ import annotations

import csv
import io
import secrets
import string
from collections import Counter
from dataclasses import dataclass, field, replace
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from chalicelib.adapters.dynamo import TransactionCancelled, delete_op
from chalicelib.adapters.limits import LimitLog
from chalicelib.domain import limits as rules_, phone as phones, policy
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.errors import (AccountExists, ImportRejected, InvalidRequest, NotFound,
                                      PasswordRejected, PortalError, ServiceUnavailable)
from chalicelib.domain.events import SUPPORT
from chalicelib.services.contention import RETRIES, back_off
from chalicelib.services.delivery import SERVICE_SMS
from chalicelib.services.registration import numbers_key
from chalicelib.services.reset import login_failures_key, sms_log_key, wrong_codes_key

_GENERATED_ALPHABET = string.ascii_letters + string.digits + "!#%+-.:=?_"
REPORT_EXPIRY_DAYS = 14  # "expires within 14 days" (SPEC 2, the first reminder)


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


# -- answers ---------------------------------------------------------------------------------

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
    codes_sent_recently: int = 0  # code SMS within the longest per-username SMS window
    sms_allowed_at: datetime | None = None  # None: the per-username limit allows an SMS now
    numbers_allowed_at: datetime | None = None  # None: a new number may be verified now
    service_sms_allowed_at: datetime | None = None  # None: the service-wide limit has room

    @property
    def locked(self) -> bool:
        return bool(self.login_locked_until or self.reset_paused_until)

    def why_no_code(self) -> list[str]:
        """Why a reset started now would get no SMS, most basic reason first; [] if it would.

        `no_account`, `disabled`, `no_number`, `reset_paused`, `sms_limit`,
        `service_sms_limit`.
        """
        if self.account is None:
            return ["no_account"]
        reasons = []
        if self.account.disabled:
            reasons.append("disabled")
        if not self.account.phone:
            reasons.append("no_number")
        if self.reset_paused_until:
            reasons.append("reset_paused")
        if self.sms_allowed_at:
            reasons.append("sms_limit")
        if self.service_sms_allowed_at:
            reasons.append("service_sms_limit")
        return reasons


@dataclass(frozen=True)
class Unlocked:
    account: Account
    cleared: list[str]  # login_lock, login_failures, reset_pause, wrong_codes


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    counts: dict[str, int]  # label → number of events, in REPORT_COUNTS order
    rate_limits: dict[str, int]  # limit name → ratelimit.exceeded events
    expiring: list[AccountState]  # passwords expiring within REPORT_EXPIRY_DAYS
    without_number: list[str]  # enabled accounts that cannot get a code
    accounts: int
    disabled: int


@dataclass(frozen=True)
class ImportProblem:
    """Why one line of an import file cannot be imported. `reason` is one of `bad_header`,
    `no_rows`, `malformed_row`, `invalid_username`, `duplicate`, `account_exists`,
    `invalid_phone`, `phone_not_allowed`; `detail` adds what the reason needs."""

    line: int
    reason: str
    username: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Imported:
    username: str
    phone: str | None
    password: str | None  # to hand out once; None: the holder sets it on pwreset


@dataclass
class ImportResult:
    created: list[Imported] = field(default_factory=list)
    not_created: list[ImportProblem] = field(default_factory=list)
    error: PortalError | None = None  # what stopped the import part-way, if anything


def _event(event: str, **where) -> Callable[[dict], bool]:
    """Records of `event` whose fields equal `where` (a bool compares truthiness)."""
    return lambda record: record["event"] == event and all(
        bool(record.get(k)) == v if isinstance(v, bool) else record.get(k) == v
        for k, v in where.items())


def _except(event: str, outcome: str) -> Callable[[dict], bool]:
    return lambda record: record["event"] == event and record.get("outcome") != outcome


# What `report` counts: (label, which audit records). See chalicelib/services/reset.py,
# registration.py and delivery.py for where each record is written.
REPORT_COUNTS: tuple[tuple[str, Callable[[dict], bool]], ...] = (
    ("resets started", _event("reset.requested", resend=False)),
    ("new codes asked for", _event("reset.requested", resend=True)),
    ("reset requests without SMS", _event("reset.requested", outcome="no_sms")),
    ("codes sent", _event("reset.code_sent")),
    ("wrong codes", _event("reset.code_failed")),
    ("codes verified", _event("reset.code_verified")),
    ("passwords changed", _event("password.changed")),
    ("passwords rejected", _event("password.rejected")),
    ("pwreg logins", _event("login.succeeded")),
    ("pwreg login failures", _event("login.failed")),
    ("numbers changed on pwreg", _event("phone.changed", outcome="success")),
    ("numbers set by support", _event("phone.set_by_support")),
    ("SMS failures", _event("sms.failed")),
    ("login locks", _event("login.locked")),
    ("reset pauses", _except("reset.paused", "no_sms")),
    ("rate-limit hits", _event("ratelimit.exceeded")),
    ("reminders sent", _event("reminder.sent")),
    ("accounts created", _event("account.created")),
    ("accounts disabled", _event("account.disabled")),
    ("accounts enabled", _event("account.enabled")),
    ("accounts unlocked", _event("account.unlocked")),
)


class Support:
    def __init__(self, portal):
        self.p = portal

    # -- creating accounts -----------------------------------------------------------------

    def generate_password(self, username: str) -> str:
        length = max(16, self.p.settings.policy.min_length)
        while True:
            candidate = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
            if not policy.violations(candidate, username, self.p.settings.policy):
                return candidate

    def create(self, raw_username: str, password: str, raw_phone: str | None = None) -> Account:
        settings = self.p.settings
        username = normalise_username(raw_username)
        number = phones.parse(raw_phone, settings.allowed_countries) if raw_phone else None
        broken = policy.violations(password, username, settings.policy)
        if broken:
            raise PasswordRejected(broken)
        return self._insert(username, password, number)

    def _insert(self, username: str, password: str, number: str | None, **details) -> Account:
        p, settings = self.p, self.p.settings
        salt = secrets.token_bytes(16)
        now = p.clock.now()
        account = Account(
            username=username, password_hash=p.hasher.hash(password), history_salt=salt.hex(),
            history=[p.hasher.fingerprint(password, salt)], password_changed_at=now,
            password_expires_at=now + timedelta(days=settings.policy.max_age_days),
            created_at=now, phone=number)
        record = p.audit.record("account.created", username, "success", SUPPORT, phone=number,
                                **details)
        try:
            p.dynamo.transact([p.accounts.create_op(account), p.audit.op(record)])
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise AccountExists() from None
            raise ServiceUnavailable() from cancelled
        p.audit.emit(record)
        return account

    # -- importing accounts ----------------------------------------------------------------

    def check_import(self, csv_text: str) -> list[tuple[int, str, str | None]]:
        """The (line, username, number) of every account in an import file, or ImportRejected
        listing every line that cannot be imported. Reads, never writes.

        The file has a header `username,phone` (phone optional, columns in any order, `;`
        accepted instead of `,` as a spreadsheet saves it); blank lines are skipped.
        """
        lines = csv_text.lstrip("\ufeff").splitlines()
        header_line = next((line for line in lines if line.strip()), "")
        delimiter = ";" if ";" in header_line and "," not in header_line else ","
        reader = csv.reader(io.StringIO(csv_text.lstrip("\ufeff")), delimiter=delimiter)
        problems: list[ImportProblem] = []
        header: list[str] | None = None
        header_at = 0
        rows: list[tuple[int, str, str | None]] = []
        first_seen: dict[str, int] = {}
        for cells in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if header is None:
                header, header_at = [cell.lower() for cell in cells], line
                unknown = [name for name in header if name not in ("username", "phone")]
                if unknown or "username" not in header or len(set(header)) != len(header):
                    raise ImportRejected([ImportProblem(line, "bad_header",
                                                        detail=",".join(cells))])
                continue
            if len(cells) > len(header):
                problems.append(ImportProblem(line, "malformed_row",
                                              detail=f"{len(cells)} fields, the header has "
                                                     f"{len(header)}"))
                continue
            values = dict(zip(header, cells + [""] * (len(header) - len(cells))))
            raw_username, raw_phone = values["username"], values.get("phone", "")
            try:
                username = normalise_username(raw_username)
            except InvalidRequest:
                problems.append(ImportProblem(line, "invalid_username", raw_username))
                continue
            if username in first_seen:
                problems.append(ImportProblem(line, "duplicate", username,
                                              detail=str(first_seen[username])))
                continue
            first_seen[username] = line
            number = None
            if raw_phone:
                try:
                    number = phones.parse(raw_phone, self.p.settings.allowed_countries)
                except PortalError as error:
                    problems.append(ImportProblem(line, error.code, username))
                    continue
            rows.append((line, username, number))
        if header is None or (not rows and not problems):
            raise ImportRejected([ImportProblem(max(header_at, 1), "no_rows")])
        found = self.p.dynamo.batch_get([self.p.accounts.key(username) for _, username, _ in rows])
        for (line, username, _), item in zip(rows, found):
            if item:
                problems.append(ImportProblem(line, "account_exists", username))
        if problems:
            raise ImportRejected(sorted(problems, key=lambda problem: problem.line))
        return rows

    def import_accounts(self, csv_text: str) -> ImportResult:
        """Create every account of an import file, or none if any line is bad.

        An account imported with a number gets a random password that nobody is shown: its
        holder sets their own on pwreset with a code sent to that number, so no password
        passes through the operator's hands. An account without a number gets a generated
        password, shown once in the answer, to be handed out: its holder needs it to log in
        to pwreg and register a number.

        Each account is its own transaction (with its `account.created` record). Should AWS
        fail part-way, the answer still holds the accounts that were created (and their
        passwords) and lists the lines that were not, with the error.
        """
        rows = self.check_import(csv_text)
        result = ImportResult()
        for index, (line, username, number) in enumerate(rows):
            password = self.generate_password(username)
            try:
                self._insert(username, password, number, source="import",
                             handover="pwreset" if number else "printed_once")
            except AccountExists:  # created by someone else since the check
                result.not_created.append(ImportProblem(line, "account_exists", username))
                continue
            except PortalError as error:
                result.error = error
                result.not_created += [ImportProblem(later, error.code, name)
                                       for later, name, _ in rows[index:]]
                break
            result.created.append(Imported(username, number, None if number else password))
        return result

    # -- looking at accounts ---------------------------------------------------------------

    def show(self, raw_username: str) -> Account:
        account = self.p.accounts.get(normalise_username(raw_username))
        if not account:
            raise NotFound()
        return account

    def state(self, raw_username: str) -> AccountState:
        """The account (or its absence) and every per-username limit, from one read."""
        username = normalise_username(raw_username)
        counters = self._service_sms_counters()
        keys = [self.p.accounts.key(username)] + self._limit_keys(username) + [
            (self.p.limits.table, {"key": key}) for key, _ in counters]
        found = self.p.dynamo.batch_get(keys)
        account = Account.from_item(found[0]) if found[0] else None
        state = self._state(username, account, found[1:5])
        full = [ends for (_, (limit, ends)), item in zip(counters, found[5:])
                if item and int(item.get("n", 0)) >= limit]
        if full:
            state = replace(state, service_sms_allowed_at=_moment(max(full)))
        return state

    def events(self, raw_username: str, limit: int = 50) -> tuple[AccountState, list[dict]]:
        """Why a username does or does not get codes, and its audit trail, newest first."""
        state = self.state(raw_username)
        return state, self.p.audit.events(state.username, limit=limit)

    def list_accounts(self) -> list[AccountState]:
        """Every account, by username. A paginated Scan of the accounts table: fine for the
        CLI (hundreds of accounts, run by a person), never used on a request path."""
        accounts = [Account.from_item(item) for item in self.p.accounts.all()]
        return sorted(self._states(accounts), key=lambda state: state.username)

    def expiring(self, days: int) -> list[AccountState]:
        """Accounts whose password expires from today (UTC) to today + `days`, soonest first.
        Earlier today's expiries are included; accounts that expired before today are not
        (`list_accounts` shows those). Never scans: one `by_expiry` query per day, then one
        BatchGetItem per 100 accounts (their limit logs ride along in the same calls)."""
        p = self.p
        now = p.clock.now()
        first, last = now.date(), now.date() + timedelta(days=days)
        usernames: list[str] = []
        day = first
        while day <= last:
            usernames += p.accounts.expiring_on(day.isoformat())
            day += timedelta(days=1)
        states = self._states_of(usernames)
        # The index is eventually consistent: keep only what the accounts themselves say.
        return sorted((state for state in states if state.account and first
                       <= state.account.password_expires_at.date() <= last),
                      key=lambda state: (state.account.password_expires_at, state.username))

    # -- changing accounts -----------------------------------------------------------------

    def disable(self, raw_username: str) -> tuple[Account, bool]:
        """Disable an account and end its pwreg sessions (and any number change they had
        started): sessions carry the account's session epoch, which this bumps. Logins, codes
        and resets then fail as for a wrong password. (account, False) if already disabled."""
        before, after = self._change(raw_username, "account.disabled", lambda account: None
                                     if account.disabled else
                                     (replace(account, disabled=True,
                                              session_epoch=account.session_epoch + 1), {}))
        return after or before, after is not None

    def enable(self, raw_username: str) -> tuple[Account, bool]:
        """(account, False) if it was not disabled."""
        before, after = self._change(raw_username, "account.enabled", lambda account: None
                                     if not account.disabled else
                                     (replace(account, disabled=False), {}))
        return after or before, after is not None

    def set_phone(self, raw_username: str, raw_phone: str) -> Account:
        number = phones.parse(raw_phone, self.p.settings.allowed_countries)
        before, after = self._change(raw_username, "phone.set_by_support", lambda account: (
            replace(account, phone=number),
            {"phone": number, "previous": phones.masked(account.phone) or "-"}))
        if after is not None:  # SPEC 7: the number that was replaced hears of it
            self.p.notifications.phone_changed(after.username, before.phone, number,
                                               self.p.clock.now(), after.lang, SUPPORT)
        return after

    def unlock(self, raw_username: str) -> Unlocked:
        """Clear the account's pwreg login lock and its reset pause, and forget the failures
        counting toward them, so the holder starts afresh (after support has checked who they
        are). The SMS limits are left alone: they protect the service's SMS budget and clear
        themselves. Nothing to clear: no write, no audit record."""
        p = self.p
        username = normalise_username(raw_username)
        for attempt in range(RETRIES):
            account = self.show(username)
            now = p.now()
            found = p.dynamo.batch_get([(p.limits.table, {"key": login_failures_key(username)}),
                                        (p.limits.table, {"key": wrong_codes_key(username)})])
            logins, codes = (p.limits.parse(key, item) for key, item in zip(
                (login_failures_key(username), wrong_codes_key(username)), found))
            cleared, ops = [], []
            for log, locked_name, counted_name in ((logins, "login_lock", "login_failures"),
                                                   (codes, "reset_pause", "wrong_codes")):
                if log.version:
                    cleared.append(locked_name if log.locked(now) else counted_name)
                    ops.append(delete_op(p.limits.table, {"key": log.key},
                                         condition="version = :v", values={":v": log.version}))
            if not ops:
                return Unlocked(account, [])
            record = p.audit.record("account.unlocked", username, "success", SUPPORT,
                                    cleared=cleared)
            try:
                p.dynamo.transact(ops + [p.audit.op(record)])
            except TransactionCancelled as cancelled:
                if not (cancelled.conflict or any(map(cancelled.failed, range(len(ops))))):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
                continue
            p.audit.emit(record)
            return Unlocked(account, cleared)
        raise ServiceUnavailable()

    def _change(self, raw_username: str, event: str,
                change: Callable[[Account], tuple[Account, dict] | None]
                ) -> tuple[Account, Account | None]:
        """Apply `change` to the account as read, with its audit record, in one transaction
        conditioned on the version read; re-read and retry when someone changed it first.
        `change` returns None when there is nothing to do. Answers (before, after); after is
        None when nothing was changed."""
        p = self.p
        username = normalise_username(raw_username)
        for attempt in range(RETRIES):
            account = self.show(username)
            changed = change(account)
            if changed is None:
                return account, None
            updated, details = changed
            updated = replace(updated, version=account.version + 1)
            record = p.audit.record(event, username, "success", SUPPORT, **details)
            try:
                p.dynamo.transact([p.accounts.save_op(updated, account.version),
                                   p.audit.op(record)])
            except TransactionCancelled as cancelled:
                if not (cancelled.failed(0) or cancelled.conflict):
                    raise ServiceUnavailable() from cancelled
                back_off(attempt)
                continue
            p.audit.emit(record)
            return account, updated
        raise ServiceUnavailable()

    # -- the report ------------------------------------------------------------------------

    def report(self, period: timedelta) -> Report:
        """The audit trail of the last `period`, read one UTC day at a time through the
        `by_day` index, counted; and the accounts that need attention: passwords expiring in
        the next 14 days (the `by_expiry` index) and accounts without a number (a Scan: there
        is no index for a missing number; see `list_accounts`)."""
        p = self.p
        end = p.clock.now()
        start = end - period
        since = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        records: list[dict] = []
        day = start.date()
        while day <= end.date():
            records += [r for r in p.audit.on_day(day.isoformat()) if r["at"] >= since]
            day += timedelta(days=1)
        counts = {label: sum(1 for r in records if matches(r)) for label, matches in REPORT_COUNTS}
        rate_limits = Counter(r.get("limit", "-") for r in records
                              if r["event"] == "ratelimit.exceeded")
        everyone = p.accounts.all(["username", "phone", "disabled"])
        return Report(
            start=start, end=end, counts=counts, rate_limits=dict(rate_limits.most_common()),
            expiring=self.expiring(REPORT_EXPIRY_DAYS),
            without_number=sorted(item["username"] for item in everyone
                                  if not item.get("phone") and not item.get("disabled")),
            accounts=len(everyone), disabled=sum(1 for item in everyone if item.get("disabled")))

    # -- reading ---------------------------------------------------------------------------

    def _limit_keys(self, username: str) -> list[tuple[str, dict]]:
        return [(self.p.limits.table, {"key": key}) for key in (
            login_failures_key(username), wrong_codes_key(username), sms_log_key(username),
            numbers_key(username))]

    def _service_sms_counters(self) -> list[tuple[str, tuple[int, int]]]:
        """(key, (limit, end of window)) of the fixed-window counters that the SMS worker
        (chalicelib/services/delivery.py) counts every SMS of the service in, right now."""
        return [(key, (rule.limit, ends)) for key, rule, ends in self.p.limits.windows(
            *SERVICE_SMS, self.p.settings.limits.sms_per_service)]

    def _state(self, username: str, account: Account | None,
               limit_items: list[dict | None]) -> AccountState:
        p, limits = self.p, self.p.settings.limits
        now = p.now()
        login, codes, sms, numbers = (p.limits.parse(key, item) for key, item in zip(
            (login_failures_key(username), wrong_codes_key(username), sms_log_key(username),
             numbers_key(username)), limit_items))

        def allowed_at(log: LimitLog, rules) -> datetime | None:
            decision = rules_.decide(log.events, rules, now)
            return None if decision.allowed else _moment(now + decision.retry_after)

        return AccountState(
            username=username, account=account, now=p.clock.now(),
            login_failures=len(rules_.recent(login.events, limits.login_failures_per_username,
                                             now)),
            login_locked_until=_moment(login.until) if login.locked(now) else None,
            wrong_codes=len(rules_.recent(codes.events, limits.wrong_codes_per_username, now)),
            reset_paused_until=_moment(codes.until) if codes.locked(now) else None,
            codes_sent_recently=len(rules_.recent(sms.events, limits.sms_per_username, now)),
            sms_allowed_at=allowed_at(sms, limits.sms_per_username),
            numbers_allowed_at=allowed_at(numbers, limits.numbers_per_account))

    def _states(self, accounts: list[Account]) -> list[AccountState]:
        keys = [key for account in accounts for key in self._limit_keys(account.username)]
        found = self.p.dynamo.batch_get(keys)
        return [self._state(account.username, account, found[4 * i:4 * i + 4])
                for i, account in enumerate(accounts)]

    def _states_of(self, usernames: list[str]) -> list[AccountState]:
        keys = [key for username in usernames
                for key in [self.p.accounts.key(username)] + self._limit_keys(username)]
        found = self.p.dynamo.batch_get(keys)
        states = []
        for i, username in enumerate(usernames):
            item = found[5 * i]
            states.append(self._state(username, Account.from_item(item) if item else None,
                                      found[5 * i + 1:5 * i + 5]))
        return states

