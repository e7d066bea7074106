"""The staleness oracle for the analysis panels: after a burst of fast setting changes (no waiting between them),
what each panel displays equals a fresh engine's answer for the final settings."""
import numpy as np
import pytest

import segviewer
from helpers import settle
from segviewer.core.overlay import ALL_CLASSES
from segviewer.core.scoring import Scoring
from segviewer.gui.image_list_model import DELTA

BURST = [dict(threshold=0.3), dict(argmax=True), dict(compare_threshold=0.62), dict(argmax=False, threshold=0.42),
         dict(class_id=2), dict(beta=2.0), dict(compare_argmax=True), dict(threshold=0.35), dict(class_id=1)]


def values(rows, k):
    return np.array([np.nan if r[k].value is None else float(r[k].value) for r in rows])


def burst(v, steps=BURST):
    for changes in steps:
        v.update_settings(**changes)


def fresh(folder, v, **kwargs):
    ins = segviewer.open(folder=folder, scoring=v.scoring, **kwargs)
    if ins.compare.attached:
        ins.compare_scoring = v.b_scoring
    return ins


def wait_current(qtbot, window, *slots):
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.viewer.compute.idle() and window.viewer.background.idle()
                    and all(window.viewer.jobs.is_current(s) for s in slots), timeout=60000)


def test_compare_tab_after_a_burst(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    insights, v = window.insights, window.viewer
    assert insights.open_compare(demo_copy / "logits")
    v.select_image(3)
    burst(v)
    wait_current(qtbot, window, "compare_image", "compare_dataset", "compare_deltas")
    assert v.b_scoring.argmax and v.engine.compare_scoring is v.b_scoring
    with fresh(demo_copy, v, compare=demo_copy / "logits") as ins:
        table, image = ins.compare.table(), ins.compare.image(v.current)
        b = image.counts_b
        rows = insights.compare_panel.model.rows
        np.testing.assert_allclose(values(rows, 4), table["fbeta_a"], equal_nan=True)
        np.testing.assert_allclose(values(rows, 6), table["delta_fbeta"], equal_nan=True)
        assert values(rows, 11).tolist() == table["broken"].tolist()
        image_b = ins.scores(b).fbeta.numpy()
        np.testing.assert_allclose(values(rows, 2), image_b, equal_nan=True)
        deltas = ins.compare.deltas(class_id=v.settings.class_id)["delta"]
        np.testing.assert_allclose(window.image_list.model.extra[DELTA], deltas, equal_nan=True)


def test_calibration_tab_after_a_burst(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    panel, v = window.insights.calibration_panel, window.viewer
    window.bottom_tabs.setCurrentWidget(panel)
    for bins, scope, class_id in ((7, "dataset", 2), (9, "image", ALL_CLASSES), (6, "image", 4), (5, "dataset", 1)):
        panel.bins.setValue(bins)
        panel.scope.setCurrentText(scope)
        v.update_settings(class_id=class_id)
        burst(v, BURST[:3])
    wait_current(qtbot, window, "calibration")
    with fresh(demo_copy, v) as ins:
        want = ins.calibration.reliability(1, 5)
        assert panel.shown.class_id == 1 and len(panel.shown.pixels) == 5
        np.testing.assert_array_equal(panel.shown.pixels, want.pixels)
        np.testing.assert_allclose(panel.shown.frequency, want.frequency, equal_nan=True)
        assert f"{want.ece:.4f}" in panel.summary.text()


def test_label_doubt_tab_after_a_burst(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    panel, v = window.insights.label_panel, window.viewer
    window.bottom_tabs.setCurrentWidget(panel)
    for i, confidence, temperature in ((2, 0.6, 0.3), (5, 0.8, 0.05), (7, 0.7, 0.2)):
        v.select_image(i)
        panel.confidence.setValue(confidence)
        panel.temperature.setValue(temperature)
        burst(v, BURST[:2])
    wait_current(qtbot, window, "label_scores", "suspect_regions")
    with fresh(demo_copy, v) as ins:
        assert v.current == 7 and panel.regions.keys == ins.label_issues.regions(7, 0.7)
        scores = ins.label_issues.scores(0.2, 0.7)
        shown = {r[0].value: r[1].value for r in panel.images.rows}
        assert [shown[n] for n in ins.names] == pytest.approx(scores.label_score.tolist(), nan_ok=True)


def test_boundary_columns_after_a_burst(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    window.class_table.boundary_box.setChecked(True)
    v.select_image(4)
    burst(v, [dict(threshold=0.3), dict(argmax=True), dict(argmax=False, threshold=0.4), dict(beta=3.0)])
    wait_current(qtbot, window, "boundary_image", "boundary_dataset")
    image, dataset = window.class_table.boundary
    with fresh(demo_copy, v) as ins:
        assert ins.scoring == Scoring(threshold=0.4, beta=3.0)
        want_image = ins.boundary.image(4).columns()
        want_dataset = ins.boundary.dataset().total().columns()
        for key in ("boundary_iou", "hd95", "nsd"):
            np.testing.assert_array_equal(image[key], want_image[key])
            np.testing.assert_array_equal(dataset[key], want_dataset[key])
