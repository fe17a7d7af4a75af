"""SPEC 13 in the use cases, in both modes: where the password lives (`portal`: the account's
own verifier; `ldap`: a directory, here tests/unit/fakes.FakeDirectory) changes where a
password is checked and written, never what a user sees of the limits around it (SPEC 5,
6). tests/directory runs the same flows against a real slapd."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidCredentials, TooManyAttempts
from tests.unit.conftest import (NEW_PASSWORD, PASSWORD, USER, USERNAME, Rig, changed)
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
