"""Issue 21 ("security, second pass"): the findings whose proof needs no API."""
from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime, timezone

import pytest

from chalicelib.domain import holders as holding
from chalicelib.domain.errors import InvalidName
from chalicelib.domain.organisation import parse_channels
from chalicelib.messages import said_by, text
from chalicelib.services.support.monthly import MonthlyLog
from chalicelib.settings import load_settings
from tests.unit.conftest import NEW_PHONE, PHONE, USERNAME

# The letters outside ASCII that the GSM 03.38 alphabet has: an SMS of them and ASCII is sent
# in parts of 160 characters, not 70.
RESERVED = load_settings({}).reserved_names  # Örebro kommun, its support channels
GSM_LETTERS = set("£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà¤¡")

# -- 9: the monthly report's CSV -----------------------------------------------------------------


def csv_rows(records: list[dict]) -> list[list[str]]:
    start = datetime(2026, 10, 31, 23, tzinfo=timezone.utc)
    log = MonthlyLog(username="hemtjanstab", year=2026, month=11, start=start,
                     end=datetime(2026, 11, 30, 23, tzinfo=timezone.utc), records=records)
    return list(csv.reader(io.StringIO(log.csv().decode("utf-8-sig")), delimiter=";"))[1:]


def test_a_blank_cell_of_the_monthly_csv_is_blank_and_a_formula_is_still_guarded():
    record = {"username": "hemtjanstab", "at": "2026-11-02T08:00:00.000000Z#ab12",
              "event": "account.disabled", "outcome": "success"}
    [row] = csv_rows([record])
    # time, event, description, outcome, who; then holder id, subject, number, network, other
    assert row[5:] == ["", "", "", "", ""]  # was "'-" in each: the formula guard on "-"
    [guarded] = csv_rows([{**record, "subject_name": "=HYPERLINK(\"x\")", "ip": "-1+2"}])
    assert guarded[6] == "'=HYPERLINK(\"x\")" and guarded[8] == "'-1+2"


# -- 3: a holder's name is a name, and in an SMS a quoted field after the facts ------------------

def test_a_holders_name_stands_quoted_after_the_facts_in_the_sms_to_the_others(rig):
    rig.clock.set(datetime(2026, 11, 25, 8, tzinfo=timezone.utc))
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Anna Andersson", NEW_PHONE)
    rig.deliver()
    [notice] = rig.texts_to(PHONE)
    assert notice == (
        "Numret 070-*** ** 21 lades till 25 november 2026 kl. 09:00 och kan nu få "
        "säkerhetskoder för kontot hemtjanstab. Namn: \"Anna Andersson\". Av: support. "
        "Stämmer det inte? Kontakta support: vardochstod@orebro.se eller 2000 "
        "(internt nummer, knappval 3 och 1).")
    assert notice.isascii() or all(char in GSM_LETTERS for char in notice if not char.isascii())


def test_who_changed_the_password_is_quoted_when_a_holder_and_plain_when_support():
    assert text("sms.password_changed", "sv", username="hemtjanstab", time="i dag",
                by=said_by("Anna Andersson"), support="2000").startswith(
        'Lösenordet för kontot hemtjanstab byttes i dag. Av: "Anna Andersson". ')
    assert said_by("support") == "support"
    assert said_by(text("sms.by_login", "en")) == text("sms.by_login", "en")


ATTACK_3 = ["Konto spärras! Ring 0701234567 el. https://orebro-it.se", "support"]


@pytest.mark.parametrize("name", [
    "Anna Andersson", "Åsa Öberg-Ängström", "A. Berg", "J. R. R. Tolkien", "O'Brien",
    "O’Brien", "Zoë d'Artagnan", "李小龍", "محمد علي", "अनिल कुमार", "Jose\u0301",
    "Mohammad Minaei", "Sead Mina", "Registrerat nummer", "Örebro", "x" * 60])
def test_a_persons_name_in_any_script_is_a_name(name):
    assert holding.normalise_name(name, RESERVED) == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize("name", [
    *ATTACK_3,
    "Konto spärras Ring 0701234567", "Anna 2", "Anna Andersson ²",  # digits: a number
    "orebro-it.se", "Anna.Berg", "www.example.com", "https//x", "anna@orebro.se",
    "Support", "SUPPORT", "Ѕupport",  # a Cyrillic Ѕ
    "S-u-p-p-o-r-t", "Sup port", "IT-supporten", "Admin", "Sysadmin", "Ad Min",
    "Örebro kommun", "orebro KOMMUN Anna", "Vardochstod", "vardoch stod",
    "Anna & Bo", "Anna (chef)", "Anna/Bo", "Anna: ring mig", "-", "...", "'",
    "Anna\u202eBerg", "Anna\u200bBerg", "Anna\ue000", "", "x" * 61])
def test_what_is_not_a_persons_name_is_refused(name):
    with pytest.raises(InvalidName):
        holding.normalise_name(name, RESERVED)


def test_the_organisation_and_its_channels_are_the_operators_own():
    channels = parse_channels('[{"email": "it-hjalp@exempelby.se"}, '
                              '{"sv": "Servicedesken", "en": "The service desk"}]')
    reserved = holding.reserved_names("Exempelby kommun", channels)
    for name in ("Exempelby Kommun", "It Hjalp", "Servicedesken", "The Service Desk"):
        with pytest.raises(InvalidName):
            holding.normalise_name(name, reserved)
    assert holding.normalise_name("Örebro kommun", reserved) == "Örebro kommun"


@pytest.mark.parametrize("name", ATTACK_3)
def test_support_cannot_add_a_holder_whose_name_is_not_a_name_either(rig, name):
    rig.create_account()
    before = rig.store.items(rig.settings.accounts_table), len(rig.queue.sent)
    with pytest.raises(InvalidName):
        rig.portal.holder_changes.add(USERNAME, name, NEW_PHONE)
    with pytest.raises(InvalidName):
        rig.portal.account_changes.create("nattpatrullen", "tuvKAJ58!x", NEW_PHONE, name)
    assert (rig.store.items(rig.settings.accounts_table), len(rig.queue.sent)) == before
