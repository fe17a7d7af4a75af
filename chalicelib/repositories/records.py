"""The challenges table: the flows' short-lived records (domain/records.py), by their id.

Every write here carries the record's own condition, so a code is tried, a token used or an
SMS claimed at most as often as the rule says, whatever runs in parallel.
"""
from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from chalicelib.domain import authenticator, conditions as c
from chalicelib.domain.records import (HOUSEKEEPING_SECONDS, PENDING_INDEX, PendingPassword,
                                       PhoneChange, Record, ResetChallenge, ResetToken, Session,
                                       SmsDelivery, triable, why_not_triable)
from chalicelib.ports import Delete, Item, Put, Read, Refused, Store, Update

R = TypeVar("R", bound=Record)


class Usable(Protocol):
    """A code's or a token's record: used once, while its condition holds."""

    @property
    def id(self) -> str: ...

    def usable(self, now: float) -> c.Condition: ...


class NotTriable(Exception, Generic[R]):
    """A code that could not be tried (`Records.spend_attempt`): `record`, its record as it
    was (None: there is none of that kind), and `why` (`why_not_triable`: the audit's
    outcome)."""

    def __init__(self, record: R | None, why: str) -> None:
        super().__init__(why)
        self.record = record
        self.why = why


STEP_PREFIX, STEP_KIND = "step#", "authenticator_step"  # a holder's last accepted app code


class Records:
    def __init__(self, store: Store, table: str) -> None:
        self._store = store
        self.table = table

    def get(self, kind: type[R], record_id: str) -> R | None:
        return kind.from_item(self._store.get(self.table, {"id": record_id}))

    def add(self, record: Record) -> Put:
        return Put(self.table, record.to_item())

    def read(self, kind: type[R], record_id: str) -> Read[R | None]:
        return Read(self.table, {"id": record_id}, kind.from_item)

    def replace(self, record: PhoneChange, previous: PhoneChange | None) -> Put:
        """Put `record` in place of `previous` (None: there was none), if nobody tried or
        replaced that one since it was read."""
        if previous is None:
            return Put(self.table, record.to_item(), expect=c.Missing("id"))
        return Put(self.table, record.to_item(), expect=c.all_of(
            c.eq("attempts", previous.attempts), c.eq("code_mac", previous.code_mac)))

    def name_session(self, session: Session, holder_id: str, holder_name: str,
                     proven_by: str = "") -> Update:
        """The session's actions are the holder's from now on (SPEC 9, 11), proven by the
        identity provider `proven_by` if it proved them (SPEC 15)."""
        return Update(self.table, {"id": session.id},
                      set={"holder_id": holder_id, "holder_name": holder_name,
                           "holder_proven_by": proven_by},
                      expect=c.Present("id"))

    def prove_session(self, session: Session, issuer: str, subject: str, name: str) -> Update:
        """The person the identity provider proved at the session's request (SPEC 15): the
        next holder the session adds is them."""
        return Update(self.table, {"id": session.id},
                      set={"proven_issuer": issuer, "proven_subject": subject,
                           "proven_name": name}, expect=c.Present("id"))

    def delete(self, record_id: str) -> Delete:
        return Delete(self.table, {"id": record_id})

    def use(self, record: Usable, now: float) -> Update:
        """Mark a code or token used, if it still is usable (nobody used it first)."""
        return Update(self.table, {"id": record.id}, set={"used": True},
                      expect=record.usable(now))

    def use_up(self, record: Usable, now: float) -> Delete:
        """Delete a code's record as it is used, if it still is usable (nobody used or
        replaced it first): what it held is needed no longer."""
        return Delete(self.table, {"id": record.id}, expect=record.usable(now))

    def spend_attempt(self, kind: type[R], record_id: str, now: float,
                      max_attempts: int) -> R | None:
        """Spend one attempt on a live code before comparing it, so that parallel guesses can
        never try more than `max_attempts` values. NotTriable (with the record as it was, so
        the refusal can go into the right account's trail, and why) when the code cannot be
        tried."""
        try:
            item = self._store.write(
                Update(self.table, {"id": record_id}, add={"attempts": 1},
                       expect=triable(now, max_attempts)), returns_new=True)
        except Refused as refused:
            raise NotTriable(kind.from_item(refused.item),
                             why_not_triable(refused.item, now, max_attempts)) from None
        return kind.from_item(item)

    # -- a reset challenge's code ----------------------------------------------------------

    def resent(self, challenge: ResetChallenge, issued: ResetChallenge, now: float,
               renew: bool, void: bool = False) -> Update:
        """A resend at `now` of `challenge` (as read): with the new code of `issued`
        (`renew`), or keeping the code sent before; `void` during a pause; the holder's
        channel as `issued` found it (an app challenge: their app as it is now)."""
        changes: Item = {"sent_at": now}
        if void:
            changes["void"] = True
        if renew:
            changes.update(code_mac=issued.code_mac, expires_at=issued.expires_at)
        if issued.app_nonce != challenge.app_nonce:
            changes["app_nonce"] = issued.app_nonce
        return Update(self.table, {"id": challenge.id}, set=changes,
                      expect=challenge.unchanged())

    def void(self, challenge: ResetChallenge) -> Update:
        """Tried during a pause: the challenge never yields a token."""
        return Update(self.table, {"id": challenge.id}, set={"void": True})

    def unsend(self, challenge: ResetChallenge, sent_at: float) -> None:
        """Give a resend whose SMS could not be queued its old time back, if nothing newer
        happened since."""
        self._store.write(Update(self.table, {"id": challenge.id},
                                 set={"sent_at": challenge.sent_at},
                                 expect=c.eq("sent_at", sent_at)))

    # -- an authenticator app's accepted time steps (SPEC 12) ------------------------------

    def accepted_step(self, holder_id: str, step: int) -> Update:
        """Note that the holder's app code for time `step` was accepted, if no step as late
        was accepted before: in the write that accepts the code, so that a code can be used
        once, whatever runs in parallel (no replay). Kept (TTL) until no clock within the
        window would accept the step anyway."""
        return Update(self.table, {"id": STEP_PREFIX + holder_id},
                      set={"kind": STEP_KIND, "last_step": step,
                           "ttl": int(authenticator.replay_horizon(step)) + HOUSEKEEPING_SECONDS},
                      expect=c.any_of(c.Missing("id"), c.lt("last_step", step)))

    # -- an SMS delivery's claim -----------------------------------------------------------

    def claim(self, delivery: SmsDelivery, now: float) -> None:
        """Take the message for this worker; Refused(item=the claim as it was) if taken."""
        self._store.write(Update(self.table, {"id": delivery.id}, set={
            k: v for k, v in delivery.to_item().items() if k != "id"},
            expect=SmsDelivery.claimable(now)))

    def release(self, delivery: SmsDelivery) -> None:
        self._store.write(Update(self.table, {"id": delivery.id}, set={"lease_until": 0},
                                 expect=delivery.held()))

    def finish(self, delivery: SmsDelivery, state: str, now: float) -> Update:
        return Update(self.table, {"id": delivery.id},
                      set={"state": state, "finished_at": now}, remove=("lease_until",))


    # -- a password change on its way to the directory (SPEC 13) ---------------------------

    def begin_change(self, marker: PendingPassword) -> Put:
        """The pending marker, if no change of the account is under way."""
        return Put(self.table, marker.to_item(), expect=c.Missing("id"))

    def changing(self, token: ResetToken, now: float) -> Update:
        """Note on the reset token that its change is under way, if the token is still
        usable (an UpdateItem: no grant beyond the flows')."""
        return Update(self.table, {"id": token.id}, set={"changing_since": now},
                      expect=token.usable(now))

    def left_behind(self) -> list[str]:
        """The usernames with a pending marker (`ldap` mode), through the sparse by_pending
        index: one Query, never a scan; as many as there are markers, usually none."""
        return [item["id"].removeprefix(PendingPassword.PREFIX) for item in
                self._store.query(self.table, "pending", PENDING_INDEX, index="by_pending",
                                  order="id")]

    def end_change(self, marker: PendingPassword) -> Delete:
        """Delete the very marker read (not a later change's)."""
        return Delete(self.table, {"id": marker.id}, expect=marker.same())
