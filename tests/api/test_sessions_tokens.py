"""Sessions and reset tokens (SPEC 6): lifetimes by the clock, bearer only, single use, what
a successful reset ends; and the password history of SPEC 3."""
import json

from tests.api.helpers import (NEW_PHONE, PASSWORD, PHONE, USERNAME, complete, error, login,
                               request_phone, reset_token, scan, session_of, verify_phone)
from tests.api_client import post


def assert_invalid_session(response):
    assert response.status_code == 401, response.body
    assert error(response)["code"] == "invalid_session"


# -- pwreg sessions --------------------------------------------------------------------------

def test_a_session_is_stored_only_hashed(world, client):
    world.create_account()
    session = session_of(client)
    assert session not in scan(world, world.settings.challenges_table)


def test_a_session_lasts_15_minutes_by_the_clock(world, client):
    world.create_account()
    session = session_of(client)
    world.clock.advance(seconds=899)
    # Still valid: the session is accepted and the body is judged.
    assert error(request_phone(client, session, "hello"))["code"] == "invalid_phone"
    world.clock.advance(seconds=2)
    assert_invalid_session(request_phone(client, session, NEW_PHONE))
    assert_invalid_session(verify_phone(client, session, "123456"))
    world.deliver()
    assert world.sent() == []


def test_a_pending_code_dies_with_its_session(world, client):
    world.create_account()
    session = session_of(client)
    world.clock.advance(seconds=500)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    code = world.last_code(NEW_PHONE)
    world.clock.advance(seconds=401)  # the code's 10 minutes are not over; the session is
    assert_invalid_session(verify_phone(client, session, code))
    assert world.portal.accounts.get(USERNAME).holders[0].phone == PHONE


def test_a_missing_or_garbage_bearer_is_invalid_session(world, client):
    world.create_account()
    session_of(client)  # a real session exists, but is not the one sent
    for authorization in (None, "", "Bearer", "Bearer ", "Bearer garbage", "Bearer " + "A" * 43,
                          "Basic aGVtOnR1dg==", "garbage"):
        headers = {"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.7"}
        if authorization is not None:
            headers["Authorization"] = authorization
        for path, body in [("/api/registration/holders",
                            {"name": "Anna Andersson", "phone": NEW_PHONE}),
                           ("/api/registration/holders/verify", {"code": "123456"})]:
            assert_invalid_session(client.http.post(path, headers=headers,
                                                    body=json.dumps(body)))
    world.deliver()
    assert world.sent() == []


def test_the_session_is_only_taken_from_the_authorization_header(world, client):
    world.create_account()
    session = session_of(client)
    response = post(client, "/api/registration/holders",
                    {"name": "Anna", "phone": NEW_PHONE, "session": session})
    assert_invalid_session(response)
    response = client.http.post(f"/api/registration/holders?session={session}",
                                headers={"Content-Type": "application/json"},
                                body=b'{"name": "Anna", "phone": "+46707654321"}')
    assert_invalid_session(response)


def test_logout_answers_204_and_ends_the_session_and_its_pending_code(world, client):
    world.create_account()
    session = session_of(client)
    assert request_phone(client, session, NEW_PHONE).status_code == 202
    code = world.last_code(NEW_PHONE)
    out = post(client, "/api/registration/logout", session=session)
    assert out.status_code == 204 and out.body == b""
    assert_invalid_session(request_phone(client, session, NEW_PHONE))
    assert_invalid_session(verify_phone(client, session, code))
    assert world.portal.accounts.get(USERNAME).holders[0].phone == PHONE


def test_logout_without_a_session_is_still_204(world, client):
    assert post(client, "/api/registration/logout").status_code == 204
    assert post(client, "/api/registration/logout", session="garbage").status_code == 204


def test_logging_out_one_session_leaves_another(world, client):
    world.create_account()
    first, second = session_of(client), session_of(client)
    post(client, "/api/registration/logout", session=first)
    assert request_phone(client, second, NEW_PHONE).status_code == 202


# -- reset tokens ----------------------------------------------------------------------------

def test_a_reset_token_is_stored_only_hashed(world, client):
    world.create_account()
    token = reset_token(world, client)
    assert token not in scan(world, world.settings.challenges_table)


def test_a_reset_token_lasts_10_minutes_by_the_clock(world, client):
    world.create_account()
    token = reset_token(world, client)
    world.clock.advance(seconds=601)
    response = complete(client, token, "Bla-Hus-2026-x")
    assert response.status_code == 410
    assert error(response)["code"] == "token_expired"
    assert login(client).status_code == 200  # the password did not change


def test_a_reset_token_just_inside_10_minutes_still_works(world, client):
    world.create_account()
    token = reset_token(world, client)
    world.clock.advance(seconds=599)
    assert complete(client, token, "Bla-Hus-2026-x").status_code == 200


def test_a_reset_token_is_single_use(world, client):
    world.create_account()
    token = reset_token(world, client)
    assert complete(client, token, "Bla-Hus-2026-x").status_code == 200
    again = complete(client, token, "Annat-Losen-77")
    assert again.status_code == 410
    assert error(again)["code"] == "token_expired"
    assert login(client, password="Bla-Hus-2026-x").status_code == 200


def test_an_unknown_reset_token_is_token_expired(world, client):
    response = complete(client, "z" * 43, "Bla-Hus-2026-x")
    assert response.status_code == 410
    assert error(response)["code"] == "token_expired"


def test_a_rejected_password_leaves_the_token_usable(world, client):
    world.create_account()
    token = reset_token(world, client)
    for rejected in ("Åsa12345", "xHEMTJANSTABx1!", PASSWORD, "Password1"):
        assert complete(client, token, rejected).status_code == 422
    assert complete(client, token, "Bla-Hus-2026-x").status_code == 200


# -- what a successful reset ends ------------------------------------------------------------

def test_a_successful_reset_ends_the_accounts_pwreg_sessions(world, client):
    world.create_account()
    session = session_of(client)
    assert complete(client, reset_token(world, client), "Bla-Hus-2026-x").status_code == 200
    world.clock.advance(seconds=60)
    assert_invalid_session(request_phone(client, session, NEW_PHONE))
    fresh = session_of(client, password="Bla-Hus-2026-x")
    assert request_phone(client, fresh, NEW_PHONE).status_code == 202


def test_a_pending_number_change_cannot_be_finished_after_a_reset(world, client):
    world.create_account()
    session = session_of(client)
    request_phone(client, session, NEW_PHONE)
    code = world.last_code(NEW_PHONE)
    world.clock.advance(seconds=60)
    assert complete(client, reset_token(world, client), "Bla-Hus-2026-x").status_code == 200
    assert verify_phone(client, session, code).status_code == 401
    assert world.portal.accounts.get(USERNAME).holders[0].phone == PHONE


def test_a_successful_reset_clears_the_pwreg_login_lock(world, client):
    world.create_account()
    for _ in range(5):
        login(client, password="Fel-Losen-1")
    assert login(client).status_code == 429
    assert complete(client, reset_token(world, client), "Bla-Hus-2026-x").status_code == 200
    assert login(client, password="Bla-Hus-2026-x").status_code == 200


# -- password history ------------------------------------------------------------------------

def later_reset_token(world, client):
    world.clock.advance(minutes=16)  # past the limit of 3 code SMS per 15 minutes
    return reset_token(world, client)


def test_the_current_password_counts_as_reused_with_the_default_history(world, client):
    world.create_account()
    response = complete(client, reset_token(world, client), PASSWORD)
    assert [v["rule"] for v in error(response)["violations"]] == ["reused"]
    assert str(24) in error(response)["violations"][0]["message"]


def test_a_password_may_come_back_only_after_history_many_other_passwords(
        world, client, configure):
    configure(PASSWORD_HISTORY=3)
    world.create_account(password="Forsta-Losen-1")
    assert complete(client, later_reset_token(world, client), "Andra-Losen-2").status_code == 200
    assert complete(client, later_reset_token(world, client), "Tredje-Losen-3").status_code == 200
    # The last 3, the current one included: Tredje, Andra, Forsta.
    token = later_reset_token(world, client)
    reused = complete(client, token, "Forsta-Losen-1")
    assert reused.status_code == 422
    assert [v["rule"] for v in error(reused)["violations"]] == ["reused"]
    assert complete(client, token, "Fjarde-Losen-4").status_code == 200
    # Now Forsta is the 4th newest: it may be used again; Andra may not.
    token = later_reset_token(world, client)
    assert error(complete(client, token, "Andra-Losen-2"))["violations"][0]["rule"] == "reused"
    assert complete(client, token, "Forsta-Losen-1").status_code == 200
    assert login(client, password="Forsta-Losen-1").status_code == 200
