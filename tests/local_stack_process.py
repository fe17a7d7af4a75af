"""The `make run` stack as a separate process on free ports, for the tests that use it as a
user would (tests/e2e over HTTP, tests/browser through Chromium).

`python -m infra.local_stack` is started with its output collected as it comes (read
continuously, so a full pipe can never stall it); `wait_until_ready` waits for the READY line.
Its ports are 0: the OS gives each server a free one as it binds, and the stack prints which
(a port found free and used later could be taken in between by anything on the machine).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from infra.local_stack import READY
from tests.conftest import ROOT

STARTUP_TIMEOUT = 45
# The lines of the stack's summary that name the ports it was given (infra/local_stack.py).
PRINTED_PORTS = {"port": re.compile(r"^\s+site \(landing\)\s+http://127\.0\.0\.1:(\d+)/"),
                 "moto_port": re.compile(r"^\s+embedded AWS\s+http://127\.0\.0\.1:(\d+)"),
                 "ldap_port": re.compile(r"^\s+LDAP directory\s+ldaps://127\.0\.0\.1:(\d+)")}


class RunningStack:
    """`python -m infra.local_stack` on free ports; `settings` are PWPORTAL_* overrides.
    Once ready: `port`, `moto_port` (and `ldap_port` in `ldap` mode) and `url`."""

    def __init__(self, settings: dict[str, str] | None = None):
        self.port = self.moto_port = self.ldap_port = None
        self.env = {**os.environ, "PWPORTAL_PORT": "0", "PWPORTAL_MOTO_PORT": "0",
                    "PWPORTAL_LDAP_PORT": "0", "PWPORTAL_IDP_PORT": "0", "PYTHONUNBUFFERED": "1",
                    **(settings or {})}
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=ROOT,
                                        env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            for name, printed in PRINTED_PORTS.items():
                if getattr(self, name) is None and (found := printed.match(line)):
                    setattr(self, name, int(found.group(1)))
            if line.startswith(READY):
                self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.ready.wait(0.2):
            if self.process.poll() is not None:
                pytest.fail(f"the stack exited with {self.process.returncode}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"the stack was not ready in {STARTUP_TIMEOUT} s:\n{self.output}")

    def interrupt(self, signum=signal.SIGINT, timeout: float = 10) -> tuple[int, float]:
        """Ctrl-C (or a service manager's SIGTERM); returns the exit code and the time taken."""
        started = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
