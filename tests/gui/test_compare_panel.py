"""The Compare tab: A, B and Δ per class equal the engine's compare tables, B's threshold is live, the canvas's
compare codes and the list's Δ come from the engine."""
import numpy as np
import pytest

import segviewer
from helpers import open_with_tab, settle
from segviewer.gui.compare_panel import CompareController, ComparePanel


def column(panel, k):
    return np.array([np.nan if r[k].value is None else float(r[k].value) for r in panel.model.rows])


def test_compare_tab_equals_the_engine(qtbot, window, demo_copy):
    panel, controller = open_with_tab(qtbot, window, demo_copy, ComparePanel, CompareController, window.viewer)
    v = window.viewer
    v.engine.compare.attach(demo_copy / "masks")
    controller.reset()
    panel.argmax.setChecked(False)
    v.update_settings(threshold=0.4, beta=2.0)
    controller.refresh()
    v.update_settings(view="compare")
    qtbot.waitUntil(lambda: window.viewer.jobs.is_current("compare_dataset") and controller.deltas is not None,
                    timeout=60000)
    settle(qtbot, window)
    with segviewer.open(folder=demo_copy, compare_masks=demo_copy / "masks",
                        scoring=segviewer.Scoring(threshold=0.4, beta=2.0)) as ins:
        want = ins.compare.table()
        np.testing.assert_allclose(column(panel, 4), want["fbeta_a"], equal_nan=True)
        np.testing.assert_allclose(column(panel, 5), want["fbeta_b"], equal_nan=True)
        assert column(panel, 10).tolist() == want["fixed"].tolist()
        assert column(panel, 11).tolist() == want["broken"].tolist()
        codes = ins.compare.overlay(v.current, v.settings.class_id).codes
        assert np.array_equal(v.overlay.codes, codes)        # the canvas's compare view
        per_image = ins.compare.images().set_index("image")
        assert v.settings.class_id == -1                      # the all-classes view: its legend counts pixels
        row = per_image.loc[v.engine.names[v.current]]
        assert [row.fixed, row.broken] == [v.overlay.legend["fixed"], v.overlay.legend["broken"]]
        assert f"fixed {int(row.fixed):,} px" in window.canvas.legend.text()
        shown = dict(zip(v.engine.names, controller.deltas["delta"]))
        for name, row in per_image.iterrows():
            assert shown[name] == pytest.approx(row.delta_mean_fbeta, rel=1e-12, abs=1e-15)


def test_b_threshold_is_live_and_fast_changes_end_right(qtbot, window, demo_copy):
    panel, controller = open_with_tab(qtbot, window, demo_copy, ComparePanel, CompareController, window.viewer)
    v = window.viewer
    v.engine.compare.attach(demo_copy / "logits")       # the same model at another threshold
    controller.reset()
    for t in (0.2, 0.7, 0.3):                          # no waiting between changes
        panel.threshold.setValue(t)
        v.update_settings(threshold=0.6 - t / 2)
    qtbot.waitUntil(lambda: v.jobs.is_current("compare_dataset"), timeout=60000)
    settle(qtbot, window)
    with segviewer.open(folder=demo_copy, compare=demo_copy / "logits",
                        scoring=segviewer.Scoring(threshold=0.45)) as ins:
        ins.compare_scoring = segviewer.Scoring(threshold=0.3)
        want = ins.compare.table()
        np.testing.assert_allclose(column(panel, 5), want["fbeta_b"], equal_nan=True)
        np.testing.assert_allclose(column(panel, 6), want["delta_fbeta"], equal_nan=True)
        assert column(panel, 11).tolist() == want["broken"].tolist()


def test_model_b_from_the_window_keys_and_list(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    window.insights.toggle_compare_view()                # no model B yet: a status line (no dialog), the view stays
    assert v.settings.view == "errors" and "once a model B is open" in window.statusBar().currentMessage()
    assert window.last_error == ""
    panel = window.insights.compare_panel
    assert not any(w.isEnabled() for w in (panel.threshold, panel.argmax, panel.ranking))   # nothing to set yet
    from segviewer.gui.image_list_model import DELTA, LABEL, PAIR
    assert all(window.image_list.view.isColumnHidden(c) for c in (DELTA, LABEL, PAIR))    # no columns of dashes
    assert window.insights.open_compare(demo_copy / "masks")
    assert window.bottom_tabs.currentWidget() is panel
    assert panel.ranking.isEnabled() and not panel.threshold.isEnabled()     # B is masks: ranked, no threshold
    window.insights.toggle_compare_view()
    qtbot.waitUntil(lambda: window.insights.compare.deltas is not None, timeout=60000)
    settle(qtbot, window)
    assert v.settings.view == "compare" and "model A → model B" in window.canvas.legend.text()
    from segviewer.gui.image_list_model import DELTA
    assert not window.image_list.view.isColumnHidden(DELTA)
    shown = [r[DELTA].value for r in window.image_list.model.rows]
    np.testing.assert_allclose(shown, window.insights.compare.deltas["delta"], equal_nan=True)
    order = window.image_list.visible_order()
    deltas = window.insights.compare.deltas["delta"]
    assert deltas[order[0]] == np.nanmin(deltas)       # "what B breaks" first


def test_b_threshold_shows_and_keeps_exactly_what_the_engine_holds(qtbot, window, demo_copy):
    from PySide6.QtCore import Qt
    panel, controller = open_with_tab(qtbot, window, demo_copy, ComparePanel, CompareController, window.viewer)
    v = window.viewer
    v.engine.compare.attach(demo_copy / "logits")            # a B with probabilities: its threshold is live
    controller.reset()
    v.engine.compare_scoring = segviewer.Scoring(threshold=0.123456789)
    settle(qtbot, window)
    assert panel.threshold.text() == "B threshold 0.123456789"    # a 3-decimal field showed 0.123
    panel.threshold.setFocus()
    qtbot.keyClick(panel.threshold, Qt.Key_Return)
    window.canvas.view_widget.setFocus()
    settle(qtbot, window)
    assert v.engine.compare_scoring.threshold == 0.123456789
