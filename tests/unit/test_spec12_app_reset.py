"""SPEC 8 v2, 12 on the fakes: pwreset's `channel` and the authenticator app's code (the
API, moto and parallel requests are in tests/api/test_app_reset.py and tests/concurrency)."""
from __future__ import annotations

import pyotp
import pytest

from chalicelib.domain.errors import ChallengeExpired, InvalidCode, InvalidRequest, TokenExpired
from chalicelib.domain.records import ResetChallenge
from chalicelib.services.reset import channel_of
from tests.api.helpers import give_app
from tests.unit.conftest import NEW_PASSWORD, NEW_PHONE, PHONE, USER, USERNAME


@pytest.fixture
def secret(rig):
    rig.create_account()
    rig.portal.holder_changes.add(USERNAME, "Bo Ek", NEW_PHONE)
    rig.deliver()
    return give_app(rig.portal, rig.clock.now())


def code(rig, secret, steps=0) -> str:
    return pyotp.TOTP(secret).at(rig.clock.now().timestamp() + 30 * steps)


def start(rig, phone=PHONE, username=USERNAME) -> str:
    return rig.portal.reset.start(username, phone, USER, channel="app")["challenge"]


@pytest.mark.parametrize("raw, channel", [(None, "sms"), ("sms", "sms"), ("app", "app")])
def test_the_channel_is_sms_when_not_given_or_sms_or_app_exactly(raw, channel):
    assert channel_of(raw) == channel


@pytest.mark.parametrize("raw", ["SMS", "app ", "", "e-post", 0, False, ["app"], {"app": 1}])
def test_any_other_channel_is_invalid_request_on_the_channel_field(raw):
    with pytest.raises(InvalidRequest) as refused:
        channel_of(raw)
    assert refused.value.fields == {"field": "channel"}


def test_a_bad_channel_is_refused_before_anything_is_stored_or_counted(rig, secret):
    before = rig.store.items(rig.settings.limits_table), rig.events(), len(rig.queue.sent)
    with pytest.raises(InvalidRequest):
        rig.portal.reset.start(USERNAME, PHONE, USER, channel="email")
    assert (rig.store.items(rig.settings.limits_table), rig.events(),
            len(rig.queue.sent)) == before


def test_an_app_challenge_notes_the_channel_the_holder_and_their_apps_nonce(rig, secret):
    challenge = start(rig)
    stored = rig.portal.records.get(ResetChallenge, ResetChallenge.id_of(challenge))
    holder = next(h for h in rig.account().holders if h.phone == PHONE)
    assert (stored.channel, stored.holder_id, stored.app_nonce) == (
        "app", holder.id, holder.app_nonce)
    bo = rig.portal.records.get(ResetChallenge, ResetChallenge.id_of(start(rig, NEW_PHONE)))
    assert (bo.channel, bo.holder_name, bo.app_nonce) == ("app", "Bo Ek", "")
    assert rig.queued() == []


def test_the_apps_code_gives_a_token_once_and_the_password_changes(rig, secret):
    right = code(rig, secret)
    token = rig.portal.reset.verify(start(rig), right, USER)["reset_token"]
    with pytest.raises(InvalidCode) as replayed:
        rig.portal.reset.verify(start(rig), right, USER)
    assert replayed.value.fields == {"attempts_left": 4}
    assert rig.portal.completion.complete(token, NEW_PASSWORD, USER)["changed"] is True


def test_a_holder_without_an_app_never_gets_a_token_with_any_apps_code(rig, secret):
    challenge = start(rig, NEW_PHONE)
    for steps in (-1, 0, 1):
        with pytest.raises(InvalidCode):
            rig.portal.reset.verify(challenge, code(rig, secret, steps), USER)


def test_an_sms_challenge_does_not_take_the_apps_code(rig, secret):
    challenge = rig.portal.reset.start(USERNAME, PHONE, USER)["challenge"]
    with pytest.raises(InvalidCode):
        rig.portal.reset.verify(challenge, code(rig, secret), USER)
    assert rig.portal.reset.verify(challenge, rig.last_code(PHONE), USER)["reset_token"]


def test_a_token_of_an_app_replaced_since_is_expired(rig, secret):
    token = rig.portal.reset.verify(start(rig), code(rig, secret), USER)["reset_token"]
    give_app(rig.portal, rig.clock.now())
    with pytest.raises(TokenExpired):
        rig.portal.completion.complete(token, NEW_PASSWORD, USER)


def test_an_app_challenge_is_dead_after_five_wrong_codes(rig, secret):
    challenge = start(rig)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            rig.portal.reset.verify(challenge, "000000", USER)
    with pytest.raises(ChallengeExpired):
        rig.portal.reset.verify(challenge, code(rig, secret), USER)
