"""The support and operator CLI (SPEC 9): `python -m chalicelib.admin [--stage STAGE] COMMAND`;
its commands, as support staff read them, are HELP below (what `--help` prints).

A username is 1–64 ASCII letters, digits, `.`, `_` or `-`, the first a letter or a digit
(SPEC 8 v2): anything else is refused with a line that shows the name escaped. An argument
that starts with `-` is an option; `--` ends the options, so `accounts show -- -h` asks for
an account named `-h` (and is told that no username starts with `-`) rather than for help.

A password is read from standard input (asked twice on a terminal), never from the command
line, where it would end up in the shell history and the process list. `--stage local`
talks to the embedded AWS of a running `make run`; other stages use the operator's own AWS
credentials and the stage's settings from .chalice/config.json.

This module only lays out what chalicelib/services/support/ answers: aligned tables,
numbers masked in the national form (`070-*** ** 67`, as the SMS and the pages show them),
times on Swedish clocks (Europe/Stockholm, as the SMS say them) with the zone named once
below the output, and the relative time next to them. An error is one line on standard
error (`error: <code>: <message>`) and exit status 1, with nothing changed; a command line
that does not parse exits with 2. boto3 is imported only once a command runs. `--help`
shows HELP, written for the support staff who use the CLI, not this docstring.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from chalicelib.domain.account import is_username
from chalicelib.domain.console import CLI
from chalicelib.domain.errors import PasswordRejected, PortalError
from chalicelib.domain.records import APP, SMS
from chalicelib.messages import text

if TYPE_CHECKING:
    from chalicelib.services.support.diagnosis import Diagnosis
    from chalicelib.services.support.state import AccountState
    from chalicelib.settings import LimitSettings

HELP = """Support CLI of pwportal: the functional accounts, their holders and their logs.

    accounts create USERNAME [--phone NUMBER] [--name NAME] [--generate]
    accounts show USERNAME
    accounts list [--expiring-within DAYS]
    accounts disable USERNAME
    accounts enable USERNAME
    accounts unlock USERNAME
    accounts set-phone USERNAME NUMBER [--name NAME]
    accounts import FILE.csv
    events USERNAME [--limit N]
    report [--since 24h]
    report --account USERNAME --month YYYY-MM [--csv]
    holders list USERNAME
    holders add USERNAME NAME NUMBER
    holders remove USERNAME HOLDER_ID
    holders reset-link USERNAME HOLDER_ID
    authenticator remove USERNAME HOLDER_ID
    migrate holders [--dry-run]

A username is 1–64 ASCII letters, digits, '.', '_' or '-', the first a letter or a digit.
An argument that starts with '-' is read as an option: write '--' before a name or number
that starts with '-'. A password is read from standard input (asked twice on a terminal),
never from the command line.

--stage local works with a running `make run`; other stages use your own AWS credentials.
Numbers are shown masked (070-*** ** 67) and times on Swedish clocks (Europe/Stockholm).
An error is one line starting with "error:", and nothing is changed.
"""
TIME_ZONE = "Europe/Stockholm"
NO_NAME = "(namn saknas)"  # a holder without a name: a version 1 number (SPEC 9)
CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"
MAX_PERIOD_DAYS = 366
POSITIONALS = ("An argument that starts with '-' is read as an option; write '--' before "
               "the names and numbers to read them as they are.")
USERNAME_RULE = ("1–64 ASCII letters, digits, '.', '_' or '-', the first a letter or a digit; "
                 "no å, ä, ö")


def use_stage(stage: str) -> None:
    """Put the stage's settings (and, for `local`, the embedded AWS) into the environment."""
    if CONFIG.exists():
        config = json.loads(CONFIG.read_text(encoding="utf-8"))
        if stage not in config.get("stages", {}):
            raise SystemExit(f"error: unknown stage {stage!r}: choose one of "
                             f"{', '.join(config.get('stages', {}))}")
        values = dict(config.get("environment_variables", {}))
        values.update(config["stages"][stage].get("environment_variables", {}))
        for name, value in values.items():
            os.environ.setdefault(name, value)
    os.environ.setdefault("PWPORTAL_STAGE", stage)
    if stage == "local":
        port = os.environ.get("PWPORTAL_MOTO_PORT", "5000")
        os.environ.setdefault("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", "eu-north-1")


# -- how things are shown --------------------------------------------------------------------

def relative(moment: datetime, now: datetime) -> str:
    """`in 12 days`, `3 h ago`, `in 14 min`, `just now`."""
    seconds = (moment - now).total_seconds()
    days, future = round(abs(seconds) / 86400), seconds >= 0
    if abs(seconds) < 60:
        return "just now"
    if abs(seconds) >= 86400:
        amount = f"{days} day{'s' if days != 1 else ''}"
    elif abs(seconds) >= 3600:
        amount = f"{int(abs(seconds) // 3600)} h"
    else:
        amount = f"{int(abs(seconds) // 60)} min"
    return f"in {amount}" if future else f"{amount} ago"


_times_shown: list[bool] = []  # whether the output holds a time: then the zone is named


def local(moment: datetime) -> str:
    """`2027-02-23 09:00`: the moment on Swedish clocks, as the SMS say it."""
    from chalicelib.domain.clock import swedish_time
    _times_shown.append(True)
    return swedish_time(moment).strftime("%Y-%m-%d %H:%M")


def when(moment: datetime, now: datetime) -> str:
    """`2027-02-23 09:00 (in 90 days)`."""
    return f"{local(moment)} ({relative(moment, now)})"


def number(phone: str | None) -> str:
    """`070-*** ** 67`: a number as the SMS and the pages show it."""
    from chalicelib.domain.phone import masked_national
    return masked_national(phone) or "-"


def logged_number(value: str | None) -> str:
    """A number as the audit records hold it (`+4670*****67`) in the national form the rest
    of the output uses (`070-*** ** 67`); anything else as it is."""
    if not value:
        return "-"
    found = re.fullmatch(r"\+46(7\d)\*{5}(\d\d)", value)
    return f"0{found.group(1)}-*** ** {found.group(2)}" if found else value


def holder_name(name: str) -> str:
    return name or NO_NAME


def first_number(account) -> str:
    """The first holder's number, masked, and how many more there are."""
    if not account.holders:
        return "-"
    more = len(account.holders) - 1
    return number(account.holders[0].phone) + (f" +{more}" if more else "")


def expiry(account, now: datetime) -> str:
    shown = when(account.password_expires_at, now)
    return shown[:-1] + ", expired)" if account.password_expires_at <= now else shown


def table(headers: list[str], rows: list[list[str]], out,
          right: tuple[int, ...] = ()) -> None:
    """Columns aligned to their widest cell; `right` columns (numbers) aligned right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells):
        parts = [str(cell).rjust(width) if index in right else str(cell).ljust(width)
                 for index, (cell, width) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line(headers))
    out.write(line(["-" * width for width in widths]))
    for row in rows:
        out.write(line(row))


def pairs(rows: list[tuple[str, str]], out, indent: str = "") -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{indent}{label.ljust(width)}  {value}\n")


def locks(state) -> str:
    parts = []
    if state.login_locked_until:
        parts.append(f"login until {when(state.login_locked_until, state.now)}")
    if state.reset_paused_until:
        parts.append(f"reset paused until {when(state.reset_paused_until, state.now)}")
    return "; ".join(parts) or "no"


def describe(account, now: datetime) -> list[tuple[str, str]]:
    return [
        ("username", account.username),
        ("status", "disabled" if account.disabled else "enabled"),
        ("numbers", ", ".join(number(h.phone) for h in account.holders)
         or "none registered"),
        ("holders", f"{len(account.holders)}: "
         + ", ".join(holder_name(h.name) for h in account.holders)
         if account.holders else "none (see `holders list`)"),
        ("password changed", when(account.password_changed_at, now)),
        ("password expires", expiry(account, now)),
        ("created", local(account.created_at)),
    ]


def rules(rules_) -> str:
    return ", ".join(f"{rule.limit} per {duration(rule.window)}" for rule in rules_)


def duration(seconds: int) -> str:
    """`15 min`, `24 h`, `7 d`: a limit's window."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0 and (unit != "d" or seconds > 86400):
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def diagnosis(found: Diagnosis) -> list[tuple[str, str]]:
    """services/support/diagnosis.py's answer to "why didn't it get a code?", line by line."""
    state = found.state
    account = state.account
    if account is None:
        return [("account", (f"no account named {state.username}: a reset for this name "
                             "never sends a code (check the spelling; see `accounts list`)"))]
    rows = [("account", "exists, " + ("DISABLED: no codes are sent, logins fail — "
                                      f"`accounts enable {account.username}` undoes it"
                                      if account.disabled else "enabled"))]
    if not account.holders:
        rows.append(("number", "no number registered — codes cannot be sent (register one "
                     "on pwreg, or `accounts set-phone` after checking identity by phone)"))
    for holder in account.holders:
        ways = [route for route in found.routes if route.holder.id == holder.id]
        rows.append(("holder", f"{holder_name(holder.name)} ({holder.id}) at "
                     f"{number(holder.phone)}: "
                     + "; ".join(f"{CHANNEL_NAMES[route.channel]} "
                                 + ("yes" if route.open else "no, "
                                    + ", ".join(REASONS[r] for r in route.reasons))
                                 for route in ways)))
    rows.append(("password expires", expiry(account, state.now)))
    return rows + _limit_rows(state, account.username, found.limits) + _verdict_rows(found)


def _limit_rows(state: AccountState, username: str, limits: LimitSettings
                ) -> list[tuple[str, str]]:
    """The diagnosis's lines on the limits: the login lock, the reset pause, the SMS."""
    now = state.now
    if state.login_locked_until:
        login = (f"LOCKED until {when(state.login_locked_until, now)} — "
                 f"`accounts unlock {username}` lifts it")
    else:
        login = (f"not locked ({state.login_failures} recent failures; locks a network at "
                 f"{rules(limits.login_failures_per_network)}, every network at "
                 f"{rules(limits.login_failures_per_username)})")
    if state.reset_paused_until:
        reset = (f"PAUSED until {when(state.reset_paused_until, now)} after "
                 f"{state.wrong_codes} wrong codes: no codes are sent — "
                 f"`accounts unlock {username}` lifts it")
    else:
        reset = (f"not paused ({state.wrong_codes} wrong codes; pauses at "
                 f"{rules(limits.wrong_codes_per_username)})")
    window = duration(max(rule.window for rule in limits.sms_per_account))
    sms = f"{state.codes_sent_recently} to the account in the last {window}; "
    sms_rules = (f"{rules(limits.sms_per_flow)} per flow and {rules(limits.sms_per_number)} "
                 f"per number, {rules(limits.sms_per_account)} per account")
    if state.account_sms_allowed_at:
        sms += (f"ACCOUNT LIMIT REACHED ({sms_rules}): next code "
                f"{when(state.account_sms_allowed_at, now)}")
    else:
        sms += f"within the account's limit ({sms_rules})"
    rows = [("pwreg login", login), ("reset", reset), ("code SMS", sms)]
    names = {holder.id: holder for holder in state.account.holders} if state.account else {}
    for holder_id, allowed in state.holders_sms_allowed_at:  # SPEC 5 v3: per number
        holder = names[holder_id]
        rows.append((f"  {number(holder.phone)}",
                     f"LIMIT REACHED: next code {when(allowed, now)}" if allowed
                     else "within its number's limit"))
    if state.service_sms_allowed_at:
        rows.append(("service SMS", "LIMIT REACHED for the whole service: SMS resume "
                     + when(state.service_sms_allowed_at, now)))
    if state.numbers_allowed_at:
        rows.append(("new numbers",
                     f"limit reached: next one {when(state.numbers_allowed_at, now)}"))
    return rows


def _verdict_rows(found: Diagnosis) -> list[tuple[str, str]]:
    """What a reset started now would do, by SMS and by the app."""
    reasons = found.state.why_no_code()
    by_sms = found.open(SMS)
    rows = [("verdict", "a reset now would send a code to "
             + ", ".join(number(holder.phone) for holder in by_sms)
             if by_sms and not reasons else "a reset now would NOT send a code: "
             + "; ".join(REASONS[reason] for reason in reasons))]
    by_app = found.open(APP)
    if by_app:
        rows.append(("app", "a reset with the authenticator app would give a code to "
                     + ", ".join(holder_name(holder.name) for holder in by_app)))
    return rows


REASONS = {
    "no_account": "no such account",
    "disabled": "the account is disabled",
    "no_number": "no number registered",
    "reset_paused": "reset paused after too many wrong codes",
    "sms_limit": "the SMS limit of that number is reached",
    "account_sms_limit": "the account's SMS limit (every number together) is reached",
    "service_sms_limit": "the service-wide SMS limit is reached",
    "no_app": "no authenticator app added",
}
CHANNEL_NAMES = {SMS: "SMS", APP: "app"}

_TRAIL_FIELDS = {"username", "at", "day", "time", "event", "outcome", "request_id", "ip", "ttl",
                 "holder_id", "holder_name"}


def recorded_at(record: dict) -> datetime:
    return datetime.strptime(record["at"].split("#")[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc)


def details(record: dict) -> str:
    def shown(value):
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (list, tuple, set)):
            return "+".join(str(v) for v in value) or "-"
        return str(value)
    parts = [f"{key}={logged_number(record[key]) if key == 'phone' else shown(record[key])}"
             for key in sorted(record) if key not in _TRAIL_FIELDS]
    return " ".join(parts)  # who acted has its own column (`acted`)


CLEARED = {"directory": "the directory's lockout (the password unchanged)",
           "login_lock": "the pwreg login lock", "login_failures": "recent pwreg login failures",
           "reset_pause": "the reset pause", "wrong_codes": "recent wrong codes"}

IMPORT_REASONS = {
    "bad_header": "the first line must be the header `username,phone` (phone optional), "
                  "not {detail!r}",
    "no_rows": "no accounts in the file",
    "malformed_row": "{detail}",
    "invalid_username": "username {shown} is not valid (" + USERNAME_RULE + ")",
    "duplicate": "{username} is already on line {detail}",
    "account_exists": "an account named {username} already exists",
    "invalid_phone": "the number of {username} is not a phone number",
    "phone_not_allowed": "the number of {username} is not a Swedish mobile number",
    "service_unavailable": "{username} not created: AWS failed",
    "no_directory_entry": "the directory (LDAP/AD) has no entry named {username}",
}


def problem(entry) -> str:
    template = IMPORT_REASONS.get(entry.reason, entry.reason + " ({username})")
    return f"line {entry.line}: " + template.format(username=entry.username, detail=entry.detail,
                                                     shown=shown_name(entry.username))


def shown_name(name: str) -> str:
    """A name as typed, quoted, with every character outside printable ASCII escaped, so
    that a Cyrillic `а` (`\\u0430`) or an invisible U+3164 in it can be seen."""
    return ascii(name)


# -- reading input ---------------------------------------------------------------------------

def read_password(stdin) -> str:
    if stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("error: the two passwords differ; nothing was changed.")
        return first
    return stdin.readline().rstrip("\r\n")


def read_csv(name: str, stdin) -> str:
    if name == "-":
        return stdin.read()
    try:
        return Path(name).read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise SystemExit(f"error: cannot read {name}: {error.strerror}; nothing was changed.")
    except UnicodeDecodeError:
        raise SystemExit(f"error: {name} is not UTF-8 text: save it as \"CSV UTF-8\"; "
                         "nothing was changed.") from None


def period(value: str) -> timedelta:
    """`24h`, `7d`, `2w`: how far back `report` looks."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", value.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r} is not a period such as 24h, 7d or 30d")
    amount, unit = int(match.group(1)), match.group(2)
    delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount),
             "w": timedelta(weeks=amount)}[unit]
    if not timedelta(hours=1) <= delta <= timedelta(days=MAX_PERIOD_DAYS):
        raise argparse.ArgumentTypeError(f"a period from 1h to {MAX_PERIOD_DAYS}d, not {value!r}")
    return delta


def bounded(low: int, high: int):
    def parse(value: str) -> int:
        try:
            number_ = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number_ <= high:
            raise argparse.ArgumentTypeError(f"a number from {low} to {high}, not {number_}")
        return number_
    return parse


# -- the commands ----------------------------------------------------------------------------

def create(args, portal, io) -> int:
    changes = portal.account_changes
    asked: list[str] = []

    def password() -> str:
        """Asked for only where the portal keeps the password; in `ldap` mode (SPEC 13) the
        account links its directory entry and no password is read or set."""
        asked.append(changes.generate_password(args.username.strip().lower())
                     if args.generate else read_password(io.stdin))
        return asked[-1]

    account = changes.create(args.username, password, args.phone, args.name)
    if not asked:
        io.out.write(f"Created {account.username}, linked to its directory entry (its "
                     "password stays the directory's).\n")
    else:
        io.out.write(f"Created {account.username}.\n")
        if args.generate:
            io.out.write(f"Password (shown once): {asked[-1]}\n")
    pairs(describe(account, portal.clock.now()), io.out)
    return 0


def show(args, portal, io) -> int:
    state = portal.account_states.state(args.username)
    if state.account is None:
        from chalicelib.domain.errors import NotFound
        raise NotFound()
    pairs(describe(state.account, state.now) + [("locked", locks(state))], io.out)
    return 0


def list_accounts(args, portal, io) -> int:
    states_, now = portal.account_states, portal.clock.now()
    if args.expiring_within is None:
        states = states_.list_accounts()
        summary = f"{len(states)} account{'s' if len(states) != 1 else ''}."
    else:
        states = states_.expiring(args.expiring_within)
        last = (now + timedelta(days=args.expiring_within)).date()
        summary = (f"{len(states)} password{'s' if len(states) != 1 else ''} expiring from "
                   f"{now.date()} to {last}. Passwords that expired before today "
                   "are not included: `accounts list` shows every account.")
    if states:
        table(["username", "status", "number", "password expires", "locked"],
              [[listed_name(s.username), "disabled" if s.account.disabled else "enabled",
                first_number(s.account), expiry(s.account, now), locks(s)] for s in states],
              io.out)
    io.out.write(summary + "\n")
    unreachable = [s.username for s in states if not is_username(s.username)]
    if unreachable:
        one = len(unreachable) == 1
        io.out.write(f"{len(unreachable)} marked (!) {'has' if one else 'have'} a name that is "
                     "no valid username since version 2 (shown escaped): no portal or command "
                     f"reaches {'it' if one else 'them'} by name. Most likely a look-alike of "
                     "another account: delete the item from the accounts table.\n")
    return 0


def listed_name(name: str) -> str:
    return name if is_username(name) else f"{shown_name(name)} (!)"


def disable(args, portal, io) -> int:
    account, changed = portal.account_changes.disable(args.username)
    if not changed:
        io.out.write(f"{account.username} was already disabled; nothing changed.\n")
    else:
        io.out.write(f"Disabled {account.username}: its pwreg sessions are ended; logins and "
                  f"resets fail until `accounts enable {account.username}`.\n")
    return 0


def enable(args, portal, io) -> int:
    account, changed = portal.account_changes.enable(args.username)
    if not changed:
        io.out.write(f"{account.username} was not disabled; nothing changed.\n")
    else:
        io.out.write(f"Enabled {account.username}.\n")
    return 0


def unlock(args, portal, io) -> int:
    done = portal.account_changes.unlock(args.username)
    if not done.cleared:
        io.out.write(f"{done.account.username} had no login lock, reset pause or recent "
                  "failures; nothing changed.\n")
    else:
        io.out.write(f"Unlocked {done.account.username}: cleared "
                  + ", ".join(CLEARED[name] for name in done.cleared) + ".\n")
    return 0


def set_phone(args, portal, io) -> int:
    account = portal.account_changes.set_phone(args.username, args.number, args.name)
    io.out.write(f"Number set for {account.username}.\n")
    pairs(describe(account, portal.clock.now()), io.out)
    return 0


def import_accounts(args, portal, io) -> int:
    result = portal.imports.import_accounts(read_csv(args.file, io.stdin))
    if result.created:
        io.out.write(f"Created {len(result.created)} account"
                  f"{'s' if len(result.created) != 1 else ''} from {args.file}:\n")
        table(["username", "number", "password"],
              [[entry.username, number(entry.phone),
                entry.password or "(none shown: the holder sets it on pwreset)"]
               for entry in result.created], io.out)
        if any(entry.password for entry in result.created):
            io.out.write("The passwords above are shown this once and are stored nowhere else: "
                      "hand each to its account holder, who then registers a number on "
                      "pwreg.\n")
        if any(not entry.password for entry in result.created):
            io.out.write("An account with a number has a password nobody knows: its holder "
                      "sets one on pwreset with a code sent to that number.\n")
    if result.not_created:
        err = io.err
        err.write(f"error: {result.error.code if result.error else 'account_exists'}: "
                  f"{len(result.not_created)} line(s) were not imported:\n")
        for entry in result.not_created:
            err.write(f"  {problem(entry)}\n")
        return 1
    return 0


def events(args, portal, io) -> int:
    found = portal.diagnoses.events(args.username, limit=args.limit)
    state, trail = found.state, found.trail
    io.out.write(f"{state.username}\n")
    pairs(diagnosis(found), io.out, indent="  ")
    io.out.write(f"\nAudit trail, newest first ({len(trail)} shown, --limit {args.limit}):\n")
    if not trail:
        io.out.write("  nothing recorded for this username.\n")
        return 0
    table(["time", "relative", "event", "outcome", "who", "ip", "details"],
          [[local(recorded_at(r)), relative(recorded_at(r), state.now), r["event"],
            r.get("outcome", "-"), acted(r), r.get("ip", "-"), details(r)] for r in trail],
          io.out)
    return 0


def report(args, portal, io) -> int:
    if args.account or args.month:
        return monthly_report(args, portal, io)
    if args.csv:
        raise SystemExit("error: --csv is for the monthly report of one account "
                         "(--account USERNAME --month YYYY-MM)")
    result = portal.reports.report(args.since)
    now = result.end
    io.out.write(f"Report from {when(result.start, now)} to {local(result.end)}\n\n")
    table(["event", "count"], [[label, str(count)] for label, count in result.counts.items()],
          io.out, right=(1,))
    if result.rate_limits:
        io.out.write("\nRate-limit hits by limit:\n")
        table(["limit", "hits"], [[name, str(n)] for name, n in result.rate_limits.items()],
              io.out, right=(1,))
    io.out.write(f"\nPasswords expiring in the next {result.expiring_within_days} days: "
              f"{len(result.expiring)}\n")
    if result.expiring:
        table(["username", "number", "password expires"],
              [[s.username, first_number(s.account), expiry(s.account, now)]
               for s in result.expiring], io.out)
    io.out.write(f"\nEnabled accounts without a number (cannot get codes): "
              f"{len(result.without_number)}\n")
    if result.without_number:
        io.out.write("  " + ", ".join(result.without_number) + "\n")
    io.out.write(f"\nAccounts: {result.accounts} ({result.disabled} disabled)\n")
    return 0


# -- holders (SPEC 11): list, add, remove, the migration, the monthly report ---------------

def acted(record: dict) -> str:
    """Who did what a record tells: `Anna Berg (holder id)`, `support`, `system` or `-`."""
    from chalicelib.domain.events import who
    name, holder_id = who(record)
    return f"{name} ({holder_id})" if holder_id else name


def holder_rows(account, now: datetime) -> list[list[str]]:
    return [[holder.id, holder_name(holder.name), number(holder.phone),
             local(holder.added_at), added_by(holder, account.holders),
             when(holder.last_used_at, now) if holder.last_used_at else "never", app(holder),
             proven(holder)]
            for holder in account.holders]


def proven(holder) -> str:
    """Whether the organisation's identity provider proved the holder (SPEC 15): then their
    name is the provider's, not typed."""
    return "yes, by work login" if holder.proven else "no (name typed)"


def added_by(holder, holders) -> str:
    """Who added the holder, by name: `support`, `themselves`, another holder's name, or
    `a holder since removed` (the id alone would tell support nothing)."""
    from chalicelib.domain.holders import SUPPORT
    if holder.added_by == SUPPORT:
        return "support"
    if holder.added_by == holder.id:
        return "themselves"
    for other in holders:
        if other.id == holder.added_by:
            return holder_name(other.name)
    return "a holder since removed"


def app(holder) -> str:
    """Whether the holder has an authenticator app (SPEC 12), and since when."""
    if holder.authenticator is None:
        return "no"
    from chalicelib.domain.clock import parse_iso
    added = holder.authenticator.get("added_at")
    return f"yes, since {local(parse_iso(added)) if added else '?'}"


def holders_table(account, now: datetime, out) -> None:
    table(["id", "name", "number", "added", "added by", "last used", "app", "proven"],
          holder_rows(account, now), out)


def list_holders(args, portal, io) -> int:
    account, now = portal.holder_changes.holders(args.username), portal.clock.now()
    most = portal.settings.max_holders
    if not account.holders:
        io.out.write(f"{account.username} has no holders"
                     + (f"; its version 1 number {number(account.version_1_number)} becomes "
                        "one with `migrate holders`" if account.version_1_number else
                        ": no codes can be sent for it") + ".\n")
        return 0
    holders_table(account, now, io.out)
    io.out.write(f"{len(account.holders)} of at most {most} holders of {account.username}; "
                 "codes of the version 1 flows go to the first.\n")
    return 0


def add_holder(args, portal, io) -> int:
    done = portal.holder_changes.add(args.username, args.name, args.number)
    if not done.changed:
        io.out.write(f"{holder_name(done.holder.name)} at that number already holds "
                     f"{done.account.username}; nothing changed.\n")
    elif done.new:
        io.out.write(f"Added {holder_name(done.holder.name)} ({done.holder.id}) to "
                     f"{done.account.username}; the holders are told by SMS.\n")
    else:
        io.out.write(f"That number already holds {done.account.username}: its holder "
                     f"({done.holder.id}) is now named {done.holder.name}.\n")
    holders_table(done.account, portal.clock.now(), io.out)
    return 0


def remove_holder(args, portal, io) -> int:
    done = portal.holder_changes.remove(args.username, args.holder_id)
    io.out.write(f"Removed {holder_name(done.holder.name)} ({done.holder.id}) from "
                 f"{done.account.username}; they and the other holders are told by SMS.\n")
    if done.account.holders:
        holders_table(done.account, portal.clock.now(), io.out)
    else:
        io.out.write(f"{done.account.username} has no holders now: no codes can be sent "
                     "for it until support adds one.\n")
    return 0


def send_reset_link(args, portal, io) -> int:
    """The console's reset link (SPEC 14), from the same use case: an SMS to that holder's
    own number with a link to pwreset's password step, for 10 minutes, once."""
    done = portal.reset_links.send(args.username, args.holder_id, CLI)
    io.out.write(f"A link to choose a new password was sent to {done['phone']}; it "
                 f"works once, for {done['expires_in'] // 60} minutes. The holders are told "
                 "by SMS. Nobody at support sees the password.\n")
    return 0


def remove_authenticator(args, portal, io) -> int:
    done = portal.holder_changes.remove_app(args.username, args.holder_id)
    io.out.write(f"Removed the authenticator app of {holder_name(done.holder.name)} "
                 f"({done.holder.id}) from {done.account.username}: its codes are accepted "
                 f"no longer; the holder is told by SMS and can add a new app on pwreg.\n")
    holders_table(done.account, portal.clock.now(), io.out)
    return 0


def migrate_holders(args, portal, io) -> int:
    result = portal.holder_changes.migrate(dry_run=args.dry_run)
    verb = "would become" if result.dry_run else "became"
    io.out.write(f"{len(result.migrated)} version 1 number{'s' if len(result.migrated) != 1 else ''} "
                 f"{verb} a holder without a name {NO_NAME}; {result.already} account"
                 f"{'s' if result.already != 1 else ''} had holders already; "
                 f"{result.without_number} without a number.\n")
    for username in result.migrated:
        io.out.write(f"  {username}\n")
    if result.dry_run:
        io.out.write("Dry run: nothing was written.\n")
    return 0


def monthly_report(args, portal, io) -> int:
    from chalicelib.services.support.monthly import COLUMNS, month
    if not (args.account and args.month):
        raise SystemExit("error: the monthly report needs both --account USERNAME and "
                         "--month YYYY-MM")
    log = portal.monthly_reports.log(args.account, *month(args.month))
    if args.csv:
        data = log.csv()
        binary = getattr(io.out, "buffer", None)
        if binary is not None:
            io.out.flush()
            binary.write(data)
            binary.flush()
        else:
            io.out.write(data.decode("utf-8"))
        return 0
    io.out.write(f"Händelser för {log.title} (svensk tid): {len(log.records)}\n")
    if log.records:
        table(list(COLUMNS), log.rows(), io.out)
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--stage", default=os.environ.get("PWPORTAL_STAGE", "local"),
                      help="local (a running `make run`, the default) or a deployed stage")
    groups = main.add_subparsers(dest="group", required=True)
    accounts = groups.add_parser("accounts", help="functional accounts")
    commands = accounts.add_subparsers(dest="command", required=True)

    def command(name, handler, help_, *arguments):
        sub = commands.add_parser(name, help=help_, epilog=POSITIONALS)
        sub.set_defaults(handler=handler)
        for argument in arguments:
            if argument == "username":
                sub.add_argument(argument, metavar="USERNAME", help=USERNAME_RULE)
            else:
                sub.add_argument(argument)
        return sub

    create_ = command("create", create, "create an account (password from stdin)", "username")
    create_.add_argument("--phone", help="the account's mobile number, e.g. 070-123 45 67")
    create_.add_argument("--name", help="the name of the person at --phone (without it "
                         "the number is a holder without a name until its person adds "
                         "themselves on pwreg)")
    create_.add_argument("--generate", action="store_true",
                         help="generate a password that meets the policy and print it once")
    command("show", show, "an account's state", "username")
    listing = command("list", list_accounts, "every account, or those expiring soon")
    listing.add_argument("--expiring-within", metavar="DAYS", type=bounded(0, MAX_PERIOD_DAYS),
                         help="only passwords expiring from today to today + DAYS (no scan)")
    command("disable", disable, "disable an account and end its pwreg sessions", "username")
    command("enable", enable, "enable a disabled account", "username")
    command("unlock", unlock, "clear the pwreg login lock and the reset pause", "username")
    command("set-phone", set_phone, "set the number after checking identity by phone "
            "(it becomes the first holder)", "username", "number").add_argument(
        "--name", help="the name of the person at the number (kept if the number already "
                       "holds the account and no name is given)")
    command("import", import_accounts, "create the accounts of a CSV file (username,phone); "
            "all or nothing", "file")

    trail = groups.add_parser("events", epilog=POSITIONALS,
                              help="why an account does (not) get codes, and its audit trail")
    trail.set_defaults(handler=events)
    trail.add_argument("username", metavar="USERNAME", help=USERNAME_RULE)
    trail.add_argument("--limit", metavar="N", type=bounded(1, 1000), default=50,
                       help="how many audit records to show (default 50)")
    summary = groups.add_parser("report", help="what happened in a period, and what needs "
                                               "attention")
    summary.set_defaults(handler=report)
    summary.add_argument("--since", type=period, default=period("24h"), metavar="PERIOD",
                         help="how far back: 24h (default), 7d, 30d, …")
    summary.add_argument("--account", metavar="USERNAME",
                         help="one account's every event of --month, with who did it")
    summary.add_argument("--month", metavar="YYYY-MM", help="the month (Swedish time)")
    summary.add_argument("--csv", action="store_true",
                         help="as CSV for Excel (UTF-8 with BOM, ';'-separated)")

    holding = groups.add_parser("holders", help="the named people who hold an account")
    holder_commands = holding.add_subparsers(dest="command", required=True)
    listed = holder_commands.add_parser("list", help="an account's holders")
    listed.set_defaults(handler=list_holders)
    listed.add_argument("username", metavar="USERNAME", help=USERNAME_RULE)
    added = holder_commands.add_parser(
        "add", help="add a person after checking them by phone (the same number again "
                    "renames its holder)")
    added.set_defaults(handler=add_holder)
    added.add_argument("username", metavar="USERNAME", help=USERNAME_RULE)
    added.add_argument("name", metavar="NAME",
                       help="the person's first and last name, as colleagues know them")
    added.add_argument("number", metavar="NUMBER",
                       help="their Swedish mobile number, e.g. 070-123 45 67")
    removed = holder_commands.add_parser("remove", help="remove a holder (see `holders list`)")
    removed.set_defaults(handler=remove_holder)
    removed.add_argument("username", metavar="USERNAME", help=USERNAME_RULE)
    removed.add_argument("holder_id", metavar="HOLDER_ID", help="the id `holders list` shows")
    linked = holder_commands.add_parser(
        "reset-link", epilog=POSITIONALS,
        help="send a holder (checked by phone) a link to choose a new password themselves")
    linked.set_defaults(handler=send_reset_link)
    linked.add_argument("username", metavar="USERNAME", help=USERNAME_RULE)
    linked.add_argument("holder_id", metavar="HOLDER_ID", help="the id `holders list` shows")
    apps = groups.add_parser("authenticator", help="holders' authenticator apps")
    app_commands = apps.add_subparsers(dest="command", required=True)
    unapp = app_commands.add_parser(
        "remove", epilog=POSITIONALS,
        help="remove a holder's authenticator app, e.g. a lost phone (see `holders list`)")
    unapp.set_defaults(handler=remove_authenticator)
    unapp.add_argument("username", metavar="USERNAME", help=USERNAME_RULE)
    unapp.add_argument("holder_id", metavar="HOLDER_ID")
    migrating = groups.add_parser("migrate", help="data migrations of a deployed table")
    migrations = migrating.add_subparsers(dest="command", required=True)
    migration = migrations.add_parser(
        "holders", help="each number of an account from before holders becomes one holder "
                        "without a name")
    migration.set_defaults(handler=migrate_holders)
    migration.add_argument("--dry-run", action="store_true",
                           help="count what would change, write nothing")
    return main


class _Discard:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def error_line(error: PortalError, args) -> str:
    if error.code == "invalid_request" and error.fields.get("field") == "username":
        name = getattr(args, "username", None)
        return (f"error: invalid_request: {shown_name(name) + ' is ' if name else ''}"
                f"not a valid username ({USERNAME_RULE})")
    if error.code == "not_found" and error.fields.get("without_app"):
        return (f"error: not_found: the holder {error.fields['holder_id']} of "
                f"{args.username.strip().lower()} has no authenticator app (see "
                "`holders list`); nothing changed")
    if error.code == "not_found" and error.fields.get("holder_id"):
        return (f"error: not_found: {args.username.strip().lower()} has no holder "
                f"{error.fields['holder_id']} (see `holders list`)")
    if error.code == "invalid_request" and error.fields.get("field") == "month":
        return f"error: invalid_request: --month is a month such as 2026-11, not {args.month!r}"
    if error.code == "not_found" and getattr(args, "account", None):
        return f"error: not_found: no account named {args.account.strip().lower()}"
    if error.code == "not_found" and getattr(args, "username", None):
        return f"error: not_found: no account named {args.username.strip().lower()}"
    message = text(error.code, "en", **error.fields)
    if isinstance(error, PasswordRejected) and error.rules:
        message += " Broken rules: " + ", ".join(error.rules)
    if error.code == "service_unavailable":
        message += unreachable(error, args.stage)
    return f"error: {error.code}: {message}"


def unreachable(error: BaseException, stage: str) -> str:
    """What could not be reached, from the AWS error behind `error`: the endpoint (scheme,
    host, port and path only: nothing a URL could carry besides), or the code AWS answered
    with; on the local stage, how to point the CLI at a stack on other ports."""
    said = ""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen and not said:
        seen.add(id(cause))
        kwargs = getattr(cause, "kwargs", None)
        endpoint = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
        answer = getattr(cause, "response", None)
        if endpoint:
            said = f" Could not reach {bare_url(str(endpoint))}."
        elif isinstance(answer, dict) and answer.get("Error", {}).get("Code"):
            said = (f" AWS answered {answer['Error']['Code']} to "
                    f"{getattr(cause, 'operation_name', 'a call')}.")
        cause = cause.__cause__ or cause.__context__
    if not said:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        said = f" Could not use {bare_url(endpoint)}." if endpoint else ""
    if stage == "local":
        said += (" Is `make run` running? A stack on other ports needs the same "
                 "PWPORTAL_MOTO_PORT here (now "
                 f"{os.environ.get('PWPORTAL_MOTO_PORT') or '5000, the default'}).")
    return said


def bare_url(url: str) -> str:
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


@dataclass(frozen=True)
class Streams:
    stdin: TextIO
    out: TextIO
    err: TextIO


def run(argv: list[str], stdin=None, out=None, err=None) -> int:
    io = Streams(stdin or sys.stdin, out or sys.stdout, err or sys.stderr)
    args = parser().parse_args(argv)
    use_stage(args.stage)
    from chalicelib import bootstrap
    # Audit records go to the audit table as always; their JSON log lines are meant for
    # CloudWatch (Lambda's standard output) and would only clutter a terminal.
    portal = bootstrap.portal().but(audit_stream=_Discard())
    _times_shown.clear()
    try:
        status = args.handler(args, portal, io)
        if _times_shown and not getattr(args, "csv", False):
            io.out.write(f"Times are Swedish time ({TIME_ZONE}).\n")
        return status
    except PortalError as error:
        io.err.write(error_line(error, args) + "\n")
        for entry in getattr(error, "problems", []):
            io.err.write(f"  {problem(entry)}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
