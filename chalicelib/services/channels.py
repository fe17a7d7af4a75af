"""The ways a reset's code proves a holder (the `CodeChannel` port of ports.py): the SMS and
the holder's authenticator app (SPEC 4, 12). The reset picks one per request by the
challenge's `channel`; an identity provider would be a third.

Both store a code's MAC on the challenge at every issue, so that every start writes the same
kind of record whoever the number is: the SMS's code is the one sent, the app's is one nobody
is told (an app's code is checked against the app, never against it).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from chalicelib.domain import authenticator, codes
from chalicelib.domain.holders import Holder
from chalicelib.domain.records import APP, SMS, ResetChallenge
from chalicelib.ports import CodeChannel, Issue, Proof


def _issued(challenge: ResetChallenge, code_key: bytes, now: float, lifetime: int
            ) -> Issue:
    code = codes.new_code()
    return Issue(replace(challenge, code_mac=codes.code_mac(code_key, challenge.id, code),
                         expires_at=now + lifetime), code)


@dataclass(frozen=True)
class SmsChannel:
    """The code in an SMS to the holder's number (the use case queues it and counts the SMS
    limits); right when it is the code whose MAC the challenge keeps."""

    code_key: Callable[[], bytes]  # read from the secrets on first use
    name: str = SMS
    sends: bool = True

    def issue(self, challenge: ResetChallenge, holder: Holder | None, now: float,
              lifetime: int) -> Issue:
        return _issued(challenge, self.code_key(), now, lifetime)

    def check(self, challenge: ResetChallenge, code: str, now: float) -> Proof:
        return Proof(codes.looks_like_code(code) and codes.code_matches(
            self.code_key(), challenge.id, code, challenge.code_mac))


@dataclass(frozen=True)
class AppChannel:
    """The code the holder's authenticator app shows (SPEC 12): nothing is sent. The
    challenge keeps the nonce of the holder's app as it is at the start (or resend), "" for
    no holder or no app, so that the check reads no account; a right code names the time
    step it matched."""

    code_key: Callable[[], bytes]
    authenticator_key: Callable[[], bytes]  # what apps' secrets derive from
    name: str = APP
    sends: bool = False

    def issue(self, challenge: ResetChallenge, holder: Holder | None, now: float,
              lifetime: int) -> Issue:
        return _issued(replace(challenge, app_nonce=holder.app_nonce if holder else ""),
                       self.code_key(), now, lifetime)

    def check(self, challenge: ResetChallenge, code: str, now: float) -> Proof:
        """Without an app (no holder, or a holder without one) the code is compared all
        the same, with a secret nobody has: the same work in every case."""
        secret = authenticator.secret_for(self.authenticator_key(),
                                          challenge.app_nonce or "~" + challenge.id)
        step = authenticator.accepted_step(secret, code, now) \
            if codes.looks_like_code(code) else None
        return Proof(step is not None and bool(challenge.app_nonce), step,
                     wrong="wrong_code" if challenge.app_nonce else "no_app")


def channels(*given: CodeChannel) -> dict[str, CodeChannel]:
    """The channels a reset may use, by the name a challenge keeps."""
    return {channel.name: channel for channel in given}
