"""Team QA on PostgreSQL: status changes per second with several reviewers at once, the time from one reviewer's
status key to another reviewer's listener receiving the change, and the window's figure — from a status key pressed
in one reviewer's window to another reviewer's window showing the status in its image list (target ≤ 1 s), and the
reads an idle window makes on the server.

Starts a throwaway PostgreSQL cluster (tests/pg_cluster.py, fsync on as on a real server). The peer, measured in the
same run: the same reviewers on one shared SQLite session file (one machine, no server), whose events come from
polling the file. Reviewers are separate processes (tests/team_worker.py); the two windows share one offscreen Qt
application (one GUI thread for both: if anything, slower than two reviewers' own machines). The idle window's reads
are counted at the client while its store is polled as the window's session thread polls it (0.1 s at a time); the
peer reads the session on every poll, as the store did before it read only when LISTEN said something changed.

    python benchmarks/bench_team_qa.py [--reviewers 4] [--changes 200] [--pulses 40] [--window-pulses 40]
                                       [--idle-seconds 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TESTS = Path(__file__).parents[1] / "tests"
sys.path.insert(0, str(TESTS))
WORKER = str(TESTS / "team_worker.py")


def run_reviewers(target: str, reviewers: int, changes: int, state: Path) -> tuple[float, int]:
    """(changes per second over the slowest reviewer's time, changes made): 'next unreviewed', a status, a note."""
    procs = [subprocess.Popen([sys.executable, WORKER, "review", target, f"r{k}", str(reviewers * changes),
                               str(changes)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, XDG_STATE_HOME=str(state / f"r{k}"))) for k in range(reviewers)]
    elapsed, made = [], 0
    for proc in procs:
        for line in proc.stdout:
            if line.startswith("saved"):
                made += 1
            elif line.startswith("elapsed"):
                elapsed.append(float(line.split()[1]))
        if proc.wait() != 0:
            raise SystemExit(f"a reviewer failed on {target}")
    return made / max(elapsed), made


def event_latency(target: str, pulses: int, state: Path) -> list[float]:
    """Seconds from a reviewer's key (time before set_review) to another process's poll() returning the change."""
    from segviewer.core.sessions import ChangeEvent, open_session
    received: dict[str, float] = {}
    listener = open_session(target, reviewer="watcher")
    listener.add_changes([])   # the session exists before the listener starts
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            for event in listener.poll(timeout=0.5):
                if isinstance(event, ChangeEvent):
                    received[event.change.change_id] = time.time()
    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(0.5)
    proc = subprocess.Popen([sys.executable, WORKER, "pulse", target, "ann", str(pulses), "0.1"], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, XDG_STATE_HOME=str(state / "pulse")))
    keys = {}
    for line in proc.stdout:
        if line.startswith("key"):
            _, t0, change_id = line.split()
            keys[change_id] = float(t0)
    proc.wait()
    deadline = time.monotonic() + 5
    while len(received) < len(keys) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join()
    listener.close()
    missing = set(keys) - set(received)
    if missing:
        raise SystemExit(f"{len(missing)} changes never reached the listener on {target}")
    return [received[c] - t0 for c, t0 in keys.items()]


def idle_reads(target: str, seconds: float) -> tuple[float, float]:
    """Statements per second an idle window's store sends the server, polled 0.1 s at a time: as it is (reads when
    LISTEN says something changed, or every 10 s), and reading the session on every poll (the peer)."""
    import psycopg
    from segviewer.core.sessions import open_session
    sent = [0]
    execute = psycopg.Connection.execute

    def counted(con, *args, **kwargs):
        sent[0] += 1
        return execute(con, *args, **kwargs)
    psycopg.Connection.execute = counted
    rates = []
    try:
        with open_session(target, reviewer="idle") as store:
            store.set_review("img0", "accepted")
            store.hold("img0")                       # a window shows an image: its lease is renewed while idle
            store.poll(timeout=0.5)                  # listening
            for read_every_poll in (False, True):
                sent[0], end = 0, time.monotonic() + seconds
                while time.monotonic() < end:
                    if read_every_poll:
                        store.refresh()
                    store.poll(timeout=0.1)
                rates.append(sent[0] / seconds)
    finally:
        psycopg.Connection.execute = execute
    return rates[0], rates[1]


def window_latency(target: str, pulses: int, data: Path) -> tuple[list[float], list[float]]:
    """Seconds from a status key in ann's window (review mode, moving on) to bob's window listing the status, and
    to ann's own window showing it saved."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from segviewer.core.sessions import session_target
    from segviewer.gui.main_window import MainWindow
    app = QApplication.instance() or QApplication([])
    windows = []
    for who in ("ann", "bob"):
        window = MainWindow(settings=QSettings(str(data / f"{who}.ini"), QSettings.IniFormat))
        window.review.reviewer.setText(who)
        window.review.session_override = session_target(target)
        window.show()
        window.actions_.open_folder(data / "demo")
        windows.append(window)
    ann, bob = windows
    settle(app, windows)
    QTest.keyClick(ann, Qt.Key_R)
    latencies, own = [], []
    for i in range(pulses):
        image = ann.viewer.dataset.names[ann.viewer.current]
        status = ann.review.status_names()[1 + i % 2]
        t0 = time.perf_counter()
        QTest.keyClick(ann, Qt.Key_2 if status == "accepted" else Qt.Key_3)
        shown: dict[str, float] = {}
        while len(shown) < 2:
            for who, window in (("bob", bob), ("ann", ann)):
                if who not in shown and window.image_list.model.statuses.get(image) == status:
                    shown[who] = time.perf_counter() - t0
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"{image} never showed in both windows on {target}")
            app.processEvents()
            time.sleep(0.0005)
        latencies.append(shown["bob"])
        own.append(shown["ann"])
        settle(app, windows)
        pause_until = time.perf_counter() + 0.15     # the next key lands anywhere in the windows' poll cycle
        while time.perf_counter() < pause_until:
            app.processEvents()
            time.sleep(0.002)
    for window in windows:
        window.close()
    return latencies, own


def settle(app, windows) -> None:
    while not all(w.viewer.is_settled() and w.review.idle() for w in windows):
        app.processEvents()
        time.sleep(0.002)


def describe(latencies: list[float]) -> str:
    ms = sorted(1000 * x for x in latencies)
    return (f"median {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms, "
            f"max {ms[-1]:.1f} ms over {len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--changes", type=int, default=200, help="status changes per reviewer")
    parser.add_argument("--pulses", type=int, default=40, help="changes timed from key to listener")
    parser.add_argument("--window-pulses", type=int, default=40, help="status keys timed from window to window")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="how long the idle window is watched")
    args = parser.parse_args()
    from pg_cluster import Cluster, Database
    cluster = Cluster(fsync=True)
    work = Path(tempfile.mkdtemp(prefix="segviewer-bench-team-"))
    try:
        print(f"PostgreSQL cluster (fsync on) at {cluster.root}; {os.cpu_count()} CPUs")
        pg_rate, made = run_reviewers(Database(cluster, "rate").url(), args.reviewers, args.changes, work / "s1")
        lite_rate, _ = run_reviewers(str(work / "rate.sqlite"), args.reviewers, args.changes, work / "s2")
        print(f"{args.reviewers} reviewers × {args.changes} changes ({made} in all): PostgreSQL {pg_rate:.0f} changes/s, "
              f"one SQLite file {lite_rate:.0f} changes/s (ratio {pg_rate / lite_rate:.2f})")
        one_rate, _ = run_reviewers(Database(cluster, "solo").url(), 1, args.changes, work / "s3")
        print(f"1 reviewer × {args.changes} changes: PostgreSQL {one_rate:.0f} changes/s")
        pg_lat = event_latency(Database(cluster, "latency").url(), args.pulses, work / "s4")
        lite_lat = event_latency(str(work / "latency.sqlite"), args.pulses, work / "s5")
        print(f"key → other reviewer's listener, PostgreSQL LISTEN/NOTIFY: {describe(pg_lat)} (target ≤ 1000 ms)")
        print(f"key → other reviewer's listener, SQLite file polled: {describe(lite_lat)}")
        idle, every_poll = idle_reads(Database(cluster, "idle").url(), args.idle_seconds)
        print(f"idle window, statements/s on the server: {idle:.2f} reading when notified, {every_poll:.1f} reading "
              f"on every poll (ratio {every_poll / max(idle, 1e-9):.0f}×) over {args.idle_seconds:g} s")
        from segviewer.core.demo import write_demo
        write_demo(work / "demo", n_images=args.window_pulses + 8, size=(96, 128))
        os.environ["XDG_STATE_HOME"] = str(work / "s6")
        win_pg, own_pg = window_latency(Database(cluster, "windows").url(), args.window_pulses, work)
        win_lite, own_lite = window_latency(str(work / "windows.sqlite"), args.window_pulses, work)
        print(f"status key in one window → another reviewer's window lists it, PostgreSQL: {describe(win_pg)} "
              f"(target ≤ 1000 ms)")
        print(f"status key in one window → another reviewer's window lists it, SQLite file: {describe(win_lite)}")
        print(f"status key → the same window lists it saved: PostgreSQL {describe(own_pg)}; "
              f"SQLite file {describe(own_lite)}")
    finally:
        cluster.remove()
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
