"""The composition root: builds pwportal's adapters and use cases once per Lambda container.

Routes, the worker, the admin CLI and the tests get their use cases from `portal()`. Each
use case is given what it uses, by name, in its constructor; nothing reaches into the
whole. A part is replaced by constructing the portal with it (`override(clock=…,
gateway=…)`), never by assigning to it afterwards. `reset()` forgets everything, so that
the next call reads the settings and builds the AWS clients again.

Built lazily: the secrets (an SSM read on a deployed stage) and the password hasher only
when a use case first needs them, the use cases only when a route first asks.
"""
from __future__ import annotations

from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from chalicelib.adapters import aws
from chalicelib.domain.clock import SystemClock
from chalicelib.ports import (BreachedPasswords, Clock, CodeChannel, DirectoryLocks, Gateway,
                              Hasher, IdentityProvider, PasswordChange, PasswordStore, Queue,
                              Store)
from chalicelib.repositories.accounts import Accounts
from chalicelib.repositories.audit import Audit
from chalicelib.repositories.limits import Counters, Limits, Logs
from chalicelib.repositories.records import Records
from chalicelib.services.unit_of_work import UnitOfWork
from chalicelib.settings import Settings, load_settings

if TYPE_CHECKING:
    from chalicelib.adapters.secrets import Secrets
    from chalicelib.services.breach_check import BreachCheck
    from chalicelib.repositories.sign_ins import SignIns
    from chalicelib.services.authenticator_enrolment import AuthenticatorEnrolment
    from chalicelib.services.code_sms import CodeSms
    from chalicelib.services.completion import ResetCompletion
    from chalicelib.services.delivery import Delivery
    from chalicelib.services.directory_unlock import DirectoryUnlock
    from chalicelib.services.holder_expiry import HolderExpiry
    from chalicelib.services.notifications import Notifications
    from chalicelib.services.refusals import Refusals
    from chalicelib.services.registration import Registration
    from chalicelib.services.reminders import Reminders
    from chalicelib.services.reset import Reset
    from chalicelib.services.sessions import Sessions
    from chalicelib.services.holder_identity import HolderIdentity
    from chalicelib.services.sign_in import OidcSignIn, SupportSignIn
    from chalicelib.services.support.callers import CallerChecks
    from chalicelib.services.support.changes import AccountChanges
    from chalicelib.services.support.diagnosis import Diagnoses
    from chalicelib.services.support.holders import HolderChanges
    from chalicelib.services.support.imports import Imports
    from chalicelib.services.support.monthly import MonthlyReports
    from chalicelib.services.support.report import Reports
    from chalicelib.services.support.reset_links import ResetLinks
    from chalicelib.services.support.state import AccountStates


class Portal:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None,
                 store: Store | None = None, queue: Queue | None = None,
                 gateway: Gateway | None = None, hasher: Hasher | None = None,
                 secrets: Secrets | None = None, audit_stream: IO[str] | None = None,
                 passwords: PasswordStore | None = None) -> None:
        self._given: dict[str, Any] = {"hasher": hasher, "secrets": secrets, "audit_stream": audit_stream,
                       "passwords": passwords}
        self.settings = settings or load_settings()
        self.clock = clock or SystemClock()
        if store is None:
            from chalicelib.adapters.dynamo import DynamoStore
            store = DynamoStore()
        self.store = store
        if queue is None or gateway is None:
            from chalicelib.adapters.sms import SmsGateway, SmsQueue
            queue = queue or SmsQueue(self.settings)
            gateway = gateway or SmsGateway(self.settings)
        self.queue: Queue = queue
        self.gateway: Gateway = gateway
        if hasher is not None:
            self.hasher = hasher
        if secrets is not None:
            self.secrets = secrets
        if passwords is not None:
            self.passwords = passwords
        settings = self.settings
        self.accounts = Accounts(store, settings.accounts_table)
        self.records = Records(store, settings.challenges_table)
        # one table, two kinds of subject: a use case is given the kind it counts
        self.counters = Counters(store, settings.limits_table, settings.limits,
                                 key=self._limit_key)
        self.logs = Logs(store, settings.limits_table, settings.limits,
                         key=self._limit_key)  # a number in a log's key is an HMAC under it
        self.limits = Limits(store, settings.limits_table, settings.limits,
                             key=self._limit_key)
        from chalicelib.adapters.telemetry import TelemetryLog
        self.log = TelemetryLog(settings, audit_stream)  # the audit's lines, the error lines
        self.audit = Audit(settings, self.clock, store, self.log)
        self.uow = UnitOfWork(store, self.audit)

    def but(self, **parts: Any) -> Portal:
        """A portal built from the same parts as this one, with `parts` replaced."""
        return Portal(**{"settings": self.settings, "clock": self.clock, "store": self.store,
                         "queue": self.queue, "gateway": self.gateway, **self._given,
                         **parts})

    @cached_property
    def secrets(self) -> Secrets:
        from chalicelib.adapters import secrets
        return secrets.load(self.settings)

    @cached_property
    def hasher(self) -> Hasher:
        from chalicelib.adapters.passwords import PasswordHasher
        return PasswordHasher(self.secrets.pepper)

    def _hasher(self) -> Hasher:
        return self.hasher

    @cached_property
    def passwords(self) -> PasswordStore:
        """`ldap` mode's directory (SPEC 13), built on first use."""
        from chalicelib.adapters.ldap_directory import LdapDirectory
        return LdapDirectory(self.settings.directory, lambda: self.secrets.ldap_bind_password)

    def _passwords(self) -> PasswordStore:
        return self.passwords

    @cached_property
    def _in_directory(self) -> bool:
        """PWPORTAL_DIRECTORY (SPEC 13): `ldap` (True) or `portal`; read here alone."""
        mode = self.settings.directory.mode
        if mode not in ("portal", "ldap"):
            raise RuntimeError(f"PWPORTAL_DIRECTORY is portal or ldap, not {mode!r}")
        return mode == "ldap"

    @cached_property
    def password_change(self) -> PasswordChange:
        """Where the password lives (SPEC 13), picked here once: PWPORTAL_DIRECTORY `portal`
        (the account's own verifier) or `ldap` (a directory, with the portal's record)."""
        if self._in_directory:
            from chalicelib.services.directory_changes import DirectoryPasswordChange
            return DirectoryPasswordChange(
                settings=self.settings, clock=self.clock, uow=self.uow,
                accounts=self.accounts, records=self.records, limits=self.limits,
                audit=self.audit, notifications=self.notifications, log=self.log,
                passwords=self._passwords)
        from chalicelib.services.password_change import PortalPasswordChange
        return PortalPasswordChange(
            settings=self.settings, clock=self.clock, uow=self.uow, accounts=self.accounts,
            records=self.records, limits=self.limits, audit=self.audit,
            notifications=self.notifications, hasher=self._hasher,
            breach_check=self.breach_check)

    @cached_property
    def breaches(self) -> BreachedPasswords:
        """Is a new password known from breaches (SPEC 16): the shipped list, and with
        PWPORTAL_BREACH_CHECK `range` the Pwned Passwords range API before it."""
        from chalicelib.adapters.breached import FirstThatKnows, RangeApi, ShippedList
        mode = self.settings.breach_check
        if mode == "off":
            return ShippedList()
        if mode != "range":
            raise RuntimeError(f"PWPORTAL_BREACH_CHECK is range or off, not {mode!r}")
        return FirstThatKnows(RangeApi(self.settings.breach_range_url,
                                       self.settings.breach_timeout_ms / 1000), ShippedList())

    def _breaches(self) -> BreachedPasswords:
        return self.breaches

    @cached_property
    def breach_check(self) -> BreachCheck:
        from chalicelib.services.breach_check import BreachCheck
        return BreachCheck(breaches=self._breaches, audit=self.audit)

    def _directory_locks(self) -> DirectoryLocks:
        """The directory's lockouts (SPEC 16): the `ldap` mode's directory, built on first
        use; in `portal` mode none, nothing locks."""
        if self._in_directory:
            return self.passwords  # the same directory holds the passwords and the locks
        from chalicelib.services.directory_unlock import NoDirectory
        return NoDirectory()

    @cached_property
    def directory_unlock(self) -> DirectoryUnlock:
        """pwreset's unlock without a new password, and verify's `directory_locked`; the
        console's view of the entry (`state`)."""
        from chalicelib.services.directory_unlock import DirectoryUnlock
        return DirectoryUnlock(clock=self.clock, uow=self.uow, accounts=self.accounts,
                               records=self.records, audit=self.audit,
                               notifications=self.notifications,
                               directory=self._directory_locks)

    def _code_key(self) -> bytes:
        return self.secrets.code_key

    def _limit_key(self) -> bytes:
        return self.secrets.limit_key

    def _authenticator_key(self) -> bytes:
        return self.secrets.authenticator_key

    @cached_property
    def notifications(self) -> Notifications:
        from chalicelib.services.notifications import Notifications
        return Notifications(settings=self.settings, queue=self.queue, audit=self.audit)

    @cached_property
    def code_sms(self) -> CodeSms:
        from chalicelib.services.code_sms import CodeSms
        return CodeSms(settings=self.settings, queue=self.queue, uow=self.uow,
                       logs=self.logs, audit=self.audit)

    @cached_property
    def refusals(self) -> Refusals:
        """A refused request's `ratelimit.exceeded`, once per subject and window."""
        from chalicelib.services.refusals import Refusals
        return Refusals(clock=self.clock, uow=self.uow, counters=self.counters,
                        audit=self.audit)

    @cached_property
    def sessions(self) -> Sessions:
        """pwreg's session: the live one, its account, its codes spent before compared."""
        from chalicelib.services.sessions import Sessions
        return Sessions(settings=self.settings, clock=self.clock, records=self.records)

    @cached_property
    def code_channels(self) -> dict[str, CodeChannel]:
        """The ways a reset's code proves a holder (SPEC 4, 12), by their name."""
        from chalicelib.services.channels import AppChannel, SmsChannel, channels
        return channels(SmsChannel(code_key=self._code_key),
                        AppChannel(code_key=self._code_key,
                                   authenticator_key=self._authenticator_key))

    @cached_property
    def registration(self) -> Registration:
        from chalicelib.services.registration import Registration
        return Registration(settings=self.settings, clock=self.clock, uow=self.uow,
                            accounts=self.accounts, records=self.records,
                            counters=self.counters, logs=self.logs, audit=self.audit,
                            sessions=self.sessions, refusals=self.refusals,
                            code_sms=self.code_sms, notifications=self.notifications,
                            code_key=self._code_key, password_change=self.password_change)

    @cached_property
    def authenticators(self) -> AuthenticatorEnrolment:
        """pwreg's authenticator app: add (show the key, check the first code), remove."""
        from chalicelib.services.authenticator_enrolment import AuthenticatorEnrolment
        return AuthenticatorEnrolment(settings=self.settings, clock=self.clock, uow=self.uow,
                                      accounts=self.accounts, records=self.records,
                                      audit=self.audit, sessions=self.sessions,
                                      notifications=self.notifications,
                                      authenticator_key=self._authenticator_key)

    @cached_property
    def reset(self) -> Reset:
        from chalicelib.services.reset import Reset
        return Reset(settings=self.settings, clock=self.clock, uow=self.uow,
                     accounts=self.accounts, records=self.records, limits=self.limits,
                     audit=self.audit, refusals=self.refusals, channels=self.code_channels,
                     code_sms=self.code_sms, unlocks=self.directory_unlock)

    @cached_property
    def completion(self) -> ResetCompletion:
        """pwreset's new password."""
        from chalicelib.services.completion import ResetCompletion
        return ResetCompletion(settings=self.settings, clock=self.clock,
                               accounts=self.accounts, records=self.records, audit=self.audit,
                               hasher=self._hasher, password_change=self.password_change,
                               breach_check=self.breach_check)

    @cached_property
    def delivery(self) -> Delivery:
        from chalicelib.services.delivery import Delivery
        return Delivery(settings=self.settings, clock=self.clock, uow=self.uow,
                        accounts=self.accounts, records=self.records, limits=self.limits,
                        audit=self.audit, gateway=self.gateway, log=self.log)

    @cached_property
    def reminders(self) -> Reminders:
        from chalicelib.services.reminders import Reminders
        return Reminders(settings=self.settings, clock=self.clock, uow=self.uow,
                         accounts=self.accounts, queue=self.queue,
                         notifications=self.notifications,
                         password_change=self.password_change)

    @cached_property
    def holder_expiry(self) -> HolderExpiry:
        from chalicelib.services.holder_expiry import HolderExpiry
        return HolderExpiry(settings=self.settings, clock=self.clock, uow=self.uow,
                            accounts=self.accounts, audit=self.audit,
                            notifications=self.notifications)

    # -- support (SPEC 9, 14): the use cases of the admin CLI and the console --------------

    @cached_property
    def account_changes(self) -> AccountChanges:
        from chalicelib.services.support.changes import AccountChanges
        return AccountChanges(settings=self.settings, clock=self.clock, uow=self.uow,
                              accounts=self.accounts, limits=self.limits, audit=self.audit,
                              notifications=self.notifications,
                              password_change=self.password_change,
                              directory=self._directory_locks)

    @cached_property
    def account_states(self) -> AccountStates:
        from chalicelib.services.support.state import AccountStates
        return AccountStates(clock=self.clock, uow=self.uow, accounts=self.accounts,
                             limits=self.limits, audit=self.audit)

    @cached_property
    def diagnoses(self) -> Diagnoses:
        from chalicelib.services.support.diagnosis import Diagnoses
        return Diagnoses(settings=self.settings, states=self.account_states)

    @cached_property
    def imports(self) -> Imports:
        from chalicelib.services.support.imports import Imports
        return Imports(settings=self.settings, accounts=self.accounts,
                       changes=self.account_changes)

    @cached_property
    def reports(self) -> Reports:
        from chalicelib.services.support.report import Reports
        return Reports(settings=self.settings, clock=self.clock, accounts=self.accounts,
                       audit=self.audit, states=self.account_states)

    @cached_property
    def holder_changes(self) -> HolderChanges:
        from chalicelib.services.support.holders import HolderChanges
        return HolderChanges(settings=self.settings, clock=self.clock, uow=self.uow,
                             accounts=self.accounts, audit=self.audit,
                             notifications=self.notifications)

    @cached_property
    def caller_checks(self) -> CallerChecks:
        from chalicelib.services.support.callers import CallerChecks
        return CallerChecks(settings=self.settings, clock=self.clock, uow=self.uow,
                            accounts=self.accounts, records=self.records, limits=self.limits,
                            audit=self.audit, code_sms=self.code_sms,
                            code_key=self._code_key,
                            authenticator_key=self._authenticator_key)

    @cached_property
    def reset_links(self) -> ResetLinks:
        from chalicelib.services.support.reset_links import ResetLinks
        return ResetLinks(settings=self.settings, clock=self.clock, uow=self.uow,
                          accounts=self.accounts, records=self.records, audit=self.audit,
                          queue=self.queue, notifications=self.notifications)

    @cached_property
    def monthly_reports(self) -> MonthlyReports:
        from chalicelib.services.support.monthly import MonthlyReports
        return MonthlyReports(accounts=self.accounts, audit=self.audit)

    # -- the organisation's identity provider (SPEC 14, 15) --------------------------------

    @cached_property
    def sign_ins(self) -> SignIns:
        from chalicelib.repositories.sign_ins import SignIns
        return SignIns(self.store, self.settings.challenges_table)

    @cached_property
    def identity_provider(self) -> IdentityProvider:
        """The OpenID Connect client, built when a sign-in first needs it; its discovery
        document and keys are then kept for the container's life."""
        from chalicelib.adapters.oidc import OidcProvider
        s = self.settings
        return OidcProvider(s.idp_issuer, s.idp_client_id,
                            lambda: self.secrets.idp_client_secret, scopes=s.idp_scopes,
                            name_claim=s.idp_name_claim, groups_claim=s.idp_groups_claim)

    @cached_property
    def oidc_sign_in(self) -> OidcSignIn:
        """The one OpenID Connect sign-in, for the console, pwreg and pwreset alike."""
        from chalicelib.services.sign_in import OidcSignIn
        return OidcSignIn(settings=self.settings, clock=self.clock, sign_ins=self.sign_ins,
                          provider=lambda: self.identity_provider)

    @cached_property
    def support_sign_in(self) -> SupportSignIn:
        from chalicelib.services.sign_in import SupportSignIn
        return SupportSignIn(settings=self.settings, clock=self.clock, uow=self.uow,
                             sign_ins=self.sign_ins, audit=self.audit,
                             oidc=self.oidc_sign_in)

    @cached_property
    def holder_identity(self) -> HolderIdentity:
        """SPEC 15: holders proven by the provider on pwreg, and pwreset's third way."""
        from chalicelib.services.holder_identity import HolderIdentity
        return HolderIdentity(settings=self.settings, clock=self.clock, uow=self.uow,
                              accounts=self.accounts, records=self.records,
                              limits=self.limits, audit=self.audit, refusals=self.refusals,
                              sessions=self.sessions, sign_ins=self.sign_ins,
                              oidc=self.oidc_sign_in,
                              directory_locked=self.directory_unlock.locked)


_portal: Portal | None = None


def portal() -> Portal:
    global _portal
    if _portal is None:
        _portal = Portal()
    return _portal


def override(**parts: Any) -> Portal:
    """Replace the current portal with one built from the current environment and `parts`."""
    global _portal
    _portal = Portal(**parts)
    return _portal


def reset() -> None:
    global _portal
    _portal = None
    aws.reset()
