"""Support's "why no code?" (services/support/state.py) reads the code SMS limits per
(username, number) and the account's ceiling (SPEC 5 v3), on DynamoDB (moto)."""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.events import Caller

USER = Caller(ip="203.0.113.7", request_id="test", lang="sv")
BO = "+46702222222"


def test_each_holders_number_has_its_own_limit_in_the_diagnosis(world):
    world.create_account()
    bo = world.portal.holder_changes.add("hemtjanstab", "Bo Ek", BO).holder
    first = world.portal.accounts.get("hemtjanstab").holders[0]
    world.portal.reset.start("hemtjanstab", first.phone, USER)
    world.clock.advance(seconds=10)
    state = world.portal.account_states.state("hemtjanstab")
    allowed = dict(state.holders_sms_allowed_at)
    assert allowed[first.id] == world.clock.now() + timedelta(seconds=50)  # 1 per 60 s
    assert allowed[bo.id] is None  # Bo's number has its own limits
    assert state.why_no_code() == ["sms_limit"]  # the verdict's: the first holder's number
    assert state.codes_sent_recently == 1


def test_a_strangers_starts_limit_nobody_in_the_diagnosis(world):
    world.create_account()
    for _ in range(6):
        world.portal.reset.start("hemtjanstab", "+46709999999", USER)
        world.clock.advance(seconds=61)
    state = world.portal.account_states.state("hemtjanstab")
    assert state.why_no_code() == [] and state.codes_sent_recently == 0
    assert all(when is None for _, when in state.holders_sms_allowed_at)


def test_the_accounts_ceiling_is_a_reason_of_its_own(world, environment):
    environment.setenv("PWPORTAL_LIMIT_SMS_PER_ACCOUNT", "1/86400")
    from chalicelib import bootstrap
    world.portal = bootstrap.override(clock=world.clock)
    world.create_account()
    world.portal.holder_changes.add("hemtjanstab", "Bo Ek", BO)
    world.portal.reset.start("hemtjanstab", BO, USER)
    world.clock.advance(seconds=61)
    state = world.portal.account_states.state("hemtjanstab")
    assert "account_sms_limit" in state.why_no_code()
    assert state.account_sms_allowed_at is not None
