"""SPEC 16, unlock without a new password, through the HTTP API (chalice's test client, moto)
on a directory in memory (tests/unit/fakes.FakeDirectory): `reset/verify` tells a proven
holder whether the directory has locked the account, and `reset/unlock` lifts the lock with
the token, the password untouched; the token is then used, the holder is named in the
trail and every holder is told. tests/directory runs the same on a real slapd and Samba."""
from __future__ import annotations

import pytest

from chalicelib.messages import said_by, text
from chalicelib.services.notifications import spoken_time
from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, challenge_of, complete,
                               error, verify)
from tests.api_client import post
from tests.unit.fakes import FakeDirectory
from tests.unit.test_second_pass import GSM_LETTERS

ANNA = "Anna Andersson"


def unlock(client, token, **kw):
    return post(client, "/api/reset/unlock", {"reset_token": token}, **kw)


@pytest.fixture
def directory(world, environment):
    """The portal in `ldap` mode on a directory in memory holding the account's entry; the
    account has two holders: the first (no name) at PHONE, Anna at NEW_PHONE."""
    directory = FakeDirectory(world.clock)
    directory.add(USERNAME, PASSWORD)
    environment.setenv("PWPORTAL_DIRECTORY", "ldap")
    world.use(passwords=directory)
    world.portal.account_changes.create(USERNAME, None, PHONE)
    world.portal.holder_changes.add(USERNAME, ANNA, NEW_PHONE)
    world.deliver()  # the notice of Anna's addition
    return directory


def verified(world, client, phone=NEW_PHONE) -> dict:
    """Anna's (or `phone`'s holder's) right code: verify's answer."""
    challenge = challenge_of(client, USERNAME, phone)
    answer = verify(client, challenge, world.last_code(phone))
    assert answer.status_code == 200, answer.body
    return answer.json_body


def unlocked_records(world) -> list[dict]:
    return [r for r in world.audit(USERNAME) if r["event"] == "account.unlocked"]


def test_verify_tells_a_proven_holder_the_directory_has_locked_the_account(world, client,
                                                                            directory):
    directory.lock(USERNAME)
    answer = verified(world, client)
    assert answer["directory_locked"] is True
    assert set(answer) == {"reset_token", "username", "expires_in", "directory_locked"}


def test_verify_says_not_locked_when_the_directory_has_not_locked_it(world, client, directory):
    assert verified(world, client)["directory_locked"] is False


def test_unlock_lifts_the_lock_keeps_the_password_and_tells_every_holder(world, client,
                                                                         directory):
    directory.lock(USERNAME)
    token = verified(world, client)["reset_token"]
    before = len(world.sent())
    answer = unlock(client, token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body == {"unlocked": True, "username": USERNAME}
    assert not directory.locked(USERNAME, world.clock.now())
    assert directory.entries[USERNAME][0] == PASSWORD  # the password is untouched
    [record] = unlocked_records(world)
    assert record["outcome"] == "success" and record["cleared"] == ["directory"]
    assert record["holder_name"] == ANNA and record["holder_id"]  # the holder did it
    world.deliver()
    told = {to: body for to, body in world.sent()[before:]}
    assert set(told) == {PHONE, NEW_PHONE}  # every holder, once
    assert told[PHONE] == told[NEW_PHONE] == text(
        "sms.account_unlocked", "sv", username=USERNAME, by=f'"{ANNA}"',
        time=spoken_time(world.clock.now(), "sv"), support=world.portal.notifications._support)
    assert "utan nytt lösenord" in told[PHONE]


def test_the_token_an_unlock_used_cannot_complete_nor_unlock_again(world, client, directory):
    directory.lock(USERNAME)
    token = verified(world, client)["reset_token"]
    assert unlock(client, token).status_code == 200
    refused = complete(client, token, "Nytt-Hus-2026!x")
    assert refused.status_code == 410 and error(refused)["code"] == "token_expired"
    again = unlock(client, token)
    assert again.status_code == 410 and error(again)["code"] == "token_expired"
    assert directory.entries[USERNAME][0] == PASSWORD


def test_a_token_a_completion_used_cannot_unlock(world, client, directory):
    directory.lock(USERNAME)
    token = verified(world, client)["reset_token"]
    assert complete(client, token, "Nytt-Hus-2026!x").status_code == 200
    refused = unlock(client, token)
    assert refused.status_code == 410 and error(refused)["code"] == "token_expired"
    assert directory.locked(USERNAME, world.clock.now())  # nothing lifted


def test_an_account_that_was_not_locked_is_answered_alike_and_nobody_is_told(world, client,
                                                                             directory):
    token = verified(world, client)["reset_token"]
    before = len(world.sent())
    answer = unlock(client, token)
    assert answer.status_code == 200 and answer.json_body["unlocked"] is True
    [record] = unlocked_records(world)
    assert record["outcome"] == "not_locked" and record["cleared"] == []
    world.deliver()
    assert world.sent()[before:] == []


def test_an_unlock_is_the_holders_use_of_the_account(world, client, directory):
    """SPEC 11: the 400-day rule counts from the holder's last use, an unlock included."""
    directory.lock(USERNAME)
    token = verified(world, client)["reset_token"]
    world.clock.advance(seconds=30)
    unlock(client, token)
    [anna] = [h for h in world.portal.accounts.get(USERNAME).holders if h.name == ANNA]
    assert anna.last_used_at == world.clock.now()


def test_a_directory_that_cannot_answer_is_503_and_the_token_is_kept(world, client,
                                                                     directory):
    directory.lock(USERNAME)
    token = verified(world, client)["reset_token"]
    directory.down = True
    failed = unlock(client, token)
    assert failed.status_code == 503 and error(failed)["code"] == "service_unavailable"
    assert [r["step"] for r in world.audit(USERNAME)
            if r["event"] == "directory.failed"] == ["unlock"]
    directory.down = False
    assert unlock(client, token).status_code == 200  # the same token, again
    assert not directory.locked(USERNAME, world.clock.now())


def test_verify_says_not_locked_when_the_directory_cannot_answer_and_the_token_works(
        world, client, directory):
    directory.lock(USERNAME)
    challenge = challenge_of(client, USERNAME, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    directory.down = True
    answer = verify(client, challenge, code)
    assert answer.status_code == 200 and answer.json_body["directory_locked"] is False
    assert [r["step"] for r in world.audit(USERNAME)
            if r["event"] == "directory.failed"] == ["locked"]


@pytest.mark.parametrize("body", [{}, {"reset_token": ""}, {"reset_token": 7},
                                  {"reset_token": ["x"]}])
def test_an_unlock_without_a_token_is_invalid_request(client, body):
    answer = post(client, "/api/reset/unlock", body)
    assert answer.status_code == 400 and error(answer)["code"] == "invalid_request"


def test_an_unknown_token_is_token_expired(client):
    answer = unlock(client, "x" * 43)
    assert answer.status_code == 410 and error(answer)["code"] == "token_expired"


def test_in_portal_mode_verify_never_says_locked_and_unlock_lifts_nothing(world, client):
    world.create_account()
    token_answer = verified(world, client, phone=PHONE)
    assert token_answer["directory_locked"] is False
    before = len(world.sent())
    answer = unlock(client, token_answer["reset_token"])
    assert answer.status_code == 200 and answer.json_body == {"unlocked": True,
                                                              "username": USERNAME}
    [record] = unlocked_records(world)
    assert record["outcome"] == "not_locked"
    world.deliver()
    assert world.sent()[before:] == []
    refused = complete(client, token_answer["reset_token"], "Nytt-Hus-2026!x")
    assert refused.status_code == 410  # used


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_unlock_notice_is_one_gsm_sms_of_at_most_two_parts(world, lang):
    """The notice stays in the GSM alphabet (parts of 160 characters, not 70) and, with the
    longest date, a name of 60 characters and the support line, within 2 parts (306)."""
    from datetime import datetime, timezone
    body = text("sms.account_unlocked", lang, username="a" * 20,
                by=said_by("Å" * 60, lang),
                time=spoken_time(datetime(2026, 9, 30, 20, 59, tzinfo=timezone.utc), lang),
                support=world.portal.notifications._support_in(lang))
    assert all(char.isascii() or char in GSM_LETTERS for char in body), body
    assert len(body) <= 306, len(body)
