"""The offline journal of a team session: changes not yet on the server, in a local SQLite file, in order.

Journals live in segviewer's state folder (platformdirs' user_state_dir, e.g. ~/.local/state/segviewer/journal),
readable only by their user. A change is written here and fsync'ed (synchronous=FULL) before the store reports it
saved, so a reviewer killed with -9 loses nothing; it is removed only once the server has committed it, and sent
again otherwise — the server keeps one copy per change id.

Each running store has a journal file of its own (the session's first free slot: `KEY.sqlite`, `KEY-2.sqlite`, ...)
and holds an OS lock on it (`KEY.lock`) while it runs; the OS drops the lock of a process that dies, kill -9
included. So a journal whose lock is free was left behind: any segviewer of that user that reaches its server
sends it (pg_journals), and one whose lock is held belongs to a running segviewer that sends it itself. The
journal's meta table names its server and session, so journals are found by server, not only by session.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from ..errors import os_reason
from .model import MAX_REVIEWER, BadValue, Change, SessionError, read_change, read_text
from .sqlite_files import BUSY_TIMEOUT_S, existing_file, guarded, has_content

try:
    import fcntl
except ImportError:   # pragma: no cover - Windows
    fcntl = None
    import msvcrt

JOURNAL_APP = "segviewer-journal"
TABLES = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    "pending": "CREATE TABLE pending (n INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT NOT NULL UNIQUE, "
               "image TEXT NOT NULL, status TEXT, note TEXT, reviewer TEXT NOT NULL, time REAL NOT NULL, "
               "prev_status TEXT, prev_note TEXT)",
}
ALLOWED = {("table", "meta"), ("table", "pending"), ("table", "sqlite_sequence"), ("index", "sqlite_autoindex_meta_1"),
           ("index", "sqlite_autoindex_pending_1")}
MAX_SLOTS = 64          # stores of one session running at once on one machine, for one user
MAX_META = 4096


def journal_folder() -> Path:
    from platformdirs import user_state_dir
    return Path(user_state_dir("segviewer")) / "journal"


def journal_base(key: str) -> Path:
    """The first slot of a session's journals (a store of that session uses the first slot no other one holds)."""
    return journal_folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.sqlite"


def journal_files() -> list[Path]:
    folder = journal_folder()
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".sqlite" and p.is_file())
    except OSError:   # no folder yet, or not readable: no journals
        return []


def _slot(base: Path, k: int) -> Path:
    return base if k == 1 else base.with_name(f"{base.stem}-{k}.sqlite")


def identity(server: str, session: str, statuses) -> dict[str, str]:
    """What a journal's meta says about where its changes go."""
    return {"server": server, "session": session, "statuses": json.dumps(list(statuses))}


class Journal:
    """A journal file held by this process (its lock taken), or — for a store that has not needed one yet — the
    session's slots to take one from on the first change."""

    def __init__(self, base: Path, statuses, ident: dict[str, str] | None = None):
        self.base, self.statuses, self.ident = base, tuple(statuses), ident
        self.path: Path | None = None
        self.con: sqlite3.Connection | None = None
        self._lock: int | None = None

    @classmethod
    def left_behind(cls, path: Path) -> "Journal | None":
        """The journal at path when no running segviewer holds it (then this process does), None otherwise;
        SessionError when it is not a journal segviewer made (nothing in it is run)."""
        journal = cls(path, ())
        journal._lock = _try_lock(_lock_path(path))
        if journal._lock is None:
            return None
        try:
            if not (existing_file(path) and has_content(path)):   # sent and removed meanwhile
                journal.close()
                return None
            journal.path = path
            journal._open()
        except SessionError:
            journal.close()
            raise
        return journal

    def _claim(self) -> None:
        """The first slot of this session that no running store holds."""
        try:
            self.base.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise SessionError(self.base.parent, f"cannot keep the offline journal: {os_reason(exc)}") from None
        for k in range(1, MAX_SLOTS + 1):
            lock = _try_lock(_lock_path(_slot(self.base, k)))
            if lock is not None:
                self.path, self._lock = _slot(self.base, k), lock
                try:
                    self._open()
                except SessionError:   # refused: the slot is given back, and every change says so
                    self.path, self._lock = None, _unlock(lock)
                    raise
                return
        raise SessionError(self.base.parent, f"more than {MAX_SLOTS} segviewers keep offline journals of this session")

    def _open(self) -> None:
        try:
            self._connect()
        except BaseException:
            if self.con is not None:   # refused: closed as it is (never emptied or deleted)
                self.con.close()
                self.con = None
            raise

    def _connect(self) -> None:
        try:
            self.con = guarded(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                               check_same_thread=False))
            self.con.execute("PRAGMA synchronous=FULL")   # on disk before the change is called saved
            self._check()                                 # before anything is written to the file
            if self.ident is not None:                    # this store's own: made or taken over for writing
                self.con.execute("PRAGMA journal_mode=WAL")
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

    def _check(self) -> bool:
        """True for a new (empty) file; SessionError for one that holds anything segviewer's journal does not."""
        if not made_by_segviewer(self.con):
            raise SessionError(self.path, "the offline journal holds objects segviewer did not make; refused, "
                                          "nothing in it was run (move it away to start a new one)")
        return not self.con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]

    def _check_or_create(self) -> None:
        if self._check():
            for sql in TABLES.values():
                self.con.execute(sql)
            self.con.execute("INSERT INTO meta VALUES ('app', ?)", (JOURNAL_APP,))
            private_mode(self.path)   # notes are the reviewer's: not for other users of the machine
        if self.ident:   # a journal of this store's own: says where it goes (one made before this was kept, too)
            self.con.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", self.ident.items())

    def meta(self) -> dict[str, str]:
        """The journal's meta table (server, session, statuses), values checked as read."""
        rows = self.con.execute(f"SELECT substr(key, 1, 65), substr(value, 1, {MAX_META + 1}) FROM meta "
                                "LIMIT 100").fetchall()
        try:
            return {read_text(k, 64, "a journal key"): read_text(v, MAX_META, "a journal value") for k, v in rows}
        except BadValue as exc:
            raise SessionError(self.path, f"damaged offline journal ({exc})") from None

    def add(self, change: Change) -> None:
        """Durable when this returns."""
        if self.con is None:
            self._claim()
        try:
            self.con.execute("INSERT OR IGNORE INTO pending (change_id, image, status, note, reviewer, time, "
                             "prev_status, prev_note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (change.change_id, change.image, change.status, change.note, change.reviewer, change.time,
                              change.prev_status, change.prev_note))
        except sqlite3.Error as exc:
            raise SessionError(self.path, f"the change could not be kept in the offline journal ({exc}); "
                                          "it was not saved") from None

    def pending(self, limit: int = -1) -> list[Change]:
        """The changes waiting, oldest first (limit: the first that many; a batch of a large journal is read alone,
        not the whole journal again for each batch)."""
        if self.con is None:
            return []
        rows = self.con.execute("SELECT 0, change_id, image, status, note, reviewer, time, prev_status, prev_note "
                                "FROM pending ORDER BY n LIMIT ?", (int(limit),)).fetchall()
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
        """Gives the journal up: an empty one is deleted (its lock file stays, so a slot is never held twice)."""
        if self.con is not None:
            empty = self._empty()
            self.con.close()
            self.con = None
            if empty:
                for path in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                    try:
                        path.unlink(missing_ok=True)
                    except OSError:   # still open elsewhere (Windows): it is empty, so it is only a file
                        pass
        if self._lock is not None:
            _unlock(self._lock)
            self._lock = None

    def _empty(self) -> bool:
        try:
            return self.count() == 0
        except sqlite3.Error:
            return False


def waiting_by_reviewer(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """(meta, reviewer -> changes) of a journal, read without taking it (its store may be running); empty when it
    cannot be read."""
    try:
        con = guarded(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S))
    except sqlite3.Error:
        return {}, {}
    try:
        if not made_by_segviewer(con) or not con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            return {}, {}   # not a journal segviewer made: nothing in it is read
        meta = dict(con.execute(f"SELECT substr(key, 1, 65), substr(value, 1, {MAX_META + 1}) FROM meta "
                                "WHERE typeof(key) = 'text' AND typeof(value) = 'text' LIMIT 100").fetchall())
        rows = con.execute(f"SELECT substr(reviewer, 1, {MAX_REVIEWER + 1}), count(*) FROM pending "
                           "WHERE typeof(reviewer) = 'text' GROUP BY 1 ORDER BY 1").fetchall()
        return meta, {who: n for who, n in rows if len(who) <= MAX_REVIEWER}
    except sqlite3.Error:
        return {}, {}
    finally:
        con.close()


def made_by_segviewer(con: sqlite3.Connection) -> bool:
    """An empty database, or exactly the tables of a journal (nothing else that could run or mislead)."""
    objects = {(t, n): sql for t, n, sql in con.execute("SELECT type, name, sql FROM sqlite_master")}
    if not objects:
        return True
    return not set(objects) - ALLOWED and all(objects.get(("table", n)) == sql for n, sql in TABLES.items())


def _lock_path(journal: Path) -> Path:
    return journal.with_suffix(".lock")


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding path's exclusive lock, or None when another process (or store) holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:   # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    os.close(fd)   # closing the descriptor drops its lock (flock and msvcrt alike)


def private_mode(path: Path) -> None:
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
