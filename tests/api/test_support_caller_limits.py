"""SPEC 14: the limits on a console agent's verification codes, beside the 5 per account and
agent: a ceiling for one agent on every account, and one for every agent on one account.
The use case is driven as the console's routes drive it, for several agents (the test
provider has one agent; these limits are about the codes, not the sign-in)."""
from __future__ import annotations

import re

import pytest

from chalicelib.domain.console import Agent
from chalicelib.domain.errors import InvalidCode, TooManyAttempts
from chalicelib.domain.events import Caller

CALLER = Caller(ip="198.51.100.7", request_id="test")
ISSUER = "https://idp.example"


def agent(n: int) -> Agent:
    return Agent(ISSUER, f"agent.{n}", f"Agent {n}")


def code_to(world, number: str) -> str:
    world.deliver()
    said = [text for to, text in world.sent() if to == number and "Supportens kod" in text]
    return re.search(r"\b(\d{6})\b", said[-1]).group(1)


def wrong_codes(world, username: str, who: Agent, n: int, number: str) -> list[str]:
    """`n` wrong codes by `who` after one start: each answer's error code."""
    checks = world.portal.caller_checks
    holder = world.portal.accounts.get(username).holders[0].id
    checks.start(username, holder, "sms", who, CALLER)
    code = code_to(world, number)
    answers = []
    for k in range(n):
        with pytest.raises((InvalidCode, TooManyAttempts)) as refused:
            checks.verify(username, f"{(int(code) + 1 + k) % 10**6:06d}", who, CALLER)
        answers.append(refused.value.code)
    return answers


def test_every_agent_together_gets_ten_wrong_codes_an_hour_on_one_account(world):
    world.create_account("delad", "tuvKAJ58!x", "+46701234567")
    assert wrong_codes(world, "delad", agent(1), 5, "+46701234567") == ["invalid_code"] * 5
    world.clock.advance(minutes=5)  # the number's SMS limit: 3 per 15 minutes
    assert wrong_codes(world, "delad", agent(2), 5, "+46701234567") == ["invalid_code"] * 5
    world.clock.advance(minutes=5)
    assert wrong_codes(world, "delad", agent(3), 1, "+46701234567") == ["too_many_attempts"]
    limited = [r for r in world.audit("delad") if r["event"] == "support.caller_failed"
               and r["outcome"] == "limited"]
    assert [r["agent_subject"] for r in limited] == ["agent.3"]
    world.clock.advance(hours=1, minutes=1)  # room again
    assert wrong_codes(world, "delad", agent(3), 1, "+46701234567") == ["invalid_code"]


def test_one_agent_gets_twenty_wrong_codes_an_hour_on_every_account_together(world):
    for n in range(6):
        world.create_account(f"konto{n}", "tuvKAJ58!x", f"+4670123450{n}")
    sam = agent(1)
    for n in range(5):
        assert wrong_codes(world, f"konto{n}", sam, 4, f"+4670123450{n}") == \
            ["invalid_code"] * 4
    assert wrong_codes(world, "konto5", sam, 1, "+46701234505") == ["too_many_attempts"]
    # another agent is not held back by it
    assert wrong_codes(world, "konto5", agent(2), 1, "+46701234505") == ["invalid_code"]


def test_a_right_code_gives_its_count_back_on_every_counter(world):
    from tests.api.helpers import app_code, give_app
    world.create_account("delad", "tuvKAJ58!x", "+46701234567")
    secret = give_app(world.portal, world.clock.now(), "delad", "+46701234567")
    checks = world.portal.caller_checks
    holder = world.portal.accounts.get("delad").holders[0].id
    for _ in range(12):  # more right codes than any counter holds wrong ones
        checks.start("delad", holder, "app", agent(1), CALLER)
        checks.verify("delad", app_code(secret, world.clock.now()), agent(1), CALLER)
        world.clock.advance(minutes=1)
    assert wrong_codes(world, "delad", agent(1), 1, "+46701234567") == ["invalid_code"]
