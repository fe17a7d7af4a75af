"""The composition root: builds pwportal's adapters and services once per Lambda container.

Routes, the worker, the admin CLI and the tests all get their services from `portal()`.
Tests swap the clock (or anything else) with `override(...)`; `reset()` forgets everything,
so that the next call reads the settings and builds the AWS clients again.
"""
from __future__ import annotations

from functools import cached_property

from chalicelib.adapters import aws
from chalicelib.adapters.accounts import Accounts
from chalicelib.adapters.audit import Audit
from chalicelib.adapters.challenges import Challenges
from chalicelib.adapters.dynamo import Dynamo
from chalicelib.adapters.limits import Limits
from chalicelib.adapters.sms import SmsGateway, SmsQueue
from chalicelib.domain.clock import SystemClock
from chalicelib.settings import load_settings


class Portal:
    def __init__(self, settings=None, clock=None):
        self.settings = settings or load_settings()
        self.clock = clock or SystemClock()
        self.dynamo = Dynamo()
        self.accounts = Accounts(self.settings, self.dynamo)
        self.challenges = Challenges(self.settings, self.dynamo)
        self.limits = Limits(self.settings, self.clock, self.dynamo)
        self.audit = Audit(self.settings, self.clock, self.dynamo)
        self.queue = SmsQueue(self.settings)
        self.gateway = SmsGateway(self.settings)

    @cached_property
    def secrets(self):
        from chalicelib.adapters import secrets
        return secrets.load(self.settings)

    @cached_property
    def hasher(self):
        from chalicelib.adapters.passwords import PasswordHasher
        return PasswordHasher(self.secrets.pepper)

    @cached_property
    def registration(self):
        from chalicelib.services.registration import Registration
        return Registration(self)

    @cached_property
    def reset(self):
        from chalicelib.services.reset import Reset
        return Reset(self)

    @cached_property
    def delivery(self):
        from chalicelib.services.delivery import Delivery
        return Delivery(self)

    @cached_property
    def notifications(self):
        from chalicelib.services.notifications import Notifications
        return Notifications(self)

    @cached_property
    def reminders(self):
        from chalicelib.services.reminders import Reminders
        return Reminders(self)

    @cached_property
    def support(self):
        from chalicelib.services.support import Support
        return Support(self)

    def now(self) -> float:
        return self.clock.now().timestamp()


_portal: Portal | None = None


def portal() -> Portal:
    global _portal
    if _portal is None:
        _portal = Portal()
    return _portal


def override(**parts) -> Portal:
    """Replace the current portal with one built from the current environment and `parts`."""
    global _portal
    _portal = Portal(**parts)
    return _portal


def reset() -> None:
    global _portal
    _portal = None
    aws.reset()
