"""SPEC 5 v2, what an outside attack on version 1 found (issue 12, findings 2-5 and 11):
client networks (an IPv6 /64 is one client) keyed by an HMAC under a secret key, trusted
networks, the login lock per username and network with an all-networks ceiling, windows
that slide, a failure counted before the compare (and a request refused when it cannot be
counted), one rate-limit record per subject and window, per-network limits on verify and
resend; and issue 13.4: pwreg's new code carries the wrong attempts over."""
from __future__ import annotations

import hashlib
import pytest

from chalicelib.domain.phone import masked_national
from chalicelib.domain.errors import (InvalidCode, InvalidCredentials, ServiceUnavailable,
                                      TooManyAttempts, TooManyRequests)
from chalicelib.domain.events import Caller
from chalicelib.domain.limits import network_of, parse_rules
from tests.unit.conftest import NEW_PHONE, PASSWORD, USER, USERNAME
from tests.unit.fakes import FastHasher

WRONG_PASSWORD = "Fel-Losen-1"


def from_ip(ip: str) -> Caller:
    return Caller(ip=ip, request_id="test", lang="sv")


def limit_records(rig, username=USERNAME) -> list[str]:
    return [r.get("limit") for r in rig.audit(username) if r["event"] == "ratelimit.exceeded"]


def starts(rig, count: int, ip_of) -> list[bool]:
    """`count` reset starts, the i-th from `ip_of(i)`: which were let through."""
    passed = []
    for i in range(count):
        try:
            rig.portal.reset.start(f"konto{i}", "+46701234567", from_ip(ip_of(i)))
            passed.append(True)
        except TooManyRequests:
            passed.append(False)
    return passed


# -- client networks (finding 3) ---------------------------------------------------------------

def test_an_ipv6_client_is_its_64_and_an_ipv4_client_its_address():
    assert network_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:2::1") == network_of("2001:db8:1:2:ffff::9")
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("203.0.113.9") == "203.0.113.9" != network_of("203.0.113.10")
    assert network_of("::ffff:203.0.113.9") == "203.0.113.9"


def test_forty_starts_from_forty_addresses_of_one_64_are_limited_as_one_client(rig):
    passed = starts(rig, 40, lambda i: f"2001:db8:7:1::{i + 1:x}")
    assert passed == [True] * 30 + [False] * 10
    # Another /64 is another client.
    assert "challenge" in rig.portal.reset.start("konto", "+46701234567", from_ip("2001:db8:7:2::1"))


def test_a_network_is_stored_as_an_hmac_under_the_limit_key_never_a_plain_hash(rig,
                                                                               reconfigure):
    ip = "198.51.100.23"
    rig.portal.reset.start("konto", "+46701234567", from_ip(ip))
    stored = str(rig.store.items(rig.settings.limits_table))
    for unkeyed in (ip, hashlib.sha256(ip.encode()).hexdigest()[:24],
                    hashlib.sha256(network_of(ip).encode()).hexdigest()[:24]):
        assert unkeyed not in stored
    # The same address under another key is another subject: the key is what makes it.
    keys = {item["key"] for item in rig.store.items(rig.settings.limits_table)}
    reconfigure(limit_key="m" * 32)
    rig.portal.reset.start("konto", "+46701234567", from_ip(ip))
    added = {item["key"] for item in rig.store.items(rig.settings.limits_table)} - keys
    assert any(key.startswith("net-reset#") for key in added)


def test_one_trusted_address_gets_300_starts_an_hour_and_an_untrusted_30(rig, reconfigure):
    reconfigure(limits={"trusted_networks": ("10.20.0.0/16",)})
    assert starts(rig, 301, lambda i: "10.20.0.1") == [True] * 300 + [False]
    assert starts(rig, 31, lambda i: "10.21.0.1") == [True] * 30 + [False]


def test_a_trusted_network_gets_ten_times_the_login_failures_before_its_lock(rig,
                                                                           reconfigure):
    reconfigure(limits={"trusted_networks": ("10.20.0.0/16",)})
    rig.create_account()
    nat = from_ip("10.20.0.1")
    for left in range(49, -1, -1):
        with pytest.raises(InvalidCredentials) as failed:
            rig.login(password=WRONG_PASSWORD, caller=nat)
        assert failed.value.fields == {"attempts_left": left}
    with pytest.raises(TooManyAttempts):  # the 51st: the all-networks ceiling (50 a day)
        rig.login(caller=nat)


# -- the login lock per username and network, and the all-networks ceiling (finding 4) -------

def test_a_lock_from_one_network_leaves_the_holder_on_another_network_in(rig):
    rig.create_account()
    attacker, holder = from_ip("198.51.100.66"), from_ip("203.0.113.5")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD, caller=attacker)
    with pytest.raises(TooManyAttempts) as locked:
        rig.login(caller=attacker)
    assert locked.value.fields["retry_after"] == 900
    assert rig.login(caller=holder)["username"] == USERNAME


def test_fifty_failures_from_many_networks_lock_the_username_on_every_network(rig):
    rig.create_account()
    for n in range(50):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD, caller=from_ip(f"198.51.100.{n + 1}"))
    with pytest.raises(TooManyAttempts) as locked:
        rig.login(caller=from_ip("203.0.113.200"))  # a fresh network, the right password
    assert locked.value.fields["retry_after"] == 86400
    events = rig.audit()
    assert sum(1 for r in events if r["event"] == "login.failed") == 50
    assert [r.get("scope") for r in events if r["event"] == "login.locked"] == ["all_networks"]
    rig.clock.advance(hours=24)
    assert rig.login(caller=from_ip("203.0.113.200"))["username"] == USERNAME


def test_a_successful_reset_clears_the_login_locks_of_every_network(rig):
    rig.create_account()
    attacker = from_ip("198.51.100.66")
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            rig.login(password=WRONG_PASSWORD, caller=attacker)
    with pytest.raises(TooManyAttempts):
        rig.login(caller=attacker)
    rig.portal.completion.complete(rig.reset_token(), "Bla-Hus-2026-x", USER)
    assert rig.login(password="Bla-Hus-2026-x", caller=attacker)["username"] == USERNAME


def test_the_tries_left_are_the_same_for_an_unknown_and_a_known_username(rig):
    rig.create_account()
    left = {}
    for name in (USERNAME, "finns-inte"):
        left[name] = []
        for _ in range(5):
            with pytest.raises(InvalidCredentials) as failed:
                rig.login(name, WRONG_PASSWORD)
            left[name].append(failed.value.fields["attempts_left"])
    assert left[USERNAME] == left["finns-inte"] == [4, 3, 2, 1, 0]


# -- a failure is counted before the compare; one that cannot be counted refuses (finding 2) -

class StoreDownAfterCompare(FastHasher):
    """DynamoDB goes away while the password is being compared."""

    def __init__(self, store, pepper: bytes):
        super().__init__(pepper)
        self._store = store

    def verify(self, stored: str, password: str) -> bool:
        found = super().verify(stored, password)
        self._store.down = True
        return found


def test_a_failure_that_cannot_be_recorded_is_refused_and_still_counted(rig):
    rig.create_account()
    portal = rig.portal.but(hasher=StoreDownAfterCompare(rig.store, rig.settings.pepper.encode()))
    with pytest.raises(ServiceUnavailable):
        portal.registration.login(USERNAME, WRONG_PASSWORD, USER)
    rig.store.down = False
    with pytest.raises(InvalidCredentials) as next_failure:
        rig.login(password=WRONG_PASSWORD)
    assert next_failure.value.fields == {"attempts_left": 3}  # the 503 counted as a failure


def test_the_right_password_gets_no_session_when_it_cannot_be_issued_atomically(rig):
    rig.create_account()
    portal = rig.portal.but(hasher=StoreDownAfterCompare(rig.store, rig.settings.pepper.encode()))
    with pytest.raises(ServiceUnavailable):
        portal.registration.login(USERNAME, PASSWORD, USER)
    rig.store.down = False
    assert [i for i in rig.store.items(rig.settings.challenges_table)
            if i.get("kind") == "session"] == []


class LockedWhileComparing(FastHasher):
    """The ceiling is reached (by other requests) while this password is compared."""

    def __init__(self, rig):
        super().__init__(rig.settings.pepper.encode())
        self._rig = rig

    def verify(self, stored: str, password: str) -> bool:
        from chalicelib.domain.limits import LOGIN_FAILURES
        limits = self._rig.portal.limits
        now = self._rig.clock.now().timestamp()
        self._rig.store.write(limits.locked_until(LOGIN_FAILURES, USERNAME, now + 600))
        return super().verify(stored, password)


def test_a_lock_set_while_the_password_is_compared_stops_the_session(rig):
    rig.create_account()
    portal = rig.portal.but(hasher=LockedWhileComparing(rig))
    with pytest.raises(TooManyAttempts):
        portal.registration.login(USERNAME, PASSWORD, USER)
    assert [i for i in rig.store.items(rig.settings.challenges_table)
            if i.get("kind") == "session"] == []


# -- sliding windows (finding 11) --------------------------------------------------------------

def test_no_burst_of_twice_the_limit_fits_across_a_window_edge(rig):
    ip = "203.0.113.9"
    rig.clock.advance(minutes=59, seconds=59)  # one second before a full hour
    assert starts(rig, 30, lambda i: ip) == [True] * 30
    rig.clock.advance(seconds=2)  # a fixed hourly window would start afresh here
    assert starts(rig, 30, lambda i: ip) == [False] * 30
    rig.clock.advance(minutes=59, seconds=57)  # one hour after the first 30, less a second
    assert starts(rig, 1, lambda i: ip) == [False]
    rig.clock.advance(seconds=1)
    assert starts(rig, 30, lambda i: ip) == [True] * 30


def test_the_service_sms_limit_slides_too(rig, reconfigure):
    reconfigure(limits={"sms_per_service": parse_rules("2/3600")})
    phones = ["+46701000001", "+46701000002", "+46701000003"]
    for n, phone in enumerate(phones):
        rig.create_account(f"konto-{n}", phone=phone)
    rig.clock.advance(minutes=59)
    rig.challenge("konto-0")
    rig.challenge("konto-1")
    assert rig.deliver() == ["sent", "sent"]
    rig.clock.advance(minutes=2)  # a new fixed hour; not a new sliding one
    rig.challenge("konto-2")
    assert rig.deliver() == ["service_limit"]


# -- one rate-limit record per subject and window; verify and resend limits (finding 5) -------

def test_a_hundred_refused_starts_leave_one_rate_limit_record(rig):
    ip = "203.0.113.9"
    starts(rig, 130, lambda i: ip)
    records = [r for n in range(130) for r in rig.audit(f"konto{n}")
               if r["event"] == "ratelimit.exceeded"]
    assert len(records) == 1 and records[0]["limit"] == "reset_starts_per_ip"
    # and the log still says every time (one line per refusal)
    assert sum(1 for line in rig.log_lines() if line.get("event") == "ratelimit.exceeded"
               or line.get("message") == "ratelimit.exceeded") >= 100


def test_verifies_are_limited_per_network(rig):
    rig.create_account()
    challenge = rig.challenge()
    caller = from_ip("198.51.100.99")
    for _ in range(60):
        try:
            rig.portal.reset.verify(challenge, "000000", caller)
        except Exception as error:  # noqa: BLE001: only the 61st must be a 429
            assert not isinstance(error, TooManyRequests)
    with pytest.raises(TooManyRequests) as refused:
        rig.portal.reset.verify(challenge, "000000", caller)
    assert refused.value.fields["retry_after"] > 0
    assert limit_records(rig, "-").count("verifies_per_network") == 1


def test_resends_are_limited_per_network(rig, reconfigure):
    reconfigure(limits={"resends_per_network": parse_rules("3/3600")})
    rig.create_account()
    challenge = rig.challenge()
    caller = from_ip("198.51.100.98")
    for _ in range(3):
        rig.clock.advance(seconds=60)
        rig.portal.reset.resend(challenge, caller)
    rig.clock.advance(seconds=60)
    with pytest.raises(TooManyRequests):
        rig.portal.reset.resend(challenge, caller)
    # An hour after the first three, the network may resend again (their slices go).
    rig.clock.advance(minutes=57)
    later = rig.challenge(caller=from_ip("198.51.100.97"))
    rig.clock.advance(seconds=60)
    assert rig.portal.reset.resend(later, caller)["challenge"] == later


# -- issue 13.4: pwreg's new code carries the wrong attempts over -----------------------------

def test_a_new_pwreg_code_carries_the_wrong_attempts_over(rig):
    rig.create_account()
    session = rig.session()
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)
    code = rig.last_code(NEW_PHONE)
    left = []
    for _ in range(2):
        with pytest.raises(InvalidCode) as failed:
            rig.portal.registration.verify_holder(session, f"{(int(code) + 1) % 10**6:06d}",
                                                 USER)
        left.append(failed.value.fields["attempts_left"])
    rig.clock.advance(seconds=60)
    rig.portal.registration.request_holder(session, "Anna Andersson", NEW_PHONE, USER)  # "Skicka ny kod"
    new = rig.last_code(NEW_PHONE)
    with pytest.raises(InvalidCode) as failed:
        rig.portal.registration.verify_holder(session, f"{(int(new) + 1) % 10**6:06d}", USER)
    left.append(failed.value.fields["attempts_left"])
    assert left == [4, 3, 2]  # not 4 again
    shown = rig.portal.registration.verify_holder(session, new, USER)
    assert shown["holder"]["phone_masked"] == \
        masked_national(NEW_PHONE)
