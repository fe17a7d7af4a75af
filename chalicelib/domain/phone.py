"""Mobile numbers: national input to E.164, allowed countries, mobile-only, national display."""
from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType

from chalicelib.domain.errors import InvalidPhone, PhoneNotAllowed

_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_ALLOWED_INPUT = re.compile(r"^[0-9+()\-. \u00a0]{6,32}$")


def parse(text: str, allowed_countries: tuple[str, ...]) -> str:
    """`070-123 45 67`, `0701234567` or `+46701234567` → `+46701234567`.

    Raises InvalidPhone when the text is not a phone number at all and PhoneNotAllowed when
    it is a number, but not a mobile number of an allowed country.
    """
    text = (text or "").strip()
    if not _ALLOWED_INPUT.match(text):
        raise InvalidPhone()
    if text.startswith("00"):
        text = "+" + text[2:]
    default_region = allowed_countries[0] if allowed_countries else "SE"
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone() from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone()
    region = phonenumbers.region_code_for_number(number)
    if region not in allowed_countries or not phonenumbers.is_valid_number(number):
        raise PhoneNotAllowed()
    if phonenumbers.number_type(number) not in _MOBILE:
        raise PhoneNotAllowed()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national(e164: str) -> str:
    """`+46701234567` → `070-123 45 67`."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def masked(e164: str | None) -> str | None:
    """What a log line or a notification may show of a number: `+46 70*****67`."""
    if not e164:
        return None
    digits = e164.lstrip("+")
    if len(digits) < 6:
        return "*" * len(digits)
    return "+" + digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def masked_national(e164: str | None) -> str | None:
    """What a page or a list of holders shows of a number: `070-*** ** 67`, the national
    form with every digit but the first three and the last two hidden."""
    if not e164:
        return None
    shown = national(e164)
    digits = sum(char.isdigit() for char in shown)
    seen, out = 0, []
    for char in shown:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= 3 or seen > digits - 2 else "*")
        else:
            out.append(char)
    return "".join(out)
