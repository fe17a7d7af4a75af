"""Signing in with the organisation's identity provider (SPEC 14, 15): the short-lived record
that binds a provider's answer to the request that asked for it, the identity a verified ID
token gives, the support console's session, and the reasons a sign-in is refused.

- SignInRequest (`signin#<SHA-256 of the state>`): the `nonce`, the PKCE verifier and the
  browser that started the sign-in, for 10 minutes, used once (the callback's conditional
  write). `purpose` says which flow asked (`support`, a pwreg `holder`, a pwreset `reset`)
  and `context` the little that flow needs back (the username; the digest of the pwreg
  session that asked), never a secret.
- IdentityHandoff (`handoff#<SHA-256 of the handle>`): the identity a pwreg sign-in proved,
  waiting (5 minutes, once) for the pwreg session that asked to take it (SPEC 15).
- AgentSession (`agent#<SHA-256 of the cookie>`): a support agent's console session, 30
  minutes idle and 8 hours at most *(config)*; the cookie itself is never stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from chalicelib.domain import conditions as c
from chalicelib.domain.errors import PortalError
from chalicelib.domain.records import HOUSEKEEPING_SECONDS, Expiring, Record

SIGN_IN_SECONDS = 600  # from the redirect to the provider until its answer must be back
SUPPORT = "support"  # the console's sign-in (SPEC 14)
HOLDER = "holder"  # pwreg's "Lägg till mig" with the provider (SPEC 15)
RESET = "reset"  # pwreset's third way (SPEC 15)
HANDOFF_SECONDS = 300  # from the callback until the pwreg page takes the identity

# Why a sign-in was refused: the audit's outcome and the error's `reason` (never a 500).
PROVIDER_ERROR = "provider_error"  # the provider answered `error=…` (the person said no…)
BAD_STATE = "bad_state"  # no such sign-in: forged, mistyped or from another portal
USED_STATE = "used_state"  # that sign-in was finished already: a replayed answer
EXPIRED_STATE = "expired_state"  # the answer came after SIGN_IN_SECONDS
OTHER_BROWSER = "other_browser"  # the answer reached a browser that did not ask for it
CODE_REFUSED = "code_refused"  # the provider refused the code (replayed, wrong verifier)
BAD_TOKEN = "bad_token"  # no ID token, or not a JWT, or an algorithm not allowed
BAD_SIGNATURE = "bad_signature"  # not signed by any of the provider's keys
WRONG_ISSUER = "wrong_issuer"  # in the token, or the answer's `iss` (RFC 9207)
WRONG_AUDIENCE = "wrong_audience"  # issued to another client
EXPIRED_TOKEN = "expired_token"
WRONG_NONCE = "wrong_nonce"  # a token of another sign-in
NOT_AN_AGENT = "not_an_agent"  # signed in, but not in the support group
NOT_IN_GROUP = "not_in_group"  # signed in, but not in the group that may become a holder
PROVIDER_UNAVAILABLE = "provider_unavailable"  # no answer from it: a 503, audited all the same
REASONS = (PROVIDER_ERROR, BAD_STATE, USED_STATE, EXPIRED_STATE, OTHER_BROWSER, CODE_REFUSED,
           BAD_TOKEN, BAD_SIGNATURE, WRONG_ISSUER, WRONG_AUDIENCE, EXPIRED_TOKEN, WRONG_NONCE,
           NOT_AN_AGENT, NOT_IN_GROUP, PROVIDER_UNAVAILABLE)


class SignInRefused(PortalError):
    """The provider's answer cannot be accepted; `reason` is one of REASONS."""

    code, status = "sign_in_refused", 400

    def __init__(self, reason: str, request: SignInRequest | None = None,
                 **fields: Any) -> None:
        super().__init__(reason=reason, **fields)
        self.reason = reason
        # the sign-in as it was stored, when one was found (used or expired): which flow
        # asked, for its audit; never in the answer
        self.request = request


class NotAnAgent(PortalError):
    """Signed in at the provider, but not in the support group: no console session."""

    code, status = "not_an_agent", 403


class NotSignedIn(PortalError):
    """No console session (none sent, unknown, idle too long or past its end)."""

    code, status = "not_signed_in", 401


class OriginRefused(PortalError):
    """A state-changing call without the console's header or from another origin."""

    code, status = "origin_refused", 403


class ConsoleOff(PortalError):
    """No identity provider configured: the console is off (SPEC 15)."""

    code, status = "not_found", 404


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: issuer and subject (never a personal identity
    number), the name to show and the groups the token carries."""

    issuer: str
    subject: str
    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignInRequest(Expiring):
    PREFIX: ClassVar[str] = "signin#"
    KIND: ClassVar[str] = "sign_in"

    id: str
    purpose: str
    nonce: str
    code_verifier: str
    browser: str  # SHA-256 of the browser-binding cookie set with the redirect
    redirect_uri: str
    created_at: float
    expires_at: float
    used: bool = False
    # what the flow that asked needs back (the username, the asking pwreg session's digest)
    context: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def usable(now: float) -> c.Condition:
        return c.all_of(c.eq("used", False), c.gt("expires_at", now))


@dataclass(frozen=True)
class IdentityHandoff(Expiring):
    """Who a pwreg sign-in proved (SPEC 15), for the pwreg session that asked (`session`, the
    digest of its secret) to take once: the handle travels in the page's fragment, never to
    a server's log; the pwreg session's bearer must come with it."""

    PREFIX: ClassVar[str] = "handoff#"
    KIND: ClassVar[str] = "identity_handoff"

    id: str
    session: str
    username: str
    issuer: str
    subject: str
    name: str
    expires_at: float
    used: bool = False

    def usable(self, now: float) -> c.Condition:
        return c.all_of(c.eq("used", False), c.gt("expires_at", now),
                        c.eq("session", self.session))


@dataclass(frozen=True)
class AgentSession(Record):
    PREFIX: ClassVar[str] = "agent#"
    KIND: ClassVar[str] = "agent_session"

    id: str
    issuer: str
    subject: str
    name: str
    created_at: float
    idle_until: float  # moved on by every call, never past `ends_at`
    ends_at: float

    @property
    def ttl(self) -> int:
        return int(self.ends_at + HOUSEKEEPING_SECONDS)

    @staticmethod
    def alive(now: float) -> c.Condition:
        return c.all_of(c.gt("idle_until", now), c.gt("ends_at", now))

    def is_live(self, now: float) -> bool:
        return c.holds(self.alive(now), self.to_item())

    @property
    def agent(self) -> dict[str, str]:
        """What the audit says of the agent: subject and name (SPEC 14)."""
        return {"actor": SUPPORT, "agent_subject": self.subject, "agent_name": self.name}
