"""The team store's link to its server: leases that follow the image shown (a failed take, a reconnect), a server
that stops answering (saves never wait for a connect; reconnect attempts spaced by growing delays), the threading
contract of poll(), and an idle store that reads the server only when LISTEN says something changed."""
import threading
import time

import pytest

from pg_cluster import blackhole, wait_until
from segviewer.core.sessions import ChangeEvent, ConnectionEvent, open_session
from segviewer.core.sessions.pg_reconnect import Backoff, Redial


def cut(pg, store, retry_after=None):
    """The server ends the store's connection (as a restart or a dropped network would); retry_after: the store
    tries to reconnect after that many seconds (not 1 s, 2 s ...), for a test that waits for it."""
    if retry_after is not None:
        store._relink.backoff = Backoff(retry_after, retry_after)
    pids = [store.con.info.backend_pid]
    with pg.admin() as con:
        for pid in pids:
            con.execute("SELECT pg_terminate_backend(%s)", (pid,))


def back_online(store, timeout=60.0):
    """Polls (as a window does) until the store says it is back."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = store.poll(timeout=0.2)
        if any(isinstance(e, ConnectionEvent) and e.online for e in events):
            return True
    return False


def test_a_failed_hold_gives_up_the_previous_image(pg):
    url = pg.url()
    with open_session(url, reviewer="ann") as ann, open_session(url, reviewer="bob") as bob:
        assert ann.hold("a") is None and bob.hold("x") is None
        assert bob.hold("a") == "ann"
        assert ann.held_elsewhere() == {}                  # bob moved on to a: x is no longer "open elsewhere"
        ann.release()
        bob.poll(timeout=30.0)                             # bob hears ann let go: a is bob's now
        assert ann.held_elsewhere() == {"a": "bob"}


def test_back_online_the_lease_is_the_image_shown_now(pg):
    url = pg.url()
    with open_session(url, reviewer="ann") as ann, open_session(url, reviewer="bob") as bob:
        assert bob.hold("x") is None
        cut(pg, bob, retry_after=0.1)
        assert bob.hold("y") is None and not bob.connection().online   # found the server gone: the wish is kept
        assert ann.held_elsewhere() == {"x": "bob"}                      # the server still has the old lease
        assert back_online(bob)
        assert ann.held_elsewhere() == {"y": "bob"}                      # y taken, x given up; not x renewed
        cut(pg, bob, retry_after=0.1)
        bob.release()                                                    # closed while offline
        assert not bob.connection().online and back_online(bob)
        assert ann.held_elsewhere() == {}


def lease_expiry(pg, image):
    with pg.admin() as con:
        return con.execute("SELECT expires FROM segviewer.leases WHERE image = %s", (image,)).fetchone()[0]


def test_the_shown_images_lease_is_renewed_while_polled_also_after_a_reconnect(pg, monkeypatch):
    import segviewer.core.sessions.pg_leases as pg_leases
    monkeypatch.setattr(pg_leases, "RENEW_S", 0.0)          # renewed on every poll
    with open_session(pg.url(), reviewer="bob") as bob:
        assert bob.hold("x") is None
        taken = lease_expiry(pg, "x")
        bob.poll(0.05)
        renewed = lease_expiry(pg, "x")
        assert renewed > taken
        cut(pg, bob, retry_after=0.1)
        assert back_online(bob)
        retaken = lease_expiry(pg, "x")
        bob.poll(0.05)
        assert retaken > renewed and lease_expiry(pg, "x") > retaken   # still renewed after the reconnect


@pytest.fixture
def blackhole_port():
    with blackhole() as port:
        yield port


def test_a_server_that_never_answers_never_holds_a_save(pg, blackhole_port, monkeypatch):
    import segviewer.core.sessions.pg_link as pg_link
    from psycopg.conninfo import make_conninfo
    connects = []
    real_connect = pg_link.connect
    monkeypatch.setattr(pg_link, "connect", lambda *a: connects.append(threading.current_thread()) or real_connect(*a))
    store = open_session(pg.url(), reviewer="ann")
    try:
        store._conninfo = make_conninfo(store._conninfo, host="127.0.0.1", port=str(blackhole_port),
                                        connect_timeout="30")
        cut(pg, store)
        slowest = 0.0
        for i in range(12):                     # 2.4 s of a window: a status key every 0.2 s, polling between
            began = time.monotonic()
            store.set_review(f"img{i}", "accepted")
            slowest = max(slowest, time.monotonic() - began)
            store.poll(timeout=0.2)
        state = store.connection()
        assert (state.online, state.pending, state.message) == (False, 12, "offline — 12 changes waiting")
        assert [c.image for c in store.history() if c.seq == 0] == [f"img{i}" for i in range(12)]
        assert connects and threading.current_thread() not in connects   # every connect on a thread of its own
        assert slowest < 15                     # a connect attempt takes 30 s here: no save waited for one
    finally:
        store.close()


class RecordedBackoff(Backoff):
    """A Backoff that keeps every delay it gave."""

    def __init__(self, *args):
        super().__init__(*args)
        self.given = []

    def delay(self) -> float:
        self.given.append(super().delay())
        return self.given[-1]


def test_reconnect_attempts_are_spaced_by_growing_delays_and_reset_after_success():
    backoff = Backoff()
    assert [backoff.delay() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.reset()
    assert backoff.delay() == 1
    times, answer = [], threading.Event()

    def attempt():
        times.append(time.monotonic())
        if not answer.is_set():
            raise OSError("no answer")
        return object()
    redial = Redial(attempt, "test-redial")
    redial.backoff = RecordedBackoff(0.05, 0.2)
    redial.schedule(now=True)
    assert wait_until(lambda: redial.take() is None and len(times) >= 6, timeout=30, step=0.005)
    assert redial.backoff.given[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]   # growing, capped
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(gap >= delay for gap, delay in zip(gaps, redial.backoff.given)), (gaps, redial.backoff.given)
    answer.set()
    assert wait_until(lambda: redial.take() is not None, timeout=30)
    assert redial.backoff.delay() == 0.05       # a success starts the delays again from the first
    redial.close()


def test_going_offline_on_another_thread_never_closes_the_listener_under_a_poll(pg):
    store = open_session(pg.url(), reviewer="ann")
    try:
        store.set_review("first", "accepted")
        assert wait_until(lambda: store.poll(0.05) is not None and store._listener is not None, timeout=30)
        listener = store._listener
        closed_during_the_wait = []
        original = listener.notifies

        def notifies(**kwargs):            # while the poll waits, a write on another thread finds the server gone
            cut(pg, store, retry_after=3600)   # stays offline until the end of the test
            writer = threading.Thread(target=store.set_review, args=("a", "accepted"))
            writer.start()
            writer.join()
            closed_during_the_wait.append(listener.closed)
            return original(**kwargs)
        listener.notifies = notifies
        assert store.poll(timeout=0.3) == [ConnectionEvent(False, 0, "offline — 0 changes waiting")]   # found reading
        assert closed_during_the_wait and not any(closed_during_the_wait)
        store.poll(0)
        assert listener.closed and store._listener is None          # closed by the poller, after its wait
        assert store.connection().pending == 1 and [c.image for c in store.history() if c.seq == 0] == ["a"]
    finally:
        store.close()


def test_an_idle_store_reads_the_server_only_when_told(pg, monkeypatch):
    import psycopg
    import segviewer.core.sessions.pg_leases as pg_leases
    import segviewer.core.sessions.pg_link as pg_link
    monkeypatch.setattr(pg_link, "READ_EVERY_S", 3600.0)    # no safety-net read in this test: a read is a notice's
    monkeypatch.setattr(pg_leases, "WATCH_S", 3600.0)
    url = pg.url()
    with open_session(url, reviewer="ann") as ann, open_session(url, reviewer="bob") as bob:
        ann.set_review("a", "accepted")
        assert wait_until(lambda: bob.poll(0.05) is not None and bob._listener is not None, timeout=30)
        bob.poll(0.2)
        reads = []
        real_execute = psycopg.Connection.execute

        def execute(con, query, *args, **kwargs):
            if con is bob.con:
                reads.append(query)
            return real_execute(con, query, *args, **kwargs)
        monkeypatch.setattr(psycopg.Connection, "execute", execute)
        began, cpu_began = time.monotonic(), time.thread_time()
        for _ in range(10):                     # a window's idle second: poll for 0.1 s at a time
            assert bob.poll(timeout=0.1) == []
        idle_s, cpu_s = time.monotonic() - began, time.thread_time() - cpu_began
        assert reads == []
        assert idle_s < 8       # each poll returns at its timeout, not after a 1 s wait step (10 s in all)
        assert cpu_s < 0.3      # waiting on the socket, not spinning (a busy loop burns ~1 s of CPU here)
        ann.set_review("b", "needs-fix")
        heard = []
        assert wait_until(lambda: heard.extend(bob.poll(timeout=0.1)) or heard, timeout=30)
        assert [(e.change.image, e.review.status) for e in heard if isinstance(e, ChangeEvent)] == [("b", "needs fix")]
        assert len(reads) == 1 and reads[0].startswith("SELECT seq")   # one read of what was committed


def test_next_unreviewed_as_the_server_goes_away_still_moves_on(pg):
    url = pg.url()
    with open_session(url, reviewer="ann") as ann, open_session(url, reviewer="bob") as bob:
        bob.set_review("a", "accepted")
        cut(pg, bob, retry_after=3600)
        assert bob.next_unreviewed(["a", "b", "c"], 0) == 1      # found the server gone on the way: as offline
        assert not bob.connection().online
        bob._relink.schedule(now=True)                            # the server answers again
        assert back_online(bob)
        assert ann.held_elsewhere() == {"b": "bob"}               # leased once the server is back
