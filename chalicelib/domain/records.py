"""The short-lived records of the flows (SPEC 4, 6), each with what "alive" means for it.

Each is kept in the challenges table under `<prefix><SHA-256 of its secret>` (the secret
itself is never stored) with a DynamoDB TTL for housekeeping; expiry is always judged here:

- ResetChallenge (`reset#`): a pwreset username's challenge and its current code;
- ResetToken (`token#`): what a verified code gives, to set the password once;
- Session (`session#`): a pwreg login;
- PhoneChange (`phone#`, keyed by the session): a new number waiting for its code;
- AppEnrolment (`app#`, keyed by the session): an authenticator app waiting for its first
  code (SPEC 12);
- SmsDelivery (`sms#`, keyed by the queued message's id): who is sending that SMS.

A record's condition methods (`triable`, `usable`, …) state a rule as data: the store makes
DynamoDB enforce it atomically, and `is_live` asks the same condition in Python.
"""
from __future__ import annotations

from dataclasses import Field, asdict, dataclass, fields
from typing import Any, ClassVar, Self

from chalicelib.domain import conditions as c
from chalicelib.domain.codes import digest

SMS, APP = "sms", "app"  # where a reset's code comes from (SPEC 8 v2, 12): `channel`
IDP = "idp"  # v3 (SPEC 15): a reset proven by the identity provider's sign-in, no code
CHANNELS = (SMS, APP, IDP)  # what the audit, the metrics and the dashboard count resets by
CODE_CHANNELS = (SMS, APP)  # what pwreset's start takes: the ways a code comes
CHALLENGE_SECONDS = 3600  # how long "Skicka ny kod" keeps working on one challenge
HOUSEKEEPING_SECONDS = 60  # TTL after a record's end: DynamoDB deletes it some time later


class Record:
    """A record of the challenges table; each kind is a frozen dataclass (so that `asdict`
    and `fields` take it) that says when DynamoDB may delete its item (`ttl`)."""

    PREFIX: ClassVar[str]
    KIND: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    id: str

    @classmethod
    def id_of(cls, secret: str) -> str:
        return cls.PREFIX + digest(secret)

    @property
    def ttl(self) -> int:
        raise NotImplementedError

    def to_item(self) -> dict[str, Any]:
        return {**asdict(self), "kind": self.KIND, "ttl": self.ttl}

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Self | None:
        """The record, or None if there is none (or it is of another kind)."""
        if not item or item.get("kind") != cls.KIND:
            return None
        return cls(**{f.name: item[f.name] for f in fields(cls) if f.name in item})


class Expiring(Record):
    """A record that ends at `expires_at`: its item is deleted some time after."""

    expires_at: float

    @property
    def ttl(self) -> int:
        return int(self.expires_at + HOUSEKEEPING_SECONDS)


def _unused_before(now: float) -> c.Condition:
    return c.all_of(c.eq("used", False), c.gt("expires_at", now))


@dataclass(frozen=True)
class ResetChallenge(Expiring):
    PREFIX: ClassVar[str] = "reset#"
    KIND: ClassVar[str] = "reset"

    id: str
    username: str
    lang: str
    created_at: float
    sent_at: float
    expires_at: float  # of the current code
    code_mac: str
    attempts: int = 0
    used: bool = False
    # Created or tried while the username's reset was paused: it never yields a token, not
    # even after the pause (SPEC 5 v2), so that a pause is no window to collect codes in.
    void: bool = False
    # The holder whose number the start named (SPEC 11 v2); "" when the number was no
    # holder's (or the username no account's): such a challenge never yields a token, and
    # its wrong codes never count against the account.
    holder_id: str = ""
    holder_name: str = ""
    # SPEC 12: "app" when the code is to come from the holder's authenticator app (no SMS);
    # then `app_nonce` is the nonce of the app the holder had at the start (or the resend),
    # "" when they had none: such a challenge never yields a token either, but its wrong
    # codes count against the account as any holder's do (services/reset.py).
    channel: str = SMS
    app_nonce: str = ""
    # SPEC 5 v3: what stands for the start's number in the keys of its SMS logs (an HMAC,
    # repositories/limits.py `Logs.number_key`), so that a resend counts on the same logs
    # whoever the number is, and the number itself is never stored here.
    number_key: str = ""

    @property
    def ttl(self) -> int:
        return int(self.created_at + CHALLENGE_SECONDS + HOUSEKEEPING_SECONDS)

    def open_for_resend(self, now: float, max_attempts: int) -> bool:
        return (not self.used and now <= self.created_at + CHALLENGE_SECONDS
                and self.attempts < max_attempts)

    def unchanged(self) -> c.Condition:
        """Nobody resent or used it since this was read."""
        return c.all_of(c.eq("sent_at", self.sent_at), c.eq("used", False))

    def usable(self, now: float) -> c.Condition:
        """Its code, as tried, is still the live one: not used, not expired, not replaced,
        and the challenge was never touched during a pause."""
        return c.all_of(_unused_before(now), c.eq("code_mac", self.code_mac),
                        c.any_of(c.Missing("void"), c.eq("void", False)))


def triable(now: float, max_attempts: int) -> c.Condition:
    """A code (of a challenge or a phone change) may be tried: it exists, is unused and
    unexpired, and has attempts left."""
    return c.all_of(c.Present("id"), _unused_before(now), c.lt("attempts", max_attempts))


def why_not_triable(item: dict[str, Any] | None, now: float, max_attempts: int) -> str:
    """The audit outcome of a code that could not be tried (see `triable`)."""
    if not item:
        return "unknown"
    if item.get("used"):
        return "used"
    if item.get("attempts", 0) >= max_attempts:
        return "no_attempts_left"
    return "expired"


@dataclass(frozen=True)
class ResetToken(Expiring):
    PREFIX: ClassVar[str] = "token#"
    KIND: ClassVar[str] = "token"

    id: str
    username: str
    expires_at: float
    used: bool = False
    holder_id: str = ""  # who verified the code (SPEC 11): the change is theirs
    holder_name: str = ""
    # the nonce of the app whose code was verified (SPEC 12; "" for an SMS code): a token
    # whose app was removed or replaced since is refused at `complete`
    app_nonce: str = ""
    # the identity provider's issuer when the holder proved themselves there (SPEC 15)
    proven_by: str = ""

    def is_live(self, now: float) -> bool:
        return c.holds(self.usable(now), self.to_item())

    @staticmethod
    def usable(now: float) -> c.Condition:
        return _unused_before(now)


@dataclass(frozen=True)
class Session(Expiring):
    PREFIX: ClassVar[str] = "session#"
    KIND: ClassVar[str] = "session"

    id: str
    username: str
    epoch: int  # the account's session epoch at login: a password change ends the session
    expires_at: float
    # The holder added (verified) in this session, if any: what the session does from then
    # on is theirs (SPEC 9, 11). A login alone names no holder.
    holder_id: str = ""
    holder_name: str = ""
    # SPEC 15: who the identity provider proved at this session's request (pwreg's "Logga
    # in med din jobbinloggning"): the next holder it adds is this person, named so
    proven_issuer: str = ""
    proven_subject: str = ""
    proven_name: str = ""
    holder_proven_by: str = ""  # the issuer that proved the holder it acts as, if any

    def is_live(self, now: float) -> bool:
        return c.holds(c.gt("expires_at", now), self.to_item())


@dataclass(frozen=True)
class PhoneChange(Expiring):
    PREFIX: ClassVar[str] = "phone#"
    KIND: ClassVar[str] = "phone"

    id: str  # the session's: one holder (name and number) waiting at a time per session
    username: str
    phone: str
    epoch: int
    session_expires_at: float
    code_mac: str
    sent_at: float
    expires_at: float
    attempts: int = 0
    used: bool = False
    name: str = ""  # the holder's name as they wrote it (SPEC 11)
    by_id: str = ""  # the holder the session acted as when it asked, if any
    by_name: str = ""
    issuer: str = ""  # SPEC 15: the person the identity provider proved, if it did
    subject: str = ""
    by_proven: str = ""  # the issuer that proved the holder the session acted as, if any

    def session_live(self, now: float) -> bool:
        return self.session_expires_at > now

    def usable(self, now: float) -> c.Condition:
        return c.all_of(_unused_before(now), c.eq("code_mac", self.code_mac))


@dataclass(frozen=True)
class AppEnrolment(Expiring):
    """An authenticator app shown to the session's own holder and waiting for its first
    code (SPEC 12): nothing is saved on the holder before that code is right. Keyed by the
    session, so that one app waits at a time per session (asking again replaces it). Holds
    the nonce the shown secret derives from, never the secret; deleted when the code is
    right, so that from then on the nonce is kept in the holder's slot of the account (and
    copied only into a reset's challenge and token while they live, ResetChallenge)."""

    PREFIX: ClassVar[str] = "app#"
    KIND: ClassVar[str] = "app_enrolment"

    id: str
    username: str
    holder_id: str
    holder_name: str
    nonce: str
    epoch: int  # the account's session epoch at login: a password change ends it
    session_expires_at: float
    expires_at: float  # min(shown + authenticator.ENROLMENT_SECONDS, the session's end)
    attempts: int = 0
    used: bool = False

    def session_live(self, now: float) -> bool:
        return self.session_expires_at > now

    def usable(self, now: float) -> c.Condition:
        """Still the app that was shown (not replaced by a newer one), unused, unexpired."""
        return c.all_of(_unused_before(now), c.eq("nonce", self.nonce))


SENDING, SENT, DROPPED = "sending", "sent", "dropped"


@dataclass(frozen=True)
class SmsDelivery(Record):
    """The claim on one queued SMS: only the holder of a live claim publishes it."""

    PREFIX: ClassVar[str] = "sms#"
    KIND: ClassVar[str] = "sms"
    KEEP_SECONDS: ClassVar[int] = 2 * 86400  # far longer than a message stays queued

    id: str
    state: str
    claim: str = ""
    lease_until: float = 0.0
    claimed_at: float = 0.0

    @classmethod
    def id_of(cls, message_id: str) -> str:
        return cls.PREFIX + message_id

    @property
    def ttl(self) -> int:
        return int(self.claimed_at + self.KEEP_SECONDS)

    @staticmethod
    def claimable(now: float) -> c.Condition:
        """Never claimed, or claimed by a worker whose lease has run out."""
        return c.any_of(c.Missing("id"), c.all_of(c.eq("state", SENDING),
                                                  c.lt("lease_until", now)))

    def held(self) -> c.Condition:
        return c.all_of(c.eq("claim", self.claim), c.eq("state", SENDING))


PENDING_DAYS = 30  # how long a pending change waits for its repair before housekeeping
PENDING_INDEX = "password"  # the one partition of the challenges table's by_pending index


@dataclass(frozen=True)
class PendingPassword(Expiring):
    """`ldap` mode (SPEC 13): a password change on its way to the directory, written before
    the directory is asked and deleted with the change's record. Found later (the portal's
    write failed, or the function died in between), it is finished from what the directory
    says (services/directory_changes.py). Keyed by the username (`pending#<username>`): one
    change at a time per account. Holds the new password's history fingerprint, never the
    password."""

    PREFIX: ClassVar[str] = "pending#"
    KIND: ClassVar[str] = "pending_password"

    id: str
    username: str
    token_id: str
    fingerprint: str
    started_at: float
    lang: str
    expires_at: float
    holder_id: str = ""  # who verified the reset's code (SPEC 11)
    holder_name: str = ""
    holder_proven_by: str = ""  # the identity provider that proved them (SPEC 15)

    @classmethod
    def id_of(cls, username: str) -> str:
        return cls.PREFIX + username

    @property
    def ttl(self) -> int:
        return int(self.expires_at + PENDING_DAYS * 86400)

    def to_item(self) -> dict[str, Any]:
        # the sparse by_pending index: the daily job finds the markers left behind by it
        return {**super().to_item(), "pending": PENDING_INDEX}

    def same(self) -> c.Condition:
        """The very marker read (not a later change's)."""
        return c.eq("started_at", self.started_at)
