"""pwreg (SPEC 2, 8): log in, ask for a code to a new number, verify it; the number is saved
only then. Phone numbers (SPEC 5): Swedish mobiles in any usual notation, nothing else."""
import re

import pytest

from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, disable, error, events,
                               login, request_phone, session_of, start, verify_phone, wrong)


def test_login_answers_session_username_number_and_password_times(world, client):
    world.create_account()
    world.clock.advance(days=10)
    response = login(client)
    assert response.status_code == 200, response.body
    body = response.json_body
    assert set(body) == {"session", "username", "phone", "password_changed_at",
                         "password_expires_at"}
    assert body["username"] == USERNAME
    assert body["phone"] == PHONE
    # Created at the fake clock's 2026-11-25 08:00 UTC; 90 days' maximum age.
    assert body["password_changed_at"] == "2026-11-25T08:00:00Z"
    assert body["password_expires_at"] == "2027-02-23T08:00:00Z"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", body["session"])
    assert "login.succeeded" in events(world)


def test_login_of_an_account_without_a_number_says_phone_null(world, client):
    world.create_account(phone=None)
    assert login(client).json_body["phone"] is None


@pytest.mark.parametrize("who, password", [("finns-inte", PASSWORD),
                                           (USERNAME, "tuvKAJ58!X"),
                                           ("avstangd", PASSWORD)],
                         ids=["unknown", "wrong-password", "disabled"])
def test_a_failed_login_is_401_invalid_credentials(world, client, who, password):
    world.create_account()
    world.create_account("avstangd")
    disable(world, "avstangd")
    response = login(client, who, password)
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_credentials"
    assert "session" not in response.json_body
    assert "login.failed" in events(world, who)


def test_a_code_goes_to_the_new_number_and_the_number_is_saved_only_once_verified(world, client):
    world.create_account()
    session = session_of(client)
    asked = request_phone(client, session, "070-765 43 21")
    assert asked.status_code == 202, asked.body
    assert asked.json_body == {"phone": NEW_PHONE, "expires_in": 600, "resend_after": 60}
    code = world.last_code(NEW_PHONE)
    assert world.codes_sent_to(PHONE) == []  # nothing to the old number
    # Not saved yet: a reset code still goes to the old number.
    assert world.portal.accounts.get(USERNAME).phone == PHONE
    assert login(client).json_body["phone"] == PHONE
    wrong_one = verify_phone(client, session, wrong(code))
    assert wrong_one.status_code == 400
    assert world.portal.accounts.get(USERNAME).phone == PHONE

    verified = verify_phone(client, session, code)
    assert verified.status_code == 200, verified.body
    assert verified.json_body == {"phone": NEW_PHONE}
    assert world.portal.accounts.get(USERNAME).phone == NEW_PHONE
    assert "phone.changed" in events(world)
    # From now on, reset codes go to the new number.
    world.clock.advance(seconds=60)
    assert start(client).status_code == 202
    assert len(world.codes_sent_to(NEW_PHONE)) == 1 and world.last_code(NEW_PHONE)
    assert world.codes_sent_to(PHONE) == []


def test_a_first_number_can_be_registered_on_an_account_without_one(world, client):
    world.create_account(phone=None)
    session = session_of(client)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    assert verify_phone(client, session, world.last_code(NEW_PHONE)).status_code == 200
    assert world.portal.accounts.get(USERNAME).phone == NEW_PHONE


def test_a_verified_code_cannot_be_used_twice(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    assert verify_phone(client, session, code).status_code == 200
    again = verify_phone(client, session, code)
    assert again.status_code == 410
    assert error(again)["code"] == "code_expired"


def test_wrong_codes_count_down_and_the_sixth_attempt_fails_even_if_right(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    left = []
    for _ in range(5):
        response = verify_phone(client, session, wrong(code))
        assert response.status_code == 400
        assert error(response)["code"] == "invalid_code"
        left.append(error(response)["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    sixth = verify_phone(client, session, code)
    assert sixth.status_code == 410
    assert error(sixth)["code"] == "code_expired"
    assert world.portal.accounts.get(USERNAME).phone == PHONE


def test_a_registration_code_is_valid_for_ten_minutes(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    world.clock.advance(seconds=601)
    late = verify_phone(client, session, code)
    assert late.status_code == 410
    assert error(late)["code"] == "code_expired"
    assert world.portal.accounts.get(USERNAME).phone == PHONE


def test_a_registration_code_just_inside_ten_minutes_still_works(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    world.clock.advance(seconds=599)
    assert verify_phone(client, session, code).status_code == 200


def test_verifying_without_asking_for_a_code_is_code_expired(world, client):
    world.create_account()
    response = verify_phone(client, session_of(client), "123456")
    assert response.status_code == 410
    assert error(response)["code"] == "code_expired"


def test_asking_again_replaces_the_code_and_the_number(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, "0701111111")  # a typo
    first = world.last_code("+46701111111")
    world.clock.advance(seconds=60)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    second = world.last_code(NEW_PHONE)
    if first != second:
        assert verify_phone(client, session, first).status_code == 400
    assert verify_phone(client, session, second).status_code == 200
    assert world.portal.accounts.get(USERNAME).phone == NEW_PHONE


def test_a_second_code_within_a_minute_is_too_many_requests(world, client):
    world.create_account()
    session = session_of(client)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    world.clock.advance(seconds=30)
    again = request_phone(client, session, NEW_PHONE)
    assert again.status_code == 429
    assert error(again)["code"] == "too_many_requests"
    assert error(again)["retry_after"] == 30 and again.headers["Retry-After"] == "30"
    world.deliver()
    assert len(world.codes_sent_to(NEW_PHONE)) == 1


def test_the_session_of_an_account_that_gets_disabled_stops_working(world, client):
    world.create_account()
    session = session_of(client)
    disable(world)
    response = request_phone(client, session, NEW_PHONE)
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_session"


# -- phone numbers ---------------------------------------------------------------------------

def test_swedish_mobile_numbers_are_accepted_in_national_and_international_form(world, client):
    world.create_account(phone=None)
    session = session_of(client)
    for typed in ("070-123 45 67", "0701234567", "+46701234567"):
        response = request_phone(client, session, typed)
        assert response.status_code == 202, (typed, response.body)
        assert response.json_body["phone"] == "+46701234567"
        world.clock.advance(seconds=60)  # one code SMS per minute and username
    world.deliver()
    assert len(world.codes_sent_to("+46701234567")) == 3


def test_landlines_and_foreign_mobiles_are_phone_not_allowed(world, client):
    world.create_account()
    session = session_of(client)
    for typed in ("08-123 456 78", "+4681234567", "019-12 34 56", "+358 40 1234567",
                  "+47 412 34 567", "+44 7700 900123"):
        response = request_phone(client, session, typed, lang="en")
        assert response.status_code == 400, (typed, response.body)
        assert error(response)["code"] == "phone_not_allowed", typed
        assert error(response)["message"].startswith(
            "The number must be a Swedish mobile number.")
    assert world.deliver()["delivered"] == 0
    assert world.portal.accounts.get(USERNAME).phone == PHONE


def test_garbage_is_invalid_phone(world, client):
    world.create_account()
    session = session_of(client)
    for typed in ("hello", "12", "", "070-123 45 67 ring mig", "0701234567890123456789",
                  "+46 70 abc"):
        response = request_phone(client, session, typed)
        assert response.status_code == 400, (typed, response.body)
        assert error(response)["code"] == "invalid_phone", typed
    assert world.deliver()["delivered"] == 0
    assert world.portal.accounts.get(USERNAME).phone == PHONE
