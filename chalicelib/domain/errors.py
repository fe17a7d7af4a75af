"""Errors of the domain: what went wrong in the users' terms. The API maps them to HTTP in
one place (chalicelib/api/http.py); the admin CLI prints them."""
from __future__ import annotations

from typing import Any


class PortalError(Exception):
    """Base: `code` is the API's error code, `status` its HTTP status."""

    code = "internal_error"
    status = 500

    def __init__(self, **fields: Any) -> None:
        super().__init__(self.code)
        self.fields = fields  # extra fields for the error body, e.g. attempts_left


class InvalidRequest(PortalError):
    code, status = "invalid_request", 400


class UnsupportedMediaType(PortalError):
    code, status = "unsupported_media_type", 415


class RequestTooLarge(PortalError):
    code, status = "request_too_large", 413


class InvalidCredentials(PortalError):
    code, status = "invalid_credentials", 401


class TooManyAttempts(PortalError):
    code, status = "too_many_attempts", 429


class TooManyRequests(PortalError):
    code, status = "too_many_requests", 429


class InvalidSession(PortalError):
    code, status = "invalid_session", 401


class InvalidPhone(PortalError):
    code, status = "invalid_phone", 400


class PhoneNotAllowed(PortalError):
    code, status = "phone_not_allowed", 400


class InvalidCode(PortalError):
    code, status = "invalid_code", 400


class CodeExpired(PortalError):
    code, status = "code_expired", 410


class ChallengeExpired(PortalError):
    code, status = "challenge_expired", 410


class ResendTooSoon(PortalError):
    code, status = "resend_too_soon", 429


class TokenExpired(PortalError):
    code, status = "token_expired", 410


class PasswordRejected(PortalError):
    code, status = "password_rejected", 422

    def __init__(self, rules: list[str]) -> None:
        super().__init__()
        self.rules = rules


class NotFound(PortalError):
    code, status = "not_found", 404


class AccountExists(PortalError):
    code, status = "account_exists", 409


class NoDirectoryEntry(PortalError):
    """`ldap` mode (SPEC 13): an account links an existing directory entry; there is none."""

    code, status = "no_directory_entry", 404


class ImportRejected(PortalError):
    """An import file with lines that cannot be imported; `problems` names every one."""

    code, status = "import_rejected", 400

    def __init__(self, problems: list[Any]) -> None:  # services/support/imports.ImportProblem
        super().__init__()
        self.problems = problems


class IdentityRequired(PortalError):
    """`PWPORTAL_HOLDER_IDENTITY=required` (SPEC 15): a holder is added only once the
    organisation's identity provider has proven who they are."""

    code, status = "identity_required", 403


class InvalidName(PortalError):
    """A holder's name that is empty, longer than `max_length` or holds a control
    character (SPEC 8, 11)."""

    code, status = "invalid_name", 400


class TooManyHolders(PortalError):
    code, status = "too_many_holders", 409


class ServiceUnavailable(PortalError):
    code, status = "service_unavailable", 503


class DirectoryUnavailable(ServiceUnavailable):
    """The password directory (SPEC 13) could not be reached, was too slow, or answered an
    error: 503 to the user, `directory.failed` in the audit trail. `reason` is a short word
    for the log (`timeout`, `tls`, `bind`, `result_53`, …), never a DN or a password."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class DirectoryAnswerLost(DirectoryUnavailable):
    """A password set that went out to the directory and whose answer never came back (a
    timeout, or the connection lost, after the request was sent): the directory may have
    taken it. Never raised for a failure before the request went out."""


class ChangeUnconfirmed(ServiceUnavailable):
    """`ldap` mode (SPEC 13): the directory was sent the new password but its answer was
    lost, and it could not be asked at once whether it took it. The portal finishes the
    change (records it and tells the holders) as soon as the directory says so."""

    code, status = "change_unconfirmed", 503
