"""The SMS worker's use case: deliver one queued SMS through SNS.

- A message for a username is sent to the account's registered number, if the account
  exists, is enabled and has one; otherwise it is dropped (this is where an unknown
  username's reset ends, out of sight of the API).
- The whole service sends at most `sms_per_service` SMS; past it, messages are dropped and
  `ratelimit.exceeded` raises the alarm.
- A failure raises, so SQS retries the message; on the last receive `sms.failed` is
  recorded, and SQS moves the message to the dead-letter queue.

Once or twice? Delivery is *at least once*, with a duplicate possible in one narrow window
only. SQS delivers a message at least once, sometimes to two workers at the same moment, and
SNS has no idempotency key for SMS, so exactly once cannot be had; between a lost code and a
code that arrives twice, the second is by far the smaller harm. Every message is claimed
before it is published: a conditional write of `sms#<id>` in the challenges table, with state
`sending`, a random claim id and a lease of CLAIM_LEASE_SECONDS. Only the holder of a live
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

import json
import secrets
import sys

from chalicelib.adapters.dynamo import ConditionFailed, TransactionCancelled, update_op
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import Caller

# Longer than one publish with its retries (3 attempts of at most 3 s to connect and 5 s to
# read), shorter than the queue's visibility timeout (60 s, infra/resources.json), so that
# the first receive after a crash can take the claim over.
CLAIM_LEASE_SECONDS = 30
MARKER_SECONDS = 2 * 86400  # far longer than a message can stay on the queue (1 day)

SENDING, SENT, DROPPED = "sending", "sent", "dropped"
SERVICE_SMS = ("sms-service", "all")  # the fixed-window counters of every SMS sent


class DeliveryInProgress(Exception):
    """Another worker holds a live claim on this message: leave it to SQS to retry."""


def marker_id(sms: dict) -> str:
    return "sms#" + sms["id"]


class Delivery:
    def __init__(self, portal):
        self.p = portal

    def deliver(self, sms: dict, receive_count: int = 1) -> str:
        """Returns what happened: `sent`, `duplicate`, `no_recipient` or `service_limit`;
        raises DeliveryInProgress, or what SNS raised, for SQS to retry the message."""
        p = self.p
        caller = Caller(request_id=sms.get("id", ""))
        username = sms.get("username")
        phone = sms.get("to")
        if username:
            account = p.accounts.get(username)
            if not account or account.disabled or not account.phone:
                return "no_recipient"
            phone = account.phone
        if not phone:
            return "no_recipient"
        claim = self._claim(sms)
        if claim is None:
            return "duplicate"
        try:
            decision = p.limits.hit(*SERVICE_SMS, p.settings.limits.sms_per_service)
            if decision.allowed:
                p.gateway.publish(phone, sms["text"])
        except Exception:
            self._release(sms, claim)
            if receive_count >= p.settings.sms_max_receives:
                p.audit.write(p.audit.record("sms.failed", username, "dead_letter", caller,
                                             phone=phone, kind=sms.get("kind")))
            raise
        if not decision.allowed:
            self._finish(sms, DROPPED, [p.audit.record(
                "ratelimit.exceeded", username, "dropped", caller, phone=phone,
                limit="sms_per_service")])
            return "service_limit"
        records = []
        if sms.get("event"):
            records.append(p.audit.record(sms["event"], username, "sent", caller, phone=phone))
        self._finish(sms, SENT, records)
        return "sent"

    # -- the claim -------------------------------------------------------------------------

    def _claim(self, sms: dict) -> str | None:
        """Take the message for this worker; None if it was already sent (or dropped)."""
        p = self.p
        claim = secrets.token_hex(8)
        now = p.now()
        try:
            p.dynamo.update(
                p.challenges.table, {"id": marker_id(sms)},
                "SET #kind = :kind, #state = :sending, #claim = :claim, #lease = :lease, "
                "#ttl = :ttl",
                condition="attribute_not_exists(id) OR (#state = :sending AND #lease < :now)",
                names={"#kind": "kind", "#state": "state", "#claim": "claim",
                       "#lease": "lease_until", "#ttl": "ttl"},
                values={":kind": "sms", ":sending": SENDING, ":claim": claim,
                        ":lease": now + CLAIM_LEASE_SECONDS, ":now": now,
                        ":ttl": int(now + MARKER_SECONDS)},
                old_on_failure=True)
        except ConditionFailed as taken:
            if (taken.item or {}).get("state") == SENDING:
                raise DeliveryInProgress(sms.get("id", "")) from None
            return None  # sent or dropped (a marker without a state is one from before)
        return claim

    def _release(self, sms: dict, claim: str) -> None:
        """Give the claim back after a failed publish, so that the retry need not wait for
        the lease; if even this fails, the lease runs out by itself."""
        p = self.p
        try:
            p.dynamo.update(p.challenges.table, {"id": marker_id(sms)},
                            "SET #lease = :zero",
                            condition="#claim = :claim AND #state = :sending",
                            names={"#lease": "lease_until", "#claim": "claim",
                                   "#state": "state"},
                            values={":zero": 0, ":claim": claim, ":sending": SENDING})
        except (ConditionFailed, ServiceUnavailable):
            pass

    def _finish(self, sms: dict, state: str, records: list[dict]) -> None:
        """Record the final state with the audit records, in one transaction. A failure
        here is logged, never raised: raising would have SQS send the SMS again."""
        p = self.p
        ops = [update_op(p.challenges.table, {"id": marker_id(sms)},
                         "SET #state = :state, finished_at = :now REMOVE #lease",
                         names={"#state": "state", "#lease": "lease_until"},
                         values={":state": state, ":now": p.now()})]
        ops += [p.audit.op(record) for record in records]
        try:
            p.dynamo.transact(ops)
        except (TransactionCancelled, ServiceUnavailable) as error:
            sys.stderr.write(json.dumps({"level": "error", "event": "sms.unmarked",
                                         "id": sms.get("id", ""), "state": state,
                                         "error": type(error).__name__}) + "\n")
        for record in records:
            p.audit.emit(record)
