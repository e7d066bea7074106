"""The window's review session on a thread of its own: the Qt side of window_session.

Every call to the store runs on that thread — opening, reading, writing, leases — so the GUI thread never waits on
a database. The GUI thread queues calls (`call`); their answers, the session's state and others' changes come back
as Qt signals, delivered on the GUI thread. Between calls the thread polls the store for POLL_S at a time, so a
queued call waits at most POLL_S. A team store's poll reads the server only when its LISTEN connection says someone
committed (within milliseconds), or every 10 s — an idle window costs the server next to nothing — and it never
waits for a connect: when the server is gone, reconnecting runs on threads of the store's own, and a save goes to
the offline journal at once.
"""
from __future__ import annotations

import queue
import sys
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from ..core.errors import LoadError, OptionError
from .window_session import SessionState, WindowSession

POLL_S = 0.1
EXPECTED = (LoadError, OptionError)     # a session's own failures (SessionError is a LoadError): one line each


class SessionWorker(QObject):
    state_changed = Signal(object)      # SessionState
    others_changed = Signal(object)     # [ChangeEvent]: changes made in other windows
    closed = Signal(str)                # the session could not be opened or cannot be used any more: why
    _answer = Signal(object)            # (callback, value), from the session thread

    def __init__(self, open_store: Callable[[], Any], names: list[str], mask: Callable[[str], str] = str):
        """open_store: opens the store (called on the session thread); names: the dataset's images; mask: what
        every message passes through before it is shown (a team URL's password)."""
        super().__init__()
        self._open_store, self._names, self._mask = open_store, list(names), mask
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._outstanding = 1             # the opening
        self._latest: dict[str, object] = {}
        self._stopped = threading.Event()
        self._answer.connect(self._deliver)
        self.state: SessionState | None = None
        self._thread = threading.Thread(target=self._run, name="segviewer-session", daemon=True)
        self._thread.start()

    # ---- the GUI thread's side ----
    def call(self, job: Callable[[WindowSession], Any], on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[str], None] | None = None, latest: str | None = None) -> None:
        """Runs job(session) on the session thread, in the order of the calls; on_done(result) or on_error(message)
        follow on the GUI thread, after the state the call left behind. latest: a kind of call of which only the
        newest one still queued runs (walking through images fast takes only the last one's lease)."""
        token = object()
        with self._lock:
            self._outstanding += 1
            if latest is not None:
                self._latest[latest] = token
        self._calls.put((job, on_done, on_error, latest, token))

    def idle(self) -> bool:
        """Nothing queued, running or waiting to be delivered (the window shows what the session holds)."""
        with self._lock:
            return self._outstanding == 0

    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, wait_s: float = 0.0) -> None:
        """Ends the session after the calls already queued (their answers are no longer delivered): the lease is
        given up and the store closed on the session thread; waits up to wait_s for that."""
        self._stopped.set()
        self._calls.put(None)
        if wait_s > 0 and threading.current_thread() is not self._thread:
            self._thread.join(wait_s)

    def _deliver(self, payload) -> None:
        callback, value, counted = payload
        if counted:
            with self._lock:
                self._outstanding = max(0, self._outstanding - 1)
        if isinstance(value, SessionState):
            self.state = value
        if callback is not None and not self._stopped.is_set():
            callback(value)

    # ---- the session thread ----
    def _send(self, callback, value, counted: bool = False) -> None:
        self._answer.emit((callback, value, counted))

    def _run(self) -> None:
        try:
            session = WindowSession(self._open_store(), self._names)
        except EXPECTED as exc:
            self._send(self.closed.emit, self._mask(str(exc)), counted=True)
            return
        except BaseException as exc:   # a bug: said once, never lost in a thread
            self._send(self.closed.emit, self._bug(exc), counted=True)
            return
        try:
            self._publish(session, [], force=True, counted=True)
            self._serve(session)
        except EXPECTED as exc:
            self._send(self.closed.emit, self._mask(str(exc)))
        except BaseException as exc:
            self._send(self.closed.emit, self._bug(exc))
        finally:
            try:
                session.close()
            except EXPECTED:
                pass

    def _serve(self, session: WindowSession) -> None:
        while True:
            ran = self._run_calls(session)
            if ran is None:
                return
            events = session.store.poll(timeout=0.0 if not self._calls.empty() else POLL_S)
            if ran or events:
                self._publish(session, session.absorb(events))

    def _run_calls(self, session: WindowSession) -> int | None:
        """The calls queued now, in order; None when the window stopped the session."""
        ran = 0
        while True:
            try:
                item = self._calls.get_nowait()
            except queue.Empty:
                return ran
            if item is None:
                return None
            job, on_done, on_error, latest, token = item
            if latest is not None and not self._is_latest(latest, token):
                continue
            try:
                result, callback = job(session), on_done
            except EXPECTED as exc:
                result, callback = self._mask(str(exc)), on_error
            self._publish(session, [])          # the state first: an answer finds the window up to date
            self._send(callback, result, counted=True)
            ran += 1

    def _is_latest(self, kind: str, token: object) -> bool:
        """True for the newest call of its kind; an older one is dropped here (and no longer waited for)."""
        with self._lock:
            if self._latest.get(kind) is token:
                return True
            self._outstanding -= 1
            return False

    def _publish(self, session: WindowSession, others: list, force: bool = False, counted: bool = False) -> None:
        state = session.state(force)
        if state is not None:
            self._send(self.state_changed.emit, state, counted)
        elif counted:
            self._send(None, None, counted)
        if others:
            self._send(self.others_changed.emit, others)

    def _bug(self, exc: BaseException) -> str:
        text = self._mask("".join(traceback.format_exception(exc)))
        print(text, file=sys.stderr)
        return self._mask(f"the review session stopped: {type(exc).__name__}: {exc}")
