"""`report --account USERNAME --month YYYY-MM [--csv]` (SPEC 9, 11): every event of one
account in one month, with who did each, for the unit manager's monthly log follow-up.

The month is a month on Swedish clocks (what the manager's calendar says), read with one
Query on the audit table's key. The rows are laid out once, with Swedish column names, for
both the plain table and the CSV, which opens in Excel as it is: UTF-8 with a byte order
mark, `;` between fields (Excel's separator where the decimal mark is a comma), CRLF line
ends, and no cell that Excel would run as a formula.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from chalicelib.domain.account import normalise_username
from chalicelib.domain.clock import swedish_time
from chalicelib.domain.errors import InvalidRequest
from chalicelib.domain.events import who
from chalicelib.ports import Item
from chalicelib.services.support.state import existing

if TYPE_CHECKING:
    from chalicelib.repositories.accounts import Accounts
    from chalicelib.repositories.audit import Audit

COLUMNS = ("Tid (svensk tid)", "Händelse", "Beskrivning", "Utfall", "Vem", "Innehavar-id",
           "Gäller innehavare", "Nummer", "IP-nät", "Övrigt")

# What each event means, in the words of the manager who reads the log.
DESCRIPTIONS = {
    "account.created": "Kontot skapades",
    "login.succeeded": "Inloggning i pwreg",
    "login.failed": "Misslyckad inloggning i pwreg",
    "login.locked": "Inloggningen i pwreg spärrades",
    "phone.change_requested": "Byte av mobilnummer begärdes",
    "phone.changed": "Mobilnumret byttes",
    "reset.requested": "Återställning av lösenord begärdes",
    "reset.code_sent": "Säkerhetskod skickades",
    "reset.code_failed": "Fel säkerhetskod",
    "reset.code_verified": "Säkerhetskoden godkändes",
    "reset.paused": "Återställningen pausades",
    "password.changed": "Lösenordet byttes",
    "password.rejected": "Lösenordet uppfyllde inte kraven",
    "sms.failed": "Ett sms kunde inte skickas",
    "ratelimit.exceeded": "För många försök",
    "reminder.sent": "Påminnelse om lösenordet skickades",
    "account.unlocked": "Kontot låstes upp",  # by support, or in the directory by a holder
    "account.disabled": "Kontot stängdes av",
    "account.enabled": "Kontot aktiverades",
    "phone.set_by_support": "Support satte mobilnumret",
    "holder.added": "Innehavare lades till",
    "holder.removed": "Innehavare togs bort",
    "holder.expired": "Innehavare togs bort efter lång tid utan användning",
    "authenticator.added": "Autentiseringsapp lades till",
    "authenticator.removed": "Autentiseringsapp togs bort",
    "directory.failed": "Lösenordskatalogen (LDAP/AD) svarade inte, svarade fel eller kunde inte bokföras",
    "support.signed_in": "En supporthandläggare loggade in i supportkonsolen",
    "support.signed_out": "En supporthandläggare loggade ut ur supportkonsolen",
    "support.sign_in_refused": "En inloggning i supportkonsolen nekades",
    "support.caller_verified": "Supporten verifierade den som ringde med en kod",
    "support.caller_failed": "Fel kod lästes upp för supporten",
    "support.reset_link_sent": "Supporten skickade en länk för att byta lösenord",
    "idp.sign_in_refused": "En inloggning med jobbinloggningen i pwreg nekades",
    "breach_check.failed": "Ett nytt lösenord kunde inte jämföras med läckta lösenord (tjänsten svarade inte) och godtogs ändå",
}

# What an event was when its outcome was not what the event's name says: the row is read
# by its description, and "Mobilnumret byttes" beside `wrong_code` reads as if it changed.
DESCRIPTIONS_BY_OUTCOME = {
    ("phone.changed", "wrong_code"): "Fel kod vid byte av mobilnummer",
    ("phone.changed", "expired"): "Koden för byte av mobilnummer hade gått ut",
    ("phone.changed", "code_expired"): "Koden för byte av mobilnummer hade gått ut",
    ("phone.changed", "too_many_attempts"): "För många fel koder vid byte av mobilnummer",
    ("holder.added", "renamed"): "En innehavare fick nytt namn",
    ("holder.added", "migrated"): "Kontots tidigare nummer blev en innehavare utan namn",
    ("password.changed", "rejected"): "Lösenordet uppfyllde inte kraven",
    ("reset.code_verified", "wrong_code"): "Fel säkerhetskod",
    ("account.unlocked", "not_locked"): "Upplåsning begärdes, men kontot var inte låst i katalogen",
    ("reset.requested", "sign_in_started"): "Återställning med jobbinloggningen påbörjades",
}

# SPEC 15: a reset proven by the identity provider (`channel: idp`) had no code.
DESCRIPTIONS_BY_CHANNEL = {
    ("reset.code_verified", "idp"): "Innehavaren bevisade vem hen är med jobbinloggningen",
    ("reset.code_failed", "idp"): "Återställning med jobbinloggningen nekades",
}
PROVEN = "jobbinloggning"  # beside a name the identity provider proved (SPEC 15)

# Each outcome in the manager's words; one not listed is shown with spaces for `_`.
OUTCOMES = {
    "success": "lyckades",
    "renamed": "nytt namn",
    "migrated": "flyttat från version 1",
    "wrong_code": "fel kod",
    "expired": "för sent",
    "code_expired": "för sent",
    "too_many_attempts": "för många försök",
    "locked": "spärrad",
    "paused": "pausad",
    "no_sms": "inget sms skickat",
    "code_queued": "kod skickad",
    "rejected": "nekad",
    "refused": "nekad",
    "not_queued": "kunde inte köas",
    "dead_letter": "kom inte fram",
    "unrecorded": "inte bokfört",
    "replayed": "upprepad",
    "invalid_credentials": "fel lösenord",
    "wrong_password": "fel lösenord",
    "unknown_user": "okänt konto",
    "disabled": "kontot avstängt",
    "sent": "skickad",
    "failed": "misslyckades",
    "not_locked": "inte låst",
    "not_a_holder": "inte innehavare av kontot",
    "sign_in_started": "inloggning påbörjad",
}

# Shown in their own columns, or not at all (the keys and the retention of the record).
_SHOWN = {"username", "at", "day", "time", "event", "outcome", "request_id", "ip", "ttl",
          "phone", "holder_id", "holder_name", "subject_id", "subject_name"}
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
# A cell Excel would read as a formula (OWASP's CSV injection): shown with a leading '.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def month(text: str) -> tuple[int, int]:
    """`2026-11` → (2026, 11); InvalidRequest(field="month") otherwise."""
    found = _MONTH.fullmatch((text or "").strip())
    if not found:
        raise InvalidRequest(field="month")
    return int(found.group(1)), int(found.group(2))


def _swedish_midnight(year: int, month_: int) -> datetime:
    """The first moment of a month on Swedish clocks, in UTC. (Sweden's clocks change at
    01:00 UTC on a Sunday, never between a local and a UTC midnight.)"""
    utc_midnight = datetime(year, month_, 1, tzinfo=timezone.utc)
    return utc_midnight - (swedish_time(utc_midnight).utcoffset() or timedelta(0))


@dataclass(frozen=True)
class MonthlyLog:
    username: str
    year: int
    month: int
    start: datetime  # UTC
    end: datetime  # UTC, not included
    records: list[Item]  # oldest first

    @property
    def title(self) -> str:
        return f"{self.username} {self.year}-{self.month:02d}"

    def rows(self) -> list[list[str]]:
        """One row per record, in COLUMNS order."""
        return [_row(record) for record in self.records]

    def csv(self) -> bytes:
        """The rows as a CSV file for Excel: UTF-8 with BOM, `;`, CRLF."""
        text = io.StringIO()
        writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows([[_cell(value) for value in row] for row in self.rows()])
        return text.getvalue().encode("utf-8-sig")


def _row(record: Item) -> list[str]:
    name, holder_id = who(record)
    at = datetime.strptime(record["at"].split("#")[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc)
    if holder_id and record.get("proven_by"):
        name = f"{name} ({PROVEN})"
    subject = record.get("subject_name")
    if subject and record.get("subject_id"):
        subject = f"{subject} ({record['subject_id']})"
    if subject and record.get("subject_proven_by"):
        subject = f"{subject} ({PROVEN})"
    other = " ".join(f"{key}={_shown(record[key])}" for key in sorted(record)
                     if key not in _SHOWN)
    event, outcome = record["event"], record.get("outcome", "")
    description = (DESCRIPTIONS_BY_CHANNEL.get((event, str(record.get("channel", ""))))
                   or DESCRIPTIONS_BY_OUTCOME.get((event, outcome))
                   or DESCRIPTIONS.get(event, event))
    return [swedish_time(at).strftime("%Y-%m-%d %H:%M:%S"), event, description,
            OUTCOMES.get(outcome, outcome.replace("_", " ")) or "-",
            name, holder_id or "-", subject or "-", _national(record.get("phone")),
            record.get("ip") or "-", other or "-"]


def _national(logged: str | None) -> str:
    """A number as the audit holds it (`+4670*****67`) in the form the manager knows from
    the SMS and the pages (`070-*** ** 67`)."""
    if not logged:
        return "-"
    found = re.fullmatch(r"\+46(7\d)\*{5}(\d\d)", logged)
    return f"0{found.group(1)}-*** ** {found.group(2)}" if found else logged


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        return "+".join(str(v) for v in value) or "-"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _cell(value: str) -> str:
    if value == "-":  # the table's blank: an empty cell in Excel, not a guarded "'-"
        return ""
    return "'" + value if value.startswith(_FORMULA) else value


@dataclass(frozen=True, kw_only=True)
class MonthlyReports:
    accounts: Accounts
    audit: Audit

    def log(self, raw_username: str, year: int, month_: int) -> MonthlyLog:
        """Every audit record of the account in that month (NotFound if there is no such
        account: a misspelt name must not look like a quiet month)."""
        username = normalise_username(raw_username)
        existing(self.accounts, username)
        start = _swedish_midnight(year, month_)
        following = (year + month_ // 12, month_ % 12 + 1)
        end = _swedish_midnight(*following)
        records = self.audit.between(username, start, end)
        return MonthlyLog(username=username, year=year, month=month_, start=start, end=end,
                          records=records)
