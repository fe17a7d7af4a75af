"""The password policy of SPEC 3: every rule, each rejection named by its rule.

Pure: the only outside knowledge is whether the password was used before, which the caller
works out (it needs the account's history) and passes in.
"""
from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


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
         "banned_word")

SPECIAL_CHARACTERS = string.punctuation  # !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
_UPPER = frozenset(string.ascii_uppercase)
_LOWER = frozenset(string.ascii_lowercase)
_DIGIT = frozenset(string.digits)
_SPECIAL = frozenset(SPECIAL_CHARACTERS)
_LOOK_ALIKES = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t",
                              "@": "a", "$": "s"})


def normalise(password: str) -> str:
    """NFC, so that the same password typed on two keyboards is the same password."""
    return unicodedata.normalize("NFC", password)


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


def _undo_look_alikes(text: str) -> str:
    return text.lower().translate(_LOOK_ALIKES)


def violations(password: str, username: str, policy: PolicySettings, *,
               reused: bool = False) -> list[str]:
    """Every rule the password breaks, in the order of RULES; empty when it is accepted."""
    password = normalise(password)
    broken = []
    if len(password) < policy.min_length:
        broken.append("min_length")
    if len(password) > policy.max_length:
        broken.append("max_length")
    if len(classes(password)) < policy.min_classes:
        broken.append("classes")
    if policy.forbid_username and username and username.lower() in password.lower():
        broken.append("contains_username")
    if reused:
        broken.append("reused")
    if password.lower() in common_passwords():
        broken.append("common")
    plain = _undo_look_alikes(password)
    if any(_undo_look_alikes(word) in plain for word in policy.banned_words if word):
        broken.append("banned_word")
    return broken


def describe(policy: PolicySettings) -> dict:
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
