"""The offline journal of a team session: changes not yet on the server, in a local SQLite file, in order.

It lives in segviewer's state folder (platformdirs' user_state_dir, e.g. ~/.local/state/segviewer/journal), one
file per server and session. A change is written here and fsync'ed (synchronous=FULL) before the store reports it
saved, so a reviewer killed with -9 loses nothing; it is removed only once the server has committed it, and sent
again otherwise — the server keeps one copy per change id.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

from ..errors import os_reason
from .model import BadValue, Change, SessionError, read_change
from .sqlite_files import BUSY_TIMEOUT_S, existing_file, guarded, has_content

JOURNAL_APP = "segviewer-journal"
TABLES = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    "pending": "CREATE TABLE pending (n INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT NOT NULL UNIQUE, "
               "image TEXT NOT NULL, status TEXT, note TEXT, reviewer TEXT NOT NULL, time REAL NOT NULL, "
               "prev_status TEXT, prev_note TEXT)",
}
ALLOWED = {("table", "meta"), ("table", "pending"), ("table", "sqlite_sequence"), ("index", "sqlite_autoindex_meta_1"),
           ("index", "sqlite_autoindex_pending_1")}


def journal_folder() -> Path:
    from platformdirs import user_state_dir
    return Path(user_state_dir("segviewer")) / "journal"


def journal_path(key: str) -> Path:
    return journal_folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.sqlite"


class Journal:
    def __init__(self, path: Path, statuses):
        self.path, self.statuses = path, tuple(statuses)
        self.con: sqlite3.Connection | None = None
        if existing_file(path) and has_content(path):
            self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.con = guarded(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                               check_same_thread=False))
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=FULL")   # on disk before the change is called saved
            self.con.execute("BEGIN IMMEDIATE")
            try:
                self._check_or_create()
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
        except OSError as exc:
            raise SessionError(self.path, f"cannot keep the offline journal: {os_reason(exc)}") from None
        except sqlite3.Error as exc:
            raise SessionError(self.path, f"the offline journal cannot be used ({exc}); move it away to start "
                                          "a new one") from None

    def _check_or_create(self) -> None:
        objects = {(t, n): sql for t, n, sql in self.con.execute("SELECT type, name, sql FROM sqlite_master")}
        if not objects:
            for sql in TABLES.values():
                self.con.execute(sql)
            self.con.execute("INSERT INTO meta VALUES ('app', ?)", (JOURNAL_APP,))
            private_mode(self.path)   # notes are the reviewer's: not for other users of the machine
            return
        unknown = set(objects) - ALLOWED
        wrong = [n for n, sql in TABLES.items() if objects.get(("table", n)) != sql]
        if unknown or wrong:
            raise SessionError(self.path, "the offline journal holds objects segviewer did not make; refused, "
                                          "nothing in it was run (move it away to start a new one)")

    def add(self, change: Change) -> None:
        """Durable when this returns."""
        if self.con is None:
            self._open()
        try:
            self.con.execute("INSERT OR IGNORE INTO pending (change_id, image, status, note, reviewer, time, "
                             "prev_status, prev_note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (change.change_id, change.image, change.status, change.note, change.reviewer, change.time,
                              change.prev_status, change.prev_note))
        except sqlite3.Error as exc:
            raise SessionError(self.path, f"the change could not be kept in the offline journal ({exc}); "
                                          "it was not saved") from None

    def pending(self) -> list[Change]:
        if self.con is None:
            return []
        rows = self.con.execute("SELECT 0, change_id, image, status, note, reviewer, time, prev_status, prev_note "
                                "FROM pending ORDER BY n").fetchall()
        try:
            return [read_change(row, self.statuses) for row in rows]
        except BadValue as exc:
            raise SessionError(self.path, f"damaged offline journal ({exc})") from None

    def count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM pending").fetchone()[0] if self.con is not None else 0

    def remove(self, change_ids: list[str]) -> None:
        if self.con is not None and change_ids:
            self.con.executemany("DELETE FROM pending WHERE change_id = ?", [(c,) for c in change_ids])

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


def private_mode(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
