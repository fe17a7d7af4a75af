"""Why an account does or does not get a code right now (SPEC 9 `events`, SPEC 11, 12): the
account's state (services/support/state.py), and for each holder and each way a reset's code
reaches them (an SMS to their number, their authenticator app) whether a reset started now
would give them one, and if not, why. The admin CLI lays it out; the support console of the
next issues shows the same answer.

A route's reasons, most basic first: `disabled`, `reset_paused` (both stop every route),
`sms_limit`, `service_sms_limit` (the SMS routes), `no_app` (the holder has not added one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.holders import Holder
from chalicelib.domain.records import APP, SMS
from chalicelib.ports import Item
from chalicelib.services.support.state import AccountState

if TYPE_CHECKING:
    from chalicelib.services.support.state import AccountStates
    from chalicelib.settings import LimitSettings, Settings


@dataclass(frozen=True)
class Route:
    """One holder's way to a reset's code: `channel` SMS (to their number) or APP."""

    holder: Holder
    channel: str
    reasons: tuple[str, ...]  # why a reset started now gives no code this way; (): it does

    @property
    def open(self) -> bool:
        return not self.reasons


def routes_of(state: AccountState) -> tuple[Route, ...]:
    """Every holder's routes, the holders in their order, SMS before the app."""
    account = state.account
    if account is None:
        return ()
    every = tuple(reason for reason, applies in (("disabled", account.disabled),
                                                  ("reset_paused", state.reset_paused_until))
                  if applies)
    sms = every + tuple(reason for reason, applies in (
        ("sms_limit", state.sms_allowed_at),
        ("service_sms_limit", state.service_sms_allowed_at)) if applies)
    routes = []
    for holder in account.holders:
        routes.append(Route(holder, SMS, sms))
        routes.append(Route(holder, APP,
                            every + (() if holder.authenticator is not None else ("no_app",))))
    return tuple(routes)


@dataclass(frozen=True)
class Diagnosis:
    state: AccountState
    limits: LimitSettings  # the rules the limits stand on, to say them
    routes: tuple[Route, ...]  # per holder and channel
    trail: list[Item]  # the username's audit records, newest first

    def open(self, channel: str) -> list[Holder]:
        """The holders a reset started now gives a code by `channel`."""
        return [route.holder for route in self.routes
                if route.channel == channel and route.open]


@dataclass(frozen=True, kw_only=True)
class Diagnoses:
    settings: Settings
    states: AccountStates

    def events(self, raw_username: str, limit: int = 50) -> Diagnosis:
        """The account's state, its routes to a code and its audit trail (`limit` records,
        newest first). An unknown name is a diagnosis too: no account, no routes."""
        state, trail = self.states.events(raw_username, limit=limit)
        return Diagnosis(state=state, limits=self.settings.limits, routes=routes_of(state),
                         trail=trail)
