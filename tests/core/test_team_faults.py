"""Team sessions under load and faults: four reviewer processes at once, the server stopped mid-review, a reviewer
killed with -9, solo sessions merged in twice. Reviewers are real processes (tests/team_worker.py)."""
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from helpers import run_cli
from segviewer.core.sessions import open_session

WORKER = str(Path(__file__).parents[1] / "team_worker.py")


def start_worker(tmp_path, *args, name="w"):
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / f"state-{name}"))
    return subprocess.Popen([sys.executable, WORKER, *map(str, args)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)


def saved_change(line: str) -> tuple[str, str, str, bool]:
    """(change_id, image, status, journaled) of a 'saved' line."""
    words = line.split()
    return words[1], words[2], " ".join(words[4:]), words[3] == "0"


def saved_lines(proc, until=None):
    """(change_id, image, status, journaled) of each 'saved' line until 'done' (or until `until` lines)."""
    saved = []
    for line in proc.stdout:
        if line.startswith("done"):
            break
        if line.startswith("saved"):
            saved.append(saved_change(line))
        if until is not None and len(saved) == until:
            break
    return saved


def paced_changes(proc, count, fault):
    """Lets a 'write' worker make its changes one at a time: fault(n) runs after the n-th is reported saved and
    before the next is made, so a fault lands exactly between two changes however slow the machine is."""
    assert proc.stdout.readline() == "ready\n"
    saved = []
    for n in range(1, count + 1):
        proc.stdin.write("\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line.startswith("saved"), line
        saved.append(saved_change(line))
        fault(n)
    return saved


def server_rows(pg):
    with pg.admin() as con:
        return con.execute("SELECT seq, change_id, image, status, note, reviewer, prev_status FROM segviewer.changes "
                           "ORDER BY seq").fetchall()


def test_four_reviewers_at_once(pg, tmp_path):
    url = pg.url()
    open_session(url).add_changes([])   # the session exists before the reviewers start
    workers = [start_worker(tmp_path, "review", url, f"r{k}", 500, 200, name=f"r{k}") for k in range(4)]
    reported = {}
    threads = [threading.Thread(target=lambda k=k, w=w: reported.__setitem__(k, saved_lines(w)))
               for k, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [w.wait(30) for w in workers] == [0, 0, 0, 0]
    rows = server_rows(pg)
    assert sorted(r[1] for r in rows) == sorted(c for saved in reported.values() for c, *_ in saved)
    assert len(rows) == 800 and all(len(saved) == 200 for saved in reported.values())
    reviewers_per_image = {image: {r[5] for r in rows if r[2] == image} for image in {r[2] for r in rows}}
    assert len(reviewers_per_image) == 400 and all(len(who) == 1 for who in reviewers_per_image.values())
    assert Counter(r[2] for r in rows) == {image: 2 for image in reviewers_per_image}
    last_status = {}
    for seq, _, image, status, note, reviewer, prev_status in rows:   # in the server's order
        if status is not None:
            last_status[image] = status
        else:
            assert prev_status == last_status[image]   # the note change recorded the status before it
    with open_session(url, read_only=True) as store:
        assert {k: r.status for k, r in store.reviews().items()} == last_status
        assert {k: r.note for k, r in store.reviews().items()} == {
            image: f"seen by {next(iter(who))}" for image, who in reviewers_per_image.items()}
    worker_status = {image: status for saved in reported.values() for _, image, status, _ in saved if status != "-"}
    assert worker_status == last_status


def test_server_stopped_mid_review_loses_nothing_and_sends_once(pg, tmp_path):
    url = pg.url()
    writer = start_worker(tmp_path, "write", url, "ann", 100)

    def fault(n):
        if n == 30:
            pg.cluster.stop("fast")
        elif n == 60:
            pg.cluster.start()
    saved = paced_changes(writer, 100, fault)
    assert saved_lines(writer) == [] and writer.wait(60) == 0   # 'done' once its journal was sent (or 60 s)
    assert [journaled for *_, journaled in saved[:60]] == [False] * 30 + [True] * 30   # 31-60: server stopped
    rows = server_rows(pg)
    assert [r[1] for r in rows] == [c for c, *_ in saved]   # every change, once, in the order it was made
    assert [r[2] for r in rows] == [f"img{i:04d}" for i in range(100)]


def test_reviewer_killed_while_offline_loses_no_saved_change(pg, tmp_path, monkeypatch):
    url = pg.url()
    writer = start_worker(tmp_path, "write", url, "ann", 40, "hold", name="ann")
    saved = paced_changes(writer, 40, lambda n: n == 20 and pg.cluster.stop("fast"))
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    pg.cluster.start()
    assert [journaled for *_, journaled in saved] == [False] * 20 + [True] * 20
    assert [r[1] for r in server_rows(pg)] == [c for c, *_ in saved[:20]]   # the last 20 only in its journal
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-ann"))   # the reviewer starts again: its journal is sent
    with open_session(url, reviewer="ann") as store:
        assert store.connection().pending == 0
    assert [r[1] for r in server_rows(pg)] == [c for c, *_ in saved]


def test_merge_two_solo_sessions_twice_adds_once(pg, tmp_path):
    a, b = tmp_path / "ann.sqlite", tmp_path / "bob.sqlite"
    with open_session(a, reviewer="ann") as store:
        store.set_review("x", "accepted")
        store.set_review("y", "needs-fix", note="edge")
        store.undo()
    with open_session(b, reviewer="bob") as store:
        store.set_review("x", "model-error")
    v1 = Path(__file__).parents[1] / "data" / "session-v1.sqlite"
    first = run_cli("qa-merge", a, b, v1, "--into", pg.url())
    assert first.returncode == 0 and "11 new changes, 0 already there" in first.stdout + first.stderr, first.stderr
    again = run_cli("qa-merge", a, b, v1, "--into", pg.url())
    assert again.returncode == 0 and "0 new changes, 11 already there" in again.stdout, again.stdout
    rows = server_rows(pg)
    ids = set()
    for source in (a, b, v1):
        with open_session(source, read_only=True) as store:
            ids |= {c.change_id for c in store.history()}
    assert len(rows) == 11 and {r[1] for r in rows} == ids
    with open_session(pg.url(), read_only=True) as team:
        assert team.reviews()["y"].status == "unreviewed" and team.reviews()["x"].status == "model error"
        assert team.reviews()["b"].note == "edge missing, left side"


@pytest.mark.parametrize("bad", ["postgresql:", "a.sqlite"])
def test_merge_refuses_before_writing(pg, tmp_path, bad):
    a = tmp_path / "a.sqlite"
    with open_session(a, statuses=("todo", "done", "weird")) as store:
        store.set_review("x", "weird")
    (tmp_path / "postgresql:").write_text("not a session")
    with open_session(pg.url()) as team:
        team.set_review("z", "accepted")
    res = run_cli("qa-merge", tmp_path / bad, "--into", pg.url())
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert len(server_rows(pg)) == 1
