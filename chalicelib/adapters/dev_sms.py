"""The local stage's view of sent SMS: what the embedded AWS (moto) recorded as published.

Only the local stage has this; it reads moto's own state API, so the worker under test is
the real worker, publishing through the real SNS client.
"""
from __future__ import annotations

import json
import os
import urllib.request


def sent_messages() -> list[dict]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").rstrip("/")
    if not endpoint.startswith(("http://127.0.0.1", "http://localhost")):
        return []
    with urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=5) as response:
        data = json.load(response)
    return _sms_from_state(data)


def _sms_from_state(data: dict) -> list[dict]:
    found = []
    for backend in (data.get("sns") or {}).values():
        for message_id, value in (backend.get("sms_messages") or {}).items() \
                if isinstance(backend, dict) else []:
            phone, text = value[0], value[1]
            found.append({"id": message_id, "to": phone, "text": text})
    return found
