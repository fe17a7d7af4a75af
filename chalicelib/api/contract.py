"""The HTTP contract that the API in Lambda and the site in front of it (CloudFront on a
deployed stage, the front server of `make run` on the local one) both honour: the headers of
their answers, the origin header, and the error envelope.

It lives in chalicelib because Lambda ships chalicelib and not infra; infra/template.py,
infra/deploy.py and infra/local_stack.py read it from here. It imports nothing of the
running portal (no Chalice, no settings loaded, no AWS client), only the texts.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from chalicelib.domain import codes, organisation, policy
from chalicelib.messages import LANGUAGES, text

if TYPE_CHECKING:  # the type only: nothing of the running portal is imported
    from chalicelib.settings import Settings

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


def support_line(settings: Settings, lang: str = "sv") -> str:
    """The support contact of every error: the settings' support channels, in `lang`."""
    return organisation.support_line(settings.support_channels, lang)


def site_config(settings: Settings, lang: str = "sv") -> dict[str, Any]:
    """GET /api/config (SPEC 8): what the pages need before the user types. The site build
    (infra/site_build.py) writes the Swedish pages from this same answer, so a page read
    without JavaScript says what the API says."""
    code = settings.code
    return {
        "policy": policy.describe(settings.policy),
        "code": {"length": codes.CODE_LENGTH, "lifetime_seconds": code.lifetime_seconds,
                 "resend_after_seconds": code.resend_after_seconds,
                 "max_attempts": code.max_attempts},
        "phone": {"allowed_countries": list(settings.allowed_countries)},
        "support": {"phone": settings.support_phone, "email": settings.support_email,
                    "text": support_line(settings, lang),
                    "channels": [channel.describe() for channel in settings.support_channels]},
        "organisation": {"name": settings.organisation_name,
                         "logo": organisation.logo_path(settings.organisation_logo)},
        "statement": {"checked_on": settings.statement_checked_on.isoformat()},
        "languages": list(LANGUAGES),
        # SPEC 15: "off", "offered" or "required": whether the pages offer the provider
        "holder_identity": settings.holder_identity_mode,
    }


def envelope(code: str, lang: str, support: str, **fields: Any) -> dict[str, Any]:
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
