"""Sliding-window arithmetic behind every per-username limit."""
import pytest

from chalicelib.domain.limits import Rule, decide, fixed_window, parse_rules, recent

SMS = parse_rules("1/60,3/900,5/86400")


def test_rules_parse_from_settings_text():
    assert SMS == (Rule(1, 60), Rule(3, 900), Rule(5, 86400))


@pytest.mark.parametrize("text", ["1-60", "0/60", "a/b", "3/-1"])
def test_a_malformed_rule_stops_the_service(text):
    with pytest.raises(RuntimeError):
        parse_rules(text)


def test_second_sms_within_a_minute_waits_for_the_first_to_leave_the_window():
    decision = decide([1000.0], SMS, 1010.0)
    assert not decision.allowed and decision.retry_after == 50


def test_fourth_sms_in_fifteen_minutes_is_refused_until_the_oldest_leaves():
    events = [0.0, 100.0, 200.0]
    assert not decide(events, SMS, 300.0).allowed
    assert decide(events, SMS, 300.0).retry_after == 600
    assert decide(events, SMS, 901.0).allowed


def test_sixth_sms_in_a_day_is_refused():
    events = [0.0, 1000.0, 2000.0, 3000.0, 4000.0]
    assert not decide(events, SMS, 5000.0).allowed
    assert decide(events, SMS, 86401.0).allowed


def test_recent_keeps_only_what_the_longest_window_still_counts():
    assert recent([0.0, 50000.0, 90000.0], SMS, 100000.0) == [50000.0, 90000.0]


def test_fixed_windows_say_how_long_until_they_end():
    assert fixed_window(3700.0, 3600) == (3600, 3500)
