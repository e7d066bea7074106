"""Reaching the team server again without ever making a store call wait for it.

A connect to a server that does not answer (a dropped network, a blackholed route) blocks for libpq's connect
timeout (5 s). So an offline store never connects on the thread that calls it: a `Redial` makes each attempt on a
thread of its own and hands over the connection it made; the store picks it up on its next call (none waits).
Attempts are spaced by a growing delay — 1 s, 2 s, 4 s ... at most 30 s — back to 1 s after a success, so a server
that stays away costs one short-lived thread now and then, not a busy session thread.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0


class Backoff:
    """The delays between attempts: first, doubling, at most cap; reset() after a success."""

    def __init__(self, first: float = FIRST_DELAY_S, cap: float = MAX_DELAY_S):
        self.first, self.cap = first, cap
        self._next = first

    def delay(self) -> float:
        """The delay before the next attempt (each call: the one after a failed attempt)."""
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Fatal(Exception):
    """An attempt reached the server and found it unusable (not a reason to try again): carries the store's error."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class Redial:
    """Attempts of `attempt()` (which returns an open connection, raises Fatal, or raises anything else for "not
    now"), one at a time, on a thread of their own. Only take() and close() are called by the store, under the
    store's lock; the attempt's thread touches nothing but this object's slot."""

    def __init__(self, attempt: Callable[[], object], name: str):
        self._attempt, self._name = attempt, name
        self.backoff = Backoff()
        self._lock = threading.Lock()
        self._running = False
        self._result: object = None       # a connection, a Fatal, or None
        self._due = 0.0
        self._closed = False
        self.attempts = 0                 # attempts started (for tests and the benchmark)

    def schedule(self, now: bool = False) -> None:
        """The link was lost: the first attempt after the first delay (at once when now)."""
        with self._lock:
            self.backoff.reset()
            self._due = time.monotonic() + (0.0 if now else self.backoff.delay())

    def take(self):
        """A connection made since the last call (the store owns it now), or None; starts an attempt when one is
        due and none is running. Raises the store's error when an attempt found the server unusable."""
        with self._lock:
            result, self._result = self._result, None
            if isinstance(result, Fatal):
                raise result.error
            if result is not None:
                self.backoff.reset()
                return result
            if not self._running and not self._closed and time.monotonic() >= self._due:
                self._running = True
                self.attempts += 1
                threading.Thread(target=self._run, name=self._name, daemon=True).start()
        return None

    def _run(self) -> None:
        try:
            result = self._attempt()
        except Fatal as exc:
            result = exc
        except Exception:   # not reachable now: the next attempt after a longer delay
            result = None
        with self._lock:
            self._running = False
            if result is None:
                self._due = time.monotonic() + self.backoff.delay()
            elif self._closed:
                _close(result)
            else:
                self._result = result

    def close(self) -> None:
        """No more attempts; a connection still being made is closed by its thread when it arrives."""
        with self._lock:
            self._closed = True
            result, self._result = self._result, None
        _close(result)


def _close(result) -> None:
    if result is not None and not isinstance(result, Fatal):
        try:
            result.close()
        except Exception:   # the connection was already broken: nothing to give back
            pass
