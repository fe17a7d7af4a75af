"""The OpenID Connect client (SPEC 14, 15): the one way pwportal speaks to the organisation's
identity provider, the `IdentityProvider` port over HTTP, its ID tokens checked by
adapters/jws.py (the standard library alone).

- The discovery document (`<issuer>/.well-known/openid-configuration`) is fetched on first
  use and kept for the container's life; so is the JWKS, fetched again once when a token
  names a key it does not hold (the provider rotated its keys).
- The authorization code flow with PKCE (S256); the code is redeemed with the client secret
  (HTTP Basic, `client_secret_basic`).
- The ID token: its algorithm must be RS256 or RS512 (never `none`, never HS*: a shared
  secret would let anyone holding it mint tokens; nor ES*, PS*, RS384, which no provider we
  serve needs), its signature one of the provider's RSA keys of 2048 bits or more,
  its issuer the configured one, its audience this client (with `azp` when there are
  several), unexpired at the use case's `now`, and its nonce the sign-in's.

Every refusal is a `SignInRefused(reason)`; a provider that cannot be reached is a
`ServiceUnavailable`. bootstrap.py imports this module when a sign-in first needs it, so
`import app` does not pay for it.
"""
from __future__ import annotations

import base64
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.adapters import jws
from chalicelib.domain import sign_in as reasons
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.sign_in import Identity, SignInRefused

# RS256 and RS512 (adapters/jws.py): Canaille signs RS512 by default; Entra ID and AD FS RS256
ALGORITHMS = tuple(jws.HASHES)
LEEWAY_SECONDS = 60  # the provider's clock and ours may differ a little, never more
TIMEOUT_SECONDS = 5


class OidcProvider:
    def __init__(self, issuer: str, client_id: str, client_secret: Callable[[], str],
                 scopes: str = "openid profile", name_claim: str = "name",
                 groups_claim: str = "groups", timeout: float = TIMEOUT_SECONDS,
                 fetch: Callable[[str], Any] | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret  # from the secrets parameter, read when needed
        self.scopes = scopes
        self.name_claim = name_claim
        self.groups_claim = groups_claim
        self._timeout = timeout
        # GET url → its JSON: over HTTP, or a test's documents (tests/unit/test_id_token.py).
        self._fetch = fetch or self._fetch_over_http
        self._discovery: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None

    # -- the provider's documents ----------------------------------------------------------

    def _fetch_over_http(self, url: str) -> Any:
        try:
            with urllib.request.urlopen(url, timeout=self._timeout) as answer:
                return json.loads(answer.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError):
            raise ServiceUnavailable() from None

    def _get_json(self, url: str) -> dict[str, Any]:
        body = self._fetch(url)
        if not isinstance(body, dict):
            raise ServiceUnavailable()
        return body

    @property
    def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            document = self._get_json(self.issuer + "/.well-known/openid-configuration")
            # OpenID Connect Discovery 4.3: the document must name the issuer it was asked of.
            if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                raise ServiceUnavailable()
            self._discovery = document
        return self._discovery

    def _keys(self, refresh: bool = False) -> dict[str, Any]:
        if self._jwks is None or refresh:
            self._jwks = self._get_json(self.discovery["jwks_uri"])
        return self._jwks

    # -- the flow --------------------------------------------------------------------------

    def authorization_url(self, redirect_uri: str, state: str, nonce: str,
                          code_challenge: str) -> str:
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": redirect_uri, "scope": self.scopes, "state": state,
            "nonce": nonce, "code_challenge": code_challenge,
            "code_challenge_method": "S256"})
        endpoint = str(self.discovery["authorization_endpoint"])
        return endpoint + ("&" if "?" in endpoint else "?") + query

    def exchange(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """The ID token the provider gives for `code`; SignInRefused(code_refused) when it
        refuses the code (used before, another client's, a wrong verifier)."""
        body = urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri, "code_verifier": code_verifier}).encode("ascii")
        # RFC 6749 2.3.1: the id and secret are form-encoded before they are joined.
        credentials = (urllib.parse.quote(self.client_id, safe="") + ":"
                       + urllib.parse.quote(self._client_secret(), safe=""))
        request = urllib.request.Request(
            self.discovery["token_endpoint"], data=body, method="POST", headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "Authorization": "Basic " + base64.b64encode(
                    credentials.encode("utf-8")).decode("ascii")})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                tokens = json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:
                raise SignInRefused(reasons.CODE_REFUSED) from None
            raise ServiceUnavailable() from None
        except (urllib.error.URLError, OSError, ValueError):
            raise ServiceUnavailable() from None
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused(reasons.BAD_TOKEN)
        return id_token

    def identify(self, code: str, redirect_uri: str, code_verifier: str, nonce: str,
                 now: datetime) -> Identity:
        return self.verify(self.exchange(code, redirect_uri, code_verifier), nonce, now)

    # -- the ID token ----------------------------------------------------------------------

    def verify(self, id_token: str, nonce: str, now: datetime) -> Identity:
        try:
            token = jws.parse(id_token)
        except jws.NotAJws:
            raise SignInRefused(reasons.BAD_TOKEN) from None
        algorithm = token.header.get("alg")
        # RFC 7515 4.1.11: an extension we would have to understand is one we do not.
        if algorithm not in ALGORITHMS or "crit" in token.header:
            raise SignInRefused(reasons.BAD_TOKEN)
        key = self._key(token.header.get("kid"))
        if not jws.verify(key, algorithm, token.signing_input, token.signature):
            raise SignInRefused(reasons.BAD_SIGNATURE)
        try:  # read only now that the provider is known to have written it
            claims = json.loads(token.payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise SignInRefused(reasons.BAD_TOKEN) from None
        if not isinstance(claims, dict):
            raise SignInRefused(reasons.BAD_TOKEN)
        return self._identity(claims, nonce, now.timestamp())

    def _key(self, kid: Any) -> jws.RsaPublicKey:
        """The provider's key for `kid` (the JWKS fetched again, once, when it is not there);
        SignInRefused(bad_signature) when no key of the provider can have signed it."""
        for refresh in (False, True):
            listed = self._keys(refresh).get("keys")
            if not isinstance(listed, list):  # a JWKS we cannot read vouches for nothing
                raise ServiceUnavailable()
            keys = [k for k in map(jws.public_key, listed) if k is not None]
            candidates = [k for k in keys if kid is None or k.kid == kid]
            if len(candidates) == 1 or (candidates and kid is not None):
                return candidates[0]
        raise SignInRefused(reasons.BAD_SIGNATURE)

    def _identity(self, claims: dict[str, Any], nonce: str, now: float) -> Identity:
        """The identity the verified token's claims give, once they are checked: issued by
        this provider for this client, live at `now`, for this sign-in (`nonce`)."""
        self._check_issuer_and_audience(claims)
        _check_times(claims, now)
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode("utf-8"),
                                                                 nonce.encode("utf-8")):
            raise SignInRefused(reasons.WRONG_NONCE)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise SignInRefused(reasons.BAD_TOKEN)
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        name = claims.get(self.name_claim)
        return Identity(issuer=self.issuer, subject=subject,
                        name=name if isinstance(name, str) and name.strip() else subject,
                        groups=tuple(str(g) for g in groups if isinstance(g, (str, int))))

    def _check_issuer_and_audience(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") != self.issuer and str(claims.get("iss", "")).rstrip("/") \
                != self.issuer:
            raise SignInRefused(reasons.WRONG_ISSUER)
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self.client_id not in audiences:
            raise SignInRefused(reasons.WRONG_AUDIENCE)
        # OpenID Connect Core 3.1.3.7: with several audiences, `azp` must be this client.
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SignInRefused(reasons.WRONG_AUDIENCE)


def _check_times(claims: dict[str, Any], now: float) -> None:
    """Not expired at `now`, and not issued in the future (both with the leeway)."""
    expires = claims.get("exp")
    if not isinstance(expires, (int, float)) or isinstance(expires, bool) \
            or now >= expires + LEEWAY_SECONDS:
        raise SignInRefused(reasons.EXPIRED_TOKEN)
    issued = claims.get("iat")
    if isinstance(issued, (int, float)) and issued > now + LEEWAY_SECONDS:
        raise SignInRefused(reasons.BAD_TOKEN)  # from the future: a clock or a forgery

