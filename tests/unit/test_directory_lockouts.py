"""SPEC 16: what the `ldap` adapter reads as a directory's lockout after failed logins
(adapters/ldap_directory.py), from the attributes an entry comes back with: Active
Directory's DC verdict or `lockoutTime` within the domain's `lockoutDuration`, OpenLDAP
ppolicy's `pwdAccountLockedTime` (never its administrator's lock). The real servers lock
and unlock in tests/directory."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.ldap_directory import (FILETIME_EPOCH, Entry, domain_of, locked_now)

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)
THIRTY_MINUTES = -30 * 60 * 10**7  # AD's lockoutDuration: negative, in 100 ns


def ticks(moment: datetime) -> str:
    """A moment as AD's `lockoutTime` says it: 100 ns since 1601, as text (no schema)."""
    return str((moment - FILETIME_EPOCH) // timedelta(microseconds=1) * 10)


def entry(**attributes) -> Entry:
    return Entry("CN=hemtjanstab,CN=Users,DC=pwportal,DC=local",
                 {name.replace("_", "-"): value for name, value in attributes.items()})


def test_the_dcs_own_verdict_decides_when_it_gives_one():
    """msDS-User-Account-Control-Computed's UF_LOCKOUT (0x10) counts the domain's duration
    on the DC's clock: it overrules `lockoutTime`."""
    locked_then = ticks(NOW - timedelta(hours=5))
    assert locked_now(entry(**{"msDS_User_Account_Control_Computed": ["16"],
                               "lockoutTime": [locked_then]}), None, NOW)
    assert not locked_now(entry(**{"msDS_User_Account_Control_Computed": ["0"],
                                   "lockoutTime": [locked_then]}), None, NOW)


def test_a_lockout_time_counts_within_the_domains_lockout_duration():
    recent = entry(lockoutTime=[ticks(NOW - timedelta(minutes=10))])
    lapsed = entry(lockoutTime=[ticks(NOW - timedelta(minutes=31))])
    assert locked_now(recent, THIRTY_MINUTES, NOW)
    assert not locked_now(lapsed, THIRTY_MINUTES, NOW)


@pytest.mark.parametrize("duration", [None, 0, -2**63])
def test_a_lockout_time_without_a_known_end_is_a_lock(duration):
    """The duration unreadable (None), or AD's "until an administrator unlocks it"."""
    assert locked_now(entry(lockoutTime=[ticks(NOW - timedelta(days=3))]), duration, NOW)


@pytest.mark.parametrize("value", [["0"], [], ["x"]])
def test_no_lockout_time_is_no_lock(value):
    assert not locked_now(entry(lockoutTime=value), THIRTY_MINUTES, NOW)


def test_ppolicys_lockout_is_its_locked_time_and_its_administrators_lock_is_not_one():
    assert locked_now(entry(pwdAccountLockedTime=["20261207074632Z"]), None, NOW)
    assert not locked_now(entry(pwdAccountLockedTime=["000001010000Z"]), None, NOW)
    assert not locked_now(entry(objectClass=["inetOrgPerson"]), None, NOW)


def test_the_domains_head_is_the_trailing_dc_parts_of_the_dn():
    assert domain_of("CN=hemtjanstab,OU=Konton,DC=kommun,DC=se") == "DC=kommun,DC=se"
    assert domain_of("uid=x,ou=accounts,o=kommun") == ""
