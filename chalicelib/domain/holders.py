"""The holders of a shared account (SPEC 11): the named people who may reset its password.

A Treserva mailbox such as `hemtjanstab` is used by the unit manager and those they
delegate to. Each of them is a holder: a random, stable id, the name as they write it, their
own verified mobile number, when and by whom (a holder id or `support`) they were added,
when they last used the account, and a slot for the authenticator app of SPEC 12.

The rules live here, as pure functions over an account's list of holders: at most
`max_holders` *(config)*; one number is one holder per account (the same number again
renames that holder instead of adding one), while one number may hold several accounts;
a holder unused for `unused_days` *(config)* is removed. The list is stored in the
account's own item (domain/account.py), so that a change of holders is one write
conditioned on the account's version: two holders added at once can never both take the
last place.

A holder proven by the organisation's identity provider (SPEC 15) keeps the provider's
`issuer` and `subject` (never a personal identity number), and their name is the provider's;
one person (issuer and subject) is one holder per account, as one number is: the same
person adding themselves again updates their name and number.

A name is a person's name and nothing else (SPEC 8, 11 v3), because it stands in the SMS
the other holders get: letters of any script (with their combining marks), spaces,
hyphens, apostrophes and periods; a period ends a word (`A. Berg`, never `orebro-it.se`);
no digit, so no phone number; and not a word that speaks for the organisation: `support`
or `admin` inside any word, nor the organisation's name or one of its support channels
(the settings'), compared folded as the password policy folds (`Ѕupport` with a Cyrillic
`Ѕ`, `S-u-p-p-o-r-t`).
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chalicelib.domain.clock import iso, parse_iso
from chalicelib.domain.errors import InvalidName, NotFound, TooManyHolders
from chalicelib.domain.policy import fold

if TYPE_CHECKING:
    from chalicelib.domain.organisation import SupportChannel

SUPPORT = "support"  # `added_by` of a holder support added (SPEC 9: checked by phone)
# The holder a version 1 number becomes (SPEC 9) has no name: it is a number, not a person,
# until someone proves it with a code and names it (pwreg's "Lägg till mig" with the same
# number renames). The pages say "Namn saknas", the CLI "(namn saknas)".
MIGRATED_NAME = ""
# What such a holder was called before: a stored holder of that exact name has no name.
LEGACY_MIGRATED_NAME = "Registrerat nummer"
NAME_MAX_LENGTH = 60
ID_LENGTH = 16
_ID = re.compile(r"[A-Za-z0-9_-]{%d}" % ID_LENGTH)
# What a name is written with besides letters and their marks (Unicode categories L*, Mn,
# Mc): a space, a hyphen, an apostrophe (as typed, or as a phone's keyboard curls it), a
# period. Nothing else: no digit, `@`, `/`, `:`, control, format or private-use character.
_NAME_PUNCTUATION = frozenset(" -'\u2019.")
_LETTER_OR_MARK = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc")
_SEPARATORS = re.compile(r"[\W_]+")  # between the words of a name, or of a reserved name
# A period inside a word is a web address (`orebro-it.se`), never part of a name.
_PERIOD_IN_A_WORD = re.compile(r"\.[^ \-]")
# Words that speak for the organisation, refused inside any word of a name (`Supporten`,
# `Sysadmin`): a holder named so would sign the other holders' SMS as the service.
RESERVED_WORDS = ("support", "admin")


def new_id() -> str:
    """16 URL-safe characters (96 random bits): stable for the holder's life."""
    return secrets.token_urlsafe(12)


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def reserved_names(organisation_name: str, channels: Iterable[SupportChannel] = ()) -> tuple[str, ...]:
    """What no holder may be called besides RESERVED_WORDS: the organisation's name and its
    support channels (domain/organisation.SupportChannel: a number, an address and its
    part before the `@`, a text in each language)."""
    names = [organisation_name]
    for channel in channels:
        names.append(channel.value)
        if channel.kind == "email":
            names.append(channel.value.partition("@")[0])
        if channel.kind == "text":
            names += channel.text.values()
    return tuple(name for name in names if name and name.strip())


def _words(text: str) -> list[str]:
    return [word for word in _SEPARATORS.split(fold(text)) if word]


def _spans(words: list[str]) -> set[str]:
    """Every run of consecutive words, written together: `Sup-port` holds `support`,
    `Örebro Kommun Anna` holds `orebrokommun`, `Mohammad Minaei` no `admin`."""
    return {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


def is_name(name: str, reserved: tuple[str, ...] = ()) -> bool:
    """Whether `name` (already NFC and trimmed) is a person's name, and none of the
    organisation's `reserved` names (see the module's docstring)."""
    if not 1 <= len(name) <= NAME_MAX_LENGTH or _PERIOD_IN_A_WORD.search(name):
        return False
    if not all(char in _NAME_PUNCTUATION or unicodedata.category(char) in _LETTER_OR_MARK
               for char in name) or not any(char.isalpha() for char in name):
        return False
    words = _words(name)
    spans = _spans(words)
    if any(reserved_word in word for reserved_word in RESERVED_WORDS for word in words):
        return False
    return not any("".join(_words(phrase)) in spans
                   for phrase in (*RESERVED_WORDS, *reserved))


def normalise_name(raw: object, reserved: tuple[str, ...] = ()) -> str:
    """The name as the person writes it, trimmed and in NFC, if it is a name (`is_name`,
    with the organisation's `reserved_names`); InvalidName otherwise."""
    if not isinstance(raw, str):
        raise InvalidName(max_length=NAME_MAX_LENGTH)
    name = unicodedata.normalize("NFC", raw).strip()
    if not is_name(name, reserved):
        raise InvalidName(max_length=NAME_MAX_LENGTH)
    return name


def provider_name(raw: str) -> str:
    """The name the identity provider gives a proven holder (SPEC 15): the organisation's own
    record of the person, taken as it is written there (no rule of `is_name` applies: it is
    not typed by whoever knows the account's password), in NFC, trimmed, without control or
    format characters, at most NAME_MAX_LENGTH characters; InvalidName if none is left."""
    name = "".join(char for char in unicodedata.normalize("NFC", raw or "")
                   if unicodedata.category(char)[0] != "C").strip()[:NAME_MAX_LENGTH].strip()
    if not name:
        raise InvalidName(max_length=NAME_MAX_LENGTH)
    return name


@dataclass(frozen=True)
class Holder:
    id: str
    name: str  # "" for a number nobody has named yet (MIGRATED_NAME)
    phone: str  # E.164, verified (by a code, or by support on the phone) before it is saved
    added_at: datetime
    added_by: str  # a holder id, or SUPPORT
    last_used_at: datetime | None = None  # a reset or a pwreg login as this holder
    # SPEC 12: {"nonce", "added_at", "added_by"} once an app is added; the app's secret is
    # derived from the nonce (domain/authenticator.py), never stored
    authenticator: dict[str, str] | None = None
    # SPEC 15: who the identity provider says this holder is; "" for a typed-name holder
    issuer: str = ""
    subject: str = ""

    @property
    def proven(self) -> bool:
        """Proven by the organisation's identity provider (SPEC 15), not a typed name."""
        return bool(self.issuer and self.subject)

    def is_person(self, issuer: str, subject: str) -> bool:
        return bool(issuer and subject) and (self.issuer, self.subject) == (issuer, subject)

    def unused_since(self) -> datetime:
        """Since when the holder has not used the account: their last use, or their
        adding if they never used it."""
        return max(self.added_at, self.last_used_at or self.added_at)

    @property
    def app_nonce(self) -> str:
        """The nonce the holder's app secret derives from; "" when they have no app."""
        return (self.authenticator or {}).get("nonce", "")

    def with_app(self, nonce: str, now: datetime, by: str) -> "Holder":
        """The holder with an app whose secret derives from `nonce` (a new one replaces any
        app they had), added at `now` by `by` (their own id, or SUPPORT)."""
        return replace(self, authenticator={"nonce": nonce, "added_at": iso(now),
                                            "added_by": by})

    def without_app(self) -> "Holder":
        return replace(self, authenticator=None)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "name": self.name, "phone": self.phone,
                "added_at": iso(self.added_at), "added_by": self.added_by}
        if self.last_used_at is not None:
            item["last_used_at"] = iso(self.last_used_at)
        if self.authenticator is not None:
            item["authenticator"] = self.authenticator
        if self.proven:
            item["issuer"], item["subject"] = self.issuer, self.subject
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Holder":
        name = item.get("name") or ""
        return cls(id=item["id"], name="" if name == LEGACY_MIGRATED_NAME else name,
                   phone=item["phone"],
                   added_at=parse_iso(item["added_at"]), added_by=item["added_by"],
                   last_used_at=parse_iso(item["last_used_at"])
                   if item.get("last_used_at") else None,
                   authenticator=item.get("authenticator"),
                   issuer=item.get("issuer") or "", subject=item.get("subject") or "")


@dataclass(frozen=True)
class Added:
    """What adding a number did: the holders after it, the holder as saved, and whether it
    was new (False: the number was a holder's already, whose name was updated)."""

    holders: list[Holder]
    holder: Holder
    new: bool
    previous_name: str | None = None  # the name before, when an existing holder was renamed


def add(holders: list[Holder], name: str, phone: str, now: datetime, by: str,
        max_holders: int, issuer: str = "", subject: str = "") -> Added:
    """`holders` with the person `name` at `phone` (both already normalised), proven by the
    identity provider as `issuer` and `subject` if given: that person already a holder
    (SPEC 15) is updated (name, number); else the same number again renames that holder (and
    it is proven as this person, or no longer proven when the name was typed); a new number
    is appended, or TooManyHolders. A person found by their identity takes the number from
    any other holder that had it: one number is one holder."""
    found = next((i for i, h in enumerate(holders) if h.is_person(issuer, subject)), None)
    if found is None:
        found = next((i for i, h in enumerate(holders) if h.phone == phone), None)
    if found is not None:
        holder = holders[found]
        renamed = replace(holder, name=name, phone=phone, issuer=issuer, subject=subject)
        kept = [renamed if i == found else h for i, h in enumerate(holders)
                if i == found or h.phone != phone]
        return Added(kept, renamed, new=False, previous_name=holder.name)
    if len(holders) >= max_holders:
        raise TooManyHolders(max_holders=max_holders)
    holder = Holder(id=new_id(), name=name, phone=phone, added_at=now, added_by=by,
                    issuer=issuer, subject=subject)
    return Added(holders + [holder], holder, new=True)


def proven_holder(holders: list[Holder], issuer: str, subject: str) -> Holder | None:
    """The holder the identity provider's `issuer` and `subject` are, if any (SPEC 15)."""
    return next((h for h in holders if h.is_person(issuer, subject)), None)


def remove(holders: list[Holder], holder_id: str) -> tuple[list[Holder], Holder]:
    """(`holders` without the holder `holder_id`, that holder), or NotFound."""
    for index, holder in enumerate(holders):
        if holder.id == holder_id:
            return holders[:index] + holders[index + 1:], holder
    raise NotFound()


def first(holders: list[Holder], holder_id: str) -> list[Holder]:
    """`holders` with `holder_id` moved to the front (see Account: the first holder's number
    is the one the version 1 flows use until they name holders)."""
    rest, holder = remove(holders, holder_id)
    return [holder] + rest


def expired(holders: list[Holder], now: datetime, unused_days: int
            ) -> tuple[list[Holder], list[Holder]]:
    """(the holders kept, the holders unused for `unused_days` or more): SPEC 11's storage
    limitation."""
    limit = now - timedelta(days=unused_days)
    kept = [holder for holder in holders if holder.unused_since() > limit]
    gone = [holder for holder in holders if holder.unused_since() <= limit]
    return kept, gone


def migrated(phone: str, now: datetime) -> Holder:
    """The holder a version 1 account's number becomes: without a name (MIGRATED_NAME),
    added by support (the migration), counted as used from the migration on."""
    return Holder(id=new_id(), name=MIGRATED_NAME, phone=phone, added_at=now,
                  added_by=SUPPORT)
