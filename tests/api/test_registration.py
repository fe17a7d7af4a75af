"""pwreg (SPEC 2, 8, 11 v2): log in, see the holders, add oneself (a name and a number; a code
to the new number, saved only once verified), remove a holder. Phone numbers (SPEC 5):
Swedish mobiles in any usual notation, nothing else."""
import re

import pytest

from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, disable, error, events,
                               login, request_phone, session_of, start, verify_phone, wrong)


def holder_phones(world, username=USERNAME) -> list[str]:
    return [holder.phone for holder in world.portal.accounts.get(username).holders]


def test_login_answers_session_username_holders_and_password_times(world, client):
    world.create_account()
    world.clock.advance(days=10)
    response = login(client)
    assert response.status_code == 200, response.body
    body = response.json_body
    assert set(body) == {"session", "username", "holders", "max_holders", "holder_identity",
                         "password_changed_at", "password_expires_at"}
    assert body["holder_identity"] == "off"  # SPEC 15: no identity provider configured
    assert body["username"] == USERNAME
    [holder] = world.portal.accounts.get(USERNAME).holders
    assert body["holders"] == [{"id": holder.id, "name": "",
                                "phone_masked": "070-*** ** 67", "authenticator": False,
                                "proven": False}]
    assert body["max_holders"] == 5
    assert PHONE not in response.body.decode()  # never the whole number
    # Created at the fake clock's 2026-11-25 08:00 UTC; 90 days' maximum age.
    assert body["password_changed_at"] == "2026-11-25T08:00:00Z"
    assert body["password_expires_at"] == "2027-02-23T08:00:00Z"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", body["session"])
    assert "login.succeeded" in events(world)


def test_login_of_an_account_without_holders_lists_none(world, client):
    world.create_account(phone=None)
    assert login(client).json_body["holders"] == []


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


def test_a_code_goes_to_the_new_number_and_the_holder_is_saved_only_once_verified(
        world, client):
    world.create_account()
    session = session_of(client)
    asked = request_phone(client, session, "070-765 43 21", name=" Anna Andersson ")
    assert asked.status_code == 202, asked.body
    assert asked.json_body == {"phone": NEW_PHONE, "expires_in": 600, "resend_after": 60}
    code = world.last_code(NEW_PHONE)
    assert world.codes_sent_to(PHONE) == []  # nothing to the holder there is
    # Not saved yet: a reset with the new number sends nothing.
    assert holder_phones(world) == [PHONE]
    assert len(login(client).json_body["holders"]) == 1
    wrong_one = verify_phone(client, session, wrong(code))
    assert wrong_one.status_code == 400
    assert holder_phones(world) == [PHONE]

    verified = verify_phone(client, session, code)
    assert verified.status_code == 200, verified.body
    [first, anna] = world.portal.accounts.get(USERNAME).holders
    assert verified.json_body == {"holder": {"id": anna.id, "name": "Anna Andersson",
                                             "phone_masked": "070-*** ** 21",
                                             "authenticator": False, "proven": False}}
    assert (anna.phone, anna.added_by) == (NEW_PHONE, anna.id)  # she added herself
    assert holder_phones(world) == [PHONE, NEW_PHONE]
    [added] = [r for r in world.audit(USERNAME)
               if r["event"] == "holder.added" and r.get("subject_id") == anna.id]
    assert (added["holder_id"], added["holder_name"], added["subject_id"]) == (
        anna.id, "Anna Andersson", anna.id)
    # From now on, a reset with her number sends her a code, and the first one's still works.
    world.clock.advance(seconds=60)
    assert start(client, phone="0707654321").status_code == 202
    world.deliver()
    assert len(world.codes_sent_to(NEW_PHONE)) == 2
    world.clock.advance(seconds=60)
    assert start(client).status_code == 202
    world.deliver()
    assert len(world.codes_sent_to(PHONE)) == 1


def test_a_first_number_can_be_registered_on_an_account_without_one(world, client):
    world.create_account(phone=None)
    session = session_of(client)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    assert verify_phone(client, session, world.last_code(NEW_PHONE)).status_code == 200
    assert holder_phones(world) == [NEW_PHONE]


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
    assert holder_phones(world) == [PHONE]


def test_a_registration_code_is_valid_for_ten_minutes(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    world.clock.advance(seconds=601)
    late = verify_phone(client, session, code)
    assert late.status_code == 410
    assert error(late)["code"] == "code_expired"
    assert holder_phones(world) == [PHONE]


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
    assert holder_phones(world) == [PHONE, NEW_PHONE]  # the typo never became a holder


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
    assert holder_phones(world) == [PHONE]


def test_garbage_is_invalid_phone(world, client):
    world.create_account()
    session = session_of(client)
    for typed in ("hello", "12", "", "070-123 45 67 ring mig", "0701234567890123456789",
                  "+46 70 abc"):
        response = request_phone(client, session, typed)
        assert response.status_code == 400, (typed, response.body)
        assert error(response)["code"] == "invalid_phone", typed
    assert world.deliver()["delivered"] == 0
    assert holder_phones(world) == [PHONE]
