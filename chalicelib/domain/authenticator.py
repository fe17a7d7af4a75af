"""A holder's authenticator app (SPEC 12): RFC 6238 codes as a second way to get the code.

The app's secret is never stored, neither in clear nor encrypted: it is *derived*,
HMAC-SHA256 under the stage's `authenticator_key` (the secrets parameter) of a random
per-holder nonce, and only the nonce is kept (in the holder's `authenticator` slot). The
secret is computed when a code must be checked and shown once, at enrolment. Why derived and
not encrypted: it needs no cipher library in the Lambda package and no KMS call on the
verify step (that step stays within its 4 AWS calls), and a copy of the tables alone (a
backup, an export) gives nothing without the key. The price: replacing `authenticator_key`
ends every enrolment at once (docs/authenticator.md).

Codes: SHA-1, 6 digits, 30-second steps, one step either side accepted (RFC 6238, as
Microsoft Authenticator, Google Authenticator and FreeOTP make them). Which step a code
matched is returned, so that the store can refuse a step that was accepted before (no
replay: repositories/records.py `accepted_step`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyotp

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of the current one
SECRET_BYTES = 20  # 160 bits: RFC 4226's recommended length for HMAC-SHA1
ENROLMENT_SECONDS = 600  # how long a shown key waits for its first code
_CONTEXT = b"pwportal authenticator v1\x00"


def new_nonce() -> str:
    """128 random bits, URL-safe: all that is stored of a holder's app."""
    return secrets.token_urlsafe(16)


def secret_for(key: bytes, nonce: str) -> str:
    """The app's secret for `nonce`, in base32 without padding (as apps read it)."""
    raw = hmac.new(key, _CONTEXT + nonce.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(raw[:SECRET_BYTES]).decode("ascii").rstrip("=")


def _totp(secret: str) -> "pyotp.TOTP":
    import pyotp  # only a code's check or enrolment needs it: not loaded on the other routes

    return pyotp.TOTP(secret, digits=DIGITS, digest=hashlib.sha1, interval=STEP_SECONDS)


def label(organisation: str, username: str, holder_name: str) -> str:
    """What the app lists the entry as (SPEC 12): `<organisation>:<username> (<name>)`."""
    return f"{organisation}:{username} ({holder_name})"


def uri(secret: str, organisation: str, username: str, holder_name: str) -> str:
    """The otpauth:// URI the QR code carries."""
    return _totp(secret).provisioning_uri(name=f"{username} ({holder_name})",
                                          issuer_name=organisation)


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    """The code the app shows during `step` (tests and the bench use it as an app would)."""
    return _totp(secret).generate_otp(step)


def accepted_step(secret: str, code: str, now: float) -> int | None:
    """The time step `code` is right for, within one step of `now`; None if it is for none.
    Every candidate is compared, in constant time, whatever matched before."""
    current = step_at(now)
    matched = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step).encode("ascii"),
                               code.encode("ascii", "replace")) and matched is None:
            matched = step
    return matched


def replay_horizon(step: int) -> float:
    """Until when a record of `step` must be kept: after it, no clock within the window
    accepts that step again anyway."""
    return float((step + WINDOW + 1) * STEP_SECONDS)


def qr_svg(text: str, title: str) -> str:
    """`text` as a QR code in inline SVG (segno; nothing from another origin), with `title`
    as its text alternative: `role="img"` and a <title> that screen readers read. Sized by
    its viewBox only, so that the page's style scales it."""
    import segno  # only enrolment draws: not loaded on the other routes

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", xmldecl=False, svgns=True, nl=False,
                                     scale=4, border=4, title=title, svgclass="qr",
                                     lineclass=None, omitsize=True, dark="#000",
                                     light="#fff", encoding="utf-8")
    return out.getvalue().decode("utf-8").replace("<svg ", '<svg role="img" ', 1)
