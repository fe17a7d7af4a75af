"""The limits of SPEC 5, with the fake clock: what an abuser, or a very impatient user, meets."""
import json

import pytest

from tests.api.helpers import (NEW_PHONE, PHONE, USERNAME, challenge_of, error,
                               events, login, queued, request_phone, resend, session_of, start,
                               verify, verify_phone, wrong)


def shape(response) -> tuple:
    return response.status_code, tuple(sorted(response.json_body))


# -- code SMS per username: 1 per 60 s, 3 per 15 min, 5 per 24 h ------------------------------

# (seconds since the first start, whether a code SMS goes out)
SMS_SCHEDULE = [
    (0, True),
    (0, False),       # 1 per 60 s
    (59, False),
    (60, True),
    (120, True),
    (180, False),     # 3 per 15 min: 0, 60, 120
    (899, False),
    (900, True),      # the start at 0 has left the 15 minutes
    (960, True),      # 5th in 24 h
    (1800, False),    # 5 per 24 h
    (86399, False),
    (86400, True),    # the start at 0 has left the 24 hours
]


@pytest.mark.parametrize("username", [USERNAME, "finns-inte"], ids=["existing", "unknown"])
def test_code_sms_per_number_are_limited_silently(world, client, username):
    world.create_account()
    answers = set()
    first = world.clock.now()
    for at, sends in SMS_SCHEDULE:
        world.clock.advance(seconds=at - (world.clock.now() - first).total_seconds())
        response = start(client, username.upper())  # the same username, however typed
        answers.add(shape(response))
        before = len(world.sent())
        assert world.deliver()["delivered"] == 1, at  # one message in every case
        assert len(world.sent()) - before == (1 if sends and username == USERNAME else 0), at
    assert answers == {(202, ("challenge", "expires_in", "resend_after"))}
    sent = sum(1 for _, sends in SMS_SCHEDULE if sends)
    assert len(world.sent()) == (sent if username == USERNAME else 0)
    # SPEC 5 v3: a number that is no holder's counts against no SMS limit (services/reset.py)
    assert ("ratelimit.exceeded" in events(world, username)) == (username == USERNAME)


def test_resends_count_against_the_same_limit_and_a_limited_resend_keeps_the_old_code(
        world, client):
    world.create_account()
    challenge = challenge_of(client)
    for _ in range(2):
        world.clock.advance(seconds=60)
        assert resend(client, challenge).status_code == 202
    code = world.last_code(PHONE)
    assert len(world.sent()) == 3
    world.clock.advance(seconds=60)
    assert resend(client, challenge).status_code == 202  # 3 per 15 min: no SMS
    world.deliver()
    assert len(world.sent()) == 3
    assert verify(client, challenge, code).status_code == 200


# -- wrong codes per username: 10 per 24 h, then reset paused 24 h ----------------------------

def test_ten_wrong_codes_pause_resets_of_that_username_for_24_hours(world, client):
    world.create_account()
    challenges, codes = [], []
    for _ in range(3):
        challenges.append(challenge_of(client))
        codes.append(world.last_code(PHONE))
        world.clock.advance(seconds=60)
    for challenge, code in zip(challenges[:2], codes[:2]):
        for _ in range(5):
            assert verify(client, challenge, wrong(code)).status_code == 400
    assert "reset.paused" in events(world)
    # Paused: even the right code of a live challenge does not open it ...
    paused = verify(client, challenges[2], codes[2])
    assert paused.status_code == 410
    assert error(paused)["code"] == "challenge_expired"
    # ... and a new start answers as always, but sends nothing.
    world.clock.advance(minutes=16)
    assert start(client).status_code == 202
    world.deliver()
    assert len(world.sent()) == 3
    world.clock.advance(hours=23, minutes=40)
    assert start(client).status_code == 202
    world.deliver()
    assert len(world.sent()) == 3
    # 24 hours after the tenth wrong code, resets work again.
    world.clock.advance(minutes=5)
    challenge = challenge_of(client)
    assert verify(client, challenge, world.last_code(PHONE)).status_code == 200
    assert len(world.sent()) == 4


def test_wrong_codes_for_an_unknown_username_answer_as_a_holders_and_pause_nothing(
        world, client):
    for _ in range(2):
        challenge = challenge_of(client, "finns-inte")
        for _ in range(5):
            assert error(verify(client, challenge, "000000"))["code"] == "invalid_code"
        world.clock.advance(seconds=60)
    assert "reset.paused" not in events(world, "finns-inte")
    # SPEC 11 v3: they count only on the network, toward no pause: the next challenge is
    # answered as a holder's is when no holder made a mistake
    challenge = challenge_of(client, "finns-inte")
    assert error(verify(client, challenge, "000000"))["code"] == "invalid_code"


# -- pwreg login failures per username: 5 per 15 min, then 429 for 15 min ---------------------

def test_five_failed_logins_lock_the_username_for_15_minutes_even_with_the_right_password(
        world, client):
    world.create_account()
    for _ in range(5):
        assert login(client, password="Fel-Losen-1").status_code == 401
    locked = login(client)
    assert locked.status_code == 429
    assert error(locked)["code"] == "too_many_attempts"
    assert error(locked)["retry_after"] == 900
    assert locked.headers["Retry-After"] == "900"
    assert "Försök igen om 15 min." in error(locked)["message"]
    assert "login.locked" in events(world)
    world.clock.advance(seconds=899)
    still = login(client)
    assert still.status_code == 429 and error(still)["retry_after"] == 1
    assert "Försök igen om 1 min." in error(still)["message"]
    world.clock.advance(seconds=1)
    assert login(client).status_code == 200


def test_failures_spread_over_more_than_15_minutes_do_not_lock(world, client):
    world.create_account()
    for _ in range(4):
        assert login(client, password="Fel-Losen-1").status_code == 401
    world.clock.advance(seconds=901)
    for _ in range(4):
        assert login(client, password="Fel-Losen-1").status_code == 401
    assert login(client).status_code == 200


def test_an_unknown_username_is_locked_exactly_like_a_known_one(world, client):
    world.create_account()
    for name in (USERNAME, "finns-inte"):
        for _ in range(5):
            assert login(client, name, "Fel-Losen-1").status_code == 401
    known, unknown = login(client, USERNAME), login(client, "finns-inte")
    assert known.status_code == unknown.status_code == 429
    assert json.dumps(known.json_body, sort_keys=True) == json.dumps(unknown.json_body,
                                                                     sort_keys=True)
    assert "login.locked" in events(world, "finns-inte")


# -- per client IP: 30 reset starts and 30 logins per hour ------------------------------------

def test_thirty_reset_starts_per_hour_from_one_address_then_429_with_retry_after(world, client):
    ip = "203.0.113.9"
    for n in range(30):
        assert start(client, f"konto{n}", ip=ip).status_code == 202
    refused = start(client, "konto30", ip=ip)
    assert refused.status_code == 429
    assert error(refused)["code"] == "too_many_requests"
    assert refused.headers["Retry-After"] == str(error(refused)["retry_after"]) == "3600"
    queued(world)
    # Faking an extra X-Forwarded-For hop does not help: only the proxy's hop is trusted.
    assert start(client, "konto31", ip=f"192.0.2.1, {ip}").status_code == 429
    assert queued(world) == 0
    assert start(client, "konto32", ip="203.0.113.10").status_code == 202  # another address
    world.clock.advance(hours=1)
    assert start(client, "konto33", ip=ip).status_code == 202
    assert "ratelimit.exceeded" in events(world, "konto30")


def test_thirty_logins_per_hour_from_one_address_then_429_even_with_the_right_password(
        world, client):
    world.create_account()
    ip = "203.0.113.9"
    for n in range(30):
        assert login(client, f"konto{n}", "Fel-Losen-1", ip=ip).status_code == 401
    refused = login(client, ip=ip)
    assert refused.status_code == 429
    assert error(refused)["code"] == "too_many_attempts"
    assert refused.headers["Retry-After"] == str(error(refused)["retry_after"])
    assert int(refused.headers["Retry-After"]) > 0
    assert login(client, ip="203.0.113.10").status_code == 200


# -- new numbers verified per account: N per 24 h (5 by default, SPEC 5 v3) -------------------

def test_three_new_numbers_per_account_and_day_then_429(world, client, configure):
    configure(LIMIT_NUMBERS_PER_ACCOUNT="3/86400")
    world.create_account()
    session = session_of(client)
    for number in ("+46701111111", "+46702222222", "+46703333333"):
        assert request_phone(client, session, number).status_code == 202
        assert verify_phone(client, session, world.last_code(number)).status_code == 200
        world.clock.advance(seconds=61)
    world.clock.advance(minutes=15)  # clear of the 3 code SMS per 15 minutes
    session = session_of(client)
    refused = request_phone(client, session, NEW_PHONE)
    assert refused.status_code == 429
    assert error(refused)["code"] == "too_many_requests"
    assert refused.headers["Retry-After"] == str(error(refused)["retry_after"])
    [record] = [r for r in world.audit(USERNAME) if r["event"] == "ratelimit.exceeded"]
    assert record["limit"] == "numbers_per_account"
    assert [h.phone for h in world.portal.accounts.get(USERNAME).holders][-1] == "+46703333333"
    world.deliver()
    assert world.codes_sent_to(NEW_PHONE) == []


# -- SMS for the whole service ----------------------------------------------------------------

def test_past_the_service_wide_sms_limit_nothing_is_sent_and_the_alarm_is_raised(
        world, client, configure, capsys):
    configure(LIMIT_SMS_PER_SERVICE="2/3600", METRICS="true")
    world.create_account("konto-a")
    world.create_account("konto-b", phone="+46702222222")
    world.create_account("konto-c", phone="+46703333333")
    for name, phone in (("konto-a", PHONE), ("konto-b", "+46702222222"),
                        ("konto-c", "+46703333333")):
        assert start(client, name, phone).status_code == 202
    world.deliver()
    assert [to for to, _ in world.sent()] == [PHONE, "+46702222222"]
    [record] = [r for r in world.audit("konto-c") if r["event"] == "ratelimit.exceeded"]
    assert record["limit"] == "sms_per_service"
    assert record["phone"] != "+46703333333"  # masked
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if line.startswith("{") and "_aws" in line]
    # (EMF takes a value or a list of values; Powertools writes the list)
    assert any(line.get("ratelimit.exceeded") in (1, [1])
               and line.get("limit") == "sms_per_service"
               for line in metrics)
    # The next hour, sending starts again.
    world.clock.advance(hours=1)
    assert start(client, "konto-c", "+46703333333").status_code == 202
    world.deliver()
    assert world.sent()[-1][0] == "+46703333333"
