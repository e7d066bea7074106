"""The team store's link to its server: going offline, coming back, listening for others' commits, and poll().

Reads: poll() reads the session only when the LISTEN connection says something was committed to it, when that
connection was (re)made, or every READ_EVERY_S as a safety net — an idle window costs the server a read every 10 s,
not ten a second. Without a listener (not made yet, or lost) it reads every UNHEARD_READ_S instead, so another
reviewer's change still shows within a second.

Faults: a store that finds the server gone goes offline at once (changes go to the journal, no call waits for the
network again); connections are made again on threads of their own (pg_reconnect, growing delays) and taken up by
the next call, which then sends the journal, in order, once.

Threading (see store.SessionStore): `_lock` serializes every call; poll() waits for notifications holding only
`_poll_lock` (one poller at a time), so writes from other threads go on meanwhile. The listening connection is the
poller's alone: another thread that finds the server gone only flags it (`_drop_listener`), and the poller closes it.
"""
from __future__ import annotations

import time

from .events import ConnectionEvent, ConnectionState, connection_message
from .model import SessionError
from .pg_connect import connect, is_gone, psycopg
from .pg_journals import send_left_behind
from .pg_reconnect import Fatal
from .pg_schema import CHANNEL, Untrusted, check_schema, schema_exists

READ_EVERY_S = 10.0      # with a listener: the session is read at least this often (a lost notification)
UNHEARD_READ_S = 0.5     # without one: read this often, so others' changes still show within a second
UNHEARD_STEP_S = 0.1     # without one, poll wakes this often (a listener made meanwhile is taken up)
WAIT_STEP_S = 1.0        # a poll waits in steps of at most this: close() on another thread waits no longer


class PgLink:
    """Mixed into PostgresStore (which owns the attributes used here)."""

    # ---- going offline, coming back ----
    def _raise_unless_gone(self, exc: Exception, doing: str) -> None:
        if self.read_only or not is_gone(exc, self.con):   # a report fails rather than read nothing
            raise self._fail(exc, doing) from None

    def _gone_or_raise(self, exc: Exception, doing: str) -> None:
        self._raise_unless_gone(exc, doing)
        self._go_offline()

    def _go_offline(self) -> None:
        """The server is gone (any thread, under the store's lock): saves go to the journal from now on."""
        if self._online:
            self._online = False
            pending = self._journal.count() if self._journal is not None else 0
            self._events.append(ConnectionEvent(False, pending, connection_message(False, pending)))
            self._relink.schedule()
            self.leases.lost()
        self._drop_listener = True

    def _reachable(self) -> bool:
        """Online; or back online now, when a connection made on the reconnect thread is ready. Never waits."""
        if not self._online and not self._closing:
            con = self._relink.take()
            if con is not None:
                self._adopt(con)
        return self._online

    def _adopt(self, con) -> None:
        old, self.con, self._online = self.con, con, True
        self._schema_checked = True          # checked by the attempt that made it
        _close_quietly(old)
        self._dirty = True
        self.leases.changed = True
        self._flush()
        send_left_behind(self)
        if self._online:
            self._relisten.schedule(now=True)
            pending = self._journal.count() if self._journal is not None else 0
            self._events.append(ConnectionEvent(True, pending, connection_message(True, pending)))

    def _new_link(self):
        """A new connection whose schema (if any) is segviewer's — run on the reconnect thread, touching nothing of
        the store's but its settings."""
        try:
            con = connect(self.target, self._conninfo)
        except SessionError:
            return None
        try:
            if schema_exists(con):
                check_schema(con)
        except Untrusted as exc:
            con.close()
            raise Fatal(SessionError(self.target, f"after reconnecting: {exc}")) from None
        except psycopg.Error:
            con.close()
            return None
        return con

    def _new_listener(self):
        """A connection listening on segviewer's channel (on the listener thread)."""
        try:
            con = connect(self.target, self._conninfo)
        except SessionError:
            return None
        try:
            con.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            con.close()
            return None
        return con

    def connection(self) -> ConnectionState:
        pending = self._journal.count() if self._journal is not None else 0
        return ConnectionState(self._online, pending, connection_message(self._online, pending))

    # ---- events ----
    def poll(self, timeout: float = 0.0) -> list:
        """Others' changes, lease news and connection news; waits up to timeout for the first. Never waits on the
        network for a connection (reconnecting runs on threads of its own); a read may take the server's answer."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._poll_lock:
            with self._lock:
                if self._listener is None:   # nothing tells what was committed since the last read: read
                    self._dirty = True
            self._wait(0.0)                  # what the listener has heard already
            while True:
                with self._lock:
                    if self._closing:
                        return []
                    self._reachable()
                    self._keep_listening()
                    if self._dirty or time.monotonic() >= self._read_at:
                        self.refresh()
                    self.leases.renew_and_watch()
                    if self._events or time.monotonic() >= deadline:
                        events, self._events = self._events, []
                        return events
                self._wait(deadline - time.monotonic())

    def _read_every(self) -> float:
        return READ_EVERY_S if self._listener is not None and not self._drop_listener else UNHEARD_READ_S

    def _keep_listening(self) -> None:
        """(The poller, under the lock.) Closes a listener flagged as lost; takes up a new one once it is made."""
        if self._drop_listener:
            self._close_listener()
            self._drop_listener = False
        if self._listener is None and self._online:
            listener = self._relisten.take()
            if listener is not None:
                self._listener = listener
                self._dirty = self.leases.changed = True   # whatever was committed before LISTEN is read now

    def _wait(self, seconds: float) -> None:
        """(The poller, without the store's lock.) Until a notification arrives or seconds pass (0: takes what
        has arrived, without waiting)."""
        with self._lock:
            listener = None if self._drop_listener else self._listener
        if listener is None:
            if seconds > 0:
                time.sleep(min(seconds, UNHEARD_STEP_S))
            return
        try:
            for note in listener.notifies(timeout=max(0.0, min(seconds, WAIT_STEP_S)), stop_after=1):
                self._heard(note.payload)
        except psycopg.Error:
            with self._lock:
                self._drop_listener = True
                self._dirty = True     # the next read finds out whether the server is gone

    def _heard(self, payload: str) -> None:
        """A notification: 'SESSION c' (changes committed) or 'SESSION l' (leases changed)."""
        sid, _, what = payload.partition(" ")
        with self._lock:
            ours = self._session_id is None or sid == str(self._session_id)
            if ours and what == "c":
                self._dirty = True
            elif ours and what == "l":
                self.leases.changed = True

    def _close_listener(self) -> None:
        _close_quietly(self._listener)
        self._listener = None

    def close(self) -> None:
        """Gives up this window's lease and closes everything; a poll on another thread ends first."""
        self._closing = True
        with self._poll_lock, self._lock:
            try:
                if self.con is not None and self._online:
                    self.leases.release()
            except (SessionError, psycopg.Error):
                pass
            self._relink.close()
            self._relisten.close()
            self._close_listener()
            _close_quietly(self.con)
            if self._journal is not None:
                self._journal.close()


def _close_quietly(con) -> None:
    if con is not None:
        try:
            con.close()
        except psycopg.Error:   # already broken: nothing to give back
            pass
