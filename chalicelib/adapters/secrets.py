"""The secrets: the password pepper, the key that codes are HMAC'd under, the key that client
networks are HMAC'd under in the limits table, the key that authenticator apps' secrets are
derived under (SPEC 12, domain/authenticator.py), the identity provider's client secret
(SPEC 15, `idp_client_secret`: the operator's, from the provider) and, on a deployed stage,
the origin key that CloudFront sends with every API request.

Deployed stages keep them in one SSM SecureString parameter (JSON with `pepper`,
`code_key`, `limit_key`, `authenticator_key` and `origin_key`), read on first use and cached
for the container's life. The local stage and the tests give the first four in the
environment and have no origin key.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.adapters import aws

if TYPE_CHECKING:
    from chalicelib.settings import Settings


@dataclass(frozen=True)
class Secrets:
    pepper: bytes
    code_key: bytes
    limit_key: bytes = b""
    authenticator_key: bytes = b""
    origin_key: str = ""
    ldap_bind_password: str = ""  # ldap mode's service account (SPEC 13)
    idp_client_secret: str = ""  # the identity provider's client (SPEC 15); given, not made


def load(settings: Settings) -> Secrets:
    if settings.secrets_parameter:
        raw = aws.client("ssm").get_parameter(Name=settings.secrets_parameter,
                                              WithDecryption=True)["Parameter"]["Value"]
        values = json.loads(raw)
        pepper, code_key = values.get("pepper", ""), values.get("code_key", "")
        limit_key, origin_key = values.get("limit_key", ""), values.get("origin_key", "")
        bind_password = values.get("ldap_bind_password", "")
        authenticator_key = values.get("authenticator_key", "")
        idp_client_secret = values.get("idp_client_secret", "")
    else:
        pepper, code_key, origin_key = settings.pepper, settings.code_key, ""
        limit_key, authenticator_key = settings.limit_key, settings.authenticator_key
        bind_password = settings.directory.bind_password
        idp_client_secret = settings.idp_client_secret
    if min(len(pepper), len(code_key), len(limit_key), len(authenticator_key)) < 16:
        raise RuntimeError("pwportal needs a pepper, a code key, a limit key and an "
                           "authenticator key of at least 16 characters each "
                           "(PWPORTAL_SECRETS_PARAMETER, or PWPORTAL_PEPPER, "
                           "PWPORTAL_CODE_KEY, PWPORTAL_LIMIT_KEY and "
                           "PWPORTAL_AUTHENTICATOR_KEY on the local stage)")
    return Secrets(pepper=pepper.encode("utf-8"), code_key=code_key.encode("utf-8"),
                   limit_key=limit_key.encode("utf-8"),
                   authenticator_key=authenticator_key.encode("utf-8"), origin_key=origin_key,
                   ldap_bind_password=bind_password, idp_client_secret=idp_client_secret)
