"""Password hashing: argon2id at or above OWASP's minimum, peppered, history by fingerprint."""
from argon2 import extract_parameters

from chalicelib.adapters import passwords
from chalicelib.adapters.passwords import DUMMY_HASH, PasswordHasher
from chalicelib.domain.account import in_history

PEPPER = b"p" * 32


def test_hashes_are_argon2id_with_at_least_owasp_minimum_parameters():
    stored = PasswordHasher(PEPPER).hash("tuvKAJ58!x")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    assert params.parallelism >= 1


def test_the_right_password_verifies_and_a_wrong_one_does_not():
    hasher = PasswordHasher(PEPPER)
    stored = hasher.hash("tuvKAJ58!x")
    assert hasher.verify(stored, "tuvKAJ58!x")
    assert not hasher.verify(stored, "tuvKAJ58!X")
    assert not hasher.verify("not a hash", "tuvKAJ58!x")


def test_without_the_pepper_a_stolen_hash_does_not_verify():
    stored = PasswordHasher(PEPPER).hash("tuvKAJ58!x")
    assert not PasswordHasher(b"q" * 32).verify(stored, "tuvKAJ58!x")


def test_the_same_password_typed_in_another_unicode_form_verifies():
    hasher = PasswordHasher(PEPPER)
    assert hasher.verify(hasher.hash("Åsa-Hus-12"), "A\u030asa-Hus-12")


def test_the_dummy_hash_has_the_parameters_of_a_real_one():
    real = extract_parameters(PasswordHasher(PEPPER).hash("x"))
    dummy = extract_parameters(DUMMY_HASH)
    assert (dummy.memory_cost, dummy.time_cost, dummy.parallelism, dummy.type) == \
        (real.memory_cost, real.time_cost, real.parallelism, real.type)
    assert PasswordHasher(PEPPER).verify_nothing("anything") is False


def test_checking_a_history_of_24_costs_one_argon2_run(monkeypatch):
    hasher = PasswordHasher(PEPPER)
    salt = b"s" * 16
    history = [hasher.fingerprint(f"Old-Password-{i}", salt) for i in range(24)]
    runs = []
    real = passwords.hash_secret_raw
    monkeypatch.setattr(passwords, "hash_secret_raw",
                        lambda *a, **k: runs.append(1) or real(*a, **k))
    assert in_history(hasher.fingerprint("Old-Password-23", salt), history)
    assert not in_history(hasher.fingerprint("Brand-New-Pass-1", salt), history)
    assert len(runs) == 2  # one per candidate, whatever the length of the history


def test_fingerprints_differ_between_accounts():
    hasher = PasswordHasher(PEPPER)
    assert hasher.fingerprint("tuvKAJ58!x", b"a" * 16) != hasher.fingerprint("tuvKAJ58!x",
                                                                            b"b" * 16)
