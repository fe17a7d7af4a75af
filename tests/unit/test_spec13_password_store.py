"""SPEC 13 in the use cases, in both modes: where the password lives (`portal`: the account's
own verifier; `ldap`: a directory, here tests/unit/fakes.FakeDirectory) changes where a
password is checked and written, never what a user sees of the limits around it (SPEC 5,
6). tests/directory runs the same flows against a real slapd."""
from __future__ import annotations

import pytest

from chalicelib.domain.records import ResetToken

from chalicelib.domain.errors import (ImportRejected, InvalidCredentials, NoDirectoryEntry,
                                      TooManyAttempts)
from tests.unit.conftest import NEW_PASSWORD, PASSWORD, PHONE, USER, USERNAME, Rig, changed
from tests.unit.fakes import FakeDirectory

WRONG = "Fel-Losen-99x"


@pytest.fixture(params=["portal", "ldap"])
def mode_rig(request, base_settings) -> Rig:
    """An account in `portal` mode, or linked to its entry in a directory (`ldap` mode)."""
    if request.param == "portal":
        rig = Rig(base_settings)
    else:
        directory = FakeDirectory()
        directory.add(USERNAME, PASSWORD)
        rig = Rig(changed(base_settings, directory={"mode": "ldap"}), passwords=directory)
    rig.create_account()
    return rig


def test_a_reset_lifts_the_pwreg_login_lock(mode_rig):
    """SPEC 5/6: five wrong passwords lock pwreg for the network; a reset on pwreset sets a
    new password and ends the lock, so the new password logs in at once."""
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            mode_rig.login(password=WRONG)
    with pytest.raises(TooManyAttempts):  # locked: even the right password is not compared
        mode_rig.login(password=PASSWORD)
    token = mode_rig.reset_token()
    assert mode_rig.portal.completion.complete(token, NEW_PASSWORD, USER)["changed"]
    assert mode_rig.login(password=NEW_PASSWORD)["session"]


def test_the_old_password_stops_working_after_a_reset(mode_rig):
    assert mode_rig.login(password=PASSWORD)["session"]
    token = mode_rig.reset_token()
    mode_rig.portal.completion.complete(token, NEW_PASSWORD, USER)
    with pytest.raises(InvalidCredentials):
        mode_rig.login(password=PASSWORD)
    assert mode_rig.login(password=NEW_PASSWORD)["session"]


def test_the_holder_whose_code_reset_the_password_was_last_used_then_in_both_modes(
        mode_rig):
    """SPEC 11: a reset uses the account as the holder who verified the code (the 400-day
    rule counts from it), whichever store keeps the password."""
    token = mode_rig.reset_token()
    holder_id = mode_rig.portal.records.get(ResetToken, ResetToken.id_of(token)).holder_id
    mode_rig.portal.completion.complete(token, NEW_PASSWORD, USER)
    [holder] = [h for h in mode_rig.portal.accounts.get(USERNAME).holders
                if h.id == holder_id]
    assert holder.last_used_at == mode_rig.clock.now()


def test_a_change_by_a_holder_the_identity_provider_proved_names_it_in_both_modes(mode_rig):
    """SPEC 15: `password.changed` carries `proven_by` (the provider's issuer) for a token the
    provider's sign-in gave, whichever store keeps the password (ldap mode's marker keeps
    it between the directory's answer and the record)."""
    from dataclasses import replace
    token = mode_rig.reset_token()
    record = mode_rig.portal.records.get(ResetToken, ResetToken.id_of(token))
    mode_rig.portal.uow.write(mode_rig.portal.records.add(
        replace(record, proven_by="https://idp.example")))
    mode_rig.portal.completion.complete(token, NEW_PASSWORD, USER)
    [changed_] = [r for r in mode_rig.audit() if r["event"] == "password.changed"]
    assert changed_["proven_by"] == "https://idp.example"
    assert changed_["holder_id"] == record.holder_id


def ldap_rig(base_settings, *usernames) -> Rig:
    directory = FakeDirectory()
    for username in usernames:
        directory.add(username, PASSWORD)
    return Rig(changed(base_settings, directory={"mode": "ldap"}), passwords=directory)


def test_a_new_account_asks_for_its_password_only_where_the_portal_keeps_it(base_settings):
    asked = []

    def password():
        asked.append(True)
        return PASSWORD

    portal_rig = Rig(base_settings)
    account = portal_rig.portal.account_changes.create(USERNAME, password, PHONE)
    assert asked == [True] and account.password_hash and len(account.history) == 1
    asked.clear()
    linked = ldap_rig(base_settings, USERNAME)
    account = linked.portal.account_changes.create(USERNAME, password, PHONE)
    assert asked == [] and account.password_hash == "" and account.history == []
    assert [r.get("directory") for r in linked.audit()
            if r["event"] == "account.created"] == ["linked"]
    with pytest.raises(NoDirectoryEntry):
        linked.portal.account_changes.create("saknas", password, PHONE)
    assert linked.account("saknas") is None


def test_an_import_in_ldap_mode_needs_every_entry_and_hands_out_no_password(base_settings):
    rig = ldap_rig(base_settings, "forsta")
    with pytest.raises(ImportRejected) as rejected:
        rig.portal.imports.import_accounts("username\nforsta\nandra\n")
    assert [(p.line, p.reason) for p in rejected.value.problems] == [(3, "no_directory_entry")]
    rig.passwords.add("andra", PASSWORD)
    result = rig.portal.imports.import_accounts("username\nforsta\nandra\n")
    assert [(e.username, e.password) for e in result.created] == [("forsta", None),
                                                                  ("andra", None)]
