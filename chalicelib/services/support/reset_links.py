"""The reset link (SPEC 14): the support desk sends the verified holder an SMS with a link to
pwreset's password step, so that the holder chooses the new password themselves. No agent
ever sees or sets one.

The link carries a reset token (`ResetToken`, the one a right code gives on pwreset) for
that holder, valid `reset_link_seconds` (10 minutes) and used once by pwreset's
`complete`, which records the change as the holder's. It is sent only to the number of the
holder the agent verified (`Acting.holder_id`), in the fragment of the address
(`#reset=…`), which browsers never send to a server; every holder is told that a link went
out, and to which number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain import codes, phone as phones
from chalicelib.domain.account import normalise_username
from chalicelib.domain.console import Acting, CallerNotVerified, HolderNotFound
from chalicelib.domain.errors import PortalError, ServiceUnavailable
from chalicelib.domain.records import ResetToken
from chalicelib.domain.sms import CODE, SmsMessage
from chalicelib.messages import said_by, text
from chalicelib.ports import Clock, Conflict, Queue, Refused
from chalicelib.services.support.callers import text_of
from chalicelib.services.support.state import existing

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit
    from chalicelib.repositories.records import Records
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.unit_of_work import UnitOfWork
    from chalicelib.settings import Settings

TOKEN = "token"
RESET_PAGE = "/pwreset/"


class AccountDisabled(PortalError):
    """A disabled account takes no new password: enable it first."""

    code, status = "account_disabled", 409


@dataclass(frozen=True, kw_only=True)
class ResetLinks:
    settings: Settings
    clock: Clock
    uow: UnitOfWork
    accounts: Accounts
    records: Records
    audit: Audit
    queue: Queue
    notifications: Notifications

    def link(self, secret: str, username: str) -> str:
        return f"{self.settings.redirect_base}{RESET_PAGE}#reset={secret}&u={username}"

    def send(self, raw_username: str, raw_holder_id: object, acting: Acting
             ) -> dict[str, Any]:
        """Send the link to the verified holder `raw_holder_id` (another holder:
        CallerNotVerified), and tell every holder."""
        username = normalise_username(raw_username)
        holder_id = text_of(raw_holder_id, "holder_id")
        if acting.agent is not None and holder_id != acting.holder_id:
            raise CallerNotVerified(holder_id=holder_id)
        account = existing(self.accounts, username)
        holder = account.holder(holder_id)
        if holder is None:
            raise HolderNotFound(holder_id=holder_id)
        if account.disabled:
            raise AccountDisabled()
        now = self.clock.now()
        lifetime = self.settings.reset_link_seconds
        secret = codes.new_secret()
        tx = self.uow.begin()
        tx.add(TOKEN, self.records.add(ResetToken(
            ResetToken.id_of(secret), username, expires_at=now.timestamp() + lifetime,
            holder_id=holder.id, holder_name=holder.name)))
        tx.record(self.audit.record("support.reset_link_sent", username, "success",
                                     acting.caller, phone=holder.phone, holder_id=holder.id,
                                     holder_name=holder.name, **acting.fields))
        try:
            tx.commit()
        except (Refused, Conflict):
            raise ServiceUnavailable() from None
        lang = account.lang
        body = text("sms.reset_link", lang, username=username, minutes=lifetime // 60,
                    by=said_by(acting.by, lang), link=self.link(secret, username))
        # a CODE: its text holds a secret, which nothing logs; to the holder's number as
        # the worker finds it (dropped if they are no holder by then)
        self.queue.send(SmsMessage(CODE, body, username=username, holder=holder.id,
                                   lang=lang))
        self.notifications.support_changed(
            "reset_link", username, [h.phone for h in account.holders if h.id != holder.id],
            now, lang, acting.by, acting.caller, phone=phones.masked_national(holder.phone))
        return {"sent": True, "phone": phones.masked(holder.phone), "expires_in": lifetime}
