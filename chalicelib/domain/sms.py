"""A queued SMS: JSON with `id`, `kind` (`code` or `notice`), either `to` (an E.164 number)
or `username` (the worker looks the account's number up), `text` (the SMS body) and the
audit `event` to record once it is sent. The body of a code SMS holds the code: that is the
one place it exists in clear, and no log line ever shows a message.
"""
from __future__ import annotations

import uuid
from typing import Any


def message(kind: str, text: str, *, to: str | None = None, username: str | None = None,
            event: str | None = None, lang: str = "sv", holder: str | None = None
            ) -> dict[str, Any]:
    """`holder` (a reset's code, SPEC 11): sent to that holder of `username`'s account,
    looked up when delivered; "" names nobody, and the message is dropped."""
    found: dict[str, Any] = {"id": uuid.uuid4().hex, "kind": kind, "to": to, "username": username,
             "text": text, "event": event, "lang": lang}
    if holder is not None:
        found["holder"] = holder
    return found
