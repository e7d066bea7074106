"""The team store: a session in segviewer's schema on a PostgreSQL server, shared by several reviewers at once.

Changes are committed one session at a time (a transaction-scoped advisory lock), so the session's order (seq) is
the order of commits and a reader that asks for "everything after seq n" never misses one. Each commit notifies
the `segviewer` channel; `poll()` listens on a second connection and hands out the changes of others within
milliseconds. When the server or the network goes away the store keeps working: changes go to the offline
journal (durable before "saved"), and are sent in order, once, when the server answers again.
"""
from __future__ import annotations

import time
from dataclasses import replace

from .events import ConnectionEvent, ConnectionState, LeaseEvent, connection_message
from .journal import Journal, journal_path
from .model import (MAX_CHANGE_ID, MAX_IMAGE, MAX_NOTE, MAX_REVIEWER, MAX_STATUS, MAX_STATUSES, BadValue, Change,
                    SessionError, check_statuses, new_change_id, read_change, read_statuses)
from .pg_connect import connect, conninfo_with_defaults, is_gone, psycopg, reason, require_psycopg
from .pg_leases import Leases
from .pg_schema import (CHANNEL, CREATE_LOCK, LOCK_SPACE, Untrusted, check_database_is_free, check_schema,
                        create_schema, schema_exists)
from .store import SessionStore
from .target import PgTarget

RETRY_S = 1.0          # how often an offline store tries the server again
FLUSH_BATCH = 200
COLUMNS = (f"seq, left(change_id, {MAX_CHANGE_ID + 1}), left(image, {MAX_IMAGE + 1}), left(status, {MAX_STATUS + 1}), "
           f"left(note, {MAX_NOTE + 1}), left(reviewer, {MAX_REVIEWER + 1}), time, left(prev_status, {MAX_STATUS + 1}), "
           f"left(prev_note, {MAX_NOTE + 1})")
FETCH = f"SELECT {COLUMNS} FROM segviewer.changes WHERE session = %s AND seq > %s ORDER BY seq"
LATEST = f"SELECT {COLUMNS} FROM segviewer.changes WHERE session = %s AND image = %s ORDER BY seq DESC LIMIT 1"
INSERT = ("INSERT INTO segviewer.changes (session, change_id, image, status, note, reviewer, time, prev_status, "
          "prev_note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session, change_id) DO NOTHING "
          "RETURNING seq")
SESSION = (f"SELECT id, cardinality(statuses), ARRAY(SELECT left(s, {MAX_STATUS + 1}) FROM "
           f"unnest(statuses[1:{MAX_STATUSES + 1}]) WITH ORDINALITY AS t(s, i) ORDER BY i) "
           "FROM segviewer.sessions WHERE name = %s")


class PostgresStore(SessionStore):
    kind = "postgresql"

    def __init__(self, target: PgTarget, statuses=None, read_only: bool = False, reviewer: str | None = None,
                 missing_ok: bool = False):
        require_psycopg()
        super().__init__(target, reviewer)
        self.client = new_change_id()        # this window or process, for leases
        self._conninfo = conninfo_with_defaults(target)
        self._session_id: int | None = None
        self._journal: Journal | None = None
        self._online = True
        self._retry_at = 0.0
        self._listener = None
        self.leases = Leases(self)
        self._wanted = check_statuses(statuses, "statuses") if statuses else None
        self.con = connect(target, self._conninfo)
        try:
            self._open(read_only, missing_ok)
            self._check_wanted(self._wanted)
            if not self.read_only:
                self._journal = Journal(journal_path(f"{target.display}\0{target.name}"), self.statuses)
                self._flush()
            self.refresh()
            self._events.clear()   # what was there before opening is no news
        except BaseException:
            self.close()
            raise

    # ---- opening ----
    def _fail(self, exc: Exception, doing: str) -> SessionError:
        return SessionError(self.target, f"{doing}: {reason(self.target, exc)}")

    def _open(self, read_only: bool, missing_ok: bool) -> None:
        try:
            exists = schema_exists(self.con)
            if exists:
                check_schema(self.con)
                self._load_session()
            elif read_only and not missing_ok:
                raise SessionError(self.target, "no segviewer session in this database")
            else:
                check_database_is_free(self.con)
            if read_only:
                self.read_only, self.read_only_reason = True, "the session was opened read-only"
                if self._session_id is None and not missing_ok:
                    raise SessionError(self.target, f"no session named {self.target.name!r} in this database")
            else:
                self._check_privileges(exists)
        except Untrusted as exc:
            raise SessionError(self.target, f"{exc}") from None
        except BadValue as exc:
            raise SessionError(self.target, f"damaged segviewer session ({exc}); it was left untouched") from None
        except psycopg.Error as exc:
            raise self._fail(exc, "cannot read the session") from None

    def _load_session(self) -> None:
        row = self.con.execute(SESSION, (self.target.name,)).fetchone()
        if row is None:
            return
        if row[1] is None or row[1] > MAX_STATUSES:
            raise BadValue(f"it has {row[1]} statuses")
        self._statuses = read_statuses(row[2])
        self._session_id = int(row[0])

    def _check_privileges(self, exists: bool) -> None:
        if exists:
            rights = [("segviewer.changes", "INSERT"), ("segviewer.leases", "INSERT"), ("segviewer.leases", "UPDATE"),
                      ("segviewer.leases", "DELETE")]
            if self._session_id is None:
                rights.append(("segviewer.sessions", "INSERT"))
            can = all(self.con.execute("SELECT has_table_privilege(%s, %s)", right).fetchone()[0] for right in rights)
        else:
            can = self.con.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()[0]
        if not can:
            user = self.con.execute("SELECT left(current_user::text, 100)").fetchone()[0]
            self.read_only = True
            self.read_only_reason = (f"role {user} may not change this session (read-only)" if exists else
                                     f"role {user} may not create a session in this database (read-only)")

    def _ensure_session(self) -> int:
        """The session's id, making segviewer's schema and the session on first use."""
        if self._session_id is not None:
            return self._session_id
        try:
            with self.con.transaction():
                self.con.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK,))
                if schema_exists(self.con):
                    check_schema(self.con)
                else:
                    check_database_is_free(self.con)
                    create_schema(self.con)
                self.con.execute("INSERT INTO segviewer.sessions (name, statuses, created) VALUES (%s, %s, %s) "
                                 "ON CONFLICT (name) DO NOTHING", (self.target.name, list(self.statuses), time.time()))
            self._statuses = ()
            self._load_session()
            self._check_wanted(self._wanted)   # made by another reviewer meanwhile, with other statuses?
        except Untrusted as exc:
            raise SessionError(self.target, str(exc)) from None
        except BadValue as exc:
            raise SessionError(self.target, f"damaged segviewer session ({exc}); it was left untouched") from None
        return self._session_id

    # ---- reading ----
    def _fetch(self, after_seq: int) -> list[Change]:
        if not self._reachable():
            return []
        try:
            if self._session_id is None and not self._found_session():
                return []
            rows = self.con.execute(FETCH, (self._session_id, after_seq)).fetchall()
            return [read_change(row, self.statuses) for row in rows]
        except BadValue as exc:
            raise SessionError(self.target, f"damaged segviewer session ({exc})") from None
        except psycopg.Error as exc:
            self._gone_or_raise(exc, "cannot read the session")
            return []

    def _found_session(self) -> bool:
        """A session another reviewer made since this store opened (its schema checked first)."""
        try:
            if schema_exists(self.con):
                check_schema(self.con)
                self._load_session()
                self._check_wanted(self._wanted)
        except Untrusted as exc:
            raise SessionError(self.target, str(exc)) from None
        return self._session_id is not None

    def _pending(self) -> list[Change]:
        return self._journal.pending() if self._journal is not None else []

    # ---- writing ----
    def _submit(self, change: Change) -> Change | None:
        if self._journal.count() or not self._online:
            self._journal.add(change)
            self._flush()
            return None
        try:
            self._ensure_session()
            added = self._apply([change])
            return added[0] if added else None
        except psycopg.Error as exc:
            self._raise_unless_gone(exc, "the change was not saved")
            self._journal.add(change)   # the server may have committed it: sent again, it is kept once
            self._go_offline()
            return None

    def _apply(self, changes: list[Change]) -> list[Change]:
        """Commits changes in order, in one transaction; those whose id is there already are skipped."""
        sid, added = self._session_id, []
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, sid))
            for change in changes:
                row = self.con.execute(LATEST, (sid, change.image)).fetchone()
                before = read_change(row, self.statuses).after(self.first_status) if row else None
                change = replace(change, prev_status=before.status if before else None,
                                 prev_note=before.note if before else None)
                seq = self.con.execute(INSERT, (sid, change.change_id, change.image, change.status, change.note,
                                                change.reviewer, change.time, change.prev_status,
                                                change.prev_note)).fetchone()
                if seq is not None:
                    added.append(replace(change, seq=int(seq[0])))
            if added:
                self.con.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{sid} c"))
        return added

    def add_changes(self, changes: list[Change]) -> list[Change]:
        """Commits changes (a merge), in order, in batches; those already there are skipped."""
        self._check_writable()
        added = []
        try:
            self._ensure_session()
            for start in range(0, len(changes), FLUSH_BATCH):
                added += self._apply(changes[start:start + FLUSH_BATCH])
        except psycopg.Error as exc:
            raise self._fail(exc, f"stopped after {len(added)} new changes") from None
        self.refresh()
        return added

    def _flush(self) -> None:
        """Sends the journal's changes in order; each leaves the journal once the server committed it."""
        if self._journal is None or not self._journal.count() or not self._reachable():
            return
        try:
            self._ensure_session()
            while True:
                batch = self._journal.pending()[:FLUSH_BATCH]
                if not batch:
                    break
                self._apply(batch)
                self._journal.remove([c.change_id for c in batch])
        except psycopg.Error as exc:
            self._gone_or_raise(exc, "the waiting changes were not sent")

    # ---- the connection ----
    def _raise_unless_gone(self, exc: Exception, doing: str) -> None:
        if self.read_only or not is_gone(exc, self.con):
            raise self._fail(exc, doing) from None

    def _gone_or_raise(self, exc: Exception, doing: str) -> None:
        self._raise_unless_gone(exc, doing)
        self._go_offline()

    def _go_offline(self) -> None:
        if self._online:
            self._online = False
            pending = self._journal.count() if self._journal is not None else 0
            self._events.append(ConnectionEvent(False, pending, connection_message(False, pending)))
        self._retry_at = time.monotonic() + RETRY_S
        self._close_listener()

    def _reachable(self) -> bool:
        """Online, or back online after a successful reconnect (tried at most every RETRY_S)."""
        if self._online:
            return True
        if time.monotonic() < self._retry_at:
            return False
        self._retry_at = time.monotonic() + RETRY_S
        try:
            con = connect(self.target, self._conninfo)
        except SessionError:
            return False
        try:
            if schema_exists(con):
                check_schema(con)
        except Untrusted as exc:
            con.close()
            raise SessionError(self.target, f"after reconnecting: {exc}") from None
        except psycopg.Error:
            con.close()
            return False
        old, self.con, self._online = self.con, con, True
        old.close()
        self._flush()
        if self._online:
            pending = self._journal.count() if self._journal is not None else 0
            self._events.append(ConnectionEvent(True, pending, connection_message(True, pending)))
        return self._online

    def connection(self) -> ConnectionState:
        pending = self._journal.count() if self._journal is not None else 0
        return ConnectionState(self._online, pending, connection_message(self._online, pending))

    # ---- leases (pg_leases) ----
    def hold(self, image: str) -> str | None:
        return self.leases.hold(image)

    def release(self) -> None:
        self.leases.release()

    def held_elsewhere(self) -> dict[str, str]:
        return self.leases.held_elsewhere()

    def next_unreviewed(self, names: list[str], start: int = 0) -> int | None:
        return self.leases.next_unreviewed(names, start)

    # ---- events ----
    def poll(self, timeout: float = 0.0) -> list:
        """Others' changes, lease news and connection news; waits up to timeout for the first (call it off the
        GUI thread: reconnecting may take the connect timeout)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._lock:
                if not self._online:
                    self._reachable()
                self._listen()   # before reading: whatever is committed after the read is notified
                self.refresh()
                self.leases.renew_and_watch()
                if self._events or time.monotonic() >= deadline:
                    events, self._events = self._events, []
                    return events
            self._wait(deadline - time.monotonic())

    def _listen(self) -> None:
        if self._listener is not None or not self._online or self._session_id is None:
            return
        try:
            self._listener = connect(self.target, self._conninfo)
            self._listener.execute("LISTEN segviewer")
        except (SessionError, psycopg.Error):
            self._close_listener()

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._listener is None:
            time.sleep(min(seconds, RETRY_S / 4))
            return
        try:
            prefix = f"{self._session_id} "
            for note in self._listener.notifies(timeout=min(seconds, 5.0), stop_after=1):
                if note.payload.startswith(prefix) and note.payload.endswith("l"):
                    self.leases.changed = True
        except psycopg.Error:
            self._close_listener()
            with self._lock:
                if self._online and not self._ping():
                    self._go_offline()

    def _ping(self) -> bool:
        try:
            self.con.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except psycopg.Error:
                pass
            self._listener = None

    def close(self) -> None:
        try:
            if getattr(self, "con", None) is not None and self._online:
                self.leases.release()
        except (SessionError, psycopg.Error):
            pass
        self._close_listener()
        if getattr(self, "con", None) is not None:
            self.con.close()
        if self._journal is not None:
            self._journal.close()
