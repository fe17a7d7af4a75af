"""What a use case does when a parallel request changed a limit log first: read again and
retry, a bounded number of times, with a little random back-off."""
from __future__ import annotations

import random
import time

RETRIES = 8


def back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.005 * (2 ** min(attempt, 5))))
