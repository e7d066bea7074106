"""Team sessions on PostgreSQL: one history of changes shared by reviewers, leases, events, refusal of what is
not segviewer's, read-only roles, and no password anywhere. A throwaway cluster (tests/pg_cluster.py) serves them."""
import sys

import pytest

from helpers import run_cli
from segviewer.core.errors import OptionError
from segviewer.core.sessions import ChangeEvent, LeaseEvent, SessionError, open_session


def test_first_use_makes_the_schema_and_cli_round_trip(pg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = pg.url()
    assert run_cli("qa-set", "--session", url, "--image", "img1", "--status", "needs-fix", "--note", "edge",
                   "--reviewer", "ann").returncode == 0
    assert run_cli("qa-set", "--session", url, "--image", "img2", "--status", "accepted", "--reviewer", "bob").returncode == 0
    res = run_cli("qa-report", "--session", url, "--out", tmp_path / "r.csv")
    assert res.returncode == 0, res.stderr
    import pandas as pd
    df = pd.read_csv(tmp_path / "r.csv", keep_default_na=False).set_index("image")
    assert df.loc["img1", ["status", "note", "reviewer"]].tolist() == ["needs fix", "edge", "ann"]
    assert df.loc["img2", "status"] == "accepted"
    # no folder named 'postgresql:' (the state folder is the fixture's XDG_STATE_HOME, made only for a journal)
    assert [p.name for p in tmp_path.iterdir() if p.name != "state"] == ["r.csv"]
    with pg.admin() as con:
        rows = con.execute("SELECT image, status, note, reviewer, prev_status FROM segviewer.changes ORDER BY seq").fetchall()
        meta = dict(con.execute("SELECT key, value FROM segviewer.meta").fetchall())
    assert rows == [("img1", "needs fix", "edge", "ann", None), ("img2", "accepted", None, "bob", None)]
    assert meta == {"app": "segviewer-qa", "schema_version": "2"}


def test_same_model_as_sqlite(pg, tmp_path):
    """The same calls give the same history on both backends (undo is a change of its own)."""
    histories = []
    for target in (tmp_path / "s.sqlite", pg.url()):
        with open_session(target, reviewer="ann") as store:
            store.set_review("a", "accepted")
            store.set_review("b", "needs-fix", note="edge")
            store.set_review("b", note="edge, left")
            store.undo()
            store.set_review("a", "model-error", reviewer="bob")
            histories.append([(c.image, c.status, c.note, c.reviewer, c.prev_status, c.prev_note, c.seq)
                              for c in store.history()])
            assert store.review("b").note == "edge" and store.review("a").status == "model error"
    assert histories[0] == histories[1]


def test_another_reviewers_change_arrives_as_an_event(pg):
    url = pg.url()
    with open_session(url, reviewer="ann") as ann, open_session(url, reviewer="bob") as bob:
        ann.set_review("x", "accepted")
        assert [(e.change.image, e.review.status) for e in bob.poll(0)] == [("x", "accepted")]
        import threading
        threading.Timer(0.2, lambda: ann.set_review("y", "needs-fix", note="n")).start()
        events = bob.poll(timeout=30.0)    # returns with the first news
        changes = [e for e in events if isinstance(e, ChangeEvent)]
        assert [(e.change.image, e.review.status, e.review.note, e.change.reviewer) for e in changes] == [
            ("y", "needs fix", "n", "ann")]
        assert ann.poll(0) == []   # one's own changes are no news
        assert bob.progress(["x", "y", "z"]).reviewed == 2 and bob.progress(["x", "y", "z"]).mine == 0
        assert ann.progress(["x", "y", "z"]).mine == 2


def test_leases_skip_images_open_elsewhere(pg, monkeypatch):
    from segviewer.core.sessions import pg_leases
    url = pg.url()
    names = ["a", "b", "c", "d"]
    with open_session(url, reviewer="ann") as ann, open_session(url, reviewer="bob") as bob:
        ann.set_review("a", "accepted")
        assert ann.hold("b") is None
        assert bob.hold("b") == "ann" and bob.held_elsewhere() == {"b": "ann"}
        assert bob.next_unreviewed(names, 0) == 2           # a reviewed, b open at ann's: c, now bob's
        assert ann.next_unreviewed(names, 2) == 3           # c is bob's now: d (ann gives b up)
        assert bob.held_elsewhere() == {"d": "ann"} and ann.held_elsewhere() == {"c": "bob"}
        assert ann.poll(0) == []   # listening from here on
        bob.release()
        events = ann.poll(timeout=30.0)
        assert events == [LeaseEvent({})] and ann.held_elsewhere() == {}
        monkeypatch.setattr(pg_leases, "LEASE_S", 0.0)   # a window that vanished: its lease runs out
        bob.hold("b")
        assert ann.held_elsewhere() == {} and ann.hold("b") is None


def test_foreign_database_and_schema_are_refused_untouched(pg):
    with pg.admin() as con:
        con.execute("CREATE TABLE public.patients (id int, name text)")
    with pytest.raises(SessionError, match="tables that are not segviewer's") as err:
        open_session(pg.url()).set_review("a", "accepted")
    assert "postgresql://" in str(err.value)
    with pg.admin() as con:
        assert con.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'segviewer'").fetchone()[0] == 0
        con.execute("DROP TABLE public.patients")
        con.execute("CREATE SCHEMA segviewer")
        con.execute("CREATE TABLE segviewer.meta (key text, value text)")
    res = run_cli("qa-set", "--session", pg.url(), "--image", "a", "--status", "accepted")
    assert res.returncode == 2 and "segviewer did not make" in res.stderr and res.stderr.count("\n") == 1


def make_session(url):
    with open_session(url, reviewer="ann") as store:
        store.set_review("a", "accepted")
        store.set_review("b", "needs-fix")


@pytest.mark.parametrize("tamper,reason", [
    ("UPDATE segviewer.meta SET value = '3' WHERE key = 'schema_version'", "newer segviewer"),
    ("UPDATE segviewer.meta SET value = 'x' WHERE key = 'app'", "did not make"),
    ("CREATE FUNCTION segviewer.wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM segviewer.changes "
     "WHERE image <> NEW.image; RETURN NEW; END $$; CREATE TRIGGER t AFTER INSERT ON segviewer.changes FOR EACH ROW "
     "EXECUTE FUNCTION segviewer.wipe()", "a trigger"),
    ("CREATE FUNCTION public.wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM segviewer.changes; "
     "RETURN NEW; END $$; CREATE TRIGGER t BEFORE INSERT ON segviewer.leases FOR EACH ROW EXECUTE FUNCTION "
     "public.wipe()", "a trigger"),
    ("CREATE RULE r AS ON INSERT TO segviewer.changes DO ALSO DELETE FROM segviewer.changes", "a rule"),
    ("CREATE VIEW segviewer.v AS SELECT 1", "did not make"),
    ("ALTER TABLE segviewer.changes ADD COLUMN extra text", "did not make"),
    ("ALTER TABLE segviewer.changes ALTER COLUMN time TYPE text", "did not make"),
    ("CREATE INDEX extra ON segviewer.changes (lower(note))", "did not make"),
    ("ALTER TABLE segviewer.changes ENABLE ROW LEVEL SECURITY", "row-level security"),
    ("CREATE POLICY p ON segviewer.changes USING (false)", "policy"),
    ("ALTER TABLE segviewer.changes ALTER COLUMN note SET DEFAULT 'x'", "default"),
    ("CREATE TABLE segviewer.more (x int)", "did not make"),
])
def test_tampered_schema_is_refused_and_nothing_runs(pg, tmp_path, tamper, reason):
    make_session(pg.url())
    with pg.admin() as con:
        con.execute(tamper)
        before = con.execute("SELECT seq, image, status FROM segviewer.changes ORDER BY seq").fetchall()
    for args in (["qa-set", "--session", pg.url(), "--image", "c", "--status", "accepted"],
                 ["qa-report", "--session", pg.url(), "--out", tmp_path / "r.csv"]):
        res = run_cli(*args)
        assert res.returncode == 2 and reason in res.stderr and res.stderr.count("\n") == 1, res.stderr
    with pg.admin() as con:
        assert con.execute("SELECT seq, image, status FROM segviewer.changes ORDER BY seq").fetchall() == before
    assert not (tmp_path / "r.csv").exists()


def test_read_only_role_reads_and_says_so(pg, tmp_path):
    make_session(pg.url())
    with pg.admin() as con:
        con.execute("DROP ROLE IF EXISTS viewer")
        con.execute("CREATE ROLE viewer LOGIN")
        con.execute("GRANT USAGE ON SCHEMA segviewer TO viewer")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA segviewer TO viewer")
    url = pg.url(user="viewer")
    with open_session(url) as store:
        assert store.read_only and "role viewer may not change this session" in store.read_only_reason
        assert {k: r.status for k, r in store.reviews().items()} == {"a": "accepted", "b": "needs fix"}
        with pytest.raises(SessionError, match="read-only"):
            store.set_review("a", "ambiguous")
        assert store.next_unreviewed(["a", "b", "c"]) == 2
    res = run_cli("qa-set", "--session", url, "--image", "a", "--status", "ambiguous")
    assert res.returncode == 2 and "may not change this session (read-only); nothing was changed" in res.stderr
    assert run_cli("qa-report", "--session", url, "--out", tmp_path / "r.csv").returncode == 0


def test_wrong_password_is_one_line_without_the_password(pg, monkeypatch):
    pg.cluster.new_role("ann", "correct-horse-42")
    with pg.admin() as con:
        con.execute(f'GRANT ALL ON DATABASE "{pg.name}" TO ann')
    secret = "Wr0ng-pa55word-XYZ"
    res = run_cli("qa-set", "--session", pg.url(user="ann", password=secret, tcp=True), "--image", "a", "--status",
                  "accepted")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "password authentication failed" in res.stderr and secret not in res.stderr and "***" in res.stderr
    monkeypatch.setenv("PGPASSWORD", "correct-horse-42")   # libpq's own ways: PGPASSWORD, .pgpass, service files
    assert run_cli("qa-set", "--session", pg.url(user="ann", tcp=True), "--image", "a", "--status", "accepted",
                   "--reviewer", "ann").returncode == 0
    monkeypatch.delenv("PGPASSWORD")
    store = open_session(pg.url(user="ann", password="correct-horse-42", tcp=True))
    try:
        assert "correct-horse-42" not in str(store) and "correct-horse-42" not in repr(store.target)
        with pytest.raises(OptionError) as err:
            store.set_review("a", "brilliant")
        assert "correct-horse-42" not in str(err.value)
    finally:
        store.close()


def test_psycopg_is_imported_only_for_a_team_session(tmp_path):
    import subprocess
    code = ("import sys; from segviewer.cli import main; "
            f"main(['qa-set', '--session', r'{tmp_path / 's.sqlite'}', '--image', 'a', '--status', 'accepted']); "
            f"main(['qa-report', '--session', r'{tmp_path / 's.sqlite'}', '--out', r'{tmp_path / 'r.csv'}']); "
            "print('psycopg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_open_shows_a_team_sessions_statuses(pg, demo_dir, tmp_path, monkeypatch):
    import segviewer
    monkeypatch.chdir(tmp_path)
    with open_session(pg.url(), reviewer="ann") as store:
        store.set_review("scene_002", "model-error")
    with segviewer.open(folder=demo_dir, session=pg.url()) as ins:
        listed = ins.images().set_index("image")["status"]
    assert listed["scene_002"] == "model error" and listed["scene_001"] == "unreviewed"
    assert list(tmp_path.iterdir()) == []


def test_a_status_named_before_another_reviewer_made_the_team_session_with_other_statuses_is_refused(pg):
    """ann's store opened before the session existed ('accepted' is a default status); bob made it with todo /
    done; ann's change went in and the session read as damaged from then on."""
    url = pg.url()
    ann = open_session(url, reviewer="ann")
    try:
        status = ann.resolve_status("accepted")
        with open_session(url, ["todo", "done"], reviewer="bob") as bob:
            bob.set_review("b", "done")
        with pytest.raises(SessionError, match="status 'accepted' is not one of this session's statuses"):
            ann.set_review("a", status)
    finally:
        ann.close()
    with open_session(url, reviewer="carl") as carl:
        assert [(r.image, r.status) for r in carl.history()] == [("b", "done")]
