"""The team store: a session in segviewer's schema on a PostgreSQL server, shared by several reviewers at once.

Changes are committed one session at a time (a transaction-scoped advisory lock), so the session's order (seq) is
the order of commits and a reader that asks for "everything after seq n" never misses one. Each commit notifies
the `segviewer` channel; `poll()` listens on a second connection and hands out the changes of others within
milliseconds. When the server or the network goes away the store keeps working: changes go to the offline
journal (durable before "saved"), and are sent in order, once, when the server answers again (pg_link); journals
that other segviewers of this user left behind for this server are sent too (pg_journals).
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

from .journal import Journal, identity, journal_base
from .model import (MAX_CHANGE_ID, MAX_IMAGE, MAX_NOTE, MAX_REVIEWER, MAX_STATUS, MAX_STATUSES, BadValue, Change,
                    SessionError, check_statuses, new_change_id, read_change, read_statuses, refuse_unlisted_status)
from .pg_connect import connect, conninfo_with_defaults, psycopg, reason, require_psycopg
from .pg_journals import send_left_behind, server_key, waiting_here
from .pg_leases import Leases
from .pg_link import PgLink
from .pg_reconnect import Redial
from .pg_schema import (CHANNEL, CREATE_LOCK, LOCK_SPACE, Untrusted, check_database_is_free, check_schema,
                        create_schema, schema_exists)
from .store import SessionStore
from .target import PgTarget

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


class PostgresStore(PgLink, SessionStore):
    kind = "postgresql"

    def __init__(self, target: PgTarget, statuses=None, read_only: bool = False, reviewer: str | None = None,
                 missing_ok: bool = False):
        require_psycopg()
        super().__init__(target, reviewer)
        self.client = new_change_id()        # this window or process, for leases
        self._conninfo = conninfo_with_defaults(target)
        self._session_id: int | None = None
        self._schema_checked = False
        self._can_insert: bool | None = None
        self._journal_base = journal_base(f"{target.display}\0{target.name}")
        self._journal: Journal | None = None
        self._online = True
        self._listener = None
        self._drop_listener = False          # set by any thread; the poller closes the listener (pg_link)
        self._dirty = True                   # something may have been committed since the last read
        self._read_at = 0.0
        self._closing = False
        self._poll_lock = threading.Lock()   # one poller at a time; close() waits for it
        self._relink = Redial(self._new_link, "segviewer-reconnect")
        self._relisten = Redial(self._new_listener, "segviewer-listen")
        self.leases = Leases(self)
        self._wanted = check_statuses(statuses, "statuses") if statuses else None
        self.con = None
        self.con = connect(target, self._conninfo)
        try:
            self.server = server_key(self.con)
            self._open(read_only, missing_ok)
            self._check_wanted(self._wanted)
            if not self.read_only:
                self._journal = Journal(self._journal_base, self.statuses,
                                        identity(self.server, target.name, self.statuses))
            send_left_behind(self)
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
            exists = self._schema_ready()
            if exists:
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

    def _schema_ready(self) -> bool:
        """True when segviewer's schema exists (checked once per connection: Untrusted when it is not its own)."""
        if not self._schema_checked:
            if not schema_exists(self.con):
                return False
            check_schema(self.con)
            self._schema_checked = True
        return True

    def _load_session(self) -> None:
        found = self._session_row(self.target.name)
        if found is not None:
            self._session_id, self._statuses = found

    def _session_row(self, name: str) -> tuple[int, tuple[str, ...]] | None:
        row = self.con.execute(SESSION, (name,)).fetchone()
        if row is None:
            return None
        if row[1] is None or row[1] > MAX_STATUSES:
            raise BadValue(f"it has {row[1]} statuses")
        return int(row[0]), read_statuses(row[2])

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

    def _may_send(self) -> bool:
        """Whether this store's role may add changes (journals left behind are sent only then): a store opened
        read-only for a report still delivers changes saved earlier on this machine."""
        if not self.read_only:
            return True
        if self._can_insert is None:
            self._can_insert = bool(self._schema_ready() and self.con.execute(
                "SELECT has_table_privilege('segviewer.changes', 'INSERT')").fetchone()[0])
        return self._can_insert

    def _ensure_session(self) -> int:
        """The session's id, making segviewer's schema and the session on first use."""
        if self._session_id is None:
            self._make_session(self.target.name, self.statuses)
            self._statuses = ()
            try:
                self._load_session()
                self._check_wanted(self._wanted)   # made by another reviewer meanwhile, with other statuses?
            except BadValue as exc:
                raise SessionError(self.target, f"damaged segviewer session ({exc}); it was left untouched") from None
        return self._session_id

    def _make_session(self, name: str, statuses) -> None:
        try:
            with self.con.transaction():
                self.con.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK,))
                if schema_exists(self.con):
                    check_schema(self.con)
                else:
                    check_database_is_free(self.con)
                    create_schema(self.con)
                self.con.execute("INSERT INTO segviewer.sessions (name, statuses, created) VALUES (%s, %s, %s) "
                                 "ON CONFLICT (name) DO NOTHING", (name, list(statuses), time.time()))
            self._schema_checked = True
        except Untrusted as exc:
            raise SessionError(self.target, str(exc)) from None

    def _session_named(self, name: str, statuses=None) -> tuple[int, tuple[str, ...]] | None:
        """(id, statuses) of a session of this database; made with statuses when there is none and this store may
        make sessions; None otherwise."""
        try:
            found = self._session_row(name) if self._schema_ready() else None
            if found is None and statuses and not self.read_only:
                self._make_session(name, statuses)
                found = self._session_row(name)
        except Untrusted as exc:
            raise SessionError(self.target, str(exc)) from None
        return found

    # ---- reading ----
    def _fetch(self, after_seq: int) -> list[Change]:
        self._dirty, self._read_at = False, time.monotonic() + self._read_every()
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
            if self._schema_ready():
                self._load_session()
                self._check_wanted(self._wanted)
        except Untrusted as exc:
            raise SessionError(self.target, str(exc)) from None
        return self._session_id is not None

    def _pending(self, limit: int = -1) -> list[Change]:
        if self._journal is None:
            return []
        self._journal.statuses = tuple(self.statuses)
        return self._journal.pending(limit)

    def waiting_journals(self) -> dict[str, int]:
        """reviewer -> changes of this session that wait in offline journals on this machine (this store's own,
        other running segviewers', and those left behind that could not be sent)."""
        return waiting_here(self)

    # ---- writing ----
    def _submit(self, change: Change) -> Change | None:
        if self._journal.count() or not self._reachable():
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

    def _apply(self, changes: list[Change], sid: int | None = None, statuses=None) -> list[Change]:
        """Commits changes in order, in one transaction, to this session (or to session sid, whose statuses are
        given); those whose id is there already are skipped."""
        sid = self._session_id if sid is None else sid
        statuses = tuple(self.statuses) if statuses is None else tuple(statuses)
        added = []
        with self.con.transaction():
            self.con.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, sid))
            for change in changes:
                refuse_unlisted_status(self.target, change.status, statuses)
                row = self.con.execute(LATEST, (sid, change.image)).fetchone()
                before = read_change(row, statuses).after(statuses[0]) if row else None
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
        with self._lock:
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
        if self._journal is None or not self._journal.count() or not self._online:
            return
        try:
            self._ensure_session()
            while True:
                batch = self._pending(FLUSH_BATCH)
                if not batch:
                    break
                self._apply(batch)
                self._journal.remove([c.change_id for c in batch])
        except psycopg.Error as exc:
            self._gone_or_raise(exc, "the waiting changes were not sent")

    # ---- leases (pg_leases) ----
    def hold(self, image: str) -> str | None:
        return self.leases.hold(image)

    def release(self) -> None:
        self.leases.release()

    def held_elsewhere(self) -> dict[str, str]:
        return self.leases.held_elsewhere()

    def next_unreviewed(self, names: list[str], start: int = 0) -> int | None:
        return self.leases.next_unreviewed(names, start)
