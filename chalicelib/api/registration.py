"""pwreg's API: /api/registration/login, /holders, /holders/verify, /holders/{id},
/holders/{id}/authenticator (POST, DELETE), /holders/{id}/authenticator/verify, /logout
(SPEC 8 v2, 12)."""
from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.http import bearer, endpoint, json_body
from chalicelib.bootstrap import portal
from chalicelib.domain.events import Caller

registration = Blueprint(__name__)


@registration.route("/login", methods=["POST"])
@endpoint(registration)
def login(request: Request, caller: Caller) -> dict[str, Any]:
    body = json_body(request)
    return portal().registration.login(body.get("username"), body.get("password"), caller)


@registration.route("/holders", methods=["POST"])
@endpoint(registration, status=202)
def add_holder(request: Request, caller: Caller) -> dict[str, Any]:
    body = json_body(request)
    # `holder_id` instead of `phone`: a holder already listed ("Det här är jag") proves
    # their own number, which the page only shows masked
    if "holder_id" in body and body.get("phone") is None:
        return portal().registration.request_as_holder(bearer(request), body.get("holder_id"),
                                                       body.get("name"), caller)
    return portal().registration.request_holder(bearer(request), body.get("name"),
                                                body.get("phone"), caller)


@registration.route("/holders/verify", methods=["POST"])
@endpoint(registration)
def verify_holder(request: Request, caller: Caller) -> dict[str, Any]:
    body = json_body(request)
    return portal().registration.verify_holder(bearer(request), body.get("code"), caller)


@registration.route("/holders/{holder_id}", methods=["DELETE"],
                    content_types=["application/json", "text/plain"])
@endpoint(registration, status=204)
def remove_holder(request: Request, caller: Caller, holder_id: str) -> None:
    portal().registration.remove_holder(bearer(request), holder_id, caller)
    return None


@registration.route("/holders/{holder_id}/authenticator", methods=["POST"])
@endpoint(registration)
def add_app(request: Request, caller: Caller, holder_id: str) -> dict[str, Any]:
    if request.raw_body:  # it takes no fields; a body, if sent, is JSON like any other
        json_body(request)
    return portal().authenticators.add_app(bearer(request), holder_id, caller)


@registration.route("/holders/{holder_id}/authenticator/verify", methods=["POST"])
@endpoint(registration)
def verify_app(request: Request, caller: Caller, holder_id: str) -> dict[str, Any]:
    body = json_body(request)
    return portal().authenticators.verify_app(bearer(request), holder_id, body.get("code"),
                                              caller)


@registration.route("/holders/{holder_id}/authenticator", methods=["DELETE"],
                    content_types=["application/json", "text/plain"])
@endpoint(registration, status=204)
def remove_app(request: Request, caller: Caller, holder_id: str) -> None:
    portal().authenticators.remove_app(bearer(request), holder_id, caller)
    return None


@registration.route("/logout", methods=["POST"], content_types=["application/json",
                                                                 "text/plain"])
@endpoint(registration, status=204)
def logout(request: Request, caller: Caller) -> None:
    portal().registration.logout(bearer(request))
    return None
