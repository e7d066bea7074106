"""QA review store: one SQLite file per session, every change committed at once, WAL so windows can share it.

A file that is not SQLite, not a segviewer session, or from a newer segviewer is refused and left untouched.
"""
from __future__ import annotations

import os
import sqlite3
import time
from urllib.parse import quote
from dataclasses import dataclass
from pathlib import Path

from .errors import LoadError, file_in_the_way, os_reason, plain, regular_file, valid_utf8

SCHEMA_VERSION = 1
APP_ID = "segviewer-qa"
DEFAULT_STATUSES = ("unreviewed", "accepted", "needs fix", "model error", "ambiguous")
SQLITE_HEADER = b"SQLite format 3\x00"


class SessionError(LoadError):
    """A session file that cannot be used; the file is left as it was."""


@dataclass(frozen=True)
class Review:
    image: str
    status: str
    note: str
    reviewer: str
    time: float


def slug(status: str) -> str:
    return status.strip().lower().replace(" ", "-").replace("_", "-")


def default_session_path(gt_dir: str | Path) -> Path:
    """.segviewer/session.sqlite beside the dataset, or the user data folder when that is read-only."""
    from .options import state_folder
    return state_folder(gt_dir, "sessions") / "session.sqlite"


def _session_reason(exc: Exception) -> str:
    """What an SQLite error means for the user (a read-only or full disk is not a damaged session)."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return "the session file (or its folder) is read-only; nothing was changed"
    if "full" in text:
        return "the disk is full; nothing was changed"
    if "locked" in text or "busy" in text:
        return "the session is locked by another program; nothing was changed, try again"
    if "unable to open" in text:
        return "cannot open the session file (its folder is missing or read-only)"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"damaged session file ({plain(exc)}); it was left untouched"
    if "disk i/o" in text:
        return "input/output error on the session file (disk full, read-only or failing?); nothing was changed"
    return f"session file cannot be used ({plain(exc)})"


def _check_path(path: Path) -> bool:
    """True when a session file exists (a regular file); refuses folders, FIFOs, devices and a parent that is a file."""
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise SessionError(path, f"cannot hold a session: {blocker} is a file, not a folder")
    if not os.path.lexists(path):
        return False
    try:
        regular_file(path, "session")
    except LoadError as exc:
        raise SessionError(path, exc.reason) from None
    return True


def _read_only_uri(path: Path, immutable: bool = False) -> str:
    return f"file:{quote(os.fsencode(path.resolve()))}?{'immutable=1' if immutable else 'mode=ro'}"


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write and leaves no trace: without a pending -wal file the database is read as
    immutable (SQLite makes no -wal/-shm files then); works on a read-only file or folder too."""
    if not os.path.exists(f"{path}-wal"):
        return sqlite3.connect(_read_only_uri(path, immutable=True), uri=True, check_same_thread=False)
    try:
        con = sqlite3.connect(_read_only_uri(path), uri=True, check_same_thread=False)
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:   # a WAL session in a read-only folder: no -shm can be made
        return sqlite3.connect(_read_only_uri(path, immutable=True), uri=True, check_same_thread=False)


def _check_existing(path: Path) -> bool:
    """Refuses, read-only, anything that is not an intact session file this version can use; False when empty."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise SessionError(path, f"cannot read the session file: {os_reason(exc, writing=False)}") from None
    if head and head != SQLITE_HEADER:
        raise SessionError(path, "not a segviewer session file (not an SQLite database); it was left untouched")
    if not head:
        return False  # an empty file becomes a new session
    try:
        con = connect_read_only(path)
        try:
            check = [r[0] for r in con.execute("PRAGMA quick_check(3)")]
            if check != ["ok"]:
                raise SessionError(path, f"damaged session file (quick_check: {plain('; '.join(map(str, check)), 160)}); "
                                         "it was left untouched")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in tables:
                raise SessionError(path, "an SQLite database, but not a segviewer session file; it was left untouched")
            meta = {str(k): str(v) for k, v in con.execute("SELECT key, value FROM meta")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise SessionError(path, _session_reason(exc)) from None
    if meta.get("app") != APP_ID:
        raise SessionError(path, "an SQLite database, but not a segviewer session file; it was left untouched")
    version = meta.get("schema_version", "")
    if not version.isdigit():
        raise SessionError(path, f"damaged session file (schema_version {version[:20]!r} is not a number); "
                                 "it was left untouched")
    if int(version) > SCHEMA_VERSION:
        raise SessionError(path, f"made by a newer segviewer (schema {version} > {SCHEMA_VERSION}); "
                                 "update segviewer to open it")
    return True


class ReviewStore:
    def __init__(self, path: str | Path, statuses: tuple[str, ...] | None = None, read_only: bool = False):
        """read_only: for reports; the file is never written (it may sit on a read-only disk)."""
        self.path = Path(path)
        self.read_only = read_only
        self._my_changes: list[int] = []
        exists = _check_path(self.path)
        valid = _check_existing(self.path) if exists else False
        if read_only:
            if not valid:
                raise SessionError(self.path, "session file does not exist" if not exists else
                                   "empty file, not a session with reviews")
            self.con = connect_read_only(self.path)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SessionError(self.path, f"cannot create the session's folder: {os_reason(exc)}") from None
        try:
            self.con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self._create(tuple(valid_utf8(st) for st in statuses) if statuses else None)
        except sqlite3.Error as exc:
            raise SessionError(self.path, _session_reason(exc)) from None

    def _create(self, statuses) -> None:
        with self._write():
            self.con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.con.execute("CREATE TABLE IF NOT EXISTS statuses (position INTEGER PRIMARY KEY, name TEXT UNIQUE)")
            self.con.execute("CREATE TABLE IF NOT EXISTS reviews (image TEXT PRIMARY KEY, status TEXT, note TEXT, "
                             "reviewer TEXT, time REAL)")
            self.con.execute("CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, image TEXT, "
                             "before_status TEXT, before_note TEXT, before_reviewer TEXT, before_time REAL)")
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('app', ?), ('schema_version', ?)",
                             (APP_ID, str(SCHEMA_VERSION)))
            if not self.con.execute("SELECT COUNT(*) FROM statuses").fetchone()[0]:
                self.con.executemany("INSERT INTO statuses VALUES (?, ?)", enumerate(statuses or DEFAULT_STATUSES))

    def _write(self):
        store = self

        class Tx:
            def __enter__(self):
                if store.read_only:
                    raise SessionError(store.path, "session was opened read-only; nothing was changed")
                try:
                    store.con.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise SessionError(store.path, _session_reason(exc)) from None

            def __exit__(self, exc_type, exc, *_):
                try:
                    store.con.execute("COMMIT" if exc_type is None else "ROLLBACK")
                except sqlite3.Error as db_exc:
                    if exc_type is None:
                        raise SessionError(store.path, _session_reason(db_exc)) from None
                if isinstance(exc, sqlite3.Error):
                    raise SessionError(store.path, _session_reason(exc)) from None
        return Tx()

    @property
    def statuses(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT name FROM statuses ORDER BY position")]

    def resolve_status(self, text: str) -> str:
        """A status by its name or its command-line slug (needs-fix for 'needs fix')."""
        for name in self.statuses:
            if text == name or slug(text) == slug(name):
                return name
        raise SessionError(self.path, f"unknown status {text!r} (statuses: {', '.join(slug(s) for s in self.statuses)})")

    def reviews(self) -> dict[str, Review]:
        return {r[0]: Review(*r) for r in self.con.execute("SELECT image, status, note, reviewer, time FROM reviews")}

    def review(self, image: str) -> Review | None:
        row = self.con.execute("SELECT image, status, note, reviewer, time FROM reviews WHERE image=?", (image,)).fetchone()
        return Review(*row) if row else None

    def set_review(self, image: str, status: str | None = None, note: str | None = None,
                   reviewer: str | None = None) -> Review:
        """Changes what is given, keeps the rest, commits at once; remembered for undo. Text with invalid UTF-8
        (e.g. from a command line) is stored with replacement characters."""
        image, note, reviewer = (valid_utf8(t) if t is not None else None for t in (image, note, reviewer))
        with self._write():
            old = self.review(image)
            new = Review(image, self.resolve_status(status) if status is not None else (old.status if old else self.statuses[0]),
                         note if note is not None else (old.note if old else ""),
                         reviewer if reviewer is not None else (old.reviewer if old else ""), time.time())
            cur = self.con.execute("INSERT INTO history (image, before_status, before_note, before_reviewer, before_time) "
                                   "VALUES (?, ?, ?, ?, ?)", (image, *(
                                       (old.status, old.note, old.reviewer, old.time) if old else (None,) * 4)))
            self.con.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?)",
                             (new.image, new.status, new.note, new.reviewer, new.time))
        self._my_changes.append(int(cur.lastrowid))
        return new

    def undo(self) -> str | None:
        """Reverts the last change this store made; returns the image it touched."""
        if not self._my_changes:
            return None
        hid = self._my_changes.pop()
        with self._write():
            row = self.con.execute("SELECT image, before_status, before_note, before_reviewer, before_time FROM history "
                                   "WHERE id=?", (hid,)).fetchone()
            image, status = row[0], row[1]
            if status is None:
                self.con.execute("DELETE FROM reviews WHERE image=?", (image,))
            else:
                self.con.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?)", row)
            self.con.execute("DELETE FROM history WHERE id=?", (hid,))
        return image

    def first_unreviewed(self, names: list[str], start: int = 0) -> int | None:
        """Index of the first image from `start` on (wrapping) whose status is still the first status."""
        reviews, first = self.reviews(), self.statuses[0]
        n = len(names)
        for k in range(n):
            i = (start + k) % n
            r = reviews.get(names[i])
            if r is None or r.status == first:
                return i
        return None

    def close(self) -> None:
        self.con.close()
