"""The HTTP contract that the API in Lambda and the site in front of it (CloudFront on a
deployed stage, the front server of `make run` on the local one) both honour: the headers of
their answers, the origin header, and the error envelope.

It lives in chalicelib because Lambda ships chalicelib and not infra; infra/template.py,
infra/deploy.py and infra/local_stack.py read it from here. It imports nothing of the
running portal (no Chalice, no settings loaded, no AWS client), only the texts.
"""
from __future__ import annotations

import math

from chalicelib.messages import text

# The headers of every answer of the API, errors from Chalice itself included: nothing of it
# is cached, nothing sniffed. API Gateway's own answers (infra/template.py) send them too.
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

# The headers of every answer of the site, pages and /api/ alike, the one list: the local
# front server sends them, and CloudFront's response-headers policy of a deployment is built
# from this same dict. The pages load nothing but their own files (no inline script or
# style, no third party), so 'self' is all the CSP allows; Strict-Transport-Security is
# ignored by browsers over the local stage's plain HTTP and takes effect behind CloudFront's
# HTTPS.
SITE_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                                "form-action 'self'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

# CloudFront sends the stage's origin key in it (infra/template.py); the API refuses a
# request without it, one that went around CloudFront.
ORIGIN_HEADER = "x-pwportal-origin"


def support_line(settings) -> str:
    """The support contact of every error: the phone and the e-mail of the settings."""
    return ", ".join(part for part in (settings.support_phone, settings.support_email) if part)


def envelope(code: str, lang: str, support: str, **fields) -> dict:
    """The error envelope: the code, its text in `lang` with the support contact, and any
    fields of the error."""
    params = dict(fields)
    if "retry_after" in params:
        params["minutes"] = max(1, math.ceil(params["retry_after"] / 60))
    try:
        message = text(code, lang, **params)
    except KeyError:
        message = text(code, lang)
    message += " " + text("support", lang, support=support)
    return {"error": {"code": code, "message": message, "support": support, **fields}}
