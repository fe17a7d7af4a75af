"""SPEC 16, unlock without a new password, against a real slapd with ppolicy's lockout
(infra/ldap_server.py: 5 wrong binds lock an entry, `pwdAccountLockedTime`): a phone with an
old password locks the account; the holder's reset code lets pwreset's verify say so, and
the unlock lifts the lock with the service account's rights alone, the password untouched.
The use cases run on the unit tests' in-memory store (as tests/directory/test_ldap_mode.py);
Active Directory's path is in test_active_directory.py."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.domain.errors import TokenExpired
from chalicelib.ports import DirectoryState
from chalicelib.settings import Settings
from infra.ldap_server import LOCKOUT_AFTER, account_dn
from tests.directory.conftest import directory_settings
from tests.unit.conftest import (AUTHENTICATOR_KEY, CODE_KEY, LIMIT_KEY, PEPPER, PHONE, USER,
                                 Rig, changed)
from tests.unit.fakes import MemoryStore

OLD, NEW = "Gammal-Sol-2026", "Ny-Mane-Regn-7"


@pytest.fixture
def rig(slapd, username) -> Rig:
    """A portal in ldap mode against the slapd, its clock at the real time (ppolicy's lock
    times are real), `username` in the portal and in the directory with OLD."""
    settings = changed(Settings(pepper=PEPPER, code_key=CODE_KEY, limit_key=LIMIT_KEY,
                                authenticator_key=AUTHENTICATOR_KEY),
                       directory=directory_settings(slapd).__dict__)
    rig = Rig(settings)
    rig.store = MemoryStore()
    rig.clock.set(datetime.now(timezone.utc))
    rig.build(settings)
    slapd.add_account(username, OLD)
    rig.create_account(username, password=OLD, phone=PHONE)
    return rig


def verified(rig: Rig, username: str) -> dict:
    """The holder's right code: verify's answer (a quarter of an hour after the last one on
    the portal's clock, past the SMS limits; ppolicy's times are its own)."""
    rig.clock.advance(minutes=16)
    challenge = rig.challenge(username)
    return rig.portal.reset.verify(challenge, rig.last_code(PHONE), USER)


def test_the_policy_locks_an_entry_after_five_wrong_binds_even_for_the_right_password(
        slapd, username):
    slapd.add_account(username, OLD)
    assert slapd.binds(username, OLD)
    slapd.lock_by_wrong_binds(username)
    assert LOCKOUT_AFTER == 5 and slapd.locked_time(username)
    assert not slapd.binds(username, OLD)


def test_a_holder_unlocks_the_account_and_the_old_password_binds_again(rig, slapd, username):
    slapd.lock_by_wrong_binds(username)
    changed_before = slapd.changed_time(username)
    answer = verified(rig, username)
    assert answer["directory_locked"] is True
    assert rig.portal.directory_unlock.state(username) == DirectoryState(exists=True,
                                                                         locked=True)
    assert rig.portal.directory_unlock.unlock(answer["reset_token"], USER) == {
        "unlocked": True, "username": username}
    assert slapd.locked_time(username) is None
    assert slapd.binds(username, OLD)  # the password it had, never changed
    assert slapd.changed_time(username) == changed_before
    assert rig.portal.directory_unlock.state(username) == DirectoryState(exists=True,
                                                                         locked=False)
    [record] = [r for r in rig.audit(username) if r["event"] == "account.unlocked"]
    assert record["outcome"] == "success" and record["cleared"] == ["directory"]
    assert record["holder_id"] == rig.account(username).holders[0].id
    rig.deliver()
    assert "låstes upp" in rig.texts_to(PHONE)[-1]


def test_the_token_an_unlock_used_cannot_change_the_password(rig, slapd, username):
    slapd.lock_by_wrong_binds(username)
    token = verified(rig, username)["reset_token"]
    rig.portal.directory_unlock.unlock(token, USER)
    with pytest.raises(TokenExpired):
        rig.portal.completion.complete(token, NEW, USER)
    with pytest.raises(TokenExpired):
        rig.portal.directory_unlock.unlock(token, USER)
    assert slapd.binds(username, OLD) and not slapd.binds(username, NEW)


def test_an_account_the_directory_has_not_locked_says_so(rig, slapd, username):
    assert verified(rig, username)["directory_locked"] is False
    slapd.lock_by_wrong_binds(username)
    token = verified(rig, username)["reset_token"]
    rig.portal.directory_unlock.unlock(token, USER)
    assert verified(rig, username)["directory_locked"] is False  # unlocked: false again


def test_one_wrong_bind_after_the_unlock_does_not_lock_it_again(rig, slapd, username):
    """ppolicy deletes the failures with the lock: the count starts afresh."""
    slapd.lock_by_wrong_binds(username)
    rig.portal.directory_unlock.unlock(verified(rig, username)["reset_token"], USER)
    assert not slapd.binds(username, "Gammalt-Losen-x")
    assert slapd.locked_time(username) is None and slapd.binds(username, OLD)


def test_an_administrators_lock_is_not_the_holders_to_lift(rig, slapd, username):
    """ppolicy's `000001010000Z`: locked until an administrator unlocks it."""
    admin = slapd.admin()
    try:
        assert admin.modify(account_dn(username), {
            "pwdAccountLockedTime": [("MODIFY_REPLACE", ["000001010000Z"])]})
    finally:
        admin.unbind()
    answer = verified(rig, username)
    assert answer["directory_locked"] is False
    rig.portal.directory_unlock.unlock(answer["reset_token"], USER)
    assert slapd.locked_time(username) == "000001010000Z"
    [record] = [r for r in rig.audit(username) if r["event"] == "account.unlocked"]
    assert record["outcome"] == "not_locked"
