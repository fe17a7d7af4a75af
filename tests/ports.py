"""Ports for tests, taken by the OS and never guessed: a port found free and then closed can
be taken by anything else on the machine (another test run, a server of another suite)
before the test uses it."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unanswered_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on `host` where nothing answers, for the with-block: it stays bound, so the
    OS gives it to no one else, and it never listens, so every connection is refused."""
    with socket.socket() as held:
        held.bind((host, 0))
        yield held.getsockname()[1]
