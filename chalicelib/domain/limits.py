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


# -- client networks (SPEC 5 v2) ------------------------------------------------------------

TRUSTED_FACTOR = 10  # a trusted network (the municipality's own NAT) gets 10× the limits


def network_of(ip: str) -> str:
    """The client network an address belongs to: an IPv4 address itself, an IPv6 address
    its /64 (one host holds a whole /64, so counting addresses would count nothing). An
    IPv4-mapped IPv6 address is its IPv4 address; text that is no address stays as it is."""
    import ipaddress
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip()
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.version == 4:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def is_trusted(ip: str, networks: tuple[str, ...]) -> bool:
    """Is the address inside one of the trusted CIDRs?"""
    import ipaddress
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in networks)


def parse_networks(text: str) -> tuple[str, ...]:
    """'10.0.0.0/8, 2001:db8::/48' → the CIDRs; one that does not parse stops the service."""
    import ipaddress
    found = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise RuntimeError(f"a trusted network must be a CIDR, not {part!r}") from None
    return tuple(found)


def scaled(rules: tuple[Rule, ...], factor: int) -> tuple[Rule, ...]:
    return tuple(Rule(rule.limit * factor, rule.window) for rule in rules)


# -- sliding-window counters ---------------------------------------------------------------

SLICES = 60  # a window is counted in 60 slices, plus the slice it began in


@dataclass(frozen=True)
class Slice:
    """One slice of a counter as read: how many events it holds and when the last came."""

    n: int = 0
    last: float = 0.0


def slice_seconds(rule: Rule) -> int:
    return max(1, rule.window // SLICES)


def counting(rule: Rule, found: list[Slice], now: float) -> list[Slice]:
    """The slices that count at `now`: those whose last event is inside the window.

    A counter keeps, per slice of `window / SLICES` seconds, its count of events and the time
    of its last one; a slice counts, whole, while its last event is inside the window. So
    no `window` ever holds more than `limit` events (no burst of twice the limit across an
    edge, as fixed windows allow, nor 1.5 times, as two weighted fixed windows do), and an
    event's room comes back when the last event of its slice leaves the window: exactly on
    time for a burst, at most one slice late otherwise."""
    return [s for s in found if s.n > 0 and s.last > now - rule.window]


def wait_for_room(rule: Rule, found: list[Slice], now: float) -> int:
    """Seconds until one more event fits, given every slice (the current one included)."""
    counted = sorted(counting(rule, found, now), key=lambda s: s.last)
    excess = sum(s.n for s in counted) + 1 - rule.limit
    freed = 0
    for s in counted:
        freed += s.n
        if freed >= excess:
            return max(1, math.ceil(s.last + rule.window - now))
    return 1


# -- the subjects: what is counted, each with the setting (LimitSettings) of its rules ----

@dataclass(frozen=True)
class Log:
    """A sliding-window subject: `<name>#<who>`, its rules in LimitSettings.`setting`.
    `per_number`: `who` is a username and a number, the number an HMAC (never stored in
    the clear, repositories/limits.py `Logs.number_key`)."""

    name: str
    setting: str
    per_number: bool = False


@dataclass(frozen=True)
class Counter:
    """A sliding-window counter (repositories/limits.py). `per_network`: `who` is the client's network
    (HMAC'd, never stored), and a trusted network gets TRUSTED_FACTOR times the rules.
    `lock`: the setting with the seconds a failure that fills it locks its subject for.
    `network`: the setting of a per-network sub-counter kept in the same item."""

    name: str
    setting: str
    per_network: bool = False
    lock: str = ""
    network: str = ""


# code SMS per (username, number) (SPEC 5 v3): both portals (3/15 min, 5/24 h), and per
# flow (1 per 60 s); and per account, every number together (20/24 h)
CODE_SMS = Log("codesms", "sms_per_number", per_number=True)
CODE_SMS_RESET = Log("codesms-reset", "sms_per_flow", per_number=True)
CODE_SMS_REGISTRATION = Log("codesms-reg", "sms_per_flow", per_number=True)
CODE_SMS_ACCOUNT = Log("codesms-account", "sms_per_account")
NUMBERS = Log("numbers", "numbers_per_account")  # new numbers verified per account

# wrong codes per username, and the reset pause
WRONG_CODES = Counter("wrongcode", "wrong_codes_per_username", lock="reset_pause_seconds")
# a console agent's wrong caller codes per account (SPEC 14): `who` is the username and the
# agent's key; filling it pauses that agent's verifications on that account
CALLER_CODES = Counter("callercode", "wrong_caller_codes", lock="caller_pause_seconds")
# and the ceilings: one agent's on every account (`who` the agent's key), every agent's on
# one account (`who` the username); full, they refuse until there is room
CALLER_CODES_AGENT = Counter("callercode-agent", "wrong_caller_codes_per_agent")
CALLER_CODES_ACCOUNT = Counter("callercode-account", "wrong_caller_codes_per_account")
# pwreg login failures per username: all networks (the ceiling), and per client network
LOGIN_FAILURES = Counter("loginfail", "login_failures_per_username",
                         network="login_failures_per_network")

RESET_STARTS = Counter("net-reset", "reset_starts_per_ip", per_network=True)
RESENDS = Counter("net-resend", "resends_per_network", per_network=True)
VERIFIES = Counter("net-verify", "verifies_per_network", per_network=True)
LOGINS = Counter("net-login", "logins_per_ip", per_network=True)
SERVICE_SMS = Counter("sms-service", "sms_per_service")
