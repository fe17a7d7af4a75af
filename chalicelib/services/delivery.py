"""The SMS worker's use case: deliver one queued SMS through SNS, once.

- A message for a username is sent to the account's registered number, if the account
  exists, is enabled and has one; otherwise it is dropped (this is where an unknown
  username's reset ends, out of sight of the API).
- The whole service sends at most `sms_per_service` SMS; past it, messages are dropped and
  `ratelimit.exceeded` raises the alarm.
- A message already delivered (a redelivery after a crash) is not sent again.
- A failure raises, so SQS retries the message; on the last receive `sms.failed` is
  recorded, and SQS moves the message to the dead-letter queue.
"""
from __future__ import annotations

from chalicelib.adapters.dynamo import ConditionFailed
from chalicelib.domain.events import Caller


class Delivery:
    def __init__(self, portal):
        self.p = portal

    def deliver(self, sms: dict, receive_count: int = 1) -> str:
        """Returns what happened: `sent`, `duplicate`, `no_recipient` or `service_limit`."""
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
        marker = "sms#" + sms["id"]
        if p.challenges.get(marker):
            return "duplicate"
        decision = p.limits.hit("sms-service", "all", p.settings.limits.sms_per_service)
        if not decision.allowed:
            p.audit.write(p.audit.record("ratelimit.exceeded", username, "dropped", caller,
                                         phone=phone, limit="sms_per_service"))
            return "service_limit"
        try:
            p.gateway.publish(phone, sms["text"])
        except Exception:
            if receive_count >= p.settings.sms_max_receives:
                p.audit.write(p.audit.record("sms.failed", username, "dead_letter", caller,
                                             phone=phone, kind=sms.get("kind")))
            raise
        now = p.now()
        try:
            p.dynamo.put(p.challenges.table, {"id": marker, "kind": "sms", "sent_at": now,
                                              "ttl": int(now + 2 * 86400)},
                         condition="attribute_not_exists(id)")
        except ConditionFailed:
            pass
        if sms.get("event"):
            p.audit.write(p.audit.record(sms["event"], username, "sent", caller, phone=phone))
        return "sent"
