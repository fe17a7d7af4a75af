"""What the support console's agent does for a caller (SPEC 14), as data: who acts, the code
a caller reads out over the phone, the verification it gives, and the console's refusals.

A console agent never acts alone: a change is made by "agent X for holder Y", Y a holder the
agent has verified by a code that only Y could read out (an SMS to Y's number, or Y's app)
in the last 15 minutes. The command-line tool acts as `support` (SPEC 9), its operator
having checked the person by phone. `Acting` says which of the two a change is, for the
audit trail and for the SMS that tells the holders.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from chalicelib.domain import conditions as c
from chalicelib.domain.codes import digest
from chalicelib.domain.errors import PortalError
from chalicelib.domain.events import SUPPORT, Caller
from chalicelib.domain.records import SMS, Expiring

CALLER, NEW_HOLDER = "caller", "new_holder"  # what a code read out proves (`purpose`)


class CallerNotVerified(PortalError):
    """A change before the caller was verified (or after the verification ran out)."""

    code, status = "caller_not_verified", 403


class HolderNotFound(PortalError):
    code, status = "holder_not_found", 404


class NoAuthenticator(PortalError):
    """The caller's app was chosen, but that holder has none."""

    code, status = "no_authenticator", 409


@dataclass(frozen=True)
class Agent:
    """A signed-in agent of the console, as the changes and the SMS name them."""

    issuer: str
    subject: str
    name: str

    @property
    def key(self) -> str:
        """What the agent's records and counters are keyed by (issuer and subject)."""
        return digest(f"{self.issuer}#{self.subject}")[:32]


@dataclass(frozen=True)
class Acting:
    """Who makes a support change: the command-line tool (`CLI`), or a console agent for
    the holder they verified. `fields` go into every audit record of the change; `by` is
    who the holders' SMS name (messages.said_by)."""

    caller: Caller = SUPPORT
    agent: Agent | None = None
    holder_id: str = ""  # the verified holder the agent acts for
    holder_name: str = ""

    @property
    def fields(self) -> dict[str, Any]:
        if self.agent is None:
            return {}
        return {"actor": "support", "agent_subject": self.agent.subject,
                "agent_name": self.agent.name, "for_holder_id": self.holder_id or None,
                "for_holder_name": self.holder_name or None}

    @property
    def by(self) -> str | ByAgent:
        if self.agent is None:
            return "support"
        return ByAgent(self.agent.name, self.holder_name)


CLI = Acting()


@dataclass(frozen=True)
class ByAgent:
    """Who did a change, in an SMS: the agent (by name) for the holder (by name)."""

    agent_name: str
    holder_name: str


@dataclass(frozen=True)
class CodeReadOut(Expiring):
    """A code the agent waits for the caller to read out (SPEC 14): proving the caller is
    the holder `holder_id` (CALLER, by an SMS to their number or their app), or that the
    number `phone` a new holder gives is theirs (NEW_HOLDER, by an SMS to it). One per
    purpose, account and agent: a new start replaces it. Its code is kept as a MAC."""

    PREFIX: ClassVar[str] = "readout#"
    KIND: ClassVar[str] = "code_read_out"

    id: str
    username: str
    purpose: str
    agent: str  # Agent.key
    code_mac: str
    expires_at: float
    channel: str = SMS
    holder_id: str = ""  # CALLER: who the caller says they are
    holder_name: str = ""
    app_nonce: str = ""  # CALLER by app: the nonce of that holder's app at the start
    phone: str = ""  # NEW_HOLDER: the number to add, E.164
    name: str = ""  # NEW_HOLDER: their name
    attempts: int = 0
    used: bool = False

    @classmethod
    def key(cls, purpose: str, username: str, agent: Agent) -> str:
        return cls.id_of(f"{purpose}#{username}#{agent.key}")

    def usable(self, now: float) -> c.Condition:
        return c.all_of(c.eq("used", False), c.gt("expires_at", now),
                        c.eq("code_mac", self.code_mac))


@dataclass(frozen=True)
class CallerVerified(Expiring):
    """The agent may act on the account for the holder until `expires_at` (SPEC 14)."""

    PREFIX: ClassVar[str] = "verified#"
    KIND: ClassVar[str] = "caller_verified"

    id: str
    username: str
    agent: str  # Agent.key
    holder_id: str
    holder_name: str
    expires_at: float

    @classmethod
    def key(cls, username: str, agent: Agent) -> str:
        return cls.id_of(f"{username}#{agent.key}")

    def is_live(self, now: float) -> bool:
        return self.expires_at > now
