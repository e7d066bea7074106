"""Offline journals left behind: a reviewer killed with -9 while offline has its changes sent by the next segviewer of
that user that reaches the server — for any session there, a report too — while a running segviewer's journal is
left to it; qa-report says what still waits on this machine, and for whom."""
import signal

from helpers import run_cli
from segviewer.core.sessions import open_session
from test_team_faults import saved_lines, start_worker
from test_team_link import cut


def session_rows(pg):
    with pg.admin() as con:
        return con.execute("SELECT s.name, c.change_id, c.image, c.status, c.reviewer FROM segviewer.changes c "
                           "JOIN segviewer.sessions s ON s.id = c.session ORDER BY c.seq").fetchall()


def killed_while_offline(pg, tmp_path, count):
    """ann's segviewer kept `count` changes in its offline journal and was killed with -9 before sending them."""
    worker = start_worker(tmp_path, "offline", pg.url(), "ann", count, name="ann")
    saved = saved_lines(worker, until=count)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert len(saved) == count and all(journaled for *_, journaled in saved)
    return saved


def test_a_killed_reviewers_journal_is_sent_by_any_session_on_that_server(pg, tmp_path, monkeypatch):
    with open_session(pg.url()) as store:
        store.add_changes([])                                    # the session exists (so a reader can be granted)
    viewer = pg.cluster.new_role(f"viewer_{pg.name}")
    with pg.admin() as con:
        con.execute(f"GRANT USAGE ON SCHEMA segviewer TO {viewer}")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA segviewer TO {viewer}")
    saved = killed_while_offline(pg, tmp_path, 5)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-ann"))   # ann's machine and user
    report = run_cli("qa-report", "--session", pg.url(user=viewer), "--out", tmp_path / "r.csv")
    assert report.returncode == 0 and report.stderr == (
        "segviewer: warning: 5 changes of ann are waiting in an offline journal on this machine\n")
    assert session_rows(pg) == []                                # a role that may not write sends nothing
    assert run_cli("qa-set", "--session", pg.url(session="liver-v2"), "--image", "z", "--status", "accepted",
                   "--reviewer", "bob").returncode == 0          # another session on that server
    rows = session_rows(pg)
    assert rows[:5] == [("default", change_id, image, status, "ann") for change_id, image, status, _ in saved]
    assert [(row[0], row[2], row[4]) for row in rows[5:]] == [("liver-v2", "z", "bob")]
    report = run_cli("qa-report", "--session", pg.url(), "--out", tmp_path / "r.csv")
    assert report.returncode == 0 and report.stderr == ""
    assert list((tmp_path / "state-ann" / "segviewer" / "journal").glob("*.sqlite")) == []   # sent: removed


def test_a_running_segviewers_journal_is_left_to_it(pg):
    url = pg.url()
    with open_session(url, reviewer="ann") as ann:
        ann.set_review("a", "accepted")
        cut(pg, ann)
        ann.set_review("b", "needs-fix")                         # ann's window is offline: b waits in its journal
        with open_session(url, reviewer="bob") as bob:           # another window of the same user, same session
            assert bob.waiting_journals() == {"ann": 1}
            bob.set_review("c", "accepted")
            assert [row[2] for row in session_rows(pg)] == ["a", "c"]   # b is ann's window's to send
    # ann's window closed before the server was back: its journal is left behind, and a report sends it
    with open_session(url, reviewer="carol", read_only=True) as carol:
        assert carol.waiting_journals() == {} and carol.reviews()["b"].status == "needs fix"
    assert [row[2:] for row in session_rows(pg)] == [("a", "accepted", "ann"), ("c", "accepted", "bob"),
                                                     ("b", "needs fix", "ann")]
