"""The `ldap` password store (SPEC 13): the password lives in an LDAP directory — Active
Directory, or OpenLDAP and its kin — reached with ldap3.

- Only LDAPS (`ldaps://`) or StartTLS (`ldap://` with PWPORTAL_LDAP_START_TLS=true), the
  certificate verified against the CA file; never a plain bind (refused when built).
- A service account (PWPORTAL_LDAP_BIND_DN; its password in the secrets parameter) finds
  the account's entry under PWPORTAL_LDAP_BASE_DN with PWPORTAL_LDAP_FILTER, the username
  escaped per RFC 4515.
- Login: a bind as that entry. For a username without an account (or entry) the same work is
  done with a bind as a DN that does not exist: same answer, same round trips.
- Set: an administrative set by the service account: AD's `unicodePwd` replace (the quoted
  password in UTF-16-LE), or the Password Modify extended operation (RFC 3062);
  PWPORTAL_LDAP_PASSWORD_METHOD `ad`, `rfc3062` or `auto` (AD when the entry is of class
  `user`). The directory's refusal (constraint violation, AD's `0000052D`) is
  PasswordRejected(["directory"]).
- A password goes to the directory NFC-normalised, as the portal's own rules count it (the
  same password typed on any keyboard binds the same). ldap3 then prepares it with
  SASLprep (RFC 4013) for a bind and a Password Modify, and raises, sending nothing, for a
  password SASLprep refuses (Latin mixed with Hebrew or Arabic, private-use characters,
  non-characters, a line separator): the policy refuses those before any directory call
  (rule `invalid_characters`), and a login with one is a wrong password, answered after
  the same search and bind as any other (a bind with a random password), never a
  directory failure. (`unicodePwd` is written as typed, not SASLprep-mapped: a password
  with a character SASLprep maps, such as a no-break space, binds from the portal as
  mapped.)
- Lockouts (SPEC 16): Active Directory's is `lockoutTime`, read through the DC's own
  verdict (`msDS-User-Account-Control-Computed`'s UF_LOCKOUT, which counts the domain's
  lockout duration) where it gives one, else `lockoutTime` > 0 within the domain's
  `lockoutDuration` (read from the domain's head entry; > 0 alone where it cannot be read);
  lifted by replacing `lockoutTime` with 0. OpenLDAP ppolicy's is `pwdAccountLockedTime`
  (ppolicy lifts a lapsed one only at the next bind, so one still there counts as a lock;
  clearing it then changes nothing a bind would not); lifted by deleting it, which makes
  ppolicy delete `pwdFailureTime` with it. ppolicy's administrative lock (the value
  `000001010000Z`, "locked until an administrator unlocks it") is not a lockout from
  failed logins: never reported as one, never lifted. The password is never touched.
- Every network step is bounded by PWPORTAL_LDAP_TIMEOUT_SECONDS; any failure is
  DirectoryUnavailable with a short reason, never a DN or a password. A set whose request
  went out and whose answer never came (a timeout, the connection lost) is
  DirectoryAnswerLost: the directory may have taken it, and the caller must ask it.
"""
from __future__ import annotations

import secrets
import ssl
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from chalicelib.domain.errors import DirectoryAnswerLost, DirectoryUnavailable, PasswordRejected
from chalicelib.domain.policy import refused_by_saslprep
from chalicelib.ports import DirectoryState

if TYPE_CHECKING:
    from chalicelib.settings import DirectorySettings

T = TypeVar("T")

FOUND = ("objectClass", "pwdChangedTime", "pwdLastSet")
AD_COMPUTED = "msDS-User-Account-Control-Computed"  # constructed by the DC: asked by name
LOCKS = ("objectClass", "lockoutTime", AD_COMPUTED, "pwdAccountLockedTime")
UF_LOCKOUT = 0x10
AD_LOCKED_FOREVER = (0, -2**63)  # lockoutDuration: until an administrator unlocks it
PPOLICY_ADMINISTRATIVE_LOCK = "000001010000Z"
NO_SUCH_ATTRIBUTE = 16
INVALID_CREDENTIALS = 49
CONSTRAINT_VIOLATION = 19
UNWILLING_TO_PERFORM = 53
AD_PASSWORD_REFUSED = "0000052D"  # ERROR_PASSWORD_RESTRICTION: complexity, history, age
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)


class Entry:
    def __init__(self, dn: str, attributes: dict[str, Any]) -> None:
        self.dn = dn
        self.attributes = attributes

    def values(self, name: str) -> list[Any]:
        for key, value in self.attributes.items():
            if key.lower() == name.lower():
                return value if isinstance(value, list) else [value]
        return []

    @property
    def is_active_directory(self) -> bool:
        return "user" in {str(value).lower() for value in self.values("objectClass")}


def _close(connection: Any) -> None:
    """Unbind; a connection already lost has nothing to unbind, and no error to add."""
    try:
        connection.unbind()
    except Exception:  # noqa: BLE001 (closing a lost connection: nothing left to do)
        pass


def parse_changed_at(entry: Entry) -> datetime | None:
    """`pwdChangedTime` (OpenLDAP ppolicy, generalized time) or `pwdLastSet` (AD, 100 ns
    since 1601; 0 means "must change at next logon": no date)."""
    for value in entry.values("pwdChangedTime"):
        text = str(value).strip()
        for pattern in ("%Y%m%d%H%M%SZ", "%Y%m%d%H%M%S.%fZ"):
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
            except ValueError:
                continue
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc)
    for value in entry.values("pwdLastSet"):
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc) if value.year > 1601 else None
        try:
            ticks = int(value)
        except (TypeError, ValueError):
            continue
        if 0 < ticks < 2**63 - 1:
            return FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
    return None


def _ints(entry: Entry, name: str) -> list[int]:
    found = []
    for value in entry.values(name):
        try:
            found.append(int(value))
        except (TypeError, ValueError):
            continue
    return found


def ad_lockout(entry: Entry) -> datetime | None:
    """When AD locked the entry (`lockoutTime`, 100 ns since 1601); None: not locked."""
    ticks = next(iter(_ints(entry, "lockoutTime")), 0)
    if not 0 < ticks < 2**63 - 1:
        return None
    return FILETIME_EPOCH + timedelta(microseconds=ticks // 10)


def ppolicy_lockout(entry: Entry) -> bool:
    """ppolicy's lockout after failed binds (`pwdAccountLockedTime`), not an
    administrator's lock."""
    return any(str(value).strip() != PPOLICY_ADMINISTRATIVE_LOCK
               for value in entry.values("pwdAccountLockedTime"))


def locked_now(entry: Entry, lockout_duration: int | None, now: datetime) -> bool:
    """Has a lockout after failed logins locked the entry at `now`. AD: the DC's own verdict
    where it gives one (UF_LOCKOUT), else `lockoutTime` within `lockout_duration` (the
    domain's `lockoutDuration`, negative 100 ns; None: unknown, so any `lockoutTime` > 0).
    OpenLDAP: ppolicy's `pwdAccountLockedTime`."""
    computed = _ints(entry, AD_COMPUTED)
    if computed:
        return bool(computed[0] & UF_LOCKOUT)
    since = ad_lockout(entry)
    if since is not None:
        if lockout_duration is None or lockout_duration in AD_LOCKED_FOREVER:
            return True
        return now < since + timedelta(microseconds=abs(lockout_duration) // 10)
    return ppolicy_lockout(entry)


def domain_of(dn: str) -> str:
    """The domain's head entry of an AD entry's DN: its trailing `DC=` parts."""
    parts = [part.strip() for part in dn.split(",")]
    tail: list[str] = []
    for part in reversed(parts):
        if not part.lower().startswith("dc="):
            break
        tail.insert(0, part)
    return ",".join(tail)


class LdapDirectory:
    def __init__(self, settings: DirectorySettings, bind_password: Callable[[], str]
                 ) -> None:
        """`settings` is Settings.directory; `bind_password` is read on first use."""
        self.settings = settings
        self._bind_password = bind_password
        url = urlsplit(settings.url)
        if url.scheme not in ("ldaps", "ldap") or not url.hostname:
            raise RuntimeError("PWPORTAL_LDAP_URL must be ldaps://HOST[:PORT] or "
                               "ldap://HOST[:PORT] with PWPORTAL_LDAP_START_TLS=true")
        if url.scheme == "ldap" and not settings.start_tls:
            raise RuntimeError("pwportal never binds in plain text: use ldaps:// or set "
                               "PWPORTAL_LDAP_START_TLS=true")
        if not settings.ca_file:
            raise RuntimeError("PWPORTAL_LDAP_CA_FILE: the directory's CA must be given")
        if not (settings.bind_dn and settings.base_dn and "{username}" in settings.filter):
            raise RuntimeError("ldap mode needs PWPORTAL_LDAP_BIND_DN, PWPORTAL_LDAP_BASE_DN "
                               "and a PWPORTAL_LDAP_FILTER with {username}")
        if settings.password_method not in ("auto", "ad", "rfc3062"):
            raise RuntimeError("PWPORTAL_LDAP_PASSWORD_METHOD is auto, ad or rfc3062")
        self._ldaps = url.scheme == "ldaps"
        self._host = url.hostname
        self._port = url.port or (636 if self._ldaps else 389)

    # -- connections -----------------------------------------------------------------------

    def _open(self, user: str, password: str) -> tuple[Any, bool]:  # ldap3: untyped
        """A connection with TLS in place (LDAPS, or StartTLS before anything else), bound as
        `user`: (connection, bound?)."""
        import ldap3
        timeout = self.settings.timeout_seconds
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.settings.ca_file,
                        version=ssl.PROTOCOL_TLS_CLIENT)
        server = ldap3.Server(self._host, port=self._port, use_ssl=self._ldaps, tls=tls,
                              connect_timeout=timeout, get_info=ldap3.NONE)
        connection = ldap3.Connection(server, user=user, password=password,
                                      receive_timeout=timeout, auto_referrals=False,
                                      raise_exceptions=False)
        connection.open()
        if not self._ldaps and not connection.start_tls():
            connection.unbind()
            raise DirectoryUnavailable("start_tls")
        return connection, connection.bind()

    def _call(self, work: Callable[[], T]) -> T:
        import ldap3.core.exceptions as errors
        try:
            return work()
        except (DirectoryUnavailable, PasswordRejected):
            raise
        except errors.LDAPSocketReceiveError:
            raise DirectoryUnavailable("timeout") from None
        except (errors.LDAPSocketOpenError, errors.LDAPStartTLSError) as error:
            said = str(error).lower()
            reason = ("timeout" if "timed out" in said else
                      "tls" if "ssl" in said or "certificate" in said else "unreachable")
            raise DirectoryUnavailable(reason) from None
        except errors.LDAPException as error:
            raise DirectoryUnavailable(type(error).__name__) from None
        except (OSError, ssl.SSLError):
            raise DirectoryUnavailable("unreachable") from None

    def _service(self) -> Any:  # an ldap3 connection
        connection, bound = self._open(self.settings.bind_dn, self._bind_password())
        if not bound:
            code = connection.result.get("result")
            connection.unbind()
            raise DirectoryUnavailable(f"service_bind_{code}")
        return connection

    def _find(self, connection: Any, username: str,
              attributes: tuple[str, ...] = FOUND) -> Entry | None:
        from ldap3.utils.conv import escape_filter_chars
        wanted = self.settings.filter.format(username=escape_filter_chars(username))
        connection.search(self.settings.base_dn, wanted, search_scope="SUBTREE",
                          attributes=list(attributes), size_limit=2)
        code = connection.result.get("result")
        if code not in (0, 32):  # success, noSuchObject
            raise DirectoryUnavailable(f"search_{code}")
        found = [Entry(item["dn"], item.get("attributes") or {})
                 for item in connection.response or [] if item.get("type") == "searchResEntry"]
        if len(found) > 1:
            raise DirectoryUnavailable("ambiguous_entry")
        return found[0] if found else None

    def _entry(self, username: str) -> Entry | None:
        def work() -> Entry | None:
            connection = self._service()
            try:
                return self._find(connection, username)
            finally:
                connection.unbind()
        return self._call(work)

    # -- the port --------------------------------------------------------------------------

    def verify(self, username: str, stored_hash: str | None, password: str) -> bool:
        entry = self._entry(username)  # searched for unknown usernames too: same work
        dn = entry.dn if entry is not None and stored_hash is not None else \
            f"cn=none-{secrets.token_hex(8)},{self.settings.base_dn}"
        if not password:  # an empty password is an unauthenticated bind: never a login
            return False
        password = unicodedata.normalize("NFC", password)
        # No password SASLprep refuses is anyone's (ldap3 could not have set it): a wrong
        # one, after the same bind as any other, with a password that cannot be right.
        refused = refused_by_saslprep(password)
        if refused:
            password = secrets.token_urlsafe(24)

        def work() -> bool:
            connection, bound = self._open(dn, password)
            code = connection.result.get("result")
            connection.unbind()
            if bound:
                return not refused and entry is not None and stored_hash is not None
            if code == INVALID_CREDENTIALS:
                return False
            raise DirectoryUnavailable(f"bind_{code}")
        return self._call(work)

    def set(self, username: str, password: str) -> None:
        password = unicodedata.normalize("NFC", password)
        if refused_by_saslprep(password):  # the policy refuses it first; ldap3 would raise
            raise PasswordRejected(["invalid_characters"])

        def work() -> None:
            connection = self._service()
            try:
                entry = self._find(connection, username)
                if entry is None:
                    raise DirectoryUnavailable("no_entry")
                method = self.settings.password_method
                if method == "ad" or (method == "auto" and entry.is_active_directory):
                    result = self._sent(connection, lambda: connection.modify(
                        entry.dn, {"unicodePwd": [(
                            "MODIFY_REPLACE", [f'"{password}"'.encode("utf-16-le")])]}))
                else:
                    result = self._sent(connection, lambda: connection.extend.standard
                                        .modify_password(user=entry.dn,
                                                         new_password=password))
            finally:
                _close(connection)
            code = result.get("result")
            if code == 0:
                return
            message = str(result.get("message") or "")
            if code == CONSTRAINT_VIOLATION or AD_PASSWORD_REFUSED in message.upper():
                raise PasswordRejected(["directory"])
            raise DirectoryUnavailable(f"set_{code}")
        self._call(work)

    @staticmethod
    def _sent(connection: Any, operation: Callable[[], object]) -> dict[str, Any]:
        """The directory's answer to a set: once the request went out, a timeout or a lost
        connection is DirectoryAnswerLost (it may have been taken), never a plain failure;
        a failure to send it is one (the directory cannot take half a request)."""
        import ldap3.core.exceptions as errors
        try:
            operation()
        except errors.LDAPSocketSendError:
            raise DirectoryUnavailable("unreachable") from None
        except (errors.LDAPCommunicationError, OSError, ssl.SSLError):
            raise DirectoryAnswerLost("answer_lost") from None
        result = connection.result
        if not isinstance(result, dict):  # no answer read: the same as a lost one
            raise DirectoryAnswerLost("answer_lost")
        return result

    def exists(self, username: str) -> bool:
        return self._entry(username) is not None

    def changed_at(self, username: str) -> datetime | None:
        entry = self._entry(username)
        return parse_changed_at(entry) if entry is not None else None

    # -- lockouts (SPEC 16) ----------------------------------------------------------------

    def _lockout_duration(self, connection: Any, entry: Entry) -> int | None:
        """The domain's `lockoutDuration` (AD), None where it cannot be read."""
        head = domain_of(entry.dn)
        if not head or not connection.search(head, "(objectClass=*)", search_scope="BASE",
                                             attributes=["lockoutDuration"]):
            return None
        for item in connection.response or []:
            if item.get("type") == "searchResEntry":
                found = _ints(Entry(item["dn"], item.get("attributes") or {}),
                              "lockoutDuration")
                return found[0] if found else None
        return None

    def _locked(self, connection: Any, entry: Entry, now: datetime) -> bool:
        needs_duration = not _ints(entry, AD_COMPUTED) and ad_lockout(entry) is not None
        duration = self._lockout_duration(connection, entry) if needs_duration else None
        return locked_now(entry, duration, now)

    def state(self, username: str, now: datetime) -> DirectoryState | None:
        def work() -> DirectoryState:
            connection = self._service()
            try:
                entry = self._find(connection, username, LOCKS)
                if entry is None:
                    return DirectoryState(exists=False, locked=False)
                return DirectoryState(exists=True, locked=self._locked(connection, entry, now))
            finally:
                _close(connection)
        return self._call(work)

    def locked(self, username: str, now: datetime) -> bool:
        found = self.state(username, now)
        return found is not None and found.locked

    def unlock(self, username: str, now: datetime) -> bool:
        def work() -> bool:
            connection = self._service()
            try:
                entry = self._find(connection, username, LOCKS)
                if entry is None or not self._locked(connection, entry, now):
                    return False
                if ad_lockout(entry) is not None:
                    change = {"lockoutTime": [("MODIFY_REPLACE", ["0"])]}
                else:  # ppolicy deletes pwdFailureTime with it
                    change = {"pwdAccountLockedTime": [("MODIFY_DELETE", [])]}
                connection.modify(entry.dn, change)
                code = connection.result.get("result")
            finally:
                _close(connection)
            if code == NO_SUCH_ATTRIBUTE:  # lifted meanwhile (a right bind after it lapsed)
                return False
            if code != 0:
                raise DirectoryUnavailable(f"unlock_{code}")
            return True
        return self._call(work)
