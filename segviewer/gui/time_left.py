"""An estimate of the time a long pass still needs, from its own rate since it (re)started: what the window's
progress bar says beside the count (a resumed build's finished chunks count as done, not as speed)."""
from __future__ import annotations

import time
from typing import Callable

from PySide6.QtWidgets import QProgressBar

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


class IndexProgress(QProgressBar):
    """The index pass in the status bar: images done of all and, once its rate is known, the time left."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.clock = clock
        self.setMaximumWidth(340)
        self.setFormat("index %v / %m")
        self.hide()
        self._time_left = TimeLeft(clock)

    def restart(self, total: int) -> None:
        """A dataset opened: its pass starts (or resumes, or is read from the cache) now."""
        self._time_left = TimeLeft(self.clock)
        self.setRange(0, total)
        self.setValue(0)
        self.show()

    def report(self, done: int, total: int) -> None:
        left = self._time_left.update(done, total)
        self.setFormat("index %v / %m" + (f" · {left}" if left else ""))
        self.setRange(0, max(total, 1))
        self.setValue(done)
        self.setVisible(done < total)
