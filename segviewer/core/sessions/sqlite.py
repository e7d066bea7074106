"""The embedded store: one SQLite file per session, every change committed at once (WAL, so windows share it).

The file is made only by the first change, written whole and then linked into place (core.sessions.sqlite_new: no
other process sees a half-made session, and a refused change leaves nothing behind); an existing one is checked
(sqlite_files.check_session) before anything is read or written. A version-1 file is read as it is when opened
read-only and migrated to the history of changes, in one transaction, when opened for writing. Writers wait their
turn (busy timeout) instead of failing.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .legacy import read_v1_changes
from .model import (APP_ID, DEFAULT_STATUSES, MAX_CHANGE_ID, MAX_IMAGE, MAX_NOTE, MAX_REVIEWER, MAX_STATUS,
                    SCHEMA_VERSION, BadValue, Change, SessionError, check_statuses, read_change, read_statuses,
                    refuse_unlisted_status)
from .sqlite_files import (CHANGES_INDEX, CHANGES_TABLE, NEW_SESSION, ReadOnlyFile, check_session, connect_writable,
                           existing_file, has_content, not_a_companion, session_reason, use_wal)
from .sqlite_new import NewSessionFile
from .store import SessionStore

CHANGE_COLUMNS = (f"seq, substr(change_id, 1, {MAX_CHANGE_ID + 1}), substr(image, 1, {MAX_IMAGE + 1}), "
                  f"substr(status, 1, {MAX_STATUS + 1}), substr(note, 1, {MAX_NOTE + 1}), "
                  f"substr(reviewer, 1, {MAX_REVIEWER + 1}), time, substr(prev_status, 1, {MAX_STATUS + 1}), "
                  f"substr(prev_note, 1, {MAX_NOTE + 1})")
MAX_SEQ = 2**63 - 1    # SQLite's largest rowid: AUTOINCREMENT can give no number after it
INSERT = ("INSERT OR IGNORE INTO changes (change_id, image, status, note, reviewer, time, prev_status, prev_note) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


class SqliteStore(SessionStore):
    kind = "sqlite"

    def __init__(self, path: str | Path, statuses=None, read_only: bool = False, reviewer: str | None = None,
                 missing_ok: bool = False):
        """statuses: for a new session (the first means 'unreviewed'); read_only: for reports, never writes;
        missing_ok: read-only and no file yet -> an empty session."""
        super().__init__(Path(path), reviewer)
        self.path = self.target
        self.con: sqlite3.Connection | None = None
        self._found_empty = False              # connected to a file with no tables yet (see _tables_under_lock)
        self._file: ReadOnlyFile | None = None
        self._legacy: list[Change] | None = None
        wanted = check_statuses(statuses, "statuses") if statuses else None
        content = existing_file(self.path) and has_content(self.path)
        if read_only:
            self.read_only, self.read_only_reason = True, "the session was opened read-only"
            if not content and missing_ok and not self.path.exists():
                return
            if not content:
                raise SessionError(self.path, "empty file, not a session with reviews" if self.path.exists()
                                   else "session file does not exist")
            self._open_read_only()
        elif content:
            self._guard(self._open_writable)
        self._check_wanted(wanted)
        self._events.clear()   # what was there before opening is no news

    # ---- opening ----
    def _guard(self, action, *args):
        try:
            return action(*args)
        except sqlite3.Error as exc:
            raise SessionError(self.path, session_reason(exc, self.path)) from None
        except BadValue as exc:
            raise SessionError(self.path, f"damaged session file ({exc}); it was left untouched") from None

    def _open_read_only(self) -> None:
        self._file = ReadOnlyFile(self.path)
        try:
            self._guard(self._read_schema, self._file.con, True)
            self.refresh()
        except SessionError:
            self.close()
            raise

    def _open_writable(self) -> None:
        self.con = connect_writable(self.path)
        try:
            if not self.con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                self.con.close()   # an empty file (not a session yet): the first change makes its tables
                self.con = None
                return
            version = self._read_schema(self.con, False)
            if version == 1:
                self._migrate()
            self.refresh()
        except Exception:
            self.close()
            raise

    def _read_schema(self, con: sqlite3.Connection, keep_legacy: bool) -> int:
        version = check_session(con, self.path)
        self._statuses = read_statuses(r[0] for r in con.execute(
            f"SELECT substr(name, 1, {MAX_STATUS + 1}) FROM statuses ORDER BY position LIMIT 100"))
        if version == 1 and keep_legacy:
            self._legacy = [replace(c, seq=i + 1) for i, c in enumerate(read_v1_changes(con, self._statuses))]
        return version

    def _migrate(self) -> None:
        """Version 1 -> 2 in one transaction: the history of changes replaces `reviews` and `history`."""
        with self._transaction():
            if check_session(self.con, self.path) != 1:   # another process migrated it meanwhile
                return
            changes = read_v1_changes(self.con, self._statuses)
            self.con.execute(CHANGES_TABLE)
            self.con.execute(CHANGES_INDEX)
            self.con.executemany(INSERT, [_values(c) for c in changes])
            self.con.execute("DROP TABLE reviews")
            self.con.execute("DROP TABLE history")
            self.con.execute("DELETE FROM sqlite_sequence WHERE name='history'")
            self.con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

    def _add_to_new_file(self, changes: list[Change]) -> list[Change] | None:
        """The session made with its first changes (sqlite_new: written whole, then linked into place); None when
        another process made it meanwhile, or an empty file was there (then connected to it, for add_changes)."""
        not_a_companion(self.path)
        wanted = self._statuses               # as asked, before the new file's tables give it the default ones
        new = NewSessionFile(self.path)
        try:
            self.con = self._guard(connect_writable, new.temp)
            with self._transaction():
                self._make_tables()
                added = self._insert(changes)
            self.close()
            placed = new.place()
        except BaseException:
            self.close()
            new.remove()
            raise
        existing_file(self.path)
        if placed:
            self.con = self._guard(connect_writable, self.path)
            self._start_wal()
            return added
        self._statuses = wanted
        self._guard(self._open_writable)          # theirs: checked like any session, its statuses the ones asked
        if self.con is None:                       # found empty: add_changes makes or checks it under its lock
            self.con = self._guard(connect_writable, self.path)
            self._found_empty = True
        else:
            self._check_wanted(wanted or None)
        return None

    def _make_tables(self) -> None:
        """segviewer's tables, in the first change's transaction."""
        for sql in NEW_SESSION:
            self.con.execute(sql)
        self.con.execute("INSERT INTO meta VALUES ('app', ?), ('schema_version', ?)", (APP_ID, str(SCHEMA_VERSION)))
        self._statuses = self._statuses or DEFAULT_STATUSES
        self.con.executemany("INSERT INTO statuses VALUES (?, ?)", enumerate(self._statuses))

    @contextmanager
    def _transaction(self):
        """BEGIN IMMEDIATE (waiting up to the busy timeout for other writers) ... COMMIT; ROLLBACK on any error."""
        try:
            self.con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise SessionError(self.path, session_reason(exc, self.path)) from None
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException as exc:
            try:
                self.con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise SessionError(self.path, self._reason(exc)) from None
            if isinstance(exc, BadValue):
                raise SessionError(self.path, f"damaged session file ({exc}); nothing was changed") from None
            raise

    def _reason(self, exc: sqlite3.Error) -> str:
        """SQLite says "database or disk is full" also when the change counter can go no higher."""
        if "full" in str(exc).lower() and self._counter_exhausted():
            return (f"the session's change counter reached its maximum ({MAX_SEQ:,}), so no change can be added to "
                    "this file; nothing was changed (qa-merge copies its history into a new session)")
        return session_reason(exc, self.path)

    def _counter_exhausted(self) -> bool:
        try:
            row = self.con.execute("SELECT max(coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = 'changes' "
                                   "AND typeof(seq) = 'integer'), 0), coalesce((SELECT max(seq) FROM changes), 0))"
                                   ).fetchone()
        except sqlite3.Error:
            return False
        return row is not None and row[0] == MAX_SEQ

    # ---- the backend ----
    def _fetch(self, after_seq: int) -> list[Change]:
        if self._legacy is not None:
            return [c for c in self._legacy if c.seq > after_seq]
        if self._file is None and self.con is None:   # not made yet, unless another window made it since
            if not (existing_file(self.path) and has_content(self.path)):
                return []
            self._guard(self._open_writable)
        con = self._file.con if self._file is not None else self.con
        rows = self._guard(lambda: con.execute(f"SELECT {CHANGE_COLUMNS} FROM changes WHERE seq > ? ORDER BY seq",
                                               (after_seq,)).fetchall())
        return self._guard(lambda: [read_change(row, self._statuses) for row in rows])

    def _submit(self, change: Change) -> Change | None:
        stored = self.add_changes([change])
        return stored[0] if stored else None

    def add_changes(self, changes: list[Change]) -> list[Change]:
        """Commits changes in one transaction, in order; a change whose id is already there is skipped (merges and
        replays add nothing twice). Returns the changes added, as stored."""
        self._check_writable()
        if self.con is None:
            added = self._add_to_new_file(changes)
            if added is not None:
                return added
        with self._transaction():
            if self._found_empty:
                self._tables_under_lock()
            return self._insert(changes)

    def _tables_under_lock(self) -> None:
        """A file found empty, now under the write lock: still empty (someone's `touch`), it gets the tables in
        this change's transaction (a refused change leaves it empty); a session by now, it is checked as any
        (its statuses the ones asked) before a change goes in."""
        if self.con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
            wanted = self._statuses
            self._read_schema(self.con, False)
            self._check_wanted(wanted or None)
        else:
            self._make_tables()
        self._found_empty = False

    def _insert(self, changes: list[Change]) -> list[Change]:
        added = []
        for change in changes:
            refuse_unlisted_status(self.path, change.status, self._statuses)
            change = self._with_prev(change)
            cur = self.con.execute(INSERT, _values(change))
            if cur.rowcount:
                added.append(replace(change, seq=int(cur.lastrowid)))
        return added

    def _start_wal(self) -> None:
        """WAL for a session just made. The change is committed either way: a file left in rollback mode (another
        process held it past the busy timeout) is still a whole session, whose readers only wait for writers."""
        try:
            self._guard(use_wal, self.con)
        except SessionError:
            pass

    def _with_prev(self, change: Change) -> Change:
        row = self.con.execute(f"SELECT {CHANGE_COLUMNS} FROM changes WHERE image = ? ORDER BY seq DESC LIMIT 1",
                               (change.image,)).fetchone()
        if row is None:
            return replace(change, prev_status=None, prev_note=None)
        before = read_change(row, self._statuses).after(self.first_status)
        return replace(change, prev_status=before.status, prev_note=before.note)

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        if self._file is not None:
            self._file.close()
            self._file = None


def _values(change: Change) -> tuple:
    return (change.change_id, change.image, change.status, change.note, change.reviewer, change.time,
            change.prev_status, change.prev_note)
