"""Rate-limit rules and the sliding-window arithmetic behind them (pure, no I/O).

A rule is "at most `limit` events per `window` seconds". A subject's recent events are kept
as a list of timestamps; an event is allowed only if every rule still has room for it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    limit: int
    window: int  # seconds

    def __str__(self) -> str:
        return f"{self.limit}/{self.window}"


def parse_rules(text: str) -> tuple[Rule, ...]:
    """Parse '1/60,3/900' into rules; a setting that does not parse stops the service."""
    rules = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            limit, window = (int(x) for x in part.split("/"))
        except ValueError:
            raise RuntimeError(f"a limit must look like 'COUNT/SECONDS', not {part!r}") from None
        if limit < 1 or window < 1:
            raise RuntimeError(f"a limit must be positive, not {part!r}")
        rules.append(Rule(limit, window))
    return tuple(rules)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until the event would be allowed


def longest_window(rules: tuple[Rule, ...]) -> int:
    return max((rule.window for rule in rules), default=0)


def recent(events: list[float], rules: tuple[Rule, ...], now: float) -> list[float]:
    """The events that still count for some rule, oldest first."""
    horizon = now - longest_window(rules)
    return sorted(t for t in events if t > horizon)


def decide(events: list[float], rules: tuple[Rule, ...], now: float) -> Decision:
    """May one more event happen at `now`, given the earlier `events`?"""
    wait = 0.0
    for rule in rules:
        inside = sorted(t for t in events if t > now - rule.window)
        if len(inside) >= rule.limit:
            # The event that must leave the window before there is room again.
            freeing = inside[len(inside) - rule.limit]
            wait = max(wait, freeing + rule.window - now)
    if wait > 0:
        return Decision(False, max(1, math.ceil(wait)))
    return Decision(True)


def fixed_window(now: float, window: int) -> tuple[int, int]:
    """(start of the fixed window holding `now`, seconds until it ends)."""
    start = int(now // window) * window
    return start, max(1, math.ceil(start + window - now))


@dataclass(frozen=True)
class LimitLog:
    """One subject's recent events under its rules, as read; `until` ends a lock or pause,
    `version` is what a write back is conditioned on (0: nothing stored yet)."""

    key: str
    rules: tuple[Rule, ...]
    events: tuple[float, ...] = ()
    version: int = 0
    until: float = 0.0

    def locked(self, now: float) -> bool:
        return self.until > now

    def recent(self, now: float) -> list[float]:
        return recent(list(self.events), self.rules, now)

    def decide(self, now: float) -> Decision:
        """May one more event happen at `now`?"""
        return decide(list(self.events), self.rules, now)

    def full_after(self, now: float) -> bool:
        """Would one more event at `now` fill a rule (the event that locks)?"""
        return not decide(self.recent(now) + [now], self.rules, now).allowed
