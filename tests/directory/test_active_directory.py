"""SPEC 13, Active Directory's path against a real Samba AD domain controller (Debian's
`samba`, provisioned here by infra/samba_dc.py): the entry found by sAMAccountName, login as
a bind, the reset as AD's `unicodePwd` replace (auto-detected), AD's refusal (0000052D) as
rule `directory`, and `pwdLastSet` as the date the expiry counts from."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.ldap_directory import LdapDirectory
from chalicelib.domain.errors import PasswordRejected
from chalicelib.settings import load_settings
from infra.samba_dc import SambaDomainController, probe

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
