"""`report [--since 24h]` (SPEC 9): the audit trail of a period, counted, and the accounts
that need attention (passwords expiring before the first reminder, accounts without a
number)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.domain.records import APP
from chalicelib.ports import Clock, Item
from chalicelib.services.support.state import AccountState

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.services.support.state import AccountStates
    from chalicelib.domain.policy import PolicySettings
    from chalicelib.settings import Settings

FIRST_REMINDER_DAYS = 14  # SPEC 3's default first reminder, if none is configured


def expiring_window(policy: PolicySettings) -> int:
    """The days ahead in which the report lists expiring passwords: up to the first reminder
    (the largest of PolicySettings.reminder_days, SPEC 3), the window in which pwreg warns
    too (SPEC 2; domain/policy.py publishes it)."""
    return max(policy.reminder_days, default=FIRST_REMINDER_DAYS)


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    counts: dict[str, int]  # label → number of events, in REPORT_COUNTS order
    rate_limits: dict[str, int]  # limit name → ratelimit.exceeded events
    expiring: list[AccountState]  # passwords expiring within `expiring_within_days`
    without_number: list[str]  # enabled accounts that cannot get a code
    accounts: int
    disabled: int
    expiring_within_days: int = FIRST_REMINDER_DAYS  # expiring_window(settings.policy)


def _event(event: str, **where: object) -> Callable[[Item], bool]:
    """Records of `event` whose fields equal `where` (a bool compares truthiness)."""
    return lambda record: record["event"] == event and all(
        bool(record.get(k)) == v if isinstance(v, bool) else record.get(k) == v
        for k, v in where.items())


def _except(event: str, outcome: str) -> Callable[[Item], bool]:
    return lambda record: record["event"] == event and record.get("outcome") != outcome


# What `report` counts: (label, which audit records). See chalicelib/services/reset.py,
# registration.py and delivery.py for where each record is written.
REPORT_COUNTS: tuple[tuple[str, Callable[[Item], bool]], ...] = (
    ("resets started", _event("reset.requested", resend=False)),
    ("new codes asked for", _event("reset.requested", resend=True)),
    ("reset requests without SMS", _event("reset.requested", outcome="no_sms")),
    ("codes sent", _event("reset.code_sent")),
    ("wrong codes", _event("reset.code_failed")),
    ("codes verified", _event("reset.code_verified")),
    # SPEC 12: how many resets the authenticator app did (each one an SMS not paid for)
    ("resets started with the app", _event("reset.requested", resend=False, channel=APP)),
    ("codes verified with the app", _event("reset.code_verified", channel=APP)),
    ("authenticator apps added", lambda record: record["event"] == "authenticator.added"
     and record.get("outcome") in ("success", "replaced")),
    ("authenticator apps removed", _event("authenticator.removed")),
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


@dataclass(frozen=True, kw_only=True)
class Reports:
    settings: Settings
    clock: Clock
    accounts: Accounts
    audit: Audit
    states: AccountStates

    def report(self, period: timedelta) -> Report:
        """The audit trail of the last `period`, read one UTC day at a time through the
        `by_day` index, counted; and the accounts that need attention: passwords expiring
        before the first reminder (the `by_expiry` index) and accounts without a number (a
        Scan: there is no index for a missing number; see `list_accounts`)."""
        end = self.clock.now()
        start = end - period
        records = self._records(start, end)
        counts = {label: sum(1 for r in records if matches(r)) for label, matches in REPORT_COUNTS}
        rate_limits = Counter(r.get("limit", "-") for r in records
                              if r["event"] == "ratelimit.exceeded")
        everyone = self.accounts.all(["username", "holders", "disabled"])
        days = expiring_window(self.settings.policy)
        return Report(
            start=start, end=end, counts=counts, rate_limits=dict(rate_limits.most_common()),
            expiring=self.states.expiring(days, now=end),
            without_number=sorted(item["username"] for item in everyone
                                  if not item.get("holders") and not item.get("disabled")),
            accounts=len(everyone), disabled=sum(1 for item in everyone if item.get("disabled")),
            expiring_within_days=days)

    def _records(self, start: datetime, end: datetime) -> list[Item]:
        since = start.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        records: list[Item] = []
        day = start.date()
        while day <= end.date():
            records += [r for r in self.audit.on_day(day.isoformat()) if r["at"] >= since]
            day += timedelta(days=1)
        return records
