"""Sign-ins with the identity provider, the identities proven for pwreg and the console's
sessions, in the challenges table (domain/sign_in.py), under the SHA-256 of their secret: the
`state`, the handle and the cookie are never stored.

A sign-in is consumed by one conditional write (unused and unexpired → used), so an answer of
the provider is accepted once, whatever runs in parallel; a session lives while every call
finds it alive and moves its idle end on.
"""
from __future__ import annotations

from chalicelib.domain import conditions as c
from chalicelib.domain import sign_in
from chalicelib.domain.sign_in import (AgentSession, IdentityHandoff, SignInRefused,
                                       SignInRequest)
from chalicelib.ports import Delete, Put, Refused, Store, Update


class SignIns:
    def __init__(self, store: Store, table: str):
        self._store = store
        self.table = table

    def begin(self, request: SignInRequest) -> None:
        self._store.write(Put(self.table, request.to_item(), expect=c.Missing("id")))

    def consume(self, state: str, now: float) -> SignInRequest:
        """The sign-in `state` names, marked used; SignInRefused when there is none
        (`bad_state`), it was used (`used_state`) or it is too old (`expired_state`)."""
        record_id = SignInRequest.id_of(state)
        try:
            item = self._store.write(
                Update(self.table, {"id": record_id}, set={"used": True},
                       expect=c.all_of(c.eq("kind", SignInRequest.KIND),
                                       SignInRequest.usable(now))),
                returns_new=True)
        except Refused as refused:
            old = SignInRequest.from_item(refused.item)
            if old is None:
                raise SignInRefused(sign_in.BAD_STATE) from None
            raise SignInRefused(sign_in.USED_STATE if old.used
                                else sign_in.EXPIRED_STATE, request=old) from None
        found = SignInRequest.from_item(item)
        if found is None:  # the store answered nothing: never accept what was not read
            raise SignInRefused(sign_in.BAD_STATE)
        return found

    # -- pwreg's proven identity, waiting for its session (SPEC 15) ------------------------

    def hand_off(self, handoff: IdentityHandoff) -> Put:
        return Put(self.table, handoff.to_item(), expect=c.Missing("id"))

    def handoff(self, handle: str) -> IdentityHandoff | None:
        if not handle:
            return None
        return IdentityHandoff.from_item(self._store.get(self.table,
                                                         {"id": IdentityHandoff.id_of(handle)}))

    def take(self, handoff: IdentityHandoff, now: float) -> Update:
        """The handoff used, if it still is usable by its session (once, in time)."""
        return Update(self.table, {"id": handoff.id}, set={"used": True},
                      expect=handoff.usable(now))

    # -- the console's sessions ------------------------------------------------------------

    def open(self, session: AgentSession) -> Put:
        return Put(self.table, session.to_item(), expect=c.Missing("id"))

    def session(self, token: str, now: float) -> AgentSession | None:
        """The live session of the cookie `token`, or None."""
        if not token:
            return None
        found = AgentSession.from_item(self._store.get(self.table,
                                                       {"id": AgentSession.id_of(token)}))
        return found if found is not None and found.is_live(now) else None

    def touch(self, session: AgentSession, now: float, idle_seconds: int) -> AgentSession | None:
        """Move the idle end on (never past the session's end), if it is still alive; None
        when it ended meanwhile (a logout in another tab)."""
        idle_until = min(now + idle_seconds, session.ends_at)
        try:
            self._store.write(Update(self.table, {"id": session.id},
                                     set={"idle_until": idle_until},
                                     expect=AgentSession.alive(now)))
        except Refused:
            return None
        return AgentSession(**{**session.__dict__, "idle_until": idle_until})

    def end(self, session: AgentSession) -> Delete:
        return Delete(self.table, {"id": session.id})
