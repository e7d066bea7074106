"""The progress bar's estimate of the time left: from the rate since the pass (re)started."""
from segviewer.gui.time_left import TimeLeft, describe


def test_rate_since_the_start_and_a_resumed_pass_counts_only_new_work():
    now = [100.0]
    left = TimeLeft(lambda: now[0])
    assert left.update(4000, 10_000) == ""          # resumed at 4,000: no rate yet
    now[0] += 1.0
    assert left.update(4100, 10_000) == ""          # under 2 s: start-up is no rate
    now[0] += 9.0
    assert left.update(5000, 10_000) == "about 50 s left"   # 1,000 images in 10 s: 5,000 more take 50 s
    now[0] += 50.0
    assert left.update(10_000, 10_000) == ""


def test_wording():
    assert [describe(s) for s in (3, 42, 600, 5400, 7000)] == [
        "about 5 s left", "about 40 s left", "about 10 min left", "about 1 h 30 min left", "about 1 h 57 min left"]
