"""Children of the local stack die with it, even when it is killed with SIGKILL.

A `kill -9` of `make run` runs no cleanup, and `chalice local` (in its own session, so that a
Ctrl-C reaches only the stack) would live on, holding its port. So every child is started
through this guard:

    python -m infra.child_guard PARENT_PID -- COMMAND [ARG...]

On Linux the guard asks the kernel to send it SIGTERM when its parent dies
(`prctl(PR_SET_PDEATHSIG)`, which survives `execve`), checks that the parent has not died
already, and then becomes COMMAND (`execvp`): no extra process, any program (the API, a
directory server) can be guarded. Elsewhere it stays as COMMAND's parent and watches: when
the stack's pid is no longer its parent, it stops COMMAND and exits.

`guarded(command)` builds that command line for the calling process. The kernel sends the
signal when the *thread* that started the child ends, so start children from a thread that
lives as long as the stack (its main thread).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.5


def guarded(command: list[str], parent_pid: int | None = None) -> list[str]:
    """`command`, run so that it dies with `parent_pid` (this process by default)."""
    return [sys.executable, "-m", "infra.child_guard", str(parent_pid or os.getpid()), "--",
            *command]


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel for `signum` when the parent dies; False where that cannot be done."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0


def watch(parent_pid: int, command: list[str]) -> int:
    """Run `command` as a child and stop it once `parent_pid` is gone (or on a signal)."""
    child = subprocess.Popen(command)

    def stop(signum, frame):
        child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if os.getppid() != parent_pid:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
            break
        time.sleep(WATCH_INTERVAL)
    return child.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m infra.child_guard PARENT_PID -- COMMAND [ARG...]",
              file=sys.stderr)
        return 2
    parent_pid, command = int(argv[0]), argv[2:]
    if die_with_parent():
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent_pid:
            return 1
        os.execvp(command[0], command)
    if os.getppid() != parent_pid:
        return 1
    return watch(parent_pid, command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
