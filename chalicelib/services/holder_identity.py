"""Holders proven by the organisation's identity provider, and pwreset's third way (SPEC 15),
on the one OpenID Connect sign-in (services/sign_in.py `OidcSignIn`).

- pwreg: a logged-in session `begin_holder`s a sign-in (its purpose `holder`, its context
  the username and the digest of the session's secret). The provider sends the browser back
  to `/api/idp/callback`; `callback` checks the token (and the holder group, if one is
  configured), keeps the proven identity in a handoff for that session only, and sends the
  browser to `/pwreg/#idp=<handle>`. The page's `finish_holder` (with the same session's
  bearer) takes it: the session now carries the person, and the next holder it adds is
  them, named by the provider (services/registration.py), the number still proven by a code.
- pwreset: `begin_reset` for any username alike (nothing is read: SPEC 5's enumeration
  rules), counted as a reset start on the client network, `reset.requested` with
  `channel: idp`. The callback gives the account's holder who is this person (issuer and
  subject) a reset token, unless the account is disabled or its reset paused (checked again
  in the write that issues it), `reset.code_verified` `channel: idp`; a person who is no
  holder there is told so (`reset.code_failed`, outcome `not_a_holder`), having proven who
  they are. The token is the one a code gives: pwreset's password step takes it from
  `/pwreset/#reset=<token>&u=<username>`, the support desk's reset link's fragment.

Every refusal is audited, with its reason as the outcome: a reset's as `reset.code_failed`
(`channel: idp`), pwreg's and one whose sign-in is unknown as `idp.sign_in_refused`, and the
browser is sent back to the portal that asked, with `#idp=failed` (or `unavailable`).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain import conditions as c, holders as holding
from chalicelib.domain import sign_in as reasons
from chalicelib.domain.account import Account, normalise_username
from chalicelib.domain.codes import digest
from chalicelib.domain.errors import (CodeExpired, InvalidRequest, NotFound,
                                      ServiceUnavailable, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.limits import RESET_STARTS, WRONG_CODES
from chalicelib.domain.records import IDP, ResetToken
from chalicelib.domain.sign_in import (HANDOFF_SECONDS, HOLDER, RESET, Identity,
                                       IdentityHandoff, SignInRefused, SignInRequest)
from chalicelib.ports import Check, Clock, Conflict, Refused
from chalicelib.services.holder_fields import acting_as
from chalicelib.services.sign_in import OidcSignIn, Redirect
from chalicelib.services.unit_of_work import Attempt, refused_by, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Limits
    from chalicelib.repositories.records import Records
    from chalicelib.repositories.sign_ins import SignIns
    from chalicelib.services.refusals import Refusals
    from chalicelib.services.sessions import Sessions
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

CALLBACK_PATH = "/api/idp/callback"
PWREG_PAGE, PWRESET_PAGE = "/pwreg/", "/pwreset/"
OFFERED, REQUIRED = "offered", "required"
# the names of the writes, as a refusal names them
HANDOFF, SESSION, TOKEN, ACCOUNT, PAUSE = "handoff", "session", "token", "account", "pause"
# what the pages are told in the fragment when no token or handle came of it
FAILED, UNAVAILABLE, NOT_A_HOLDER = "failed", "unavailable", "not_a_holder"


def _fragment(**parts: str) -> str:
    """`#a=1&b=2`: the values are tokens, handles and usernames (URL-safe already)."""
    return "#" + "&".join(f"{key}={value}" for key, value in parts.items())


@dataclass(frozen=True, kw_only=True)
class HolderIdentity:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    limits: Limits
    audit: Audit
    refusals: Refusals
    sessions: Sessions
    sign_ins: SignIns
    oidc: OidcSignIn
    # has the directory locked the account (SPEC 16; never in portal mode): told with the
    # token, as verify tells it after a right code
    directory_locked: Callable[[str, Caller], bool]

    @property
    def mode(self) -> str:
        """`off`, `offered` or `required` (off without a provider configured)."""
        return self.settings.holder_identity_mode

    def _on(self) -> None:
        if self.mode not in (OFFERED, REQUIRED):
            raise NotFound()  # off: these paths are not there

    # -- pwreg: a holder proven by the provider ------------------------------------------

    def begin_holder(self, secret: str, caller: Caller) -> Redirect:
        """Where to send the pwreg session's browser to sign in at the provider."""
        self._on()
        session = self.sessions.live(secret)
        return self.oidc.begin(HOLDER, CALLBACK_PATH, {"username": session.username,
                                                       "session": digest(secret)})

    def finish_holder(self, secret: str, raw_handle: object, caller: Caller
                      ) -> dict[str, Any]:
        """The identity the callback proved for this very session, taken once: from now on
        the session adds this person (named by the provider) as a holder. 410 `code_expired`
        for a handle that is unknown, used, too old or another session's."""
        self._on()
        session = self.sessions.live(secret)
        if not isinstance(raw_handle, str) or not raw_handle:
            raise InvalidRequest(field="handle")
        handoff = self.sign_ins.handoff(raw_handle)
        now = self.clock.now().timestamp()
        if handoff is None or handoff.session != digest(secret) \
                or not c.holds(handoff.usable(now), handoff.to_item()):
            raise CodeExpired()
        tx = self.uow.begin()
        tx.add(HANDOFF, self.sign_ins.take(handoff, now))
        tx.add(SESSION, self.records.prove_session(session, handoff.issuer, handoff.subject,
                                                   handoff.name))
        try:
            tx.commit()
        except Refused as refused:
            if refused.by_any(HANDOFF):
                raise CodeExpired() from None
            raise ServiceUnavailable() from None
        except Conflict:
            raise ServiceUnavailable() from None
        return {"name": handoff.name}

    # -- pwreset: the third way ------------------------------------------------------------

    def begin_reset(self, raw_username: object, caller: Caller) -> Redirect:
        """Where to send the browser to sign in for a reset of `username`: the same for every
        username (nothing is read), counted as a reset start on the client network."""
        self._on()
        username = normalise_username(raw_username)
        now = self.clock.now().timestamp()
        decision = self.limits.reserve(RESET_STARTS, "", now, ip=caller.ip)
        if not decision.allowed:
            self.refusals.note(RESET_STARTS.setting, username, caller, decision.window,
                               who=RESET_STARTS.name, ip=caller.ip)
            raise TooManyRequests(retry_after=decision.retry_after)
        redirect = self.oidc.begin(RESET, CALLBACK_PATH, {"username": username})
        self.audit.write(self.audit.record("reset.requested", username, "sign_in_started",
                                           caller, channel=IDP))
        return redirect

    # -- the callback of both ------------------------------------------------------------

    def callback(self, answer: dict[str, str], browser: str, caller: Caller) -> str:
        """The provider's answer: where to send the browser (a path with its fragment)."""
        self._on()
        try:
            proven = self.oidc.finish(answer, browser, (HOLDER, RESET),
                                      lambda reason, request, _: self._refused(
                                          reason, request, None, caller))
        except SignInRefused as refusal:
            return self._back(refusal.request, FAILED)
        except ServiceUnavailable:
            return self._back(None, UNAVAILABLE)
        request, identity = proven.request, proven.identity
        group = self.settings.idp_holder_group
        if group and group not in identity.groups:
            self._refused(reasons.NOT_IN_GROUP, request, identity, caller)
            return self._back(request, FAILED)
        if request.purpose == HOLDER:
            return self._hand_off(request, identity)
        return self._reset(request, identity, caller)

    def _back(self, request: SignInRequest | None, why: str) -> str:
        username = request.context.get("username", "") if request else ""
        if request is not None and request.purpose == HOLDER:
            return PWREG_PAGE + _fragment(idp=why)
        return PWRESET_PAGE + (_fragment(idp=why, u=username) if username
                               else _fragment(idp=why))

    def _refused(self, reason: str, request: SignInRequest | None,
                 identity: Identity | None, caller: Caller) -> None:
        username = (request.context.get("username") or None) if request else None
        person = {"person_subject": identity.subject, "person_name": identity.name,
                  "proven_by": identity.issuer} if identity else {}
        if request is not None and request.purpose == RESET:
            record = self.audit.record("reset.code_failed", username, reason, caller,
                                       channel=IDP, **person)
        else:
            record = self.audit.record("idp.sign_in_refused", username, reason, caller,
                                       purpose=request.purpose if request else None, **person)
        self.audit.write_if_possible(record)

    def _hand_off(self, request: SignInRequest, identity: Identity) -> str:
        handle = secrets.token_urlsafe(32)
        now = self.clock.now().timestamp()
        self.uow.begin().add(HANDOFF, self.sign_ins.hand_off(IdentityHandoff(
            id=IdentityHandoff.id_of(handle), session=request.context.get("session", ""),
            username=request.context.get("username", ""), issuer=identity.issuer,
            subject=identity.subject, name=identity.name,
            expires_at=now + HANDOFF_SECONDS))).commit()
        return PWREG_PAGE + _fragment(idp=handle)

    def _reset(self, request: SignInRequest, identity: Identity, caller: Caller) -> str:
        """A reset token for the account's holder who is this person; told otherwise."""
        username = request.context.get("username", "")
        person = {"person_subject": identity.subject, "person_name": identity.name,
                  "proven_by": identity.issuer}

        def attempt(_: Attempt) -> str:
            now = self.clock.now().timestamp()
            pause_read = self.limits.lock_read(WRONG_CODES, username)
            found = self.uow.read(account=self.accounts.read(username), pause=pause_read)
            account: Account | None = found.account
            holder = holding.proven_holder(account.holders, identity.issuer,
                                           identity.subject) if account else None
            if account is None or holder is None:
                why = NOT_A_HOLDER
            else:
                why = "disabled" if account.disabled else \
                    "paused" if found.pause.locked(now) else ""
            if account is None or holder is None or why:
                self.audit.write(self.audit.record("reset.code_failed", username, why,
                                                   caller, channel=IDP, **person))
                return PWRESET_PAGE + _fragment(idp=why, u=username)
            secret = secrets.token_urlsafe(32)
            tx = self.uow.begin()
            tx.add(TOKEN, self.records.add(ResetToken(
                ResetToken.id_of(secret), username,
                expires_at=now + self.settings.reset_token_seconds, holder_id=holder.id,
                holder_name=holder.name, proven_by=identity.issuer)))
            # the account as read (the holder still there, not disabled since) and no pause
            # begun meanwhile: checked in the write that issues the token
            tx.add(ACCOUNT, Check(self.accounts.table, {"username": username},
                                  c.eq("version", account.version)))
            tx.add(PAUSE, Check(pause_read.table, pause_read.key,
                                c.any_of(c.Missing("until"), c.le("until", now))))
            tx.record(self.audit.record("reset.code_verified", username, "success", caller,
                                         channel=IDP, **acting_as(holder.id, holder.name,
                                                                  identity.issuer)))
            tx.commit()
            if self.directory_locked(username, caller):  # the page offers "Lås upp kontot"
                return PWRESET_PAGE + _fragment(reset=secret, u=username, locked="1")
            return PWRESET_PAGE + _fragment(reset=secret, u=username)

        try:
            return retrying(attempt, retryable=refused_by(ACCOUNT, PAUSE))
        except ServiceUnavailable:
            return self._back(request, UNAVAILABLE)
