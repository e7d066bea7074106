"""The QA store: committed at once, survives SIGKILL, shared by two writers, refuses foreign files untouched."""
import csv
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import torch

from segviewer.core.counts import Counts
from segviewer.core.qa_report import write_report
from segviewer.core.session import DEFAULT_STATUSES, ReviewStore, SessionError, default_session_path


def test_set_undo_and_resume(tmp_path):
    store = ReviewStore(tmp_path / "s.sqlite")
    assert store.statuses == list(DEFAULT_STATUSES)
    store.set_review("a", "accepted", reviewer="ann")
    store.set_review("b", "needs-fix", note="edge missing")
    store.set_review("b", note="edge missing, left side")
    r = store.review("b")
    assert (r.status, r.note) == ("needs fix", "edge missing, left side")
    assert store.undo() == "b" and store.review("b").note == "edge missing"
    assert store.undo() == "b" and store.review("b") is None
    assert store.first_unreviewed(["a", "b", "c"]) == 1
    with pytest.raises(SessionError, match="unknown status"):
        store.set_review("a", "great")
    assert store.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_custom_status_names(tmp_path):
    store = ReviewStore(tmp_path / "s.sqlite", statuses=("todo", "ok", "redo"))
    store.set_review("x", "redo")
    store.close()
    assert ReviewStore(tmp_path / "s.sqlite").statuses == ["todo", "ok", "redo"]


WRITER = textwrap.dedent("""
    import sys, time
    from segviewer.core.session import ReviewStore
    store = ReviewStore(sys.argv[1])
    for i in range(int(sys.argv[2])):
        store.set_review(f"img{i}", "accepted", note=f"note {i}")
    print("done", flush=True)
    time.sleep(60)
""")


def test_changes_survive_sigkill(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "25"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "done"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reviews = ReviewStore(path).reviews()
    assert len(reviews) == 25 and reviews["img24"].note == "note 24"


def test_concurrent_writers(tmp_path):
    path = tmp_path / "s.sqlite"
    ReviewStore(path).close()
    script = textwrap.dedent("""
        import sys
        from segviewer.core.session import ReviewStore
        s = ReviewStore(sys.argv[1])
        for i in range(40):
            s.set_review(f"{sys.argv[2]}{i}", "ambiguous")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), p]) for p in ("a", "b", "c")]
    assert all(p.wait() == 0 for p in procs)
    other = ReviewStore(path)
    assert len(other.reviews()) == 120
    assert other.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_windows_see_each_others_changes(tmp_path):
    a, b = ReviewStore(tmp_path / "s.sqlite"), ReviewStore(tmp_path / "s.sqlite")
    a.set_review("x", "accepted")
    assert b.reviews()["x"].status == "accepted"
    b.set_review("x", note="seen")
    assert a.review("x").note == "seen" and a.review("x").status == "accepted"


@pytest.mark.parametrize("content", [b"this is not sqlite at all", b"SQLite format 3\x00" + b"\x00" * 50])
def test_damaged_or_foreign_files_are_left_untouched(tmp_path, content):
    path = tmp_path / "s.sqlite"
    path.write_bytes(content)
    with pytest.raises(SessionError) as err:
        ReviewStore(path)
    assert str(path) in str(err.value)
    assert path.read_bytes() == content
    assert not (tmp_path / "s.sqlite-wal").exists()


def test_foreign_sqlite_and_newer_schema(tmp_path):
    foreign = tmp_path / "f.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE stuff (x)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(SessionError, match="not a segviewer session"):
        ReviewStore(foreign)
    assert foreign.read_bytes() == before
    newer = tmp_path / "n.sqlite"
    ReviewStore(newer).close()
    con = sqlite3.connect(newer)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    before = newer.read_bytes()
    with pytest.raises(SessionError, match="newer segviewer"):
        ReviewStore(newer)
    assert newer.read_bytes() == before


def test_report_escaping_and_round_trip(tmp_path):
    store = ReviewStore(tmp_path / "s.sqlite")
    tricky = 'a, "quoted"\nsecond line — ünïcødé ✓'
    store.set_review("=cmd|' /C calc'!A0", "accepted", note=tricky, reviewer="+ann")
    store.set_review("img2", "model-error", note="-2+3", reviewer="@bob")
    counts = Counts(torch.tensor([[5, 0], [1, 1]]), torch.tensor([[1, 0], [0, 1]]), torch.tensor([[0, 0], [1, 0]]))
    write_report(tmp_path / "r.csv", store, ["=cmd|' /C calc'!A0", "img2"], counts)
    df = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    assert list(df.columns[:5]) == ["image", "status", "note", "reviewer", "time"]
    assert df["image"][0] == "'=cmd|' /C calc'!A0" and df["reviewer"][0] == "'+ann"
    assert df["note"][0] == tricky and df["note"][1] == "'-2+3" and df["reviewer"][1] == "'@bob"
    assert df["status"][1] == "model error"
    assert df["mean_dice"][0] == pytest.approx((10 + 1e-5) / (11 + 1e-5))  # class 1 absent: left out
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        assert all(not cell.startswith(("=", "+", "-", "@")) for row in csv.reader(fh) for cell in row)


def test_default_path_beside_dataset(tmp_path):
    (tmp_path / "gt").mkdir()
    assert default_session_path(tmp_path / "gt") == tmp_path.resolve() / ".segviewer" / "session.sqlite"
