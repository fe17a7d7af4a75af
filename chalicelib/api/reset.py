"""pwreset's API: /api/reset/start, /resend, /verify, /complete (SPEC 8), /unlock (SPEC 16)."""
from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.http import endpoint, json_body
from chalicelib.bootstrap import portal
from chalicelib.domain.events import Caller

reset = Blueprint(__name__)


@reset.route("/start", methods=["POST"])
@endpoint(reset, status=202)
def start(request: Request, caller: Caller) -> dict[str, Any]:
    body = json_body(request)
    return portal().reset.start(body.get("username"), body.get("phone"), caller,
                                channel=body.get("channel"))


@reset.route("/resend", methods=["POST"])
@endpoint(reset, status=202)
def resend(request: Request, caller: Caller) -> dict[str, Any]:
    return portal().reset.resend(json_body(request).get("challenge"), caller)


@reset.route("/verify", methods=["POST"])
@endpoint(reset)
def verify(request: Request, caller: Caller) -> dict[str, Any]:
    body = json_body(request)
    return portal().reset.verify(body.get("challenge"), body.get("code"), caller)


@reset.route("/complete", methods=["POST"])
@endpoint(reset)
def complete(request: Request, caller: Caller) -> dict[str, Any]:
    body = json_body(request)
    return portal().completion.complete(body.get("reset_token"), body.get("password"), caller)


@reset.route("/unlock", methods=["POST"])
@endpoint(reset)
def unlock(request: Request, caller: Caller) -> dict[str, Any]:
    """SPEC 16: the directory's lock lifted, the password unchanged; the token used."""
    return portal().directory_unlock.unlock(json_body(request).get("reset_token"), caller)
