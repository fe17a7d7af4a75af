"""pwreset (SPEC 2, 4, 8): start with a username, verify the SMS code, set a new password."""
import re

import pytest

from chalicelib.domain import codes
from tests.api.helpers import (PASSWORD, PHONE, USERNAME, challenge_of, complete, error,
                               events, login, resend, reset_token, scan, start, verify, wrong)

SV_TEXT = ("Din säkerhetskod är {code}. Den gäller i 10 minuter. Dela aldrig koden med någon."
           "\n\n@localhost #{code}")
EN_TEXT = ("Your security code is {code}. It is valid for 10 minutes. "
           "Never share the code with anyone.\n\n@localhost #{code}")


# -- start and the code SMS ------------------------------------------------------------------

def test_start_answers_202_with_a_challenge_its_lifetime_and_the_resend_delay(world, client):
    world.create_account()
    response = start(client)
    assert response.status_code == 202
    body = response.json_body
    assert set(body) == {"challenge", "expires_in", "resend_after"}
    assert (body["expires_in"], body["resend_after"]) == (600, 60)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", body["challenge"])
    assert body["challenge"] != challenge_of(client)  # every start is a new challenge


@pytest.mark.parametrize("lang, template", [(None, SV_TEXT), ("sv", SV_TEXT), ("en", EN_TEXT),
                                            ("en-US,en;q=0.9", EN_TEXT)])
def test_the_code_sms_says_exactly_the_specified_text_in_the_callers_language(
        world, client, lang, template):
    world.create_account()
    start(client, lang=lang)
    world.deliver()
    [(to, message)] = world.sent()
    code = re.search(r"#(\d+)$", message).group(1)
    assert to == PHONE
    assert message == template.format(code=code)


def test_the_code_is_six_digits_and_the_sms_names_no_user_and_has_no_link(world, client):
    world.create_account()
    start(client)
    world.deliver()
    [(_, message)] = world.sent()
    assert re.fullmatch(r"\d{6}", world.codes_sent_to(PHONE)[0])
    assert USERNAME not in message.lower()
    assert "http" not in message and "://" not in message and "www" not in message


def test_the_code_sms_names_the_configured_portal_host(world, client, configure):
    configure(PORTAL_HOST="losenord.orebro.se")
    world.create_account()
    start(client)
    world.deliver()
    [(_, message)] = world.sent()
    assert re.search(r"\n\n@losenord\.orebro\.se #\d{6}$", message)


def test_the_code_is_stored_only_as_an_hmac(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    stored = world.dynamodb.scan(TableName=world.settings.challenges_table)["Items"]
    [item] = [i for i in stored if i["id"]["S"].startswith("reset#")]
    assert item["id"]["S"] == "reset#" + codes.digest(challenge)
    assert item["code_mac"]["S"] == codes.code_mac(world.portal.secrets.code_key,
                                                   item["id"]["S"], code)
    for table in (world.settings.challenges_table, world.settings.limits_table,
                  world.settings.audit_table, world.settings.accounts_table):
        everything = scan(world, table)
        assert not re.search(rf"(?<!\d){code}(?!\d)", everything), table
        assert challenge not in everything, table


# -- verify ----------------------------------------------------------------------------------

def test_the_right_code_gives_a_reset_token(world, client):
    world.create_account()
    challenge = challenge_of(client, "HemtjanstAB")
    response = verify(client, challenge, world.last_code(PHONE))
    assert response.status_code == 200, response.body
    body = response.json_body
    assert set(body) == {"reset_token", "username", "expires_in", "directory_locked"}
    assert body["username"] == USERNAME and body["expires_in"] == 600
    assert body["directory_locked"] is False  # SPEC 16: no directory locks in portal mode
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", body["reset_token"])
    assert body["reset_token"] not in scan(world, world.settings.challenges_table)
    assert "reset.code_verified" in events(world)


def test_a_code_with_surrounding_spaces_is_still_the_code(world, client):
    world.create_account()
    challenge = challenge_of(client)
    assert verify(client, challenge, f" {world.last_code(PHONE)} ").status_code == 200


def test_wrong_codes_say_how_many_attempts_are_left(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    answers = [verify(client, challenge, guess) for guess in (wrong(code), "12345", "abcdef",
                                                              "")]
    assert [r.status_code for r in answers] == [400] * 4
    assert [error(r)["code"] for r in answers] == ["invalid_code"] * 4
    assert [error(r)["attempts_left"] for r in answers] == [4, 3, 2, 1]
    assert events(world).count("reset.code_failed") == 4


def test_sixth_wrong_code_kills_the_code_even_if_right(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    for _ in range(5):
        assert verify(client, challenge, wrong(code)).status_code == 400
    sixth = verify(client, challenge, code)
    assert sixth.status_code == 410
    assert error(sixth)["code"] == "challenge_expired"


def test_a_code_is_valid_for_ten_minutes_by_the_clock(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    world.clock.advance(seconds=601)
    late = verify(client, challenge, code)
    assert late.status_code == 410
    assert error(late)["code"] == "challenge_expired"


def test_a_code_just_inside_ten_minutes_still_works(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    world.clock.advance(seconds=599)
    assert verify(client, challenge, code).status_code == 200


def test_a_code_can_be_used_only_once(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    assert verify(client, challenge, code).status_code == 200
    again = verify(client, challenge, code)
    assert again.status_code == 410
    assert error(again)["code"] == "challenge_expired"


def test_an_unknown_challenge_is_challenge_expired(world, client):
    response = verify(client, "x" * 43, "123456")
    assert response.status_code == 410
    assert error(response)["code"] == "challenge_expired"


def test_the_code_of_one_challenge_does_not_open_another(world, client):
    world.create_account()
    first = challenge_of(client)
    code = world.last_code(PHONE)
    world.clock.advance(seconds=60)
    second = challenge_of(client)
    other = world.last_code(PHONE)
    if code != other:
        assert verify(client, second, code).status_code == 400
    assert verify(client, first, code).status_code == 200


# -- resend ----------------------------------------------------------------------------------

def test_a_resend_before_60_seconds_is_resend_too_soon_with_retry_after(world, client):
    world.create_account()
    challenge = challenge_of(client)
    world.clock.advance(seconds=20)
    response = resend(client, challenge)
    assert response.status_code == 429
    assert error(response)["code"] == "resend_too_soon"
    assert error(response)["retry_after"] == 40
    assert response.headers["Retry-After"] == "40"
    world.deliver()
    assert len(world.sent()) == 1


def test_a_resend_after_60_seconds_sends_a_new_code_that_replaces_the_old(world, client):
    world.create_account()
    challenge = challenge_of(client)
    old = world.last_code(PHONE)
    world.clock.advance(seconds=60)
    response = resend(client, challenge)
    assert response.status_code == 202, response.body
    assert response.json_body == {"challenge": challenge, "expires_in": 600,
                                  "resend_after": 60}
    new = world.last_code(PHONE)
    assert len(world.codes_sent_to(PHONE)) == 2
    if old != new:
        stale = verify(client, challenge, old)
        assert stale.status_code == 400 and error(stale)["code"] == "invalid_code"
    assert verify(client, challenge, new).status_code == 200


def test_a_resent_code_is_valid_ten_minutes_from_the_resend(world, client):
    world.create_account()
    challenge = challenge_of(client)
    world.clock.advance(seconds=300)
    resend(client, challenge)
    code = world.last_code(PHONE)
    world.clock.advance(seconds=500)  # 800 s after the start, 500 s after the resend
    assert verify(client, challenge, code).status_code == 200


def test_failures_carry_over_across_a_resend(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    verify(client, challenge, wrong(code))
    verify(client, challenge, wrong(code))
    world.clock.advance(seconds=60)
    assert resend(client, challenge).status_code == 202
    new = world.last_code(PHONE)
    third = verify(client, challenge, wrong(new))
    assert error(third)["attempts_left"] == 2


def test_a_challenge_out_of_attempts_cannot_be_resent(world, client):
    world.create_account()
    challenge = challenge_of(client)
    code = world.last_code(PHONE)
    for _ in range(5):
        verify(client, challenge, wrong(code))
    world.clock.advance(seconds=60)
    response = resend(client, challenge)
    assert response.status_code == 410
    assert error(response)["code"] == "challenge_expired"
    world.deliver()
    assert len(world.sent()) == 1


def test_a_used_or_unknown_challenge_cannot_be_resent(world, client):
    world.create_account()
    challenge = challenge_of(client)
    assert verify(client, challenge, world.last_code(PHONE)).status_code == 200
    world.clock.advance(seconds=60)
    for which in (challenge, "y" * 43):
        response = resend(client, which)
        assert response.status_code == 410
        assert error(response)["code"] == "challenge_expired"


# -- complete --------------------------------------------------------------------------------

def test_a_new_password_replaces_the_old_one(world, client):
    world.create_account()
    token = reset_token(world, client)
    response = complete(client, token, "Bla-Hus-2026-x")
    assert response.status_code == 200, response.body
    assert response.json_body == {"changed": True, "username": USERNAME}
    assert login(client, password=PASSWORD).status_code == 401
    assert login(client, password="Bla-Hus-2026-x").status_code == 200
    assert "password.changed" in events(world)


REJECTED = [
    ("Åsa12345", ["classes"]),
    ("Abcdefg", ["min_length", "classes"]),
    ("Ab1!" * 33, ["max_length"]),
    ("xHEMTJANSTABx1!", ["contains_username"]),
    ("hemtjanstab", ["classes", "contains_username"]),
    (PASSWORD, ["reused"]),
    ("Qwerty123", ["common"]),
    ("Password1", ["common", "banned_word"]),
    ("Tr3s3rva-2026", ["banned_word"]),
    ("Lösenord-99", ["common", "banned_word"]),  # a common word with digits, and banned
]


def test_a_rejected_password_names_every_broken_rule(world, client):
    world.create_account()
    token = reset_token(world, client)  # a rejection leaves the token usable
    for password, rules in REJECTED:
        response = complete(client, token, password)
        assert response.status_code == 422, (password, response.body)
        assert error(response)["code"] == "password_rejected"
        violations = error(response)["violations"]
        assert [v["rule"] for v in violations] == rules, password
        assert all(isinstance(v["message"], str) and v["message"] for v in violations)
    assert events(world).count("password.rejected") == len(REJECTED)
    assert login(client).status_code == 200


@pytest.mark.parametrize("password", ["tuvKAJ58", "Abc def 12", "Bla-Hus-2026-x",
                                      "Åsa12345!"])
def test_passwords_that_follow_the_rules_are_accepted(world, client, password):
    world.create_account()
    assert complete(client, reset_token(world, client), password).status_code == 200


def test_rule_messages_follow_the_language(world, client):
    world.create_account()
    token = reset_token(world, client)
    swedish = error(complete(client, token, "Abcdefg"))["violations"]
    english = error(complete(client, token, "Abcdefg", lang="en"))["violations"]
    assert swedish[0] == {"rule": "min_length", "message": "Minst 8 tecken."}
    assert english[0] == {"rule": "min_length", "message": "At least 8 characters."}
    assert "inte Å, Ä, Ö" in swedish[1]["message"]


def test_a_rejected_password_can_be_retried_with_the_same_token(world, client):
    world.create_account()
    token = reset_token(world, client)
    assert complete(client, token, "Åsa12345").status_code == 422
    assert complete(client, token, PASSWORD).status_code == 422
    assert complete(client, token, "tuvKAJ58").status_code == 200
