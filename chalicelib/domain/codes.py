"""Security codes, challenges, sessions and tokens: how they are made and kept (SPEC 4, 6).

Codes are 6 digits from the operating system's CSPRNG and are stored only as an
HMAC-SHA256 under a secret key, bound to the challenge they belong to. Session ids,
challenge ids and reset tokens are 256-bit random strings stored only as SHA-256.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_LENGTH = 6


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_LENGTH):0{CODE_LENGTH}d}"


def new_secret() -> str:
    """256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the store keeps of a session id, challenge id or token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def code_mac(key: bytes, bound_to: str, code: str) -> str:
    return hmac.new(key, f"{bound_to}:{code}".encode("utf-8"), hashlib.sha256).hexdigest()


def code_matches(key: bytes, bound_to: str, code: str, stored_mac: str) -> bool:
    return hmac.compare_digest(code_mac(key, bound_to, code), stored_mac or "")


def looks_like_code(text: str) -> bool:
    return len(text) == CODE_LENGTH and text.isascii() and text.isdigit()
