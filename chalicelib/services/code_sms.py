"""A security code's way to its user: an SMS on the queue (SPEC 4).

The code SMS of both portals count against one limit per (username, number) (CODE_SMS: 3
per 15 min, 5 per 24 h), each against its own flow's for that number (CODE_SMS_RESET,
CODE_SMS_REGISTRATION: 1 per 60 s, so that a pwreg code does not delay a pwreset code), and
against the account's ceiling, every number together (CODE_SMS_ACCOUNT: 20 per 24 h), SPEC
5 v3; recorded in the same transaction as the code itself. A code whose SMS cannot be
queued must not count, so that the user's retry gets one: `take_back` forgets the event.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain.limits import CODE_SMS, CODE_SMS_ACCOUNT, Log
from chalicelib.domain.sms import CODE, SmsMessage
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import Caller
from chalicelib.messages import text
from chalicelib.ports import Queue
from chalicelib.services.unit_of_work import Attempt, retrying

if TYPE_CHECKING:
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.limits import Logs
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

SMS_LIMITS = "sms limits"  # the number's, the flow's and the account's log, together


@dataclass(frozen=True, kw_only=True)
class CodeSms:
    settings: Settings
    queue: Queue
    uow: UnitOfWork
    logs: Logs
    audit: Audit

    def send(self, code: str, caller: Caller, *, username: str | None = None,
             to: str | None = None, event: str | None = None,
             holder: str | None = None) -> None:
        """Queue the SMS: to `to`, or to `username`'s registered number, or to the number of
        its holder `holder` (the worker looks it up, and records `event` once sent);
        ServiceUnavailable if it cannot be."""
        body = text("sms.code", caller.lang, code=code, host=self.settings.portal_host,
                    minutes=self.settings.code.lifetime_seconds // 60)
        self.queue.send(SmsMessage(CODE, body, to=to, username=username, event=event,
                                   lang=caller.lang, holder=holder))

    def read_out(self, code: str, caller: Caller, *, username: str,
                 holder: str | None = None, to: str | None = None) -> None:
        """Queue the code a caller reads out to the support desk (SPEC 14): to the number of
        `username`'s holder `holder`, or to `to` (a new holder's number);
        ServiceUnavailable if it cannot be."""
        body = text("sms.read_out_code", caller.lang, code=code, username=username,
                    minutes=self.settings.code.lifetime_seconds // 60)
        # a holder's number is looked up by the worker (dropped if they are no holder by
        # then); a new number is sent to as it is
        self.queue.send(SmsMessage(CODE, body, to=to, username=None if to else username,
                                   lang=caller.lang, holder=None if to else holder))

    def take_back(self, username: str, number_key: str, at: float, caller: Caller,
                  flow: Log, phone: str | None = None) -> None:
        """The SMS counted at `at` (in the number's shared and `flow`'s limits, and the
        account's) was not queued: forget it, and say so in the trail."""
        def forget(_: Attempt) -> None:
            found = self.uow.read(shared=self.logs.read(CODE_SMS, username, number_key),
                                  flow=self.logs.read(flow, username, number_key),
                                  account=self.logs.read(CODE_SMS_ACCOUNT, username))
            counted = [self.logs.forget(log, at)
                       for log in (found.shared, found.flow, found.account)
                       if at in log.events]
            if counted:
                self.uow.begin().add_group(SMS_LIMITS, counted).commit()
        try:
            retrying(forget, retryable=lambda refused: True, tries=3, otherwise=lambda: None)
        except ServiceUnavailable:
            pass  # the limit clears by itself; the failure is what matters now
        self.audit.write_if_possible(self.audit.record("sms.failed", username, "not_queued",
                                                         caller, kind="code", phone=phone))
