"""SPEC 7: the SMS notices that follow a changed password and a changed number."""
from __future__ import annotations

import json

from chalicelib.domain.errors import ServiceUnavailable
from tests.api_client import post

PASSWORD = "tuvKAJ58!x"
NEW_PASSWORD = "Bla-Hus-2026-x"


def reset_password(world, client, lang=None, username="hemtjanstab", number="+46701234567"):
    started = post(client, "/api/reset/start", {"username": username, "phone": number},
                   lang=lang)
    code = world.last_code(number)
    verified = post(client, "/api/reset/verify", {"challenge": started.json_body["challenge"],
                                                  "code": code}, lang=lang)
    done = post(client, "/api/reset/complete", {"reset_token": verified.json_body["reset_token"],
                                                "password": NEW_PASSWORD}, lang=lang)
    assert done.status_code == 200, done.body
    return code


def change_number(world, client, new="070-765 43 21", new_e164="+46707654321", lang=None):
    login = post(client, "/api/registration/login", {"username": "hemtjanstab",
                                                     "password": PASSWORD}, lang=lang)
    session = login.json_body["session"]
    asked = post(client, "/api/registration/holders", {"name": "Anna Andersson", "phone": new},
                 session=session, lang=lang)
    assert asked.status_code == 202, asked.body
    code = world.last_code(new_e164)
    verified = post(client, "/api/registration/holders/verify", {"code": code},
                    session=session, lang=lang)
    assert verified.status_code == 200, verified.body
    return code


def notices_to(world, number):
    world.deliver()
    return [text for to, text in world.sent() if to == number and "#" not in text]


def test_a_changed_password_is_told_to_the_registered_number_with_the_swedish_time(world,
                                                                                    client):
    world.create_account()
    code = reset_password(world, client)
    notices = notices_to(world, "+46701234567")
    assert notices == ["Lösenordet för kontot hemtjanstab byttes 25 november 2026 kl. 09:00. "
                       "Av: en person utan namn. "
                       "Var det inte du? Kontakta support: vardochstod@orebro.se eller 2000 "
                       "(internt nummer, knappval 3 och 1). "
                       "Skriv in det nya lösenordet i alla mobiler och appar som använder "
                       "kontot, t.ex. mejlappen."]
    assert code not in notices[0] and NEW_PASSWORD not in notices[0]


def test_the_password_notice_follows_the_language_of_the_reset(world, client):
    world.create_account()
    reset_password(world, client, lang="en")
    notices = notices_to(world, "+46701234567")
    assert len(notices) == 1
    assert notices[0].startswith("The password of the account hemtjanstab was changed "
                                 "25 November 2026 at 09:00. By: a person without a name. "
                                 "Wasn't this you?")


def test_summer_time_is_shown_as_swedish_summer_time(world, client):
    from datetime import datetime, timezone
    world.clock.set(datetime(2026, 6, 10, 12, 30, tzinfo=timezone.utc))
    world.create_account()
    reset_password(world, client)
    assert "10 juni 2026 kl. 14:30" in notices_to(world, "+46701234567")[0]


def test_an_added_holder_is_told_to_the_others_with_the_new_number_masked(world, client):
    world.create_account()
    change_number(world, client)
    old = notices_to(world, "+46701234567")
    assert len(old) == 1
    assert "hemtjanstab" in old[0] and "Numret 070-*** ** 21 lades till" in old[0]
    assert 'Namn: "Anna Andersson", som lade till sig själv.' in old[0]
    assert "+46707654321" not in old[0] and "0707654321" not in old[0]
    assert "Kontakta support: vardochstod@orebro.se eller 2000 (internt nummer, knappval 3 och 1)" in old[0]
    assert notices_to(world, "+46707654321") == []  # the new number only got its code


def test_a_password_change_is_told_to_every_holder_naming_who_did_it(world, client):
    world.create_account()
    change_number(world, client)
    world.clock.advance(seconds=61)
    reset_password(world, client, number="+46707654321")
    for number in ("+46701234567", "+46707654321"):
        changed = [text for text in notices_to(world, number) if "byttes" in text]
        assert len(changed) == 1 and 'Av: "Anna Andersson".' in changed[0], number


def test_a_first_number_sends_no_notice(world, client):
    world.create_account(phone=None)
    change_number(world, client)
    assert [to for to, _ in world.sent()] == ["+46707654321"]


def test_a_password_notice_that_cannot_be_queued_leaves_the_change_done_and_logs_sms_failed(
        world, client, monkeypatch, capsys):
    world.create_account()
    started = post(client, "/api/reset/start", {"username": "hemtjanstab", "phone": "+46701234567"})
    code = world.last_code("+46701234567")
    verified = post(client, "/api/reset/verify", {"challenge": started.json_body["challenge"],
                                                  "code": code})

    def queue_down(message):
        raise ServiceUnavailable()
    monkeypatch.setattr(world.portal.queue, "send", queue_down)
    monkeypatch.setattr(world.portal.queue, "send_many", queue_down)
    capsys.readouterr()
    done = post(client, "/api/reset/complete", {"reset_token": verified.json_body["reset_token"],
                                                "password": NEW_PASSWORD})
    assert done.status_code == 200
    account = world.portal.accounts.get("hemtjanstab")
    assert world.portal.hasher.verify(account.password_hash, NEW_PASSWORD)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    assert [(line["event"], line["outcome"], line["kind"]) for line in lines
            if line["event"] == "sms.failed"] == [("sms.failed", "not_queued", "notice")]


def test_a_number_set_by_support_is_told_to_the_old_number(world):
    world.create_account()
    world.portal.account_changes.set_phone("hemtjanstab", "0707654321")
    old = notices_to(world, "+46701234567")
    assert len(old) == 1 and "+4670*****21" in old[0]
    assert notices_to(world, "+46707654321") == []


def test_support_setting_the_same_number_again_sends_nothing(world):
    world.create_account()
    world.portal.account_changes.set_phone("hemtjanstab", "0701234567")
    world.deliver()
    assert world.sent() == []


def test_the_password_notice_says_to_update_every_device_and_how_to_dispute_it_in_gsm(
        world, client):
    """SPEC 16: a phone whose mail app keeps the old password locks the account for all;
    the notice says where the new one goes and whom to call, in both languages, in GSM
    letters only (an SMS of GSM letters is sent in parts of 160, not 70) and in at most
    two parts (153 characters each) with the default support line."""
    from tests.unit.test_second_pass import GSM_LETTERS
    for lang, username, number, device, dispute in (
            ("sv", "hemtjanstab", "+46701234567",
             "Skriv in det nya lösenordet i alla mobiler och appar som använder kontot",
             "Var det inte du? Kontakta support: vardochstod@orebro.se"),
            ("en", "nattpatrullen", "+46701112233",
             "Enter the new password on every phone and app that uses the account",
             "Wasn't this you? Contact support: vardochstod@orebro.se")):
        world.create_account(username, phone=number)
        reset_password(world, client, lang=lang, username=username, number=number)
        [notice] = notices_to(world, number)
        assert device in notice and dispute in notice, notice
        assert all(char.isascii() or char in GSM_LETTERS for char in notice)
        assert len(notice) <= 2 * 153, len(notice)
