"""Who stands behind the portal (SPEC 2 v2): the organisation's name and logo, the support
channels in each language, and the date of the last accessibility check.

The support channels are the operator's list (`PWPORTAL_SUPPORT_CHANNELS`, JSON), each one
of three kinds:

    {"phone": "2000", "sv": "internt kortnummer, knappval 3 och 1", "en": "internal ..."}
    {"email": "vardochstod@orebro.se"}
    {"sv": "ett meddelande i Treserva", "en": "a message in Treserva"}

a number (with an optional note in each language), an e-mail address (likewise), or a text
in each language. `PWPORTAL_SUPPORT_EXTERNAL_PHONE` adds one number that works from a
private phone to whatever list, after its e-mail addresses, with the note "från en privat
telefon eller iPad". A note or a text must be given in both languages, so that an English page
never shows the Swedish "knappval". The API's messages, the SMS and the pages (the site is
built from the same settings, infra/site_build.py) all say them the same way.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

LANGUAGES = ("sv", "en")
KINDS = ("phone", "email", "text")
# "or" before the last channel, in each language (the pages' texts say it as `site.or`).
OR = {"sv": "eller", "en": "or"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]*[0-9]$|^[0-9]$")


class ChannelError(ValueError):
    """The operator's list of channels cannot be read; the message says why."""


@dataclass(frozen=True)
class SupportChannel:
    kind: str  # "phone", "email" or "text"
    value: str = ""  # the number or the address; "" for a text
    text: dict[str, str] = field(default_factory=dict, hash=False)  # the note, or the text, per language

    def describe(self) -> dict[str, Any]:
        """As GET /api/config publishes it."""
        described: dict[str, Any] = {"kind": self.kind}
        if self.value:
            described["value"] = self.value
        if self.text:
            described["text"] = dict(self.text)
        return described

    def plain(self, lang: str) -> str:
        """The channel as words, e.g. `2000 (internt kortnummer, knappval 3 och 1)`."""
        note = self.text.get(lang) or self.text.get("sv", "")
        if self.kind == "text":
            return note
        return f"{self.value} ({note})" if note else self.value

    @property
    def href(self) -> str:
        """The link a page gives it: tel: for a number, mailto: for an address."""
        if self.kind == "phone":
            return "tel:" + re.sub(r"[^0-9+]", "", self.value)
        return "mailto:" + self.value if self.kind == "email" else ""


def parse_channels(raw: str) -> tuple[SupportChannel, ...]:
    """The operator's JSON list; a ChannelError names the entry that is wrong."""
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ChannelError(f"not JSON ({error.msg})") from None
    if not isinstance(entries, list) or not entries:
        raise ChannelError("must be a JSON list of one or more channels")
    return tuple(_channel(entry, number) for number, entry in enumerate(entries, 1))


def _channel(entry: object, number: int) -> SupportChannel:
    where = f"channel {number}"
    if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
        raise ChannelError(f"{where} must be an object of texts")
    unknown = set(entry) - {"phone", "email", *LANGUAGES}
    if unknown:
        raise ChannelError(f"{where} has unknown keys {sorted(unknown)}")
    values = {key: value.strip() for key, value in entry.items()}
    text = {lang: values[lang] for lang in LANGUAGES if values.get(lang)}
    if text and set(text) != set(LANGUAGES):
        raise ChannelError(f"{where} must say its text in both {' and '.join(LANGUAGES)}")
    if "phone" in values and "email" in values:
        raise ChannelError(f"{where} is a phone number or an e-mail address, not both")
    if "phone" in values:
        if not _PHONE.match(values["phone"]):
            raise ChannelError(f"{where}: {values['phone']!r} is not a phone number")
        return SupportChannel("phone", values["phone"], text)
    if "email" in values:
        if not _EMAIL.match(values["email"]):
            raise ChannelError(f"{where}: {values['email']!r} is not an e-mail address")
        return SupportChannel("email", values["email"], text)
    if not text:
        raise ChannelError(f"{where} needs a phone, an email or a text in sv and en")
    return SupportChannel("text", "", text)


# The note of the external number: where the guide sends people (a private phone or an iPad).
EXTERNAL_NOTE = {"sv": "från en privat telefon eller iPad", "en": "from a private phone or an iPad"}


def parse_external_phone(raw: str) -> str:
    """The external support number, or "" for none."""
    if raw and not _PHONE.match(raw):
        raise ChannelError(f"{raw!r} is not a phone number")
    return raw


def with_external_phone(channels: tuple[SupportChannel, ...], number: str) -> tuple[SupportChannel, ...]:
    """The channels with the external number after the e-mail addresses (first if there are
    none), unless it is listed already."""
    if not number or any(c.kind == "phone" and c.value == number for c in channels):
        return channels
    at = max((i + 1 for i, c in enumerate(channels) if c.kind == "email"), default=0)
    external = SupportChannel("phone", number, dict(EXTERNAL_NOTE))
    return (*channels[:at], external, *channels[at:])


def support_line(channels: tuple[SupportChannel, ...], lang: str) -> str:
    """Every channel in `lang`, as a list: `a, b eller c`."""
    said = [channel.plain(lang) for channel in channels]
    if len(said) < 2:
        return "".join(said)
    return f"{', '.join(said[:-1])} {OR.get(lang, OR['sv'])} {said[-1]}"


def parse_day(raw: str) -> date:
    """An ISO date, e.g. the day of the last accessibility check."""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ChannelError(f"{raw!r} is not a date (YYYY-MM-DD)") from None


def parse_logo(raw: str) -> str:
    """The logo: an image file (SVG, PNG or WebP) the site build copies into the site, as a
    path relative to the repository; "" for none."""
    if raw and not re.search(r"\.(svg|png|webp)$", raw, re.IGNORECASE):
        raise ChannelError(f"{raw!r}: the logo must be an .svg, .png or .webp file")
    return raw


def logo_path(logo: str) -> str:
    """Where the built site serves the logo, or "" when there is none."""
    return "/assets/logo" + logo[logo.rindex("."):].lower() if logo else ""
