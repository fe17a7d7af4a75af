"""A real OpenLDAP slapd (infra/ldap_server.py, Debian's package) for the `ldap` mode's
tests: one per test module on a free port of 127.0.0.1, LDAPS with a CA made for it."""
from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from chalicelib.settings import load_settings
from infra.ldap_server import LocalDirectory, slapd_available


def free_port() -> int:
    """A port free now, for slapd: it binds the port it is given and cannot say which one
    the OS gave for 0. (Where nothing must listen, tests hold one: tests/ports.py.)"""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    if not slapd_available():
        pytest.skip("slapd is not installed: `make test` installs Debian's slapd")
    directory = LocalDirectory(tmp_path_factory.mktemp("slapd"), free_port()).start()
    yield directory
    directory.stop()


_names = iter(range(10**6))


@pytest.fixture
def username():
    """A username no other test of the module has used (the directory lives per module)."""
    return f"konto{next(_names)}"


def directory_settings(directory: LocalDirectory, **changes):
    return replace(load_settings(directory.settings()).directory, **changes)
