"""How pwportal speaks HTTP: JSON bodies in, the error envelope out, in the caller's language.

Every route is wrapped by `endpoint`, the one place where domain errors become status codes:
`{"error": {"code", "message", "support", ...extra fields}}`. The `headers` middleware gives
every response, errors from Chalice itself included, the API's headers (`Cache-Control:
no-store` and `X-Content-Type-Options: nosniff`), and puts Chalice's own errors into the same
envelope. The headers, the origin header and the envelope are the contract (contract.py)
that the site in front of the API honours too.

On a deployed stage the API sits behind CloudFront, which adds two headers: the origin key
(so a request that went around CloudFront, and around its client address and rate rule, is
refused) and `CloudFront-Viewer-Address`, the client's own address.
"""
from __future__ import annotations

import functools
import hmac
import json
import traceback
from collections.abc import Callable, Mapping
from typing import Any, cast

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.adapters import telemetry
from chalicelib.api import contract
from chalicelib.api.contract import API_HEADERS, ORIGIN_HEADER, envelope
from chalicelib.bootstrap import portal
from chalicelib.domain import policy
from chalicelib.domain.errors import (InvalidRequest, PasswordRejected, PortalError,
                                      RequestTooLarge, UnsupportedMediaType)
from chalicelib.domain.events import Caller
from chalicelib.messages import language, text
from chalicelib.settings import Settings

# A route's view: (request, caller, the path's parameters) → the JSON body, or None (no body).
View = Callable[..., "dict[str, Any] | None"]

_CHALICE_ERRORS = {400: "invalid_request", 403: "not_found", 404: "not_found",
                   405: "method_not_allowed", 415: "unsupported_media_type",
                   500: "internal_error"}


def support_line(settings: Settings | None = None, lang: str = "sv") -> str:
    """The support contact of every error: the support channels of the settings (this
    stage's unless given), in `lang`."""
    return contract.support_line(settings or portal().settings, lang)


def json_response(status: int, body: dict[str, Any] | None,
                  headers: Mapping[str, str | list[str]] | None = None) -> Response:
    all_headers: dict[str, str | list[str]] = {**API_HEADERS, **(headers or {})}
    if body is None:
        return Response(body="", status_code=status, headers=all_headers)
    all_headers["Content-Type"] = "application/json; charset=utf-8"
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers=all_headers)


def error_body(code: str, lang: str, **fields: Any) -> dict[str, Any]:
    return envelope(code, lang, support_line(lang=lang), **fields)


def violation(rule: str, lang: str, params: dict[str, Any]) -> dict[str, str]:
    """A broken rule as the API says it; `reason` names the kind where a rule has several
    (rule `common`, reason `common_word`), so that the page marks the right item."""
    key = policy.text_key(rule)
    kind = key.removeprefix("rule.")
    return {"rule": str(rule), **({"reason": kind} if kind != str(rule) else {}),
            "message": text(key, lang, **params)}


def error_response(error: PortalError, lang: str) -> Response:
    fields = dict(error.fields)
    fields.pop("field", None)
    if isinstance(error, PasswordRejected):
        p = portal().settings.policy
        params = {"min_length": p.min_length, "max_length": p.max_length,
                  "min_classes": p.min_classes, "history": p.history}
        fields["violations"] = [violation(rule, lang, params) for rule in error.rules]
    headers = {}
    if error.status == 429 and "retry_after" in fields:
        headers["Retry-After"] = str(fields["retry_after"])
    return json_response(error.status, error_body(error.code, lang, **fields), headers)


def caller_of(request: Request) -> Caller:
    context = request.context or {}
    ip = (context.get("identity") or {}).get("sourceIp") or ""
    settings = portal().settings
    hops = settings.trusted_proxy_hops
    forwarded = [part.strip() for part in (request.headers.get("x-forwarded-for") or "").split(",")
                 if part.strip()]
    address = request.headers.get(settings.client_address_header) \
        if settings.client_address_header else None
    if address:
        ip = address_without_port(address)
    elif hops and len(forwarded) >= hops:
        ip = forwarded[-hops]
    # API Gateway's request id; under chalice local, the Lambda context's.
    request_id = context.get("requestId") or getattr(
        getattr(request, "lambda_context", None), "aws_request_id", "") or ""
    return Caller(ip=ip, request_id=request_id,
                  lang=language(request.headers.get("accept-language")))


def address_without_port(value: str) -> str:
    """`203.0.113.9:46532` → `203.0.113.9`; `2001:db8::7:46532` → `2001:db8::7` (CloudFront
    writes IPv6 without brackets, the port after the last colon)."""
    host, colon, port = value.strip().rpartition(":")
    if colon and port.isdigit() and host:
        return host.strip("[]")
    return value.strip()


def from_cloudfront(event: Request) -> bool:
    """True unless this stage has an origin key and the request does not carry it. A
    deployed stage's secrets always have one (`make deploy` makes it); a stage reading its
    secrets from SSM without one refuses every request rather than run unguarded."""
    settings = portal().settings
    if not settings.secrets_parameter:
        return True  # the local stage and the tests: no CloudFront in front
    key = portal().secrets.origin_key
    given = event.headers.get(ORIGIN_HEADER) or ""
    return bool(key) and hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or the error that says what is wrong with it."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType()
    raw = cast(bytes, request.raw_body or b"")  # typed `str | bytes`; chalice gives bytes
    if len(raw) > portal().settings.max_body_bytes:
        raise RequestTooLarge()
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
        # A `\ud800` escape parses to a lone surrogate, which is no text: refuse it here,
        # before a password or a token meets `.encode("utf-8")`.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError; deep nesting recurses
        raise InvalidRequest() from None
    if not isinstance(body, dict):
        raise InvalidRequest()
    return body


def bearer(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def endpoint(blueprint: Blueprint, status: int = 200
             ) -> Callable[[View], Callable[..., Response]]:
    """Wrap a view `f(request, caller) -> dict | None` with parsing and error mapping."""
    def decorate(view: View) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Response:
            request = blueprint.current_request
            lang = language(request.headers.get("accept-language"))
            try:
                result = view(request, caller_of(request), *args, **kwargs)
            except PortalError as error:
                return error_response(error, lang)
            except Exception:  # never a stack trace to the caller; one to the log
                telemetry.error("unhandled", trace=traceback.format_exc(limit=20))
                return json_response(500, error_body("internal_error", lang))
            return json_response(status, result)
        return wrapped
    return decorate


def responding(blueprint: Blueprint,
               page: Callable[[PortalError, str], Response] | None = None
               ) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Like `endpoint`, for views that answer a Response of their own (redirects, cookies,
    a file): domain errors in the envelope, or for a browser navigating here (`GET` with
    `Accept: text/html`) as `page` says them, if given; never a stack trace."""
    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Response:
            request = blueprint.current_request
            lang = language(request.headers.get("accept-language"))
            try:
                return view(request, caller_of(request), *args, **kwargs)
            except PortalError as error:
                if page is not None and request.method == "GET" and \
                        "text/html" in (request.headers.get("accept") or ""):
                    return page(error, lang)
                return error_response(error, lang)
            except Exception:  # never a stack trace to the caller; one to the log
                telemetry.error("unhandled", trace=traceback.format_exc(limit=20))
                return json_response(500, error_body("internal_error", lang))
        return wrapped
    return decorate


def with_headers(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """HTTP middleware: requests that went around CloudFront refused, security headers
    everywhere, Chalice's own errors in our envelope."""
    lang = language(event.headers.get("accept-language"))
    try:
        allowed = from_cloudfront(event)
    except Exception:  # the secrets cannot be read: say so, and keep the trace in the log
        telemetry.error("secrets_unavailable", trace=traceback.format_exc(limit=5))
        return json_response(503, error_body("service_unavailable", lang))
    if not allowed:
        return json_response(403, error_body("forbidden", lang))
    response = get_response(event)
    if response.status_code >= 400 and isinstance(response.body, dict) \
            and "Code" in response.body:
        code = _CHALICE_ERRORS.get(response.status_code, "invalid_request")
        status = response.status_code if response.status_code != 403 else 404
        headers = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
        response = json_response(status, error_body(code, lang), headers)
    for name, value in API_HEADERS.items():
        response.headers[name] = value
    return response
