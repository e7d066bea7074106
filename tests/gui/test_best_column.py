"""The Classes table's best-threshold columns and "Apply best thresholds" read the engine's one rule: a class in no
GT gets the lowest grid threshold at which it predicts nothing, and applying them gives back the reported F-beta."""
import numpy as np

import segviewer
from helpers import make_dataset, settle
from segviewer.gui.class_table import headers


def test_best_columns_and_apply_with_a_class_in_no_gt(qtbot, window, tmp_path):
    rng = np.random.default_rng(3)
    logits = [rng.normal(size=(4, 6, 8)).astype(np.float32) * 2 for _ in range(2)]
    for lg in logits:
        lg[3] -= 3                                        # class 3: in no GT, never very confident
    gts = [rng.integers(0, 3, (6, 8)).astype(np.uint8) for _ in range(2)]
    root = make_dataset(tmp_path / "d", logits, gts)
    with segviewer.open(folder=root, num_classes=4) as ins:
        want = ins.best_thresholds()
    assert 0 < want.threshold[3] < 1 and np.isnan(want.fbeta[3])
    assert window.actions_.open_folder(root)
    settle(qtbot, window)
    names, _ = headers()
    column = lambda h: np.array([np.nan if r[names.index(h)].value is None else r[names.index(h)].value  # noqa: E731
                                 for r in window.class_table.model.rows], float)
    qtbot.waitUntil(lambda: not np.isnan(column("best threshold")).any(), timeout=60000)
    np.testing.assert_array_equal(column("best threshold"), want.threshold)
    np.testing.assert_allclose(column("Fβ at best"), want.fbeta, equal_nan=True)
    window.controls.best_button.click()
    settle(qtbot, window)
    assert window.viewer.scoring.threshold == tuple(want.threshold)
    dataset = window.viewer.dataset_scores()
    np.testing.assert_allclose(dataset.fbeta.numpy(), want.fbeta, equal_nan=True)
    assert int(window.viewer.dataset_counts.fp[3]) == 0
