"""SPEC 5, the limits: code SMS per (username, number) (1 per 60 s per flow, the rest shared;
v3: was per username) and per account, wrong
codes and the reset pause, the pwreg login lock per username and network, requests per
client network, new numbers per account, the service's SMS budget, which phone numbers are
allowed, and an unknown username that looks exactly like a known one. Windows are moved
through with the fake clock (tests/unit/test_spec5_v2_limits.py: what version 2 added)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.errors import (ChallengeExpired, InvalidCode, InvalidCredentials,
                                      InvalidPhone, PhoneNotAllowed, TooManyAttempts,
                                      TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.limits import parse_rules
from chalicelib.domain.phone import masked_national
from tests.unit.conftest import NEW_PHONE, PASSWORD, PHONE, USER, USERNAME

WRONG_PASSWORD = "Fel-Losen-1"


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def from_ip(ip: str) -> Caller:
    return Caller(ip=ip, request_id="test", lang="sv")


def queued_now(rig) -> int:
    """How many SMS reached a phone since the last look (hands what was queued to the
    worker: SPEC 5 v3, a start queues a message in every case, and the worker drops one that
    names no holder, so what a limit holds back is what never reaches a phone)."""
    before = len(rig.sent)
    rig.deliver()
    return len(rig.sent) - before


def limit_records(rig, username=USERNAME) -> list[str]:
    return [r.get("limit") for r in rig.audit(username) if r["event"] == "ratelimit.exceeded"]


# -- code SMS per (username, number): 1 per 60 s, 3 per 15 min, 5 per 24 h ---------------------

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
    (960, True),      # the 5th in 24 h
    (1800, False),    # 5 per 24 h
    (86399, False),
    (86400, True),    # the start at 0 has left the 24 hours
]


@pytest.mark.parametrize("username", [USERNAME, "finns-inte"], ids=["existing", "unknown"])
def test_code_sms_per_number_are_limited_with_the_same_answer_and_no_sms(rig, username):
    rig.create_account()
    first = rig.clock.now()
    answers = set()
    for at, sends in SMS_SCHEDULE:
        rig.clock.set(first + timedelta(seconds=at))
        answer = rig.portal.reset.start(username.upper(), "+46701234567", USER)  # however it is typed
        answers.add((answer["expires_in"], answer["resend_after"], tuple(sorted(answer))))
        assert len(rig.queued()) == 1, at  # one message in every case: the same work
        assert queued_now(rig) == (1 if sends and username == USERNAME else 0), at
    assert answers == {(600, 60, ("challenge", "expires_in", "resend_after"))}
    sent = sum(1 for _, sends in SMS_SCHEDULE if sends)
    assert len(rig.sent) == (sent if username == USERNAME else 0)
    # SPEC 5 v3: a number that is no holder's (here no account's) never gets an SMS and
    # counts against no SMS limit: no record of a refusal nobody could see.
    assert ("sms_per_number" in limit_records(rig, username)) == (username == USERNAME)


def test_resends_count_against_the_same_limit_and_a_limited_resend_keeps_the_old_code(rig):
    rig.create_account()
    challenge = rig.challenge()
    for _ in range(2):
        rig.clock.advance(seconds=60)
        rig.portal.reset.resend(challenge, USER)
    code = rig.last_code()
    assert len(rig.sent) == 3
    rig.clock.advance(seconds=60)
    assert rig.portal.reset.resend(challenge, USER)["challenge"] == challenge
    assert queued_now(rig) == 0  # 3 per 15 minutes: no SMS
    assert "reset_token" in rig.portal.reset.verify(challenge, code, USER)


def test_a_pwreg_code_does_not_delay_a_pwreset_code(rig):
    """SPEC 5 v2 (issue 13.1): the guide sends users from pwreg straight on to pwreset."""
    rig.create_account()  # the holder asks pwreg for a code to their own number (a rename)
    rig.portal.registration.request_holder(rig.session(), "Anna Andersson", PHONE, USER)
    assert queued_now(rig) == 1
    rig.clock.advance(seconds=4)
    assert set(rig.portal.reset.start(USERNAME, "+46701234567", USER)) == {"challenge", "expires_in",
                                                           "resend_after"}
    assert queued_now(rig) == 1
    rig.clock.advance(seconds=4)
    rig.challenge()
    assert queued_now(rig) == 0  # but the 1 per 60 s of pwreset's own flow holds


def test_a_pwreset_code_does_not_delay_a_pwreg_code(rig):
    rig.create_account()
    rig.challenge()
    assert queued_now(rig) == 1
    rig.clock.advance(seconds=4)
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", PHONE, USER)
    assert queued_now(rig) == 1
    rig.clock.advance(seconds=4)
    with pytest.raises(TooManyRequests):  # pwreg's own 1 per 60 s
        rig.portal.registration.request_holder(session, "Anna Andersson", PHONE, USER)


def test_pwreg_and_pwreset_codes_share_the_three_per_15_minutes(rig):
    """Of one number (SPEC 5 v3): the holder's own, asked for on pwreg and on pwreset."""
    rig.create_account()
    rig.challenge()
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", PHONE, USER)
    rig.clock.advance(seconds=60)
    rig.challenge()
    assert queued_now(rig) == 3
    rig.clock.advance(seconds=60)
    with pytest.raises(TooManyRequests) as refused:  # the 4th in 15 min, whatever the flow
        rig.portal.registration.request_holder(session, "Anna Andersson", PHONE, USER)
    assert refused.value.fields["retry_after"] == 900 - 120
    rig.challenge()
    assert queued_now(rig) == 0


def test_a_second_pwreg_code_within_the_minute_is_too_many_requests_and_sends_nothing(rig):
    rig.create_account()
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    assert queued_now(rig) == 1
    rig.clock.advance(seconds=20)
    with pytest.raises(TooManyRequests) as refused:  # the same number (SPEC 5 v3)
        rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    assert refused.value.fields["retry_after"] == 40
    assert queued_now(rig) == 0


# -- wrong codes per username: 10 per 24 h, then reset paused 24 h ----------------------------

def ten_wrong_codes(rig, username=USERNAME):
    for _ in range(2):
        challenge = rig.challenge(username)
        for _ in range(5):
            with pytest.raises(InvalidCode):
                rig.portal.reset.verify(challenge, "000000" if username != USERNAME
                                        else wrong(rig.last_code()), USER)
        rig.clock.advance(seconds=60)


def test_ten_wrong_codes_pause_resets_of_that_username_for_24_hours(rig):
    rig.create_account()
    rig.create_account("hemvardsgruppen", phone="+46702222222")
    live = rig.challenge()
    code = rig.last_code()
    rig.clock.advance(seconds=60)
    ten_wrong_codes(rig)
    assert "reset.paused" in rig.events()
    # Paused: even the right code of a live challenge does not open it ...
    with pytest.raises(ChallengeExpired):
        rig.portal.reset.verify(live, code, USER)
    # ... and a new start answers as always, but sends nothing,
    rig.clock.advance(minutes=16)
    assert set(rig.portal.reset.start(USERNAME, "+46701234567", USER)) == {"challenge", "expires_in",
                                                           "resend_after"}
    rig.clock.advance(hours=23, minutes=30)
    rig.challenge()
    assert queued_now(rig) == 0
    # ... while another username is not paused.
    other = rig.challenge("hemvardsgruppen")
    assert "reset_token" in rig.portal.reset.verify(other, rig.last_code("+46702222222"), USER)
    # 24 hours after the tenth wrong code, resets work again.
    rig.clock.advance(minutes=15)
    challenge = rig.challenge()
    assert "reset_token" in rig.portal.reset.verify(challenge, rig.last_code(), USER)


def test_wrong_codes_for_an_unknown_username_never_pause_it(rig):
    ten_wrong_codes(rig, "finns-inte")
    assert "reset.paused" not in rig.events("finns-inte")
    # SPEC 11 v3: they count only against the network, never toward any pause: the
    # answers stay those of a wrong code, as for an account whose holders made no mistake
    rig.clock.advance(minutes=16)
    challenge = rig.challenge("finns-inte")
    with pytest.raises(InvalidCode):
        rig.portal.reset.verify(challenge, "000000", USER)


def wrong_codes(rig, challenge, code, times):
    for _ in range(times):
        with pytest.raises(InvalidCode):
            rig.portal.reset.verify(challenge, wrong(code), USER)


def test_wrong_codes_spread_over_more_than_24_hours_do_not_pause(rig):
    rig.create_account()
    first = rig.challenge()
    wrong_codes(rig, first, rig.last_code(), 4)
    rig.clock.advance(hours=12)
    second = rig.challenge()
    wrong_codes(rig, second, rig.last_code(), 5)  # 9 within 24 hours
    rig.clock.advance(hours=12, seconds=1)  # the first 4 have left the 24 hours
    third = rig.challenge()
    code = rig.last_code()
    wrong_codes(rig, third, code, 1)
    assert "reset.paused" not in rig.events()
    assert "reset_token" in rig.portal.reset.verify(third, code, USER)


def test_the_tenth_wrong_code_within_24_hours_pauses(rig):
    rig.create_account()
    first = rig.challenge()
    wrong_codes(rig, first, rig.last_code(), 5)
    rig.clock.advance(hours=23)
    second = rig.challenge()
    code = rig.last_code()
    wrong_codes(rig, second, code, 4)
    assert "reset.paused" not in rig.events()
    wrong_codes(rig, second, code, 1)
    assert "reset.paused" in rig.events()
    rig.clock.advance(hours=2)  # the first five have left the window; the pause has not
    rig.challenge()
    assert queued_now(rig) == 0
    rig.clock.advance(hours=22)  # 24 hours after the tenth
    third = rig.challenge()
    assert "reset_token" in rig.portal.reset.verify(third, rig.last_code(), USER)


# -- pwreg login failures per username and network: 5 per 15 min, then locked 15 min ----------

def test_five_failed_logins_lock_that_network_for_15_minutes_even_with_the_right_password(rig):
    rig.create_account()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD)
    with pytest.raises(TooManyAttempts) as locked:
        rig.login()
    assert locked.value.fields["retry_after"] == 900
    assert "login.locked" in rig.events()
    rig.clock.advance(seconds=899)
    with pytest.raises(TooManyAttempts) as still:
        rig.login()
    assert still.value.fields["retry_after"] == 1
    rig.clock.advance(seconds=1)
    assert rig.login()["username"] == USERNAME


def test_failed_logins_spread_over_more_than_15_minutes_do_not_lock(rig):
    rig.create_account()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD)
    rig.clock.advance(seconds=901)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD)
    assert rig.login()["username"] == USERNAME


def test_a_lock_is_per_username(rig):
    rig.create_account()
    rig.create_account("hemvardsgruppen", phone="+46702222222")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD)
    with pytest.raises(TooManyAttempts):
        rig.login()
    assert rig.login("hemvardsgruppen")["username"] == "hemvardsgruppen"


# -- per client network: 30 reset starts and 30 logins per hour -------------------------------

def test_thirty_reset_starts_per_hour_from_one_address_then_too_many_requests(rig):
    ip = "203.0.113.9"
    for n in range(30):
        rig.portal.reset.start(f"konto{n}", "+46701234567", from_ip(ip))
    with pytest.raises(TooManyRequests) as refused:
        rig.portal.reset.start("konto30", "+46701234567", from_ip(ip))
    assert refused.value.fields["retry_after"] == 3600  # the clock stands at a full hour
    assert "reset_starts_per_ip" in limit_records(rig, "konto30")
    queued_now(rig)
    rig.clock.advance(minutes=20)
    with pytest.raises(TooManyRequests) as refused:
        rig.portal.reset.start("konto31", "+46701234567", from_ip(ip))
    assert refused.value.fields["retry_after"] == 2400
    assert queued_now(rig) == 0
    assert "challenge" in rig.portal.reset.start("konto32", "+46701234567", from_ip("203.0.113.10"))
    rig.clock.advance(minutes=40)
    assert "challenge" in rig.portal.reset.start("konto33", "+46701234567", from_ip(ip))


def test_thirty_logins_per_hour_from_one_address_then_too_many_attempts_even_if_right(rig):
    rig.create_account()
    ip = "203.0.113.9"
    for n in range(30):
        with pytest.raises(InvalidCredentials):
            rig.login(f"konto{n}", WRONG_PASSWORD, caller=from_ip(ip))
    with pytest.raises(TooManyAttempts) as refused:
        rig.login(caller=from_ip(ip))
    assert refused.value.fields["retry_after"] == 3600
    assert "logins_per_ip" in limit_records(rig)
    assert rig.login(caller=from_ip("203.0.113.10"))["username"] == USERNAME
    rig.clock.advance(hours=1)
    assert rig.login(caller=from_ip(ip))["username"] == USERNAME


def test_the_per_address_limits_are_settings(rig, reconfigure):
    reconfigure(limits={"reset_starts_per_ip": parse_rules("2/60")})
    for n in range(2):
        rig.portal.reset.start(f"konto{n}", "+46701234567", USER)
    with pytest.raises(TooManyRequests) as refused:
        rig.portal.reset.start("konto2", "+46701234567", USER)
    assert refused.value.fields["retry_after"] == 60


def test_an_address_is_counted_but_never_stored(rig):
    ip = "198.51.100.23"
    rig.portal.reset.start("konto", "+46701234567", from_ip(ip))
    limits = str(rig.store.items(rig.settings.limits_table))
    assert ip not in limits


# -- new numbers verified per account: N per 24 h ---------------------------------------------

def new_number(rig, session, number):
    rig.portal.registration.request_holder(session, "Anna Andersson", number, USER)
    return rig.portal.registration.verify_holder(session, rig.last_code(number), USER)


def test_three_new_numbers_per_account_and_day_then_too_many_requests(rig, reconfigure):
    reconfigure(limits={"numbers_per_account": parse_rules("3/86400")})  # default 5 (v3)
    rig.create_account()
    session = rig.session()
    for number in ("+46701111111", "+46702222222", "+46703333333"):
        assert new_number(rig, session, number)["holder"]["phone_masked"] == \
            masked_national(number)
        rig.clock.advance(seconds=61)
    rig.clock.advance(minutes=15)  # clear of the 3 code SMS per 15 minutes
    session = rig.session()
    rig.deliver()  # the notices to the replaced numbers
    with pytest.raises(TooManyRequests) as refused:
        rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    assert refused.value.fields["retry_after"] > 0
    assert "numbers_per_account" in limit_records(rig)
    assert queued_now(rig) == 0
    assert [h.phone for h in rig.account().holders] == [
        PHONE, "+46701111111", "+46702222222", "+46703333333"]
    rig.clock.advance(hours=24)
    session = rig.session()
    assert new_number(rig, session, NEW_PHONE)["holder"]["name"] == "Anna Andersson"


# -- SMS for the whole service ----------------------------------------------------------------

def test_past_the_service_wide_sms_limit_nothing_is_sent_and_the_alarm_metric_is_emitted(
        rig, reconfigure):
    reconfigure(limits={"sms_per_service": parse_rules("2/3600")}, metrics=True)
    phones = {"konto-a": PHONE, "konto-b": "+46702222222", "konto-c": "+46703333333"}
    for name, phone in phones.items():
        rig.create_account(name, phone=phone)
        rig.challenge(name)
    assert rig.deliver() == ["sent", "sent", "service_limit"]
    assert [to for to, _ in rig.sent] == [PHONE, "+46702222222"]
    [record] = [r for r in rig.audit("konto-c") if r["event"] == "ratelimit.exceeded"]
    assert record["limit"] == "sms_per_service"
    assert record["phone"] != "+46703333333"  # masked
    assert any(line.get("ratelimit.exceeded") in (1, [1]) and line.get("limit") == "sms_per_service"
               and line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
               == [{"Name": "ratelimit.exceeded", "Unit": "Count"}]
               for line in rig.log_lines())
    rig.clock.advance(hours=1)
    rig.challenge("konto-c")
    assert rig.deliver() == ["sent"]
    assert rig.sent[-1][0] == "+46703333333"


def test_the_service_limit_also_stops_notices(rig, reconfigure):
    reconfigure(limits={"sms_per_service": parse_rules("1/3600")})
    rig.create_account()
    rig.portal.completion.complete(rig.reset_token(), "Bla-Hus-2026-x", USER)
    assert rig.deliver() == ["service_limit"]  # the password-changed notice
    assert len(rig.sent) == 1


# -- phone numbers: E.164, Swedish, mobile ----------------------------------------------------

@pytest.mark.parametrize("typed", ["070-765 43 21", "0707654321", "+46707654321",
                                   "0046707654321", "+46 70 765 43 21"])
def test_swedish_mobile_numbers_are_accepted_and_kept_in_e164(rig, typed):
    rig.create_account()
    session = rig.session()
    answer = rig.portal.registration.request_holder(session, "Anna Andersson", typed, USER)
    assert answer == {"phone": NEW_PHONE, "expires_in": 600, "resend_after": 60}
    shown = rig.portal.registration.verify_holder(session, rig.last_code(NEW_PHONE), USER)
    assert shown["holder"]["phone_masked"] == "070-*** ** 21"
    assert [h.phone for h in rig.account().holders] == [PHONE, NEW_PHONE]


@pytest.mark.parametrize("typed", ["08-123 456 78", "+4740612345", "+4915112345678",
                                   "+358401234567"],
                         ids=["swedish-landline", "norwegian-mobile", "german-mobile",
                              "finnish-mobile"])
def test_landlines_and_foreign_numbers_are_not_allowed(rig, typed):
    rig.create_account()
    with pytest.raises(PhoneNotAllowed):
        rig.portal.registration.request_holder(rig.session(), "Anna Andersson", typed, USER)
    assert queued_now(rig) == 0


@pytest.mark.parametrize("typed", ["hello", "12", "070-123 45 67 ext 3", ""])
def test_what_is_no_number_at_all_is_an_invalid_phone(rig, typed):
    rig.create_account()
    with pytest.raises(InvalidPhone):
        rig.portal.registration.request_holder(rig.session(), "Anna Andersson", typed, USER)


def test_the_allowed_countries_are_a_setting(rig, reconfigure):
    reconfigure(allowed_countries=("SE", "NO"))
    rig.create_account()
    answer = rig.portal.registration.request_holder(rig.session(), "Anna Andersson", "+47 406 12 345", USER)
    assert answer["phone"] == "+4740612345"


# -- an unknown username looks like a known one -----------------------------------------------

def test_reset_answers_alike_for_known_and_unknown_usernames(rig):
    rig.create_account()
    known = rig.portal.reset.start(USERNAME, "+46701234567", USER)
    unknown = rig.portal.reset.start("finns-inte", "+46701234567", USER)
    assert {k: v for k, v in known.items() if k != "challenge"} == {
        k: v for k, v in unknown.items() if k != "challenge"}
    assert len(known["challenge"]) == len(unknown["challenge"])
    # Both queue one message of the same shape: only the worker knows who has a number.
    known_message, unknown_message = rig.queued()
    assert set(known_message) == set(unknown_message)
    assert rig.deliver() == ["sent", "no_recipient"]
    for challenge in (known["challenge"], unknown["challenge"]):
        with pytest.raises(InvalidCode) as failed:
            rig.portal.reset.verify(challenge, "000000" if challenge == unknown["challenge"]
                                    else wrong(rig.last_code()), USER)
        assert failed.value.fields == {"attempts_left": 4}
    rig.clock.advance(seconds=30)
    for challenge in (known["challenge"], unknown["challenge"]):
        with pytest.raises(Exception) as too_soon:
            rig.portal.reset.resend(challenge, USER)
        assert (type(too_soon.value).__name__, too_soon.value.fields) == (
            "ResendTooSoon", {"retry_after": 30})


def test_login_answers_alike_for_unknown_user_wrong_password_and_disabled_account(rig):
    rig.create_account()
    rig.create_account("avstangt", phone=None)
    rig.portal.account_changes.disable("avstangt")
    failures = []
    for username, password in (("finns-inte", PASSWORD), (USERNAME, WRONG_PASSWORD),
                               ("avstangt", PASSWORD)):
        with pytest.raises(InvalidCredentials) as failed:
            rig.login(username, password)
        failures.append((str(failed.value), failed.value.fields))
    assert len(set(map(repr, failures))) == 1


def test_an_unknown_username_is_locked_exactly_like_a_known_one(rig):
    rig.create_account()
    for name in (USERNAME, "finns-inte"):
        for _ in range(5):
            with pytest.raises(InvalidCredentials):
                rig.login(name, WRONG_PASSWORD)
    answers = []
    for name in (USERNAME, "finns-inte"):
        with pytest.raises(TooManyAttempts) as locked:
            rig.login(name, PASSWORD)
        answers.append(locked.value.fields)
    assert answers == [{"retry_after": 900}] * 2
    assert "login.locked" in rig.events("finns-inte")
