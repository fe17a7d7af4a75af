"""SPEC 13, Active Directory's path against a real Samba AD domain controller (Debian's
`samba`, provisioned here by infra/samba_dc.py): the entry found by sAMAccountName, login as
a bind, the reset as AD's `unicodePwd` replace (auto-detected), AD's refusal (0000052D) as
rule `directory`, and `pwdLastSet` as the date the expiry counts from. SPEC 16: five wrong
passwords lock the account (`lockoutTime`, the domain's lockout threshold), and a holder's
code unlocks it on pwreset, the password unchanged."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.ldap_directory import LdapDirectory
from chalicelib.domain.errors import PasswordRejected, TokenExpired
from chalicelib.ports import DirectoryState
from chalicelib.settings import Settings, load_settings
from infra.samba_dc import LOCKOUT_AFTER, SambaDomainController, probe
from tests.unit.conftest import (AUTHENTICATOR_KEY, CODE_KEY, LIMIT_KEY, PEPPER, PHONE, USER,
                                 Rig, changed)
from tests.unit.fakes import MemoryStore

OLD, NEW = "Gammal-Sol-2026", "Ny-Mane-Regn-7"


@pytest.fixture(scope="module")
def samba(tmp_path_factory):
    reason = probe()
    if reason:
        pytest.skip(f"no Samba AD DC here: {reason}")
    dc = SambaDomainController(tmp_path_factory.mktemp("samba"))
    try:
        dc.start()
    except RuntimeError as failure:
        pytest.skip(f"Samba AD DC could not start here: {failure}")
    yield dc
    dc.stop()


@pytest.fixture
def directory(samba):
    settings = load_settings(samba.settings()).directory
    return LdapDirectory(settings, lambda: samba.admin_password)


def test_a_reset_is_a_unicodepwd_replace_and_the_old_password_stops(samba, directory):
    samba.add_user("hemtjanstab", OLD)
    assert directory.exists("hemtjanstab") and not directory.exists("hemtjanst*")
    assert directory.verify("hemtjanstab", "", OLD) is True
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    directory.set("hemtjanstab", NEW)
    assert samba.binds("hemtjanstab", NEW) and not samba.binds("hemtjanstab", OLD)
    assert directory.verify("hemtjanstab", "", NEW) is True
    assert directory.verify("hemtjanstab", "", OLD) is False
    changed = directory.changed_at("hemtjanstab")  # pwdLastSet
    assert changed is not None and before <= changed <= datetime.now(timezone.utc)


def test_ads_own_complexity_rule_is_a_directory_rejection(samba, directory):
    samba.add_user("nattpatrullen", OLD)
    with pytest.raises(PasswordRejected) as refused:  # 0000052D: too short, too simple
        directory.set("nattpatrullen", "abcdefgh")
    assert refused.value.rules == ["directory"]
    assert samba.binds("nattpatrullen", OLD)


def test_an_unknown_user_is_refused_like_a_wrong_password(samba, directory):
    samba.add_user("dagverksamhet", OLD)
    assert directory.verify("dagverksamhet", None, OLD) is False  # no account in the portal
    assert directory.verify("finns-inte", None, OLD) is False


def portal_on(samba, username: str) -> Rig:
    """The use cases in ldap mode against the DC (on the unit tests' in-memory store), the
    clock at the real time, `username` linked to its entry with one holder at PHONE."""
    settings = changed(Settings(pepper=PEPPER, code_key=CODE_KEY, limit_key=LIMIT_KEY,
                                authenticator_key=AUTHENTICATOR_KEY),
                       directory=load_settings(samba.settings()).directory.__dict__)
    rig = Rig(settings)
    rig.store = MemoryStore()
    rig.clock.set(datetime.now(timezone.utc))
    rig.build(settings)
    rig.create_account(username, password=OLD, phone=PHONE)
    return rig


def test_five_wrong_passwords_lock_and_a_holders_code_unlocks_with_the_password_unchanged(
        samba, directory):
    samba.add_user("kokettjanst", OLD)
    set_at = directory.changed_at("kokettjanst")
    samba.lock_by_wrong_binds("kokettjanst")  # a phone with an old password, 5 times
    assert LOCKOUT_AFTER == 5 and samba.lockout_time("kokettjanst")
    assert not samba.binds("kokettjanst", OLD)  # locked: the right password too
    rig = portal_on(samba, "kokettjanst")
    challenge = rig.challenge("kokettjanst")
    answer = rig.portal.reset.verify(challenge, rig.last_code(PHONE), USER)
    assert answer["directory_locked"] is True
    assert rig.portal.directory_unlock.unlock(answer["reset_token"], USER) == {
        "unlocked": True, "username": "kokettjanst"}
    assert samba.lockout_time("kokettjanst") == 0
    assert samba.binds("kokettjanst", OLD)  # the old password binds again
    assert directory.changed_at("kokettjanst") == set_at  # pwdLastSet: never changed
    assert rig.portal.directory_unlock.state("kokettjanst") == DirectoryState(exists=True,
                                                                              locked=False)
    [record] = [r for r in rig.audit("kokettjanst") if r["event"] == "account.unlocked"]
    assert record["outcome"] == "success" and record["cleared"] == ["directory"]
    assert record["holder_id"] == rig.account("kokettjanst").holders[0].id
    rig.deliver()
    assert "låstes upp" in rig.texts_to(PHONE)[-1]
    with pytest.raises(TokenExpired):  # the token is used
        rig.portal.completion.complete(answer["reset_token"], NEW, USER)
    assert samba.binds("kokettjanst", OLD) and not samba.binds("kokettjanst", NEW)


def test_an_account_ad_has_not_locked_is_not_locked(samba, directory):
    samba.add_user("vaktmasteriet", OLD)
    assert not samba.binds("vaktmasteriet", "Fel-Losen-1")  # one wrong: below the threshold
    now = datetime.now(timezone.utc)
    assert directory.state("vaktmasteriet", now) == DirectoryState(exists=True, locked=False)
    assert directory.state("finns-inte", now) == DirectoryState(exists=False, locked=False)
    assert directory.unlock("vaktmasteriet", now) is False


def test_without_the_dcs_verdict_the_lockout_time_counts_within_the_domains_duration(
        samba, directory, monkeypatch):
    """A DC that does not construct msDS-User-Account-Control-Computed: `lockoutTime` read
    against the domain head's `lockoutDuration` (Samba's default, 30 minutes)."""
    import chalicelib.adapters.ldap_directory as adapter
    monkeypatch.setattr(adapter, "LOCKS", tuple(name for name in adapter.LOCKS
                                                if name != adapter.AD_COMPUTED))
    samba.add_user("nattjouren", OLD)
    samba.lock_by_wrong_binds("nattjouren")
    now = datetime.now(timezone.utc)
    assert directory.locked("nattjouren", now)
    assert not directory.locked("nattjouren", now + timedelta(minutes=31))  # lapsed
    assert directory.unlock("nattjouren", now) is True
    assert samba.lockout_time("nattjouren") == 0 and samba.binds("nattjouren", OLD)
