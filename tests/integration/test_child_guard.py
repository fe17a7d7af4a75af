"""infra/child_guard.py: a child of the local stack dies with it, even after a `kill -9`,
through the kernel (Linux, `PR_SET_PDEATHSIG`) or through the guard's own watch (elsewhere).
Each test plays the stack with a small parent process and kills it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

GONE_TIMEOUT = 15

# A stand-in for the stack: starts `sleep 120` through the guard (or through watch(), the
# guard's way where there is no prctl), prints the pids it knows, and waits to be killed.
PARENT = """
import os, subprocess, sys, time
from infra.child_guard import guarded
mode = sys.argv[1]
if mode == "exec":
    command = guarded(["sleep", "120"])
else:
    command = [sys.executable, "-c",
               "import sys; from infra.child_guard import watch; "
               "sys.exit(watch(int(sys.argv[1]), ['sleep', '120']))", str(os.getpid())]
child = subprocess.Popen(command)
print(child.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as children:
                kids = [int(kid) for kid in children.read().split()]
        except OSError:
            kids = []
        found += kids
        todo += kids
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode", ["exec", "watch"])
def test_a_guarded_child_dies_when_its_parent_is_killed(mode):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        int(parent.stdout.readline())
        deadline = time.monotonic() + GONE_TIMEOUT
        while time.monotonic() < deadline and not any(
                open(f"/proc/{pid}/cmdline").read().startswith("sleep")
                for pid in descendants(parent.pid) if alive(pid)):
            time.sleep(0.05)
        children = descendants(parent.pid)
        assert children, "the parent started its child"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + GONE_TIMEOUT
        while time.monotonic() < deadline and any(alive(pid) for pid in children):
            time.sleep(0.05)
        left = [pid for pid in children if alive(pid)]
    finally:
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
        parent.stdout.close()
    assert not left


def test_the_guard_runs_nothing_when_its_parent_is_already_gone():
    not_the_parent = 1  # the guard's parent is this test process, not pid 1
    started = subprocess.run([sys.executable, "-m", "infra.child_guard", str(not_the_parent),
                              "--", "sh", "-c", "echo ran"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
    assert started.returncode == 1
    assert "ran" not in started.stdout


def test_a_guarded_command_runs_and_keeps_its_exit_code():
    finished = subprocess.run([sys.executable, "-m", "infra.child_guard", str(os.getpid()),
                               "--", "sh", "-c", "echo ran; exit 3"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30)
    assert (finished.returncode, finished.stdout) == (3, "ran\n")
