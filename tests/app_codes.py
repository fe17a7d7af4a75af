"""An authenticator app's codes for the tests that run against the real clock (the `make run`
stack in tests/e2e and tests/browser), without waiting for a new time step.

The server accepts a code of one step either side of its own and never the same step twice
(SPEC 12; chalicelib/domain/authenticator.py). So a test takes the earliest step that is
accepted now and still CODE_MARGIN seconds from now (a phone whose clock is a little behind)
and then the steps after it (a phone a little ahead): two or three codes in a row without
any wait.
"""
from __future__ import annotations

import time

import pyotp

from chalicelib.domain.authenticator import STEP_SECONDS, WINDOW

# seconds from taking a code to the server checking it, on a busy machine: a browser test's
# fill, click, request and stack took more than 10 s twice under a full test run's load (each
# second more makes more tests wait for a new 30 s step: 25 cost a whole run 40 s)
CODE_MARGIN = 15


def earliest_accepted_step(now: float | None = None) -> int:
    """The earliest step whose code the server accepts at `now` and CODE_MARGIN after."""
    now = time.time() if now is None else now
    return int((now + CODE_MARGIN) // STEP_SECONDS) - WINDOW


def app_code(secret: str, after_step: int | None = None) -> tuple[str, int]:
    """A code the app shows for `secret` that the server accepts now, and its step: the
    earliest such step, or with `after_step` the earliest later than it (no replay). Only a
    fourth code within one 30-second step has to wait, for the next step."""
    while True:
        now = time.time()
        step = earliest_accepted_step(now)
        if after_step is not None:
            step = max(step, after_step + 1)
        if step <= int(now // STEP_SECONDS) + WINDOW:
            return pyotp.TOTP(secret).at(step * STEP_SECONDS), step
        time.sleep(STEP_SECONDS - now % STEP_SECONDS + 0.2)
