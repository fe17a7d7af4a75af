"""A functional account (a Treserva mailbox such as `hemtjanstab`) and its username rules."""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.clock import iso, parse_iso
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.holders import Holder

HOLDER_USE = "holders"  # the one partition of the by_holder_use index
# ASCII only (SPEC 8 v2): `hemtjаnstab` with a Cyrillic `а`, its fullwidth twin or a name
# ending in an invisible U+3164 would be a second account that looks like the first; a name
# starting with `-` reads as an option on the admin CLI's command line.
_USERNAME_ALLOWED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def normalise_username(raw: object) -> str:
    """Trimmed and lower-cased; 1–64 ASCII letters, digits, `.`, `_`, `-`, the first a letter
    or a digit; or InvalidRequest."""
    if not isinstance(raw, str):
        raise InvalidRequest(field="username")
    username = raw.strip()
    # Checked before lower-casing: "K".lower() (KELVIN SIGN) is an ASCII "k".
    if not _USERNAME_ALLOWED.fullmatch(username):
        raise InvalidRequest(field="username")
    return username.lower()


def is_username(name: str) -> bool:
    """Whether a stored name is a username as version 2 has them; an account that version 1
    created under any other name (`hemtjаnstab` with a Cyrillic `а`) is reached by no route."""
    return bool(_USERNAME_ALLOWED.fullmatch(name)) and name == name.lower()


@dataclass
class Account:
    username: str
    password_hash: str
    history_salt: str  # hex; the salt all of this account's history fingerprints share
    history: list[str]  # fingerprints, newest (the current password) first
    password_changed_at: datetime
    password_expires_at: datetime
    created_at: datetime
    disabled: bool = False
    session_epoch: int = 0
    version: int = 1
    reminders_sent: list[int] = field(default_factory=list)
    lang: str = "sv"  # the language the account's user last chose: that of its notices
    holders: list[Holder] = field(default_factory=list)  # SPEC 11, first holder first
    # A version 1 account's one number, read from its item's `phone` until `migrate holders`
    # (or support's first change of its holders) makes it a holder without a name;
    # no flow sends a code to it. None once the account has holders.
    version_1_number: str | None = None

    def __post_init__(self) -> None:
        self.holders = list(self.holders)

    def with_holders(self, holders: list[Holder]) -> "Account":
        """This account with `holders` and the next version (a version 1 number is one of
        them now, or gone)."""
        return replace(self, holders=list(holders), version_1_number=None,
                       version=self.version + 1)

    def holder(self, holder_id: str) -> Holder | None:
        return next((h for h in self.holders if h.id == holder_id), None)

    def used_by(self, holder_id: str, moment: datetime) -> "Account":
        """This account with the holder `holder_id` last used at `moment` (SPEC 11: their
        reset), the same version: part of the change that uses it."""
        return replace(self, holders=[replace(h, last_used_at=moment) if h.id == holder_id
                                      else h for h in self.holders])

    def with_password(self, password_hash: str, fingerprint: str, history_size: int,
                      now: datetime, max_age_days: int) -> "Account":
        return replace(self, password_hash=password_hash,
                       history=([fingerprint] + self.history)[:max(1, history_size)],
                       password_changed_at=now,
                       password_expires_at=now + timedelta(days=max_age_days),
                       session_epoch=self.session_epoch + 1, reminders_sent=[],
                       version=self.version + 1)

    def to_item(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password_hash": self.password_hash,
            "history_salt": self.history_salt,
            "history": self.history,
            "password_changed_at": iso(self.password_changed_at),
            "password_expires_at": iso(self.password_expires_at),
            "expires_on": self.password_expires_at.strftime("%Y-%m-%d"),
            "created_at": iso(self.created_at),
            # The number version 1 read: the first holder's, so that a rollback still finds
            # it (nothing here reads it back but a version 1 item's migration).
            "phone": self.holders[0].phone if self.holders else self.version_1_number,
            "disabled": self.disabled,
            "session_epoch": self.session_epoch,
            "version": self.version,
            "reminders_sent": self.reminders_sent,
            "lang": self.lang,
            "holders": [holder.to_item() for holder in self.holders],
            # the sparse by_holder_use index: the daily job finds expired holders by it
            "holder_use": HOLDER_USE if self.holders else None,
            "least_used_on": min(h.unused_since() for h in self.holders).strftime("%Y-%m-%d")
            if self.holders else None,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Account":
        return cls(
            username=item["username"],
            password_hash=item["password_hash"],
            history_salt=item["history_salt"],
            history=list(item.get("history", [])),
            password_changed_at=parse_iso(item["password_changed_at"]),
            password_expires_at=parse_iso(item["password_expires_at"]),
            created_at=parse_iso(item["created_at"]),
            disabled=bool(item.get("disabled", False)),
            session_epoch=int(item.get("session_epoch", 0)),
            version=int(item.get("version", 1)),
            reminders_sent=[int(d) for d in item.get("reminders_sent", [])],
            lang=item.get("lang", "sv"),
            holders=[Holder.from_item(h) for h in item.get("holders", [])],
            version_1_number=None if item.get("holders") else item.get("phone"),
        )


@dataclass(frozen=True)
class FirstPassword:
    """What a new account starts with of its password (SPEC 9, 13): the portal's verifier
    and history of a password it was given (`given`), or, linked to a directory's entry,
    none of its own (the directory's date of its last set as `changed_at`). `details` go
    into the `account.created` record."""

    password_hash: str
    history_salt: str  # hex
    history: list[str]
    changed_at: datetime
    given: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def in_history(fingerprint: str, history: list[str]) -> bool:
    found = False
    for previous in history:  # no early exit: the time does not tell which entry matched
        found |= hmac.compare_digest(fingerprint, previous)
    return found
