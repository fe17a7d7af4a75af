"""SPEC 13, accounts in `ldap` mode against a real slapd: `accounts create` and `accounts
import` link existing entries and never set a password; the expiry comes from the
directory's `pwdChangedTime`, and the reminders follow it."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.admin import run
from chalicelib.domain.errors import ImportRejected, NoDirectoryEntry
from tests.directory.test_ldap_mode import OLD
from tests.unit.conftest import PHONE

from chalicelib.settings import Settings
from tests.directory.conftest import directory_settings
from tests.unit.conftest import AUTHENTICATOR_KEY, CODE_KEY, LIMIT_KEY, PEPPER, Rig, changed


@pytest.fixture
def rig(slapd):
    settings = changed(Settings(pepper=PEPPER, code_key=CODE_KEY, limit_key=LIMIT_KEY,
                                authenticator_key=AUTHENTICATOR_KEY),
                       directory=directory_settings(slapd).__dict__)
    rig = Rig(settings)
    rig.clock.set(datetime.now(timezone.utc))
    rig.build(settings)
    return rig


def set_in_directory(rig, username, password):
    rig.portal.passwords.set(username, password)


def test_create_links_an_existing_entry_and_never_sets_its_password(rig, slapd, username):
    slapd.add_account(username, OLD)
    set_in_directory(rig, username, "Satt-I-Katalogen-1")
    changed_in_directory = slapd.changed_time(username)
    rig.clock.advance(days=10)
    account = rig.portal.account_changes.create(username, None, PHONE)
    assert account.password_hash == "" and account.history == []
    assert slapd.binds(username, "Satt-I-Katalogen-1")
    assert slapd.changed_time(username) == changed_in_directory
    # The expiry counts from when the directory set it, not from the link.
    set_at = datetime.strptime(changed_in_directory, "%Y%m%d%H%M%SZ").replace(
        tzinfo=timezone.utc)
    assert account.password_changed_at == set_at
    assert account.password_expires_at == set_at + timedelta(
        days=rig.settings.policy.max_age_days)
    assert [r["directory"] for r in rig.audit(username)
            if r["event"] == "account.created"] == ["linked"]


def test_create_without_an_entry_creates_nothing(rig, username):
    with pytest.raises(NoDirectoryEntry):
        rig.portal.account_changes.create(username, None, PHONE)
    assert rig.account(username) is None


def test_import_links_every_entry_or_nothing(rig, slapd, username):
    slapd.add_account(username, OLD)
    csv = f"username,phone\n{username},0701234567\n{username}-saknas,\n"
    with pytest.raises(ImportRejected) as rejected:
        rig.portal.imports.import_accounts(csv)
    assert [(p.line, p.reason) for p in rejected.value.problems] == [(3, "no_directory_entry")]
    assert rig.account(username) is None
    slapd.add_account(username + "-saknas", OLD)
    result = rig.portal.imports.import_accounts(csv)
    assert [(entry.username, entry.password) for entry in result.created] == [
        (username, None), (username + "-saknas", None)]
    assert slapd.binds(username, OLD) and slapd.binds(username + "-saknas", OLD)


def test_the_cli_create_reads_no_password_in_ldap_mode(rig, slapd, username, monkeypatch):
    import io
    from chalicelib import bootstrap
    slapd.add_account(username, OLD)
    monkeypatch.setattr(bootstrap, "_portal", rig.portal)
    monkeypatch.setattr(bootstrap, "portal", lambda: rig.portal)
    out, err = io.StringIO(), io.StringIO()
    code = run(["accounts", "create", username], stdin=io.StringIO("Ska-Inte-Lasas-1\n"),
               out=out, err=err)
    assert code == 0, err.getvalue()
    assert "linked to its directory entry" in out.getvalue()
    assert slapd.binds(username, OLD)
    assert rig.account(username).password_hash == ""


def test_the_reminders_follow_a_change_made_in_the_directory(rig, slapd, username):
    slapd.add_account(username, OLD)
    set_in_directory(rig, username, "Forsta-Satt-2026")
    linked = rig.portal.account_changes.create(username, None, PHONE)
    # What the portal knew was set 30 days before the directory's last set: the holder
    # changed it in the directory itself since (e.g. at a Windows logon).
    known = linked.password_changed_at - timedelta(days=30)
    days = timedelta(days=rig.settings.policy.max_age_days)
    rig.store.write(rig.portal.accounts.save(dataclasses.replace(
        linked, password_changed_at=known, password_expires_at=known + days,
        version=linked.version + 1), linked.version))
    rig.clock.set(known + days - timedelta(days=14, hours=1))
    counts = rig.portal.reminders.run()
    assert counts["queued"] == 0 and counts["changed"] == 1
    moved = rig.account(username)
    assert moved.password_changed_at == linked.password_changed_at
    assert moved.password_expires_at == linked.password_expires_at
    rig.deliver()
    assert rig.texts_to(PHONE) == []


def test_the_reminders_go_when_the_directory_agrees(rig, slapd, username):
    slapd.add_account(username, OLD)
    set_in_directory(rig, username, "Forsta-Satt-2026")
    account = rig.portal.account_changes.create(username, None, PHONE)
    rig.clock.set(account.password_expires_at - timedelta(days=14, hours=1))
    assert rig.portal.reminders.run()["queued"] == 1
