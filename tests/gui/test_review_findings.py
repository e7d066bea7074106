"""Regressions for an internal review: nothing on screen belongs to another image, other settings or another
dataset, even between a selection and its load."""
import numpy as np

import segviewer
from helpers import settle
from segviewer.gui.image_list_model import DELTA


def test_settings_changed_before_the_new_image_loads_never_show_the_old_image(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    target = (v.current + 5) % len(v.engine)
    v.select_image(target)
    v.update_settings(threshold=0.35)          # before the new image has loaded
    if v.loaded is not None and v.loaded.index != target:
        assert v.image_scores() is None         # never the old image's soft counts beside the new one's counts
    settle(qtbot, window)
    with segviewer.open(folder=demo_copy, scoring=v.scoring) as ins:
        np.testing.assert_allclose(v.image_scores().fbeta.numpy(), ins.image_scores(target)["fbeta"], equal_nan=True)
        assert np.array_equal(v.overlay.codes, ins.load(target).overlay(v.scoring).codes)


def test_compare_tab_never_shows_the_previous_images_numbers(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v, compare = window.viewer, window.insights.compare
    assert window.insights.open_compare(demo_copy / "masks")
    qtbot.waitUntil(lambda: v.jobs.is_current("compare_image"), timeout=30000)
    settle(qtbot, window)
    before = [row[1].value for row in window.insights.compare_panel.model.rows]
    target = (v.current + 1) % len(v.engine)
    shown_on_load = []
    v.sample_loaded.connect(lambda: shown_on_load.append([r[1].value for r in window.insights.compare_panel.model.rows]))
    v.select_image(target)
    qtbot.waitUntil(lambda: bool(shown_on_load), timeout=30000)
    # once the new image is on screen, its column is "computing…" until its own numbers come, never the last image's
    assert before and any(value is not None for value in before)
    assert all(value is None for value in shown_on_load[0])
    settle(qtbot, window)
    qtbot.waitUntil(lambda: v.jobs.is_current("compare_image"), timeout=30000)
    want = v.engine.compare.image(v.current, v.scoring, v.b_scoring)
    from segviewer.core.scores import compute_scores
    fa = compute_scores(want.counts_a, v.scoring.beta, v.scoring.smooth).fbeta.numpy()
    shown = np.array([np.nan if r[1].value is None else r[1].value for r in window.insights.compare_panel.model.rows])
    np.testing.assert_allclose(shown, fa, equal_nan=True)


def test_another_dataset_starts_without_the_last_ones_columns(qtbot, window, demo_copy, tmp_path):
    import shutil
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    window.image_list.show_column(DELTA, np.arange(len(window.viewer.engine), dtype=float), ascending=True)
    other = tmp_path / "other"
    shutil.copytree(demo_copy, other, ignore=shutil.ignore_patterns(".segviewer"))
    assert window.actions_.open_folder(other)
    settle(qtbot, window)
    assert DELTA not in window.image_list.model.extra
    assert all(row[DELTA].value is None for row in window.image_list.model.rows)


def test_show_applies_the_boundary_band(qtbot, demo_copy):
    from segviewer.gui.show import show_inspector
    ins = segviewer.open(folder=demo_copy, scoring=segviewer.Scoring(threshold=0.3, boundary=3, interior=True))
    window = show_inspector(ins, block=False)
    qtbot.addWidget(window)
    settle(qtbot, window)
    assert window.viewer.scoring == ins.scoring
    np.testing.assert_allclose(window.viewer.dataset_scores().fbeta.numpy(), ins.dataset_scores()["fbeta"],
                               equal_nan=True)
    window.close()


def test_the_delta_column_never_stays_for_another_beta_or_model_b_threshold(qtbot, window, demo_copy):
    """ΔFβ depends on beta, smoothing and model B's own threshold: a change of any of them, with the Compare tab
    hidden, drops the column (it is computed again for the new settings when the tab shows)."""
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v, insights = window.viewer, window.insights
    assert insights.open_compare(demo_copy / "logits")
    for change in ({"beta": 4.0}, {"smooth": 0.5}, {"compare_threshold": 0.3}, {"compare_argmax": True}):
        window.bottom_tabs.setCurrentWidget(insights.compare_panel)
        qtbot.waitUntil(lambda: DELTA in window.image_list.model.extra, timeout=30000)
        window.bottom_tabs.setCurrentIndex(0)
        v.update_settings(**change)
        settle(qtbot, window)
        assert DELTA not in window.image_list.model.extra, change
