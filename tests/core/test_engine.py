"""The engine's own machinery: evented settings, parts with declared state and bounded caches, the failure log,
close(), a dataset change, and every analysis answering for the current settings after bursts of changes."""
import threading

import numpy as np
import pandas as pd
import pytest

import segviewer
from helpers import make_dataset
from segviewer.core.cache import BoundedCache
from segviewer.core.errors import ClosedError, LoadError, OptionError
from segviewer.core.scoring import Scoring


@pytest.fixture
def tiny(tmp_path):
    rng = np.random.default_rng(3)
    gts = [rng.integers(0, 3, (10, 12)) for _ in range(4)]
    logits = [rng.normal(size=(3, 10, 12)).astype(np.float32) * 2 for _ in range(4)]
    return make_dataset(tmp_path / "d", logits, gts)


def model_b(root):
    """Another model's logits for the same images, at a lower resolution (resized like any logits)."""
    rng = np.random.default_rng(5)
    folder = root.parent / "model_b"
    folder.mkdir(exist_ok=True)
    for i in range(4):
        np.save(folder / f"img{i}.npy", rng.normal(size=(3, 5, 6)).astype(np.float32) * 2)
    return folder


def open_tiny(root, **kwargs):
    return segviewer.open(gt=root / "gt", logits=root / "logits", **kwargs)


def test_scoring_changes_are_events_with_old_new_and_fields(tiny):
    ins = open_tiny(tiny)
    heard = []
    callback = ins.events.scoring.connect(heard.append)
    ins.scoring = Scoring(threshold=0.3, beta=2.0)
    ins.scoring = Scoring(threshold=0.3, beta=2.0)          # the same values: nothing to tell
    ins.compare_scoring = Scoring(argmax=True)              # another setting, another emitter
    assert len(heard) == 1
    event = heard[0]
    assert event.name == "scoring" and event.old == Scoring() and event.new is ins.scoring
    assert event.changed == {"threshold", "beta"}
    ins.events.scoring.disconnect(callback)
    ins.scoring = Scoring(argmax=True)
    assert len(heard) == 1
    b = []
    ins.events.compare_scoring.connect(b.append)
    ins.compare_scoring = Scoring(threshold=0.7)
    assert b[0].changed == {"threshold", "argmax"} and ins.compare_scoring.threshold == 0.7


def test_a_setting_set_from_another_thread_is_heard_in_that_thread(tiny):
    ins = open_tiny(tiny)
    threads = []
    ins.events.scoring.connect(lambda event: threads.append(threading.current_thread()))
    worker = threading.Thread(target=lambda: setattr(ins, "scoring", Scoring(threshold=0.2)))
    worker.start()
    worker.join()
    assert threads == [worker] and ins.scoring.threshold == 0.2


def test_bad_settings_are_refused_before_anyone_hears_of_them(tiny):
    ins = open_tiny(tiny)
    heard = []
    ins.events.scoring.connect(heard.append)
    with pytest.raises(OptionError, match="2 thresholds for 3 classes"):
        ins.scoring = Scoring(threshold=(0.2, 0.3))
    with pytest.raises(OptionError, match="must be a segviewer.Scoring"):
        ins.scoring = 0.4
    assert heard == [] and ins.scoring == Scoring()


def test_close_releases_every_part_and_refuses_later_calls(tiny):
    ins = open_tiny(tiny, compare=tiny / "logits")
    ins.dataset_scores()
    ins.calibration.table(bins=4)
    ins.label_issues.scores()
    ins.boundary.dataset(width=1)
    ins.compare.dataset()
    model_b = ins.compare.model
    caches = [c for part in ins.parts for c in part._caches] + ins._caches
    assert any(len(c) for c in caches)
    ins.close()
    assert ins.closed and all(len(c) == 0 for c in caches) and model_b.closed
    assert ins.built_index is None
    for call in (ins.dataset_scores, lambda: ins.image_scores(0), ins.calibration.table, ins.label_issues.table,
                 ins.boundary.table, ins.compare.table, lambda: ins.key("overlay"), lambda: ins.load(0)):
        with pytest.raises(ClosedError, match="is closed"):
            call()
    with pytest.raises(ClosedError):
        ins.scoring = Scoring(threshold=0.3)
    ins.close()                                  # closing twice is fine
    assert "closed" in repr(ins) and isinstance(ClosedError(), OptionError)


def test_another_dataset_resets_every_part(tiny, tmp_path):
    ins = open_tiny(tiny, compare=tiny / "logits")
    first = ins.calibration.stats(bins=4)
    assert ins.compare.attached and ins.calibration.stats(bins=4) is first
    rng = np.random.default_rng(9)
    other = make_dataset(tmp_path / "other", [rng.normal(size=(3, 6, 6)).astype(np.float32)],
                         [rng.integers(0, 3, (6, 6))])
    with segviewer.open(gt=other / "gt", logits=other / "logits") as source:
        ins.dataset = source.dataset
    assert not ins.compare.attached and len(ins) == 1 and ins.built_index is None
    again = ins.calibration.stats(bins=4)
    assert again is not first and again.total_pixels()[0] == 36


def test_parts_declare_their_state_and_caches():
    with pytest.raises(ValueError):
        BoundedCache(0)
    cache = BoundedCache(2)
    cache.put("a", 1), cache.put("b", 2)
    assert cache.get("a") == 1          # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and len(cache) == 2
    calls = []
    assert cache.get_or_compute("d", lambda: calls.append(1) or 4) == 4
    assert cache.get_or_compute("d", lambda: calls.append(1) or 5) == 4 and calls == [1]


def test_the_failure_log_maps_files_to_images_once(tiny):
    (tiny / "logits" / "img2.npy").write_bytes(b"garbage")
    ins = open_tiny(tiny)
    listed = ins.images()
    assert list(ins.failures) == [2] and "img2.npy" in ins.failures[2]
    assert listed["status"].tolist() == ["unreviewed", "unreviewed", "failed", "unreviewed"]
    with pytest.raises(LoadError, match="img2.npy"):
        ins.load(2)
    ins.calibration.stats(bins=3)              # a second pass finds the same file: still one entry
    assert len(ins.failures) == 1 and ins.failures.reasons() == [ins.failures[2]]


def analyses(ins, scoring, compare_scoring):
    """Every kind of answer the engine gives, at these settings, as comparable values."""
    ins.scoring, ins.compare_scoring = scoring, compare_scoring
    deltas = ins.compare.deltas(class_id=1)
    return {
        "dataset": ins.dataset_scores(), "image": ins.image_scores(2), "images": ins.images(),
        "confusion": ins.confusion(), "image confusion": ins.confusion(image=1),
        "best": pd.DataFrame({"t": ins.best_thresholds().threshold}),
        "overlay": pd.DataFrame(ins.load(1).overlay(ins.scoring, 1).codes),
        "regions": pd.DataFrame([(r.kind, r.class_id, r.area) for r in ins.load(0).error_regions(ins.scoring)]),
        "compare": ins.compare.table(), "compare images": ins.compare.images(),
        "compare overlay": pd.DataFrame(ins.compare.overlay(3, -1).codes),
        "deltas": pd.DataFrame({k: deltas[k] for k in ("a", "b", "delta")}),
        "calibration": ins.calibration.table(bins=5), "image calibration": ins.calibration.table(bins=5, image=3),
        "label issues": ins.label_issues.table(min_confidence=0.6),
        "suspect regions": ins.label_issues.regions_table(2, min_confidence=0.6),
        "boundary": ins.boundary.table(width=1), "image boundary": ins.boundary.table(image=0, width=1),
    }


BURST = [(Scoring(threshold=0.3), Scoring(argmax=True)), (Scoring(argmax=True, beta=2.0), Scoring(threshold=0.6)),
         (Scoring(threshold=0.55, boundary=1), Scoring(threshold=0.2)),
         (Scoring(threshold=(0.2, 0.5, 0.7), beta=0.5), Scoring(argmax=True)),
         (Scoring(threshold=0.4, boundary=1, interior=True), Scoring(threshold=0.45)),
         (Scoring(threshold=0.123), Scoring(threshold=0.3)), (Scoring(threshold=0.123), Scoring(argmax=True)),
         (Scoring(threshold=0.123, beta=3.0), Scoring(argmax=True)), (Scoring(threshold=0.3), Scoring(argmax=True))]


def test_every_analysis_answers_for_the_current_settings_after_a_burst(tiny):
    """The staleness oracle for every kind of result: after each step of a burst, the engine that saw every earlier
    step answers exactly as a fresh engine opened at that step's settings."""
    b = model_b(tiny)
    ins = open_tiny(tiny, compare=b)
    for scoring, compare_scoring in BURST:
        got = analyses(ins, scoring, compare_scoring)
        with open_tiny(tiny, compare=b) as fresh:
            want = analyses(fresh, scoring, compare_scoring)
        for kind in want:
            pd.testing.assert_frame_equal(got[kind], want[kind], obj=f"{kind} at {scoring}")


TORN = [("dataset_scores", lambda ins: ins.dataset_scores(), "dataset_counts"),
        ("image_scores", lambda ins: ins.image_scores(1), "image_counts"),
        ("images", lambda ins: ins.images(), "dataset_counts"),
        ("confusion", lambda ins: ins.confusion(), "dataset_confusion"),
        ("image confusion", lambda ins: ins.confusion(image=2), "image_confusion")]


@pytest.mark.parametrize("what,call,inner", TORN, ids=[t[0] for t in TORN])
def test_a_table_is_one_snapshot_while_another_thread_changes_the_settings(tiny, monkeypatch, what, call, inner):
    """The window's slider (another thread) moves while a script's call is half done: the table answers for the
    settings the call started with, never counts of one setting scored with the other's beta or mode."""
    before, after = Scoring(threshold=0.3, beta=0.5), Scoring(argmax=True, beta=4.0)
    with open_tiny(tiny, scoring=before) as fresh:
        want = call(fresh)
    ins = open_tiny(tiny, scoring=before)
    real = getattr(ins, inner)

    def then_the_slider_moves(*args, **kwargs):
        out = real(*args, **kwargs)
        ins.scoring = after
        return out
    monkeypatch.setattr(ins, inner, then_the_slider_moves)
    pd.testing.assert_frame_equal(call(ins), want)
    assert ins.scoring == after


@pytest.mark.parametrize("what", ["table", "images"])
def test_compare_tables_are_one_snapshot_too(tiny, monkeypatch, what):
    before, after = Scoring(threshold=0.3, beta=0.5), Scoring(argmax=True, beta=4.0)
    with open_tiny(tiny, scoring=before, compare=tiny / "logits") as fresh:
        fresh.compare_scoring = Scoring(threshold=0.6)
        want = getattr(fresh.compare, what)()
    ins = open_tiny(tiny, scoring=before, compare=tiny / "logits")
    ins.compare_scoring = Scoring(threshold=0.6)
    real = ins.compare.dataset

    def the_sliders_move_first(*args, **kwargs):
        ins.scoring, ins.compare_scoring = after, Scoring(argmax=True)
        return real(*args, **kwargs)
    monkeypatch.setattr(ins.compare, "dataset", the_sliders_move_first)
    pd.testing.assert_frame_equal(getattr(ins.compare, what)(), want)
