"""Hostile session paths for qa-set and qa-report: one line each, the session left byte for byte as it was."""
import os
import sqlite3

import numpy as np
import pytest

from hostile_kit import refused
from segviewer.core.session import ReviewStore, SessionError


def real_session(path, reviews: int = 300):
    store = ReviewStore(path)
    rows = [(f"img{i:04d}", "accepted", f"note {i} " * 8, "ann", 1.0 + i) for i in range(reviews)]
    store.con.executemany("INSERT INTO reviews VALUES (?, ?, ?, ?, ?)", rows)
    store.close()
    return path


def damaged_page(path):
    """One random page in the middle of a 300-review session."""
    real_session(path)
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle:middle + page] = np.random.default_rng(5).bytes(page)
    path.write_bytes(bytes(data))


def with_meta(key, value):
    def write(path):
        real_session(path, 3)
        con = sqlite3.connect(path)
        con.execute("UPDATE meta SET value=? WHERE key=?", (value, key))
        con.commit()
        con.close()
    return write


def other_database(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()


def truncated_session(path):
    real_session(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


SESSIONS = {
    "fifo": (lambda p: os.mkfifo(p), "not a regular file"),
    "symlink-to-fifo": (lambda p: (os.mkfifo(p.parent / "pipe"), p.symlink_to(p.parent / "pipe")), "not a regular file"),
    "folder": (lambda p: p.mkdir(), "is a folder"),
    "random-bytes": (lambda p: p.write_bytes(np.random.default_rng(6).bytes(5000)), "not an SQLite database"),
    "png-file": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), "not an SQLite database"),
    "other-sqlite-database": (other_database, "not a segviewer session"),
    "damaged-page": (damaged_page, "damaged session file"),
    "truncated": (truncated_session, "damaged session file"),
    "schema-version-text": (with_meta("schema_version", "abc"), "schema_version 'abc'"),
    "schema-version-99": (with_meta("schema_version", "99"), "newer segviewer"),
    "foreign-app": (with_meta("app", "someone-else"), "not a segviewer session"),
    "header-only": (lambda p: p.write_bytes(b"SQLite format 3\x00" + bytes(84)), "session"),
}


@pytest.mark.parametrize("command", ["qa-set", "qa-report"])
@pytest.mark.parametrize("writer,reason", SESSIONS.values(), ids=SESSIONS.keys())
def test_hostile_session_is_refused_untouched(tmp_path, command, writer, reason):
    session = tmp_path / "s.sqlite"
    writer(session)
    if command == "qa-set":
        args = ["qa-set", "--session", session, "--image", "img0001", "--status", "needs-fix", "--note", "x"]
    else:
        args = ["qa-report", "--session", session, "--out", tmp_path / "report.csv"]
    refused(tmp_path, args, "s.sqlite", reason)


def test_session_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    refused(tmp_path, ["qa-set", "--session", tmp_path / "afile" / "s.sqlite", "--image", "a", "--status", "accepted"],
            "s.sqlite", "is a file, not a folder")


def test_report_of_a_missing_session(tmp_path):
    refused(tmp_path, ["qa-report", "--session", tmp_path / "none.sqlite", "--out", tmp_path / "r.csv"],
            "none.sqlite", "does not exist")


def test_unknown_status_changes_nothing(tmp_path):
    session = real_session(tmp_path / "s.sqlite", 5)
    refused(tmp_path, ["qa-set", "--session", session, "--image", "img0001", "--status", "great"], "unknown status")


@pytest.mark.parametrize("out,reason", [("s.sqlite", "would overwrite an input"), ("s.sqlite-wal", "would overwrite"),
                                        (".", "is a folder"), ("/dev/full", "not a regular file")])
def test_report_never_writes_over_its_session(tmp_path, out, reason):
    session = real_session(tmp_path / "s.sqlite", 5)
    (tmp_path / "s.sqlite-wal").write_bytes(b"")   # a companion left by a window
    target = out if out.startswith("/") else tmp_path / out
    refused(tmp_path, ["qa-report", "--session", session, "--out", target], reason)


def test_read_only_store_reports_and_refuses_writes(tmp_path):
    session = real_session(tmp_path / "s.sqlite", 4)
    before = session.read_bytes()
    store = ReviewStore(session, read_only=True)
    assert sorted(store.reviews())[:2] == ["img0000", "img0001"]
    with pytest.raises(SessionError, match="read-only; nothing was changed"):
        store.set_review("img0000", "needs-fix")
    store.close()
    assert session.read_bytes() == before


def test_full_disk_and_read_only_are_not_called_damage(tmp_path):
    store = ReviewStore(real_session(tmp_path / "s.sqlite", 4))
    pages = store.con.execute("PRAGMA page_count").fetchone()[0]
    store.con.execute(f"PRAGMA max_page_count={pages}")   # the file may not grow: SQLite says 'disk is full'
    with pytest.raises(SessionError, match="the disk is full; nothing was changed") as err:
        store.set_review("new", "accepted", note="x" * 100_000)
    assert "damaged" not in str(err.value)
    store.con.execute("PRAGMA query_only=1")
    with pytest.raises(SessionError, match="read-only; nothing was changed"):
        store.set_review("img0000", "needs-fix")
    store.close()
    assert len(ReviewStore(tmp_path / "s.sqlite", read_only=True).reviews()) == 4
