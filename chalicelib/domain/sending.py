"""Whether a reset's start or resend sends its code, and what it counts and records (SPEC 4,
5 v2, 8, 11, 12): a pure decision from what the use case read (services/reset.py reads,
calls `decide`, writes what it says).

The rules, in one place:
- The challenge is stored (or renewed) in every case, holder or not, paused or not, so that
  nothing in the answer says whose a number is.
- A code is sent only by a channel that sends (the SMS), for a start or resend that no SMS
  limit refuses, outside a pause, and never on the last try of the change (which must not
  lose to the SMS limits: a challenge is always stored). A sent code counts against the SMS
  limits; nothing else does.
- A resend renews the challenge's code when a code is sent, and for a channel that sends
  nothing (the app) whenever the reset is not paused; else the code sent before stays.
- A pause voids the challenge: it never yields a token, also after the pause.
- A resend counts against its network's resend limit (a start was counted before).
- The SMS limit that refused is noted (`ratelimit.exceeded`) only for a holder outside a
  pause: a stand-in's limits are nobody's, and a pause says enough.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.limits import Decision

# the SMS limits a code counts against, in the order they are asked (services/code_sms.py)
SMS_PER_FLOW, SMS_PER_USERNAME = "sms_per_flow", "sms_per_username"


@dataclass(frozen=True)
class Seen:
    """What a start or resend found. `holder`: the number (or, for a resend, the holder
    the challenge names) is a holder's of an account that can be reset; `has_app`: that
    holder has an authenticator app; `by_sms`: the challenge's channel sends its code;
    `per_flow`/`per_username`: the SMS limits' say about one more SMS now (the holder's,
    or the stand-in's); `last_try`: the change's final try."""

    first: bool
    holder: bool
    has_app: bool
    by_sms: bool
    paused: bool
    per_flow: Decision
    per_username: Decision
    last_try: bool = False


@dataclass(frozen=True)
class Sending:
    """What to write: `send` (queue the code and count the SMS limits), `renew` (a resend's
    challenge gets the new code), `void`, `resend` (the challenge is updated, not added,
    and the network's resend limit counts it), the
    `outcome` of `reset.requested` (with `reset.paused` when `void`), and the SMS limit to
    note as refused, if any."""

    send: bool
    renew: bool
    void: bool
    resend: bool
    outcome: str
    refused_limit: str | None = None


def sms_refused(seen: Seen) -> str | None:
    """The first SMS limit that has no room for one more code, if the code would be sent."""
    if not seen.by_sms:
        return None
    for name, decision in ((SMS_PER_FLOW, seen.per_flow), (SMS_PER_USERNAME, seen.per_username)):
        if not decision.allowed:
            return name
    return None


def outcome(seen: Seen, send: bool) -> str:
    if not seen.holder:
        return "no_holder"
    if not seen.by_sms:
        return "app" if seen.has_app else "no_app"
    return "code_queued" if send else "no_sms"


def decide(seen: Seen) -> Sending:
    limited = sms_refused(seen)
    send = seen.by_sms and limited is None and not seen.paused and not seen.last_try
    return Sending(
        send=send,
        renew=send or (not seen.by_sms and not seen.paused),
        void=seen.paused,
        resend=not seen.first,
        outcome=outcome(seen, send),
        refused_limit=None if seen.paused or not seen.holder else limited)
