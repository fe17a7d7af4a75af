"""The security events of SPEC 9: the one list that the audit trail, the metrics, the
dashboard and the alarms are all built from.

Who did it (SPEC 9, 11): a record names the holder who acted in `holder_id` and
`holder_name` once a holder is known (the code went to their number, or they were logged in
on pwreg as them); support's records carry the request id `admin-cli` and the daily job's
`daily-job`. A record about a holder (`holder.added`, `holder.removed`, `holder.expired`)
names that holder in `subject_id` and `subject_name`, as do `authenticator.added` (outcome
`success`, or `replaced` when the new app replaced one) and `authenticator.removed`; those
never hold the app's secret, its nonce, its URI or a code. `who` reads it back."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

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
    "holder.added",
    "holder.removed",
    "holder.expired",
    "authenticator.added",
    "authenticator.removed",
    "directory.failed",
    # v3 (SPEC 14): the support console's sign-in; a refusal's outcome is its reason
    # (domain/sign_in.py REASONS), the agent named where the provider named them.
    "support.signed_in",
    "support.signed_out",
    "support.sign_in_refused",
    # v3 (SPEC 14): a caller verified by the code they read out to an agent, or not; a reset
    # link sent to the verified holder. Every other change an agent makes carries
    # `actor: support` with the agent's subject and name and the holder they act for.
    "support.caller_verified",
    "support.caller_failed",
    "support.reset_link_sent",
    # v3 (SPEC 15): a sign-in at the identity provider for pwreg (a proven holder), or one
    # whose flow is unknown (a forged state), refused; the outcome is its reason. A reset's
    # is `reset.code_failed` with `channel: idp`.
    "idp.sign_in_refused",
    # v3 (SPEC 16): the breach check's source (the range API) did not answer; the change
    # went on without it. Outcome `unanswered`.
    "breach_check.failed",
)

METRIC_NAMESPACE = "pwportal"
# Where a reset's code came from (SPEC 8 v2, 12): the records that carry `channel`
# (reset.requested, reset.code_failed, reset.code_verified) are counted per channel too, as
# the metric's second dimension set (stage, channel); only these values, so that a stray
# value can never make a new metric (each one is billed). CHANNELS is defined once, in
# domain/records.py with the challenge that keeps the channel.
CHANNEL = "channel"


@dataclass(frozen=True)
class Caller:
    """Who is asking: what the audit trail and the limits need of a request."""

    ip: str = ""
    request_id: str = ""
    lang: str = "sv"


SUPPORT = Caller(ip="", request_id="admin-cli", lang="sv")
DAILY_JOB = Caller(ip="", request_id="daily-job", lang="sv")


def who(record: dict[str, Any]) -> tuple[str, str]:
    """(who acted, their holder id or "") of an audit record: a console agent as `name
    (support)` (SPEC 14), a holder's name, `support` (the CLI), `system` (the daily job), or
    `-` when the record does not say (version 1 flows)."""
    if record.get("actor") == "support" and record.get("agent_name"):  # a console agent
        return f"{record['agent_name']} (support)", ""
    if record.get("holder_id"):
        return str(record.get("holder_name") or "-"), str(record["holder_id"])
    if record.get("request_id") == SUPPORT.request_id:
        return "support", ""
    if record.get("request_id") == DAILY_JOB.request_id:
        return "system", ""
    return "-", ""


def truncate_ip(ip: str) -> str:
    """An IPv4 address to its /24, an IPv6 address to its /48: enough to see a pattern,
    not enough to name a person."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
