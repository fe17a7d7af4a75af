"""Shared fixtures: an in-process moto AWS with pwportal's tables and queues, a fake clock,
the Chalice test client, and helpers that deliver queued SMS and read what was sent."""
from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.settings import load_settings
from infra import resources
from infra.stages import stage_environment
from infra.local_worker import drain_once
from tests.clock import FakeClock

ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-north-1"


@pytest.fixture
def environment(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name, value in stage_environment().items():
        monkeypatch.setenv(name, value)
    return monkeypatch


class FailingGateway:
    """An SNS that is down: every publish raises, and the attempts are counted."""

    def __init__(self):
        self.calls = 0

    def publish(self, phone, text):
        self.calls += 1
        raise RuntimeError("SNS is down")


class World:
    """One test's AWS, clock and portal."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.settings = load_settings()
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        resources.create_tables(self.dynamodb, self.settings)
        self.queues = resources.create_queues(self.sqs, self.settings)
        self.portal = bootstrap.override(clock=clock)

    def use(self, **parts):
        """Rebuild the portal with `parts` in place of the real ones (a gateway, a queue…),
        as a new Lambda container with them would be."""
        self.portal = bootstrap.override(clock=self.clock, **parts)
        return self.portal

    @property
    def queue_url(self) -> str:
        return self.queues["SmsQueue"]

    def deliver(self) -> dict:
        """Run the SMS worker over everything queued (the real handler, as Lambda would)."""
        from app import deliver_sms
        return drain_once(self.sqs, self.queue_url, deliver_sms)

    def sent(self) -> list[tuple[str, str]]:
        """(number, text) of every SMS published through SNS so far, oldest first."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends
        return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())

    def codes_sent_to(self, number: str) -> list[str]:
        return [re.search(r"\b(\d{6})\b", text).group(1) for to, text in self.sent()
                if to == number and re.search(r"#\d{6}", text)]

    def last_code(self, number: str) -> str:
        self.deliver()
        codes = self.codes_sent_to(number)
        assert codes, f"no code was sent to {number}"
        return codes[-1]

    def audit(self, username: str) -> list[dict]:
        return self.portal.audit.events(username, limit=1000)

    def create_account(self, username="hemtjanstab", password="tuvKAJ58!x",
                       phone: str | None = "+46701234567"):
        return self.portal.account_changes.create(username, password, phone)


@pytest.fixture
def world(environment):
    from moto import mock_aws  # at use: tests/unit runs on fakes and never loads moto
    with mock_aws():
        bootstrap.reset()
        yield World(FakeClock())
        bootstrap.reset()


@pytest.fixture
def client(world):
    # Unknown paths as every stage answers them (404 in the envelope), not as chalice's
    # emulated gateway does by itself (403 `Missing Authentication Token`).
    from infra.chalice_runtime import answer_unknown_routes_with_the_envelope
    answer_unknown_routes_with_the_envelope()
    with Client(__import__("app").app, stage_name="local", project_dir=str(ROOT)) as chalice:
        yield chalice


# -- parallel workers (`make test`: pytest-xdist, --dist loadgroup) ----------------------------

# What must run in one worker, in one go: the browser tests share one stack and its accounts
# (a package fixture); the modules that build a stage with `chalice package` share chalice's
# cache, written through one fixed temporary name (tests/infra/conftest.py names them).
# Every other module is its own unit, so that its module fixtures (a stack, slapd, a moto
# server) are made once; the modules spread over the workers.
WHOLE_FOLDERS = ("browser",)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        relative = item.path.relative_to(ROOT)
        folder = relative.parts[1] if len(relative.parts) > 2 else ""
        group = f"tests/{folder}" if folder in WHOLE_FOLDERS else relative.as_posix()
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def cheap_argon2(monkeypatch):
    """The same argon2id code with its smallest costs, for the suites that look at answers,
    records and calls, not at the hashing's cost (tests/unit checks the real parameters, and
    bench/ measures the real cost): each account, login and new password at 19 MiB would
    take a quarter of a second of every API test."""
    from argon2 import PasswordHasher as Argon2Hasher

    from chalicelib.adapters import passwords
    monkeypatch.setattr(passwords, "TIME_COST", 1)
    monkeypatch.setattr(passwords, "MEMORY_COST_KIB", 64)
    monkeypatch.setattr(passwords, "DUMMY_HASH",
                        Argon2Hasher(time_cost=1, memory_cost=64, parallelism=1).hash("x"))
