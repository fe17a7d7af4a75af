"""Password hashing: argon2id (OWASP minimum m=19 MiB, t=2, p=1) over a peppered input.

Two derived values per password:
- the verifier, a standard argon2id PHC string with its own random salt (login);
- the history fingerprint, HMAC(pepper, argon2id(password, account's history salt)). All of
  an account's fingerprints share that salt, so checking a new password against the last
  24 costs one argon2 run and 24 constant-time comparisons, not 24 argon2 runs.
"""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from functools import cached_property

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret_raw

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1
HASH_LEN = 32
# The hash of 32 random bytes, with the same parameters as every real hash: verifying a
# login for a username that does not exist costs exactly what a real verification costs,
# from the first request of a container on.
DUMMY_HASH = ("$argon2id$v=19$m=19456,t=2,p=1$oiST+CpBYt5Em4Ez/OmD5w$"
              "DujF78azvmLLac1MiMX102lfhQQpub/SNAmJ/6ZXghk")


class PasswordHasher:
    def __init__(self, pepper: bytes):
        self._pepper = pepper

    @cached_property
    def _argon2(self) -> Argon2Hasher:
        return Argon2Hasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB,
                            parallelism=PARALLELISM, hash_len=HASH_LEN, type=Type.ID)

    def _peppered(self, password: str) -> bytes:
        text = unicodedata.normalize("NFC", password).encode("utf-8")
        return hmac.new(self._pepper, text, hashlib.sha256).digest()

    def hash(self, password: str) -> str:
        return self._argon2.hash(self._peppered(password))

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored, self._peppered(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify_nothing(self, password: str) -> bool:
        """Spend the time of a real verification, for usernames that do not exist."""
        self.verify(DUMMY_HASH, password)
        return False

    def fingerprint(self, password: str, salt: bytes) -> str:
        raw = hash_secret_raw(self._peppered(password), salt, time_cost=TIME_COST,
                              memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM,
                              hash_len=HASH_LEN, type=Type.ID)
        return hmac.new(self._pepper, raw, hashlib.sha256).hexdigest()

