"""Issue #21: the window's image list holds every image's exact numbers at the slider's threshold, however small
the count store's chunks (the budget shrunk as at 100,000 images): at 0.5 right after opening, at a grid
threshold and at an off-grid one, each cell (and the per-image CSV) equal to a count made here from the files with torch and numpy."""
import csv
import math

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import make_dataset, settle
from segviewer.core import count_store_build
from segviewer.core.dataset import DataOptions

C, N, SMOOTH = 4, 9, 1e-5
BROKEN = 6


@pytest.fixture
def folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(21)
    gts, logits = [], []
    for i in range(N):
        gt = rng.integers(0, C, (10, 12))
        gt[rng.random(gt.shape) < 0.1] = 255
        if i == 3:
            gt[gt != 255] = 2                               # one class in the GT: the others absent or FP only
        lg = rng.standard_normal((C, 10, 12)).astype(np.float32) * 2
        lg[np.minimum(gt, C - 1), np.arange(10)[:, None], np.arange(12)] += 1.0
        gts.append(gt)
        logits.append(lg)
    root = make_dataset(tmp_path / "d", logits, gts)
    (root / "logits" / f"img{BROKEN}.npy").write_bytes(b"not an array")
    # chunks of two images: for these images as small a budget as 64 MB is for 100,000 of 19 classes
    monkeypatch.setattr(count_store_build, "CHUNK_BYTES", 2 * C * 1001 * 2)
    return root


def direct_counts(root, threshold):
    """Per image: [C, 3] (tp, fp, fn) over its valid pixels, or None for the image that fails."""
    counts = []
    for i in range(N):
        if i == BROKEN:
            counts.append(None)
            continue
        gt = np.asarray(Image.open(root / "gt" / f"img{i}.png")).astype(np.int64)
        probs = torch.softmax(torch.from_numpy(np.load(root / "logits" / f"img{i}.npy")), 0).numpy()
        valid = gt != 255
        rows = []
        for c in range(C):
            pred, truth = (probs[c] > np.float32(threshold)) & valid, (gt == c) & valid
            rows.append([int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())])
        counts.append(np.array(rows))
    return counts


def direct_rows(root, threshold):
    """Per image: (mean F1 over the present classes, mean IoU, FP pixels, FN pixels), or None when it fails."""
    rows = []
    for counts in direct_counts(root, threshold):
        if counts is None:
            rows.append(None)
            continue
        present = [(tp, fp, fn) for tp, fp, fn in counts.tolist() if tp + fp + fn]
        f1 = [(2 * tp + SMOOTH) / (2 * tp + fn + fp + SMOOTH) for tp, fp, fn in present]
        iou = [(tp + SMOOTH) / (tp + fp + fn + SMOOTH) for tp, fp, fn in present]
        rows.append((np.mean(f1), np.mean(iou), int(counts[:, 1].sum()), int(counts[:, 2].sum())))
    return rows


def assert_list_is_exact(window, root, threshold):
    assert window.viewer.scoring.threshold == pytest.approx(threshold, abs=1e-12)
    model = window.image_list.model
    expected = direct_rows(root, threshold)
    for image, row in enumerate(expected):
        got = [model.value(image, column) for column in (1, 3, 4, 5)]
        if row is None:
            assert math.isnan(got[0]) and math.isnan(got[1]) and got[2:] == [None, None]
            continue
        assert got[2:] == list(row[2:]), (threshold, image)
        np.testing.assert_allclose(got[:2], row[:2], rtol=1e-12, err_msg=f"{threshold} {image}")
    loaded = [i for i in range(N) if expected[i] is not None]
    worst_first = sorted(loaded, key=lambda i: expected[i][0]) + [BROKEN]
    assert model.order.tolist() == worst_first


def test_the_list_is_a_direct_count_at_0_5_on_and_off_the_grid(qtbot, window, folder):
    assert window.open_options(DataOptions(gt_dir=folder / "gt", pred_dir=folder / "logits"))
    settle(qtbot, window)
    assert window.viewer.index is not None and len(list(folder.rglob("counts-*.bin"))) == 1
    assert_list_is_exact(window, folder, 0.5)                 # the default threshold, right after opening
    for k in (480, 450, 413):                                  # a drag on the grid, then released
        window.controls.threshold_slider.setValue(k)
        qtbot.wait(5)
    settle(qtbot, window)
    assert_list_is_exact(window, folder, 0.413)
    assert window.exports.export_per_image(str(folder / "per_image.csv"))    # the per-image CSV: the same counts
    with open(folder / "per_image.csv", newline="") as fh:
        written = [(row["image"], int(row["class_id"]), int(row["tp"]), int(row["fp"]), int(row["fn"]))
                   for row in csv.DictReader(fh)]
    expected = [(f"img{i}", c, *map(int, counts[c])) for i, counts in enumerate(direct_counts(folder, 0.413))
                if counts is not None for c in range(C)]
    assert written == expected
    window.controls.threshold_spin.setValue(0.4137)            # typed, off the grid: counted on the pixels
    settle(qtbot, window)
    assert_list_is_exact(window, folder, 0.4137)
