"""The use-case tests' portal: every use case of chalicelib/bootstrap.py built on the fakes of
tests/unit/fakes.py (no AWS, emulated or real; no network; no HTTP), and small steps the SPEC
tests share.

`rig` is the one fixture a test needs: `rig.portal` has the use cases, `rig.clock` moves
time, `rig.deliver()` runs the SMS worker's use case over what was queued, `rig.last_code`
reads the code a number got, `rig.events` the audit trail. `reconfigure(...)` changes
settings (dataclasses.replace, nested settings by dict) and rebuilds the portal on the same
fakes, as a new Lambda container with those settings would be.
"""
from __future__ import annotations

import dataclasses
import io
import json
import re

import pytest

from chalicelib.bootstrap import Portal
from chalicelib.domain.events import Caller
from chalicelib.domain.sms import SmsMessage
from chalicelib.settings import Settings
from tests.unit.fakes import FakeClock, FakeGateway, FakeQueue, FastHasher, MemoryStore

PEPPER = "p" * 32
CODE_KEY = "k" * 32
LIMIT_KEY = "l" * 32
AUTHENTICATOR_KEY = "a" * 32
USERNAME = "hemtjanstab"
PASSWORD = "tuvKAJ58!x"
PHONE = "+46701234567"
NEW_PHONE = "+46707654321"
NEW_PASSWORD = "Bla-Hus-2026-x"
USER = Caller(ip="203.0.113.7", request_id="test", lang="sv")

_CODE = re.compile(r"#(\d{6})\b")


def changed(settings, **changes):
    """`settings` with `changes`; a dict for a nested dataclass (policy, code, limits)
    changes only the fields it names."""
    for name, value in list(changes.items()):
        current = getattr(settings, name)
        if isinstance(value, dict) and dataclasses.is_dataclass(current):
            changes[name] = dataclasses.replace(current, **value)
    return dataclasses.replace(settings, **changes)


class Rig:
    """One test's fakes and the portal built on them."""

    def __init__(self, settings: Settings, passwords=None):
        self.clock = FakeClock()
        self.passwords = passwords  # the directory's store, in ldap mode (FakeDirectory)
        if passwords is not None:
            passwords.clock = self.clock
        self.store = MemoryStore()
        self.queue = FakeQueue()
        self.gateway = FakeGateway()
        self.audit_stream = io.StringIO()
        self._delivered = 0
        self.build(settings)

    def build(self, settings: Settings) -> Portal:
        self.settings = settings
        self.portal = Portal(settings=settings, clock=self.clock, store=self.store,
                             queue=self.queue, gateway=self.gateway,
                             hasher=FastHasher(settings.pepper.encode("utf-8")),
                             audit_stream=self.audit_stream, passwords=self.passwords)
        return self.portal

    # -- accounts --------------------------------------------------------------------------

    def create_account(self, username=USERNAME, password=PASSWORD, phone: str | None = PHONE):
        return self.portal.account_changes.create(username, password, phone)

    def account(self, username=USERNAME):
        return self.portal.accounts.get(username)

    # -- SMS -------------------------------------------------------------------------------

    def queued(self) -> list[dict]:
        """The messages queued since the last delivery."""
        return self.queue.sent[self._delivered:]

    def deliver(self) -> list[str]:
        """Hand every message queued since the last delivery to the SMS worker's use case;
        what happened to each (`sent`, `no_recipient`, `service_limit`, ...)."""
        outcomes = []
        while self._delivered < len(self.queue.sent):
            message = self.queue.sent[self._delivered]
            self._delivered += 1
            outcomes.append(self.portal.delivery.deliver(SmsMessage.from_message(message)))
        return outcomes

    @property
    def sent(self) -> list[tuple[str, str]]:
        """(number, text) of every SMS the gateway accepted, oldest first."""
        return self.gateway.published

    def texts_to(self, number: str) -> list[str]:
        return [text for to, text in self.sent if to == number]

    def codes_sent_to(self, number: str) -> list[str]:
        return [found.group(1) for text in self.texts_to(number)
                for found in [_CODE.search(text)] if found]

    def last_code(self, number: str = PHONE) -> str:
        self.deliver()
        codes = self.codes_sent_to(number)
        assert codes, f"no code was sent to {number}"
        return codes[-1]

    # -- the steps of the flows ------------------------------------------------------------

    def challenge(self, username=USERNAME, caller: Caller = USER, phone: str | None = None
                  ) -> str:
        """Start a reset with `phone`, by default the account's first holder's number (or
        PHONE, for a username that has none)."""
        if phone is None:
            account = self.portal.accounts.get(username.strip().lower())
            phone = account.holders[0].phone if account and account.holders else PHONE
        return self.portal.reset.start(username, phone, caller)["challenge"]

    def reset_token(self, username=USERNAME, phone=PHONE) -> str:
        """Start a reset and verify the code that reached `phone`: a fresh reset token."""
        challenge = self.challenge(username)
        return self.portal.reset.verify(challenge, self.last_code(phone), USER)["reset_token"]

    def login(self, username=USERNAME, password=PASSWORD, caller: Caller = USER) -> dict:
        return self.portal.registration.login(username, password, caller)

    def session(self, username=USERNAME, password=PASSWORD) -> str:
        return self.login(username, password)["session"]

    # -- what is stored and recorded -------------------------------------------------------

    def stored(self) -> str:
        """Every item of every table, as one JSON text (to search for what must not be
        there)."""
        tables = [self.settings.accounts_table, self.settings.challenges_table,
                  self.settings.limits_table, self.settings.audit_table]
        return json.dumps([self.store.items(table) for table in tables], default=str,
                          ensure_ascii=False)

    def audit(self, username=USERNAME) -> list[dict]:
        """The username's audit records, oldest first (those of one instant in no set
        order)."""
        return list(reversed(self.portal.audit.events(username, limit=1000)))

    def events(self, username=USERNAME) -> list[str]:
        return [record["event"] for record in self.audit(username)]

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.audit_stream.getvalue().splitlines()]


@pytest.fixture
def base_settings() -> Settings:
    return Settings(pepper=PEPPER, code_key=CODE_KEY, limit_key=LIMIT_KEY,
                    authenticator_key=AUTHENTICATOR_KEY)


@pytest.fixture
def rig(base_settings) -> Rig:
    return Rig(base_settings)


@pytest.fixture
def reconfigure(rig):
    """`reconfigure(portal_host="…", code={"lifetime_seconds": 300}, ...)`: the portal
    rebuilt with these settings on the same store, clock, queue and gateway."""
    def apply(**changes) -> Portal:
        return rig.build(changed(rig.settings, **changes))
    return apply
