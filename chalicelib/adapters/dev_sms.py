"""The local stage's view of sent SMS: what the embedded AWS (moto) recorded as published.

Only the local stage has this; the worker under test is the real worker, publishing through
the real SNS client. The local stack's embedded AWS keeps the last SMS (infra/local_stack.py)
and serves them at `/_pwportal/sms`, cheaply, however long it has run; a plain moto server
has no such path, and then moto's whole state (`/moto-api/data.json`) is read instead.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

STACK_PATH = "/_pwportal/sms"  # served by infra/local_stack.py


def sent_messages() -> list[dict[str, Any]]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
    if not endpoint.startswith(("http://127.0.0.1", "http://localhost")):
        return []
    try:
        with urllib.request.urlopen(endpoint + STACK_PATH, timeout=5) as response:
            return list(json.load(response)["messages"])
    except urllib.error.HTTPError as error:
        if not 400 <= error.code < 500:  # a plain moto: no such path (S3 says so)
            raise
    # a plain moto dumps its whole state (every table's items): seconds on a busy machine
    with urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    return _sms_from_state(data)


def _sms_from_state(data: dict[str, Any]) -> list[dict[str, Any]]:
    """`{"id", "to", "text"}` per SMS, oldest first.

    moto's data.json lists every tracked model instance by service and class name; an SNS
    `publish(PhoneNumber=..., Message=...)` becomes one `SMS` instance with `message_id`,
    `phone_number` and `message`, in the order they were published (across all accounts
    and regions). Before the first SMS there is no `sns` or no `SMS` key at all.
    """
    found = []
    for sms in (data.get("sns") or {}).get("SMS") or []:
        if isinstance(sms, dict) and "phone_number" in sms:
            found.append({"id": sms.get("message_id", ""), "to": sms["phone_number"],
                          "text": sms.get("message", "")})
    return found
