"""GET /api/config: what the pages need to know before the user types (SPEC 8), and the
local stage's /dev/sms, which shows the SMS the embedded AWS has "sent"."""
from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.contract import site_config
from chalicelib.api.http import endpoint
from chalicelib.bootstrap import portal
from chalicelib.domain.events import Caller
from chalicelib.domain.errors import NotFound

public = Blueprint(__name__)


@public.route("/api/config", methods=["GET"])
@endpoint(public)
def config(request: Request, caller: Caller) -> dict[str, Any]:
    return site_config(portal().settings, caller.lang)


@public.route("/dev/sms", methods=["GET"])
@endpoint(public)
def dev_sms(request: Request, caller: Caller) -> dict[str, Any]:
    settings = portal().settings
    if not settings.dev_sms or settings.stage != "local":
        raise NotFound()
    from chalicelib.adapters.dev_sms import sent_messages
    return {"messages": sent_messages()}
