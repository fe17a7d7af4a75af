"""SPEC 13 in the use cases: pwreset and pwreg in `ldap` mode against a real slapd, on the
unit tests' in-memory store (tests/unit/fakes.py), so the failure between the directory's
write and the portal's can be injected exactly there."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from chalicelib.domain.errors import (InvalidCredentials, PasswordRejected,
                                      ServiceUnavailable, TokenExpired, TooManyAttempts)
from chalicelib.domain.records import PendingPassword
from chalicelib.ports import Delete
from tests.directory.conftest import directory_settings
from tests.ports import unanswered_port
from tests.unit.conftest import AUTHENTICATOR_KEY, CODE_KEY, LIMIT_KEY, PEPPER, PHONE, USER, Rig, changed
from tests.unit.fakes import MemoryStore

from chalicelib.settings import Settings

OLD, NEW, OTHER = "Gammal-Sol-2026", "Ny-Mane-Regn-7", "Tredje-Vag-55x"


class RecordFails(MemoryStore):
    """DynamoDB failing exactly between the two writes: the transaction that records a
    change the directory took (the one that deletes the pending marker) fails `times`
    times; everything else works."""

    def __init__(self, times: int = 10**6):
        super().__init__()
        self.times = times

    def commit(self, writes):
        pending = dict(writes).get("pending")
        if isinstance(pending, Delete) and self.times > 0:
            self.times -= 1
            raise ServiceUnavailable()
        return super().commit(writes)


@pytest.fixture
def ldap_rig(slapd, username):
    """A portal in ldap mode against the slapd, its clock at the real time (the directory's
    `pwdChangedTime` is real), with `username` in the portal and in the directory."""
    return make_rig(slapd, username, MemoryStore())


def make_rig(slapd, username, store, **directory) -> Rig:
    settings = changed(Settings(pepper=PEPPER, code_key=CODE_KEY, limit_key=LIMIT_KEY,
                                authenticator_key=AUTHENTICATOR_KEY),
                       directory=directory_settings(slapd, **directory).__dict__)
    rig = Rig(settings)
    rig.store = store
    rig.clock.set(datetime.now(timezone.utc))
    rig.build(settings)
    slapd.add_account(username, OLD)
    rig.create_account(username, password=OLD, phone=PHONE)
    return rig


def test_a_reset_sets_the_password_in_the_directory_and_records_it(ldap_rig, slapd,
                                                                   username):
    before = ldap_rig.account(username)
    ldap_rig.clock.advance(days=1)
    token = ldap_rig.reset_token(username)
    assert ldap_rig.portal.completion.complete(token, NEW, USER) == {"changed": True,
                                                                "username": username}
    assert slapd.binds(username, NEW) and not slapd.binds(username, OLD)
    after = ldap_rig.account(username)
    assert after.password_hash == ""  # the directory holds it
    assert len(after.history) == len(before.history) + 1
    assert after.session_epoch == before.session_epoch + 1
    assert after.password_expires_at > before.password_expires_at
    assert "password.changed" in ldap_rig.events(username)
    assert not ldap_rig.store.items(ldap_rig.settings.challenges_table) or not any(
        item["id"].startswith("pending#") for item in
        ldap_rig.store.items(ldap_rig.settings.challenges_table))
    ldap_rig.deliver()
    assert any("lösenord" in text.lower() for text in ldap_rig.texts_to(PHONE)[-1:])
    with pytest.raises(TokenExpired):  # spent
        ldap_rig.portal.completion.complete(token, OTHER, USER)


def test_the_login_is_a_bind_in_the_directory(ldap_rig, slapd, username):
    with pytest.raises(InvalidCredentials):
        ldap_rig.login(username, NEW)
    assert ldap_rig.login(username, OLD)["username"] == username
    token = ldap_rig.reset_token(username)
    ldap_rig.portal.completion.complete(token, NEW, USER)
    assert ldap_rig.login(username, NEW)["session"]
    with pytest.raises(InvalidCredentials):
        ldap_rig.login(username, OLD)


def test_an_entry_without_an_account_gets_the_answer_of_a_wrong_password(ldap_rig, slapd,
                                                                         username):
    slapd.add_account(username + "x", OLD)  # in the directory, not in the portal
    answers = []
    for name, password in ((username, "Fel-Losen-99"), (username + "x", OLD),
                           ("finns-inte", OLD)):
        with pytest.raises(InvalidCredentials) as refused:
            ldap_rig.login(name, password)
        answers.append((refused.value.code, refused.value.status, refused.value.fields))
    assert len(set(map(repr, answers))) == 1
    assert [r["outcome"] for r in ldap_rig.audit(username + "x")] == ["unknown_user"]


def test_the_portals_rules_run_first_and_never_reach_the_directory(ldap_rig, slapd,
                                                                   username):
    token = ldap_rig.reset_token(username)
    with pytest.raises(PasswordRejected) as refused:
        ldap_rig.portal.completion.complete(token, "Abc-12", USER)
    assert "directory" not in refused.value.rules
    assert slapd.changed_time(username) is None  # never set since it was added
    assert slapd.binds(username, OLD)


def test_the_directorys_refusal_is_a_rejection_and_the_token_survives(ldap_rig, slapd,
                                                                      username):
    admin = slapd.admin()  # the directory remembers a password the portal never saw
    admin.extend.standard.modify_password(f"uid={username},ou=accounts,dc=pwportal,dc=local",
                                          None, NEW)
    admin.extend.standard.modify_password(f"uid={username},ou=accounts,dc=pwportal,dc=local",
                                          None, OLD)
    admin.unbind()
    token = ldap_rig.reset_token(username)
    version = ldap_rig.account(username).version
    with pytest.raises(PasswordRejected) as refused:  # ppolicy: in the directory's history
        ldap_rig.portal.completion.complete(token, NEW, USER)
    assert refused.value.rules == ["directory"]
    assert ldap_rig.account(username).version == version
    assert [record["rules"] for record in ldap_rig.audit(username)
            if record["event"] == "password.rejected"] == [["directory"]]
    ldap_rig.portal.completion.complete(token, OTHER, USER)  # the same token, another password
    assert slapd.binds(username, OTHER)


def test_a_directory_that_is_down_changes_nothing(slapd, username, caplog):
    rig = make_rig(slapd, username, MemoryStore())
    token = rig.reset_token(username)
    before = rig.account(username)
    with unanswered_port() as port, caplog.at_level(logging.DEBUG):
        rig.build(changed(rig.settings, directory={"url": f"ldaps://127.0.0.1:{port}"}))
        with pytest.raises(ServiceUnavailable):
            rig.portal.completion.complete(token, NEW, USER)
        with pytest.raises(ServiceUnavailable):
            rig.login(username, OLD)
    assert rig.account(username) == before
    assert not [item for item in rig.store.items(rig.settings.challenges_table)
                if item["id"].startswith("pending#")]
    failed = [record for record in rig.audit(username) if record["event"] == "directory.failed"]
    assert sorted((r["outcome"], r["step"]) for r in failed) == [("unreachable", "login"),
                                                                 ("unreachable", "reset")]
    logged = rig.audit_stream.getvalue() + caplog.text
    for secret in (NEW, OLD, slapd.service_password, "ou=accounts", "cn=pwportal"):
        assert secret not in logged
    rig.build(changed(rig.settings, directory={"url": slapd.url}))
    rig.portal.completion.complete(token, NEW, USER)  # the token survived
    assert slapd.binds(username, NEW)


def test_a_change_dynamodb_would_not_record_is_logged_and_repaired(slapd, username, caplog):
    rig = make_rig(slapd, username, RecordFails())
    before = rig.account(username)
    rig.clock.advance(seconds=2)
    token = rig.reset_token(username)
    with caplog.at_level(logging.ERROR, logger="pwportal.directory"):
        assert rig.portal.completion.complete(token, NEW, USER)["changed"]
    assert slapd.binds(username, NEW)  # the directory has it ...
    assert rig.account(username) == before  # ... the portal could not record it yet
    assert '"alarm": "directory.unrecorded"' in caplog.text
    assert NEW not in caplog.text and "ou=accounts" not in caplog.text
    unrecorded = [line for line in rig.log_lines() if line.get("event") == "directory.failed"]
    assert unrecorded and unrecorded[-1]["outcome"] == "unrecorded"
    [marker] = [item for item in rig.store.items(rig.settings.challenges_table)
                if item["id"] == PendingPassword.id_of(username)]
    assert NEW not in str(marker)

    rig.store.times = 0  # DynamoDB is back
    rig.clock.advance(seconds=60)
    assert rig.login(username, NEW)["session"]  # the next request repairs the record
    after = rig.account(username)
    assert after.history[0] == marker["fingerprint"]
    assert after.session_epoch == before.session_epoch + 1
    assert after.password_expires_at > before.password_expires_at
    changed_records = [r for r in rig.audit(username) if r["event"] == "password.changed"]
    assert [r["via"] for r in changed_records] == ["repair"]
    assert not [item for item in rig.store.items(rig.settings.challenges_table)
                if item["id"].startswith("pending#")]
    with pytest.raises(TokenExpired):
        rig.portal.completion.complete(token, OTHER, USER)


def test_a_marker_the_directory_never_took_is_dropped(slapd, username):
    rig = make_rig(slapd, username, MemoryStore())
    slapd_admin = slapd.admin()  # the directory's password set before the marker
    slapd_admin.extend.standard.modify_password(
        f"uid={username},ou=accounts,dc=pwportal,dc=local", None, "Forut-Satt-2026")
    slapd_admin.unbind()
    rig.clock.advance(seconds=30)
    now = rig.clock.now().timestamp()
    rig.store.write(rig.portal.records.add(PendingPassword(
        id=PendingPassword.id_of(username), username=username, token_id="token#x",
        fingerprint="f" * 64, started_at=now, lang="sv", expires_at=now)))
    before = rig.account(username)
    rig.clock.advance(seconds=60)
    assert rig.login(username, "Forut-Satt-2026")["session"]
    assert rig.account(username).history == before.history
    assert not [item for item in rig.store.items(rig.settings.challenges_table)
                if item["id"].startswith("pending#")]


def test_a_second_change_while_one_is_under_way_is_refused(ldap_rig, slapd, username):
    now = ldap_rig.clock.now().timestamp()
    ldap_rig.store.write(ldap_rig.portal.records.add(PendingPassword(
        id=PendingPassword.id_of(username), username=username, token_id="token#x",
        fingerprint="f" * 64, started_at=now, lang="sv", expires_at=now)))
    token = ldap_rig.reset_token(username)
    with pytest.raises(ServiceUnavailable):
        ldap_rig.portal.completion.complete(token, NEW, USER)
    assert slapd.binds(username, OLD)


def test_a_reset_lifts_the_pwreg_login_lock(ldap_rig, slapd, username):
    """SPEC 5/6 as a user meets it: five wrong passwords lock pwreg for the network; a reset
    on pwreset ends the lock, so the new password logs in at once (not 429)."""
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            ldap_rig.login(username, "Fel-Losen-99")
    with pytest.raises(TooManyAttempts):
        ldap_rig.login(username, OLD)
    token = ldap_rig.reset_token(username)
    assert ldap_rig.portal.completion.complete(token, NEW, USER)["changed"]
    assert ldap_rig.login(username, NEW)["session"]


def test_logins_the_directory_never_compared_count_as_no_failures(slapd, username):
    """Issue 21, 7: with the directory down, logins with the right password are 503 every
    one, never the network's 429 (5 failures) nor a lock for every network (50); once it is
    back the right password logs in at once."""
    rig = make_rig(slapd, username, MemoryStore())
    with unanswered_port() as port:
        rig.build(changed(rig.settings, directory={"url": f"ldaps://127.0.0.1:{port}"}))
        answers = []
        for _ in range(6):
            try:
                rig.login(username, OLD)
            except (ServiceUnavailable, TooManyAttempts) as error:
                answers.append(error.status)
        assert answers == [503] * 6
    assert not [r for r in rig.audit(username) if r["event"] in ("login.failed", "login.locked")]
    rig.build(changed(rig.settings, directory={"url": slapd.url}))
    assert rig.login(username, OLD)["session"]
    for _ in range(4):  # the network's five failures are all still there
        with pytest.raises(InvalidCredentials):
            rig.login(username, "Fel-Losen-99")
    with pytest.raises(InvalidCredentials) as last:
        rig.login(username, "Fel-Losen-99")
    assert last.value.fields["attempts_left"] == 0
