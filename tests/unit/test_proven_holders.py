"""SPEC 15, the pure rules: a holder proven by the identity provider keeps issuer and subject,
one person is one holder per account, the provider's name is taken as it is written, and the
setting is off unless a provider is configured."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.domain import holders as holding
from chalicelib.domain.errors import InvalidName
from chalicelib.settings import load_settings

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
ISSUER = "https://login.example/tenant/v2.0"


def test_a_person_proven_again_updates_their_holder_and_takes_the_number_from_a_duplicate():
    typed = holding.add([], "Kalle Typad", "+46701111111", NOW, "", 5).holders
    proven = holding.add(typed, "Anna Andersson", "+46702222222", NOW, "", 5,
                         issuer=ISSUER, subject="anna").holders
    again = holding.add(proven, "Anna Andersson", "+46701111111", NOW, "", 5,
                        issuer=ISSUER, subject="anna")
    assert not again.new
    assert [(h.name, h.phone, h.proven) for h in again.holders] == [
        ("Anna Andersson", "+46701111111", True)]  # one number is one holder


def test_a_typed_name_on_a_proven_holders_number_is_no_longer_proven():
    proven = holding.add([], "Anna Andersson", "+46702222222", NOW, "", 5,
                         issuer=ISSUER, subject="anna").holders
    renamed = holding.add(proven, "Någon Annan", "+46702222222", NOW, "", 5)
    assert (renamed.holder.name, renamed.holder.proven) == ("Någon Annan", False)


def test_issuer_and_subject_survive_the_item_and_a_typed_holder_has_none():
    holder = holding.add([], "Anna Andersson", "+46702222222", NOW, "", 5,
                         issuer=ISSUER, subject="anna").holder
    assert holding.Holder.from_item(holder.to_item()) == holder
    typed = holding.add([], "Kalle Typad", "+46701111111", NOW, "", 5).holder
    assert "issuer" not in typed.to_item() and not typed.proven


def test_the_providers_name_is_taken_as_written_without_controls_and_at_most_60():
    assert holding.provider_name("  Sam\u200b Support ") == "Sam Support"
    assert holding.provider_name("anna.andersson") == "anna.andersson"
    assert len(holding.provider_name("A" * 80)) == 60
    with pytest.raises(InvalidName):
        holding.provider_name(" \u0000 ")


@pytest.mark.parametrize("issuer, said, mode", [
    ("", "required", "off"),  # no provider: off whatever it says
    (ISSUER, "offered", "offered"),
    (ISSUER, "REQUIRED", "required"),
    (ISSUER, "requird", "off"),  # not a mode: never requires what cannot be done
])
def test_the_holder_identity_mode(issuer, said, mode):
    settings = load_settings({"PWPORTAL_IDP_ISSUER": issuer, "PWPORTAL_HOLDER_IDENTITY": said})
    assert settings.holder_identity_mode == mode
