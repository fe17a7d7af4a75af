"""The `portal` password store (SPEC 13, the default): the password's argon2 verifier lives
in the account itself (adapters/passwords.py), as in version 1."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.ports import Hasher


class PortalPasswords:
    in_directory = False

    def __init__(self, hasher: Callable[[], Hasher]):
        self._hasher = hasher  # built on first use (argon2 and the pepper)

    def verify(self, username: str, stored_hash: str | None, password: str) -> bool:
        if stored_hash is None:
            return self._hasher().verify_nothing(password)
        return self._hasher().verify(stored_hash, password)

    def stored_hash(self, password: str) -> str:
        return self._hasher().hash(password)

    def set(self, username: str, password: str) -> None:
        """Nothing to do: the new verifier is written with the account."""

    def exists(self, username: str) -> bool:
        return True

    def changed_at(self, username: str) -> datetime | None:
        return None
