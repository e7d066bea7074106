"""Hostile session paths for qa-set and qa-report: one line each, the session left byte for byte as it was."""
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from helpers import run_cli
from hostile_kit import refused
from segviewer.core.session import ReviewStore, SessionError
from segviewer.core.sessions import Change


def real_session(path, reviews: int = 300):
    store = ReviewStore(path)
    store.add_changes([Change(f"c{i}", f"img{i:04d}", "accepted", f"note {i} " * 8, "ann", 1.0 + i)
                       for i in range(reviews)])
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
        store.set_review("new", "accepted", note="x" * 60_000)
    assert "damaged" not in str(err.value)
    store.con.execute("PRAGMA query_only=1")
    with pytest.raises(SessionError, match="read-only; nothing was changed"):
        store.set_review("img0000", "needs-fix")
    store.close()
    assert len(ReviewStore(tmp_path / "s.sqlite", read_only=True).reviews()) == 4


def counter_at_its_maximum(how):
    def write(path):
        real_session(path, 3)
        con = sqlite3.connect(path)
        if how == "sequence":
            con.execute("UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'changes'")
        else:   # a change numbered with the largest rowid: AUTOINCREMENT has no number after it either
            con.execute("UPDATE changes SET seq = 9223372036854775807 WHERE seq = 3")
        con.commit()
        con.close()
    return write


@pytest.mark.parametrize("how", ["sequence", "last-change"])
def test_a_change_counter_at_its_maximum_is_not_a_full_disk(tmp_path, how):
    session = tmp_path / "s.sqlite"
    counter_at_its_maximum(how)(session)
    line = refused(tmp_path, ["qa-set", "--session", session, "--image", "img0001", "--status", "needs-fix"],
                   "s.sqlite", "the session's change counter reached its maximum (9,223,372,036,854,775,807), so no "
                   "change can be added to this file; nothing was changed (qa-merge copies its history into a new "
                   "session)")
    assert "disk" not in line
    res = run_cli("qa-merge", session, "--into", tmp_path / "new.sqlite")   # the way on that the message names
    assert res.returncode == 0 and "3 new changes" in res.stdout, res.stderr


# ---- sessions trust nothing inside the file: objects segviewer did not make, values of the wrong kind ----

def with_sql(*statements, v1=False):
    """A real session (version 2, or the version-1 file written by the old code) altered by statements."""
    def write(path):
        if v1:
            path.write_bytes((Path(__file__).parents[1] / "data" / "session-v1.sqlite").read_bytes())
        else:
            real_session(path, 6)
        con = sqlite3.connect(path)
        for statement in statements:
            con.execute(statement)
        con.commit()
        con.close()
    return write


def writable_schema(table, old, new):
    return with_sql("PRAGMA writable_schema=ON",
                    f"UPDATE sqlite_master SET sql = replace(sql, '{old}', '{new}') WHERE name = '{table}'")


FOREIGN_OBJECTS = {
    "trigger-deleting-others": with_sql("CREATE TRIGGER wipe AFTER INSERT ON changes BEGIN "
                                        "DELETE FROM changes WHERE image <> NEW.image; END"),
    "trigger-on-statuses": with_sql("CREATE TRIGGER t BEFORE UPDATE ON statuses BEGIN SELECT 1; END"),
    "trigger-in-v1-file": with_sql("CREATE TRIGGER t AFTER INSERT ON history BEGIN DELETE FROM reviews; END", v1=True),
    "view": with_sql("CREATE VIEW recent AS SELECT * FROM changes ORDER BY seq DESC"),
    "virtual-table": with_sql("CREATE VIRTUAL TABLE search USING fts5(note)"),
    "index-on-foreign-table": with_sql("CREATE TABLE extra (x)", "CREATE INDEX extra_x ON extra (x)"),
    "extra-index-on-changes": with_sql("CREATE INDEX by_note ON changes (note)"),
    "extra-column": with_sql("ALTER TABLE changes ADD COLUMN colour TEXT"),
    "column-declared-blob": writable_schema("changes", "reviewer TEXT NOT NULL", "reviewer BLOB"),
}
BAD_VALUES = {
    "text-where-a-time-belongs": with_sql("UPDATE changes SET time = 'yesterday' WHERE seq = 3"),
    "infinite-time": with_sql("UPDATE changes SET time = 1e999 WHERE seq = 2"),
    "finite-time-past-every-date": with_sql("UPDATE changes SET time = 1e300 WHERE seq = 2"),   # report: OverflowError
    "time-before-year-1": with_sql("UPDATE changes SET time = -1e12 WHERE seq = 2"),
    "v1-time-past-every-date": with_sql("UPDATE history SET before_time = 1e300 WHERE id = 3", v1=True),
    "blob-note": with_sql("UPDATE changes SET note = X'00FF10' WHERE seq = 4"),
    "blob-reviewer": with_sql("UPDATE changes SET reviewer = X'616E6E' WHERE seq = 1"),
    "huge-note": with_sql("UPDATE changes SET note = printf('%.*c', 70000, 'x') WHERE seq = 5"),
    "unknown-status": with_sql("UPDATE changes SET status = 'hacked' WHERE seq = 6"),
    "blob-status-name": with_sql("UPDATE statuses SET name = X'41' WHERE position = 2"),
    "v1-null-status": with_sql("UPDATE reviews SET status = NULL WHERE image = 'c'", v1=True),
    "v1-text-time": with_sql("UPDATE history SET before_time = 'noon' WHERE id = 3", v1=True),
}


CONTENTS = {**{name: (writer, "segviewer did not make") for name, writer in FOREIGN_OBJECTS.items()
               if name != "extra-column" and name != "column-declared-blob"},
            "extra-column": (FOREIGN_OBJECTS["extra-column"], "not the one segviewer makes"),
            "column-declared-blob": (FOREIGN_OBJECTS["column-declared-blob"], "not the one segviewer makes"),
            **{name: (writer, "damaged session file") for name, writer in BAD_VALUES.items()}}


@pytest.mark.parametrize("command", ["qa-set", "qa-report"])
@pytest.mark.parametrize("writer,reason", CONTENTS.values(), ids=CONTENTS.keys())
def test_what_is_inside_the_file_is_checked_before_use(tmp_path, command, writer, reason):
    """Objects segviewer did not make refuse the file before anything in it can run; values of the wrong type or
    size are one line; the file stays byte for byte as it was."""
    session = tmp_path / "s.sqlite"
    writer(session)
    args = (["qa-set", "--session", session, "--image", "img0001", "--status", "needs-fix"] if command == "qa-set"
            else ["qa-report", "--session", session, "--out", tmp_path / "report.csv"])
    line = refused(tmp_path, args, "s.sqlite", reason)
    assert len(line) < 400


def test_the_trigger_never_ran(tmp_path):
    """The case that deleted every other review: the file is refused before the first write."""
    session = tmp_path / "s.sqlite"
    FOREIGN_OBJECTS["trigger-deleting-others"](session)
    with pytest.raises(SessionError, match="trigger 'wipe'"):
        ReviewStore(session).set_review("img0001", "needs-fix")
    con = sqlite3.connect(session)
    assert con.execute("SELECT COUNT(*) FROM changes").fetchone()[0] == 6
    con.close()


def test_statuses_given_twice_is_about_the_option(tmp_path):
    line = refused(tmp_path, ["qa-set", "--session", tmp_path / "new.sqlite", "--image", "a", "--status", "ok",
                              "--statuses", "todo,ok,OK"], "--statuses", "given twice")
    assert "new.sqlite" not in line


@pytest.mark.parametrize("status", ["great", "needs fix please"])
def test_unknown_status_on_a_new_session_leaves_nothing(tmp_path, status):
    refused(tmp_path, ["qa-set", "--session", tmp_path / "sub" / "new.sqlite", "--image", "a", "--status", status],
            "unknown status")


@pytest.fixture
def shared_folder():
    """A folder another user can enter (pytest's tmp_path lies under a private folder)."""
    import shutil
    import tempfile
    folder = Path(tempfile.mkdtemp(prefix="segviewer-ro-"))
    os.chmod(folder, 0o755)
    yield folder
    for path in (folder, *folder.rglob("*")):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


AS_OTHER_USER = """
import os, sys, tempfile
from segviewer.cli import main
from segviewer.core.sessions import open_session
warm = tempfile.mkdtemp()
open_session(warm + "/w.sqlite").set_review("x", "accepted")
main(["qa-report", "--session", warm + "/w.sqlite", "--out", warm + "/r.csv"])   # every import done before
if os.geteuid() == 0:   # root ignores a read-only folder: become nobody
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.exit(main(sys.argv[1:]))
"""


def test_wal_without_shm_in_a_read_only_folder_is_read_whole(shared_folder):
    """Six committed reviews that sit only in the -wal, no -shm, a folder no one may write: all six, no trace."""
    import shutil
    import subprocess
    import sys
    live = ReviewStore(shared_folder / "live.sqlite")
    for i in range(6):
        live.set_review(f"img{i}", "accepted", note=f"n{i}")
    ro, out = shared_folder / "ro", shared_folder / "out"
    ro.mkdir()
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{live.path}{suffix}", ro / f"s.sqlite{suffix}")
    live.close()
    assert (ro / "s.sqlite-wal").stat().st_size > 0 and not (ro / "s.sqlite-shm").exists()
    os.chmod(ro, 0o555)
    res = subprocess.run([sys.executable, "-c", AS_OTHER_USER, "qa-report", "--session", ro / "s.sqlite", "--out",
                          out / "r.csv"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    import pandas as pd
    df = pd.read_csv(out / "r.csv", keep_default_na=False)
    assert df["image"].tolist() == [f"img{i}" for i in range(6)] and df["note"].tolist() == [f"n{i}" for i in range(6)]
    assert sorted(p.name for p in ro.iterdir()) == ["s.sqlite", "s.sqlite-wal"]


WRITER_50 = """
import sys
from segviewer.cli import main
sys.exit(max(main(["qa-set", "--session", sys.argv[1], "--image", f"{sys.argv[2]}{i}", "--status", "accepted"])
             for i in range(50)))
"""


def test_two_qa_set_processes_wait_their_turn(tmp_path):
    import subprocess
    import sys
    session = tmp_path / "s.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER_50, str(session), tag], stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b")]
    results = [(p.wait(60), p.stderr.read()) for p in procs]
    assert results == [(0, ""), (0, "")]
    assert len(ReviewStore(session, read_only=True).reviews()) == 100


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_new_session_is_never_another_sessions_companion(tmp_path, suffix):
    session = real_session(tmp_path / "s.sqlite", 3)
    refused(tmp_path, ["qa-set", "--session", f"{session}{suffix}", "--image", "a", "--status", "accepted"],
            f"s.sqlite{suffix}", "choose another name")
    refused(tmp_path, ["qa-merge", session, "--into", f"{session}{suffix}"], f"s.sqlite{suffix}")
    assert len(ReviewStore(session, read_only=True).reviews()) == 3


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_new_session_is_never_a_companion_of_one_made_later(tmp_path, suffix):
    """X-wal made first, X later: SQLite would then take the session for X's journal and rewrite it."""
    refused(tmp_path, ["qa-merge", real_session(tmp_path / "solo.sqlite", 2), "--into", str(tmp_path / f"t.sqlite{suffix}")],
            f"t.sqlite{suffix}", "choose another name")
    assert not (tmp_path / f"t.sqlite{suffix}").exists() and not (tmp_path / "t.sqlite").exists()
