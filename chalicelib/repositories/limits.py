"""Rate limits in DynamoDB, updated atomically so parallel requests cannot get past them.

Two kinds of subject (domain/limits.py), each with its own repository on the limits table,
so that one cannot be handed where the other is meant (a counter's key is per rule, a
log's is not: deleting a counter as a log deletes nothing): `Counters` for `Counter`
subjects, `Logs` for `Log` subjects; `Limits` is both, for a caller that reads both.

- Counters (sliding windows: per client network, per username for failures, the whole
  service's SMS): one item per subject and rule, `<name>#<who>#<window>`, holding the count
  `s<i>` and the time of the last event `l<i>` of each slice of `window / SLICES` seconds
  that may still count, and `t`, the sum of the `s<i>`. An event is *reserved* by one
  conditional update, `ADD t 1, s<i> 1` if `t < limit` (and the subject is not locked), with
  no read before it: parallel requests serialise in DynamoDB itself, none gets past the
  limit, no update is lost. Slices whose last event has left the window are dropped only
  when a refusal shows they hold room back (a conditional update that removes exactly what
  it saw), and the reservation is tried again. A failure is counted by the reservation
  made before the password or code was compared; a success gives it back.
- A counter's lock or pause (`until`) lives in the same item: the reservation is refused
  while it holds, the transaction that issues a session or a reset token checks it again
  (`unlocked`), and unlocking deletes the item, counts and all.
- The login failures per username carry, in the same item, one sub-counter per client
  network (`t_<h>`, `s_<h>_<i>`, `l_<h>_<i>`, `<h>` an HMAC of the network): one update
  reserves the attempt against both the network's limit and the all-networks ceiling.
- Logs (code SMS per (username, number) and per flow, per account, new numbers per
  account): the recent timestamps of one subject in one item, read, judged by
  `domain.limits` and written back on the condition that nobody wrote in between
  (services/unit_of_work.retrying). A start that counts nothing writes the same puts to
  items beside the logs that expire at once (`touched`), so that it does the same work as
  one that counts.

A client network, and a phone number in a per-number log's key, is never stored: it is an
HMAC-SHA256 (of the network: an IPv4 address, an IPv6 /64) under the limits key of the
secrets, so the table cannot be reversed into addresses or numbers by hashing them all.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.domain import conditions as c
from chalicelib.domain import limits as rules_
from chalicelib.domain.limits import Counter, LimitLog, Log, Rule, Slice
from chalicelib.ports import Delete, Item, Key, Put, Read, Refused, Store, Update

if TYPE_CHECKING:
    from chalicelib.settings import LimitSettings

HOUSEKEEPING_SECONDS = 60
RESERVE_TRIES = 3  # a reservation, and again after dropping slices that left the window
TOUCH_SLOTS = 8  # the items beside a log that a start counting nothing writes (`touched`)

# A per-network sub-counter: the HMAC of the caller's network, and its rule.
Network = tuple[str, Rule]


@dataclass(frozen=True)
class Reservation:
    """An event reserved on a counter (`allowed`), or refused with `retry_after`. `left`:
    how many more the counter allows after it; `network_left`: the same for the caller's
    network's sub-counter; `give_back`: the updates that take it back."""

    allowed: bool
    retry_after: int = 0
    left: int = 0
    network_left: int = 0
    window: int = 0  # of the rule that refused
    locked: bool = False  # refused because the subject is locked or paused
    network: bool = False  # refused by the caller's network's sub-counter alone
    give_back: tuple[Update, ...] = ()

    @property
    def filled(self) -> bool:
        """This event took the counter's last room."""
        return self.allowed and self.left == 0

    @property
    def network_filled(self) -> bool:
        return self.allowed and self.network_left == 0


@dataclass(frozen=True)
class Returned:
    """A reservation given back in a transaction (`Limits.returned`): `if_unlocked`, the
    first rule's event, refused while the subject is locked or paused; `others`, the other
    rules' events."""

    if_unlocked: Update
    others: tuple[Update, ...] = ()


@dataclass(frozen=True)
class Lock:
    """A counter's item as read: `until` locks it; `network_until` is when the latest lock
    of one of its networks ends (for support: which network is not stored); `slices` the
    counter's own slices."""

    key: str
    until: float = 0.0
    network_until: float = 0.0
    slices: tuple[Slice, ...] = field(default=())

    def locked(self, now: float) -> bool:
        return self.until > now

    def locked_somewhere(self, now: float) -> float:
        """When the latest lock, everywhere or on a network, ends; 0 if none is on."""
        latest = max(self.until, self.network_until)
        return latest if latest > now else 0.0


def _slices(item: Item, prefix: str) -> dict[str, Slice]:
    """The slices of `item` under `prefix` ("" for the counter's own, "<h>_" for a
    network's), by the name of their count attribute."""
    found: dict[str, Slice] = {}
    for name, value in item.items():
        if name.startswith("s" + prefix) and name[1 + len(prefix):].isdigit():
            index = name[1 + len(prefix):]
            found[name] = Slice(int(value), float(item.get(f"l{prefix}{index}", 0)))
    return found


class _LimitsTable:
    def __init__(self, store: Store, table: str, settings: LimitSettings,
                 key: Callable[[], bytes] = lambda: b"") -> None:
        self._store = store
        self.table = table
        self._settings = settings
        self._key = key  # the limits key of the secrets, read on first need

    def _rules(self, setting: str, ip: str | None = None) -> tuple[Rule, ...]:
        rules: tuple[Rule, ...] = getattr(self._settings, setting)
        if ip is not None and rules_.is_trusted(ip, self._settings.trusted_networks):
            return rules_.scaled(rules, rules_.TRUSTED_FACTOR)
        return rules

    def _hmac(self, *parts: str) -> str:
        return hmac.new(self._key(), "\n".join(parts).encode("utf-8"),
                        hashlib.sha256).hexdigest()


class Counters(_LimitsTable):
    """The sliding counters (`Counter` subjects): reserved before the work, given back on
    success, locked and unlocked; and the marker of a window's first refusal."""

    def rules(self, counter: Counter, ip: str | None = None) -> tuple[Rule, ...]:
        return self._rules(counter.setting, ip)

    def who(self, counter: Counter, who: str, ip: str | None) -> str:
        """The stored subject: `who` itself, or for a per-network counter an HMAC of the
        client's network."""
        if not counter.per_network:
            return who
        return self._hmac(counter.name, who, rules_.network_of(ip or ""))[:32]

    def _key_of(self, counter: Counter, who: str, rule: Rule, ip: str | None) -> Key:
        return {"key": f"{counter.name}#{self.who(counter, who, ip)}#{rule.window}"}

    def _first_key(self, counter: Counter, who: str, ip: str | None = None) -> Key:
        return self._key_of(counter, who, self.rules(counter)[0], ip)

    # -- counters --------------------------------------------------------------------------

    def reserve(self, counter: Counter, who: str, now: float, *,
                ip: str | None = None) -> Reservation:
        """Count one event against every rule (and the caller's network's sub-counter),
        before the work it stands for; refuse, counting nothing, if any has no room or the
        subject is locked."""
        rules = self.rules(counter, ip if counter.per_network else None)
        network = None
        if counter.network:
            network = (self._hmac(counter.name, who, rules_.network_of(ip or ""))[:16],
                       self._rules(counter.network, ip)[0])
        taken: list[Update] = []
        left = network_left = None
        for k, rule in enumerate(rules):
            found = self._reserve_one(self._key_of(counter, who, rule, ip), rule,
                                      network if k == 0 else None, now)
            if not found.allowed:
                self.give_back(Reservation(True, give_back=tuple(taken)))
                return found
            taken += found.give_back
            left = found.left if left is None else min(left, found.left)
            if k == 0 and network:
                network_left = found.network_left
        return Reservation(True, left=left or 0, network_left=network_left or 0,
                           give_back=tuple(taken))

    def counting_writes(self, counter: Counter, who: str, now: float, *,
                        ip: str | None = None) -> list[Update]:
        """The reservation of one event, as writes for a transaction (one per rule): where
        the event is counted only if the rest of the change happens. When the transaction
        is refused by one of them, ask `refusal_of`."""
        rules = self.rules(counter, ip if counter.per_network else None)
        return [self._counting(self._key_of(counter, who, rule, ip), rule, None, now)
                for rule in rules]

    def refusal_of(self, counter: Counter, who: str, now: float, *,
                   ip: str | None = None) -> Reservation | None:
        """After a transaction's counting write was refused: None if slices that had left
        the window were dropped (build the transaction again), else the refusal."""
        for rule in self.rules(counter, ip if counter.per_network else None):
            key = self._key_of(counter, who, rule, ip)
            [item] = self._store.get_many([(self.table, key)])
            item = item or {}
            full = item.get("until", 0) > now or \
                self._counted(rule, _slices(item, ""), now) >= rule.limit
            if not full and self._drop_expired(key, item, rule, None, now):
                return None
            if full:
                return self._refusal(item, rule, None, now)
        return None

    def _counting(self, key: Key, rule: Rule, network: Network | None, now: float) -> Update:
        index = int(now // rules_.slice_seconds(rule))
        add = {"t": 1, f"s{index}": 1}
        changes = {f"l{index}": now, "ttl": int(now + rule.window + HOUSEKEEPING_SECONDS)}
        expect = [c.any_of(c.Missing("t"), c.lt("t", rule.limit)),
                  c.any_of(c.Missing("until"), c.le("until", now))]
        if network:
            h, net_rule = network
            j = int(now // rules_.slice_seconds(net_rule))
            add.update({f"t_{h}": 1, f"s{h}_{j}": 1})
            changes[f"l{h}_{j}"] = now
            expect.append(c.any_of(c.Missing(f"t_{h}"), c.lt(f"t_{h}", net_rule.limit)))
        return Update(self.table, key, add=add, set=changes, expect=c.all_of(*expect))

    def _reserve_one(self, key: Key, rule: Rule, network: Network | None,
                     now: float) -> Reservation:
        write = self._counting(key, rule, network, now)
        add = write.add
        old: Item = {}
        for _ in range(RESERVE_TRIES):
            try:
                new = self._store.write(write, returns_new=True) or {}
            except Refused as refused:
                old = refused.item or {}
                if old.get("until", 0) > now or not self._drop_expired(key, old, rule,
                                                                      network, now):
                    break
                continue
            back = Update(self.table, key, add={name: -1 for name in add})
            left = rule.limit - self._counted(rule, _slices(new, ""), now)
            network_left = 0
            if network:
                network_left = network[1].limit - self._counted(
                    network[1], _slices(new, network[0] + "_"), now)
            return Reservation(True, left=max(0, left), network_left=max(0, network_left),
                               give_back=(back,))
        return self._refusal(old, rule, network, now)

    @staticmethod
    def _counted(rule: Rule, slices: dict[str, Slice], now: float) -> int:
        return sum(s.n for s in rules_.counting(rule, list(slices.values()), now))

    def _drop_expired(self, key: Key, item: Item, rule: Rule, network: Network | None,
                      now: float) -> bool:
        """Remove the slices of `item` whose last event left the window, if nobody changed
        them since; whether there were any (the reservation is worth trying again)."""
        parts = [("", "t", rule)]
        if network:
            parts.append((network[0] + "_", f"t_{network[0]}", network[1]))
        remove: list[str] = []
        add: dict[str, int] = {}
        expect: list[c.Condition] = []
        for prefix, total, part_rule in parts:
            for name, found in _slices(item, prefix).items():
                if found.last <= now - part_rule.window:
                    remove += [name, "l" + name[1:]]
                    add[total] = add.get(total, 0) - found.n
                    expect.append(c.eq(name, found.n))
        if not remove:
            return False
        try:
            self._store.write(Update(self.table, key, add=add, remove=tuple(remove),
                                     expect=c.all_of(*expect)))
        except Refused:
            pass  # somebody dropped them first, or a late event came: try again all the same
        return True

    def _refusal(self, item: Item, rule: Rule, network: Network | None, now: float) -> Reservation:
        until = float(item.get("until", 0))
        if until > now:
            return Reservation(False, max(1, math.ceil(until - now)), window=rule.window,
                               locked=True)
        waits = []  # (seconds, window, whether the network's sub-counter)
        own = list(_slices(item, "").values())
        if sum(s.n for s in rules_.counting(rule, own, now)) >= rule.limit:
            waits.append((rules_.wait_for_room(rule, own, now), rule.window, False))
        if network:
            mine = list(_slices(item, network[0] + "_").values())
            if sum(s.n for s in rules_.counting(network[1], mine, now)) >= network[1].limit:
                waits.append((rules_.wait_for_room(network[1], mine, now),
                              network[1].window, True))
        wait, window, by_network = max(waits, default=(1, rule.window, False))
        return Reservation(False, wait, window=window, network=by_network)

    def returned(self, reservation: Reservation, now: float) -> Returned:
        """The updates that give `reservation` back inside a transaction: the first rule's
        on the condition that its subject is not locked at `now` (a transaction may not both
        check and update one item), so that the issuing write checks the lock again,
        atomically; the other rules' as they are."""
        first, *others = reservation.give_back
        return Returned(Update(first.table, first.key, add=first.add,
                               expect=c.any_of(c.Missing("until"), c.le("until", now))),
                        tuple(others))

    def give_back(self, reservation: Reservation) -> None:
        """Take a reservation back (a success, or a later rule refused). Best effort: a
        reservation that stays counted only errs on the side of the limit."""
        for update in reservation.give_back:
            try:
                self._store.write(update)
            except Exception:  # noqa: BLE001 (see above: the limit errs on its safe side)
                pass

    def unlocked_check(self, counter: Counter, who: str, now: float) -> Reservation:
        """The same conditional update as a reservation's, on the counter's first rule's item,
        that counts nothing: allowed unless the subject is locked (or paused) at `now`. For
        a failure that must not count, answered as one that counts is (a wrong code of a
        challenge whose number is no holder's, SPEC 11 v3). It never creates the item: on a
        missing one it is refused, which says "not locked"."""
        rule = self.rules(counter)[0]
        key = self._first_key(counter, who, None)
        write = Update(self.table, key, add={"t": 0},
                       expect=c.all_of(c.Present("t"),
                                       c.any_of(c.Missing("until"), c.le("until", now))))
        try:
            self._store.write(write, returns_new=True)
        except Refused as refused:
            until = float((refused.item or {}).get("until", 0))
            if until > now:
                return Reservation(False, max(1, math.ceil(until - now)), window=rule.window,
                                   locked=True)
        return Reservation(True, left=rule.limit)

    # -- locks -----------------------------------------------------------------------------

    def lock_read(self, counter: Counter, who: str, *, ip: str | None = None) -> Read[Lock]:
        """The counter's (first rule's) item: its lock and its own slices."""
        key = self._first_key(counter, who, ip)

        def parse(item: Item | None) -> Lock:
            item = item or {}
            return Lock(key["key"], float(item.get("until", 0)),
                        float(item.get("network_until", 0)),
                        tuple(_slices(item, "").values()))
        return Read(self.table, key, parse)

    def counted(self, counter: Counter, lock: Lock, now: float) -> int:
        """How many events count against the counter's first rule at `now` (for support)."""
        return sum(s.n for s in rules_.counting(self.rules(counter)[0], list(lock.slices),
                                                now))

    def wait(self, counter: Counter, lock: Lock, now: float) -> int:
        """Seconds until the counter's first rule has room; 0: room now."""
        rule = self.rules(counter)[0]
        if self.counted(counter, lock, now) < rule.limit:
            return 0
        return rules_.wait_for_room(rule, list(lock.slices), now)

    def locked_until(self, counter: Counter, who: str, until: float, *,
                     ip: str | None = None, network_until: float = 0.0) -> Update:
        """Lock (or pause) the subject until `until` (the latest failure's lock: a later
        one is never shorter), and note `network_until` if given (see below)."""
        changes: Item = {"until": until, "ttl": int(until + HOUSEKEEPING_SECONDS)}
        if network_until:
            changes["network_until"] = network_until
        return Update(self.table, self._first_key(counter, who, ip), set=changes)

    def network_locked_until(self, counter: Counter, who: str, until: float) -> Update:
        """Note on the subject's item that one of its networks is locked until `until`
        (support sees it; nothing is refused by it: the network's count is the lock)."""
        return Update(self.table, self._first_key(counter, who), set={"network_until": until})

    def unlock(self, counter: Counter, who: str) -> list[Delete]:
        """End the lock and forget the failures, every network's included."""
        return [Delete(self.table, self._key_of(counter, who, rule, None))
                for rule in self.rules(counter)]

    # -- at most one audit record per refused subject and window ---------------------------

    def refused_before(self, name: str, who: str, window: int, now: float) -> Read[bool]:
        """Whether the marker of `first_refusal` (no network) is written for this window:
        read with the rest of a change, so that the change itself can write it."""
        start = int(now // max(1, window)) * max(1, window)
        return Read(self.table, {"key": f"refused#{name}#{who}#{start}"},
                    lambda item: item is not None)

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


class Logs(_LimitsTable):
    """The logs (`Log` subjects): one subject's recent events in one item, read, judged by
    domain/limits.py and written back on the version read."""

    def number_key(self, username: str, number: str) -> str:
        """What stands for `number` in the keys of `username`'s per-number logs: an HMAC
        under the limits key, so that the table holds no number (SPEC 5 v3)."""
        return self._hmac("number", username, number)[:32]

    @staticmethod
    def _log_key(log: Log, who: str, number_key: str) -> str:
        if log.per_number != bool(number_key):
            raise ValueError(f"the log {log.name!r} is "
                             + ("per number" if log.per_number else "not per number"))
        return f"{log.name}#{who}#{number_key}" if number_key else f"{log.name}#{who}"

    def read(self, log: Log, who: str, number_key: str = "") -> Read[LimitLog]:
        """The log of `who` (for a per-number log: of `who`'s number `number_key`)."""
        key, rules = self._log_key(log, who, number_key), self._rules(log.setting)

        def parse(item: Item | None) -> LimitLog:
            if not item:
                return LimitLog(key, rules)
            return LimitLog(key, rules, tuple(float(t) for t in item.get("events", [])),
                            int(item.get("version", 0)), float(item.get("until", 0)))
        return Read(self.table, {"key": key}, parse)

    def record(self, log: LimitLog, now: float, until: float = 0.0) -> Put:
        """The conditional write that adds the event at `now` to `log` (and a lock or pause
        to `until`, if later than the one it has)."""
        return self._written(log, log.recent(now) + [now], max(until, log.until))

    def touched(self, log: LimitLog, now: float) -> Put:
        """For a start that counts nothing (services/reset.py): the put `record` would
        make, of the same kind and size of item, to one of TOUCH_SLOTS items beside the log
        that expire at once: it counts nothing, is refused by nothing, and parallel starts
        of one account seldom meet on one item (they would on the log itself), while the
        items a burst leaves stay few."""
        slot = uuid.uuid4().int % TOUCH_SLOTS
        item = {"key": f"touched#{log.key}#{slot}", "events": log.recent(now) + [now],
                "version": log.version + 1, "until": log.until,
                "ttl": int(now + HOUSEKEEPING_SECONDS)}
        return Put(self.table, item)

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



class Limits(Counters, Logs):
    """Both kinds on the one table, for a caller that reads both (support's view of a
    username's limits). A counter is never a log: each method takes its own kind."""
