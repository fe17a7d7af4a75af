"""Codes, secrets and texts: what is random, what is stored, what is said."""
from chalicelib.domain import codes
from chalicelib.domain.events import truncate_ip
from chalicelib.messages import TEXTS, language, text


def test_codes_are_six_digits_and_vary():
    made = {codes.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in made)
    assert len(made) > 190


def test_secrets_are_256_bit_and_stored_only_as_digests():
    secret = codes.new_secret()
    assert len(secret) >= 43
    assert secret not in codes.digest(secret) and len(codes.digest(secret)) == 64


def test_code_mac_is_bound_to_its_challenge_and_key():
    mac = codes.code_mac(b"k" * 32, "reset#a", "123456")
    assert codes.code_matches(b"k" * 32, "reset#a", "123456", mac)
    assert not codes.code_matches(b"k" * 32, "reset#b", "123456", mac)
    assert not codes.code_matches(b"x" * 32, "reset#a", "123456", mac)
    assert "123456" not in mac


def test_swedish_sms_text_is_exactly_the_specified_one():
    assert text("sms.code", "sv", code="123456", minutes=10, host="pwreset.example.se") == (
        "Din säkerhetskod är 123456. Den gäller i 10 minuter. Dela aldrig koden med någon."
        "\n\n@pwreset.example.se #123456")


def test_english_sms_text_has_the_same_origin_bound_line():
    assert text("sms.code", "en", code="654321", minutes=10, host="h.se").endswith(
        "\n\n@h.se #654321")


def test_every_text_exists_in_swedish_and_english():
    assert all(set(entry) == {"sv", "en"} for entry in TEXTS.values())


def test_language_follows_accept_language_with_swedish_as_default():
    assert language(None) == "sv"
    assert language("en-GB,en;q=0.9") == "en"
    assert language("de-DE, en;q=0.5") == "en"
    assert language("fr") == "sv"
    assert language("sv;q=0.4, en;q=0.8") == "en"


def test_ip_addresses_are_truncated_to_24_and_48_bits():
    assert truncate_ip("203.0.113.77") == "203.0.113.0/24"
    assert truncate_ip("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert truncate_ip("not an ip") == ""
