"""`make run` stops when asked (issue 22): a SIGTERM to the `make` process (a service
manager's stop, `timeout`, `kill`) and a Ctrl-C (SIGINT to the terminal's process group)
stop the whole stack in every variant, and its ports are free afterwards.

`make` is run as a developer runs it, with the virtualenv that runs these tests (its
set-up step taken as done: `-o`), on ports the stack takes from the OS and prints."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from infra.ldap_server import slapd_available
from infra.local_stack import READY
from tests.conftest import ROOT
from tests.local_stack_process import PRINTED_PORTS

STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 20  # the stack's own deadline is 10 s (infra/local_stack.py)


class MakeRun:
    """`make run ARGS` in its own process group, as a terminal's foreground job is."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        venv = sys.prefix  # the virtualenv of this Python, as the Makefile's VENV
        self.ports: dict[str, int] = {}
        self.lines: list[str] = []
        self.ready = threading.Event()
        env = {**os.environ, "PWPORTAL_PORT": "0", "PWPORTAL_MOTO_PORT": "0",
               "PWPORTAL_LDAP_PORT": "0", "PYTHONUNBUFFERED": "1", **(env or {})}
        env.pop("MAKEFLAGS", None)
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", f"{venv}/.run-installed", "run",
             f"VENV={venv}", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            for name, printed in PRINTED_PORTS.items():
                if found := printed.match(line):
                    self.ports[name] = int(found.group(1))
            if line.startswith(READY):
                self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`make run` was not ready (exit {self.process.poll()}):\n"
                            + self.output)

    def stack_pids(self) -> list[int]:
        """Every process under make: the stack and what it started (the API, slapd, ...)."""
        parents = {}
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(") ", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass  # gone meanwhile
        found, last = [], [self.process.pid]
        while last:
            last = [pid for pid, parent in parents.items() if parent in last]
            found += last
        return found

    def clean_up(self, pids: list[int]) -> None:
        """Whatever is left (after a failed test) does not outlive the test: make, the stack
        and the processes the stack had started (`pids`, taken while it ran)."""
        for pid in [self.process.pid, *pids, *self.stack_pids()]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def stops(run: MakeRun, how: str, pids: list[int]) -> None:
    if how == "sigterm":  # to make alone, as `kill <make's pid>` does
        run.process.send_signal(signal.SIGTERM)
    else:  # Ctrl-C: the terminal signals the whole foreground group
        os.killpg(os.getpgid(run.process.pid), signal.SIGINT)
    run.process.wait(STOP_TIMEOUT)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and (
            any(alive(pid) for pid in pids) or any(answers(p) for p in run.ports.values())):
        time.sleep(0.1)
    assert not [pid for pid in pids if alive(pid)], run.output
    assert not [port for port in run.ports.values() if answers(port)], run.output


VARIANTS = [pytest.param((), "sigterm", id="make-run-sigterm"),
            pytest.param((), "ctrl-c", id="make-run-ctrl-c"),
            pytest.param(("DIRECTORY=ldap",), "sigterm", id="make-run-ldap-sigterm"),
            pytest.param(("DIRECTORY=ldap",), "ctrl-c", id="make-run-ldap-ctrl-c")]


@pytest.mark.skipif(not shutil.which("make") or not os.path.isdir("/proc"),
                    reason="needs make and /proc")
@pytest.mark.parametrize("args, how", VARIANTS)
def test_make_run_stops_on_sigterm_and_ctrl_c_and_frees_its_ports(args, how, tmp_path):
    if args and not slapd_available():
        pytest.skip("DIRECTORY=ldap needs Debian's slapd (make test installs it)")
    run, pids = MakeRun(*args, env={"PWPORTAL_LDAP_FOLDER": str(tmp_path)}), []
    try:
        run.wait_until_ready()
        expected = {"port", "moto_port", *(["ldap_port"] if args else [])}
        assert set(run.ports) == expected, run.output
        assert all(answers(port) for port in run.ports.values())
        pids = run.stack_pids()
        assert len(pids) >= 2, "make runs the stack, the stack runs the API"
        stops(run, how, pids)
        run.reader.join(5)  # the output to its end, now that every writer is gone
        assert "pwportal stopped." in run.output
    finally:
        run.clean_up(pids)
