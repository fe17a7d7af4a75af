"""SPEC 6, sessions and tokens: a pwreg session (256-bit, stored only hashed, 15 minutes), a
reset token (256-bit, stored only hashed, 10 minutes, single use, consumed only by a change
that succeeds), and what a successful reset ends: the login lock and the pwreg sessions."""
from __future__ import annotations

import base64
import hashlib

import pytest

from chalicelib.domain.errors import (InvalidCredentials, InvalidPhone, InvalidSession,
                                      PasswordRejected, TokenExpired, TooManyAttempts)
from chalicelib.domain.records import ResetToken, Session
from tests.unit.conftest import (NEW_PASSWORD, NEW_PHONE, PASSWORD, PHONE, USER, USERNAME)


def bits(secret: str) -> int:
    return 8 * len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4)))


def complete(rig, token, password=NEW_PASSWORD):
    return rig.portal.completion.complete(token, password, USER)


@pytest.fixture
def account(rig):
    return rig.create_account()


# -- the pwreg session ------------------------------------------------------------------------

def test_a_session_is_256_random_bits(rig, account):
    sessions = {rig.session() for _ in range(3)}
    assert len(sessions) == 3
    assert {bits(session) for session in sessions} == {256}


def test_a_session_is_stored_only_hashed(rig, account):
    session = rig.session()
    assert session not in rig.stored()
    ids = [item["id"] for item in rig.store.items(rig.settings.challenges_table)]
    assert ids == ["session#" + hashlib.sha256(session.encode()).hexdigest()]
    assert Session.id_of(session) in ids


def test_a_session_lasts_15_minutes_by_the_clock(rig, account):
    session = rig.session()
    rig.clock.advance(seconds=899)
    # Still valid: the session is accepted and the number is judged.
    with pytest.raises(InvalidPhone):
        rig.portal.registration.request_holder(session, "Anna Andersson", "hello", USER)
    rig.clock.advance(seconds=1)
    with pytest.raises(InvalidSession):
        rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    with pytest.raises(InvalidSession):
        rig.portal.registration.verify_holder(session, "123456", USER)
    rig.deliver()
    assert rig.sent == []


def test_the_session_lifetime_is_a_setting(rig, account, reconfigure):
    reconfigure(session_seconds=300)
    session = rig.session()
    rig.clock.advance(seconds=300)
    with pytest.raises(InvalidSession):
        rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)


def test_a_pending_code_dies_with_its_session(rig, account):
    session = rig.session()
    rig.clock.advance(seconds=500)
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    rig.clock.advance(seconds=401)  # the code's 10 minutes are not over; the session's 15 are
    with pytest.raises(InvalidSession):
        rig.portal.registration.verify_holder(session, code, USER)
    assert rig.account().holders[0].phone == PHONE


@pytest.mark.parametrize("secret", [None, "", "garbage", "A" * 43, 42])
def test_a_missing_or_garbage_session_is_invalid(rig, account, secret):
    rig.session()  # a real session exists, but is not the one given
    with pytest.raises(InvalidSession):
        rig.portal.registration.request_holder(secret, "Anna Andersson", NEW_PHONE, USER)
    with pytest.raises(InvalidSession):
        rig.portal.registration.verify_holder(secret, "123456", USER)


def test_logout_ends_the_session_and_its_pending_code(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    rig.portal.registration.logout(session)
    with pytest.raises(InvalidSession):
        rig.portal.registration.verify_holder(session, code, USER)
    assert not [item for item in rig.store.items(rig.settings.challenges_table)
                if item["kind"] in ("session", "phone")]
    assert rig.account().holders[0].phone == PHONE


def test_logout_without_a_session_does_nothing(rig, account):
    session = rig.session()
    for nothing in (None, "", "garbage"):
        assert rig.portal.registration.logout(nothing) is None
    assert rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)["phone"] == NEW_PHONE


def test_logging_out_one_session_leaves_another(rig, account):
    first, second = rig.session(), rig.session()
    rig.portal.registration.logout(first)
    with pytest.raises(InvalidSession):
        rig.portal.registration.request_holder(first, "Anna Andersson", NEW_PHONE, USER)
    assert rig.portal.registration.request_holder(second, "Anna Andersson", NEW_PHONE, USER)["phone"] == NEW_PHONE


# -- the reset token --------------------------------------------------------------------------

def test_a_reset_token_is_256_random_bits_stored_only_hashed(rig, account):
    token = rig.reset_token()
    assert bits(token) == 256
    assert token not in rig.stored()
    ids = [item["id"] for item in rig.store.items(rig.settings.challenges_table)]
    assert "token#" + hashlib.sha256(token.encode()).hexdigest() in ids
    assert ResetToken.id_of(token) in ids


def test_verify_tells_the_tokens_lifetime(rig, account):
    challenge = rig.challenge()
    answer = rig.portal.reset.verify(challenge, rig.last_code(), USER)
    assert answer["expires_in"] == 600 and answer["username"] == USERNAME


def test_a_reset_token_lasts_10_minutes_by_the_clock(rig, account):
    token = rig.reset_token()
    rig.clock.advance(seconds=600)
    with pytest.raises(TokenExpired):
        complete(rig, token)
    assert rig.login()["username"] == USERNAME  # the old password still holds


def test_a_reset_token_just_inside_10_minutes_still_works(rig, account):
    token = rig.reset_token()
    rig.clock.advance(seconds=599)
    assert complete(rig, token)["changed"] is True


def test_the_token_lifetime_is_a_setting(rig, account, reconfigure):
    reconfigure(reset_token_seconds=120)
    token = rig.reset_token()
    rig.clock.advance(seconds=120)
    with pytest.raises(TokenExpired):
        complete(rig, token)


def test_a_reset_token_is_single_use(rig, account):
    token = rig.reset_token()
    assert complete(rig, token)["changed"] is True
    with pytest.raises(TokenExpired):
        complete(rig, token, "Annat-Losen-9")
    assert rig.login(password=NEW_PASSWORD)["username"] == USERNAME


@pytest.mark.parametrize("token", ["no-such-token", "A" * 43])
def test_an_unknown_reset_token_is_token_expired(rig, account, token):
    with pytest.raises(TokenExpired):
        complete(rig, token)


def test_a_rejected_password_does_not_consume_the_token(rig, account):
    token = rig.reset_token()
    for rejected in ("Åsa12345", "xHEMTJANSTABx1!", PASSWORD, "Password1"):
        with pytest.raises(PasswordRejected):
            complete(rig, token, rejected)
    assert complete(rig, token)["changed"] is True
    with pytest.raises(TokenExpired):
        complete(rig, token, "Annat-Losen-9")


def test_a_token_of_a_since_disabled_account_changes_nothing(rig, account):
    token = rig.reset_token()
    rig.portal.account_changes.disable(USERNAME)
    with pytest.raises(TokenExpired):
        complete(rig, token)
    rig.portal.account_changes.enable(USERNAME)
    assert rig.login()["username"] == USERNAME


# -- what a successful reset ends --------------------------------------------------------------

def test_a_successful_reset_ends_the_accounts_pwreg_sessions(rig, account):
    session = rig.session()
    complete(rig, rig.reset_token())
    rig.clock.advance(seconds=60)  # past the code SMS limit; well inside the 15 minutes
    with pytest.raises(InvalidSession):
        rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    fresh = rig.session(password=NEW_PASSWORD)
    assert rig.portal.registration.request_holder(fresh, "Anna Andersson", NEW_PHONE, USER)["phone"] == NEW_PHONE


def test_a_successful_reset_leaves_other_accounts_sessions(rig, account):
    rig.create_account("hemvardsgruppen", phone="+46702222222")
    other = rig.session("hemvardsgruppen")
    complete(rig, rig.reset_token())
    assert rig.portal.registration.request_holder(other, "Anna Andersson", NEW_PHONE, USER)["phone"] == NEW_PHONE


def test_a_pending_number_change_cannot_be_finished_after_a_reset(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    rig.clock.advance(seconds=60)
    complete(rig, rig.reset_token())
    with pytest.raises(InvalidSession):
        rig.portal.registration.verify_holder(session, code, USER)
    assert rig.account().holders[0].phone == PHONE


def test_a_rejected_password_ends_no_session(rig, account):
    session = rig.session()
    with pytest.raises(PasswordRejected):
        complete(rig, rig.reset_token(), "Åsa12345")
    rig.clock.advance(seconds=60)  # past the code SMS limit
    assert rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)["phone"] == NEW_PHONE


def test_a_successful_reset_clears_the_pwreg_login_lock(rig, account):
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            rig.login(password="Fel-Losen-1")
    with pytest.raises(TooManyAttempts):
        rig.login()
    complete(rig, rig.reset_token())
    assert rig.login(password=NEW_PASSWORD)["username"] == USERNAME


def test_a_successful_reset_forgets_the_failures_toward_the_lock(rig, account):
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            rig.login(password="Fel-Losen-1")
    complete(rig, rig.reset_token())
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            rig.login(password="Fel-Losen-1")
    assert rig.login(password=NEW_PASSWORD)["username"] == USERNAME  # 4, not 8, failures
