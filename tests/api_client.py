"""Small helpers to call the API through chalice.test.Client as a browser would."""
from __future__ import annotations

import json


def post(client, path, body=None, *, session=None, lang=None, ip="198.51.100.7", raw=None,
         content_type="application/json"):
    headers = {"X-Forwarded-For": ip}
    if content_type:
        headers["Content-Type"] = content_type
    if session:
        headers["Authorization"] = f"Bearer {session}"
    if lang:
        headers["Accept-Language"] = lang
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return client.http.post(path, headers=headers, body=payload)


def get(client, path, lang=None):
    headers = {"Accept-Language": lang} if lang else {}
    return client.http.get(path, headers=headers)
