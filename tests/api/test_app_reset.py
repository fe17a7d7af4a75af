"""pwreset with the authenticator app (SPEC 8 v2, 12; issue 15): `channel: "app"` on start
sends no SMS, and verify checks the code against the app of the holder the number names.

The codes are made by pyotp from the holder's secret, as an app makes them; the holder's app
is written to the account as enrolment saves it (tests/api/helpers.py `give_app`).
"""
from __future__ import annotations

import json

import pytest

from chalicelib.domain import authenticator
from chalicelib.domain.records import ResetChallenge
from tests.api.helpers import (
    PASSWORD,
    PHONE,
    USERNAME,
    app_challenge,
    app_code,
    challenge_of,
    complete,
    error,
    events,
    give_app,
    login,
    queued,
    resend,
    scan,
    start,
    start_app,
    verify,
    wrong,
)
from tests.api_client import post

NEW_PASSWORD = "Ny-Sommarvind-81"
BO = "+46707654321"  # a second holder, without an app
STRANGER = "+46709999999"


@pytest.fixture
def secret(world, client):
    """An account whose holder (PHONE) has an app, and Bo (BO), who has none."""
    world.create_account()
    world.portal.holder_changes.add(USERNAME, "Bo Ek", BO)
    world.deliver()  # the notices of the adding, so that later counts start from nothing
    return give_app(world.portal, world.clock.now())


def now(world):
    return world.clock.now()


def records(world, event, username=USERNAME) -> list[dict]:
    return [r for r in reversed(world.audit(username)) if r["event"] == event]


def holder_id(world, phone=PHONE) -> str:
    return next(h.id for h in world.portal.accounts.get(USERNAME).holders if h.phone == phone)


# -- a reset with the app --------------------------------------------------------------------

def test_a_holder_with_an_app_resets_with_its_code_and_no_sms_is_queued(world, client, secret):
    started = start_app(client)
    assert started.status_code == 202
    assert set(started.json_body) == {"challenge", "expires_in", "resend_after"}
    assert queued(world) == 0  # no SMS for the app
    verified = verify(client, started.json_body["challenge"], app_code(secret, now(world)))
    assert verified.status_code == 200, verified.body
    assert set(verified.json_body) == {"reset_token", "username", "expires_in",
                                       "directory_locked"}
    assert verified.json_body["username"] == USERNAME
    changed = complete(client, verified.json_body["reset_token"], NEW_PASSWORD)
    assert changed.status_code == 200, changed.body
    assert login(client, password=NEW_PASSWORD).status_code == 200
    assert login(client, password=PASSWORD).status_code == 401
    account = world.portal.accounts.get(USERNAME)
    assert next(h for h in account.holders if h.phone == PHONE).last_used_at == now(world)


def test_the_app_reset_is_audited_with_its_channel_and_names_the_holder(world, client, secret):
    challenge = app_challenge(client)
    assert verify(client, challenge, "000000").status_code == 400
    token = verify(client, challenge, app_code(secret, now(world))).json_body["reset_token"]
    assert complete(client, token, NEW_PASSWORD).status_code == 200
    [requested] = records(world, "reset.requested")
    assert (requested["outcome"], requested["channel"]) == ("app", "app")
    assert requested["holder_id"] == holder_id(world)
    [failed] = records(world, "reset.code_failed")
    assert (failed["outcome"], failed["channel"]) == ("wrong_code", "app")
    [verified] = records(world, "reset.code_verified")
    assert (verified["channel"], verified["holder_id"]) == ("app", holder_id(world))
    [changed] = records(world, "password.changed")
    assert changed["holder_id"] == holder_id(world)


def test_an_sms_reset_is_audited_with_channel_sms(world, client, secret):
    challenge = challenge_of(client)
    assert verify(client, challenge, world.last_code(PHONE)).status_code == 200
    [requested] = records(world, "reset.requested")
    assert (requested["outcome"], requested["channel"]) == ("code_queued", "sms")
    [verified] = records(world, "reset.code_verified")
    assert verified["channel"] == "sms"


def test_neither_the_apps_secret_nor_its_nonce_reaches_the_trail_or_the_log(
        world, client, secret, capsys):
    nonce = world.portal.accounts.get(USERNAME).holder(holder_id(world)).app_nonce
    challenge = app_challenge(client)
    verify(client, challenge, "000000")
    verify(client, challenge, app_code(secret, now(world)))
    trail = scan(world, world.settings.audit_table)
    logged = capsys.readouterr().out
    assert "reset.code_verified" in trail and "reset.code_verified" in logged
    for text in (trail, logged):
        assert nonce not in text and secret not in text
    assert secret not in scan(world, world.settings.challenges_table)


@pytest.mark.parametrize("channel", ["SMS", "App", "email", "", 1, True, ["app"], {}])
def test_a_channel_other_than_sms_or_app_is_400_invalid_request_and_counts_nothing(
        world, client, secret, channel):
    before = {table: scan(world, table) for table in (world.settings.limits_table,
                                                       world.settings.challenges_table,
                                                       world.settings.audit_table)}
    response = post(client, "/api/reset/start",
                    {"username": USERNAME, "phone": PHONE, "channel": channel})
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request"
    assert {table: scan(world, table) for table in before} == before
    assert queued(world) == 0


@pytest.mark.parametrize("body", [{}, {"channel": None}, {"channel": "sms"}])
def test_without_a_channel_or_with_sms_the_code_goes_by_sms(world, client, secret, body):
    response = post(client, "/api/reset/start", {"username": USERNAME, "phone": PHONE, **body})
    assert response.status_code == 202
    code = world.last_code(PHONE)
    assert verify(client, response.json_body["challenge"], code).status_code == 200


def test_app_starts_count_no_sms_limit(world, client, secret):
    for _ in range(6):  # past every SMS limit (1 per 60 s, 3 per 15 min, 5 per 24 h)
        app_challenge(client)
    assert queued(world) == 0
    challenge_of(client)  # an SMS at once: none of the above counted
    assert queued(world) == 1
    assert len(world.codes_sent_to(PHONE)) == 1


def test_app_starts_count_against_the_networks_start_limit(world, client, secret, configure):
    configure(LIMIT_RESET_STARTS_PER_IP="2/3600")
    assert start_app(client).status_code == 202
    assert start(client).status_code == 202
    refused = start_app(client)
    assert refused.status_code == 429
    assert error(refused)["code"] == "too_many_requests"


# -- wrong codes and the window --------------------------------------------------------------

def test_wrong_app_codes_count_down_and_the_sixth_kills_the_code_even_if_right(
        world, client, secret):
    challenge = app_challenge(client)
    right = app_code(secret, now(world))
    left = [error(verify(client, challenge, wrong(right)))["attempts_left"] for _ in range(5)]
    assert left == [4, 3, 2, 1, 0]
    dead = verify(client, challenge, right)
    assert dead.status_code == 410
    assert error(dead)["code"] == "challenge_expired"


def test_a_code_one_step_old_or_ahead_is_accepted_two_steps_not(world, client, secret):
    challenge = app_challenge(client)
    for steps in (-2, 2):
        refused = verify(client, challenge, app_code(secret, now(world), steps))
        assert refused.status_code == 400, steps
        assert error(refused)["code"] == "invalid_code"
    assert verify(client, challenge, app_code(secret, now(world), -1)).status_code == 200
    world.clock.advance(minutes=5)  # a fresh window: nothing accepted from it yet
    ahead = app_challenge(client)
    assert verify(client, ahead, app_code(secret, now(world), 1)).status_code == 200


def test_the_app_code_is_checked_by_the_clock_at_verify(world, client, secret):
    challenge = app_challenge(client)
    code = app_code(secret, now(world))
    world.clock.advance(seconds=90)  # three steps on: the code is too old
    late = verify(client, challenge, code)
    assert late.status_code == 400 and error(late)["code"] == "invalid_code"
    assert verify(client, challenge, app_code(secret, now(world))).status_code == 200


def test_an_app_challenge_expires_after_ten_minutes_as_an_sms_code(world, client, secret):
    challenge = app_challenge(client)
    world.clock.advance(minutes=10, seconds=1)
    expired = verify(client, challenge, app_code(secret, now(world)))
    assert expired.status_code == 410
    assert error(expired)["code"] == "challenge_expired"


def test_a_code_that_is_no_six_digits_is_a_wrong_app_code(world, client, secret):
    challenge = app_challenge(client)
    for code in ("12345", "1234567", "abcdef", ""):
        answer = verify(client, challenge, code)
        assert answer.status_code == 400 and error(answer)["code"] == "invalid_code", code
    # a code with spaces around it is still the code, as for SMS
    assert verify(client, challenge, f" {app_code(secret, now(world))} ").status_code == 200


# -- replay ----------------------------------------------------------------------------------

def test_the_same_app_code_twice_is_a_wrong_code_the_second_time(world, client, secret):
    code = app_code(secret, now(world))
    assert verify(client, app_challenge(client), code).status_code == 200
    again = verify(client, app_challenge(client), code)
    assert again.status_code == 400
    assert error(again) == error(verify(client, app_challenge(client), wrong(code)))
    assert error(again)["code"] == "invalid_code" and error(again)["attempts_left"] == 4
    assert sorted(r["outcome"] for r in records(world, "reset.code_failed")) == \
        ["replayed", "wrong_code"]
    assert len(records(world, "reset.code_verified")) == 1


def test_a_code_of_an_earlier_step_after_a_later_one_was_accepted_is_refused(
        world, client, secret):
    assert verify(client, app_challenge(client), app_code(secret, now(world))).status_code == 200
    earlier = verify(client, app_challenge(client), app_code(secret, now(world), -1))
    assert earlier.status_code == 400 and error(earlier)["code"] == "invalid_code"
    # the next step's code is new: accepted
    world.clock.advance(seconds=30)
    assert verify(client, app_challenge(client), app_code(secret, now(world))).status_code == 200


def test_the_step_the_enrolment_accepted_blocks_the_same_code_at_reset(world, client, secret):
    step = authenticator.step_at(now(world).timestamp())
    # what enrolment's first code writes, in its transaction
    world.portal.uow.write(world.portal.records.accepted_step(holder_id(world), step))
    challenge = app_challenge(client)
    refused = verify(client, challenge, app_code(secret, now(world)))
    assert refused.status_code == 400 and error(refused)["code"] == "invalid_code"
    world.clock.advance(seconds=30)
    assert verify(client, challenge, app_code(secret, now(world))).status_code == 200


def test_a_replayed_code_counts_towards_the_pause(world, client, secret):
    code = app_code(secret, now(world))
    assert verify(client, app_challenge(client), code).status_code == 200
    for _ in range(2):
        challenge = app_challenge(client)
        for _ in range(5):
            assert verify(client, challenge, code).status_code == 400
    assert "reset.paused" in events(world)


# -- who gets nothing ------------------------------------------------------------------------

# (username, number) of every case that must never get a token, whatever the code: the
# holder's app's right code included
NO_TOKEN = {"holder without an app": (USERNAME, BO),
            "stranger's number": (USERNAME, STRANGER),
            "unknown user": ("finns.inte", PHONE)}


def test_a_holder_without_an_app_a_stranger_and_an_unknown_user_never_get_a_token(
        world, client, secret):
    found = {}
    for i, (kind, (username, phone)) in enumerate(NO_TOKEN.items()):
        challenge = app_challenge(client, username, phone, ip=f"203.0.113.{i + 1}")
        tries = [verify(client, challenge, code) for code in (
            app_code(secret, now(world)), app_code(secret, now(world), -1),
            app_code(secret, now(world), 1), "000000")]
        assert all(t.status_code == 400 for t in tries), kind
        found[kind] = [t.json_body for t in tries]
    # the same answers, attempts counted down alike
    assert len({json.dumps(f, sort_keys=True) for f in found.values()}) == 1, found
    assert [b["error"]["attempts_left"] for b in found["unknown user"]] == [4, 3, 2, 1]
    assert records(world, "reset.code_verified") == []
    assert queued(world) == 0
    # and the holder with the app still resets with the code of this very step
    assert verify(client, app_challenge(client), app_code(secret, now(world))).status_code == 200


def test_each_case_is_audited_with_its_outcome_and_channel(world, client, secret):
    for username, phone in NO_TOKEN.values():
        verify(client, app_challenge(client, username, phone), "000000")
    for event in ("reset.requested", "reset.code_failed"):
        found = sorted((r["outcome"], r["channel"]) for r in records(world, event))
        assert found == [("no_app", "app"), ("no_holder", "app")], event
        unknown = records(world, event, "finns.inte")
        assert [(r["outcome"], r["channel"]) for r in unknown] == [("no_holder", "app")]


def test_wrong_codes_for_a_holder_without_an_app_pause_the_account_as_any_holders_do(
        world, client, secret):
    """The number is a holder's: its wrong codes count against the account, whatever the
    channel (SPEC 11: only someone with a holder's number reaches the counter), so the
    pause does not tell whether the holder has an app."""
    for n in range(2):
        challenge = app_challenge(client, phone=BO, ip=f"198.51.100.{n + 20}")
        for _ in range(5):
            assert verify(client, challenge, "000000").status_code == 400
    assert "reset.paused" in events(world)
    paused = verify(client, app_challenge(client), app_code(secret, now(world)))
    assert paused.status_code == 410 and error(paused)["code"] == "challenge_expired"


def test_wrong_app_codes_on_a_strangers_number_never_pause_the_account(world, client, secret):
    for n in range(2):  # ten: what would pause a holder's reset
        challenge = app_challenge(client, phone=STRANGER, ip=f"198.51.100.{n + 20}")
        for _ in range(5):
            assert verify(client, challenge, "000000").status_code == 400
    assert "reset.paused" not in events(world)
    assert verify(client, app_challenge(client), app_code(secret, now(world))).status_code == 200


def test_ten_wrong_app_codes_pause_the_reset_as_sms_codes_do(world, client, secret):
    live = app_challenge(client)  # made before the pause
    for n in range(2):
        challenge = app_challenge(client, ip=f"198.51.100.{n + 20}")
        for _ in range(5):
            assert error(verify(client, challenge, "000000"))["code"] == "invalid_code"
    assert "reset.paused" in events(world)
    for challenge in (live, app_challenge(client)):
        answer = verify(client, challenge, app_code(secret, now(world)))
        assert answer.status_code == 410 and error(answer)["code"] == "challenge_expired"
    # not even after the pause
    world.clock.advance(hours=24, minutes=1)
    after = verify(client, live, app_code(secret, now(world)))
    assert after.status_code == 410
    assert verify(client, app_challenge(client), app_code(secret, now(world))).status_code == 200


# -- the app changed between the code and the password ---------------------------------------

@pytest.mark.parametrize("change", ["replaced", "removed"])
def test_a_token_whose_app_was_replaced_or_removed_since_is_token_expired(
        world, client, secret, change):
    token = verify(client, app_challenge(client),
                   app_code(secret, now(world))).json_body["reset_token"]
    if change == "replaced":
        give_app(world.portal, now(world))
    else:
        account = world.portal.accounts.get(USERNAME)
        world.portal.uow.write(world.portal.accounts.save(account.with_holders(
            [h.without_app() for h in account.holders]), account.version))
    refused = complete(client, token, NEW_PASSWORD)
    assert refused.status_code == 410
    assert error(refused)["code"] == "token_expired"
    assert login(client).status_code == 200  # the password is unchanged


def test_an_app_added_after_the_start_is_not_the_challenges(world, client, secret):
    """The challenge notes the app as it was at the start: Bo, who had none then, does not
    get a token with the app he adds later (a new start does)."""
    challenge = app_challenge(client, phone=BO)
    bo = give_app(world.portal, now(world), phone=BO)
    assert verify(client, challenge, app_code(bo, now(world))).status_code == 400
    assert verify(client, app_challenge(client, phone=BO),
                  app_code(bo, now(world))).status_code == 200


# -- resend ----------------------------------------------------------------------------------

def test_resending_an_app_challenge_sends_no_sms_and_answers_as_start(world, client, secret):
    challenge = app_challenge(client)
    too_soon = resend(client, challenge)
    assert too_soon.status_code == 429 and error(too_soon)["code"] == "resend_too_soon"
    world.clock.advance(seconds=61)
    again = resend(client, challenge)
    assert again.status_code == 202
    assert set(again.json_body) == {"challenge", "expires_in", "resend_after"}
    assert again.json_body["challenge"] == challenge
    assert queued(world) == 0
    assert [r["outcome"] for r in records(world, "reset.requested")] == ["app", "app"]
    # its time starts anew, as a resent code's does
    world.clock.advance(minutes=9)
    assert verify(client, challenge, app_code(secret, now(world))).status_code == 200


def test_a_resend_takes_the_holders_app_as_it_is_then(world, client, secret):
    challenge = app_challenge(client, phone=BO)
    bo = give_app(world.portal, now(world), phone=BO)
    world.clock.advance(seconds=61)
    assert resend(client, challenge).status_code == 202
    assert queued(world) == 0
    stored = world.portal.records.get(ResetChallenge, ResetChallenge.id_of(challenge))
    assert stored.channel == "app" and stored.app_nonce
    assert verify(client, challenge, app_code(bo, now(world))).status_code == 200


def test_while_paused_the_right_and_a_wrong_app_code_get_the_same_answer_and_work(
        world, client, secret):
    from chalicelib.adapters import aws
    from tests.fuzz.test_enumeration import headers_of
    calls: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb", lambda model, **_: calls.append(model.name),
        unique_id="paused-app-calls")
    first, second = app_challenge(client), app_challenge(client)
    for n in range(2):
        challenge = app_challenge(client, ip=f"198.51.100.{n + 20}")
        for _ in range(5):
            verify(client, challenge, "000000")
    assert "reset.paused" in events(world)
    found = {}
    for kind, challenge, code in (("right", first, app_code(secret, now(world))),
                                  ("wrong", second, wrong(app_code(secret, now(world))))):
        del calls[:]
        found[kind] = (verify(client, challenge, code), list(calls))
    (right, right_calls), (wrong_answer, wrong_calls) = found["right"], found["wrong"]
    assert right.status_code == wrong_answer.status_code == 410
    assert right.json_body == wrong_answer.json_body
    assert headers_of(right) == headers_of(wrong_answer)
    # (the hook saw the calls: two empty lists would prove nothing)
    assert right_calls and right_calls == wrong_calls
    assert records(world, "reset.code_verified") == []
