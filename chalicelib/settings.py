"""Every operator setting of pwportal, read from the environment when first needed.

`.chalice/config.json` sets these per stage; each has the default that SPEC.md names, so an
operator changes only what differs. Settings are read lazily (never at import) so that
`chalice.test.Client` and the local stack can apply a stage's environment first.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.limits import Rule, parse_rules
from chalicelib.domain.policy import DEFAULT_BANNED_WORDS, PolicySettings


class _Reader:
    """Reads PWPORTAL_* settings from an environment (the process's, or a stage's)."""

    def __init__(self, environ: Mapping[str, str]):
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        value = self._environ.get("PWPORTAL_" + name)
        return default if value is None or value.strip() == "" else value.strip()

    def number(self, name: str, default: int) -> int:
        raw = self.text(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise RuntimeError(f"setting PWPORTAL_{name} must be a whole number, not "
                               f"{raw!r}") from None

    def items(self, name: str, default: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.text(name, default).split(",")
                     if part.strip())


@dataclass(frozen=True)
class CodeSettings:
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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the current environment, or from `environ` (a deployed
    stage's variables, for the deploy tools)."""
    read = _Reader(os.environ if environ is None else environ)
    stage = read.text("STAGE", "local")

    def table(kind: str) -> str:
        return read.text(kind.upper() + "_TABLE", f"pwportal-{stage}-{kind}")

    policy = PolicySettings(
        min_length=read.number("PASSWORD_MIN_LENGTH", 8),
        max_length=read.number("PASSWORD_MAX_LENGTH", 128),
        min_classes=read.number("PASSWORD_MIN_CLASSES", 3),
        forbid_username=read.text("PASSWORD_FORBID_USERNAME", "true").lower() != "false",
        history=read.number("PASSWORD_HISTORY", 24),
        max_age_days=read.number("PASSWORD_MAX_AGE_DAYS", 90),
        reminder_days=tuple(int(d) for d in read.items("PASSWORD_REMINDER_DAYS", "14,3")),
        banned_words=read.items("PASSWORD_BANNED_WORDS", DEFAULT_BANNED_WORDS),
    )
    code = CodeSettings(
        lifetime_seconds=read.number("CODE_LIFETIME_SECONDS", 600),
        resend_after_seconds=read.number("CODE_RESEND_AFTER_SECONDS", 60),
        max_attempts=read.number("CODE_MAX_ATTEMPTS", 5),
    )
    limits = LimitSettings(
        sms_per_username=parse_rules(read.text("LIMIT_SMS_PER_USERNAME", "1/60,3/900,5/86400")),
        wrong_codes_per_username=parse_rules(read.text("LIMIT_WRONG_CODES_PER_USERNAME", "10/86400")),
        reset_pause_seconds=read.number("LIMIT_RESET_PAUSE_SECONDS", 86400),
        login_failures_per_username=parse_rules(read.text("LIMIT_LOGIN_FAILURES_PER_USERNAME", "5/900")),
        login_lock_seconds=read.number("LIMIT_LOGIN_LOCK_SECONDS", 900),
        reset_starts_per_ip=parse_rules(read.text("LIMIT_RESET_STARTS_PER_IP", "30/3600")),
        logins_per_ip=parse_rules(read.text("LIMIT_LOGINS_PER_IP", "30/3600")),
        numbers_per_account=parse_rules(read.text("LIMIT_NUMBERS_PER_ACCOUNT", "3/86400")),
        sms_per_service=parse_rules(read.text("LIMIT_SMS_PER_SERVICE", "1000/3600")),
    )
    return Settings(
        stage=stage,
        accounts_table=table("accounts"),
        challenges_table=table("challenges"),
        limits_table=table("limits"),
        audit_table=table("audit"),
        sms_queue=read.text("SMS_QUEUE", f"pwportal-{stage}-sms"),
        sms_queue_url=read.text("SMS_QUEUE_URL", ""),
        sms_sender_id=read.text("SMS_SENDER_ID", "pwportal"),
        portal_host=read.text("PORTAL_HOST", "localhost"),
        support_phone=read.text("SUPPORT_PHONE", "2000, knappval 3 och 1"),
        support_email=read.text("SUPPORT_EMAIL", "vardochstod@orebro.se"),
        secrets_parameter=read.text("SECRETS_PARAMETER", ""),
        pepper=read.text("PEPPER", ""),
        code_key=read.text("CODE_KEY", ""),
        dev_sms=read.text("DEV_SMS", "false").lower() == "true",
        metrics=read.text("METRICS", "false").lower() == "true",
        allowed_countries=tuple(c.upper() for c in read.items("PHONE_ALLOWED_COUNTRIES", "SE")),
        session_seconds=read.number("SESSION_SECONDS", 900),
        reset_token_seconds=read.number("RESET_TOKEN_SECONDS", 600),
        audit_retention_days=read.number("AUDIT_RETENTION_DAYS", 365),
        max_body_bytes=read.number("MAX_BODY_BYTES", 16384),
        sms_max_receives=read.number("SMS_MAX_RECEIVES", 5),
        trusted_proxy_hops=read.number("TRUSTED_PROXY_HOPS", 0),
        client_address_header=read.text("CLIENT_ADDRESS_HEADER", "").lower(),
        policy=policy,
        code=code,
        limits=limits,
    )
