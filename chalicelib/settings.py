"""Every operator setting of pwportal, read from the environment when first needed.

`.chalice/config.json` sets these per stage; each has the default that SPEC.md names, so an
operator changes only what differs. Settings are read lazily (never at import) so that
`chalice.test.Client` and the local stack can apply a stage's environment first.

SETTINGS below is the one place where a setting is stated: the attribute it fills, the
PWPORTAL_* variable it is read from, its default and how its text is read. The dataclasses
are the typed result (the policy's is the domain's, `chalicelib.domain.policy`); theirs take
the table's defaults, so that `Settings()` is what an empty environment gives.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from chalicelib.domain import holders as holding, organisation
from chalicelib.domain.limits import Rule, parse_networks, parse_rules
from chalicelib.domain.organisation import SupportChannel
from chalicelib.domain.policy import PolicySettings


T = TypeVar("T")


# -- how a setting's text is read (stripped, never blank: a blank one takes the default) ---

class _NotAWholeNumber(ValueError):
    pass


def text(raw: str) -> str:
    return raw


def lower(raw: str) -> str:
    return raw.lower()


def number(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise _NotAWholeNumber() from None


def only_true(raw: str) -> bool:
    """Off unless it says "true"."""
    return raw.lower() == "true"


def unless_false(raw: str) -> bool:
    """On unless it says "false"."""
    return raw.lower() != "false"


def items(raw: str) -> tuple[str, ...]:
    """Comma-separated, each part stripped, empty parts dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def numbers(raw: str) -> tuple[int, ...]:
    return tuple(int(part) for part in items(raw))


def countries(raw: str) -> tuple[str, ...]:
    return tuple(part.upper() for part in items(raw))


def channels(raw: str) -> tuple[SupportChannel, ...]:
    """A JSON list of support channels (chalicelib/domain/organisation.py)."""
    return organisation.parse_channels(raw)


def external_phone(raw: str) -> str:
    """A support number that works from outside (a private phone), added to the channels."""
    return organisation.parse_external_phone(raw)


def day(raw: str) -> date:
    return organisation.parse_day(raw)


def logo(raw: str) -> str:
    return organisation.parse_logo(raw)


# The support of the seed guide, the e-mail address first: the guide sends people to a private
# phone or an iPad, from which the internal short number (marked so) cannot be dialled. An
# external number is one setting away: PWPORTAL_SUPPORT_EXTERNAL_PHONE (SPEC 2 v3).
DEFAULT_SUPPORT_CHANNELS = json.dumps([
    {"email": "vardochstod@orebro.se"},
    {"phone": "2000", "sv": "internt nummer, knappval 3 och 1",
     "en": "internal number, then options 3 and 1"},
    {"sv": "ett meddelande i Treserva (sök på ”Treserva”)",
     "en": "a message in Treserva (search for “Treserva”)"},
], ensure_ascii=False)


def networks(raw: str) -> tuple[str, ...]:
    """'10.1.0.0/16,2001:db8:5::/48': the trusted client networks (CIDRs), comma-separated."""
    return parse_networks(raw)


def rules(raw: str) -> tuple[Rule, ...]:
    """'1/60,3/900': at most COUNT events per SECONDS, comma-separated."""
    return parse_rules(raw)


@dataclass(frozen=True)
class Setting:
    attribute: str  # on Settings; "policy.history" is the `history` of Settings.policy
    env: str  # read from PWPORTAL_<env>
    default: str  # as the environment would say it; "{stage}" stands for the stage's name
    parse: Callable[[str], Any]


S = Setting
SETTINGS: tuple[Setting, ...] = (
    # attribute                    PWPORTAL_…                 default, parser
    S("stage",                     "STAGE",                   "local", text),
    S("accounts_table", "ACCOUNTS_TABLE", "pwportal-{stage}-accounts", text),
    S("challenges_table", "CHALLENGES_TABLE", "pwportal-{stage}-challenges", text),
    S("limits_table",              "LIMITS_TABLE",            "pwportal-{stage}-limits", text),
    S("audit_table",               "AUDIT_TABLE",             "pwportal-{stage}-audit", text),
    S("sms_queue",                 "SMS_QUEUE",               "pwportal-{stage}-sms", text),
    S("sms_queue_url",             "SMS_QUEUE_URL",           "", text),
    S("sms_sender_id",             "SMS_SENDER_ID",           "pwportal", text),
    S("portal_host",               "PORTAL_HOST",             "localhost", text),
    # who stands behind the portal (SPEC 2 v2): in every page's header, the statement, errors
    S("organisation_name",         "ORGANISATION_NAME",       "Örebro kommun", text),
    S("organisation_logo",         "ORGANISATION_LOGO",       "", logo),
    S("support_channels",          "SUPPORT_CHANNELS",        DEFAULT_SUPPORT_CHANNELS, channels),
    S("support_external_phone",    "SUPPORT_EXTERNAL_PHONE",  "", external_phone),
    S("statement_checked_on",      "STATEMENT_CHECKED_ON",    "2026-11-25", day),
    S("secrets_parameter",         "SECRETS_PARAMETER",       "", text),
    S("pepper",                    "PEPPER",                  "", text),
    S("code_key",                  "CODE_KEY",                "", text),
    S("limit_key",                 "LIMIT_KEY",               "", text),
    S("authenticator_key",         "AUTHENTICATOR_KEY",       "", text),
    S("dev_sms",                   "DEV_SMS",                 "false", only_true),
    S("metrics",                   "METRICS",                 "false", only_true),
    S("allowed_countries",         "PHONE_ALLOWED_COUNTRIES", "SE", countries),
    S("session_seconds",           "SESSION_SECONDS",         "900", number),
    S("reset_token_seconds",       "RESET_TOKEN_SECONDS",     "600", number),
    S("audit_retention_days",      "AUDIT_RETENTION_DAYS",    "365", number),
    S("max_holders",               "MAX_HOLDERS",             "5", number),  # SPEC 11
    S("holder_unused_days",        "HOLDER_UNUSED_DAYS",      "400", number),
    S("max_body_bytes",            "MAX_BODY_BYTES",          "16384", number),
    S("sms_max_receives",          "SMS_MAX_RECEIVES",        "5", number),
    S("trusted_proxy_hops",        "TRUSTED_PROXY_HOPS",      "0", number),
    S("client_address_header",     "CLIENT_ADDRESS_HEADER",   "", lower),
    # the organisation's identity provider (SPEC 14, 15): none configured, the console is off.
    # The client secret is the secrets parameter's `idp_client_secret` on a deployed stage.
    S("idp_issuer",                "IDP_ISSUER",              "", text),
    S("idp_client_id",             "IDP_CLIENT_ID",           "pwportal", text),
    S("idp_client_secret",         "IDP_CLIENT_SECRET",       "", text),
    S("idp_scopes",                "IDP_SCOPES",              "openid profile", text),
    S("idp_name_claim",            "IDP_NAME_CLAIM",          "name", text),
    S("idp_groups_claim",          "IDP_GROUPS_CLAIM",        "groups", text),
    S("idp_support_group",         "IDP_SUPPORT_GROUP",       "pwportal-support", text),
    # what the provider sends the browser back to: <this>/api/support/callback and, for
    # holders and resets (SPEC 15), <this>/api/idp/callback
    S("idp_redirect_base",         "IDP_REDIRECT_BASE",       "", text),
    # SPEC 15: holders proven by the provider: `off`, `offered` (beside a typed name) or
    # `required` (no holder without it); the group that may become a holder ("": anyone)
    S("holder_identity",           "HOLDER_IDENTITY",         "off", lower),
    S("idp_holder_group",          "IDP_HOLDER_GROUP",        "", text),
    S("support_idle_seconds",      "SUPPORT_IDLE_SECONDS",    "1800", number),
    S("support_session_seconds",   "SUPPORT_SESSION_SECONDS", "28800", number),
    # how long a caller verified by a code may be acted for (SPEC 14), and a reset link lives
    S("support_verified_seconds",  "SUPPORT_VERIFIED_SECONDS", "900", number),
    S("reset_link_seconds",        "RESET_LINK_SECONDS",      "600", number),
    # breached passwords (SPEC 16): `range` asks the Pwned Passwords range API after the
    # shipped list, `off` the shipped list alone. Off here (the local stage, the tests: no
    # network); .chalice/config.json turns it on for every deployed stage.
    S("breach_check",              "BREACH_CHECK",            "off", lower),
    S("breach_range_url", "BREACH_RANGE_URL", "https://api.pwnedpasswords.com/range/", text),
    S("breach_timeout_ms",         "BREACH_TIMEOUT_MS",       "1000", number),
    # the password policy of SPEC 3
    S("policy.min_length",         "PASSWORD_MIN_LENGTH",     "8", number),
    S("policy.max_length",         "PASSWORD_MAX_LENGTH",     "128", number),
    S("policy.min_classes",        "PASSWORD_MIN_CLASSES",    "3", number),
    S("policy.forbid_username",    "PASSWORD_FORBID_USERNAME", "true", unless_false),
    S("policy.history",            "PASSWORD_HISTORY",        "24", number),
    S("policy.max_age_days",       "PASSWORD_MAX_AGE_DAYS",   "90", number),
    S("policy.reminder_days",      "PASSWORD_REMINDER_DAYS",  "14,3", numbers),
    S("policy.banned_words", "PASSWORD_BANNED_WORDS",
      "treserva,orebro,losenord,lösenord,password", items),
    # security codes (SPEC 4); their length is fixed: domain.codes.CODE_LENGTH
    S("code.lifetime_seconds",     "CODE_LIFETIME_SECONDS",   "600", number),
    S("code.resend_after_seconds", "CODE_RESEND_AFTER_SECONDS", "60", number),
    S("code.max_attempts",         "CODE_MAX_ATTEMPTS",       "5", number),
    # rate limits (SPEC 6)
    # code SMS per (username, number), both flows together; per flow; per account (v3)
    S("limits.sms_per_number",     "LIMIT_SMS_PER_NUMBER",    "3/900,5/86400", rules),
    S("limits.sms_per_flow",       "LIMIT_SMS_PER_FLOW",      "1/60", rules),
    S("limits.sms_per_account",    "LIMIT_SMS_PER_ACCOUNT",   "20/86400", rules),
    S("limits.wrong_codes_per_username", "LIMIT_WRONG_CODES_PER_USERNAME", "10/86400", rules),
    S("limits.reset_pause_seconds", "LIMIT_RESET_PAUSE_SECONDS", "86400", number),
    # a console agent's wrong caller codes per account (SPEC 14), and the pause they cause
    S("limits.wrong_caller_codes", "LIMIT_WRONG_CALLER_CODES", "5/3600", rules),
    S("limits.caller_pause_seconds", "LIMIT_CALLER_PAUSE_SECONDS", "3600", number),
    # and the ceilings beside it: one agent on every account, every agent on one account
    S("limits.wrong_caller_codes_per_agent", "LIMIT_WRONG_CALLER_CODES_PER_AGENT", "20/3600",
      rules),
    S("limits.wrong_caller_codes_per_account", "LIMIT_WRONG_CALLER_CODES_PER_ACCOUNT",
      "10/3600", rules),
    S("limits.login_failures_per_username", "LIMIT_LOGIN_FAILURES_PER_USERNAME",
      "50/86400", rules),
    S("limits.login_failures_per_network", "LIMIT_LOGIN_FAILURES_PER_NETWORK", "5/900", rules),
    S("limits.login_lock_seconds", "LIMIT_LOGIN_LOCK_SECONDS", "900", number),
    S("limits.reset_starts_per_ip", "LIMIT_RESET_STARTS_PER_IP", "30/3600", rules),
    S("limits.logins_per_ip",      "LIMIT_LOGINS_PER_IP",     "30/3600", rules),
    S("limits.verifies_per_network", "LIMIT_VERIFIES_PER_NETWORK", "60/3600", rules),
    S("limits.resends_per_network", "LIMIT_RESENDS_PER_NETWORK", "60/3600", rules),
    S("limits.trusted_networks",   "TRUSTED_NETWORKS",        "", networks),
    # SPEC 5 v3: five people added to one account on one morning is normal use (was 3/86400)
    S("limits.numbers_per_account", "LIMIT_NUMBERS_PER_ACCOUNT", "5/86400", rules),
    S("limits.sms_per_service",    "LIMIT_SMS_PER_SERVICE",   "1000/3600", rules),
    # where the password lives (SPEC 13): "portal" or "ldap"; the rest is ldap mode's
    S("directory.mode",            "DIRECTORY",               "portal", lower),
    S("directory.url",             "LDAP_URL",                "", text),
    S("directory.start_tls",       "LDAP_START_TLS",          "false", only_true),
    S("directory.ca_file",         "LDAP_CA_FILE",            "", text),
    S("directory.bind_dn",         "LDAP_BIND_DN",            "", text),
    S("directory.bind_password",   "LDAP_BIND_PASSWORD",      "", text),
    S("directory.base_dn",         "LDAP_BASE_DN",            "", text),
    S("directory.filter",          "LDAP_FILTER",             "(uid={{username}})", text),
    S("directory.password_method", "LDAP_PASSWORD_METHOD",    "auto", lower),
    S("directory.timeout_seconds", "LDAP_TIMEOUT_SECONDS",    "3", number),
)
del S


def _read(environ: Mapping[str, str], setting: Setting, stage: str) -> Any:
    raw = (environ.get("PWPORTAL_" + setting.env) or "").strip() \
        or setting.default.replace("{stage}", stage)
    try:
        return setting.parse(raw)
    except _NotAWholeNumber:
        raise RuntimeError(f"setting PWPORTAL_{setting.env} must be a whole number, not "
                           f"{raw!r}") from None
    except organisation.ChannelError as error:
        raise RuntimeError(f"setting PWPORTAL_{setting.env}: {error}") from None


def _group(environ: Mapping[str, str], group: str, stage: str) -> dict[str, Any]:
    """The settings of one group ("" for Settings' own, or "policy", "code", "limits")."""
    found = {}
    for setting in SETTINGS:
        owner, _, name = setting.attribute.rpartition(".")
        if owner == group:
            found[name] = _read(environ, setting, stage)
    return found


def _stage(environ: Mapping[str, str]) -> str:
    """Read first: the other defaults name the stage."""
    return str(_read(environ, next(s for s in SETTINGS if s.attribute == "stage"), stage=""))


def _defaults(group: str, nested: Mapping[str, Callable[..., Any]] | None = None
              ) -> Callable[[type[T]], type[T]]:
    """Gives a dataclass's fields the table's defaults (the local stage's), so that
    `Settings()` is what an empty environment gives and no default is written twice."""
    def apply(cls: type[T]) -> type[T]:
        stage = _stage({})
        for name, value in _group({}, group, stage).items():
            setattr(cls, name, value)
        for name, kind in (nested or {}).items():
            setattr(cls, name, kind(**_group({}, name, stage)))
        return cls
    return apply


@dataclass(frozen=True)
@_defaults("code")
class CodeSettings:
    lifetime_seconds: int
    resend_after_seconds: int
    max_attempts: int


@dataclass(frozen=True)
@_defaults("limits")
class LimitSettings:
    sms_per_number: tuple[Rule, ...]
    sms_per_flow: tuple[Rule, ...]
    sms_per_account: tuple[Rule, ...]
    wrong_codes_per_username: tuple[Rule, ...]
    reset_pause_seconds: int
    wrong_caller_codes: tuple[Rule, ...]
    caller_pause_seconds: int
    wrong_caller_codes_per_agent: tuple[Rule, ...]
    wrong_caller_codes_per_account: tuple[Rule, ...]
    login_failures_per_username: tuple[Rule, ...]
    login_failures_per_network: tuple[Rule, ...]
    login_lock_seconds: int
    reset_starts_per_ip: tuple[Rule, ...]
    logins_per_ip: tuple[Rule, ...]
    verifies_per_network: tuple[Rule, ...]
    resends_per_network: tuple[Rule, ...]
    trusted_networks: tuple[str, ...]
    numbers_per_account: tuple[Rule, ...]
    sms_per_service: tuple[Rule, ...]


@dataclass(frozen=True)
@_defaults("directory")
class DirectorySettings:
    """SPEC 13. `bind_password` is the local stage's; a deployed stage keeps it in the
    secrets parameter (`ldap_bind_password`). `password_method`: `ad` (unicodePwd),
    `rfc3062` (Password Modify) or `auto` (AD when the root DSE says so)."""

    mode: str
    url: str
    start_tls: bool
    ca_file: str
    bind_dn: str
    bind_password: str
    base_dn: str
    filter: str
    password_method: str
    timeout_seconds: int


_GROUPS = {"policy": PolicySettings, "code": CodeSettings, "limits": LimitSettings,
           "directory": DirectorySettings}


@dataclass(frozen=True)
@_defaults("", nested=_GROUPS)
class Settings:
    stage: str
    accounts_table: str
    challenges_table: str
    limits_table: str
    audit_table: str
    sms_queue: str
    sms_queue_url: str
    sms_sender_id: str
    portal_host: str
    organisation_name: str
    organisation_logo: str
    support_channels: tuple[SupportChannel, ...]
    support_external_phone: str
    statement_checked_on: date
    secrets_parameter: str
    pepper: str
    code_key: str
    limit_key: str
    authenticator_key: str
    dev_sms: bool
    metrics: bool
    allowed_countries: tuple[str, ...]
    session_seconds: int
    reset_token_seconds: int
    audit_retention_days: int
    max_holders: int
    holder_unused_days: int
    max_body_bytes: int
    sms_max_receives: int
    trusted_proxy_hops: int
    client_address_header: str
    idp_issuer: str
    idp_client_id: str
    idp_client_secret: str
    idp_scopes: str
    idp_name_claim: str
    idp_groups_claim: str
    idp_support_group: str
    idp_redirect_base: str
    holder_identity: str
    idp_holder_group: str
    support_idle_seconds: int
    support_session_seconds: int
    support_verified_seconds: int
    reset_link_seconds: int
    breach_check: str
    breach_range_url: str
    breach_timeout_ms: int
    policy: PolicySettings
    code: CodeSettings
    limits: LimitSettings
    directory: DirectorySettings

    # The first number and address of the channels, for what names one of each.
    @property
    def support_phone(self) -> str:
        return next((c.value for c in self.support_channels if c.kind == "phone"), "")

    @property
    def support_email(self) -> str:
        return next((c.value for c in self.support_channels if c.kind == "email"), "")

    @property
    def reserved_names(self) -> tuple[str, ...]:
        """What no holder may be called: the organisation's name and its support channels
        (domain/holders.py: `support` and `admin` are refused in any case)."""
        return holding.reserved_names(self.organisation_name, self.support_channels)

    @property
    def holder_identity_mode(self) -> str:
        """SPEC 15: `off` unless a provider is configured and the setting says `offered` or
        `required` (anything else is off: a typo never requires what cannot be done)."""
        mode = self.holder_identity
        return mode if self.idp_issuer and mode in ("offered", "required") else "off"

    @property
    def redirect_base(self) -> str:
        """Where the provider sends the browser back (SPEC 15): the portal's own address."""
        return (self.idp_redirect_base or f"https://{self.portal_host}").rstrip("/")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the current environment, or from `environ` (a deployed
    stage's variables, for the deploy tools)."""
    environ = os.environ if environ is None else environ
    stage = _stage(environ)
    own = _group(environ, "", stage)
    own["support_channels"] = organisation.with_external_phone(own["support_channels"],
                                                               own["support_external_phone"])
    return Settings(**own, **{group: kind(**_group(environ, group, stage))
                              for group, kind in _GROUPS.items()})
