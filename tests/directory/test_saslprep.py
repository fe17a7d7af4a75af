"""Issue 21, point 6, on a real slapd: ldap3 prepares every password it sends with SASLprep
(RFC 4013) and raises for one SASLprep refuses. Such a password is refused by the portal's
own rules before any directory call (422 `invalid_characters`, the token kept), and a login
with one is a wrong password (401) after the same work as any other, never 503 and
`directory.failed` (whose alarm fires at 1: anyone could trip it)."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidCredentials, PasswordRejected
from tests.directory.test_ldap_mode import NEW, OLD, make_rig
from tests.unit.conftest import USER
from tests.unit.fakes import MemoryStore

# Set as passwords in the attack (each a 503 and a `directory.failed` in `ldap` mode).
REFUSED_BY_SASLPREP = [
    "Sommar-Regn-\u05d0\u05d1-7",   # Latin and Hebrew
    "Sommar-Regn-\u0633\u0644-7",   # Latin and Arabic
    "Sommar-Regn-\ue000-7",         # a private-use character
    "Sommar-Regn-\ufdd0-7",         # a non-character
    "Sommar-Regn\u2028Tuva-7",      # the line separator
]
# Logins to a user that does not exist in the attack, each a 503 and `directory.failed`.
ANONYMOUS = ["\u0000", "a\u05d0", "x\ue000"]


@pytest.fixture
def ldap_rig(slapd, username):
    return make_rig(slapd, username, MemoryStore())


def refusal(action) -> tuple:
    """What the API would answer for `action`: its error's (code, status, fields)."""
    with pytest.raises(Exception) as raised:
        action()
    error = raised.value
    return type(error).__name__, error.code, error.status, getattr(error, "rules", None)


def failures(rig, *usernames) -> list[dict]:
    return [record for name in usernames for record in rig.audit(name)
            if record["event"] == "directory.failed"]


@pytest.mark.parametrize("password", REFUSED_BY_SASLPREP)
def test_a_password_saslprep_refuses_is_422_invalid_characters_before_the_directory(
        ldap_rig, slapd, username, password):
    token = ldap_rig.reset_token(username)
    control = refusal(lambda: ldap_rig.portal.completion.complete(token, "Abc\u0000-Regn-77", USER))
    assert control == ("PasswordRejected", "password_rejected", 422, ["invalid_characters"])
    assert refusal(lambda: ldap_rig.portal.completion.complete(token, password, USER)) == control
    assert slapd.changed_time(username) is None and slapd.binds(username, OLD)  # untouched
    assert failures(ldap_rig, username) == []
    ldap_rig.portal.completion.complete(token, NEW, USER)  # the same token, another password
    assert slapd.binds(username, NEW)


@pytest.mark.parametrize("password", ANONYMOUS + REFUSED_BY_SASLPREP)
def test_a_login_with_a_password_saslprep_refuses_is_a_wrong_password(ldap_rig, username,
                                                                       password):
    for name in (username, "finns-inte"):  # an account, and a user that does not exist
        control = refusal(lambda: ldap_rig.login(name, "Fel-Losen-99"))
        assert control[:3] == ("InvalidCredentials", "invalid_credentials", 401)
        answer = refusal(lambda: ldap_rig.login(name, password))
        assert answer[:3] == control[:3]
    assert failures(ldap_rig, username, "finns-inte") == []
    outcomes = [r["outcome"] for r in ldap_rig.audit("finns-inte") if r["event"] == "login.failed"]
    assert outcomes == ["unknown_user"] * 2
    assert ldap_rig.login(username, OLD)["session"]  # the account's own password still binds


def test_a_refused_password_costs_the_same_search_and_bind_as_a_wrong_one(ldap_rig, username,
                                                                         monkeypatch):
    from chalicelib.adapters.ldap_directory import LdapDirectory
    opened = []
    real = LdapDirectory._open

    def spy(self, user, password):
        opened.append(user.split(",")[0].split("-")[0])
        return real(self, user, password)

    monkeypatch.setattr(LdapDirectory, "_open", spy)
    for password in ("Fel-Losen-99", "a\u05d0"):
        with pytest.raises(InvalidCredentials):
            ldap_rig.login(username, password)
    assert opened[:len(opened) // 2] == opened[len(opened) // 2:]  # the service, then a bind
    assert len(opened) == 4
