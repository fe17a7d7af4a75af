"""The identity provider's routes for pwreg and pwreset (SPEC 15): `POST
/api/registration/idp/begin` (Bearer) and `/finish` `{handle}` (Bearer), `POST
/api/reset/idp/begin` `{username}`, and the one callback both come back to, `GET
/api/idp/callback`.

A begin answers `{url}` (where the page sends the browser) and sets the browser-binding cookie
(`SameSite=Lax`, so that it comes back on the provider's redirect; `HttpOnly`; path the
callback's), as the console's login does: an answer of the provider pasted into another
browser is refused. The callback always sends the browser back to a portal's page with what it
needs in the fragment (which browsers never send to a server): `/pwreg/#idp=<handle>`,
`/pwreset/#reset=<token>&u=<username>`, or `#idp=failed|unavailable|not_a_holder|…`. With
`PWPORTAL_HOLDER_IDENTITY` off, or no provider configured, every one of them is 404.
"""
from __future__ import annotations

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.contract import API_HEADERS
from chalicelib.api.http import bearer, json_body, json_response, responding
from chalicelib.api.support import cookie, cookie_of
from chalicelib.bootstrap import portal
from chalicelib.domain.events import Caller
from chalicelib.domain.sign_in import SIGN_IN_SECONDS
from chalicelib.services.holder_identity import CALLBACK_PATH
from chalicelib.services.sign_in import Redirect

idp = Blueprint(__name__)

BROWSER_COOKIE = "pwportal_idp"


answered = responding(idp)  # domain errors in the envelope, never a stack trace


def begun(redirect: Redirect) -> Response:
    """{url}, with the cookie that binds the provider's answer to this browser."""
    return json_response(200, {"url": redirect.url}, {
        "Set-Cookie": cookie(BROWSER_COOKIE, redirect.browser, CALLBACK_PATH,
                             SIGN_IN_SECONDS, "Lax")})


@idp.route("/registration/idp/begin", methods=["POST"])
@answered
def holder_begin(request: Request, caller: Caller) -> Response:
    if request.raw_body:  # it takes no fields; a body, if sent, is JSON like any other
        json_body(request)
    return begun(portal().holder_identity.begin_holder(bearer(request), caller))


@idp.route("/registration/idp/finish", methods=["POST"])
@answered
def holder_finish(request: Request, caller: Caller) -> Response:
    return json_response(200, portal().holder_identity.finish_holder(
        bearer(request), json_body(request).get("handle"), caller))


@idp.route("/reset/idp/begin", methods=["POST"])
@answered
def reset_begin(request: Request, caller: Caller) -> Response:
    return begun(portal().holder_identity.begin_reset(json_body(request).get("username"),
                                                      caller))


@idp.route("/idp/callback", methods=["GET"])
@answered
def callback(request: Request, caller: Caller) -> Response:
    answer = {k: v for k, v in (request.query_params or {}).items() if isinstance(v, str)}
    location = portal().holder_identity.callback(answer, cookie_of(request, BROWSER_COOKIE),
                                                 caller)
    return Response(body="", status_code=303, headers={
        **API_HEADERS, "Location": location,
        "Set-Cookie": cookie(BROWSER_COOKIE, "", CALLBACK_PATH, 0, "Lax")})
