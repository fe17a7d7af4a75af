"""Rate limits in DynamoDB, updated atomically so parallel requests cannot get past them.

Two kinds:
- fixed-window counters (per client IP, the whole service's SMS): one conditional `ADD`
  per request, no read, so thousands of parallel requests serialise in DynamoDB itself;
- sliding logs (per username: code SMS, wrong codes, login failures; per account: new
  numbers): the recent timestamps of one subject in one item, read, judged by
  `domain.limits.decide` and written back on the condition that nobody wrote in between.
  A lost race is retried by the caller with a fresh read.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from chalicelib.adapters.dynamo import ConditionFailed, Dynamo, check_op, delete_op, put_op
from chalicelib.domain import limits as rules_
from chalicelib.domain.limits import Decision, Rule


@dataclass
class LimitLog:
    """A subject's recent events; `until` is the end of a lock or pause, if any."""

    key: str
    events: list[float] = field(default_factory=list)
    version: int = 0
    until: float = 0.0

    def locked(self, now: float) -> bool:
        return self.until > now


def ip_subject(ip: str) -> str:
    # Limits need to tell addresses apart, not to know them.
    return hashlib.sha256(ip.encode("utf-8")).hexdigest()[:24]


class Limits:
    def __init__(self, settings, clock, dynamo: Dynamo):
        self._settings = settings
        self._clock = clock
        self._dynamo = dynamo

    @property
    def table(self) -> str:
        return self._settings.limits_table

    def now(self) -> float:
        return self._clock.now().timestamp()

    # -- fixed-window counters -------------------------------------------------------------

    def windows(self, name: str, subject: str, rules: tuple[Rule, ...],
                now: float | None = None) -> list[tuple[str, Rule, int]]:
        """(counter key, rule, end of window) of each rule's fixed window at `now`."""
        now = self.now() if now is None else now
        found = []
        for rule in rules:
            start, _ = rules_.fixed_window(now, rule.window)
            found.append((f"{name}#{subject}#{rule.window}#{start}", rule, start + rule.window))
        return found

    def hit(self, name: str, subject: str, rules: tuple[Rule, ...]) -> Decision:
        """Count one event against every rule; refuse if any window is full."""
        now = self.now()
        for key, rule, ends in self.windows(name, subject, rules, now):
            try:
                self._dynamo.update(
                    self.table, {"key": key}, "ADD n :one SET #ttl = :ttl",
                    condition="attribute_not_exists(n) OR n < :limit",
                    names={"#ttl": "ttl"},
                    values={":one": 1, ":limit": rule.limit, ":ttl": ends + 60})
            except ConditionFailed:
                return Decision(False, max(1, math.ceil(ends - now)))
        return Decision(True)

    # -- sliding logs ----------------------------------------------------------------------

    @staticmethod
    def key(name: str, subject: str) -> str:
        return f"{name}#{subject}"

    def parse(self, key: str, item: dict | None) -> LimitLog:
        if not item:
            return LimitLog(key)
        return LimitLog(key, [float(t) for t in item.get("events", [])],
                        int(item.get("version", 0)), float(item.get("until", 0)))

    def read(self, key: str) -> LimitLog:
        return self.parse(key, self._dynamo.get(self.table, {"key": key}))

    def record_op(self, log: LimitLog, rules: tuple[Rule, ...], *, until: float = 0.0,
                  keep_until: bool = True) -> dict:
        """The conditional write that adds one event at now to `log`."""
        now = self.now()
        events = rules_.recent(log.events, rules, now) + [now]
        until = max(until, log.until if keep_until else 0.0)
        expires = max([now + rules_.longest_window(rules), until]) + 60
        item = {"key": log.key, "events": events, "version": log.version + 1,
                "until": until, "ttl": int(expires)}
        return self._versioned_put(log, item)

    def forget(self, key: str, at: float, tries: int = 3) -> bool:
        """Take back the event recorded at about `at` (an SMS that was counted but could
        not be queued: the newest event from `at` to a few seconds on, the record's own
        clock reading being a moment later), so the limit does not hold back the user's
        retry. False if it could not."""
        for _ in range(tries):
            log = self.read(key)
            near = [e for e in log.events if at - 1 <= e <= at + 5]
            if not near:
                return True
            events = list(log.events)
            events.remove(max(near))
            item = {"key": key, "events": events,
                    "version": log.version + 1, "until": log.until,
                    "ttl": int(max(log.events) + 86400 + 60)}
            try:
                self._dynamo.put(self.table, item, condition="version = :v",
                                 values={":v": log.version})
                return True
            except ConditionFailed:
                continue
        return False

    def clear_op(self, key: str) -> dict:
        return delete_op(self.table, {"key": key})

    def _versioned_put(self, log: LimitLog, item: dict) -> dict:
        if log.version == 0:
            return put_op(self.table, item, condition="attribute_not_exists(#k)",
                          names={"#k": "key"})
        return put_op(self.table, item, condition="version = :v", values={":v": log.version})

    def unlocked_op(self, key: str) -> dict:
        """A transaction check that `key` is not locked or paused right now."""
        return check_op(self.table, {"key": key},
                        "attribute_not_exists(#u) OR #u <= :now",
                        names={"#u": "until"}, values={":now": self.now()})
