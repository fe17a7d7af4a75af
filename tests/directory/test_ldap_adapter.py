"""The `ldap` password store (chalicelib/adapters/ldap_directory.py) against a real slapd:
the entry found by the service account, login as a bind, the administrative set by RFC 3062,
the directory's refusals, and its failures as DirectoryUnavailable."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.ldap_directory import Entry, LdapDirectory, parse_changed_at
from chalicelib.domain.errors import DirectoryUnavailable, PasswordRejected
from infra.ldap_server import SERVICE_DN
from tests.directory.conftest import directory_settings, free_port
from tests.ports import unanswered_port

OLD, NEW = "Gammal-Sol-2026", "Ny-Mane-Regn-7"


def store(slapd, **changes) -> LdapDirectory:
    return LdapDirectory(directory_settings(slapd, **changes), lambda: slapd.service_password)


def test_login_is_a_bind_as_the_entry(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd)
    assert directory.verify(username, "", OLD) is True
    assert directory.verify(username, "", NEW) is False
    assert directory.verify(username, "", "") is False  # never an unauthenticated bind


def test_an_unknown_username_is_refused_after_the_same_work(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd)
    # No account in the portal (stored_hash None): refused even with the right password.
    assert directory.verify(username, None, OLD) is False
    assert directory.verify("finns-inte", None, OLD) is False
    assert directory.verify("finns-inte", "", OLD) is False


def test_a_username_cannot_widen_the_filter(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd)
    assert directory.exists(username)
    for crafted in ("*", f"{username[:3]}*", f"{username})(uid=*", "\\2a"):
        assert directory.exists(crafted) is False
        assert directory.verify(crafted, "", OLD) is False


def test_a_set_changes_the_password_a_client_binds_with(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    directory.set(username, NEW)
    assert slapd.binds(username, NEW) and not slapd.binds(username, OLD)
    changed = directory.changed_at(username)
    assert changed is not None and changed >= before - timedelta(seconds=1)


def test_the_directorys_own_rules_refuse_a_password(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd)
    directory.set(username, NEW)
    with pytest.raises(PasswordRejected) as refused:  # ppolicy: in the history
        directory.set(username, OLD)
    assert refused.value.rules == ["directory"]
    assert slapd.binds(username, NEW)


def test_a_set_for_a_missing_entry_is_a_failure(slapd):
    with pytest.raises(DirectoryUnavailable) as failed:
        store(slapd).set("finns-inte", NEW)
    assert failed.value.reason == "no_entry"


def test_a_wrong_service_password_is_a_failure_not_a_wrong_login(slapd, username):
    slapd.add_account(username, OLD)
    directory = LdapDirectory(directory_settings(slapd), lambda: "fel-losenord")
    with pytest.raises(DirectoryUnavailable) as failed:
        directory.verify(username, "", OLD)
    assert failed.value.reason == "service_bind_49"


def test_an_unknown_ca_is_refused(slapd, tmp_path, username):
    slapd.add_account(username, OLD)
    other = tmp_path / "other-ca.pem"
    from infra.ldap_server import _certificates
    _certificates(tmp_path, "127.0.0.1")
    other.write_bytes((tmp_path / "ca.pem").read_bytes())
    with pytest.raises(DirectoryUnavailable) as failed:
        store(slapd, ca_file=str(other)).verify(username, "", OLD)
    assert failed.value.reason == "tls"


def test_nothing_listening_is_a_failure(slapd):
    with unanswered_port() as port, pytest.raises(DirectoryUnavailable) as failed:
        store(slapd, url=f"ldaps://127.0.0.1:{port}").exists("hemtjanstab")
    assert failed.value.reason == "unreachable"


def test_a_hanging_directory_fails_within_the_timeout(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd, timeout_seconds=1)
    slapd.pause()
    try:
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable) as failed:
            directory.set(username, NEW)
        elapsed = time.monotonic() - started
    finally:
        slapd.resume()
    assert failed.value.reason == "timeout"
    assert elapsed < 5, elapsed  # bounded by the timeout, not the OS's
    assert slapd.binds(username, OLD)


def test_a_plain_text_directory_is_refused_when_built(slapd):
    with pytest.raises(RuntimeError, match="never binds in plain text"):
        store(slapd, url="ldap://127.0.0.1:389")
    with pytest.raises(RuntimeError, match="CA"):
        store(slapd, ca_file="")
    assert store(slapd, url="ldap://127.0.0.1:389", start_tls=True)


def test_changed_at_reads_both_dialects():
    assert parse_changed_at(Entry("x", {"pwdChangedTime": ["20261130023603Z"]})) == \
        datetime(2026, 11, 30, 2, 36, 3, tzinfo=timezone.utc)
    # AD: 100-ns intervals since 1601; 0 means "must change at next logon".
    ticks = (datetime(2026, 1, 2, tzinfo=timezone.utc)
             - datetime(1601, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) * 10
    assert parse_changed_at(Entry("x", {"pwdLastSet": [str(ticks)]})) == \
        datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert parse_changed_at(Entry("x", {"pwdLastSet": ["0"]})) is None
    assert parse_changed_at(Entry("x", {"objectClass": ["user"]})) is None




@pytest.fixture(scope="module")
def start_tls_slapd(tmp_path_factory):
    from infra.ldap_server import LocalDirectory
    directory = LocalDirectory(tmp_path_factory.mktemp("slapd-starttls"), free_port(),
                               start_tls_port=free_port()).start()
    yield directory
    directory.stop()


def test_start_tls_works_and_the_server_refuses_a_plain_bind(start_tls_slapd):
    import ldap3
    slapd = start_tls_slapd
    slapd.add_account("hemtjanstab", OLD)
    url = f"ldap://127.0.0.1:{slapd.start_tls_port}"
    directory = store(slapd, url=url, start_tls=True)
    assert directory.verify("hemtjanstab", "", OLD) is True
    directory.set("hemtjanstab", NEW)
    assert slapd.binds("hemtjanstab", NEW)
    # What pwportal never does, refused by the server too: a simple bind in plain text.
    plain = ldap3.Connection(ldap3.Server("127.0.0.1", port=slapd.start_tls_port,
                                          get_info=ldap3.NONE),
                             user=SERVICE_DN, password=slapd.service_password)
    assert plain.bind() is False
    assert plain.result["description"] == "confidentialityRequired"


def test_a_password_is_set_and_checked_in_one_unicode_form(slapd, username):
    slapd.add_account(username, OLD)
    directory = store(slapd)
    composed, decomposed = "Blåbär-Sylt-26", "Bla\u030aba\u0308r-Sylt-26"
    directory.set(username, decomposed)  # typed on a keyboard that sends NFD
    assert slapd.binds(username, composed)
    assert directory.verify(username, "", composed) and directory.verify(username, "",
                                                                         decomposed)
