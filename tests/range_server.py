"""A Pwned Passwords range API on loopback (SPEC 16), for the breach check's tests.

It speaks the protocol of `GET /range/{first 5 hex characters of the SHA-1}`: one line
`SUFFIX:COUNT` (the other 35 characters, upper case) for every password of its list whose
hash starts with the prefix, and, when the request carries `Add-Padding: true`, made-up
suffixes with count 0 until the answer has PADDED_LINES lines, as the real API pads. Its
list is a real one: the passwords the package ships (adapters/breached_passwords.txt.gz,
Django's copy of the 20,000 passwords Pwned Passwords saw most), each counted by its rank.
Every request is kept (path and headers), so a test can say what left the portal.

`unanswering()` is the other server a test needs: one that takes the connection and never
says a word, so the client's own timeout is what ends the wait.
"""
from __future__ import annotations

import hashlib
import random
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.adapters.breached import _SHIPPED

PADDED_LINES = 800  # the real API pads each answer to between 800 and 1,000 lines


def shipped_list() -> list[str]:
    """The shipped list in its order, most seen first."""
    import gzip
    return [line for line in gzip.decompress(_SHIPPED.read_bytes()).decode("utf-8")
            .split("\n") if line]


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8")).hexdigest().upper()


@dataclass
class Received:
    path: str
    headers: dict[str, str]


@dataclass
class RangeServer:
    url: str  # ends in /range/, as PWPORTAL_BREACH_RANGE_URL
    received: list[Received] = field(default_factory=list)


def by_prefix(passwords: Iterable[str]) -> dict[str, dict[str, int]]:
    """{prefix: {suffix: count}}; the first password of the list is counted most."""
    listed = list(passwords)
    found: dict[str, dict[str, int]] = {}
    for rank, password in enumerate(listed):
        digest = sha1_hex(password)
        found.setdefault(digest[:5], {})[digest[5:]] = len(listed) - rank
    return found


@contextmanager
def range_server(passwords: Iterable[str] | None = None, padded_as: Iterable[str] = ()
                 ) -> Iterator[RangeServer]:
    """The range API on 127.0.0.1, on a port the OS gives, for the with-block. `padded_as`:
    passwords whose suffix its padding happens to hold (count 0), as a real answer may."""
    hashes = by_prefix(shipped_list() if passwords is None else passwords)
    for password in padded_as:
        digest = sha1_hex(password)
        hashes.setdefault(digest[:5], {})[digest[5:]] = 0
    server = RangeServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            server.received.append(Received(self.path, dict(self.headers.items())))
            prefix = self.path.rpartition("/")[2].upper()
            if not self.path.startswith("/range/") or len(prefix) != 5 or any(
                    char not in "0123456789ABCDEF" for char in prefix):
                self.send_error(400, "The hash prefix was not in a valid format")
                return
            lines = dict(hashes.get(prefix, {}))
            if self.headers.get("Add-Padding", "").lower() == "true":
                made_up = random.Random(prefix)
                while len(lines) < PADDED_LINES:
                    lines.setdefault(f"{made_up.getrandbits(140):035X}", 0)
            body = "\r\n".join(f"{suffix}:{count}" for suffix, count in lines.items())
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode("ascii"))

        def log_message(self, *args: object) -> None:
            pass  # the test's output is the test's

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/range/"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextmanager
def unanswering() -> Iterator[str]:
    """A range API URL whose server takes the connection (the kernel's backlog does) and
    never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}/range/"
