"""A security code's way to its user: an SMS on the queue (SPEC 4).

The code SMS of both portals count against one per-username limit (adapters/limits.py,
CODE_SMS), recorded in the same transaction as the code itself. A code whose SMS cannot be
queued must not count, so that the user's retry gets one: `take_back` forgets the event.
"""
from __future__ import annotations

from chalicelib.adapters.limits import CODE_SMS
from chalicelib.domain import sms
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import Caller
from chalicelib.messages import text
from chalicelib.services.unit_of_work import retrying


class CodeSms:
    def __init__(self, *, settings, queue, uow, limits, audit):
        self._settings = settings
        self._queue = queue
        self._uow = uow
        self._limits = limits
        self._audit = audit

    def send(self, code: str, caller: Caller, *, username: str | None = None,
             to: str | None = None, event: str | None = None) -> None:
        """Queue the SMS: to `to`, or to `username`'s registered number (the worker looks
        it up, and records `event` once sent); ServiceUnavailable if it cannot be."""
        body = text("sms.code", caller.lang, code=code, host=self._settings.portal_host,
                    minutes=self._settings.code.lifetime_seconds // 60)
        self._queue.send(sms.message("code", body, to=to, username=username, event=event,
                                     lang=caller.lang))

    def take_back(self, username: str, at: float, caller: Caller, phone: str | None = None):
        """The SMS counted at `at` was not queued: forget it, and say so in the trail."""
        def forget(_):
            [log] = self._uow.read(self._limits.read(CODE_SMS, username))
            if at in log.events:
                self._uow.write(self._limits.forget(log, at))
        try:
            retrying(forget, retryable=lambda refused: True, tries=3, otherwise=lambda: None)
        except ServiceUnavailable:
            pass  # the limit clears by itself; the failure is what matters now
        self._audit.write_if_possible(self._audit.record("sms.failed", username, "not_queued",
                                                         caller, kind="code", phone=phone))
