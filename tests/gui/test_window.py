"""The window, headless: numbers equal the core's, overlays show the right colours, bad files don't kill it."""
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from helpers import run_cli, settle
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.passes import counts_pass
from segviewer.core.scoring import Scoring
from segviewer.core.overlay import ALL_CLASSES, FN, FP, IGNORE, IGNORE_HATCH, TP, error_lut
from segviewer.core.scores import compute_scores
from segviewer.gui.class_table import SCORES
from segviewer.gui.table_model import fmt


def open_demo(window, root, **kw):
    assert window.actions_.open_folder(root)


def table_cells(window, row: int) -> list[str]:
    model = window.class_table.model
    return [model.data(model.index(row, col)) for col in range(model.columnCount())]


def expected_cells(scores, gt, c):
    return [fmt(int(gt[c]))] + [fmt(float(getattr(scores, s)[c])) for s in SCORES]


def core_numbers(root, index, threshold, beta=1.0, argmax=False):
    ds = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", images_dir=root / "images",
                             classes=str(root / "classes.json")))
    sample = ds.load(index)
    scoring = Scoring(threshold=threshold, argmax=argmax)
    counts = sample.counts(scoring)
    image = compute_scores(counts, beta, 1e-5, sample.soft())
    result = counts_pass(ds, scoring)
    dataset = compute_scores(result.total, beta, 1e-5, result.soft)
    return image, counts.tp + counts.fn, dataset, result.total.tp + result.total.fn


def assert_table_matches(window, root, threshold, beta=1.0, argmax=False):
    image, igt, dataset, dgt = core_numbers(root, window.viewer.current, threshold, beta, argmax)
    for c in range(7):
        cells = table_cells(window, c)
        assert cells[2:9] == expected_cells(image, igt, c), f"image row {c}"
        assert cells[9:16] == expected_cells(dataset, dgt, c), f"dataset row {c}"


def test_open_demo_and_drag_sliders(qtbot, window, demo_copy):
    open_demo(window, demo_copy)
    settle(qtbot, window)
    assert window.viewer.index is not None and window.image_list.model.rowCount() == 12
    assert_table_matches(window, demo_copy, 0.5)
    # drag the threshold slider through several steps, as a user would
    for k in (480, 430, 370, 333):
        window.controls.threshold_slider.setValue(k)
        qtbot.wait(5)
    settle(qtbot, window)
    assert window.viewer.scoring.threshold == pytest.approx(0.333)
    assert_table_matches(window, demo_copy, 0.333)
    window.controls.beta_spin.setValue(2.0)
    settle(qtbot, window)
    assert_table_matches(window, demo_copy, 0.333, beta=2.0)
    # an off-grid typed threshold is computed directly
    window.controls.threshold_spin.setValue(0.4321)
    settle(qtbot, window)
    assert_table_matches(window, demo_copy, 0.4321, beta=2.0)
    window.controls.mode.setCurrentText("argmax")
    settle(qtbot, window)
    assert_table_matches(window, demo_copy, 0.4321, beta=2.0, argmax=True)


def test_overlay_codes_and_colours_at_known_pixels(qtbot, window, demo_copy):
    open_demo(window, demo_copy)
    settle(qtbot, window)
    v = window.viewer
    v.update_settings(class_id=2)
    settle(qtbot, window)
    codes = window.canvas.overlay_item.image
    sample = v.loaded.sample
    p, labels = sample.probs[2].numpy(), sample.labels
    tp = np.argwhere((labels == 2) & (p > 0.5))
    fp = np.argwhere((labels != 2) & (labels != 255) & (p > 0.5))
    fn = np.argwhere((labels == 2) & (p <= 0.5))
    ign = np.argwhere(labels == 255)
    for coords, code in ((tp, (TP,)), (fp, (FP,)), (fn, (FN,)), (ign, (IGNORE, IGNORE_HATCH))):
        if len(coords):
            y, x = coords[len(coords) // 2]
            assert codes[y, x] in code
    lut = error_lut("classic", opacity=0.6, tp_factor=1.0)   # one class: TP as strong as the errors
    assert np.array_equal(window.canvas.overlay_item.lut, lut)
    assert tuple(lut[FP, :3]) == (230, 30, 30)
    window.controls.layer_boxes["show_fp"].setChecked(False)
    assert window.canvas.overlay_item.lut[FP, 3] == 0
    window.controls.palette_combo.setCurrentText("colour-blind safe")
    assert tuple(window.canvas.overlay_item.lut[FN, :3]) == (86, 180, 233)


def test_keyboard(qtbot, window, demo_copy):
    open_demo(window, demo_copy)
    settle(qtbot, window)
    first = window.viewer.current
    qtbot.keyClick(window, Qt.Key_Right)
    settle(qtbot, window)
    order = window.image_list.visible_order()
    assert window.viewer.current == order[order.index(first) + 1]
    qtbot.keyClick(window, Qt.Key_J)
    settle(qtbot, window)
    assert window.viewer.current == order[order.index(first) + 2]
    qtbot.keyClick(window, Qt.Key_K)
    settle(qtbot, window)
    assert window.viewer.current == order[order.index(first) + 1]
    qtbot.keyClick(window, Qt.Key_3)
    assert window.viewer.settings.class_id == 3
    qtbot.keyClick(window, Qt.Key_A)
    assert window.viewer.settings.class_id == ALL_CLASSES
    qtbot.keyClick(window, Qt.Key_Z)
    assert window.viewer.settings.show_tp is False
    qtbot.keyClick(window, Qt.Key_G)
    assert window.viewer.settings.view == "gt"


def test_bad_file_leaves_window_alive(qtbot, window, demo_copy):
    (demo_copy / "logits" / "scene_003.npy").write_bytes(b"\x93NUMPY broken")
    open_demo(window, demo_copy)
    settle(qtbot, window)
    v = window.viewer
    bad = v.dataset.names.index("scene_003")
    v.select_image(bad)
    qtbot.waitUntil(window.canvas.banner.isVisible, timeout=20000)
    assert "scene_003.npy" in v.failures[bad]
    assert window.canvas.banner.isVisible() and "scene_003.npy" in window.canvas.banner.text()
    # nothing stale is shown: its own photo (what could be read of it), no scores
    qtbot.waitUntil(lambda: window.canvas.image_item.image is not None, timeout=20000)
    own = np.asarray(Image.open(demo_copy / "images" / "scene_003.png").convert("RGB"))
    assert np.array_equal(window.canvas.image_item.image, own) and v.loaded is None
    assert table_cells(window, 0)[3] == "—"
    row = [r for r in range(window.image_list.model.rowCount()) if window.image_list.model.keys[r] == bad][0]
    assert window.image_list.model.data(window.image_list.model.index(row, 0)).startswith("⚠")
    v.select_image(0)
    settle(qtbot, window)
    assert v.loaded.index == 0 and not window.canvas.banner.isVisible()
    assert len(v.index.names) == 12 and int(v.index.loaded.sum()) == 11


def test_open_missing_folder_shows_message(qtbot, window, tmp_path):
    assert not window.actions_.open_folder(tmp_path / "nope")
    assert "does not exist" in window.last_error


def test_exports_from_window(qtbot, window, demo_copy, tmp_path):
    import pandas as pd
    open_demo(window, demo_copy)
    settle(qtbot, window)
    assert window.exports.export_per_class(str(tmp_path / "pc.csv"))
    assert window.exports.export_per_image(str(tmp_path / "pi.csv"))
    assert window.exports.save_view(str(tmp_path / "view.png"))
    res = run_cli("export", "--gt", demo_copy / "gt", "--logits", demo_copy / "logits", "--classes",
                  demo_copy / "classes.json", "--out", tmp_path / "cli.csv", "--per-image", tmp_path / "cli_pi.csv")
    assert res.returncode == 0
    assert pd.read_csv(tmp_path / "pc.csv").equals(pd.read_csv(tmp_path / "cli.csv"))
    assert pd.read_csv(tmp_path / "pi.csv").equals(pd.read_csv(tmp_path / "cli_pi.csv"))
    assert Image.open(tmp_path / "view.png").size[0] > 100


def test_apply_best_thresholds(qtbot, window, demo_copy):
    open_demo(window, demo_copy)
    settle(qtbot, window)
    best = window.viewer.best
    window.controls.best_button.click()
    settle(qtbot, window)
    assert window.viewer.scoring.per_class and window.viewer.engine.scoring.per_class
    dataset = window.viewer.dataset_scores()
    for c in range(7):
        if not math.isnan(best.fbeta[c]):
            assert float(dataset.fbeta[c]) == pytest.approx(best.fbeta[c])
    window.controls.reset_button.click()
    assert not window.viewer.scoring.per_class


def test_screenshot_flag(tmp_path, demo_dir):
    out = tmp_path / "shot.png"
    res = subprocess.run([sys.executable, "-m", "segviewer", str(demo_dir), "--screenshot", str(out), "--image",
                          "scene_004", "--class", "ellipse", "--threshold", "0.4"],
                         capture_output=True, text=True, timeout=240, env={**__import__("os").environ,
                                                                           "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stderr
    assert Image.open(out).size == (1500, 920)


def test_export_worst_figures_from_window(qtbot, window, demo_copy, tmp_path):
    open_demo(window, demo_copy)
    settle(qtbot, window)
    assert window.exports.export_worst_figures(str(tmp_path / "figs"), 2)
    settle(qtbot, window)
    files = sorted(p.name for p in (tmp_path / "figs").iterdir())
    scores = window.viewer.image_list_scores()["mean_fbeta"]
    worst = window.viewer.dataset.names[int(np.nanargmin(scores))]
    assert len(files) == 2 and files[0] == f"001-{worst}.png"


def test_curves_follow_the_threshold(qtbot, window, demo_copy):
    from segviewer.core.scores import fbeta_score, precision_score, recall_score
    open_demo(window, demo_copy)
    settle(qtbot, window)
    v = window.viewer
    v.update_settings(class_id=2)
    window.controls.threshold_slider.setValue(300)
    settle(qtbot, window)
    curves = v.index.curves()
    f, p, r = fbeta_score(curves).numpy(), precision_score(curves).numpy(), recall_score(curves).numpy()
    (c, *_), = window.curves._markers
    marker_f, marker_pr, _brushes = window.curves._marker_items
    assert c == 2
    xs, ys = marker_f.getData()
    assert xs[0] == pytest.approx(0.3) and ys[0] == pytest.approx(f[2, 300])
    xs, ys = marker_pr.getData()
    assert (xs[0], ys[0]) == (pytest.approx(r[2, 300]), pytest.approx(p[2, 300]))
    assert window.curves.threshold_line.value() == pytest.approx(0.3)
    # the dataset table's F-beta for the class is the curve's value at the marker
    assert float(v.dataset_scores().fbeta[2]) == pytest.approx(f[2, 300])
    v.update_settings(class_id=ALL_CLASSES)
    assert len(window.curves._markers) == sum(not np.all(np.isnan(f[k])) for k in range(7))


def test_filters_worst_walk_and_recent(qtbot, window, demo_copy):
    open_demo(window, demo_copy)
    settle(qtbot, window)
    v, lst = window.viewer, window.image_list
    scores = v.image_list_scores()
    lst.gt_filter.setCurrentIndex(lst.gt_filter.findData(6))         # images whose GT has dots
    assert sorted(lst.visible_order()) == [i for i in range(12) if scores["gt_present"][i, 6]]
    lst.gt_filter.setCurrentIndex(0)
    lst.search.setText("scene_00")
    assert len(lst.visible_order()) == 10
    lst.search.setText("")
    before = window.viewer.current
    qtbot.keyClick(window, Qt.Key_BracketRight)
    settle(qtbot, window)
    order = lst.visible_order()
    means = scores["mean_fbeta"][order]
    assert np.all(np.diff(means[~np.isnan(means)]) >= 0)             # worst first
    assert window.viewer.current == order[order.index(before) + 1]         # the next worse-ranked image
    assert window.actions_.recent_menu.actions()[0].text() == str(demo_copy / "gt").rsplit("/", 1)[0]


def test_a_disk_too_small_for_the_index_is_one_message_and_the_image_stays(qtbot, window, demo_copy, monkeypatch):
    from segviewer.core import count_store_build
    monkeypatch.setattr(count_store_build, "disk_free", lambda folder: 1000)
    open_demo(window, demo_copy)
    qtbot.waitUntil(lambda: "not enough disk space" in (window.last_error or ""), timeout=30000)
    assert "\n" not in window.last_error and str(demo_copy / ".segviewer") in window.last_error
    qtbot.waitUntil(lambda: window.viewer.overlay is not None, timeout=30000)   # the image is shown all the same
    monkeypatch.undo()
    window.open_options(window.viewer.dataset.options)                           # room again: opened with its index
    settle(qtbot, window)
    assert window.viewer.index is not None and window.image_list.scores is not None


def test_a_screenshot_with_an_unknown_class_is_one_line_and_exit_2(demo_dir, tmp_path):
    """Refused once the dataset's jobs run: they are stopped before the exit (a thread left running aborted the
    process with exit 134), and stderr holds the one line, no Qt note."""
    import os
    from helpers import run_subprocess
    result = run_subprocess(demo_dir, "--screenshot", tmp_path / "shot.png", "--class", "nonexist", timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == ["segviewer: error: --class 'nonexist': no such class (classes: background, "
                                          "disc, ellipse, square, triangle, bar, dot)"]
    assert not (tmp_path / "shot.png").exists()


def test_a_screenshot_whose_index_the_budget_refuses_is_one_line_and_exit_2(demo_copy, tmp_path):
    """The index's refusal is the run's answer: it waited out its 300 s and exited 0 with a picture of
    'computing…'. (A copy without the index cache: a cached index is read, not built, and needs no such room.)"""
    import os
    from helpers import run_subprocess
    result = run_subprocess(demo_copy, "--screenshot", tmp_path / "shot.png", "--memory-budget", "64M", timeout=120,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("segviewer: error: the index needs about "), lines
    assert "more than the memory budget of 64.0 MiB" in lines[0] and "--memory-budget" in lines[0]
    assert not (tmp_path / "shot.png").exists()


def test_a_refused_index_is_said_on_the_scores_line_and_the_window_settles(qtbot, window, demo_copy, monkeypatch):
    monkeypatch.setenv("SEGVIEWER_MEMORY_BUDGET", "64M")
    assert window.actions_.open_folder(demo_copy)
    qtbot.waitUntil(window.viewer.is_settled, timeout=30000)
    refused = window.viewer.index_refused
    assert refused.startswith("the index needs about ") and window.last_error.endswith(refused)
    assert f"no dataset scores: {refused}" in window.class_table.summary.toolTip()
