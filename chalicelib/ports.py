"""The ports: what the use cases need of the outside world, as small typed interfaces.

The store's writes are plain data (`Put`, `Update`, `Delete`, `Check`), each with the
condition it must meet, built by the repositories (chalicelib/repositories). The DynamoDB
store (adapters/dynamo.py) turns them into DynamoDB calls; the tests' in-memory store
(tests/unit/fakes.py) applies them to dicts. A use case names every operation it puts in a
unit of work (services/unit_of_work.py) and is told, by name, which one was refused.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.domain.conditions import Condition
from chalicelib.domain.sign_in import Identity

Item = dict[str, Any]  # a stored item's attributes, as plain Python values
Key = dict[str, Any]  # the item's key attributes, e.g. {"username": "hemtjanstab"}
T = TypeVar("T")


@dataclass(frozen=True)
class Put:
    table: str
    item: Item
    expect: Condition | None = None


@dataclass(frozen=True)
class Update:
    """SET `set`, ADD `add` (numbers), REMOVE `remove`, if `expect` holds."""

    table: str
    key: Key
    set: dict[str, Any] = field(default_factory=dict)
    add: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    expect: Condition | None = None


@dataclass(frozen=True)
class Delete:
    table: str
    key: Key
    expect: Condition | None = None


@dataclass(frozen=True)
class Check:
    table: str
    key: Key
    expect: Condition


Write = Put | Update | Delete | Check


@dataclass(frozen=True)
class Read(Generic[T]):
    """One item to read, and how its repository makes a value of it (None: no item)."""

    table: str
    key: Key
    parse: Callable[[Item | None], T]


class Refused(Exception):
    """A write's condition did not hold. `by` names the operation (in a unit of work) and
    `item` is the item as it was, where the store could tell."""

    def __init__(self, by: str = "", item: Item | None = None) -> None:
        super().__init__(f"refused: {by}")
        self.by = by
        self.item = item


class Conflict(Exception):
    """A parallel transaction touched the same items: nothing was written; read again."""


class Store(Protocol):
    def get(self, table: str, key: Key) -> Item | None: ...

    def get_many(self, wanted: list[tuple[str, Key]]) -> list[Item | None]: ...

    def write(self, write: Write, returns_new: bool = False) -> Item | None:
        """One conditional write; Refused(item=the old item) if its condition fails."""

    def commit(self, writes: list[tuple[str, Write]]) -> None:
        """All of `writes` or none: Refused(by=name) or Conflict."""

    def query(self, table: str, attribute: str, value: Any, index: str | None = None,
              order: str | None = None, newest_first: bool = False,
              limit: int | None = None, between: tuple[Any, Any] | None = None
              ) -> list[Item]:
        """`between` (low, high): only items whose sort key (`order`) lies in it, inclusive."""

    def scan(self, table: str, attributes: list[str] | None = None) -> list[Item]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Queue(Protocol):
    def send(self, message: dict[str, Any]) -> None:
        """Put one SMS on the queue, or ServiceUnavailable."""

    def send_many(self, messages: list[dict[str, Any]]) -> None:
        """Put up to 10 SMS on the queue in one call, or ServiceUnavailable."""


class AuditLog(Protocol):
    def emit(self, event: str, line: dict[str, Any]) -> None:
        """One audit record's log line (and, where metrics are on, its metric)."""


class Gateway(Protocol):
    def publish(self, phone: str, text: str) -> str: ...


class Hasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, stored: str, password: str) -> bool: ...

    def verify_nothing(self, password: str) -> bool: ...

    def fingerprint(self, password: str, salt: bytes) -> str: ...


class PasswordStore(Protocol):
    """Where an account's password lives (SPEC 13): the portal's own hash (`portal`) or an
    LDAP directory (`ldap`). `in_directory` says which."""

    in_directory: bool

    def verify(self, username: str, stored_hash: str | None, password: str) -> bool:
        """pwreg's login check. `stored_hash` is the account's own (None: no such account,
        which costs the same time and is never accepted). ServiceUnavailable (a
        DirectoryUnavailable) when the directory cannot answer."""

    def stored_hash(self, password: str) -> str:
        """What the account keeps of a new password: the portal's verifier, or "" when the
        directory holds it."""

    def set(self, username: str, password: str) -> None:
        """Make `password` the account's where it lives (the portal's store: nothing to do;
        the account's new hash is written with the account). PasswordRejected(["directory"])
        when the directory's own rules refuse it; DirectoryUnavailable when it cannot."""

    def exists(self, username: str) -> bool:
        """Is there an entry to link an account to (the portal's store: always)."""

    def changed_at(self, username: str) -> datetime | None:
        """When the password was last set, where the store tells (`pwdLastSet`,
        `pwdChangedTime`); None when it does not."""


class IdentityProvider(Protocol):
    """The organisation's OpenID Connect provider (SPEC 15): the console's sign-in today, the
    holders and resets it proves next. The one client is adapters/oidc.py."""

    def authorization_url(self, redirect_uri: str, state: str, nonce: str,
                          code_challenge: str) -> str:
        """Where to send the browser: the authorization code flow with PKCE (S256)."""

    def identify(self, code: str, redirect_uri: str, code_verifier: str, nonce: str,
                 now: datetime) -> Identity:
        """Redeem `code` and verify its ID token (signature, issuer, audience, expiry at
        `now`, `nonce`): the identity, or SignInRefused(reason); ServiceUnavailable when the
        provider cannot be reached."""
