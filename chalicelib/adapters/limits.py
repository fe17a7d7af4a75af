"""Rate limits in DynamoDB, updated atomically so parallel requests cannot get past them.

The adapter owns its subjects: each is named here with the setting that holds its rules.

- Counters (fixed windows: per client IP, the whole service's SMS): one conditional `ADD`
  per request, no read, so thousands of parallel requests serialise in DynamoDB itself.
- Logs (sliding windows, per username or account): the recent timestamps of one subject in
  one item, read, judged by `domain.limits` and written back on the condition that nobody
  wrote in between; a lost race is read and built again (services/unit_of_work.retrying).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from chalicelib.domain import conditions as c
from chalicelib.domain import limits as rules_
from chalicelib.domain.limits import Decision, LimitLog, Rule
from chalicelib.ports import Check, Delete, Put, Read, Refused, Store, Update

HOUSEKEEPING_SECONDS = 60


@dataclass(frozen=True)
class Log:
    """A sliding-window subject: `<name>#<who>`, its rules in LimitSettings.`setting`."""

    name: str
    setting: str


@dataclass(frozen=True)
class Counter:
    """A fixed-window subject: `<name>#<who>#<window>#<start>` per rule."""

    name: str
    setting: str
    by_address: bool = False  # `who` is a client address: counted, never stored


CODE_SMS = Log("codesms", "sms_per_username")  # code SMS per username, both portals
WRONG_CODES = Log("wrongcode", "wrong_codes_per_username")  # and the reset pause
LOGIN_FAILURES = Log("loginfail", "login_failures_per_username")  # and the login lock
NUMBERS = Log("numbers", "numbers_per_account")  # new numbers verified per account

RESET_STARTS = Counter("ip-reset", "reset_starts_per_ip", by_address=True)
LOGINS = Counter("ip-login", "logins_per_ip", by_address=True)
SERVICE_SMS = Counter("sms-service", "sms_per_service")


def address_subject(ip: str) -> str:
    # Limits need to tell addresses apart, not to know them.
    return hashlib.sha256(ip.encode("utf-8")).hexdigest()[:24]


class Limits:
    def __init__(self, store: Store, table: str, settings):
        self._store = store
        self.table = table
        self._settings = settings  # LimitSettings

    def rules(self, subject: Log | Counter) -> tuple[Rule, ...]:
        return getattr(self._settings, subject.setting)

    # -- counters --------------------------------------------------------------------------

    def windows(self, counter: Counter, who: str, now: float) -> list[tuple[Read, Rule, int]]:
        """(read of its count, rule, end of window) of each rule's fixed window at `now`."""
        subject = address_subject(who) if counter.by_address else who
        found = []
        for rule in self.rules(counter):
            start, _ = rules_.fixed_window(now, rule.window)
            key = {"key": f"{counter.name}#{subject}#{rule.window}#{start}"}
            found.append((Read(self.table, key, lambda item: int((item or {}).get("n", 0))),
                          rule, start + rule.window))
        return found

    def hit(self, counter: Counter, who: str, now: float) -> Decision:
        """Count one event against every rule; refuse if any window is full."""
        for read, rule, ends in self.windows(counter, who, now):
            try:
                self._store.write(Update(
                    self.table, read.key, add={"n": 1}, set={"ttl": ends + HOUSEKEEPING_SECONDS},
                    expect=c.any_of(c.Missing("n"), c.lt("n", rule.limit))))
            except Refused:
                return Decision(False, max(1, math.ceil(ends - now)))
        return Decision(True)

    # -- logs ------------------------------------------------------------------------------

    def read(self, log: Log, who: str) -> Read:
        key, rules = f"{log.name}#{who}", self.rules(log)

        def parse(item: dict | None) -> LimitLog:
            if not item:
                return LimitLog(key, rules)
            return LimitLog(key, rules, tuple(float(t) for t in item.get("events", [])),
                            int(item.get("version", 0)), float(item.get("until", 0)))
        return Read(self.table, {"key": key}, parse)

    def record(self, log: LimitLog, now: float, until: float = 0.0) -> Put:
        """The conditional write that adds the event at `now` to `log` (and a lock or pause
        to `until`, if later than the one it has)."""
        return self._written(log, log.recent(now) + [now], max(until, log.until))

    def forget(self, log: LimitLog, at: float) -> Put:
        """Take back the event recorded at `at` (an SMS counted that could not be queued),
        so that the limit does not hold back the user's retry."""
        return self._written(log, [e for e in log.events if e != at], log.until)

    def _written(self, log: LimitLog, events: list[float], until: float) -> Put:
        newest = max(events, default=0.0)
        expires = max(newest + rules_.longest_window(log.rules), until) + HOUSEKEEPING_SECONDS
        item = {"key": log.key, "events": events, "version": log.version + 1,
                "until": until, "ttl": int(expires)}
        expect = c.eq("version", log.version) if log.version else c.Missing("key")
        return Put(self.table, item, expect=expect)

    def clear(self, log: Log, who: str) -> Delete:
        return Delete(self.table, {"key": f"{log.name}#{who}"})

    def clear_as_read(self, log: LimitLog) -> Delete:
        """Delete `log`, if nobody wrote to it since it was read."""
        return Delete(self.table, {"key": log.key}, expect=c.eq("version", log.version))

    def unlocked(self, log: Log, who: str, now: float) -> Check:
        """A transaction's check that the subject is not locked or paused at `now`."""
        return Check(self.table, {"key": f"{log.name}#{who}"},
                     expect=c.any_of(c.Missing("until"), c.le("until", now)))
