"""SPEC 16, unlock without a new password, in the use cases on the in-memory fakes: who may
learn of a directory lock, and what the trail says when the token is used in between.
(The answers through HTTP are tests/api/test_directory_unlock.py; the real directories,
tests/directory/test_unlock.py and test_active_directory.py.)"""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidCode, TokenExpired
from tests.unit.conftest import NEW_PASSWORD, PASSWORD, PHONE, USER, USERNAME, Rig, changed
from tests.unit.fakes import FakeDirectory


class AskedDirectory(FakeDirectory):
    """A directory that notes who asked about its locks, and can run `meanwhile` while it
    lifts one (a parallel request with the same token)."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []
        self.meanwhile = None

    def locked(self, username, now):
        self.asked.append(username)
        return super().locked(username, now)

    def unlock(self, username, now):
        lifted = super().unlock(username, now)
        if self.meanwhile:
            self.meanwhile()
        return lifted


@pytest.fixture
def rig(base_settings) -> Rig:
    directory = AskedDirectory()
    directory.add(USERNAME, PASSWORD)
    rig = Rig(changed(base_settings, directory={"mode": "ldap"}), passwords=directory)
    rig.create_account()
    directory.lock(USERNAME)
    return rig


def test_a_wrong_code_never_asks_the_directory_about_its_lock(rig):
    """Only a proven holder learns of the lock: a wrong code's answer is the same whatever
    the directory says, because it was never asked."""
    challenge = rig.challenge()
    right = rig.last_code(PHONE)
    with pytest.raises(InvalidCode):
        rig.portal.reset.verify(challenge, f"{(int(right) + 1) % 10**6:06d}", USER)
    assert rig.passwords.asked == []
    assert rig.portal.reset.verify(challenge, right, USER)["directory_locked"] is True
    assert rig.passwords.asked == [USERNAME]


def test_a_token_completed_while_the_lock_was_lifted_is_410_and_the_lift_is_in_the_trail(rig):
    token = rig.reset_token()
    rig.passwords.meanwhile = lambda: rig.portal.completion.complete(token, NEW_PASSWORD, USER)
    with pytest.raises(TokenExpired):
        rig.portal.directory_unlock.unlock(token, USER)
    records = [r for r in rig.audit() if r["event"] in ("account.unlocked", "password.changed")]
    assert sorted(r["event"] for r in records) == ["account.unlocked", "password.changed"]
    [unlocked] = [r for r in records if r["event"] == "account.unlocked"]
    assert unlocked["outcome"] == "success" and unlocked["cleared"] == ["directory"]


def test_a_holder_removed_since_the_code_cannot_unlock(rig):
    token = rig.reset_token()
    [holder] = rig.account().holders
    rig.portal.holder_changes.remove(USERNAME, holder.id)
    with pytest.raises(TokenExpired):
        rig.portal.directory_unlock.unlock(token, USER)
    assert rig.passwords.locked(USERNAME, rig.clock.now())  # nothing lifted
