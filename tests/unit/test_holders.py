"""SPEC 11: the rules of an account's holders (chalicelib/domain/holders.py) and how they
live in the account's item, in step with the version 1 number (domain/account.py)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain import holders as holding
from chalicelib.domain.account import Account
from chalicelib.domain.errors import InvalidName, NotFound, TooManyHolders
from chalicelib.domain.holders import Holder
from chalicelib.domain.phone import masked_national
from chalicelib.messages import text

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
ANNA, BO, CIA = "+46701234567", "+46707654321", "+46761112233"


def holder(name="Anna Berg", phone=ANNA, **fields) -> Holder:
    return Holder(id=holding.new_id(), name=name, phone=phone, added_at=NOW,
                  added_by=holding.SUPPORT, **fields)


def account(**fields) -> Account:
    return Account(username="hemtjanstab", password_hash="h", history_salt="00",
                   history=[], password_changed_at=NOW, password_expires_at=NOW,
                   created_at=NOW, **fields)


# -- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, name", [
    ("  Anna Berg ", "Anna Berg"),
    ("Åsa Öberg-Ängström", "Åsa Öberg-Ängström"),
    ("A", "A"),
    ("x" * 60, "x" * 60),
    ("Jose\u0301", "José"),  # NFC: one character, as the person sees it
])
def test_a_name_is_trimmed_and_kept_as_written(raw, name):
    assert holding.normalise_name(raw) == name


@pytest.mark.parametrize("raw", ["", "   ", "x" * 61, "Anna\nBerg", "Anna\tBerg", "Anna\x00",
                                 "Anna\u202eBerg", "Anna\u200bBerg", "Anna\u2028Berg", None,
                                 42])
def test_a_name_that_is_empty_too_long_or_holds_a_control_character_is_refused(raw):
    with pytest.raises(InvalidName) as refused:
        holding.normalise_name(raw)
    assert refused.value.fields == {"max_length": 60}


def test_an_invalid_name_is_explained_in_both_languages():
    swedish = text("invalid_name", "sv", max_length=60)
    english = text("invalid_name", "en", max_length=60)
    assert "1–60 tecken" in swedish and "1–60 characters" in english


# -- adding, removing ---------------------------------------------------------------------------

def test_a_new_number_is_added_with_a_random_stable_id():
    added = holding.add([holder()], "Bo Ek", BO, NOW, holding.SUPPORT, max_holders=5)
    assert added.new and [h.phone for h in added.holders] == [ANNA, BO]
    assert holding.is_id(added.holder.id) and len(added.holder.id) == 16
    assert added.holder.added_by == "support" and added.holder.added_at == NOW
    again = holding.add([holder()], "Bo Ek", BO, NOW, holding.SUPPORT, max_holders=5)
    assert again.holder.id != added.holder.id


def test_the_same_number_again_renames_its_holder_instead_of_adding_one():
    first = holder()
    added = holding.add([first, holder("Bo Ek", BO)], "Anna Berg-Ek", ANNA, NOW, "other",
                        max_holders=2)
    assert not added.new and added.previous_name == "Anna Berg"
    assert [(h.id, h.name) for h in added.holders][0] == (first.id, "Anna Berg-Ek")
    assert len(added.holders) == 2 and added.holders[0].added_by == "support"


def test_a_sixth_holder_is_refused_with_the_maximum_named():
    five = [holder(f"P{i}", f"+4670123456{i}") for i in range(5)]
    with pytest.raises(TooManyHolders) as refused:
        holding.add(five, "Sexan", BO, NOW, holding.SUPPORT, max_holders=5)
    assert refused.value.fields == {"max_holders": 5}
    assert "5" in text("too_many_holders", "sv", **refused.value.fields)


def test_removing_an_unknown_holder_is_not_found():
    with pytest.raises(NotFound):
        holding.remove([holder()], "x" * 16)


def test_a_holder_unused_for_the_configured_days_expires():
    used = holder(last_used_at=NOW - timedelta(days=10))
    added_long_ago = replace(holder("Bo Ek", BO), added_at=NOW - timedelta(days=400))
    used_long_ago = replace(holder("Cia", CIA), added_at=NOW - timedelta(days=900),
                            last_used_at=NOW - timedelta(days=399))
    kept, gone = holding.expired([used, added_long_ago, used_long_ago], NOW, unused_days=400)
    assert kept == [used, used_long_ago] and gone == [added_long_ago]


def test_masked_numbers_show_the_national_form_with_three_and_two_digits():
    assert masked_national("+46701234567") == "070-*** ** 67"
    assert masked_national(None) is None


# -- in the account -------------------------------------------------------------------------

def test_holders_survive_the_accounts_item_in_their_order():
    anna, bo = holder(last_used_at=NOW), holder("Bo Ek", BO)
    stored = account().with_holders([anna, bo])
    assert stored.holders[0].phone == ANNA and stored.version == 2
    again = Account.from_item(stored.to_item())
    assert again.holders == [anna, bo] and again.holders[0].phone == ANNA
    assert stored.to_item()["holders"][1] == {
        "id": bo.id, "name": "Bo Ek", "phone": BO, "added_at": "2026-11-25T08:00:00Z",
        "added_by": "support"}
    assert stored.to_item()["phone"] == ANNA  # what a rollback to version 1 reads


def test_a_version_1_account_has_its_number_and_no_holders_until_migrated():
    item = {**account().to_item(), "phone": ANNA}  # as version 1 stored it: no holders
    del item["holders"]
    old = Account.from_item(item)
    assert old.version_1_number == ANNA and old.holders == []
    assert old.to_item()["phone"] == ANNA  # kept until the migration
    migrated = old.with_holders([holder("Bo Ek", BO)])
    assert migrated.version_1_number is None
    assert Account.from_item(migrated.to_item()).version_1_number is None
