"""The breach check of a new password (SPEC 16, rule `breached`), where a new password is
judged: pwreset's new password (services/completion.py) and the password support gives or
generates for a new account (services/password_change.py `first`).

The policy (domain/policy.py) and the history are asked first; the breach check is the
last gate, asked only about a password that passes them all. A password refused anyway
sends no hash prefix anywhere and waits on no network; `common` (zxcvbn's list, itself
drawn from leaked passwords) has already said why for the most used ones. So a rejection
names `breached` alone, once the other rules are met.
When the source cannot answer (the range API down or slow), the change goes on without it:
the check is a second line behind the policy, and a reset must not wait on a third party.
`breach_check.failed` is then recorded (the audit trail, the log, the metric the
`BreachCheckFailed` alarm counts); never with the password or its hash.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.domain import policy
from chalicelib.domain.events import Caller
from chalicelib.ports import BreachedPasswords

if TYPE_CHECKING:
    from chalicelib.repositories.audit import Audit


@dataclass(frozen=True, kw_only=True)
class BreachCheck:
    breaches: Callable[[], BreachedPasswords]  # built on first use
    audit: Audit

    def breached(self, password: str, broken: list[str], username: str,
                 caller: Caller) -> bool:
        """Whether to refuse `password` as `breached`, given what the policy and the
        history found (`broken`): not asked when that is not empty. False when the source
        could not tell (and that is recorded)."""
        if broken:
            return False
        found = self.breaches().breached(policy.normalise(password))
        if found is None:
            self.audit.write_if_possible(self.audit.record(
                "breach_check.failed", username, "unanswered", caller))
            return False
        return found
