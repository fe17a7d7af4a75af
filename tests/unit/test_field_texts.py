"""Issue 22 points 4 and 9, the SMS side: a person who adds their own number is said to
have added themselves, the reminder carries the whole link, and a version 1 number is a
holder without a name, never a person called "Registrerat nummer"."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.domain import holders as holding
from tests.unit.conftest import NEW_PHONE, PHONE, USER, USERNAME
from tests.unit.test_second_pass import GSM_LETTERS


def in_gsm(text: str) -> bool:
    return all(char.isascii() or char in GSM_LETTERS for char in text)


def add_themselves(rig, lang="sv"):
    rig.clock.set(datetime(2026, 11, 25, 8, tzinfo=timezone.utc))
    rig.create_account()
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    rig.portal.registration.verify_holder(session, rig.last_code(NEW_PHONE), USER)
    rig.deliver()
    return rig.texts_to(PHONE)[-1]


def test_a_person_who_adds_their_own_number_is_said_to_have_added_themselves(rig):
    notice = add_themselves(rig)
    assert notice == (
        "Numret 070-*** ** 21 lades till 25 november 2026 kl. 09:00 och kan nu få "
        "säkerhetskoder för kontot hemtjanstab. Namn: \"Anna Andersson\", som lade till sig "
        "själv. Stämmer det inte? Kontakta support: vardochstod@orebro.se eller 2000 "
        "(internt nummer, knappval 3 och 1).")
    assert "Av:" not in notice and in_gsm(notice)


def test_the_english_notice_says_they_added_themselves_too(rig):
    rig.clock.set(datetime(2026, 11, 25, 8, tzinfo=timezone.utc))
    rig.create_account()
    account = rig.account()
    [holder] = account.holders
    added = holding.Holder(id="A" * 16, name="Anna Andersson", phone=NEW_PHONE,
                           added_at=rig.clock.now(), added_by="A" * 16)
    rig.portal.notifications.holder_changed("added", USERNAME, added, [PHONE],
                                            rig.clock.now(), "en", "Anna Andersson", USER)
    rig.deliver()
    notice = rig.texts_to(PHONE)[-1]
    assert 'Name: "Anna Andersson", who added themselves. Not right?' in notice
    assert "By:" not in notice and in_gsm(notice)


@pytest.mark.parametrize("lang, link", [("sv", "Byt det i tid på https://localhost/pwreset/"),
                                        ("en", "Change it in time at https://localhost/pwreset/")])
def test_the_reminder_ends_with_the_whole_link_to_pwreset(rig, lang, link):
    message = rig.portal.notifications.reminder(
        USERNAME, datetime(2026, 12, 9, tzinfo=timezone.utc), 14, lang)
    assert message.text.endswith(link) and "via pwreset" not in message.text
    assert in_gsm(message.text)


def test_a_version_1_number_becomes_a_holder_without_a_name(rig):
    rig.create_account()
    [holder] = rig.account().holders
    assert holder.name == "" and holding.migrated(PHONE, rig.clock.now()).name == ""


def test_a_holder_stored_as_registrerat_nummer_reads_as_a_holder_without_a_name():
    item = holding.migrated(PHONE, datetime(2026, 1, 1, tzinfo=timezone.utc)).to_item()
    assert holding.Holder.from_item({**item, "name": "Registrerat nummer"}).name == ""
    assert holding.Holder.from_item({**item, "name": "Anna Berg"}).name == "Anna Berg"


def test_the_sms_about_a_holder_without_a_name_leave_the_name_out(rig):
    rig.clock.set(datetime(2026, 11, 25, 8, tzinfo=timezone.utc))
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", NEW_PHONE)
    nameless = rig.account().holders[0]
    rig.portal.holder_changes.remove(USERNAME, nameless.id)
    rig.deliver()
    notice = rig.texts_to(NEW_PHONE)[-1]
    assert "för kontot hemtjanstab. Av: support. Stämmer" in notice
    assert "Namn" not in notice and "Registrerat nummer" not in notice


@pytest.mark.parametrize("lang, said", [("sv", "Av: en person utan namn."),
                                        ("en", "By: a person without a name.")])
def test_a_change_by_a_holder_without_a_name_says_so(rig, lang, said):
    rig.portal.notifications.password_changed(USERNAME, rig.clock.now(), lang, USER,
                                              holders=[PHONE], by="")
    rig.deliver()
    assert said in rig.texts_to(PHONE)[-1]
