"""Signing in with the organisation's identity provider (SPEC 14, 15): the one OpenID Connect
sign-in every flow uses, and the support console's sign-in, session and sign-out on it.

`OidcSignIn` is the part common to every sign-in. `begin` makes a sign-in (state, nonce, PKCE
verifier and a browser binding, 10 minutes, once) for a `purpose` with a small `context`, and
says where to send the browser; `finish` takes the provider's answer, consumes the sign-in by
a conditional write (a sign-in of another purpose is refused as a state this callback never
gave), checks the browser binding, the provider's answer and its `iss`, lets the provider
port redeem the code and verify the ID token, and answers the sign-in and the identity. A
refusal is handed to the caller's `refused` (to audit as its flow does) and raised.

`SupportSignIn` opens a session for an agent (the support group in the token). Every refusal
is audited (`support.sign_in_refused`, its reason the outcome) and raised as a domain error
the route answers; `session` and `sign_out` serve every later call. pwreg's proven holders
and pwreset's third way are services/holder_identity.py, on the same `OidcSignIn`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain import sign_in as reasons
from chalicelib.domain.codes import digest
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import Caller
from chalicelib.domain.sign_in import (SIGN_IN_SECONDS, SUPPORT, AgentSession, ConsoleOff,
                                       Identity, NotAnAgent, NotSignedIn, SignInRefused,
                                       SignInRequest)
from chalicelib.ports import Clock, IdentityProvider
from chalicelib.repositories.audit import Audit
from chalicelib.repositories.sign_ins import SignIns
from chalicelib.services.unit_of_work import UnitOfWork
from chalicelib.settings import Settings

CALLBACK_PATH = "/api/support/callback"
SESSION = "session"  # the name of the agent's session's write in a unit of work


@dataclass(frozen=True)
class Redirect:
    """Where to send the browser, and the secret the browser keeps until it comes back (the
    route sets it as a cookie; only its digest is stored)."""

    url: str
    browser: str


@dataclass(frozen=True)
class SignedIn:
    token: str  # the console's cookie; stored only hashed
    session: AgentSession


@dataclass(frozen=True)
class Proven:
    """A sign-in finished: the request as it was begun (its purpose and context), and who the
    provider says signed in."""

    request: SignInRequest
    identity: Identity


# What a flow does with a refusal before it is raised: (the reason, the sign-in when it was
# found, the identity when the provider gave one).
OnRefused = Callable[[str, "SignInRequest | None", "Identity | None"], None]


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()
                                    ).decode("ascii").rstrip("=")


@dataclass(frozen=True, kw_only=True)
class OidcSignIn:
    """The authorization code flow with PKCE, `state` and `nonce`, bound to the browser that
    began it, for any purpose (SPEC 14, 15)."""

    settings: Settings
    clock: Clock
    sign_ins: SignIns
    provider: Callable[[], IdentityProvider]  # built on first use: no discovery before

    @property
    def on(self) -> bool:
        return bool(self.settings.idp_issuer)

    def redirect_uri(self, callback_path: str) -> str:
        return self.settings.redirect_base + callback_path

    def begin(self, purpose: str, callback_path: str,
              context: dict[str, str] | None = None) -> Redirect:
        now = self.clock.now().timestamp()
        state, browser = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
        redirect_uri = self.redirect_uri(callback_path)
        url = self.provider().authorization_url(redirect_uri, state, nonce,
                                                 pkce_challenge(verifier))
        self.sign_ins.begin(SignInRequest(
            id=SignInRequest.id_of(state), purpose=purpose, nonce=nonce,
            code_verifier=verifier, browser=digest(browser), redirect_uri=redirect_uri,
            created_at=now, expires_at=now + SIGN_IN_SECONDS, context=dict(context or {})))
        return Redirect(url=url, browser=browser)

    def finish(self, answer: dict[str, str], browser: str, purposes: tuple[str, ...],
               refused: OnRefused) -> Proven:
        """The provider's answer (the callback's query) in the browser that holds `browser`,
        for a sign-in of one of `purposes`: the sign-in and the identity; SignInRefused or
        ServiceUnavailable, handed to `refused` first, otherwise."""
        now = self.clock.now()
        request: SignInRequest | None = None
        try:
            request = self._consume(answer, purposes, now)
            identity = self._identity(answer, browser, request, now)
        except SignInRefused as refusal:
            refused(refusal.reason, request or refusal.request, None)
            raise
        except ServiceUnavailable:  # the provider did not answer: 503, and on the record
            refused(reasons.PROVIDER_UNAVAILABLE, request, None)
            raise
        return Proven(request, identity)

    def _consume(self, answer: dict[str, str], purposes: tuple[str, ...], now: datetime
                 ) -> SignInRequest:
        state = answer.get("state") or ""
        if not state:
            raise SignInRefused(reasons.BAD_STATE)
        # Consumed first, whatever the answer: a state is good for one answer only.
        request = self.sign_ins.consume(state, now.timestamp())
        if request.purpose not in purposes:  # another callback's: never one this one gave
            raise SignInRefused(reasons.BAD_STATE)
        return request

    def _identity(self, answer: dict[str, str], browser: str, request: SignInRequest,
                  now: datetime) -> Identity:
        if not browser or not hmac.compare_digest(digest(browser), request.browser):
            raise SignInRefused(reasons.OTHER_BROWSER)
        if answer.get("error"):
            raise SignInRefused(reasons.PROVIDER_ERROR)
        # RFC 9207: a provider that names itself in the answer must be ours (a mix-up
        # attack sends the browser back with another provider's code).
        issuer = answer.get("iss")
        if issuer is not None and issuer.rstrip("/") != self.settings.idp_issuer.rstrip("/"):
            raise SignInRefused(reasons.WRONG_ISSUER)
        code = answer.get("code") or ""
        if not code:
            raise SignInRefused(reasons.CODE_REFUSED)
        return self.provider().identify(code, request.redirect_uri, request.code_verifier,
                                         request.nonce, now)


@dataclass(frozen=True, kw_only=True)
class SupportSignIn:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    sign_ins: SignIns
    audit: Audit
    oidc: OidcSignIn

    @property
    def on(self) -> bool:
        return self.oidc.on

    @property
    def redirect_uri(self) -> str:
        return self.oidc.redirect_uri(CALLBACK_PATH)

    def begin(self, caller: Caller) -> Redirect:
        if not self.on:
            raise ConsoleOff()
        return self.oidc.begin(SUPPORT, CALLBACK_PATH)

    def finish(self, answer: dict[str, str], browser: str, caller: Caller) -> SignedIn:
        """The provider's answer (the callback's query) in the browser that holds `browser`:
        a session for an agent; SignInRefused or NotAnAgent, audited, otherwise."""
        if not self.on:
            raise ConsoleOff()
        identity = self.oidc.finish(
            answer, browser, (SUPPORT,),
            lambda reason, request, identity: self._refused(reason, caller)).identity
        if self.settings.idp_support_group not in identity.groups:
            self._refused(reasons.NOT_AN_AGENT, caller, identity)
            raise NotAnAgent(name=identity.name)
        moment = self.clock.now().timestamp()
        token = secrets.token_urlsafe(32)  # 256 bits
        ends_at = moment + self.settings.support_session_seconds
        session = AgentSession(
            id=AgentSession.id_of(token), issuer=identity.issuer, subject=identity.subject,
            name=identity.name, created_at=moment,
            idle_until=min(moment + self.settings.support_idle_seconds, ends_at),
            ends_at=ends_at)
        (self.uow.begin().add(SESSION, self.sign_ins.open(session))
         .record(self.audit.record("support.signed_in", None, "success", caller,
                                    **session.agent)).commit())
        return SignedIn(token=token, session=session)

    def _refused(self, reason: str, caller: Caller, identity: Identity | None = None) -> None:
        agent = {"agent_subject": identity.subject, "agent_name": identity.name} \
            if identity else {}
        self.audit.write_if_possible(self.audit.record(
            "support.sign_in_refused", None, reason, caller, actor=SUPPORT, **agent))

    def session(self, token: str) -> AgentSession:
        """The live session of the cookie `token`, its idle end moved on; NotSignedIn."""
        if not self.on:
            raise ConsoleOff()
        now = self.clock.now().timestamp()
        found = self.sign_ins.session(token, now)
        if found is not None:
            found = self.sign_ins.touch(found, now, self.settings.support_idle_seconds)
        if found is None:
            raise NotSignedIn()
        return found

    def sign_out(self, token: str, caller: Caller) -> None:
        """"Logga ut": the session ends (the cookie is refused after)."""
        if not self.on:
            raise ConsoleOff()
        now = self.clock.now().timestamp()
        found = self.sign_ins.session(token, now)
        if found is None:
            raise NotSignedIn()
        (self.uow.begin().add(SESSION, self.sign_ins.end(found))
         .record(self.audit.record("support.signed_out", None, "success", caller,
                                    **found.agent)).commit())
