"""The SMS notices of SPEC 7: password changed, the directory's lock lifted (SPEC 16), number
changed, a holder added, removed or expired, a holder's authenticator app added or removed
(SPEC 12), and the expiry reminders.

They travel the same queue as the codes. A notice never holds a code, a password or a full
number other than the recipient's own, and it is sent in the language the account last
used (`Account.lang`). A notice is a courtesy to a change that has already happened: if it
cannot be queued, the change stands, and `sms.failed` (outcome `not_queued`) tells the
dashboard instead of the user getting an error for a password that was in fact changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.domain import organisation
from chalicelib.domain.console import ByAgent
from chalicelib.domain.clock import month_name, swedish_time
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.events import Caller
from chalicelib.domain.holders import Holder
from chalicelib.domain.phone import masked, masked_national
from chalicelib.domain.sms import NOTICE, SmsMessage
from chalicelib.messages import named, said_by, text
from chalicelib.ports import Queue

if TYPE_CHECKING:
    from chalicelib.repositories.audit import Audit
    from chalicelib.settings import Settings

def spoken_time(moment: datetime, lang: str) -> str:
    """`25 november 2026 kl. 09:15`, on Swedish clocks: what the recipient's phone shows."""
    local = swedish_time(moment)
    return text("sms.time", lang, day=local.day, month_sv=month_name(local.month, "sv"),
                month_en=month_name(local.month, "en"), year=local.year,
                clock=local.strftime("%H:%M"))


def spoken_date(moment: datetime, lang: str) -> str:
    local = swedish_time(moment)
    return f"{local.day} {month_name(local.month, lang)}"


@dataclass(frozen=True, kw_only=True)
class Notifications:
    settings: Settings
    queue: Queue
    audit: Audit

    def _support_in(self, lang: str) -> str:
        """The numbers and addresses of support, in `lang` (an SMS is paid by its length)."""
        return organisation.support_line(tuple(
            channel for channel in self.settings.support_channels if channel.kind != "text"), lang)

    @property
    def _support(self) -> str:
        """The same in Swedish."""
        return self._support_in("sv")

    def password_changed(self, username: str, at: datetime, lang: str, caller: Caller,
                         holders: list[str], by: str | ByAgent) -> None:
        """To every holder's number (SPEC 7 v2), naming who did it: the holder who verified
        the code, or `support`."""
        body = text("sms.password_changed", lang, username=username, by=said_by(by, lang),
                    time=spoken_time(at, lang), support=self._support_in(lang))
        self._send_to_each(body, holders, username, lang, caller)

    def account_unlocked(self, username: str, at: datetime, lang: str, caller: Caller,
                         holders: list[str], by: str) -> None:
        """The directory's lock lifted (SPEC 16), the password unchanged: to every holder's
        number, naming the holder who did it, as a password change is told."""
        body = text("sms.account_unlocked", lang, username=username, by=said_by(by, lang),
                    time=spoken_time(at, lang), support=self._support_in(lang))
        self._send_to_each(body, holders, username, lang, caller)

    def phone_changed(self, username: str, old_phone: str | None, new_phone: str,
                      at: datetime, lang: str, caller: Caller) -> None:
        """To the number that was replaced, if there was one: it is the owner of that number
        who needs to hear that codes now go elsewhere. The new number has just proved
        possession with a code, so it needs no notice."""
        if not old_phone or old_phone == new_phone:
            return
        body = text("sms.phone_changed", lang, username=username, time=spoken_time(at, lang),
                    phone=masked(new_phone), support=self._support_in(lang))
        self._send(SmsMessage(NOTICE, body, to=old_phone, lang=lang), username, caller)

    def holder_changed(self, change: str, username: str, holder: Holder, recipients: list[str],
                       at: datetime, lang: str, by: str | ByAgent, caller: Caller,
                       **fields: object) -> None:
        """`change` is `added`, `removed` or `expired` (SPEC 7, 11): told, with the holder's
        name and masked number, to each of `recipients` (the other holders, and the holder
        concerned where they should hear of it), one SMS each. `by` names who did it: a
        holder's name or `support`. A person who added their own number (`added_by` is
        their own id) is said to have added themselves, not named twice."""
        themselves = change == "added" and holder.added_by == holder.id
        key = "sms.holder_added_self" if themselves else f"sms.holder_{change}"
        body = text(key, lang, named=named(holder.name, lang, added_themselves=themselves),
                    phone=masked_national(holder.phone), by=said_by(by, lang),
                    username=username, time=spoken_time(at, lang), support=self._support,
                    **fields)
        for number in dict.fromkeys(recipients):  # each number once
            self._send(SmsMessage(NOTICE, body, to=number, lang=lang), username, caller)

    def authenticator_changed(self, change: str, username: str, holder: Holder, at: datetime,
                              lang: str, by: str | ByAgent, caller: Caller) -> None:
        """`change` is `added` or `removed` (SPEC 12): told to the holder whose app it is,
        at their own number; `by` names who did it (their name, or `support`). Never the
        key, a code or the app's address."""
        body = text(f"sms.authenticator_{change}", lang, named=named(holder.name, lang),
                    by=said_by(by, lang),
                    username=username, time=spoken_time(at, lang),
                    support=self._support_in(lang))
        self._send(SmsMessage(NOTICE, body, to=holder.phone, lang=lang), username, caller)

    def support_changed(self, change: str, username: str, recipients: list[str],
                        at: datetime, lang: str, by: str | ByAgent, caller: Caller,
                        **fields: object) -> None:
        """`change` is `unlocked`, `disabled`, `enabled` or `reset_link` (SPEC 14): what the
        support desk did to the account, told to each of `recipients` (every holder), one
        SMS each, naming who did it (`support`, or the agent for the verified holder)."""
        body = text(f"sms.support_{change}", lang, username=username, by=said_by(by, lang),
                    time=spoken_time(at, lang), support=self._support_in(lang), **fields)
        self._send_to_each(body, recipients, username, lang, caller)

    def reminder(self, username: str, expires_at: datetime, days: int, lang: str,
                 holder: str | None = None) -> SmsMessage:
        """The queued message of one expiry reminder to one holder of the account (the
        reminder job sends one to each)."""
        body = text("sms.reminder", lang, username=username, days=days,
                    date=spoken_date(expires_at, lang), host=self.settings.portal_host,
                    support=self._support_in(lang))
        return SmsMessage(NOTICE, body, username=username, event="reminder.sent",
                           lang=lang, holder=holder)

    def _send_to_each(self, body: str, numbers: list[str], username: str, lang: str,
                      caller: Caller) -> None:
        """One notice to each of `numbers`, each number once, in one call."""
        messages = [SmsMessage(NOTICE, body, to=number, lang=lang)
                    for number in dict.fromkeys(numbers)]
        if not messages:
            return
        try:
            self.queue.send_many(messages)
        except ServiceUnavailable:
            self.audit.write_if_possible(self.audit.record(
                "sms.failed", username, "not_queued", caller, kind="notice"))

    def _send(self, message: SmsMessage, username: str, caller: Caller) -> None:
        try:
            self.queue.send(message)
        except ServiceUnavailable:
            self.audit.write_if_possible(self.audit.record(
                "sms.failed", username, "not_queued", caller, kind=message.kind))
