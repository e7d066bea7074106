"""An estimate of the time a long pass still needs, from its own rate since it (re)started: what the window's
progress bar says beside the count (a resumed build's finished chunks count as done, not as speed)."""
from __future__ import annotations

import time
from typing import Callable

SETTLE_S = 2.0          # no estimate before the pass has run this long (its first images include start-up)


def describe(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(5, round(seconds / 5) * 5):.0f} s left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"


class TimeLeft:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.start: tuple[float, int] | None = None

    def update(self, done: int, total: int) -> str:
        """'' until the rate is known (or when done), else e.g. 'about 3 min left'."""
        now = self.clock()
        if self.start is None or done < self.start[1]:
            self.start = (now, done)
        t0, done0 = self.start
        if done >= total or now - t0 < SETTLE_S or done <= done0:
            return ""
        return describe((total - done) * (now - t0) / (done - done0))
