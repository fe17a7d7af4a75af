"""The ID token's signature (SPEC 14, 15) with Python's standard library alone: a compact JWS
(RFC 7515) signed RS256 or RS512 (RSASSA-PKCS1-v1_5 with SHA-256 or SHA-512, RFC 7518 3.3),
checked against an RSA key of the provider's JWKS (RFC 7517, 7518 6.3.1) as RFC 8017 8.2.2
says.

The check never parses the signed block: it computes the one encoding a signature of this
message can have (00 01 FF…FF 00, the hash's DigestInfo, the hash) and compares the whole
block with it, so a forgery that hides bytes after the hash or in the DigestInfo's
parameters (Bleichenbacher 2006, with a small exponent) has nothing to hide in. No
`cryptography` here: its wheel alone would take the Lambda package over 5 MB
(docs/architecture.md, the console's sign-in).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

# The header's algorithm → the hash it signs with; nothing else is a signature we accept.
HASHES = {"RS256": "sha256", "RS512": "sha512"}
# RFC 8017 9.2, note 1: the DER of DigestInfo up to the hash, with the NULL parameters.
DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
# NIST SP 800-131A: RSA keys under 2048 bits no longer vouch for anything.
MIN_MODULUS_BITS = 2048

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class NotAJws(ValueError):
    """The text is no compact JWS (three base64url parts, a JSON object for a header)."""


@dataclass(frozen=True)
class CompactJws:
    header: dict[str, Any]
    signing_input: bytes  # what was signed: ASCII(BASE64URL(header) "." BASE64URL(payload))
    payload: bytes
    signature: bytes


@dataclass(frozen=True)
class RsaPublicKey:
    n: int
    e: int
    kid: str | None
    alg: str | None  # the one algorithm the provider uses this key with, when it says


def b64url_decode(text: str) -> bytes:
    """RFC 7515 2: base64url without padding; anything else (padding, other characters, a
    length no encoding has) is refused rather than skipped, as `base64` would."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise NotAJws()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise NotAJws() from None


def parse(token: str) -> CompactJws:
    """The parts of a compact JWS; the header is read before the signature is checked only to
    choose the key and refuse an algorithm."""
    parts = token.split(".")
    if len(parts) != 3:
        raise NotAJws()
    try:
        header = json.loads(b64url_decode(parts[0]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise NotAJws() from None
    if not isinstance(header, dict):
        raise NotAJws()
    payload, signature = b64url_decode(parts[1]), b64url_decode(parts[2])
    return CompactJws(header=header, signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
                      payload=payload, signature=signature)


def public_key(jwk: Any) -> RsaPublicKey | None:
    """The RSA public key of a JWK meant for signatures; None for any other key (EC, a
    symmetric `oct` one, one marked for encryption) or one that cannot be read."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
        return None
    operations = jwk.get("key_ops")
    if operations is not None and (not isinstance(operations, list)
                                   or "verify" not in operations):
        return None
    n, e, kid, alg = jwk.get("n"), jwk.get("e"), jwk.get("kid"), jwk.get("alg")
    if not isinstance(n, str) or not isinstance(e, str):
        return None
    try:
        modulus = int.from_bytes(b64url_decode(n), "big")
        exponent = int.from_bytes(b64url_decode(e), "big")
    except NotAJws:
        return None
    return RsaPublicKey(n=modulus, e=exponent, kid=kid if isinstance(kid, str) else None,
                        alg=alg if isinstance(alg, str) else None)


def verify(key: RsaPublicKey, algorithm: str, message: bytes, signature: bytes) -> bool:
    """RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 8.2.2) of `message` under `key`, for RS256 or RS512
    only; False for any other algorithm, a key too small or malformed, or a key the provider
    published for another algorithm."""
    hash_name = HASHES.get(algorithm)
    if hash_name is None or (key.alg is not None and key.alg != algorithm):
        return False
    n, e = key.n, key.e
    # An even modulus or an exponent of 1 is no RSA key (with e = 1 the "signature" is the
    # block itself, which anyone can write).
    if n.bit_length() < MIN_MODULUS_BITS or n % 2 == 0 or e < 3 or e % 2 == 0 or e >= n:
        return False
    k = (n.bit_length() + 7) // 8
    # 8.2.2 step 1: exactly k octets; a zero byte in front or one missing is no signature.
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    # RSAVP1 (5.2.2): s must be below n, or s + n would pass for s.
    if s >= n:
        return False
    encoded = pow(s, e, n).to_bytes(k, "big")
    return hmac.compare_digest(encoded, expected_encoding(hash_name, message, k))


def expected_encoding(hash_name: str, message: bytes, k: int) -> bytes:
    """EMSA-PKCS1-v1_5-ENCODE (RFC 8017 9.2): 00 01 FF…FF 00 ‖ DigestInfo ‖ H(message)."""
    digest_info = DIGEST_INFO[hash_name] + hashlib.new(hash_name, message).digest()
    padding = k - len(digest_info) - 3
    if padding < 8:  # 9.2 step 4: "intended encoded message length too short"
        raise ValueError("key too small for the hash")
    return b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info
