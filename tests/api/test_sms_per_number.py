"""SPEC 5 and 11 v3 through the API, with the fake clock: the code SMS limits per (username,
number) and per account (issue 22, point 1: five people added to one account in a morning),
and a challenge whose number is no holder's answered as a holder's in every state (issue 21,
point 1: holders' numbers found through the stand-in's pause)."""
from __future__ import annotations

import pytest

from tests.api.helpers import (PHONE, USERNAME, app_challenge, challenge_of, error, events,
                               reached, request_phone, session_of, start, verify,
                               verify_phone, wrong)

PEOPLE = [("Anna Andersson", "+46701111111"), ("Bo Ek", "+46702222222"),
          ("Cecilia Lund", "+46703333333"), ("David Berg", "+46704444444"),
          ("Eva Holm", "+46705555555")]
MADE_UP = ["+46709000001", "+46709000002", "+46709000003", "+46709000004"]


def answer(response) -> tuple:
    """What a prober compares: the status and the body (an error's code, its attempts_left
    and message; a 202's keys)."""
    body = response.json_body or {}
    if "error" in body:
        return (response.status_code, body["error"]["code"],
                body["error"].get("attempts_left"), body["error"]["message"])
    return response.status_code, tuple(sorted(body))


# -- issue 22, point 1: five holders in one morning ------------------------------------------

def test_five_holders_added_one_after_the_other_each_get_their_code(world, client):
    world.create_account(phone=None)
    for name, number in PEOPLE:
        session = session_of(client)  # each at their own turn at the unit's computer
        asked = request_phone(client, session, number, name=name)
        assert asked.status_code == 202, (name, asked.body)  # no 429 for the second on
        verified = verify_phone(client, session, world.last_code(number))
        assert verified.status_code == 200, (name, verified.body)
        world.clock.advance(seconds=20)  # well within a minute of the one before
    account = world.portal.accounts.get(USERNAME)
    assert [h.phone for h in account.holders] == [number for _, number in PEOPLE]
    # and the fifth resets the password with a code of their own, the same morning
    world.clock.advance(minutes=30)
    challenge = challenge_of(client, phone=PEOPLE[-1][1])
    code = world.last_code(PEOPLE[-1][1])
    assert verify(client, challenge, code).status_code == 200


def test_the_account_ceiling_counts_every_number_together(world, client, configure):
    configure(LIMIT_SMS_PER_ACCOUNT="3/86400")
    world.create_account()
    for name, number in PEOPLE[:3]:
        world.portal.holder_changes.add(USERNAME, name, number)
    world.deliver()  # the notices of the new holders
    for _, number in PEOPLE[:3]:  # one code to each number: the account's 3
        assert start(client, phone=number).status_code == 202
        assert reached(world) == 1
    limited = start(client, phone=PHONE)  # its own number has room; the account has none
    assert limited.status_code == 202 and reached(world) == 0
    refused = request_phone(client, session_of(client), PEOPLE[3][1])
    assert refused.status_code == 429 and error(refused)["code"] == "too_many_requests"
    assert error(refused)["retry_after"] > 0
    limits = [r.get("limit") for r in world.audit(USERNAME)
              if r["event"] == "ratelimit.exceeded"]
    assert "sms_per_account" in limits


def test_a_number_never_stands_in_clear_in_the_limits_table(world, client):
    world.create_account()
    assert start(client, phone=PHONE).status_code == 202
    assert start(client, phone=MADE_UP[0]).status_code == 202
    request_phone(client, session_of(client), PEOPLE[0][1])
    items = str(world.dynamodb.scan(TableName=world.settings.limits_table)["Items"])
    for number in (PHONE, MADE_UP[0], PEOPLE[0][1]):
        assert number not in items and number[3:] not in items


def test_a_strangers_starts_never_hold_back_a_holders_code(world, client):
    world.create_account()
    for n in range(6):  # past every per-number limit, were they counted
        assert start(client, phone=MADE_UP[0], ip=f"203.0.113.{n + 1}").status_code == 202
    assert reached(world) == 0
    challenge_of(client, phone=PHONE)
    assert reached(world) == 1


# -- issue 21, point 1: a stranger's challenge answers as a holder's, in every state ----------

def test_wrong_codes_on_made_up_numbers_do_not_make_the_holders_number_stand_out(world,
                                                                                 client):
    """The attack: 2 app-channel challenges with made-up numbers x 5 wrong codes, then one
    start and one wrong code per candidate number; the holder's number must answer as the
    others do (it answered 400 where the others answered 410)."""
    world.create_account()
    for number in MADE_UP[:2]:
        challenge = app_challenge(client, phone=number)
        for _ in range(5):
            assert verify(client, challenge, "000000").status_code == 400
    candidates = [MADE_UP[2], PHONE, MADE_UP[3], PEOPLE[0][1]]
    found = {}
    for number in candidates:
        challenge = app_challenge(client, phone=number)
        found[number] = answer(verify(client, challenge, "000000"))
    assert len(set(found.values())) == 1, found
    assert next(iter(found.values()))[:3] == (400, "invalid_code", 4)
    assert "reset.paused" not in events(world)


def test_while_paused_a_strangers_challenge_answers_as_a_holders(world, client):
    """The account's reset paused by wrong codes on a holder's number: a challenge for
    another number answers every code as a holder's challenge does (it answered 400
    `invalid_code` where the holder's answered 410)."""
    world.create_account()
    holders_challenge = challenge_of(client, phone=PHONE)
    code = world.last_code(PHONE)
    strangers_challenge = challenge_of(client, phone=MADE_UP[0])
    for _ in range(2):  # ten wrong codes on the holder's number: the reset pauses
        world.clock.advance(seconds=61)
        challenge = challenge_of(client, phone=PHONE)
        latest = world.last_code(PHONE)
        for _ in range(5):
            assert verify(client, challenge, wrong(latest)).status_code == 400
    assert "reset.paused" in events(world)
    found = {"holder's, from before": answer(verify(client, holders_challenge, wrong(code))),
             "stranger's, from before": answer(verify(client, strangers_challenge, "000000"))}
    for kind, number in (("holder's, new", PHONE), ("stranger's, new", MADE_UP[1])):
        found[kind] = answer(verify(client, challenge_of(client, phone=number), "000000"))
    assert len(set(found.values())) == 1, found
    assert next(iter(found.values()))[:2] == (410, "challenge_expired")


@pytest.mark.parametrize("channel", ["sms", "app"])
def test_a_strangers_wrong_codes_never_pause_the_account(world, client, channel):
    world.create_account()
    for n in range(3):
        challenge = challenge_of(client, phone=MADE_UP[n % 2]) if channel == "sms" \
            else app_challenge(client, phone=MADE_UP[n % 2])
        for _ in range(5):
            assert verify(client, challenge, "000000").status_code == 400
        world.clock.advance(seconds=61)
    assert "reset.paused" not in events(world)
    challenge = challenge_of(client, phone=PHONE)
    assert verify(client, challenge, world.last_code(PHONE)).status_code == 200
