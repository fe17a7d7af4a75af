"""The SMS worker's use case: deliver one queued SMS through SNS.

- A message for a username is sent to the account's registered number, if the account
  exists, is enabled and has one; otherwise it is dropped (this is where an unknown
  username's reset ends, out of sight of the API). A reset's code names a holder: it goes
  to that holder's number, and is dropped if it names none (a number that was no holder's)
  or a holder removed since.
- The whole service sends at most `sms_per_service` SMS; past it, messages are dropped and
  `ratelimit.exceeded` raises the alarm.
- A failure raises, so SQS retries the message; on the last receive `sms.failed` is
  recorded, and SQS moves the message to the dead-letter queue.

Once or twice? Delivery is *at least once*, with a duplicate possible in one narrow window
only. SQS delivers a message at least once, sometimes to two workers at the same moment, and
SNS has no idempotency key for SMS, so exactly once cannot be had; between a lost code and a
code that arrives twice, the second is by far the smaller harm. Every message is claimed
before it is published: a conditional write of its SmsDelivery record (domain/records.py), with
state `sending`, a random claim id and a lease of CLAIM_LEASE_SECONDS. Only the holder of a live
claim publishes; once SNS has accepted the SMS the claim becomes `sent`, in one transaction
with the audit record. So:

- two receives of one message at once never both publish: the second finds a live claim and
  raises DeliveryInProgress, SQS gives the message back later, and then it finds `sent`;
- a message received again after it was sent (the worker died before SQS deleted it) finds
  `sent` and is not sent again;
- a worker that dies after its claim but before SNS accepted the SMS loses nothing: the next
  receive takes the claim over once the lease has run out;
- a publish that fails gives the claim back at once, so that SQS's retry can send;
- if the `sent` write itself fails, that is logged and the message still counts as delivered
  (deleted from the queue), so it is not sent twice.

The window for a duplicate: a worker that dies (or times out) after SNS accepted the SMS and
before the `sent` write, or a publish whose acceptance never reached the worker. The next
receive after the lease then sends the same text again.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.limits import SERVICE_SMS
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import Caller
from chalicelib.domain.records import DROPPED, SENDING, SENT, SmsDelivery
from chalicelib.domain.sms import SmsMessage
from chalicelib.ports import Clock, Conflict, Gateway, Item, OperationsLog, Refused

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

# Longer than one publish with its retries (3 attempts of at most 3 s to connect and 5 s to
# read), shorter than the queue's visibility timeout (60 s, infra/resources.json), so that
# the first receive after a crash can take the claim over.
CLAIM_LEASE_SECONDS = 30
DELIVERY = "delivery"  # the name of the claim's final write in a unit of work


class DeliveryInProgress(Exception):
    """Another worker holds a live claim on this message: leave it to SQS to retry."""


@dataclass(frozen=True, kw_only=True)
class Delivery:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    gateway: Gateway
    log: OperationsLog  # the line of a delivery whose end could not be written

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def deliver(self, sms: SmsMessage, receive_count: int = 1) -> str:
        """Returns what happened: `sent`, `duplicate`, `no_recipient` or `service_limit`;
        raises DeliveryInProgress, or what SNS raised, for SQS to retry the message."""
        caller = Caller(request_id=sms.id)
        username = sms.username
        phone = sms.to
        if username:
            account = self.accounts.get(username)
            if not account or account.disabled or not account.holders:
                return "no_recipient"
            phone = account.holders[0].phone  # a message of before holders were named
            if sms.holder is not None:  # a reset's code: to that holder, if still one
                holder = account.holder(sms.holder) if sms.holder else None
                if holder is None:
                    return "no_recipient"
                phone = holder.phone
        if not phone:
            return "no_recipient"
        claim = self._claim(sms)
        if claim is None:
            return "duplicate"
        try:
            decision = self.limits.reserve(SERVICE_SMS, "all", self._now())
            if decision.allowed:
                self.gateway.publish(phone, sms.text)
        except Exception:
            self._release(claim)
            if receive_count >= self.settings.sms_max_receives:
                self.audit.write(self.audit.record("sms.failed", username, "dead_letter",
                                                     caller, phone=phone, kind=sms.kind))
            raise
        if not decision.allowed:
            self._finish(claim, DROPPED, [self.audit.record(
                "ratelimit.exceeded", username, "dropped", caller, phone=phone,
                limit="sms_per_service")])
            return "service_limit"
        records = []
        if sms.event:
            records.append(self.audit.record(sms.event, username, "sent", caller,
                                              phone=phone))
        self._finish(claim, SENT, records)
        return "sent"

    # -- the claim -------------------------------------------------------------------------

    def _claim(self, sms: SmsMessage) -> SmsDelivery | None:
        """Take the message for this worker; None if it was already sent (or dropped)."""
        now = self._now()
        claim = SmsDelivery(SmsDelivery.id_of(sms.id), SENDING, secrets.token_hex(8),
                            lease_until=now + CLAIM_LEASE_SECONDS, claimed_at=now)
        try:
            self.records.claim(claim, now)
        except Refused as taken:
            held = SmsDelivery.from_item(taken.item)
            if held is not None and held.state == SENDING:
                raise DeliveryInProgress(sms.id) from None
            return None  # sent or dropped (a marker without a state is one from before)
        return claim

    def _release(self, claim: SmsDelivery) -> None:
        """Give the claim back after a failed publish, so that the retry need not wait for
        the lease; if even this fails, the lease runs out by itself."""
        try:
            self.records.release(claim)
        except (Refused, ServiceUnavailable):
            pass

    def _finish(self, claim: SmsDelivery, state: str, records: list[Item]) -> None:
        """Record the final state with the audit records, in one transaction. A failure
        here is logged, never raised: raising would have SQS send the SMS again."""
        tx = self.uow.begin()
        tx.add(DELIVERY, self.records.finish(claim, state, self._now()))
        tx.record(*records)
        try:
            tx.commit()
        except (Refused, Conflict, ServiceUnavailable) as error:
            self.log.error("sms.unmarked", id=claim.id[len(SmsDelivery.PREFIX):],
                           state=state, error=type(error).__name__)
            for record in records:
                self.audit.emit(record)
