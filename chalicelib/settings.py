"""Every operator setting of pwportal, read from the environment when first needed.

`.chalice/config.json` sets these per stage; each has the default that SPEC.md names, so an
operator changes only what differs. Settings are read lazily (never at import) so that
`chalice.test.Client` and the local stack can apply a stage's environment first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from chalicelib.domain.limits import Rule, parse_rules

DEFAULT_BANNED_WORDS = "treserva,orebro,losenord,lösenord,password"


def _env(name: str, default: str) -> str:
    value = os.environ.get("PWPORTAL_" + name)
    return default if value is None or value.strip() == "" else value.strip()


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise RuntimeError(f"setting PWPORTAL_{name} must be a whole number, not {raw!r}") from None


def _list(name: str, default: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _env(name, default).split(",") if part.strip())


@dataclass(frozen=True)
class PolicySettings:
    min_length: int = 8
    max_length: int = 128
    min_classes: int = 3
    forbid_username: bool = True
    history: int = 24
    max_age_days: int = 90
    reminder_days: tuple[int, ...] = (14, 3)
    banned_words: tuple[str, ...] = tuple(DEFAULT_BANNED_WORDS.split(","))


@dataclass(frozen=True)
class CodeSettings:
    length: int = 6
    lifetime_seconds: int = 600
    resend_after_seconds: int = 60
    max_attempts: int = 5


@dataclass(frozen=True)
class LimitSettings:
    sms_per_username: tuple[Rule, ...] = parse_rules("1/60,3/900,5/86400")
    wrong_codes_per_username: tuple[Rule, ...] = parse_rules("10/86400")
    reset_pause_seconds: int = 86400
    login_failures_per_username: tuple[Rule, ...] = parse_rules("5/900")
    login_lock_seconds: int = 900
    reset_starts_per_ip: tuple[Rule, ...] = parse_rules("30/3600")
    logins_per_ip: tuple[Rule, ...] = parse_rules("30/3600")
    numbers_per_account: tuple[Rule, ...] = parse_rules("3/86400")
    sms_per_service: tuple[Rule, ...] = parse_rules("1000/3600")


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    accounts_table: str = "pwportal-local-accounts"
    challenges_table: str = "pwportal-local-challenges"
    limits_table: str = "pwportal-local-limits"
    audit_table: str = "pwportal-local-audit"
    sms_queue: str = "pwportal-local-sms"
    sms_queue_url: str = ""
    sms_sender_id: str = "pwportal"
    portal_host: str = "localhost"
    support_phone: str = "2000, knappval 3 och 1"
    support_email: str = "vardochstod@orebro.se"
    secrets_parameter: str = ""
    pepper: str = ""
    code_key: str = ""
    dev_sms: bool = False
    metrics: bool = False
    allowed_countries: tuple[str, ...] = ("SE",)
    session_seconds: int = 900
    reset_token_seconds: int = 600
    audit_retention_days: int = 365
    max_body_bytes: int = 16384
    sms_max_receives: int = 5
    trusted_proxy_hops: int = 0
    client_address_header: str = ""
    policy: PolicySettings = field(default_factory=PolicySettings)
    code: CodeSettings = field(default_factory=CodeSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)


def load_settings() -> Settings:
    """Build the settings from the current environment."""
    stage = _env("STAGE", "local")

    def table(kind: str) -> str:
        return _env(kind.upper() + "_TABLE", f"pwportal-{stage}-{kind}")

    policy = PolicySettings(
        min_length=_int("PASSWORD_MIN_LENGTH", 8),
        max_length=_int("PASSWORD_MAX_LENGTH", 128),
        min_classes=_int("PASSWORD_MIN_CLASSES", 3),
        forbid_username=_env("PASSWORD_FORBID_USERNAME", "true").lower() != "false",
        history=_int("PASSWORD_HISTORY", 24),
        max_age_days=_int("PASSWORD_MAX_AGE_DAYS", 90),
        reminder_days=tuple(int(d) for d in _list("PASSWORD_REMINDER_DAYS", "14,3")),
        banned_words=_list("PASSWORD_BANNED_WORDS", DEFAULT_BANNED_WORDS),
    )
    code = CodeSettings(
        lifetime_seconds=_int("CODE_LIFETIME_SECONDS", 600),
        resend_after_seconds=_int("CODE_RESEND_AFTER_SECONDS", 60),
        max_attempts=_int("CODE_MAX_ATTEMPTS", 5),
    )
    limits = LimitSettings(
        sms_per_username=parse_rules(_env("LIMIT_SMS_PER_USERNAME", "1/60,3/900,5/86400")),
        wrong_codes_per_username=parse_rules(_env("LIMIT_WRONG_CODES_PER_USERNAME", "10/86400")),
        reset_pause_seconds=_int("LIMIT_RESET_PAUSE_SECONDS", 86400),
        login_failures_per_username=parse_rules(_env("LIMIT_LOGIN_FAILURES_PER_USERNAME", "5/900")),
        login_lock_seconds=_int("LIMIT_LOGIN_LOCK_SECONDS", 900),
        reset_starts_per_ip=parse_rules(_env("LIMIT_RESET_STARTS_PER_IP", "30/3600")),
        logins_per_ip=parse_rules(_env("LIMIT_LOGINS_PER_IP", "30/3600")),
        numbers_per_account=parse_rules(_env("LIMIT_NUMBERS_PER_ACCOUNT", "3/86400")),
        sms_per_service=parse_rules(_env("LIMIT_SMS_PER_SERVICE", "1000/3600")),
    )
    return Settings(
        stage=stage,
        accounts_table=table("accounts"),
        challenges_table=table("challenges"),
        limits_table=table("limits"),
        audit_table=table("audit"),
        sms_queue=_env("SMS_QUEUE", f"pwportal-{stage}-sms"),
        sms_queue_url=_env("SMS_QUEUE_URL", ""),
        sms_sender_id=_env("SMS_SENDER_ID", "pwportal"),
        portal_host=_env("PORTAL_HOST", "localhost"),
        support_phone=_env("SUPPORT_PHONE", "2000, knappval 3 och 1"),
        support_email=_env("SUPPORT_EMAIL", "vardochstod@orebro.se"),
        secrets_parameter=_env("SECRETS_PARAMETER", ""),
        pepper=_env("PEPPER", ""),
        code_key=_env("CODE_KEY", ""),
        dev_sms=_env("DEV_SMS", "false").lower() == "true",
        metrics=_env("METRICS", "false").lower() == "true",
        allowed_countries=tuple(c.upper() for c in _list("PHONE_ALLOWED_COUNTRIES", "SE")),
        session_seconds=_int("SESSION_SECONDS", 900),
        reset_token_seconds=_int("RESET_TOKEN_SECONDS", 600),
        audit_retention_days=_int("AUDIT_RETENTION_DAYS", 365),
        max_body_bytes=_int("MAX_BODY_BYTES", 16384),
        sms_max_receives=_int("SMS_MAX_RECEIVES", 5),
        trusted_proxy_hops=_int("TRUSTED_PROXY_HOPS", 0),
        client_address_header=_env("CLIENT_ADDRESS_HEADER", "").lower(),
        policy=policy,
        code=code,
        limits=limits,
    )
