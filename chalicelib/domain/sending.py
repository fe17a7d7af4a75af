"""Whether a reset's start or resend sends its code, and what it counts and records (SPEC 4,
5 v3, 8, 11, 12): a pure decision from what the use case read (services/reset.py reads,
calls `decide`, writes what it says).

The rules, in one place:
- The challenge is stored (or renewed) in every case, holder or not, paused or not, so that
  nothing in the answer says whose a number is.
- A code is sent only by a channel that sends (the SMS), to a holder, for a start or resend
  that no SMS limit of the holder's number or of the account refuses, outside a pause, and
  never on the last try of the change (which must not lose to the SMS limits: a challenge
  is always stored). A sent code counts against the SMS limits; nothing else does: a number
  that is no holder's never gets an SMS, so its starts count only against the client
  network (SPEC 5 v3).
- The same work in every case, so that no limit state makes a holder's start slower than a
  stranger's (issue 21, point 2): a channel that sends writes the puts of its number's and
  the account's SMS logs (to the logs when it sends, else to items beside them) and queues
  one message, which names the holder only when it is to be sent (the worker drops one that
  names nobody).
- A resend renews the challenge's code when a code is sent (or would be, were the number a
  holder's), and for a channel that sends nothing (the app) whenever the reset is not
  paused; else the code sent before stays.
- A pause voids the challenge: it never yields a token, also after the pause.
- A resend counts against its network's resend limit (a start was counted before).
- The SMS limit that refused is noted (`ratelimit.exceeded`) only for a holder outside a
  pause: a stranger's number is limited by nothing, and a pause says enough.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.limits import Decision

# the SMS limits a code counts against, in the order they are asked (services/code_sms.py)
SMS_PER_FLOW, SMS_PER_NUMBER, SMS_PER_ACCOUNT = "sms_per_flow", "sms_per_number", \
    "sms_per_account"


@dataclass(frozen=True)
class Seen:
    """What a start or resend found. `holder`: the number (or, for a resend, the holder
    the challenge names) is a holder's of an account that can be reset; `has_app`: that
    holder has an authenticator app; `by_sms`: the challenge's channel sends its code;
    `per_flow`/`per_number`: the SMS limits of the number's say about one more SMS now,
    `per_account` the account's (every number together); `last_try`: the change's final
    try."""

    first: bool
    holder: bool
    has_app: bool
    by_sms: bool
    paused: bool
    per_flow: Decision
    per_number: Decision
    per_account: Decision
    last_try: bool = False


@dataclass(frozen=True)
class Sending:
    """What to write: `send` (the queued message names the holder, and the SMS limits
    count it), `queue` (one message is queued and the SMS logs' puts are written, counted or
    not: every start of a channel that sends), `renew` (a resend's challenge gets the new
    code), `void`, `resend` (the challenge is updated, not added, and the network's resend
    limit counts it), the
    `outcome` of `reset.requested` (with `reset.paused` when `void`), and the SMS limit to
    note as refused, if any."""

    send: bool
    queue: bool
    renew: bool
    void: bool
    resend: bool
    outcome: str
    refused_limit: str | None = None


def sms_refused(seen: Seen) -> str | None:
    """The first SMS limit that has no room for one more code, if the code would be sent."""
    if not seen.by_sms:
        return None
    for name, decision in ((SMS_PER_FLOW, seen.per_flow), (SMS_PER_NUMBER, seen.per_number),
                           (SMS_PER_ACCOUNT, seen.per_account)):
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
    # what a holder's number would get; a stranger's is renewed alike, and sent nothing
    due = seen.by_sms and limited is None and not seen.paused and not seen.last_try
    send = due and seen.holder
    return Sending(
        send=send,
        queue=seen.by_sms,
        renew=due or (not seen.by_sms and not seen.paused),
        void=seen.paused,
        resend=not seen.first,
        outcome=outcome(seen, send),
        refused_limit=None if seen.paused or not seen.holder else limited)
