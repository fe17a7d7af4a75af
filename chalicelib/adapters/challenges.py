"""The challenges table: short-lived secrets, each keyed by a kind and the SHA-256 of its
secret, with a DynamoDB TTL for housekeeping (expiry itself is always checked in code).

kinds: `reset#…` (a reset challenge and its code), `phone#…` (a registration's new number
and its code, keyed by the session), `session#…` (a pwreg session), `token#…` (a reset
token), `sms#…` (a delivered SMS, so a redelivered queue message is not sent twice).
"""
from __future__ import annotations

from chalicelib.adapters.dynamo import Dynamo, put_op, update_op
from chalicelib.domain.codes import digest


def reset_id(challenge: str) -> str:
    return "reset#" + digest(challenge)


def session_id(session: str) -> str:
    return "session#" + digest(session)


def phone_id(session: str) -> str:
    return "phone#" + digest(session)


def token_id(token: str) -> str:
    return "token#" + digest(token)


class Challenges:
    def __init__(self, settings, dynamo: Dynamo):
        self._settings = settings
        self._dynamo = dynamo

    @property
    def table(self) -> str:
        return self._settings.challenges_table

    def key(self, id_: str) -> tuple[str, dict]:
        return self.table, {"id": id_}

    def get(self, id_: str) -> dict | None:
        return self._dynamo.get(self.table, {"id": id_})

    def put_op(self, item: dict) -> dict:
        return put_op(self.table, item)

    def reserve_attempt(self, id_: str, max_attempts: int, now: float) -> dict:
        """Spend one attempt on a live code before comparing it, so that parallel guesses
        can never try more than `max_attempts` values. Raises ConditionFailed when the code
        is unknown, used, expired or out of attempts; its `item` is the code as it was, so
        that the refusal can be put in the right account's audit trail."""
        return self._dynamo.update(
            self.table, {"id": id_}, "ADD attempts :one",
            condition="attribute_exists(id) AND used = :false AND attempts < :max "
                      "AND expires_at > :now",
            values={":one": 1, ":false": False, ":max": max_attempts, ":now": now},
            returns="ALL_NEW", old_on_failure=True)

    def use_op(self, id_: str, now: float, code_mac: str | None = None) -> dict:
        """Mark a code or token used, if nobody used it first (and, for a code, if it was not
        replaced by a resend in the meantime)."""
        condition = "used = :false AND expires_at > :now"
        values = {":true": True, ":false": False, ":now": now}
        if code_mac is not None:
            condition += " AND code_mac = :mac"
            values[":mac"] = code_mac
        return update_op(self.table, {"id": id_}, "SET used = :true", condition=condition,
                         values=values)


def why_refused(item: dict | None, max_attempts: int, now: float) -> str:
    """The audit outcome of a code that could not be tried (see reserve_attempt)."""
    if not item:
        return "unknown"
    if item.get("used"):
        return "used"
    if item.get("attempts", 0) >= max_attempts:
        return "no_attempts_left"
    return "expired"
