"""QA review store: one SQLite file per session, every change committed at once, WAL so windows can share it.

A file that is not SQLite, not a segviewer session, or from a newer segviewer is refused and left untouched.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import LoadError

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


def _check_existing(path: Path) -> None:
    """Refuses, read-only, anything that is not a session file this version can write."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head and head != SQLITE_HEADER:
        raise SessionError(path, "not a segviewer session file (not an SQLite database); it was left untouched")
    if not head:
        return  # an empty file becomes a new session
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in tables:
                raise SessionError(path, "an SQLite database, but not a segviewer session file; it was left untouched")
            meta = dict(con.execute("SELECT key, value FROM meta"))
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise SessionError(path, f"damaged session file ({exc}); it was left untouched") from None
    if meta.get("app") != APP_ID:
        raise SessionError(path, "an SQLite database, but not a segviewer session file; it was left untouched")
    if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
        raise SessionError(path, f"made by a newer segviewer (schema {meta['schema_version']} > {SCHEMA_VERSION}); "
                                 "update segviewer to open it")


class ReviewStore:
    def __init__(self, path: str | Path, statuses: tuple[str, ...] | None = None):
        self.path = Path(path)
        if self.path.exists():
            _check_existing(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            self._create(statuses)
        except sqlite3.DatabaseError as exc:
            raise SessionError(self.path, f"cannot open session file ({exc})") from None
        self._my_changes: list[int] = []

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
                store.con.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                store.con.execute("COMMIT" if exc_type is None else "ROLLBACK")
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
        """Changes what is given, keeps the rest, commits at once; remembered for undo."""
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
