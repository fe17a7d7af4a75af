"""What the support console shows of an account (SPEC 14), as JSON: the diagnosis the CLI's
`accounts show` and `events` print (services/support/diagnosis.py), laid out for the page,
which puts it in words. Numbers are masked; no code, token or password is in it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.console import CallerVerified
from chalicelib.domain.events import who
from chalicelib.domain.phone import masked
from chalicelib.domain.records import APP, SMS
from chalicelib.ports import Item
from chalicelib.services.support.diagnosis import Diagnosis

# the audit fields the console shows of an event, besides when, what, how and who
SHOWN = ("channel", "cleared", "purpose", "attempts_left", "phone", "subject_name", "via")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def who_did(record: Item) -> str:
    """Who did an event (domain/events.py `who`), an agent's change with the holder they
    acted for: `Sam Support (support) → Anna Andersson`."""
    name, _ = who(record)
    holder = record.get("for_holder_name")
    return f"{name} → {holder}" if holder else name


def event_of(record: Item) -> dict[str, Any]:
    shown = {"time": record.get("time"), "event": record.get("event"),
             "outcome": record.get("outcome"), "who": who_did(record)}
    shown.update({key: record[key] for key in SHOWN if key in record})
    return shown


def account_view(diagnosis: Diagnosis, verified: CallerVerified | None,
                 directory: dict[str, Any] | None = None) -> dict[str, Any]:
    state = diagnosis.state
    account = state.account
    assert account is not None, "the route answers 404 before"
    now = state.now
    sms_at = dict(state.holders_sms_allowed_at)
    reasons = []
    for reason in state.why_no_code():
        until = {"reset_paused": state.reset_paused_until,
                 "sms_limit": state.sms_allowed_at,
                 "account_sms_limit": state.account_sms_allowed_at,
                 "service_sms_limit": state.service_sms_allowed_at}.get(reason)
        reasons.append({"reason": reason, "until": iso(until)})
    return {
        "username": account.username,
        "disabled": account.disabled,
        "password": {"changed_at": iso(account.password_changed_at),
                     "expires_at": iso(account.password_expires_at),
                     "age_days": max(0, (now - account.password_changed_at).days),
                     "expired": account.password_expires_at <= now},
        "locks": {"login_locked_until": iso(state.login_locked_until),
                  "reset_paused_until": iso(state.reset_paused_until),
                  "login_failures": state.login_failures, "wrong_codes": state.wrong_codes},
        "code_now": bool(diagnosis.open(SMS)),  # an SMS to some holder
        "app_now": bool(diagnosis.open(APP)),  # some holder's app would do
        "why_no_code": reasons,
        "holders": [{"id": h.id, "name": h.name, "phone": masked(h.phone),
                     "app": h.authenticator is not None, "added_at": iso(h.added_at),
                     "last_used_at": iso(h.last_used_at), "proven": h.proven,
                     "sms_allowed_at": iso(sms_at.get(h.id))}
                    for h in account.holders],
        "directory": directory,
        "events": [event_of(record) for record in diagnosis.trail],
        "verified": {"holder_id": verified.holder_id, "holder_name": verified.holder_name,
                     "until": verified.expires_at} if verified else None,
    }
