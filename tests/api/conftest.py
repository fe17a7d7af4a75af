"""Fixtures of the API suite: settings changed per test, spies on SNS and on argon2."""
from __future__ import annotations

import pytest

from chalicelib import bootstrap


@pytest.fixture(autouse=True)
def argon2_at_its_smallest(cheap_argon2):
    """Every API test hashes with argon2id's smallest costs (tests/conftest.py)."""


@pytest.fixture
def configure(world, environment):
    """`configure(NAME=value, ...)` sets PWPORTAL_NAME settings and rebuilds the portal with
    the test's fake clock, as a new Lambda container would read them."""
    def apply(**settings):
        for name, value in settings.items():
            environment.setenv("PWPORTAL_" + name, str(value))
        world.portal = bootstrap.override(clock=world.clock)
        world.settings = world.portal.settings
        return world.portal
    return apply


@pytest.fixture
def sns_publish(world, monkeypatch):
    """Every call the worker makes to SNS Publish (keyword arguments), passed on to moto."""
    from chalicelib.adapters import aws
    sns = aws.client("sns")
    calls: list[dict] = []
    real = sns.publish

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(sns, "publish", spy)
    return calls


@pytest.fixture
def argon2_calls(monkeypatch):
    """The names of the PasswordHasher methods called (each one costs an argon2 run)."""
    from chalicelib.adapters.passwords import PasswordHasher
    calls: list[str] = []
    for name in ("hash", "verify", "verify_nothing", "fingerprint"):
        real = getattr(PasswordHasher, name)

        def spy(self, *args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(PasswordHasher, name, spy)
    return calls
