"""The `BreachedPasswords` of chalicelib/ports.py (SPEC 16): is a new password known from
breaches.

- `ShippedList`: the 19,640 passwords that Have I Been Pwned's Pwned Passwords saw most,
  as Django ships them (lower-cased; `breached_passwords.txt.gz` beside this module, made
  by infra/password_data.py), compared case-insensitively. No network: always asked.
- `RangeApi`: the Pwned Passwords range API, with k-anonymity. Only the first 5 hex
  characters of the password's SHA-1 leave; the API answers every hash suffix it knows
  under that prefix (`SUFFIX:COUNT` lines) and, asked with `Add-Padding: true`, pads the
  answer with made-up suffixes of count 0, so that the answer's size does not tell which
  prefix was asked. The suffix is compared here; a padded line is no breach. Standard
  library HTTP only (urllib): nothing new in the Lambda package. When the API does not
  answer in time, answers an error or what is not the protocol: None (cannot tell).
- `FirstThatKnows`: asks each in turn until one finds the password. bootstrap.py asks the
  range API first (it knows every password of the list and a billion more, case and all),
  then the list, which still refuses its own when the API cannot answer, and knows them
  in any case (`PASSWORD1` as `password1`). The breach check runs only for a password
  that meets every other rule (services/breach_check.py), which is seldom on the list: the
  list first would save next to no requests.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import re
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

from chalicelib.ports import BreachedPasswords

_SHIPPED = Path(__file__).with_name("breached_passwords.txt.gz")
PREFIX_LENGTH = 5
# An answer holds some hundreds of lines of 35 hex characters and a count (padding gives
# 800 to 1,000): a few tens of kB. Anything much larger is not the protocol.
_MAX_ANSWER_BYTES = 256 * 1024
_LINE = re.compile(r"([0-9A-Fa-f]{35}):(\d+)")


@lru_cache(maxsize=1)
def shipped_passwords() -> frozenset[str]:
    """The shipped list, lower-cased as Django made it; read on first use (80 kB)."""
    return frozenset(gzip.decompress(_SHIPPED.read_bytes()).decode("utf-8").split("\n")) \
        - {""}


class ShippedList:
    def breached(self, password: str) -> bool | None:
        return password.lower() in shipped_passwords()


def sha1_hex(password: str) -> str:
    """The password's SHA-1 in upper-case hex, as Pwned Passwords lists it (UTF-8)."""
    # surrogatepass: a lone surrogate (refused as `invalid_characters` anyway) must not
    # raise here
    return hashlib.sha1(password.encode("utf-8", "surrogatepass")).hexdigest().upper()


class RangeApi:
    """`url` ends where the prefix is added (`https://api.pwnedpasswords.com/range/`);
    `timeout_seconds` bounds the connection and each read of the answer."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self._url = url
        self._timeout = timeout_seconds

    def breached(self, password: str) -> bool | None:
        digest = sha1_hex(password)
        prefix, suffix = digest[:PREFIX_LENGTH], digest[PREFIX_LENGTH:]
        request = urllib.request.Request(self._url + prefix, headers={
            "Add-Padding": "true", "User-Agent": "pwportal-breach-check"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                body = answer.read(_MAX_ANSWER_BYTES + 1)
        except (OSError, http.client.HTTPException, ValueError):
            return None  # urllib's URLError and HTTPError are OSErrors, a timeout too
        if len(body) > _MAX_ANSWER_BYTES:
            return None
        found = False
        for line in body.decode("ascii", "replace").splitlines():
            if not line.strip():
                continue
            matched = _LINE.fullmatch(line.strip())
            if matched is None:
                return None  # not the protocol (a proxy's page): cannot tell
            if matched.group(1).upper() == suffix and int(matched.group(2)) > 0:
                found = True  # count 0 is padding, never a breach
        return found


class FirstThatKnows:
    """Asks `sources` in turn: the first that finds the password in a breach says so. Not
    found by any: False, or None when one of them could not tell."""

    def __init__(self, *sources: BreachedPasswords) -> None:
        self._sources = sources

    def breached(self, password: str) -> bool | None:
        answer: bool | None = False
        for source in self._sources:
            said = source.breached(password)
            if said:
                return True
            if said is None:
                answer = None
        return answer
