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

from chalicelib.domain.account import Account, FirstPassword
from chalicelib.domain.conditions import Condition
from chalicelib.domain.events import Caller
from chalicelib.domain.holders import Holder
from chalicelib.domain.records import ResetChallenge, ResetToken
from chalicelib.domain.sms import SmsMessage
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

    def by_any(self, *names: str) -> bool:
        """Was it one of these writes or groups (names a use case gave them) that was
        refused: `if refused.by_any(TOKEN):`. The one comparison of `by`, so that a name is
        matched whole, never by its text."""
        return self.by in names


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
    def send(self, message: SmsMessage) -> None:
        """Put one SMS on the queue, or ServiceUnavailable."""

    def send_many(self, messages: list[SmsMessage]) -> None:
        """Put up to 10 SMS on the queue in one call, or ServiceUnavailable."""


class AuditLog(Protocol):
    def emit(self, event: str, line: dict[str, Any]) -> None:
        """One audit record's log line (and, where metrics are on, its metric)."""


class OperationsLog(Protocol):
    def error(self, message: str, **fields: Any) -> None:
        """One line at level ERROR for the operator (a failure, an alarm): never a password,
        a code or a whole number."""


class Gateway(Protocol):
    def publish(self, phone: str, text: str) -> str: ...


class Hasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, stored: str, password: str) -> bool: ...

    def verify_nothing(self, password: str) -> bool: ...

    def fingerprint(self, password: str, salt: bytes) -> str: ...


@dataclass(frozen=True)
class DirectoryState:
    """What the directory says of an account's entry now (SPEC 14, 16): whether there is
    one, and whether failed logins have locked it (a lock an administrator set by hand is
    not one: the portal leaves it alone)."""

    exists: bool
    locked: bool


class DirectoryLocks(Protocol):
    """The directory's lockout after failed logins, and its lifting by the service account
    without a new password (SPEC 16): adapters/ldap_directory.py in `ldap` mode (AD's
    `lockoutTime`, OpenLDAP ppolicy's `pwdAccountLockedTime`); in `portal` mode nothing
    locks (services/directory_unlock.py `NoDirectory`). `now` is the use case's clock,
    against which a lock's duration is counted where the directory does not count it."""

    def locked(self, username: str, now: datetime) -> bool:
        """Is the entry locked now. DirectoryUnavailable when the directory cannot answer."""

    def state(self, username: str, now: datetime) -> DirectoryState | None:
        """The entry as the support console shows it; None where no directory holds the
        passwords (`portal` mode). DirectoryUnavailable when the directory cannot answer."""

    def unlock(self, username: str, now: datetime) -> bool:
        """Lift the entry's lockout, the password untouched: True if there was one to lift,
        False if it was not locked (or has no entry). DirectoryUnavailable when the
        directory cannot do it."""


class PasswordStore(DirectoryLocks, Protocol):
    """An LDAP directory that holds the accounts' passwords (SPEC 13, `ldap` mode):
    adapters/ldap_directory.py. Used by the `ldap` mode's PasswordChange alone; its
    lockouts (DirectoryLocks) by the unlock (services/directory_unlock.py)."""

    def verify(self, username: str, stored_hash: str | None, password: str) -> bool:
        """pwreg's login check, a bind as the entry. `stored_hash` None: no such account,
        which costs the same time and is never accepted. DirectoryUnavailable (a
        ServiceUnavailable) when the directory cannot answer."""

    def set(self, username: str, password: str) -> None:
        """Make `password` the entry's. PasswordRejected(["directory"]) when the directory's
        own rules refuse it; DirectoryUnavailable when it cannot."""

    def exists(self, username: str) -> bool:
        """Is there an entry to link an account to."""

    def changed_at(self, username: str) -> datetime | None:
        """When the password was last set (`pwdLastSet`, `pwdChangedTime`); None when the
        directory does not say."""


class BreachedPasswords(Protocol):
    """Whether a new password has appeared in known breaches (SPEC 16, rule `breached`):
    the list shipped in the package, and on a deployed stage the Pwned Passwords range API
    too (adapters/breached.py; bootstrap.py picks by PWPORTAL_BREACH_CHECK)."""

    def breached(self, password: str) -> bool | None:
        """True when the password is known from breaches, False when it is not, None when
        a source could not answer (the change goes on: `breach_check.failed`)."""


# The name a PasswordChange gives its write of the account: a refusal by it
# (`refused.by_any(ACCOUNT_WRITE)`) means the account changed since it was read.
ACCOUNT_WRITE = "account"


class PasswordChange(Protocol):
    """Where a password is checked and a new one written (SPEC 13), chosen once, in
    bootstrap.py, by where passwords live: the account's own verifier (`portal`,
    services/password_change.py) or an LDAP directory with the portal's record of each
    change (`ldap`, services/directory_changes.py). The use cases call it and never ask
    which it is."""

    def check(self, account: Account | None, username: str, password: str,
              caller: Caller) -> bool:
        """pwreg's login check. No account (None) costs the same work and is never
        accepted. DirectoryUnavailable (a ServiceUnavailable) when the directory cannot
        answer."""

    def change(self, account: Account, token: ResetToken, password: str, fingerprint: str,
               caller: Caller) -> Account:
        """Make `password` (judged by the policy already; `fingerprint` its history entry)
        the account's, with the token spent, the pwreg login lock lifted, `password.changed`
        recorded and the holders told. The account as recorded. TokenExpired if the token
        was used meanwhile; Refused(by=ACCOUNT_WRITE) if the account changed since it was read
        (read it again); PasswordRejected(["directory"]) or ServiceUnavailable from the
        directory."""

    def first(self, username: str, password: Callable[[], str], now: datetime
              ) -> FirstPassword:
        """What a new account starts with: the portal's verifier of `password()` (asked
        here, judged by the policy: PasswordRejected), or a link to the directory's entry
        (`password` is never asked; NoDirectoryEntry if there is none)."""

    def can_hold(self, username: str) -> bool:
        """Whether an account can be made for `username` where the password lives (the
        portal: always; a directory: when it has the entry)."""

    def set_later(self, account: Account) -> datetime | None:
        """When the password was set where it lives, if that is later than the account
        knows (a directory's own change); None otherwise, or when it cannot tell now."""

    def settle_left_behind(self) -> dict[str, int]:
        """The daily job's part: finish the changes requests left half way (a directory's
        lost answer, a record DynamoDB would not take), from what the directory says. How
        many were recorded, dropped or left for later; nothing to do where the portal holds
        the password."""


# -- a way to prove a person: a reset's code channel (SPEC 4, 12) ---------------------------

@dataclass(frozen=True)
class Issue:
    """What a channel stores for a challenge: the challenge as it keeps it for the holder
    (an app's: their app's nonce), with a new code's MAC and lifetime, and the code itself
    (for a channel that sends it; others' is one nobody is told)."""

    challenge: ResetChallenge
    code: str


@dataclass(frozen=True)
class Proof:
    """Does a code prove a challenge: `right`, and for an app's code the time `step` it
    matched (noted as accepted with the token, so that it is never accepted again).
    `wrong` is the audit outcome when it does not prove it."""

    right: bool
    step: int | None = None
    wrong: str = "wrong_code"


class CodeChannel(Protocol):
    """Where a reset's code comes from (`ResetChallenge.channel`): the SMS, the holder's
    authenticator app, later the identity provider. `sends`: the code travels in an SMS
    (its limits are counted and the message queued by the use case)."""

    @property
    def name(self) -> str: ...

    @property
    def sends(self) -> bool: ...

    def issue(self, challenge: ResetChallenge, holder: Holder | None, now: float,
              lifetime: int) -> Issue:
        """The challenge with a new code for `holder` (None: no holder; the same work)."""

    def check(self, challenge: ResetChallenge, code: str, now: float) -> Proof:
        """Whether `code` proves `challenge` at `now`: compared in every case, with the
        same work whether or not there is a holder or an app."""


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
