"""Where a session file is made, and what lies beside it: a read-only folder, a full disk, a link to nothing on the
way, a -shm that is a link. One line each, exit 2, and nothing made or left behind: a session file the refused call
made is removed with its -wal and -shm, a file that was there before never is."""
import os
import resource
import subprocess
import sys

import pytest

from helpers import run_cli
from hostile_kit import assert_one_line, refused, snapshot
from test_sessions import AS_OTHER_USER, real_session, shared_folder  # noqa: F401 (a fixture)

QA_SET = ["qa-set", "--image", "a", "--status", "accepted"]


def as_other_user(*args):
    return subprocess.run([sys.executable, "-c", AS_OTHER_USER, *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("where", ["new.sqlite", "sub/new.sqlite"])
def test_a_new_session_in_a_read_only_folder_is_one_line(shared_folder, where):   # noqa: F811
    """qa-set and qa-merge --into a new file of a folder this user may not write (chmod 555; a read-only mount
    takes the same path): sqlite3's 'unable to open database file' was a traceback."""
    source = real_session(shared_folder / "source.sqlite", 2)
    ro = shared_folder / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    made = "the session file" if where == "new.sqlite" else "the session's folder"
    for args in (["qa-set", "--session", ro / where, *QA_SET[1:]], ["qa-merge", source, "--into", ro / where]):
        result = as_other_user(*args)
        assert_one_line(result, f"ro/{where}", f"cannot create {made}: permission denied")
        assert list(ro.iterdir()) == []


FULL_DISK_AT = 45000     # bytes a file may hold: the new session's tables fit, a 60 kB note does not


def qa_set_on_a_small_disk(session, note):
    """qa-set in a process whose files cannot grow past FULL_DISK_AT (write() fails with EFBIG, as on a full disk)."""
    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (FULL_DISK_AT, FULL_DISK_AT))
    code = "import sys; from segviewer.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *QA_SET, "--session", str(session), "--note", note],
                          capture_output=True, text=True, preexec_fn=small_disk)


def test_a_first_change_refused_on_a_full_disk_leaves_no_session(tmp_path):
    session = tmp_path / "a.sqlite"
    result = qa_set_on_a_small_disk(session, "x" * 60000)
    assert_one_line(result, "a.sqlite", "nothing was changed")
    assert list(tmp_path.iterdir()) == []      # no schema-only session, no -wal, no -shm
    assert qa_set_on_a_small_disk(session, "short").returncode == 0
    before = snapshot(tmp_path)
    assert sorted(before) == ["a.sqlite"]
    assert_one_line(qa_set_on_a_small_disk(session, "y" * 60000), "a.sqlite", "nothing was changed")
    assert snapshot(tmp_path) == before        # the session that was there stays, byte for byte


def test_a_first_change_that_fails_removes_only_what_it_made(tmp_path, monkeypatch):
    """A failure after the file was made (here the insert): the file, its companions and its new folders go."""
    import sqlite3
    from segviewer.core.sessions.sqlite import SqliteStore

    def full(*_):
        raise sqlite3.OperationalError("database or disk is full")
    monkeypatch.setattr(SqliteStore, "_with_prev", full)
    refused(tmp_path, [*QA_SET, "--session", tmp_path / "new" / "deeper" / "s.sqlite"], "s.sqlite",
            "the disk is full; nothing was changed")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty.sqlite").touch()        # an empty file becomes a session: it was there, it stays
    refused(tmp_path, [*QA_SET, "--session", tmp_path / "empty.sqlite"], "empty.sqlite", "the disk is full")
    assert [p.name for p in tmp_path.iterdir()] == ["empty.sqlite"]


@pytest.mark.parametrize("suffix", ["-shm", "-wal", "-journal"])
def test_a_companion_that_is_a_link_is_refused_for_what_it_is(tmp_path, suffix):
    """SQLite would write the session's shared memory or journal through the link. The message said 'its folder is
    missing or read-only', and a 0-byte -wal was left behind."""
    session = real_session(tmp_path / "s.sqlite", 2)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / f"s.sqlite{suffix}").symlink_to(victim)
    for args in ([*QA_SET, "--session", session], ["qa-report", "--session", session, "--out", tmp_path / "r.csv"],
                 ["qa-merge", session, "--into", tmp_path / "t.sqlite"]):
        refused(tmp_path, args, "s.sqlite", f"its {suffix[1:]} file s.sqlite{suffix} is a symbolic link (to ")
    assert victim.read_text() == "precious"


def test_a_companion_that_is_a_folder_is_refused(tmp_path):
    session = real_session(tmp_path / "s.sqlite", 2)
    (tmp_path / "s.sqlite-wal").mkdir()
    refused(tmp_path, [*QA_SET, "--session", session], "its wal file s.sqlite-wal is a folder")


@pytest.mark.parametrize("session", ["gone/s.sqlite", "gone/sub/s.sqlite", "gone"])
def test_no_session_is_made_through_a_link_to_nothing(tmp_path, monkeypatch, session):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gone").symlink_to(tmp_path / "elsewhere" / "deeper")
    refused(tmp_path, [*QA_SET, "--session", session], "gone is a symbolic link to ", "which does not exist")
    refused(tmp_path, ["qa-merge", real_session(tmp_path.parent / f"{tmp_path.name}-src.sqlite", 1), "--into",
                       session], "gone is a symbolic link to ")


def test_a_read_only_folder_in_the_window_is_one_message(qtbot, tmp_path, monkeypatch):
    """The window's first change to a new session in a read-only folder (EROFS from the create, as on a read-only
    mount): one message, the window goes on; it was 'the review session stopped: OperationalError'."""
    import errno
    from PySide6.QtCore import QSettings
    from helpers import settle
    from hostile_kit import make_base
    import segviewer.core.sessions.sqlite_new as sqlite_new
    from segviewer.gui.main_window import MainWindow
    base = make_base(tmp_path / "data")
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if os.fspath(path).startswith(str(ro)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(sqlite_new.os, "open", read_only)
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.review.session_override = ro / "new.sqlite"
    assert window.actions_.open_folder(base["root"])
    settle(qtbot, window)
    window.review.toggle_mode()
    window.last_error = ""
    window.review.set_status_number(2)
    settle(qtbot, window)
    assert window.last_error == (f"Review change failed: {ro / 'new.sqlite'}: cannot create the session file: the "
                                 "file system is read-only; nothing was changed")
    assert list(ro.iterdir()) == [] and window.review.worker is not None   # the session goes on, for a retry
    window.close()


def qa_set_while_another_makes_it(monkeypatch, session, *args, theirs=("--status", "accepted")):
    """This call's qa-set, with another reviewer's qa-set making the same new session between this call writing
    its own file and linking it into place."""
    from segviewer.core.sessions.sqlite_new import NewSessionFile
    place, others = NewSessionFile.place, []

    def meanwhile(self):
        if not others:               # this call's place: the other reviewer's whole qa-set runs first
            others.append("bob")
            bob = run_cli("qa-set", "--session", session, "--image", "b", *theirs, "--reviewer", "bob")
            assert bob.returncode == 0, bob.stderr
        return place(self)
    monkeypatch.setattr(NewSessionFile, "place", meanwhile)
    return run_cli("qa-set", "--session", session, "--reviewer", "ann", *args)


def test_a_refused_first_change_never_removes_the_session_another_process_made(tmp_path, monkeypatch):
    """The maker of a new file counted as its maker after another process had committed to it: its refused first
    change deleted the other reviewer's saved review (1 run in 20 of two parallel qa-sets)."""
    from segviewer.core.session import ReviewStore
    session = tmp_path / "s.sqlite"
    result = qa_set_while_another_makes_it(monkeypatch, session, "--statuses", "todo,done", "--image", "a",
                                           "--status", "done")
    assert_one_line(result, "already has its statuses (unreviewed, accepted")
    review = ReviewStore(session).review("b")
    assert (review.status, review.reviewer) == ("accepted", "bob")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []     # no half-made file left


def test_a_first_change_the_other_process_beat_goes_into_their_session(tmp_path, monkeypatch):
    from segviewer.core.session import ReviewStore
    session = tmp_path / "s.sqlite"
    result = qa_set_while_another_makes_it(monkeypatch, session, "--image", "a", "--status", "needs fix")
    assert result.returncode == 0, result.stderr
    store = ReviewStore(session)
    assert [(store.review(i).status, store.review(i).reviewer) for i in "ab"] == [("needs fix", "ann"),
                                                                              ("accepted", "bob")]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_status_named_before_another_process_made_the_session_with_other_statuses_is_refused(tmp_path,
                                                                                               monkeypatch):
    """'accepted' was resolved against the statuses a new session gets; the session another reviewer made first
    has todo / done: the change went in, and the session read as damaged from then on."""
    from segviewer.core.session import ReviewStore
    session = tmp_path / "s.sqlite"
    result = qa_set_while_another_makes_it(monkeypatch, session, "--image", "a", "--status", "accepted",
                                           theirs=("--statuses", "todo,done", "--status", "done"))
    assert_one_line(result, "status 'accepted' is not one of this session's statuses (todo, done)")
    store = ReviewStore(session)
    assert store.review("b").status == "done" and store.review("a") is None and len(store.history()) == 1


@pytest.mark.parametrize("value", ["new.sqlite/", "sub/.", "sub/.."])
def test_a_session_value_that_names_a_folder_is_refused(tmp_path, monkeypatch, value):
    """`--into new.sqlite/` made the file new.sqlite, where the output gate refuses a file option ending in '/'."""
    monkeypatch.chdir(tmp_path)
    source = real_session(tmp_path.parent / f"{tmp_path.name}-src.sqlite", 1)
    for args in ([*QA_SET, "--session", value], ["qa-merge", source, "--into", value]):
        refused(tmp_path, args, f"session '{value}': it names a folder")


@pytest.mark.parametrize("suffix", ["-journal", "-wal"])
def test_a_journal_left_beside_a_session_not_made_yet_is_refused(tmp_path, suffix):
    """SQLite takes a hot journal beside a database for that database's: a stray one would be rolled into the new
    session the first time it is opened."""
    (tmp_path / f"s.sqlite{suffix}").write_bytes(b"left by another file")
    refused(tmp_path, [*QA_SET, "--session", tmp_path / "s.sqlite"],
            f"its {suffix[1:]} file s.sqlite{suffix} is there without the session")


def test_a_file_system_without_hard_links_makes_the_session_by_a_claim(tmp_path, monkeypatch):
    """vfat or an SMB share: os.link fails. The name is claimed (made exclusively, empty), then the written file
    renamed over it; a second maker that finds the name claimed is refused, never writes into the claim."""
    import errno
    from segviewer.core.session import ReviewStore
    import segviewer.core.sessions.sqlite_new as sqlite_new

    def no_links(*_a, **_k):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))
    monkeypatch.setattr(sqlite_new.os, "link", no_links)
    session = tmp_path / "s.sqlite"
    assert run_cli(*QA_SET, "--session", session).returncode == 0
    assert ReviewStore(session).review("a").status == "accepted"
    claimed = tmp_path / "t.sqlite"
    place = sqlite_new.NewSessionFile.place

    def claimed_meanwhile(self):
        claimed.touch()                   # another maker's claim, a moment old
        return place(self)
    monkeypatch.setattr(sqlite_new.NewSessionFile, "place", claimed_meanwhile)
    result = run_cli(*QA_SET, "--session", claimed)
    assert_one_line(result, "t.sqlite", "another process is making this session at this moment")
    assert claimed.stat().st_size == 0                           # the claim is left as it was, for its maker
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".segviewer-tmp-")] == []


def test_a_killed_makers_file_is_swept_by_the_next_one(tmp_path):
    """A maker killed before it placed its file (a closed terminal, `timeout`) left it, and its journal, for good."""
    from segviewer.core.output_run import TEMP_PREFIX, _host_tag
    dead = tmp_path / f"{TEMP_PREFIX}{_host_tag()}-999999-deadbeef-session-s.sqlite"
    live = tmp_path / f"{TEMP_PREFIX}{_host_tag()}-{os.getppid()}-0badf00d-session-s.sqlite"
    for leftover in (dead, tmp_path / f"{dead.name}-journal", live):
        leftover.write_bytes(b"half a session")
    assert run_cli(*QA_SET, "--session", tmp_path / "s.sqlite").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [live.name]