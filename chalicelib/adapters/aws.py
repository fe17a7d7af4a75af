"""AWS clients, built on first use and kept for the life of the Lambda container.

Never at import: tests and the local stack set the endpoint and credentials first, and a
cold start only pays for the clients a route really uses. boto3 itself honours
AWS_ENDPOINT_URL, which is how the local stack points everything at its moto server.
"""
from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_session = None  # one boto3 Session: building one loads botocore's data files again
_lock = threading.Lock()


def client(service: str) -> Any:  # a boto3 client: boto3 has no types
    global _session
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                import boto3  # deferred: importing boto3 is most of a cold start
                from botocore.config import Config

                config = Config(retries={"max_attempts": 3, "mode": "standard"},
                                connect_timeout=3, read_timeout=5)
                if _session is None:
                    _session = boto3.session.Session()
                found = _session.client(service, config=config)
                _clients[service] = found
    return found


def reset() -> None:
    """Forget every client (tests, and the local stack after it changes the endpoint). The
    session stays: a new client reads the endpoint and credentials from the environment."""
    with _lock:
        _clients.clear()
