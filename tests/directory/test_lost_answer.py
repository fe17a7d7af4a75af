"""Issue 21, 5 (SPEC 13): the directory takes a new password and its answer is lost on the
way back (tests/directory/relay.py drops the Password Modify's ExtendedResponse and closes
the connection). The change must never go unrecorded: it is settled by asking the
directory, at once or, when the directory cannot be asked at once, by the daily job."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.errors import ChangeUnconfirmed, TokenExpired
from chalicelib.domain.records import PendingPassword
from tests.directory.relay import LosingRelay
from tests.directory.test_ldap_mode import NEW, OLD, OTHER, make_rig
from tests.unit.conftest import PHONE, USER, changed
from tests.unit.fakes import MemoryStore


@pytest.fixture
def relay(slapd):
    relay = LosingRelay(slapd)
    yield relay
    relay.close()


def through(rig, url):
    """The portal rebuilt to reach the directory at `url`. The relay is Python ending TLS
    on both sides, a thread per connection: on a machine busy with other tests it can be
    slower than the 3 s a real directory gets, so the portal waits up to 15 s here (these
    tests are about what is recorded, not about timeouts, which test_ldap_adapter has)."""
    rig.build(changed(rig.settings, directory={"url": url, "timeout_seconds": 15}))


def markers(rig) -> list[dict]:
    return [item for item in rig.store.items(rig.settings.challenges_table)
            if item["id"].startswith(PendingPassword.PREFIX)]


def changes(rig, username) -> list[dict]:
    return [r for r in rig.audit(username) if r["event"] == "password.changed"]


def aged(rig, username, days=30):
    """The account as if its password had been set `days` ago (the directory's date is
    now's: a reset has a new expiry to show for it)."""
    account = rig.account(username)
    rig.store.write(rig.portal.accounts.save(replace(
        account, password_changed_at=account.password_changed_at - timedelta(days=days),
        password_expires_at=account.password_expires_at - timedelta(days=days),
        version=account.version + 1), account.version))
    return rig.account(username)


def notices(rig) -> list[str]:
    rig.deliver()
    return [text for text in rig.texts_to(PHONE) if "lösenord" in text.lower()]


def test_a_lost_answer_is_settled_at_once_by_asking_the_directory(slapd, relay, username):
    rig = make_rig(slapd, username, MemoryStore())
    before = aged(rig, username)
    token = rig.reset_token(username)
    through(rig, relay.url)

    try:
        answer = rig.portal.completion.complete(token, NEW, USER)
    except ChangeUnconfirmed:
        failed = [(r["outcome"], r["step"]) for r in rig.audit(username)
                  if r["event"] == "directory.failed"]
        pytest.fail(f"the settling bind failed too: {failed}")
    assert answer == {"changed": True, "username": username}
    assert relay.lost == 1  # the directory's answer never came
    assert slapd.binds(username, NEW) and not slapd.binds(username, OLD)
    assert [r["via"] for r in changes(rig, username)] == ["reset"]
    after = rig.account(username)
    assert len(after.history) == len(before.history) + 1
    assert after.password_expires_at > before.password_expires_at
    assert not markers(rig)
    assert len(notices(rig)) == 1  # the holder is told
    lost = [r for r in rig.audit(username) if r["event"] == "directory.failed"]
    assert [(r["outcome"], r["step"]) for r in lost] == [("answer_lost", "reset")]
    with pytest.raises(TokenExpired):
        rig.portal.completion.complete(token, OTHER, USER)


def test_a_lost_answer_the_directory_cannot_confirm_is_checking_and_settled_daily(
        slapd, username):
    rig = make_rig(slapd, username, MemoryStore())
    before = aged(rig, username)
    token = rig.reset_token(username)
    relay = LosingRelay(slapd, refuse_after=True)  # and then no one can ask it
    try:
        through(rig, relay.url)
        with pytest.raises(ChangeUnconfirmed) as unconfirmed:
            rig.portal.completion.complete(token, NEW, USER)
    finally:
        relay.close()
    assert (unconfirmed.value.status, unconfirmed.value.code) == (503, "change_unconfirmed")
    assert slapd.binds(username, NEW)  # the directory has it ...
    assert len(markers(rig)) == 1  # ... and the portal has not forgotten
    assert not changes(rig, username) and rig.account(username) == before
    assert not notices(rig)

    through(rig, slapd.url)  # the directory answers again; the next daily run settles it
    rig.clock.advance(seconds=rig.portal.password_change.in_flight_seconds() + 1)
    assert rig.portal.reminders.run()["pending_recorded"] == 1
    assert [r["via"] for r in changes(rig, username)] == ["repair"]
    after = rig.account(username)
    assert len(after.history) == len(before.history) + 1
    assert after.session_epoch == before.session_epoch + 1
    assert after.password_expires_at > before.password_expires_at
    assert not markers(rig)
    assert len(notices(rig)) == 1

    # settling again (the next day, a login, the same token) records nothing more
    rig.clock.advance(days=1)
    assert "pending_recorded" not in rig.portal.reminders.run()
    assert rig.login(username, NEW)["session"]
    with pytest.raises(TokenExpired):
        rig.portal.completion.complete(token, OTHER, USER)
    assert len(changes(rig, username)) == 1
    assert len(notices(rig)) == 1


def test_a_lost_answer_the_directory_did_not_take_is_dropped_by_the_daily_job(
        slapd, username):
    """A marker whose change the directory never applied (its date is older) is dropped:
    nothing recorded, nobody told, the old password still the one."""
    rig = make_rig(slapd, username, MemoryStore())
    now = rig.clock.now().timestamp() + 30
    rig.store.write(rig.portal.records.add(PendingPassword(
        id=PendingPassword.id_of(username), username=username, token_id="token#x",
        fingerprint="f" * 64, started_at=now, lang="sv", expires_at=now)))
    admin = slapd.admin()  # the directory's last set is before the marker
    admin.extend.standard.modify_password(
        f"uid={username},ou=accounts,dc=pwportal,dc=local", None, OLD)
    admin.unbind()
    rig.clock.advance(seconds=30 + rig.portal.password_change.in_flight_seconds() + 1)
    assert rig.portal.reminders.run()["pending_dropped"] == 1
    assert not markers(rig) and not changes(rig, username) and not notices(rig)
