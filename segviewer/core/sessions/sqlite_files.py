"""SQLite session files: opening them without trusting them.

A file is used only when its schema is exactly one segviewer wrote (version 1 or 2): the same tables with the same
CREATE text, no trigger, view, virtual table or extra index; anything else is refused before a single write, so no
SQL stored in the file ever runs. Reads are read-only and leave no trace: a file whose committed changes sit in a
`-wal` that SQLite cannot open read-only (no `-shm` and a read-only folder) is read from a private copy, never half.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from ..errors import (LoadError, dangling_link, file_in_the_way, link_target, not_a_file, os_reason, plain,
                      regular_file)
from .model import APP_ID, SCHEMA_VERSION, SessionError

SQLITE_HEADER = b"SQLite format 3\x00"
COMPANIONS = ("-wal", "-shm", "-journal")   # files SQLite keeps beside a database and writes as part of it
BUSY_TIMEOUT_S = 10.0   # another reviewer's write holds the file for milliseconds: wait, do not fail

def _objects(*tables: tuple[str, str, tuple[str, ...]]) -> dict:
    """(type, name) -> (table, CREATE text) of each table and the indexes SQLite or segviewer make for it."""
    out = {}
    for name, sql, indexes in tables:
        out[("table", name)] = (name, sql)
        for index in indexes:
            out[("index", index.split(" ")[0])] = (name, index.split(" ", 1)[1] if " " in index else None)
    return out


META_TABLE = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)"
STATUSES_TABLE = "CREATE TABLE statuses (position INTEGER PRIMARY KEY, name TEXT UNIQUE)"
COMMON = (("meta", META_TABLE, ("sqlite_autoindex_meta_1",)),
          ("statuses", STATUSES_TABLE, ("sqlite_autoindex_statuses_1",)),
          ("sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)", ()))
V1 = _objects(*COMMON,
              ("reviews", "CREATE TABLE reviews (image TEXT PRIMARY KEY, status TEXT, note TEXT, reviewer TEXT, "
                          "time REAL)", ("sqlite_autoindex_reviews_1",)),
              ("history", "CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, image TEXT, before_status TEXT, "
                          "before_note TEXT, before_reviewer TEXT, before_time REAL)", ()))
CHANGES_TABLE = ("CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, change_id TEXT NOT NULL UNIQUE, "
                 "image TEXT NOT NULL, status TEXT, note TEXT, reviewer TEXT NOT NULL, time REAL NOT NULL, "
                 "prev_status TEXT, prev_note TEXT)")
CHANGES_INDEX = "CREATE INDEX changes_by_image ON changes (image, seq)"
V2 = _objects(*COMMON, ("changes", CHANGES_TABLE,
                        ("sqlite_autoindex_changes_1", f"changes_by_image {CHANGES_INDEX}")))
SCHEMAS = {1: V1, 2: V2}
NEW_SESSION = (META_TABLE, STATUSES_TABLE, CHANGES_TABLE, CHANGES_INDEX)


def session_reason(exc: Exception, path: Path | None = None) -> str:
    """What an SQLite error on the session file at path means for the user (a read-only or full disk is not a
    damaged session)."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return "the session file (or its folder) is read-only; nothing was changed"
    if "full" in text:
        return "the disk is full; nothing was changed"
    if "locked" in text or "busy" in text:
        return f"the session stayed locked by another program for {BUSY_TIMEOUT_S:.0f} s; nothing was changed"
    if "unable to open" in text:
        return _unopenable(path)
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"damaged session file ({plain(exc)}); it was left untouched"
    if "disk i/o" in text:
        return "input/output error on the session file (disk full, read-only or failing?); nothing was changed"
    return f"session file cannot be used ({plain(exc)})"


def _unopenable(path: Path | None) -> str:
    folder = path.parent if path is not None else None
    if folder is not None and folder.is_dir() and not os.access(folder, os.W_OK):
        return f"cannot open the session file: its folder {folder} is read-only; nothing was changed"
    return "SQLite cannot open the session file or the -wal / -shm beside it; nothing was changed"


def existing_file(path: Path) -> bool:
    """True when a session file exists (a regular file); refuses folders, FIFOs, devices, a parent that is a file,
    a link to nothing on the way (SQLite would create its target), and companions that are links or no files."""
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise SessionError(path, f"cannot hold a session: {blocker} is a file, not a folder")
    dangling = dangling_link(path)
    if dangling is not None:
        raise SessionError(path, f"{dangling[0]} is a symbolic link to {dangling[1]}, which does not exist; "
                                 "a session is never made through a link")
    _check_companions(path)
    if not os.path.lexists(path):
        return False
    try:
        regular_file(path, "session")
    except LoadError as exc:
        raise SessionError(path, exc.reason) from None
    return True


def _check_companions(path: Path) -> None:
    """SQLite opens a session's -wal, -shm and -journal for writing (also to read a -wal): each must be a plain
    file that SQLite made, never a link it would write through."""
    for suffix in COMPANIONS:
        companion = Path(f"{path}{suffix}")
        try:
            st = os.lstat(companion)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise SessionError(path, f"cannot check its {suffix[1:]} file {companion.name}: "
                                     f"{os_reason(exc, writing=False)}") from None
        if stat.S_ISLNK(st.st_mode):
            raise SessionError(path, f"its {suffix[1:]} file {companion.name} is a symbolic link (to "
                                     f"{link_target(companion)}), not a file SQLite made; refused untouched")
        problem = not_a_file(st)
        if problem:
            raise SessionError(path, f"its {suffix[1:]} file {companion.name} {problem}; refused untouched")


def not_a_companion(path: Path) -> None:
    """A new session file must not be named like a session's -wal, -shm or -journal: SQLite would read it as part
    of that session (and rewrite it) — also of one made later under the shorter name."""
    for suffix in COMPANIONS:
        if path.name.endswith(suffix):
            raise SessionError(path, f"is where SQLite keeps the {suffix[1:]} of a session named "
                                     f"{path.name[: -len(suffix)]}; choose another name for a new session")


def has_content(path: Path) -> bool:
    """False for an empty file (it becomes a new session); refuses a file that is not SQLite, unread."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise SessionError(path, f"cannot read the session file: {os_reason(exc, writing=False)}") from None
    if head and head != SQLITE_HEADER:
        raise SessionError(path, "not a segviewer session file (not an SQLite database); it was left untouched")
    return bool(head)


def guarded(con: sqlite3.Connection) -> sqlite3.Connection:
    """No SQL function with side effects from the file's schema; text that is not UTF-8 read with replacements."""
    con.execute("PRAGMA trusted_schema=OFF")
    con.text_factory = lambda data: data.decode("utf-8", "replace")
    return con


def connect_writable(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    return guarded(con)


def use_wal(con: sqlite3.Connection) -> None:
    """WAL, so windows read while one writes. Switching needs the file to itself and SQLite does not wait for
    that (no busy handler): retried until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            con.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _uri(path: Path, immutable: bool = False) -> str:
    return f"file:{quote(os.fsencode(path.resolve()))}?{'immutable=1' if immutable else 'mode=ro'}"


def _pending_companion(path: Path) -> bool:
    """A -wal with content or a rollback -journal: committed (or half-made) changes outside the main file."""
    for suffix in ("-wal", "-journal"):
        try:
            if os.path.getsize(f"{path}{suffix}") > 0:
                return True
        except OSError:
            continue
    return False


class ReadOnlyFile:
    """A read-only connection to a session file, from a private copy when SQLite cannot read the file in place."""

    def __init__(self, path: Path):
        self.path, self._copy = path, None
        if not _pending_companion(path):   # nothing outside the main file: read it as immutable, no -shm made
            self.con = guarded(sqlite3.connect(_uri(path, immutable=True), uri=True, check_same_thread=False))
            return
        try:
            con = guarded(sqlite3.connect(_uri(path), uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False))
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            self.con = con
        except sqlite3.Error:   # e.g. a -wal without -shm in a read-only folder: read a copy, not half the file
            self.con = self._from_copy()

    def _from_copy(self) -> sqlite3.Connection:
        self._copy = Path(tempfile.mkdtemp(prefix="segviewer-session-"))
        target = self._copy / "session.sqlite"
        try:
            for suffix in ("", "-wal", "-journal"):
                if os.path.exists(f"{self.path}{suffix}"):
                    shutil.copyfile(f"{self.path}{suffix}", f"{target}{suffix}")
        except OSError as exc:
            self.close()
            raise SessionError(self.path, f"cannot read the session file: {os_reason(exc, writing=False)}") from None
        return guarded(sqlite3.connect(target, check_same_thread=False))

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None


def check_session(con: sqlite3.Connection, path: Path) -> int:
    """The schema version of an intact segviewer session whose objects are exactly segviewer's; else SessionError.

    Reads only: nothing in the file is executed (no trigger can exist once this passed)."""
    check = [r[0] for r in con.execute("PRAGMA quick_check(3)")]
    if check != ["ok"]:
        raise SessionError(path, f"damaged session file (quick_check: {plain('; '.join(map(str, check)), 160)}); "
                                 "it was left untouched")
    objects = {(t, n): (tbl, sql) for t, n, tbl, sql in
               con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")}
    if objects.get(("table", "meta")) != V2[("table", "meta")]:
        raise SessionError(path, "an SQLite database, but not a segviewer session file; it was left untouched")
    _only_known(objects, {**V1, **V2}, path)   # before a single row is read
    version = _meta_version(con, path)
    if version > SCHEMA_VERSION:
        raise SessionError(path, f"made by a newer segviewer (schema {version} > {SCHEMA_VERSION}); "
                                 "update segviewer to open it")
    expected = SCHEMAS.get(version)
    if expected is None:
        raise SessionError(path, f"damaged session file (schema_version {version} is unknown); it was left untouched")
    _only_known(objects, expected, path)
    for key, want in expected.items():
        if key not in objects and key[1] != "sqlite_sequence":   # made only once a row was numbered
            raise SessionError(path, f"damaged session file ({key[0]} {key[1]!r} is missing); it was left untouched")
    return version


def _only_known(objects: dict, expected: dict, path: Path) -> None:
    extra = sorted(f"{t} {n!r}" for t, n in objects if (t, n) not in expected)
    if extra:
        raise SessionError(path, f"the session file holds objects segviewer did not make ({', '.join(extra[:3])}); "
                                 "refused untouched, nothing in it was run")
    for key, found in objects.items():
        if found != expected[key]:
            raise SessionError(path, f"the session file's {key[0]} {key[1]!r} is not the one segviewer makes; "
                                     "refused untouched, nothing in it was run")


def _meta_version(con: sqlite3.Connection, path: Path) -> int:
    rows = con.execute("SELECT substr(key, 1, 64), substr(value, 1, 64) FROM meta LIMIT 100").fetchall()
    meta = {k: v for k, v in rows if isinstance(k, str) and isinstance(v, str)}
    if meta.get("app") != APP_ID:
        raise SessionError(path, "an SQLite database, but not a segviewer session file; it was left untouched")
    version = meta.get("schema_version", "")
    if not (version.isascii() and version.isdigit() and len(version) < 6):
        raise SessionError(path, f"damaged session file (schema_version {version[:20]!r} is not a number); "
                                 "it was left untouched")
    return int(version)
