"""The support console's sign-in API (SPEC 14): /api/support/login, /callback, /logout, /me.

The console's session is a cookie (`HttpOnly`, `SameSite=Strict`, path `/api/support`,
`Secure` on a deployed stage), never a URL or a header the page's script can read. Between
`login` and `callback` a second cookie (`SameSite=Lax`, so that it comes back on the
provider's redirect; path the callback's) binds the provider's answer to the browser that
asked for it: an answer pasted into another browser is refused. Every state-changing call
also needs the console's header and an `Origin` that is the portal's own.

A refused sign-in answers the error envelope, or (a browser navigating, `Accept: text/html`)
a plain page saying the same with a way to start again: never a 500.
"""
from __future__ import annotations

import functools
import html
import json
import sys
import traceback
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.contract import API_HEADERS
from chalicelib.api.http import caller_of, error_body, error_response, json_response
from chalicelib.bootstrap import portal
from chalicelib.domain.errors import PortalError
from chalicelib.domain.events import Caller
from chalicelib.domain.sign_in import (SIGN_IN_SECONDS, AgentSession, ConsoleOff,
                                       OriginRefused)
from chalicelib.messages import language

support = Blueprint(__name__)

SESSION_COOKIE = "pwportal_support"
BROWSER_COOKIE = "pwportal_sign_in"
SESSION_PATH = "/api/support"
CALLBACK_PATH = "/api/support/callback"
CONSOLE_PAGE = "/support/"
# The console's script sends it on every state-changing call: a form on another site cannot.
CONSOLE_HEADER = "x-pwportal-console"


def cookie(name: str, value: str, path: str, max_age: int, same_site: str) -> str:
    secure = "; Secure" if portal().settings.secrets_parameter else ""  # deployed: HTTPS
    return (f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; "
            f"SameSite={same_site}{secure}")


def cookie_of(request: Request, name: str) -> str:
    try:
        jar = SimpleCookie(request.headers.get("cookie") or "")
    except CookieError:
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def session_token(request: Request) -> str:
    return cookie_of(request, SESSION_COOKIE)


def same_origin(request: Request) -> None:
    """OriginRefused unless the call carries the console's header and the portal's own
    `Origin` (SPEC 14): a page of another site can send neither."""
    origin = (request.headers.get("origin") or "").rstrip("/")
    if request.headers.get(CONSOLE_HEADER) != "1" or not origin \
            or origin != portal().settings.redirect_base:
        raise OriginRefused()


def wants_page(request: Request) -> bool:
    return "text/html" in (request.headers.get("accept") or "")


def refusal_page(error: PortalError, lang: str) -> Response:
    """The refusal as a page for a browser that navigated here from the provider."""
    body = error_body(error.code, lang, **error.fields)["error"]
    title = "Supportkonsolen" if lang == "sv" else "The support console"
    again = "Logga in igen" if lang == "sv" else "Sign in again"
    page = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}"
            f"</h1><p>{html.escape(body['message'])}</p>"
            f'<p><a href="{SESSION_PATH}/login">{html.escape(again)}</a></p></main></body>'
            f"</html>")
    return Response(body=page, status_code=error.status,
                    headers={**API_HEADERS, "Content-Type": "text/html; charset=utf-8"})


def console(view: Callable[..., Response]) -> Callable[..., Response]:
    """Like http.endpoint, for views that answer a Response of their own (redirects and
    cookies): domain errors in the envelope (or a page), never a stack trace."""
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        request = support.current_request
        lang = language(request.headers.get("accept-language"))
        try:
            return view(request, caller_of(request), *args, **kwargs)
        except PortalError as error:
            if wants_page(request) and request.method == "GET":
                return refusal_page(error, lang)
            return error_response(error, lang)
        except Exception:
            sys.stderr.write(json.dumps({"level": "error", "event": "unhandled",
                                         "trace": traceback.format_exc(limit=20)}) + "\n")
            return json_response(500, error_body("internal_error", lang))
    return wrapped


def agent(session: AgentSession) -> dict[str, Any]:
    return {"agent": {"subject": session.subject, "name": session.name},
            "expires_at": min(session.idle_until, session.ends_at),
            "ends_at": session.ends_at}


@support.route("/login", methods=["GET"])
@console
def login(request: Request, caller: Caller) -> Response:
    redirect = portal().support_sign_in.begin(caller)
    return Response(body="", status_code=302, headers={
        **API_HEADERS, "Location": redirect.url,
        "Set-Cookie": cookie(BROWSER_COOKIE, redirect.browser, CALLBACK_PATH,
                             SIGN_IN_SECONDS, "Lax")})


@support.route("/callback", methods=["GET"])
@console
def callback(request: Request, caller: Caller) -> Response:
    answer = {k: v for k, v in (request.query_params or {}).items() if isinstance(v, str)}
    signed_in = portal().support_sign_in.finish(answer, cookie_of(request, BROWSER_COOKIE),
                                                caller)
    settings = portal().settings
    return Response(body="", status_code=303, headers={
        **API_HEADERS, "Location": CONSOLE_PAGE,
        "Set-Cookie": [
            cookie(SESSION_COOKIE, signed_in.token, SESSION_PATH,
                   settings.support_session_seconds, "Strict"),
            cookie(BROWSER_COOKIE, "", CALLBACK_PATH, 0, "Lax")]})


@support.route("/me", methods=["GET"])
@console
def me(request: Request, caller: Caller) -> Response:
    return json_response(200, agent(portal().support_sign_in.session(session_token(request))))


@support.route("/logout", methods=["POST"], content_types=["application/json", "text/plain"])
@console
def logout(request: Request, caller: Caller) -> Response:
    if not portal().support_sign_in.on:
        raise ConsoleOff()  # off: 404 like every path of the console, before any other check
    same_origin(request)
    portal().support_sign_in.sign_out(session_token(request), caller)
    return json_response(204, None, {
        "Set-Cookie": cookie(SESSION_COOKIE, "", SESSION_PATH, 0, "Strict")})
