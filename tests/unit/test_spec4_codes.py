"""SPEC 4, the security codes: six digits, ten minutes by the clock, five attempts, single use,
a resend after 60 s that replaces the code, kept only as an HMAC, the SMS text, and sent
through the queue so that the answer never waits for SNS. On pwreset (reset.start, resend,
verify) and on pwreg's new number (registration.request_phone, verify_phone)."""
from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from chalicelib.domain.phone import masked_national
from chalicelib.domain.errors import (ChallengeExpired, CodeExpired, InvalidCode,
                                      ResendTooSoon)
from chalicelib.domain.events import Caller
from chalicelib.domain.records import PhoneChange, ResetChallenge
from chalicelib.domain.sms import SmsMessage
from tests.unit.conftest import CODE_KEY, NEW_PHONE, PHONE, USER, USERNAME


def wrong(code: str) -> str:
    """A six-digit code that is not `code`."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


@pytest.fixture
def account(rig):
    return rig.create_account()


def verify(rig, challenge, code):
    return rig.portal.reset.verify(challenge, code, USER)


# -- six digits -------------------------------------------------------------------------------

def test_the_code_is_six_digits(rig, account):
    codes = []
    for _ in range(5):
        rig.challenge()
        codes.append(rig.last_code())
        rig.clock.advance(hours=5)
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    assert len(set(codes)) > 1  # drawn afresh each time


def test_a_code_that_is_not_six_digits_is_a_wrong_code(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    for attempt in (code[:5], code + "0", f"{code[:3]} {code[3:]}", "abcdef"):
        with pytest.raises(InvalidCode):
            verify(rig, challenge, attempt)
    assert "reset_token" in verify(rig, challenge, f" {code} ")  # surrounding spaces trimmed


# -- ten minutes, by the clock ----------------------------------------------------------------

def test_a_code_is_valid_for_ten_minutes_checked_by_the_clock_not_by_ttl(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    rig.clock.advance(seconds=600)
    with pytest.raises(ChallengeExpired):
        verify(rig, challenge, code)
    # The record is still stored (the TTL is housekeeping only): the code judged it dead.
    [item] = [i for i in rig.store.items(rig.settings.challenges_table)
              if i["id"] == ResetChallenge.id_of(challenge)]
    assert item["used"] is False


def test_a_code_just_inside_ten_minutes_still_works(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    rig.clock.advance(seconds=599)
    assert verify(rig, challenge, code)["username"] == USERNAME


def test_the_code_lifetime_is_a_setting(rig, account, reconfigure):
    reconfigure(code={"lifetime_seconds": 300})
    answer = rig.portal.reset.start(USERNAME, "+46701234567", USER)
    assert answer["expires_in"] == 300
    code = rig.last_code()
    assert "Den gäller i 5 minuter." in rig.texts_to(PHONE)[-1]
    rig.clock.advance(seconds=300)
    with pytest.raises(ChallengeExpired):
        verify(rig, answer["challenge"], code)


def test_a_pwreg_code_is_valid_for_ten_minutes(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    rig.clock.advance(seconds=600)
    with pytest.raises(CodeExpired):
        rig.portal.registration.verify_holder(session, code, USER)
    assert rig.account().holders[0].phone == PHONE


# -- five wrong attempts ----------------------------------------------------------------------

def test_wrong_codes_count_down_the_five_attempts(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    left = []
    for _ in range(4):
        with pytest.raises(InvalidCode) as failed:
            verify(rig, challenge, wrong(code))
        left.append(failed.value.fields["attempts_left"])
    assert left == [4, 3, 2, 1]
    assert verify(rig, challenge, code)["username"] == USERNAME  # the fifth attempt


def test_sixth_wrong_code_kills_the_code_even_if_right(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    for _ in range(5):
        with pytest.raises(InvalidCode):
            verify(rig, challenge, wrong(code))
    with pytest.raises(ChallengeExpired):
        verify(rig, challenge, code)
    assert "reset.code_verified" not in rig.events()


def test_sixth_pwreg_attempt_fails_even_if_right(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    left = []
    for _ in range(5):
        with pytest.raises(InvalidCode) as failed:
            rig.portal.registration.verify_holder(session, wrong(code), USER)
        left.append(failed.value.fields["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(CodeExpired):
        rig.portal.registration.verify_holder(session, code, USER)
    assert rig.account().holders[0].phone == PHONE


# -- single use -------------------------------------------------------------------------------

def test_a_code_can_be_used_only_once(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    assert "reset_token" in verify(rig, challenge, code)
    with pytest.raises(ChallengeExpired):
        verify(rig, challenge, code)


def test_a_pwreg_code_can_be_used_only_once(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    shown = rig.portal.registration.verify_holder(session, code, USER)
    assert shown["holder"]["phone_masked"] == \
        masked_national(NEW_PHONE)
    with pytest.raises(CodeExpired):
        rig.portal.registration.verify_holder(session, code, USER)


def test_the_code_of_one_challenge_does_not_open_another(rig, account):
    first = rig.challenge()
    code = rig.last_code()
    rig.clock.advance(seconds=60)
    second = rig.challenge()
    with pytest.raises(InvalidCode):
        verify(rig, second, code)
    assert "reset_token" in verify(rig, first, code)


# -- resend -----------------------------------------------------------------------------------

def test_a_resend_before_60_seconds_is_refused_with_the_wait(rig, account):
    challenge = rig.challenge()
    rig.clock.advance(seconds=45)
    with pytest.raises(ResendTooSoon) as refused:
        rig.portal.reset.resend(challenge, USER)
    assert refused.value.fields["retry_after"] == 15
    rig.clock.advance(seconds=14)
    with pytest.raises(ResendTooSoon) as refused:
        rig.portal.reset.resend(challenge, USER)
    assert refused.value.fields["retry_after"] == 1
    rig.deliver()
    assert len(rig.codes_sent_to(PHONE)) == 1


def test_a_resend_after_60_seconds_sends_a_new_code_that_replaces_the_old(rig, account):
    challenge = rig.challenge()
    old = rig.last_code()
    rig.clock.advance(seconds=60)
    assert rig.portal.reset.resend(challenge, USER) == {
        "challenge": challenge, "expires_in": 600, "resend_after": 60}
    new = rig.last_code()
    assert rig.codes_sent_to(PHONE) == [old, new]
    if new != old:
        with pytest.raises(InvalidCode):
            verify(rig, challenge, old)
    assert "reset_token" in verify(rig, challenge, new)


def test_a_resent_code_is_valid_ten_minutes_from_the_resend(rig, account):
    challenge = rig.challenge()
    rig.clock.advance(seconds=300)
    rig.portal.reset.resend(challenge, USER)
    code = rig.last_code()
    rig.clock.advance(seconds=599)  # 15 minutes after the start
    assert "reset_token" in verify(rig, challenge, code)


def test_failures_carry_over_a_resend_on_pwreset(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    for _ in range(3):
        with pytest.raises(InvalidCode):
            verify(rig, challenge, wrong(code))
    rig.clock.advance(seconds=60)
    rig.portal.reset.resend(challenge, USER)
    new = rig.last_code()
    with pytest.raises(InvalidCode) as failed:
        verify(rig, challenge, wrong(new))
    assert failed.value.fields["attempts_left"] == 1
    with pytest.raises(InvalidCode):
        verify(rig, challenge, wrong(new))
    with pytest.raises(ChallengeExpired):
        verify(rig, challenge, new)  # five in all: dead, even for the new code


def test_a_challenge_out_of_attempts_cannot_be_resent(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    for _ in range(5):
        with pytest.raises(InvalidCode):
            verify(rig, challenge, wrong(code))
    rig.clock.advance(seconds=60)
    with pytest.raises(ChallengeExpired):
        rig.portal.reset.resend(challenge, USER)


def test_a_used_or_unknown_challenge_cannot_be_resent(rig, account):
    challenge = rig.challenge()
    verify(rig, challenge, rig.last_code())
    rig.clock.advance(seconds=60)
    for secret in (challenge, "no-such-challenge"):
        with pytest.raises(ChallengeExpired):
            rig.portal.reset.resend(secret, USER)


def test_a_new_pwreg_code_after_60_seconds_replaces_the_previous_one(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", "+46701111111", USER)
    old = rig.last_code("+46701111111")
    rig.clock.advance(seconds=60)
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    new = rig.last_code(NEW_PHONE)
    if new != old:
        with pytest.raises(InvalidCode):
            rig.portal.registration.verify_holder(session, old, USER)
    shown = rig.portal.registration.verify_holder(session, new, USER)
    assert shown["holder"]["phone_masked"] == \
        masked_national(NEW_PHONE)


# -- stored only as an HMAC -------------------------------------------------------------------

def standalone(code: str, text: str) -> bool:
    return re.search(rf"(?<![0-9]){code}(?![0-9])", text) is not None


def test_a_reset_code_is_stored_only_as_an_hmac_under_the_code_key(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    assert not standalone(code, rig.stored())
    [item] = [i for i in rig.store.items(rig.settings.challenges_table)
              if i["id"] == ResetChallenge.id_of(challenge)]
    assert item["code_mac"] == hmac.new(CODE_KEY.encode(), f"{item['id']}:{code}".encode(),
                                        hashlib.sha256).hexdigest()
    assert challenge not in rig.stored()  # nor is the challenge's secret


def test_a_pwreg_code_is_stored_only_as_an_hmac_under_the_code_key(rig, account):
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    assert not standalone(code, rig.stored())
    [item] = [i for i in rig.store.items(rig.settings.challenges_table)
              if i["id"] == PhoneChange.id_of(session)]
    assert item["code_mac"] == hmac.new(CODE_KEY.encode(), f"{item['id']}:{code}".encode(),
                                        hashlib.sha256).hexdigest()


def test_no_code_reaches_the_audit_log_lines(rig, account):
    challenge = rig.challenge()
    code = rig.last_code()
    with pytest.raises(InvalidCode):
        verify(rig, challenge, wrong(code))
    verify(rig, challenge, code)
    log = rig.audit_stream.getvalue()
    assert log and not standalone(code, log) and not standalone(wrong(code), log)


# -- the text ---------------------------------------------------------------------------------

def test_the_sms_says_exactly_the_specified_swedish_text(rig, account):
    rig.challenge()
    code = rig.last_code()
    assert rig.texts_to(PHONE) == [
        f"Din säkerhetskod är {code}. Den gäller i 10 minuter. Dela aldrig koden med någon."
        f"\n\n@localhost #{code}"]


def test_the_sms_is_english_for_an_english_caller(rig, account):
    rig.portal.reset.start(USERNAME, "+46701234567", Caller(ip="203.0.113.7", request_id="t", lang="en"))
    code = rig.last_code()
    assert rig.texts_to(PHONE) == [
        f"Your security code is {code}. It is valid for 10 minutes. Never share the code "
        f"with anyone.\n\n@localhost #{code}"]


def test_the_sms_names_the_configured_portal_host_and_no_user_and_no_link(
        rig, account, reconfigure):
    reconfigure(portal_host="losenord.orebro.se")
    rig.challenge()
    code = rig.last_code()
    [text] = rig.texts_to(PHONE)
    assert text.endswith(f"\n\n@losenord.orebro.se #{code}")
    assert USERNAME not in text.lower()
    assert "http" not in text and "/" not in text


def test_the_pwreg_code_sms_has_the_same_text(rig, account):
    rig.portal.registration.request_holder(rig.session(), "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    assert rig.texts_to(NEW_PHONE) == [
        f"Din säkerhetskod är {code}. Den gäller i 10 minuter. Dela aldrig koden med någon."
        f"\n\n@localhost #{code}"]


# -- sent through the queue -------------------------------------------------------------------

def test_the_answer_does_not_wait_for_the_sms(rig, account):
    rig.gateway.failure = RuntimeError("SNS is down")
    answer = rig.portal.reset.start(USERNAME, "+46701234567", USER)
    assert set(answer) == {"challenge", "expires_in", "resend_after"}
    assert rig.gateway.calls == 0  # only queued
    [queued] = rig.queued()
    message = SmsMessage.from_message(queued)  # as the worker reads it
    with pytest.raises(RuntimeError):
        rig.portal.delivery.deliver(message)  # the worker fails; the queue retries it
    rig.gateway.failure = None
    assert rig.portal.delivery.deliver(message, receive_count=2) == "sent"
    [code] = rig.codes_sent_to(PHONE)
    assert "reset_token" in verify(rig, answer["challenge"], code)
