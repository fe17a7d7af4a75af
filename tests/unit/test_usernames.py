"""Usernames (SPEC 8 v2): 1–64 ASCII letters, digits, `.`, `_`, `-`; the first a letter or a
digit. A look-alike of a username is no username, so it can never be a second account."""
import pytest

from chalicelib.domain.account import normalise_username
from chalicelib.domain.errors import InvalidRequest


@pytest.mark.parametrize("raw, username", [
    ("hemtjanstab", "hemtjanstab"), ("  HemtjanstAB\t", "hemtjanstab"), ("x", "x"),
    ("hem.tjanst_ab-2", "hem.tjanst_ab-2"), ("2a", "2a"), ("a" * 64, "a" * 64),
])
def test_ascii_usernames_are_trimmed_and_lower_cased(raw, username):
    assert normalise_username(raw) == username


@pytest.mark.parametrize("raw", [
    "hemtj\u0430nstab",        # Cyrillic а
    "ｈｅｍｔｊａｎｓｔａｂ",      # fullwidth twin
    "hemtjanstab\u3164",       # an invisible Hangul filler at the end
    "hemtjanstab\u200b",       # a zero-width space
    "hemtj\u00e4nstab",        # ä: written without å, ä, ö
    "hemtjanst\u212ab",        # KELVIN SIGN, whose lower case is an ASCII k
    "-h", "--help", ".hemtjanstab", "_hemtjanstab",  # not a letter or digit first
    "hem tjanst", "hem@tjanst", "", "   ", "a" * 65, "hem\u0000tjanst", None, 7,
])
def test_anything_else_is_an_invalid_request(raw):
    with pytest.raises(InvalidRequest):
        normalise_username(raw)
