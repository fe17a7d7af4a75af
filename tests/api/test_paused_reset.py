"""A paused reset is no oracle (issue 12, finding 1; SPEC 5 v2).

The attack on version 1: after 10 wrong codes the username is paused, yet `verify` compared
the code first, so a wrong code answered 400 `invalid_code` with `attempts_left` and the
right one 410; the same code on the same challenge then gave a reset token once the pause
ended. Here the right and a wrong code are sent during a pause, each to a live challenge
made before it, and their answers compared as a prober compares them: status, body and
headers, and the DynamoDB calls each made (the same work in the same order: what their
timing follows; bench/ prints the time figures). Then the pause ends and the right code
is tried again.
"""
from __future__ import annotations

import pytest

from chalicelib.adapters import aws
from chalicelib.domain.records import ResetChallenge
from tests.api.helpers import PHONE, challenge_of, error, events, resend, verify, wrong
from tests.fuzz.test_enumeration import headers_of


@pytest.fixture
def calls(world):
    """The DynamoDB operations the portal makes from now on, in order."""
    made: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb", lambda model, **_: made.append(model.name),
        unique_id="paused-reset-calls")
    return made


def reconfigure(world, environment, **settings):
    from chalicelib import bootstrap
    for name, value in settings.items():
        environment.setenv("PWPORTAL_" + name, value)
    world.portal = bootstrap.override(clock=world.clock)
    world.settings = world.portal.settings


def live_challenges(world, client, count: int) -> list[tuple[str, str]]:
    """`count` challenges with the code each got, a minute apart (the resend limit)."""
    found = []
    for i in range(count):
        challenge = challenge_of(client, ip=f"192.0.2.{i + 10}")
        found.append((challenge, world.last_code(PHONE)))
        world.clock.advance(seconds=60)
    return found


def pause(world, client, username="hemtjanstab"):
    """Ten wrong codes on two fresh challenges (their codes never sent: 1 SMS per minute)."""
    for n in range(2):
        challenge = challenge_of(client, username, ip=f"198.51.100.{n + 20}")
        for _ in range(5):
            assert error(verify(client, challenge, "000000"))["code"] == "invalid_code"
    assert "reset.paused" in events(world, username)


def answer(client, calls, challenge, code):
    del calls[:]
    response = verify(client, challenge, code)
    return response, list(calls)


def test_while_paused_the_right_and_a_wrong_code_get_the_same_answer(world, client, calls):
    world.create_account()
    (first, first_code), (second, second_code) = live_challenges(world, client, 2)
    pause(world, client)

    right, right_calls = answer(client, calls, first, first_code)
    wrong_answer, wrong_calls = answer(client, calls, second, wrong(second_code))

    assert right.status_code == wrong_answer.status_code == 410
    assert right.json_body == wrong_answer.json_body
    assert error(right)["code"] == "challenge_expired" and "attempts_left" not in error(right)
    assert headers_of(right) == headers_of(wrong_answer)
    assert right_calls == wrong_calls  # the same work: no code is compared while paused
    assert "reset.code_verified" not in events(world)


def test_a_code_tried_during_the_pause_never_gives_a_token_after_it(world, client, environment):
    # A shortened pause (and wrong-code window) makes the takeover of version 1 fit into
    # the code's 10 minutes: pause, wait it out, use the code read before.
    reconfigure(world, environment, LIMIT_WRONG_CODES_PER_USERNAME="10/120",
                LIMIT_RESET_PAUSE_SECONDS="120")
    world.create_account()
    [(challenge, code)] = live_challenges(world, client, 1)
    pause(world, client)
    during = verify(client, challenge, code)
    assert during.status_code == 410

    world.clock.advance(seconds=180)  # the pause is over, the code has 6 minutes left
    after = verify(client, challenge, code)

    assert after.status_code == 410 and error(after)["code"] == "challenge_expired"
    assert world.portal.records.get(ResetChallenge, ResetChallenge.id_of(challenge)).void
    assert "reset.code_verified" not in events(world)
    # A challenge started now works: the pause is really over.
    world.clock.advance(seconds=60)
    fresh = challenge_of(client, ip="192.0.2.99")
    assert verify(client, fresh, world.last_code(PHONE)).status_code == 200


def test_a_challenge_started_during_the_pause_never_gives_a_token(world, client, environment):
    reconfigure(world, environment, LIMIT_WRONG_CODES_PER_USERNAME="10/120",
                LIMIT_RESET_PAUSE_SECONDS="120")
    world.create_account()
    pause(world, client)
    world.clock.advance(seconds=60)
    world.deliver()
    sent_before = len(world.codes_sent_to(PHONE))
    born_paused = challenge_of(client, ip="192.0.2.77")
    world.deliver()
    assert len(world.codes_sent_to(PHONE)) == sent_before  # no SMS while paused
    assert world.portal.records.get(ResetChallenge, ResetChallenge.id_of(born_paused)).void

    world.clock.advance(seconds=120)  # the pause is over: a resend sends a new code ...
    assert resend(client, born_paused, ip="192.0.2.78").status_code == 202
    code = world.last_code(PHONE)
    assert len(world.codes_sent_to(PHONE)) == sent_before + 1
    # ... but a challenge born in the pause yields no token, whatever its code.
    refused = verify(client, born_paused, code)
    assert refused.status_code == 410 and error(refused)["code"] == "challenge_expired"
    assert "reset.code_verified" not in events(world)
