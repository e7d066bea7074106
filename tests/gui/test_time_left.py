"""The progress bar's estimate of the time left: from the rate since the pass (re)started."""
from segviewer.gui.time_left import IndexProgress, TimeLeft, describe


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


def test_the_status_bars_index_progress_says_the_time_left_and_starts_over_with_a_dataset(qtbot):
    now = [0.0]
    bar = IndexProgress(lambda: now[0])
    qtbot.addWidget(bar)
    bar.restart(10_000)
    assert not bar.isHidden() and (bar.value(), bar.maximum(), bar.format()) == (0, 10_000, "index %v / %m")
    bar.report(1000, 10_000)
    now[0] = 30.0
    bar.report(2000, 10_000)                        # 1,000 images in 30 s: 8,000 more take 4 min
    assert bar.value() == 2000 and bar.format() == "index %v / %m · about 4 min left"
    bar.restart(500)                                # another dataset: no rate carried over
    now[0] = 31.0
    bar.report(100, 500)
    assert bar.format() == "index %v / %m" and bar.maximum() == 500
    bar.report(500, 500)
    assert bar.isHidden()
