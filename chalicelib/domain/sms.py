"""A queued SMS (SPEC 4, 7): `SmsMessage`, what the flows put on the queue and the SMS
worker takes off it. On the queue it is JSON (`to_message`, `from_message`: the queue's
adapter, adapters/sms.py, and the worker's entry, app.py, are where it crosses) with `id`,
`kind` (`code` or `notice`), either `to` (an E.164 number) or `username` (the worker looks
the number up), `text` (the SMS body), the audit `event` to record once it is sent, `lang`,
and for a reset's code or a reminder, `holder`. The body of a code SMS holds the code: that
is the one place it exists in clear, and no log line ever shows a message.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

CODE, NOTICE = "code", "notice"


@dataclass(frozen=True)
class SmsMessage:
    kind: str  # CODE or NOTICE
    text: str
    to: str | None = None
    username: str | None = None
    event: str | None = None
    lang: str = "sv"
    # A reset's code or a reminder (SPEC 11): sent to that holder of `username`'s account,
    # looked up when delivered; "" names nobody, and the message is dropped. None: no holder
    # named (a message queued before holders were named goes to the first).
    holder: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_message(self) -> dict[str, Any]:
        """The message as the queue carries it (JSON)."""
        found: dict[str, Any] = {"id": self.id, "kind": self.kind, "to": self.to, "username": self.username,
                 "text": self.text, "event": self.event, "lang": self.lang}
        if self.holder is not None:
            found["holder"] = self.holder
        return found

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> "SmsMessage":
        """The message as the worker reads it off the queue."""
        return cls(kind=message.get("kind", ""), text=message["text"],
                   to=message.get("to"), username=message.get("username"),
                   event=message.get("event"), lang=message.get("lang") or "sv",
                   holder=message.get("holder"), id=message.get("id") or "")
