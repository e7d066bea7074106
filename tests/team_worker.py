"""A reviewer process for the team-session tests and benchmark. Prints one line per change it reports saved:
`saved CHANGE_ID IMAGE SEQ STATUS` (SEQ 0: kept in the offline journal), then `done`.

    team_worker.py review URL REVIEWER IMAGES CHANGES   # 'next unreviewed' through IMAGES images: status, then a note
    team_worker.py write URL REVIEWER COUNT [hold]      # COUNT status changes on img0.., each when a line arrives on
                                                         # stdin (so a fault lands between two given changes); waits
                                                         # until all are sent, or with 'hold' sleeps (to be killed)
    team_worker.py offline URL REVIEWER COUNT           # the server ends its connection and cannot be reached again;
                                                         # COUNT changes go to the offline journal; sleeps (to be killed)
    team_worker.py pulse URL REVIEWER COUNT INTERVAL    # a change every INTERVAL s: `key T0 CHANGE_ID`, T0 the
                                                         # time.time() when the 'key' was pressed
The review mode ends with `elapsed SECONDS` (its changes only, not the start-up).
"""
import random
import sys
import time

from segviewer.core.sessions import open_session

STATUSES = ("accepted", "needs fix", "model error", "ambiguous")


def report(store) -> None:
    change = store.last_change
    print("saved", change.change_id, change.image, change.seq, change.status or "-", flush=True)


def review(url: str, reviewer: str, images: int, changes: int) -> None:
    names = [f"img{i:04d}" for i in range(images)]
    rng = random.Random(reviewer)
    with open_session(url, reviewer=reviewer) as store:
        made, start, began = 0, 0, time.perf_counter()
        while made < changes:
            i = store.next_unreviewed(names, start)
            if i is None:
                break
            store.set_review(names[i], rng.choice(STATUSES))
            report(store)
            store.set_review(names[i], note=f"seen by {reviewer}")
            report(store)
            made, start = made + 2, i
        store.release()
        print("elapsed", time.perf_counter() - began, flush=True)
    print("done", flush=True)


def pulse(url: str, reviewer: str, count: int, interval: float) -> None:
    with open_session(url, reviewer=reviewer) as store:
        for i in range(count):
            time.sleep(interval)
            t0 = time.time()
            store.set_review(f"pulse{i:04d}", STATUSES[i % len(STATUSES)])
            print("key", repr(t0), store.last_change.change_id, flush=True)
    print("done", flush=True)


def write(url: str, reviewer: str, count: int, hold: bool) -> None:
    store = open_session(url, reviewer=reviewer)
    print("ready", flush=True)
    for i in range(count):
        sys.stdin.readline()
        store.set_review(f"img{i:04d}", STATUSES[i % len(STATUSES)])
        report(store)
    if hold:
        time.sleep(600)
    deadline = time.monotonic() + 60
    while store.connection().pending and time.monotonic() < deadline:
        store.poll(timeout=0.2)
    store.close()
    print("done", flush=True)


def offline(url: str, reviewer: str, count: int) -> None:
    import psycopg
    from psycopg.conninfo import make_conninfo
    store = open_session(url, reviewer=reviewer)
    store._conninfo = make_conninfo(store._conninfo, host="/nonexistent")   # however long this takes, no reconnect
    try:
        store.con.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    except psycopg.Error:
        pass
    for i in range(count):
        store.set_review(f"off{i:04d}", STATUSES[i % len(STATUSES)])
        report(store)
    time.sleep(600)


if __name__ == "__main__":
    mode, url, reviewer = sys.argv[1:4]
    if mode == "review":
        review(url, reviewer, int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "offline":
        offline(url, reviewer, int(sys.argv[4]))
    elif mode == "pulse":
        pulse(url, reviewer, int(sys.argv[4]), float(sys.argv[5]))
    else:
        write(url, reviewer, int(sys.argv[4]), sys.argv[5:] == ["hold"])
