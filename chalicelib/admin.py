"""The support and operator CLI (SPEC 9): `python -m chalicelib.admin [--stage STAGE] COMMAND`.

    accounts create USERNAME [--phone NUMBER] [--generate]
    accounts show USERNAME
    accounts set-phone USERNAME NUMBER

A password is read from standard input (asked twice on a terminal), never from the command
line, where it would end up in the shell history and the process list. `--stage local`
talks to the embedded AWS of a running `make run`; other stages use the operator's own AWS
credentials and the stage's settings from .chalice/config.json.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from chalicelib.domain.errors import PortalError
from chalicelib.messages import text

CONFIG = Path(__file__).resolve().parents[1] / ".chalice" / "config.json"


def use_stage(stage: str) -> None:
    """Put the stage's settings (and, for `local`, the embedded AWS) into the environment."""
    if CONFIG.exists():
        config = json.loads(CONFIG.read_text(encoding="utf-8"))
        if stage not in config.get("stages", {}):
            raise SystemExit(f"unknown stage {stage!r}: choose one of "
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


def relative(moment: datetime, now: datetime) -> str:
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


def describe(account, portal) -> list[tuple[str, str]]:
    from chalicelib.domain.clock import iso
    from chalicelib.domain.phone import masked
    now = portal.clock.now()
    expiry = iso(account.password_expires_at) + " (" + relative(account.password_expires_at, now)
    expiry += ", expired)" if account.password_expires_at <= now else ")"
    return [
        ("username", account.username),
        ("status", "disabled" if account.disabled else "enabled"),
        ("phone", masked(account.phone) or "none registered"),
        ("password changed", iso(account.password_changed_at) + " ("
         + relative(account.password_changed_at, now) + ")"),
        ("password expires", expiry),
        ("created", iso(account.created_at)),
    ]


def print_table(rows: list[tuple[str, str]], out) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{label.ljust(width)}  {value}\n")


def read_password(stdin) -> str:
    if stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("The two passwords differ; nothing was changed.")
        return first
    return stdin.readline().rstrip("\r\n")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--stage", default=os.environ.get("PWPORTAL_STAGE", "local"))
    groups = main.add_subparsers(dest="group", required=True)
    accounts = groups.add_parser("accounts", help="functional accounts")
    commands = accounts.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an account (password from stdin)")
    create.add_argument("username")
    create.add_argument("--phone", help="the account's mobile number, e.g. 070-123 45 67")
    create.add_argument("--generate", action="store_true",
                        help="generate a password that meets the policy and print it once")
    show = commands.add_parser("show", help="an account's state")
    show.add_argument("username")
    set_phone = commands.add_parser("set-phone",
                                    help="set the number after checking identity by phone")
    set_phone.add_argument("username")
    set_phone.add_argument("number")
    return main


def run(argv: list[str], stdin=None, out=None, err=None) -> int:
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    args = parser().parse_args(argv)
    use_stage(args.stage)
    from chalicelib import bootstrap
    portal = bootstrap.portal()
    support = portal.support
    try:
        if args.command == "create":
            password = (support.generate_password(args.username.strip().lower())
                        if args.generate else read_password(stdin))
            account = support.create(args.username, password, args.phone)
            out.write(f"Created {account.username}.\n")
            if args.generate:
                out.write(f"Password (shown once): {password}\n")
            print_table(describe(account, portal), out)
        elif args.command == "show":
            print_table(describe(support.show(args.username), portal), out)
        elif args.command == "set-phone":
            account = support.set_phone(args.username, args.number)
            out.write(f"Number set for {account.username}.\n")
            print_table(describe(account, portal), out)
    except PortalError as error:
        message = text(error.code, "en", **{k: v for k, v in error.fields.items()})
        if hasattr(error, "rules"):
            message += " " + ", ".join(error.rules)
        err.write(f"error: {error.code}: {message}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
