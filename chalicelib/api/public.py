"""GET /api/config: what the pages need to know before the user types (SPEC 8), and the
local stage's /dev/sms, which shows the SMS the embedded AWS has "sent"."""
from chalice import Blueprint

from chalicelib.api.http import endpoint, support_line
from chalicelib.bootstrap import portal
from chalicelib.domain import codes, policy
from chalicelib.domain.errors import NotFound
from chalicelib.messages import LANGUAGES

public = Blueprint(__name__)


@public.route("/api/config", methods=["GET"])
@endpoint(public)
def config(request, caller):
    settings = portal().settings
    code = settings.code
    return {
        "policy": policy.describe(settings.policy),
        "code": {"length": codes.CODE_LENGTH, "lifetime_seconds": code.lifetime_seconds,
                 "resend_after_seconds": code.resend_after_seconds,
                 "max_attempts": code.max_attempts},
        "phone": {"allowed_countries": list(settings.allowed_countries)},
        "support": {"phone": settings.support_phone, "email": settings.support_email,
                    "text": support_line()},
        "languages": list(LANGUAGES),
    }


@public.route("/dev/sms", methods=["GET"])
@endpoint(public)
def dev_sms(request, caller):
    settings = portal().settings
    if not settings.dev_sms or settings.stage != "local":
        raise NotFound()
    from chalicelib.adapters.dev_sms import sent_messages
    return {"messages": sent_messages()}
