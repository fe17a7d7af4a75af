"""How pwportal speaks HTTP: JSON bodies in, the error envelope out, in the caller's language.

Every route is wrapped by `endpoint`, the one place where domain errors become status codes:
`{"error": {"code", "message", "support", ...extra fields}}`. The `headers` middleware gives
every response, errors from Chalice itself included, `Cache-Control: no-store` and
`X-Content-Type-Options: nosniff`, and puts Chalice's own errors into the same envelope.
"""
from __future__ import annotations

import functools
import json
import math
import sys
import traceback

from chalice import Response

from chalicelib.bootstrap import portal
from chalicelib.domain.errors import (InvalidRequest, PasswordRejected, PortalError,
                                      RequestTooLarge, UnsupportedMediaType)
from chalicelib.domain.events import Caller
from chalicelib.messages import language, text

SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_CHALICE_ERRORS = {400: "invalid_request", 403: "not_found", 404: "not_found",
                   405: "method_not_allowed", 415: "unsupported_media_type",
                   500: "internal_error"}


def support_line() -> str:
    settings = portal().settings
    return ", ".join(part for part in (settings.support_phone, settings.support_email) if part)


def json_response(status: int, body: dict | None, headers: dict | None = None) -> Response:
    all_headers = {**SECURITY_HEADERS, **(headers or {})}
    if body is None:
        return Response(body="", status_code=status, headers=all_headers)
    all_headers["Content-Type"] = "application/json; charset=utf-8"
    return Response(body=json.dumps(body, ensure_ascii=False), status_code=status,
                    headers=all_headers)


def error_body(code: str, lang: str, **fields) -> dict:
    params = dict(fields)
    if "retry_after" in params:
        params["minutes"] = max(1, math.ceil(params["retry_after"] / 60))
    try:
        message = text(code, lang, **params)
    except KeyError:
        message = text(code, lang)
    support = support_line()
    message += " " + text("support", lang, support=support)
    return {"error": {"code": code, "message": message, "support": support, **fields}}


def error_response(error: PortalError, lang: str) -> Response:
    fields = dict(error.fields)
    fields.pop("field", None)
    if isinstance(error, PasswordRejected):
        p = portal().settings.policy
        params = {"min_length": p.min_length, "max_length": p.max_length,
                  "min_classes": p.min_classes, "history": p.history}
        fields["violations"] = [{"rule": rule, "message": text("rule." + rule, lang, **params)}
                                for rule in error.rules]
    headers = {}
    if error.status == 429 and "retry_after" in fields:
        headers["Retry-After"] = str(fields["retry_after"])
    return json_response(error.status, error_body(error.code, lang, **fields), headers)


def caller_of(request) -> Caller:
    context = request.context or {}
    ip = (context.get("identity") or {}).get("sourceIp") or ""
    hops = portal().settings.trusted_proxy_hops
    forwarded = [part.strip() for part in (request.headers.get("x-forwarded-for") or "").split(",")
                 if part.strip()]
    if hops and len(forwarded) >= hops:
        ip = forwarded[-hops]
    # API Gateway's request id; under chalice local, the Lambda context's.
    request_id = context.get("requestId") or getattr(
        getattr(request, "lambda_context", None), "aws_request_id", "") or ""
    return Caller(ip=ip, request_id=request_id,
                  lang=language(request.headers.get("accept-language")))


def json_body(request) -> dict:
    """The request's JSON object, or the error that says what is wrong with it."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType()
    raw = request.raw_body or b""
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


def bearer(request) -> str:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def endpoint(blueprint, status: int = 200):
    """Wrap a view `f(request, caller) -> dict | None` with parsing and error mapping."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            request = blueprint.current_request
            lang = language(request.headers.get("accept-language"))
            try:
                result = view(request, caller_of(request), *args, **kwargs)
            except PortalError as error:
                return error_response(error, lang)
            except Exception:  # never a stack trace to the caller; one to the log
                sys.stderr.write(json.dumps({"level": "error", "event": "unhandled",
                                             "trace": traceback.format_exc(limit=20)}) + "\n")
                return json_response(500, error_body("internal_error", lang))
            return json_response(status, result)
        return wrapped
    return decorate


def with_headers(event, get_response):
    """HTTP middleware: security headers everywhere, Chalice's own errors in our envelope."""
    response = get_response(event)
    if response.status_code >= 400 and isinstance(response.body, dict) \
            and "Code" in response.body:
        lang = language(event.headers.get("accept-language"))
        code = _CHALICE_ERRORS.get(response.status_code, "invalid_request")
        status = response.status_code if response.status_code != 403 else 404
        headers = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
        response = json_response(status, error_body(code, lang), headers)
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response
