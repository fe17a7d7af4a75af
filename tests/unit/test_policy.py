"""The password policy of SPEC 3, rule by rule, with the SPEC's own examples."""
from dataclasses import replace

import pytest

from chalicelib.domain import policy
from chalicelib.settings import load_settings

DEFAULT = load_settings({}).policy  # SPEC's defaults: what an operator who sets nothing gets


def broken(password, username="hemtjanstab", settings=DEFAULT, **kwargs):
    return policy.violations(password, username, settings, **kwargs)


@pytest.mark.parametrize("password, rules", [
    ("Åsa12345", ["classes"]),            # Å is no upper case letter: only lower and digit count
    ("tuvKAJ58", []),
    ("Abcdefg", ["min_length", "classes"]),  # too short, and only upper and lower
    ("xHEMTJANSTABx1!", ["contains_username"]),
    ("Abc def 12", []),
])
def test_spec_examples_for_hemtjanstab(password, rules):
    assert broken(password) == rules


def test_length_counts_code_points_after_nfc():
    decomposed = "A\u0301bcdef1"  # Á as A + combining accent: 8 code points, 7 after NFC
    assert "min_length" in broken(decomposed)
    assert "min_length" not in broken("A\u0301bcdef12")


def test_longer_than_max_length_is_rejected_by_name():
    assert broken("Aa1!" * 40) == ["max_length"]


def test_letters_outside_a_to_z_count_toward_length_but_no_class():
    assert policy.classes("ÅÄÖåäöé 😀") == set()
    assert broken("åäöÅÄÖé1!") == ["classes"]


def test_every_ascii_punctuation_character_is_special():
    for char in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~":
        assert policy.classes("ab" + char) == {"lower", "special"}


def test_three_of_four_classes_is_configurable():
    assert broken("abcdefgh1", settings=replace(DEFAULT, min_classes=2)) == []
    assert broken("abcdefgh1") == ["classes"]


def test_username_is_found_case_insensitively():
    assert "contains_username" in broken("Hemtjanstab-2026")


def test_username_rule_can_be_switched_off():
    assert broken("Hemtjanstab-2026", settings=replace(DEFAULT, forbid_username=False)) == []


def test_common_passwords_come_from_a_list_of_at_least_ten_thousand():
    assert len(policy.common_passwords()) >= 10_000
    assert "common" in broken("Password1", username="x")
    assert "common" in broken("QWERTY123", username="x")  # case-insensitive


@pytest.mark.parametrize("password", ["Treserva-2026", "Tr3s3rva!x", "0rebro-Vinter1",
                                      "L0s3n0rd!!x", "Lösenord!!12", "P@$$w0rd-xx"])
def test_banned_words_are_found_behind_look_alikes(password):
    assert "banned_word" in broken(password, username="x")


def test_banned_words_are_configurable():
    settings = replace(DEFAULT, banned_words=("kommun",))
    assert broken("Kommun-Hus-1", username="x", settings=settings) == ["banned_word"]
    assert broken("Treserva-Hus-1", username="x", settings=settings) == []


def test_reuse_is_reported_when_the_caller_found_it_in_the_history():
    assert broken("tuvKAJ58", reused=True) == ["reused"]


def test_every_broken_rule_is_named_in_the_documented_order():
    assert broken("hemtjanstab", reused=True) == ["classes", "contains_username", "reused"]
    assert broken("passw0rd") == ["classes", "common", "banned_word"]
    assert broken("pw") == ["min_length", "classes"]


def test_config_describes_the_policy_numbers():
    described = policy.describe(DEFAULT)
    assert described["min_length"] == 8 and described["max_length"] == 128
    assert described["min_classes"] == 3 and described["history"] == 24
    assert described["max_age_days"] == 90 and described["forbid_username"] is True
    assert described["special_characters"] == "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
