"""The security events of SPEC 9: the one list that the audit trail, the metrics, the
dashboard and the alarms are all built from."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

EVENTS = (
    "account.created",
    "login.succeeded",
    "login.failed",
    "login.locked",
    "phone.change_requested",
    "phone.changed",
    "reset.requested",
    "reset.code_sent",
    "reset.code_failed",
    "reset.code_verified",
    "reset.paused",
    "password.changed",
    "password.rejected",
    "sms.failed",
    "ratelimit.exceeded",
    "reminder.sent",
    "account.unlocked",
    "account.disabled",
    "account.enabled",
    "phone.set_by_support",
    "directory.failed",
)

METRIC_NAMESPACE = "pwportal"


@dataclass(frozen=True)
class Caller:
    """Who is asking: what the audit trail and the limits need of a request."""

    ip: str = ""
    request_id: str = ""
    lang: str = "sv"


SUPPORT = Caller(ip="", request_id="admin-cli", lang="sv")


def truncate_ip(ip: str) -> str:
    """An IPv4 address to its /24, an IPv6 address to its /48: enough to see a pattern,
    not enough to name a person."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
