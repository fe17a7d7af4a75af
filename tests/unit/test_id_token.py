"""SPEC 14, 15: the ID token's signature as the OpenID Connect client checks it
(chalicelib/adapters/oidc.py over adapters/jws.py, the standard library alone): RS256 and
RS512 by an RSA key of 2048 bits or more from the provider's JWKS, and nothing else.

The provider here is the test's own: keys it generates, the discovery document and JWKS it
hands the client through its `fetch`, tokens it signs with `cryptography` (a test tool, never
in the Lambda package). What an attacker controls — the token's bytes, its algorithm, the key
it names, its signature's length, a weak key's arithmetic — is altered on tokens signed by a
key the client trusts; tests/idp does the same to Canaille's real tokens.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from chalicelib.adapters import jws
from chalicelib.adapters.oidc import OidcProvider
from chalicelib.domain.sign_in import Identity, SignInRefused

ISSUER = "https://idp.example.test"
CLIENT = "pwportal"
NONCE = "nonce-of-this-sign-in-22"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)
DISCOVERY = ISSUER + "/.well-known/openid-configuration"
JWKS = ISSUER + "/jwks.json"
HASH = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def integer(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def jwk(kid: str, key: Any, **extra: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"kty": "EC", "crv": "P-256", "kid": kid, "x": integer(numbers.x),
                "y": integer(numbers.y), **extra}
    return {"kty": "RSA", "kid": kid, "n": integer(numbers.n), "e": integer(numbers.e),
            **extra}


def claims(**changed: Any) -> dict[str, Any]:
    stamp = int(NOW.timestamp())
    return {"iss": ISSUER, "aud": CLIENT, "sub": "sam.support", "name": "Sam Support",
            "groups": ["pwportal-support"], "nonce": NONCE, "iat": stamp,
            "exp": stamp + 300, **changed}


def signature(key: Any, algorithm: str, signing_input: bytes) -> bytes:
    """The signature `algorithm` makes with `key`, as a provider would write it."""
    family, bits = algorithm[:2], algorithm[2:]
    if family == "RS":
        return key.sign(signing_input, padding.PKCS1v15(), HASH[bits])
    if family == "PS":
        return key.sign(signing_input, padding.PSS(padding.MGF1(HASH[bits]),
                                                   padding.PSS.DIGEST_LENGTH), HASH[bits])
    if family == "ES":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(HASH[bits])))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise AssertionError(algorithm)


def compact(header: dict[str, Any], payload: bytes, sign: Any) -> str:
    """A compact JWS of `header` and `payload`; `sign(signing_input) -> bytes`."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(payload)
    return signing_input + "." + b64(sign(signing_input.encode("ascii")))


class Provider:
    """The test's identity provider: its keys (kid → private key), the JWKS it publishes
    (every key unless told), and what the client fetched from it."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.published = [jwk(kid, key) for kid, key in keys.items()]
        self.fetched: list[str] = []

    def fetch(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        if url == DISCOVERY:
            return {"issuer": ISSUER, "jwks_uri": JWKS,
                    "authorization_endpoint": ISSUER + "/authorize",
                    "token_endpoint": ISSUER + "/token"}
        assert url == JWKS, url
        return {"keys": list(self.published)}

    def client(self) -> OidcProvider:
        return OidcProvider(ISSUER, CLIENT, lambda: "client-secret", fetch=self.fetch)

    def token(self, kid: str = "main", algorithm: str = "RS256", **changed: Any) -> str:
        header = {"alg": algorithm, "typ": "JWT", "kid": kid}
        return compact(header, json.dumps(claims(**changed)).encode(),
                       lambda data: signature(self.keys[kid], algorithm, data))


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {"main": rsa.generate_private_key(65537, 2048),
            "second": rsa.generate_private_key(65537, 3072),
            "small": rsa.generate_private_key(65537, 1024),
            "ec": ec.generate_private_key(ec.SECP256R1())}


@pytest.fixture
def provider(keys) -> Provider:
    return Provider(keys)


def refused(client: OidcProvider, token: str, at: datetime = NOW) -> str:
    with pytest.raises(SignInRefused) as refusal:
        client.verify(token, NONCE, at)
    return refusal.value.reason


def with_signature(token: str, raw: bytes) -> str:
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{b64(raw)}"


# -- what a provider signs -------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["RS256", "RS512"])
@pytest.mark.parametrize("kid", ["main", "second"])
def test_a_token_signed_rs256_or_rs512_by_a_key_of_the_provider_is_accepted(
        provider, algorithm, kid):
    identity = provider.client().verify(provider.token(kid, algorithm), NONCE, NOW)
    assert identity == Identity(issuer=ISSUER, subject="sam.support", name="Sam Support",
                                groups=("pwportal-support",))


def test_a_token_without_a_kid_is_checked_against_the_providers_one_key(keys):
    provider = Provider({"main": keys["main"]})
    token = compact({"alg": "RS256"}, json.dumps(claims()).encode(),
                    lambda data: signature(keys["main"], "RS256", data))
    assert provider.client().verify(token, NONCE, NOW).subject == "sam.support"


# -- altered bytes ---------------------------------------------------------------------------

@pytest.mark.parametrize("position", [0, 1, 100, -2, -1])
def test_a_flipped_bit_in_the_signature_is_refused(provider, position):
    token = provider.token()
    raw = bytearray(unb64(token.split(".")[2]))
    raw[position] ^= 0x01
    assert refused(provider.client(), with_signature(token, bytes(raw))) == "bad_signature"


@pytest.mark.parametrize("inside, offset", [(b'"sam.support"', 10), (b'"exp": ', 8),
                                            (b'"pwportal-support"', 15)])
def test_a_flipped_bit_in_the_payload_is_refused(provider, inside, offset):
    """Each flip keeps the payload valid JSON (another subject, another expiry, another
    group: an `r` becomes an `s`, a digit another digit), so only the signature can tell."""
    header, payload, signed = provider.token().split(".")
    raw = bytearray(unb64(payload))
    raw[raw.index(inside) + offset] ^= 0x01
    assert json.loads(bytes(raw)) != claims()  # still a payload a parser takes, another one
    altered = f"{header}.{b64(bytes(raw))}.{signed}"
    assert refused(provider.client(), altered) == "bad_signature"


def test_a_flipped_bit_in_the_header_is_refused(provider):
    header, payload, signed = provider.token().split(".")
    raw = bytearray(unb64(header))
    raw[raw.index(b'"JWT"') + 3] ^= 0x01  # "typ": "JWU": the header is signed too
    assert refused(provider.client(), f"{b64(bytes(raw))}.{payload}.{signed}") \
        == "bad_signature"


@pytest.mark.parametrize("change", ["one byte short", "a byte missing in front",
                                    "a zero byte in front", "a zero byte after"])
def test_a_signature_one_byte_short_or_long_is_refused(provider, change):
    """A zero byte in front is the same number: only the length rule (RFC 8017 8.2.2
    step 1) refuses it."""
    token = provider.token()
    raw = unb64(token.split(".")[2])
    altered = {"one byte short": raw[:-1], "a byte missing in front": raw[1:],
               "a zero byte in front": b"\0" + raw, "a zero byte after": raw + b"\0"}[change]
    assert refused(provider.client(), with_signature(token, altered)) == "bad_signature"


def test_a_signature_plus_the_modulus_is_refused():
    """s + n is s modulo n: RSAVP1 (RFC 8017 5.2.2) takes only s < n, or one signature would
    have two spellings."""
    # A modulus well below 256^k leaves room for s + n in k bytes for most signatures.
    key = next(key for key in (rsa.generate_private_key(65537, 2048) for _ in range(40))
               if key.public_key().public_numbers().n < 3 * 256 ** 256 // 4)
    provider = Provider({"main": key})
    n = key.public_key().public_numbers().n
    token, s = next((token, s) for token in (provider.token(jti=str(i)) for i in range(100))
                    if (s := int.from_bytes(unb64(token.split(".")[2]), "big")) + n < 256 ** 256)
    assert provider.client().verify(token, NONCE, NOW).subject == "sam.support"
    assert pow(s + n, 65537, n) == pow(s, 65537, n)
    assert refused(provider.client(), with_signature(token, (s + n).to_bytes(256, "big"))) \
        == "bad_signature"


@pytest.mark.parametrize("text", ["a.b", "a.b.c.d", "", "e30.e30.e30=",
                                  "eyJhbGciOiJSUzI1NiJ9.e30.a+b/"])
def test_a_token_that_is_no_compact_jws_is_refused(provider, text):
    assert refused(provider.client(), text) == "bad_token"


def test_a_signed_payload_that_is_no_json_object_is_refused(provider, keys):
    token = compact({"alg": "RS256", "kid": "main"}, b'["sam.support"]',
                    lambda data: signature(keys["main"], "RS256", data))
    assert refused(provider.client(), token) == "bad_token"


def test_a_critical_header_extension_is_refused(provider, keys):
    """RFC 7515 4.1.11: `crit` names extensions the reader must understand; we know none
    (`b64: false` would sign the payload unencoded)."""
    token = compact({"alg": "RS256", "kid": "main", "crit": ["b64"], "b64": False},
                    json.dumps(claims()).encode(),
                    lambda data: signature(keys["main"], "RS256", data))
    assert refused(provider.client(), token) == "bad_token"


# -- algorithms ------------------------------------------------------------------------------

@pytest.mark.parametrize("keep_signature", [False, True])
def test_alg_none_is_refused(provider, keep_signature):
    header, payload, signed = provider.token().split(".")
    none = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "main"}).encode())
    token = f"{none}.{payload}.{signed if keep_signature else ''}"
    assert refused(provider.client(), token) == "bad_token"


@pytest.mark.parametrize("secret_form", ["pem", "der", "jwk", "modulus"])
@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_a_mac_keyed_with_the_providers_public_key_is_refused(provider, keys, secret_form,
                                                               algorithm):
    """The algorithm confusion attack: the public key is public, so a verifier that lets the
    header pick HMAC and keys it with the public key accepts anyone's token."""
    public = keys["main"].public_key()
    secret = {
        "pem": public.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": json.dumps(jwk("main", keys["main"])).encode(),
        "modulus": unb64(jwk("main", keys["main"])["n"]),
    }[secret_form]
    digest = hashlib.sha256 if algorithm == "HS256" else hashlib.sha512
    token = compact({"alg": algorithm, "typ": "JWT", "kid": "main"},
                    json.dumps(claims(sub="mallory")).encode(),
                    lambda data: hmac.new(secret, data, digest).digest())
    assert refused(provider.client(), token) == "bad_token"


@pytest.mark.parametrize("algorithm, kid", [("RS384", "main"), ("PS256", "main"),
                                            ("PS512", "main"), ("ES256", "ec")])
def test_a_real_signature_of_another_algorithm_is_refused(provider, algorithm, kid):
    """Signed by a key the provider publishes, the right way for its algorithm: refused for
    the algorithm alone."""
    assert refused(provider.client(), provider.token(kid, algorithm)) == "bad_token"


def test_a_key_published_for_another_algorithm_does_not_vouch_for_this_one(keys):
    provider = Provider({"main": keys["main"]})
    provider.published = [jwk("main", keys["main"], alg="RS256")]
    assert provider.client().verify(provider.token(), NONCE, NOW).subject == "sam.support"
    assert refused(provider.client(), provider.token(algorithm="RS512")) == "bad_signature"


def test_a_key_published_for_encryption_does_not_vouch(keys):
    provider = Provider({"main": keys["main"]})
    provider.published = [jwk("main", keys["main"], use="enc")]
    assert refused(provider.client(), provider.token()) == "bad_signature"


# -- the keys --------------------------------------------------------------------------------

def test_a_key_under_2048_bits_is_refused(provider, keys):
    token = provider.token("small")
    header, payload, signed = token.split(".")
    # The signature is good for that key: the size alone refuses it.
    keys["small"].public_key().verify(unb64(signed), f"{header}.{payload}".encode(),
                                      padding.PKCS1v15(), hashes.SHA256())
    assert refused(provider.client(), token) == "bad_signature"


def test_a_key_the_provider_does_not_publish_is_refused_after_one_refetch(provider, keys):
    provider.keys["gone"] = rsa.generate_private_key(65537, 2048)  # signed, not published
    client = provider.client()
    assert refused(client, provider.token("gone")) == "bad_signature"
    assert provider.fetched == [DISCOVERY, JWKS, JWKS]


def test_a_key_the_provider_rotated_in_is_found_by_one_refetch(keys):
    provider = Provider({"main": keys["main"], "second": keys["second"]})
    provider.published = [jwk("main", keys["main"])]
    client = provider.client()
    assert client.verify(provider.token("main"), NONCE, NOW).subject == "sam.support"
    provider.published.append(jwk("second", keys["second"]))  # the provider rotates
    assert client.verify(provider.token("second"), NONCE, NOW).subject == "sam.support"
    assert client.verify(provider.token("second"), NONCE, NOW).subject == "sam.support"
    assert provider.fetched == [DISCOVERY, JWKS, JWKS]


def test_without_a_kid_and_several_keys_the_token_is_refused(provider, keys):
    token = compact({"alg": "RS256"}, json.dumps(claims()).encode(),
                    lambda data: signature(keys["main"], "RS256", data))
    assert refused(provider.client(), token) == "bad_signature"


def cube_root(x: int) -> int:
    """The largest r with r³ <= x."""
    r = 1 << ((x.bit_length() + 2) // 3)
    while True:
        smaller = (2 * r + x // (r * r)) // 3
        if smaller >= r:
            break
        r = smaller
    while r ** 3 > x:
        r -= 1
    while (r + 1) ** 3 <= x:
        r += 1
    return r


def test_a_bleichenbacher_forgery_for_an_exponent_of_3_is_refused():
    """Bleichenbacher (2006): with e = 3, a cube root writes a block that begins as a real
    signature's (00 01 FF… 00, the DigestInfo, the hash) and ends in garbage. A verifier that
    reads the block to find the hash accepts it; this one compares the whole block with the
    one encoding there is, so there is no room for garbage."""
    key = rsa.generate_private_key(3, 2048)
    provider = Provider({"main": key})
    assert provider.client().verify(provider.token(), NONCE, NOW).subject == "sam.support"

    n = key.public_key().public_numbers().n
    k = (n.bit_length() + 7) // 8
    header = b64(json.dumps({"alg": "RS256", "kid": "main"}).encode())
    payload = b64(json.dumps(claims(sub="mallory", name="Mallory")).encode())
    digest = hashlib.sha256(f"{header}.{payload}".encode()).digest()
    prefix = b"\x00\x01" + b"\xff" * 8 + b"\x00" + jws.DIGEST_INFO["sha256"] + digest
    garbage_bits = 8 * (k - len(prefix))
    low = int.from_bytes(prefix, "big") << garbage_bits
    s = cube_root(low + (1 << garbage_bits) - 1)
    block = pow(s, 3, n).to_bytes(k, "big")
    assert block.startswith(prefix)  # what a parsing verifier would read: a valid signature
    forged = f"{header}.{payload}.{b64(s.to_bytes(k, 'big'))}"
    assert refused(provider.client(), forged) == "bad_signature"


# -- the claims, once the signature holds ------------------------------------------------------

@pytest.mark.parametrize("changed, reason", [
    ({"iss": "https://other.example.test"}, "wrong_issuer"),
    ({"aud": "other"}, "wrong_audience"),
    ({"aud": ["other", CLIENT]}, "wrong_audience"),  # several audiences and no azp
    ({"aud": ["other", CLIENT], "azp": "other"}, "wrong_audience"),
    ({"nonce": "another-sign-ins-nonce"}, "wrong_nonce"),
    ({"iat": int(NOW.timestamp()) + 61}, "bad_token"),  # from the future
    ({"sub": ""}, "bad_token"),
])
def test_a_signed_token_with_a_wrong_claim_is_refused(provider, changed, reason):
    assert refused(provider.client(), provider.token(**changed)) == reason


def test_several_audiences_with_this_client_as_azp_are_accepted(provider):
    token = provider.token(aud=["other", CLIENT], azp=CLIENT)
    assert provider.client().verify(token, NONCE, NOW).subject == "sam.support"


def test_the_expiry_is_read_at_the_injected_time_with_a_minute_of_leeway(provider):
    token = provider.token()  # exp = NOW + 300 s
    client = provider.client()
    assert client.verify(token, NONCE, NOW + timedelta(seconds=359)).subject == "sam.support"
    assert refused(client, token, NOW + timedelta(seconds=360)) == "expired_token"


# -- cold start ------------------------------------------------------------------------------

def test_import_app_loads_neither_the_client_nor_a_cipher_library():
    probe = subprocess.run(
        [sys.executable, "-c", (
            "import sys, app; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cryptography', 'joserfc', 'rsa') or m in ('chalicelib.adapters.oidc', "
            "'chalicelib.adapters.jws')))")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_the_client_loads_no_cipher_library():
    probe = subprocess.run(
        [sys.executable, "-c", (
            "import sys, chalicelib.adapters.oidc; print(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('cryptography', 'joserfc', 'rsa', 'pyasn1')))")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"
