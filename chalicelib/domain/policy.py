"""The password policy of SPEC 3: every rule, each rejection named by its rule.

Pure: the only outside knowledge is whether the password was used before (the caller
works it out from the account's history) and whether it is known from breaches (SPEC 16:
the caller asks ports.BreachedPasswords, services/breach_check.py), both passed in.

The username and the banned words are looked for in the password *folded* (SPEC 3 v2), so
that what looks the same to a person is the same here: `xｄｅｌｔａx` (fullwidth) contains
`delta`, `Tre\u200bserva` (a zero-width space) contains `treserva`, `Örebro` contains
`orebro`, and a Cyrillic `а` is an `a`. The look-alike table and the common words are
data built from maintained sources by infra/password_data.py, read on first use.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PolicySettings:
    """The operator's choices within SPEC 3; chalicelib.settings reads them, with SPEC's
    defaults, from the environment."""
    min_length: int
    max_length: int
    min_classes: int
    forbid_username: bool
    history: int
    max_age_days: int
    reminder_days: tuple[int, ...]
    banned_words: tuple[str, ...]


# The order in which broken rules are reported.
RULES = ("min_length", "max_length", "classes", "contains_username", "reused", "common",
         "banned_word", "invalid_characters", "breached")

SPECIAL_CHARACTERS = string.punctuation  # !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
_UPPER = frozenset(string.ascii_uppercase)
_LOWER = frozenset(string.ascii_lowercase)
_DIGIT = frozenset(string.digits)
_SPECIAL = frozenset(SPECIAL_CHARACTERS)
_LEETSPEAK = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t",
                            "@": "a", "$": "s"})
# Characters that change how text is shown but are no text: bidi overrides, embeddings and
# isolates (a U+202E shows `abc` as `cba`) and the marks LRM, RLM and ALM.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069")
# Invisible characters that Unicode does not class as format (Cf) characters: the Hangul
# fillers, the combining grapheme joiner, Mongolian and other variation selectors.
_IGNORABLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f"
                       "\u3164\uffa0") | frozenset(map(chr, range(0xFE00, 0xFE10))) \
    | frozenset(map(chr, range(0xE0100, 0xE01F0)))
_DROPPED = frozenset(("Mn", "Me", "Cf"))  # diacritics (after NFD), format characters
_COMMON_WORDS = Path(__file__).with_name("common_words.txt.gz")
# What may stand before and after a common word: digits, a year, spaces, and every
# punctuation mark and symbol of Unicode (`§`, `¡`, `«`, `¿`, `€`), not ASCII's alone.
_AROUND_A_WORD = ("N", "P", "S", "Z")  # the first letter of a Unicode category
_WORD = re.compile(r"[a-z]+")


class Violation(str):
    """A broken rule: its name (what the API's `rule` says, one of RULES) and the key of
    the text that tells the user why (chalicelib/messages.py). Equal to its name."""

    text_key: str

    def __new__(cls, rule: str, text_key: str | None = None) -> "Violation":
        made = super().__new__(cls, rule)
        made.text_key = text_key or f"rule.{rule}"
        return made


def text_key(rule: str) -> str:
    """The message key of a broken rule, whether a Violation or a plain rule name."""
    return getattr(rule, "text_key", None) or f"rule.{rule}"


def normalise(password: str) -> str:
    """NFC, so that the same password typed on two keyboards is the same password."""
    return unicodedata.normalize("NFC", password)


@lru_cache(maxsize=1)
def _look_alikes() -> dict[int, int]:
    from chalicelib.domain.look_alikes import SOURCES, TARGETS

    return str.maketrans(SOURCES, TARGETS)


def fold(text: str) -> str:
    """What a person sees in `text`, for comparing: NFKC (fullwidth `ｈ` → `h`), case-folded,
    without format and invisible characters (soft hyphen, U+200B…), without diacritics
    (`ä` → `a`), and with Unicode's look-alikes of Latin letters as those letters (Cyrillic
    `а` → `a`)."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    kept = "".join(char for char in text
                   if unicodedata.category(char) not in _DROPPED and char not in _IGNORABLE)
    return kept.translate(_look_alikes())


def has_invalid_characters(password: str) -> bool:
    """Control characters (NUL, ESC, DEL, newline…), bidi controls, lone surrogates, and
    whatever SASLprep refuses."""
    return any(unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS
               for char in password) or refused_by_saslprep(password)


def refused_by_saslprep(password: str) -> bool:
    """Whether SASLprep (RFC 4013) refuses the password: private-use characters, Unicode's
    non-characters, the line and paragraph separators, tagging and other prohibited
    characters, and right-to-left letters (Hebrew, Arabic) mixed with left-to-right ones.

    ldap3 prepares every password it sends (a bind, a Password Modify) with SASLprep and
    raises before sending one it refuses: in `ldap` mode such a password could be neither
    set nor used. The policy asks ldap3's own `sasl_prep`, so that the rule is exactly
    that preparation, and in both modes: one policy, and an account's passwords stay
    valid if its password moves to a directory. A password SASLprep merely *maps* (a
    no-break space to a space, fullwidth letters to ASCII) is no violation: a bind and a
    Password Modify send the same mapped form. (Active Directory's `unicodePwd` is set
    unmapped: see adapters/ldap_directory.py.)
    """
    if password and password.isascii() and password.isprintable():
        return False  # SASLprep takes printable ASCII as it is: no need to load ldap3 (0.1 s)
    from ldap3.core.exceptions import LDAPSASLPrepError
    from ldap3.protocol.sasl.sasl import sasl_prep

    try:
        sasl_prep(password)
    except LDAPSASLPrepError:
        return True
    return False


def classes(password: str) -> set[str]:
    """The character classes present; Å, é, space and emoji belong to none."""
    chars = set(password)
    found = set()
    if chars & _UPPER:
        found.add("upper")
    if chars & _LOWER:
        found.add("lower")
    if chars & _DIGIT:
        found.add("digit")
    if chars & _SPECIAL:
        found.add("special")
    return found


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's maintained list, lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # large: loaded on first use only

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Common Swedish and English words and names (wordfreq), folded: about 50,000."""
    import gzip  # on first use, with the list: not in every cold start

    text = gzip.decompress(_COMMON_WORDS.read_bytes()).decode("ascii")
    return frozenset(text.split())


def _strip_around(text: str) -> str:
    """`text` without the digits, spaces, punctuation and symbols before and after it."""
    start, end = 0, len(text)
    while start < end and unicodedata.category(text[start])[0] in _AROUND_A_WORD:
        start += 1
    while end > start and unicodedata.category(text[end - 1])[0] in _AROUND_A_WORD:
        end -= 1
    return text[start:end]


def is_common_word_with_digits(password: str) -> bool:
    """`Sommar2024`, `Vinter2025!`, `!!Fotboll123`: a common word or name with only digits,
    a year, punctuation or spaces before or after it. A word written in leetspeak is the
    word (`S0mmar2024`). `Sommar-Regn-Tuva7` is three words, not one."""
    word = _strip_around(fold(password)).translate(_LEETSPEAK)
    return bool(_WORD.fullmatch(word)) and word in common_words()


def _undo_look_alikes(text: str) -> str:
    """Folded, and leetspeak read as letters: `Tr3s3rva` → `treserva`."""
    return fold(text).translate(_LEETSPEAK)


def violations(password: str, username: str, policy: PolicySettings, *,
               reused: bool = False, breached: bool = False) -> list[str]:
    """Every rule the password breaks, in the order of RULES; empty when it is accepted."""
    password = normalise(password)
    broken = []
    if len(password) < policy.min_length:
        broken.append("min_length")
    if len(password) > policy.max_length:
        broken.append("max_length")
    if len(classes(password)) < policy.min_classes:
        broken.append("classes")
    folded_username = fold(username) if policy.forbid_username and username else ""
    if folded_username and folded_username in fold(password):
        broken.append("contains_username")
    if reused:
        broken.append("reused")
    if password.lower() in common_passwords() or fold(password) in common_passwords():
        broken.append("common")
    elif is_common_word_with_digits(password):
        broken.append(Violation("common", "rule.common_word"))
    plain = _undo_look_alikes(password)
    if any(_undo_look_alikes(word) in plain for word in policy.banned_words if word):
        broken.append("banned_word")
    if has_invalid_characters(password):
        broken.append("invalid_characters")
    if breached:
        broken.append("breached")
    return broken


def describe(policy: PolicySettings) -> dict[str, Any]:
    """The policy as GET /api/config tells it to the pages."""
    return {
        "min_length": policy.min_length,
        "max_length": policy.max_length,
        "min_classes": policy.min_classes,
        "special_characters": SPECIAL_CHARACTERS,
        "forbid_username": policy.forbid_username,
        "history": policy.history,
        "max_age_days": policy.max_age_days,
        "reminder_days": list(policy.reminder_days),  # pwreg warns within the first of them
    }
