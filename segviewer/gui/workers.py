"""Background work for the window: one thread per worker, newest request wins, results back on the GUI thread."""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal


class LatestOnlyWorker(QObject):
    """Runs jobs one at a time off the GUI thread. A job submitted under a kind that is still pending replaces
    the older one, so a fast slider drag never queues stale work; pending kinds run in priority order."""

    finished = Signal(object)   # (callback, result) delivered on the GUI thread

    def __init__(self, name: str, priorities: tuple[str, ...] = (), parent: QObject | None = None):
        super().__init__(parent)
        self._priorities = priorities
        self._pending: dict[str, tuple] = {}
        self._cond = threading.Condition()
        self._stopped = False
        self._outstanding = 0   # submitted jobs whose result has not reached the GUI thread yet
        self.finished.connect(self._deliver)
        self._thread = threading.Thread(target=self._run, name=f"segviewer-{name}", daemon=True)
        self._thread.start()

    def submit(self, kind: str, job: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> None:
        with self._cond:
            if kind not in self._pending:
                self._outstanding += 1
            self._pending[kind] = (job, on_done, on_error)
            self._cond.notify()

    def cancel(self, kind: str) -> None:
        with self._cond:
            if self._pending.pop(kind, None) is not None:
                self._outstanding -= 1

    def idle(self) -> bool:
        """True when nothing is queued, running, or waiting to be delivered."""
        with self._cond:
            return self._outstanding == 0

    def stop(self, timeout: float = 5.0) -> None:
        """Drops pending work and waits for the running job, so no thread outlives the window."""
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._outstanding = 0
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                kind = next((k for k in self._priorities if k in self._pending), next(iter(self._pending)))
                job, on_done, on_error = self._pending.pop(kind)
            try:
                payload = (on_done, job())
            except BaseException as exc:  # delivered to the GUI thread, never lost in a thread
                if on_error is None:
                    traceback.print_exc()
                payload = (on_error, exc)
            if not self._stopped:
                self.finished.emit(payload)

    def _deliver(self, payload) -> None:
        with self._cond:
            self._outstanding = max(0, self._outstanding - 1)
        callback, result = payload
        if callback is not None:
            callback(result)


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000
