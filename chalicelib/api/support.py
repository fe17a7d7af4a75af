"""The support console's API (SPEC 14): the sign-in (/api/support/login, /callback,
/logout, /me) and the agent's work on one account (/api/support/accounts/{username}: the
view, the caller's verification, the actions, the monthly report).

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
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.contract import API_HEADERS
from chalicelib.api.http import error_body, json_body, json_response, responding
from chalicelib.api.support_views import account_view
from chalicelib.bootstrap import portal
from chalicelib.domain.console import Acting, Agent
from chalicelib.domain.errors import DirectoryUnavailable, NotFound, PortalError
from chalicelib.domain.phone import masked
from chalicelib.domain.events import Caller
from chalicelib.domain.sign_in import (SIGN_IN_SECONDS, AgentSession, ConsoleOff,
                                       OriginRefused)
from chalicelib.services.support.monthly import COLUMNS, month

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


# domain errors in the envelope, or as a page for a browser that navigated here
console = responding(support, page=refusal_page)


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


# -- the account: find, see, verify, act (SPEC 14) -------------------------------------------

ACCOUNT = "/accounts/{username}"


def as_agent(view: Callable[..., dict[str, Any] | Response]) -> Callable[..., Response]:
    """A console view for a signed-in agent: 404 while the console is off, the console's
    header and own `Origin` on every state change (403), the session's cookie (401); the
    view gets the agent after the caller, and its dict is answered as JSON."""
    @functools.wraps(view)
    def wrapped(request: Request, caller: Caller, *args: Any, **kwargs: Any) -> Response:
        sign_in = portal().support_sign_in
        if not sign_in.on:
            raise ConsoleOff()
        if request.method != "GET":
            same_origin(request)
        session = sign_in.session(session_token(request))
        answer = view(request, caller, Agent(session.issuer, session.subject, session.name),
                      *args, **kwargs)
        return answer if isinstance(answer, Response) else json_response(200, answer)
    return wrapped


def acting(username: str, agent: Agent, caller: Caller) -> Acting:
    return portal().caller_checks.acting(username, agent, caller)


@support.route(ACCOUNT, methods=["GET"])
@console
@as_agent
def account(request: Request, caller: Caller, agent: Agent, username: str) -> dict[str, Any]:
    diagnosis = portal().diagnoses.events(username, limit=50)
    if diagnosis.state.account is None:
        raise NotFound()
    return account_view(diagnosis, portal().caller_checks.verification(username, agent),
                        directory_view(username))


def directory_view(username: str) -> dict[str, Any] | None:
    """The directory's view of the account (SPEC 14, 16: `ldap` mode), or None; a directory
    that does not answer is said so, and the rest of the view is shown all the same."""
    try:
        state = portal().directory_unlock.state(username)
    except DirectoryUnavailable:
        return {"exists": None, "locked": None, "unavailable": True}
    return {"exists": state.exists, "locked": state.locked} if state else None


@support.route(ACCOUNT + "/verify/start", methods=["POST"])
@console
@as_agent
def verify_start(request: Request, caller: Caller, agent: Agent, username: str
                 ) -> dict[str, Any]:
    body = json_body(request)
    return portal().caller_checks.start(username, body.get("holder_id"), body.get("channel"),
                                        agent, caller)


@support.route(ACCOUNT + "/verify", methods=["POST"])
@console
@as_agent
def verify(request: Request, caller: Caller, agent: Agent, username: str) -> dict[str, Any]:
    verified = portal().caller_checks.verify(username, json_body(request).get("code"), agent,
                                             caller)
    return {"verified": {"holder_id": verified.holder_id,
                         "holder_name": verified.holder_name, "until": verified.expires_at}}


@support.route(ACCOUNT + "/unlock", methods=["POST"])
@console
@as_agent
def unlock(request: Request, caller: Caller, agent: Agent, username: str) -> dict[str, Any]:
    done = portal().account_changes.unlock(username, acting(username, agent, caller))
    return {"cleared": done.cleared}


@support.route(ACCOUNT + "/holders", methods=["POST"])
@console
@as_agent
def add_holder(request: Request, caller: Caller, agent: Agent, username: str
               ) -> dict[str, Any]:
    body = json_body(request)
    return portal().caller_checks.start_new_holder(
        username, body.get("name"), body.get("phone"), acting(username, agent, caller))


@support.route(ACCOUNT + "/holders/verify", methods=["POST"])
@console
@as_agent
def prove_holder(request: Request, caller: Caller, agent: Agent, username: str
                 ) -> dict[str, Any]:
    by = acting(username, agent, caller)
    proven = portal().caller_checks.prove_new_holder(username, json_body(request).get("code"),
                                                     by)
    added = portal().holder_changes.add(username, proven.name, proven.phone, by)
    return {"holder": {"id": added.holder.id, "name": added.holder.name,
                       "phone": masked(added.holder.phone), "new": added.new}}


@support.route(ACCOUNT + "/holders/{holder_id}", methods=["DELETE"])
@console
@as_agent
def remove_holder(request: Request, caller: Caller, agent: Agent, username: str,
                  holder_id: str) -> dict[str, Any]:
    done = portal().holder_changes.remove(username, holder_id,
                                          acting(username, agent, caller))
    return {"removed": done.holder.id}


@support.route(ACCOUNT + "/holders/{holder_id}/authenticator", methods=["DELETE"])
@console
@as_agent
def remove_app(request: Request, caller: Caller, agent: Agent, username: str,
               holder_id: str) -> dict[str, Any]:
    done = portal().holder_changes.remove_app(username, holder_id,
                                              acting(username, agent, caller))
    return {"removed": done.holder.id}


@support.route(ACCOUNT + "/disable", methods=["POST"])
@console
@as_agent
def disable(request: Request, caller: Caller, agent: Agent, username: str) -> dict[str, Any]:
    account_, changed = portal().account_changes.disable(username,
                                                         acting(username, agent, caller))
    return {"disabled": account_.disabled, "changed": changed}


@support.route(ACCOUNT + "/enable", methods=["POST"])
@console
@as_agent
def enable(request: Request, caller: Caller, agent: Agent, username: str) -> dict[str, Any]:
    account_, changed = portal().account_changes.enable(username,
                                                        acting(username, agent, caller))
    return {"disabled": account_.disabled, "changed": changed}


@support.route(ACCOUNT + "/reset-link", methods=["POST"])
@console
@as_agent
def reset_link(request: Request, caller: Caller, agent: Agent, username: str
               ) -> dict[str, Any]:
    return portal().reset_links.send(username, json_body(request).get("holder_id"),
                                     acting(username, agent, caller))


@support.route(ACCOUNT + "/report", methods=["GET"])
@console
@as_agent
def report(request: Request, caller: Caller, agent: Agent, username: str
           ) -> dict[str, Any] | Response:
    """One month of the account's trail (SPEC 14: no caller verification; the unit manager
    asks for it), as JSON or, with `format=csv`, the CLI's CSV file."""
    query = {k: v for k, v in (request.query_params or {}).items() if isinstance(v, str)}
    log = portal().monthly_reports.log(username, *month(query.get("month", "")))
    if query.get("format") == "csv":
        # as text (the BOM a character): API Gateway passes text/csv through as it is
        return Response(body=log.csv().decode("utf-8"), status_code=200, headers={
            **API_HEADERS, "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{log.username}-'
                                   f'{log.year}-{log.month:02d}.csv"'})
    return {"title": log.title, "columns": list(COLUMNS), "rows": log.rows()}
