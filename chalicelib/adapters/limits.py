"""Rate limits in DynamoDB, updated atomically so parallel requests cannot get past them.

The adapter owns its subjects: each is named here with the setting that holds its rules.

- Counters (sliding windows: per client network, per username for failures, the whole
  service's SMS): a window is counted in slices (domain/limits.py `slices`). An event is
  *reserved* by one conditional `ADD` on the current slice, conditioned on the room the
  closed slices leave, so thousands of parallel requests serialise in DynamoDB itself and
  none gets past the limit; no read-modify-write, so no lost update and no retry loop. A
  failure is counted by the reservation made before the password or code was compared; a
  success may give its reservation back.
- Locks (a login lock, the reset pause): one item per subject with `until`, written when a
  failure fills its counter, checked (`unlocked`) in the same transaction that issues a
  session or a reset token. Its `generation` names the counters in use: unlocking (a
  successful reset, support) starts new counters instead of deleting old ones.
- Logs (code SMS per username and per flow, new numbers per account): the recent
  timestamps of one subject in one item, read, judged by `domain.limits` and written back on
  the condition that nobody wrote in between (services/unit_of_work.retrying).

A client network is never stored: the subject is an HMAC-SHA256 of the network (an IPv4
address, an IPv6 /64) under the limits key of the secrets, so the table cannot be reversed
into addresses by hashing the address space.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain import conditions as c
from chalicelib.domain import limits as rules_
from chalicelib.domain.limits import Decision, LimitLog, Rule, Slice
from chalicelib.ports import Check, Delete, Put, Read, Refused, Store, Update

HOUSEKEEPING_SECONDS = 60


def _slice(item: dict | None) -> Slice:
    item = item or {}
    return Slice(int(item.get("n", 0)), float(item.get("last", 0)))


@dataclass(frozen=True)
class Log:
    """A sliding-window subject: `<name>#<who>`, its rules in LimitSettings.`setting`."""

    name: str
    setting: str


@dataclass(frozen=True)
class Counter:
    """A sliding-window counter: `<name>#<who>#g<generation>#<window>#<slice>` per rule and
    slice. `per_network`: `who` includes the client's network (HMAC'd, never stored), and a
    trusted network gets TRUSTED_FACTOR times the rules. `lock`: the setting with the
    seconds that a failure filling the counter locks its subject for (its lock item is
    `<name>#<who>`)."""

    name: str
    setting: str
    per_network: bool = False
    lock: str = ""


@dataclass(frozen=True)
class Reservation:
    """An event reserved on a counter (`allowed`), or refused with `retry_after`. `left`:
    how many more the tightest rule allows after it; `keys`: the slices it is counted in
    (to give it back)."""

    allowed: bool
    retry_after: int = 0
    left: int = 0
    keys: tuple[dict, ...] = ()
    window: int = 0  # of the rule that refused

    @property
    def filled(self) -> bool:
        """This event took the last room."""
        return self.allowed and self.left == 0


@dataclass(frozen=True)
class Lock:
    """A subject's lock as read: `until` locks it everywhere; `network_until` is when the
    latest lock of one of its networks ends (for support: which network is not stored)."""

    key: str
    until: float = 0.0
    generation: int = 0
    network_until: float = 0.0

    def locked(self, now: float) -> bool:
        return self.until > now

    def locked_somewhere(self, now: float) -> float:
        """When the latest lock, everywhere or on a network, ends; 0 if none is on."""
        latest = max(self.until, self.network_until)
        return latest if latest > now else 0.0


# code SMS per username, both portals (3/15 min, 5/24 h), and per flow (1 per 60 s)
CODE_SMS = Log("codesms", "sms_per_username")
CODE_SMS_RESET = Log("codesms-reset", "sms_per_flow")
CODE_SMS_REGISTRATION = Log("codesms-reg", "sms_per_flow")
NUMBERS = Log("numbers", "numbers_per_account")  # new numbers verified per account

# wrong codes per username, and the reset pause
WRONG_CODES = Counter("wrongcode", "wrong_codes_per_username", lock="reset_pause_seconds")
# pwreg login failures per username, all networks (a ceiling: no lock beyond the window)
LOGIN_FAILURES = Counter("loginfail", "login_failures_per_username")
# pwreg login failures per username and client network, and that network's login lock
NETWORK_LOGIN_FAILURES = Counter("loginfail-net", "login_failures_per_network",
                                 per_network=True, lock="login_lock_seconds")

RESET_STARTS = Counter("net-reset", "reset_starts_per_ip", per_network=True)
RESENDS = Counter("net-resend", "resends_per_network", per_network=True)
VERIFIES = Counter("net-verify", "verifies_per_network", per_network=True)
LOGINS = Counter("net-login", "logins_per_ip", per_network=True)
SERVICE_SMS = Counter("sms-service", "sms_per_service")


class Limits:
    def __init__(self, store: Store, table: str, settings,
                 key: Callable[[], bytes] = lambda: b""):
        self._store = store
        self.table = table
        self._settings = settings  # LimitSettings
        self._key = key  # the limits key of the secrets, read on first need

    def rules(self, subject: Log | Counter, ip: str | None = None) -> tuple[Rule, ...]:
        rules = getattr(self._settings, subject.setting)
        if ip is not None and rules_.is_trusted(ip, self._settings.trusted_networks):
            return rules_.scaled(rules, rules_.TRUSTED_FACTOR)
        return rules

    def who(self, counter: Counter, who: str, ip: str | None) -> str:
        """The stored subject: `who` itself, or with the client network, an HMAC of both."""
        if not counter.per_network:
            return who
        network = rules_.network_of(ip or "")
        message = f"{counter.name}\n{who}\n{network}".encode("utf-8")
        return hmac.new(self._key(), message, hashlib.sha256).hexdigest()[:32]

    # -- counters --------------------------------------------------------------------------

    def _slice_key(self, counter: Counter, subject: str, generation: int, rule: Rule,
                   index: int) -> dict:
        return {"key": f"{counter.name}#{subject}#g{generation}#{rule.window}#{index}"}

    def windows(self, counter: Counter, who: str, now: float, *, ip: str | None = None,
                generation: int = 0) -> list[tuple[Rule, list[Read], Read, float]]:
        """Per rule: (rule, reads of its closed slices' counts, read of the current slice's,
        end of the current slice)."""
        subject = self.who(counter, who, ip)
        found = []
        for rule in self.rules(counter, ip if counter.per_network else None):
            closed, current = rules_.slices(rule, now)

            def read(index, rule=rule):
                return Read(self.table, self._slice_key(counter, subject, generation, rule,
                                                        index), _slice)
            found.append((rule, [read(i) for i in closed], read(current),
                          (current + 1) * rules_.slice_seconds(rule)))
        return found

    def tally(self, counter: Counter, who: str, now: float, generation: int = 0) -> \
            tuple[Rule, list[Read]]:
        """The counter's longest rule and the reads of its slices at `now` (for support:
        `counted` of what they read is how many failures stand against a username)."""
        rules = self.windows(counter, who, now, generation=generation)
        rule, closed, current, _ = max(rules, key=lambda found: found[0].window)
        return rule, closed + [current]

    @staticmethod
    def counted(rule: Rule, found: list[Slice], now: float) -> int:
        return sum(s.n for s in rules_.counting(rule, found, now))

    @staticmethod
    def wait(counts: dict[Rule, list[Slice]], now: float) -> int:
        """Seconds until the counter has room, from each rule's slices; 0: room now."""
        wait = 0
        for rule, found in counts.items():
            if sum(s.n for s in rules_.counting(rule, found, now)) >= rule.limit:
                wait = max(wait, rules_.wait_for_room(rule, found, now))
        return wait

    def reserve(self, counter: Counter, who: str, now: float, *, ip: str | None = None,
                generation: int = 0) -> Reservation:
        """Count one event against every rule, before the work it stands for; refuse (and
        count nothing) if any rule has no room."""
        rules = self.windows(counter, who, now, ip=ip, generation=generation)
        found = [_slice(item) for item in self._store.get_many(
            [(read.table, read.key) for _, closed, current, _ in rules
             for read in closed + [current]])]
        taken: list[dict] = []
        left = None
        at = 0
        for rule, closed, current, ends in rules:
            counts = found[at:at + len(closed)]
            seen = found[at + len(closed)]
            at += len(closed) + 1
            space = rules_.room(rule, counts, now)
            try:
                if space <= 0:
                    raise Refused(item={"n": seen.n, "last": seen.last})
                new = self._store.write(Update(
                    self.table, current.key, add={"n": 1},
                    set={"last": now, "ttl": int(ends + rule.window + HOUSEKEEPING_SECONDS)},
                    expect=c.any_of(c.Missing("n"), c.lt("n", space))), returns_new=True)
            except Refused as refused:
                self.give_back(Reservation(True, keys=tuple(taken)))
                return Reservation(False, rules_.wait_for_room(
                    rule, counts + [_slice(refused.item)], now), window=rule.window)
            taken.append(current.key)
            rule_left = space - int((new or {}).get("n", 1))
            left = rule_left if left is None else min(left, rule_left)
        return Reservation(True, left=max(0, left or 0), keys=tuple(taken))

    def hit(self, counter: Counter, who: str, now: float, *, ip: str | None = None) -> \
            Reservation:
        """Count one event that stays counted (a request against a per-network limit)."""
        return self.reserve(counter, who, now, ip=ip)

    def give_back(self, reservation: Reservation) -> None:
        """Take a reservation back (a success, or a later rule refused). Best effort: a
        reservation that stays counted only errs on the side of the limit."""
        for key in reservation.keys:
            try:
                self._store.write(Update(self.table, key, add={"n": -1},
                                         expect=c.gt("n", 0)))
            except Exception:  # noqa: BLE001 (see above: the limit errs on its safe side)
                pass

    # -- locks -----------------------------------------------------------------------------

    def _lock_key(self, counter: Counter, who: str, ip: str | None) -> dict:
        return {"key": f"{counter.name}#{self.who(counter, who, ip)}"}

    def lock_read(self, counter: Counter, who: str, *, ip: str | None = None) -> Read:
        key = self._lock_key(counter, who, ip)

        def parse(item: dict | None) -> Lock:
            item = item or {}
            return Lock(key["key"], float(item.get("until", 0)),
                        int(item.get("generation", 0)), float(item.get("network_until", 0)))
        return Read(self.table, key, parse)

    def locked_until(self, counter: Counter, who: str, until: float, *,
                     ip: str | None = None, network_until: float = 0.0) -> Update:
        """Lock (or pause) the subject until `until` (the latest failure's lock: a later
        one is never shorter), and note `network_until` if given (see below). The
        generation stays: the counters go on counting."""
        changes: dict = {"until": until, "ttl": int(until + HOUSEKEEPING_SECONDS)}
        if network_until:
            changes["network_until"] = network_until
        return Update(self.table, self._lock_key(counter, who, ip), set=changes)

    def network_locked_until(self, counter: Counter, who: str, until: float) -> Update:
        """Note on the subject's own lock item that one of its networks is locked until
        `until` (support sees it; nothing is refused by it)."""
        return Update(self.table, self._lock_key(counter, who, None),
                      set={"network_until": until})

    def unlocked(self, counter: Counter, who: str, now: float, *,
                 ip: str | None = None) -> Check:
        """A transaction's check that the subject is not locked or paused at `now`."""
        return Check(self.table, self._lock_key(counter, who, ip),
                     expect=c.any_of(c.Missing("until"), c.le("until", now)))

    def unlock(self, counter: Counter, who: str, *, ip: str | None = None) -> Update:
        """End the lock and start new counters: the failures so far no longer count."""
        return Update(self.table, self._lock_key(counter, who, ip), add={"generation": 1},
                      remove=("until", "network_until", "events", "version", "ttl"))

    # -- at most one audit record per refused subject and window ---------------------------

    def first_refusal(self, name: str, who: str, window: int, now: float, *,
                      ip: str | None = None) -> Put:
        """A marker that only the first refusal of `who` on limit `name` in this window can
        write: `ratelimit.exceeded` goes into the audit table once per subject and window."""
        window = max(1, window)
        start = int(now // window) * window
        subject = hmac.new(self._key(), f"{who}\n{rules_.network_of(ip)}".encode("utf-8"),
                           hashlib.sha256).hexdigest()[:32] if ip is not None else who
        return Put(self.table, {"key": f"refused#{name}#{subject}#{start}",
                                "ttl": start + window + HOUSEKEEPING_SECONDS},
                   expect=c.Missing("key"))

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
