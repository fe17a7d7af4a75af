"""SPEC 16: the sources of the breach check (adapters/breached.py), each against what it
reads: the list shipped in the package, and the range API on loopback (tests/range_server.py)
speaking the real protocol from that list."""
from __future__ import annotations

from chalicelib.adapters.breached import (FirstThatKnows, RangeApi, ShippedList,
                                          shipped_passwords)
from infra import password_data
from tests.range_server import range_server, shipped_list, unanswering

class Says:
    def __init__(self, answer):
        self.answer, self.asked = answer, 0

    def breached(self, password):
        self.asked += 1
        return self.answer

def test_the_shipped_list_holds_at_least_10000_breached_passwords_from_its_source():
    listed = shipped_list()
    assert len(listed) >= 10_000 and len(set(listed)) == len(listed)
    assert listed == password_data.breached_passwords()  # Django's, in Django's order
    assert listed[:4] == ["123456", "123456789", "qwerty", "password"]
    assert len(password_data.BREACHED.read_bytes()) < 100 * 1024  # small in the package
    assert all(entry == entry.lower() for entry in listed)  # compared lower-cased
    assert shipped_passwords() == frozenset(listed)

def test_the_shipped_list_is_asked_in_any_case_and_without_a_network():
    shipped = ShippedList()
    assert shipped.breached("aptx4869") and shipped.breached("APTX4869")
    assert shipped.breached("Aptx4869") and not shipped.breached("Bla-Hus-2026-x")

def test_the_range_api_finds_a_listed_password_and_not_an_unlisted_one():
    with range_server(["Aptx4869", "tuvKAJ58!x"]) as server:
        api = RangeApi(server.url, 1.0)
        assert api.breached("Aptx4869") is True
        assert api.breached("aptx4869") is False  # the range API is exact, case and all
        assert api.breached("Bla-Hus-2026-x") is False

def test_a_padded_line_with_the_passwords_own_suffix_is_no_breach():
    with range_server([], padded_as=["Bla-Hus-2026-x"]) as server:
        assert RangeApi(server.url, 1.0).breached("Bla-Hus-2026-x") is False

def test_the_request_holds_five_hex_characters_and_asks_for_padding():
    with range_server() as server:
        RangeApi(server.url, 1.0).breached("Aptx4869")
    [asked] = server.received
    assert asked.path == "/range/53E1D"  # SHA-1("Aptx4869") starts 53E1D
    assert asked.headers["Add-Padding"] == "true"

def test_an_answer_that_is_not_the_protocol_cannot_tell():
    with range_server() as server:  # a path the server refuses with 400
        assert RangeApi(server.url.replace("/range/", "/elsewhere/"), 1.0
                        ).breached("Aptx4869") is None

def test_a_server_that_never_answers_cannot_tell_within_the_timeout():
    with unanswering() as url:
        assert RangeApi(url, 0.05).breached("Aptx4869") is None

def test_the_first_source_that_finds_it_decides_and_a_silent_one_leaves_cannot_tell():
    silent, listed, unlisted = Says(None), Says(True), Says(False)
    assert FirstThatKnows(silent, listed).breached("x") is True
    assert FirstThatKnows(silent, unlisted).breached("x") is None
    assert FirstThatKnows(unlisted, unlisted).breached("x") is False
    later = Says(True)
    assert FirstThatKnows(listed, later).breached("x") is True and later.asked == 0


def test_breached_is_the_last_rule_and_named_only_when_the_caller_found_it():
    from chalicelib.domain import policy
    from chalicelib.settings import load_settings
    rules = load_settings({}).policy
    assert policy.RULES[-1] == "breached"
    assert policy.violations("Aptx4869", "hemtjanstab", rules) == []
    assert policy.violations("Aptx4869", "hemtjanstab", rules, breached=True) == ["breached"]


class Recorded:
    """The audit as the breach check uses it: the records it was asked to write."""

    def __init__(self):
        self.written = []

    def record(self, event, username, outcome, caller, **details):
        return {"event": event, "username": username, "outcome": outcome, **details}

    def write_if_possible(self, record):
        self.written.append(record)


def test_the_breach_check_is_asked_only_about_a_password_every_other_rule_takes():
    from chalicelib.domain.events import Caller
    from chalicelib.services.breach_check import BreachCheck
    listed, audit = Says(True), Recorded()
    check = BreachCheck(breaches=lambda: listed, audit=audit)
    assert check.breached("Aptx4869", ["reused"], "hemtjanstab", Caller()) is False
    assert listed.asked == 0
    assert check.breached("Aptx4869", [], "hemtjanstab", Caller()) is True
    assert listed.asked == 1 and audit.written == []


def test_a_source_that_cannot_tell_lets_the_password_pass_and_is_recorded_without_it():
    from chalicelib.domain.events import Caller
    from chalicelib.services.breach_check import BreachCheck
    audit = Recorded()
    check = BreachCheck(breaches=lambda: Says(None), audit=audit)
    assert check.breached("Bla-Hus-2026-x", [], "hemtjanstab", Caller()) is False
    assert audit.written == [{"event": "breach_check.failed", "username": "hemtjanstab",
                              "outcome": "unanswered"}]
