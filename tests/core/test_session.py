"""The QA store: committed at once, survives SIGKILL, shared by two writers, refuses foreign files untouched."""
import csv
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from segviewer.core.counts import Counts
from segviewer.core.qa_report import write_report
from segviewer.core.errors import OptionError
from segviewer.core.session import DEFAULT_STATUSES, ReviewStore, SessionError
from segviewer.core.session_paths import default_session_path


def test_set_undo_and_resume(tmp_path):
    store = ReviewStore(tmp_path / "s.sqlite")
    assert store.statuses == list(DEFAULT_STATUSES)
    store.set_review("a", "accepted", reviewer="ann")
    store.set_review("b", "needs-fix", note="edge missing")
    store.set_review("b", note="edge missing, left side")
    r = store.review("b")
    assert (r.status, r.note) == ("needs fix", "edge missing, left side")
    assert store.undo() == "b" and store.review("b").note == "edge missing"
    undone = store.review("b")
    assert store.undo() == "b" and (store.review("b").status, store.review("b").note) == ("unreviewed", "")
    assert store.undo() == "a" and store.undo() is None
    assert store.first_unreviewed(["a", "b", "c"]) == 0
    # undo is a change of its own: the history keeps all six, each with the review it replaced
    history = [(c.image, c.status, c.note, c.prev_status, c.prev_note) for c in store.history()]
    assert history == [("a", "accepted", None, None, None), ("b", "needs fix", "edge missing", None, None),
                       ("b", None, "edge missing, left side", "needs fix", "edge missing"),
                       ("b", None, "edge missing", "needs fix", "edge missing, left side"),
                       ("b", "unreviewed", "", "needs fix", "edge missing"), ("a", "unreviewed", None, "accepted", "")]
    assert undone.reviewer == store.reviewer and [c.seq for c in store.history()] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(OptionError, match="unknown status"):
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
    ReviewStore(newer).set_review("a", "accepted")
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


V1_FILE = Path(__file__).parents[1] / "data" / "session-v1.sqlite"
# the version-1 fixture's changes (tests/data/README.md): image, status set, note set, reviewer, review before
V1_HISTORY = [("a", "accepted", None, "ann", None, None), ("b", "needs fix", "edge missing", "ann", None, None),
              ("b", None, "edge missing, left side", "bob", "needs fix", "edge missing"),
              ("c", "model error", None, "bob", None, None), ("c", "ambiguous", None, "ann", "model error", ""),
              ("e", "accepted", 'ünïcødé, "quoted"', "ann", None, None), ("a", "needs fix", None, "bob", "accepted", "")]


def history_of(store):
    return [(c.image, c.status, c.note, c.reviewer, c.prev_status, c.prev_note) for c in store.history()]


def test_version_1_file_is_read_as_its_history_untouched(tmp_path):
    path = tmp_path / "v1.sqlite"
    path.write_bytes(V1_FILE.read_bytes())
    store = ReviewStore(path, read_only=True)
    assert history_of(store) == V1_HISTORY
    con = sqlite3.connect(V1_FILE)
    times = dict(con.execute("SELECT image, time FROM reviews"))
    con.close()
    assert {k: (r.status, r.note, r.reviewer, r.time) for k, r in store.reviews().items()} == {
        "a": ("needs fix", "", "bob", times["a"]), "b": ("needs fix", "edge missing, left side", "bob", times["b"]),
        "c": ("ambiguous", "", "ann", times["c"]), "e": ("accepted", 'ünïcødé, "quoted"', "ann", times["e"])}
    store.close()
    assert path.read_bytes() == V1_FILE.read_bytes() and sorted(p.name for p in tmp_path.iterdir()) == ["v1.sqlite"]


def test_version_1_file_migrates_on_the_first_write(tmp_path):
    path = tmp_path / "v1.sqlite"
    path.write_bytes(V1_FILE.read_bytes())
    ids = [c.change_id for c in ReviewStore(path, read_only=True).history()]
    store = ReviewStore(path, reviewer="cy")
    store.set_review("e", "model-error")
    assert history_of(store) == V1_HISTORY + [("e", "model error", None, "cy", "accepted", 'ünïcødé, "quoted"')]
    assert [c.change_id for c in store.history()][:7] == ids   # the same ids: merging before or after adds once
    tables = {r[0] for r in store.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"meta", "statuses", "changes", "sqlite_sequence"}
    assert store.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    store.close()
    assert history_of(ReviewStore(path, read_only=True))[:7] == V1_HISTORY


def test_undo_is_refused_after_someone_else_changed_the_image(tmp_path):
    ann, bob = ReviewStore(tmp_path / "s.sqlite", reviewer="ann"), ReviewStore(tmp_path / "s.sqlite", reviewer="bob")
    ann.set_review("x", "accepted")
    bob.set_review("x", note="checked")
    with pytest.raises(SessionError, match="x was changed by bob since; your change was not undone"):
        ann.undo()
    assert ann.review("x").note == "checked" and ann.undo() is None


def test_kappa_hand_computed_and_counts(tmp_path):
    from segviewer.core.sessions.agreement import pair_agreements, reviewer_counts
    store = ReviewStore(tmp_path / "s.sqlite")
    a = ["accepted"] * 5 + ["needs fix"] * 5
    b = ["accepted"] * 4 + ["needs fix"] * 5 + ["accepted"]
    for i, (sa, sb) in enumerate(zip(a, b)):
        store.set_review(f"i{i}", sa, reviewer="ann")
        store.set_review(f"i{i}", sb, reviewer="bob")
    store.set_review("i0", note="only a note", reviewer="cy")   # a note is no vote
    store.set_review("lone", "ambiguous", reviewer="cy")
    # p_o = 8/10, p_e = 0.5·0.5 + 0.5·0.5 = 0.5, kappa = (0.8 − 0.5) / (1 − 0.5) = 0.6
    (pair,) = pair_agreements(store.history(), store.first_status)
    assert (pair.reviewer_a, pair.reviewer_b, pair.images, pair.agreed) == ("ann", "bob", 10, 8)
    assert (pair.observed, pair.expected, pair.kappa) == pytest.approx((0.8, 0.5, 0.6))
    counts = {c.reviewer: (c.images, c.changes, c.statuses) for c in reviewer_counts(store.history(), store.statuses)}
    zero = {"accepted": 0, "needs fix": 0, "model error": 0, "ambiguous": 0}
    assert counts == {"ann": (10, 10, {**zero, "accepted": 5, "needs fix": 5}),
                      "bob": (10, 10, {**zero, "accepted": 5, "needs fix": 5}),
                      "cy": (1, 2, {**zero, "ambiguous": 1})}


def test_kappa_matches_sklearn_on_random_reviews(tmp_path):
    import random
    from sklearn.metrics import cohen_kappa_score
    rng = random.Random(3)
    store = ReviewStore(tmp_path / "s.sqlite")
    statuses = store.statuses[1:]
    votes = {r: {} for r in ("ann", "bob", "cy")}
    for i in range(80):
        truth = rng.choice(statuses)
        for reviewer in votes:
            if rng.random() < 0.7:
                status = truth if rng.random() < 0.6 else rng.choice(statuses)
                store.set_review(f"img{i}", status, reviewer=reviewer)
                votes[reviewer][f"img{i}"] = status
    store.set_review("img0", "unreviewed", reviewer="ann")   # a withdrawn vote
    votes["ann"].pop("img0", None)
    write_agreement = __import__("segviewer.core.qa_report", fromlist=["write_agreement"]).write_agreement
    write_agreement(tmp_path / "k.csv", store)
    df = pd.read_csv(tmp_path / "k.csv")
    assert list(df.columns) == ["reviewer_a", "reviewer_b", "images", "agreed", "observed_agreement",
                                "expected_agreement", "kappa"]
    assert len(df) == 3
    for row in df.itertuples():
        shared = sorted(set(votes[row.reviewer_a]) & set(votes[row.reviewer_b]))
        expected = cohen_kappa_score([votes[row.reviewer_a][i] for i in shared],
                                     [votes[row.reviewer_b][i] for i in shared])
        assert row.images == len(shared) and row.kappa == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("value,shown,name,secrets", [
    ("qa.sqlite", None, None, ()),
    ("postgresql://ann:p%40ss@db.lab:5433/qa?sslmode=verify-full&session=liver",
     "postgresql://ann:***@db.lab:5433/qa?sslmode=verify-full (session liver)", "liver", ("p%40ss", "p@ss")),
    ("postgres://ann@/qa?host=/run/postgresql&password=Xy1", "postgres://ann@/qa?host=/run/postgresql&password=***",
     "default", ("Xy1",)),
    ("service=team session=liver-v2", "service=team (session liver-v2)", "liver-v2", ()),
    ("host=db dbname=qa password='it\\'s' user=ann", "host=db dbname=qa password=*** user=ann", "default", ("it's",)),
])
def test_session_values(value, shown, name, secrets):
    from segviewer.core.sessions import PgTarget, session_target
    target = session_target(value)
    if shown is None:
        assert target == Path(value)
        return
    assert isinstance(target, PgTarget) and str(target) == shown and target.name == name
    assert "session=" not in target.conninfo and "***" not in target.conninfo
    for secret in secrets:
        assert secret not in repr(target) and secret not in target.mask(f"libpq said {secret} in {value}")
