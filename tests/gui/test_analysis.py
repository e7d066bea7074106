"""Confusion matrix with click-through and error regions, in the window."""
import numpy as np
import torch

from helpers import settle
from segviewer.core.counts import confusion_matrix, threshold_map
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.passes import counts_pass
from segviewer.core.scoring import Scoring
from segviewer.core.regions import error_regions


def test_confusion_matrix_click_through(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    window.bottom_tabs.setCurrentWidget(window.confusion)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.analysis.dataset_confusion is not None, timeout=30000)
    v, a = window.viewer, window.analysis
    ds = Dataset(DataOptions(gt_dir=demo_copy / "gt", pred_dir=demo_copy / "logits", classes=str(demo_copy / "classes.json")))
    result = counts_pass(ds, Scoring(threshold=0.5), with_confusion=True)
    assert np.array_equal(a.dataset_confusion, result.confusion)
    sample = ds.load(v.current)
    pred = threshold_map(sample.probs, 0.5)
    assert np.array_equal(a.image_confusion, confusion_matrix(pred, sample.target).numpy())
    # the demo model reads discs as ellipses: click that cell
    window.failure_tabs.select_cell(1, 2)
    mask = window.canvas.highlight_item.image[..., 3] > 0
    assert np.array_equal(mask, ((torch.from_numpy(sample.labels) == 1) & (pred == 2)).numpy())
    order = window.image_list.visible_order()
    pair = result.confusion_per_image[:, 1, 2]
    assert pair[order[0]] == pair.max() > 0
    # the 'none' column exists in threshold mode, not in argmax mode
    assert window.confusion.matrix.shape == (7, 8)
    v.update_settings(argmax=True)
    settle(qtbot, window)
    assert window.confusion.matrix.shape == (7, 7)


def test_error_regions_and_zoom(qtbot, window, demo_copy):
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    v.select_image(v.dataset.names.index("scene_003"))   # an image with missed dots
    v.update_settings(class_id=6)
    window.bottom_tabs.setCurrentWidget(window.regions)
    window.regions.min_area.setValue(5)
    settle(qtbot, window)
    sample = v.loaded.sample
    missed = (sample.labels == 6) & (sample.probs[6].numpy() <= 0.5)
    expected = error_regions(missed, np.full(missed.shape, 6), "missed", 5)
    got = [r for r in window.analysis.regions if r.kind == "missed"]
    assert [(r.area, r.bbox) for r in got] == [(r.area, r.bbox) for r in expected]
    assert got and window.regions.model.rowCount() == len(window.analysis.regions)
    kinds = [row[0].value for row in window.regions.model.rows]      # the class table's words, not the legend's
    assert kinds.count("FN") == len(got) and kinds.count("FP") == len(window.analysis.regions) - len(got)
    assert window.regions.count.text() == f"{len(got)} FN, {kinds.count('FP')} FP regions"
    if got:
        window.regions.region_clicked.emit(got[0])
        x0, y0, x1, y1 = got[0].bbox
        (vx0, vx1), (vy0, vy1) = window.canvas.viewbox.viewRange()
        assert vx0 <= x0 and vx1 >= x1 and vy0 <= y0 and vy1 >= y1 and (vx1 - vx0) < sample.shape[1]
