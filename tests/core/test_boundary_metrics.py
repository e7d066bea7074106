"""Boundary IoU, HD95 and NSD: hand-built cases, the Boundary IoU reference and MONAI's functions on random maps."""
import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from helpers import make_dataset
from segviewer.core.boundary_metrics import default_width, image_boundary_metrics, nanmean_rows

C = 4


def metrics(gt, pred, width=1, tolerance=2.0, valid=None, num_classes=C):
    valid = np.ones(gt.shape, bool) if valid is None else valid
    return image_boundary_metrics(gt, valid, pred, num_classes, width, tolerance)


def square(shape=(20, 20), top=5, left=5, size=10, value=1):
    a = np.zeros(shape, np.int64)
    a[top:top + size, left:left + size] = value
    return a


# ---- hand-built cases ----
def test_one_pixel_shift():
    gt, pred = square(), square(left=6)
    m = metrics(gt, pred, width=1, tolerance=2.0)
    # boundaries: the 36-px perimeters; they share 9 px of the top row and 9 of the bottom row
    assert (m.intersection[1], m.union[1]) == (18, 54)
    assert m.boundary_iou[1] == pytest.approx(1 / 3)
    assert m.hd95[1] == pytest.approx(1.0)        # half the edge pixels at 0 px, half at 1 px, both ways
    assert m.nsd[1] == 1.0
    assert metrics(gt, pred, tolerance=0.5).nsd[1] == pytest.approx(0.5)
    assert np.isnan(m.boundary_iou[2:]).all() and np.isnan(m.hd95[2:]).all() and np.isnan(m.nsd[2:]).all()


def test_missed_object():
    gt = square(size=4, value=2)
    pred = np.zeros_like(gt)
    m = metrics(gt, pred, width=1)
    assert (m.intersection[2], m.union[2]) == (0, 12)     # the 4×4 square's 12-px boundary, none predicted
    assert m.boundary_iou[2] == 0.0
    assert math.isnan(m.hd95[2])                          # MONAI: the percentile of infinite distances is NaN
    assert m.nsd[2] == 0.0


def test_label_flipped_inside_an_object():
    gt = square(size=10, value=1)
    gt[9:11, 9:11] = 3                                     # a 2×2 patch labelled 3 inside the object
    pred = square(size=10, value=1)
    m = metrics(gt, pred, width=1)
    assert (m.intersection[3], m.union[3]) == (0, 4)
    assert m.nsd[3] == 0.0 and math.isnan(m.hd95[3])
    # class 1's GT edge gains the 8 pixels around the hole, each 3 px from the predicted (outer) edge:
    # GT -> prediction 36 zeros and 8 threes (95th percentile 3), prediction -> GT 36 zeros
    assert m.hd95[1] == 3.0
    assert m.nsd[1] == pytest.approx(72 / 80)


def test_image_border_counts_as_boundary():
    gt = np.zeros((6, 8), np.int64)
    m = metrics(gt, gt.copy(), width=1)
    assert (m.intersection[0], m.union[0]) == (6 * 8 - 4 * 6, 6 * 8 - 4 * 6)
    assert m.boundary_iou[0] == 1.0 and m.hd95[0] == 0.0 and m.nsd[0] == 1.0


def test_ignore_pixels_belong_to_no_class_in_either_mask():
    gt, pred = square(), square(left=6)
    valid = np.ones(gt.shape, bool)
    valid[:, 17:] = False
    other = pred.copy()
    other[:, 17:] = 3                                      # whatever is predicted at ignore pixels does not count
    a, b = metrics(gt, pred, valid=valid), metrics(gt, other, valid=valid)
    for k in ("intersection", "union", "hd95", "nsd"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert np.isnan(b.nsd[3])


def test_default_width_is_the_references():
    assert default_width((1024, 2048)) == 46               # round(0.02 × 2289.7)
    assert default_width((10, 10)) == 1                    # at least 1
    assert default_width((100, 100)) == 3


# ---- independent implementations ----
def reference_boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """Boundary IoU's mask_to_boundary: pad one zero pixel, erode `width` times by a 3×3 square (outside the padded
    image counts as foreground, as cv2.erode's default border), crop, subtract."""
    h, w = mask.shape
    m = np.pad(mask.astype(np.uint8), 1)
    for _ in range(width):
        p = np.pad(m, 1, constant_values=1)
        m = np.min([p[1 + dy:1 + dy + h + 2, 1 + dx:1 + dx + w + 2] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    return mask & ~m[1:h + 1, 1:w + 1].astype(bool)


def reference_boundary_iou(gt, pred, valid, width):
    inter, union = np.zeros(C, np.int64), np.zeros(C, np.int64)
    for c in range(C):
        bg, bp = reference_boundary((gt == c) & valid, width), reference_boundary((pred == c) & valid, width)
        inter[c], union[c] = (bg & bp).sum(), (bg | bp).sum()
    return inter, union


def edt_surface_scores(gt_mask, pred_mask, tolerance):
    """HD95 and NSD from dense distance transforms of MONAI's edges (its pre-KD-tree algorithm)."""
    edges = [m & ~ndimage.binary_erosion(m) for m in (pred_mask, gt_mask)]
    if not edges[0].any() and not edges[1].any():
        return math.nan, math.nan
    if not edges[0].any() or not edges[1].any():
        return math.nan, 0.0
    d_pg = ndimage.distance_transform_edt(~edges[1])[edges[0]].astype(np.float32)
    d_gp = ndimage.distance_transform_edt(~edges[0])[edges[1]].astype(np.float32)
    hd = max(np.quantile(d_pg, 0.95), np.quantile(d_gp, 0.95))
    return hd, ((d_pg <= tolerance).sum() + (d_gp <= tolerance).sum()) / (d_pg.size + d_gp.size)


def random_case(seed, shape=(37, 53), ignore=True):
    rng = np.random.default_rng(seed)
    smooth = [ndimage.zoom(rng.random((C, 10, 14)), (1, 4, 4), order=1)[:, :shape[0], :shape[1]] for _ in range(2)]
    gt = smooth[0].argmax(0)
    pred = (smooth[0] + 0.3 * smooth[1]).argmax(0)
    pred[rng.random(shape) < 0.02] = 3                     # speckle
    gt[gt == 2] = 1 if seed % 3 == 0 else 2                # sometimes a class absent from the GT
    valid = np.ones(shape, bool)
    if ignore:
        valid[rng.random(shape) < 0.03] = False
        valid[:5, :7] = False
    return gt, pred, valid


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("width", [1, 3])
def test_boundary_iou_matches_the_reference(seed, width):
    gt, pred, valid = random_case(seed)
    m = metrics(gt, pred, width=width, valid=valid)
    inter, union = reference_boundary_iou(gt, pred, valid, width)
    np.testing.assert_array_equal(m.intersection, inter)
    np.testing.assert_array_equal(m.union, union)


@pytest.mark.parametrize("seed", range(6))
def test_hd95_and_nsd_match_a_dense_distance_transform(seed):
    gt, pred, valid = random_case(seed)
    for tolerance in (1.0, 2.0, 3.5):
        m = metrics(gt, pred, valid=valid, tolerance=tolerance)
        for c in range(C):
            hd, nsd = edt_surface_scores((gt == c) & valid, (pred == c) & valid, tolerance)
            np.testing.assert_allclose([m.hd95[c], m.nsd[c]], [hd, nsd], rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("seed", range(6))
def test_hd95_and_nsd_match_monai(seed):
    monai_metrics = pytest.importorskip("monai.metrics")
    import torch
    gt, pred, valid = random_case(seed)
    keep = torch.from_numpy(valid)[None, None].float()

    def one_hot(a):   # MONAI's ignore_index masks both one-hot maps, as here
        return torch.nn.functional.one_hot(torch.from_numpy(a)[None].long(), C).permute(0, 3, 1, 2).float() * keep
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = monai_metrics.compute_hausdorff_distance(one_hot(pred), one_hot(gt), include_background=True,
                                                      percentile=95)[0].numpy()
        nsd = monai_metrics.compute_surface_dice(one_hot(pred), one_hot(gt), [2.0] * C,
                                                 include_background=True)[0].numpy()
    m = metrics(gt, pred, valid=valid, tolerance=2.0)
    np.testing.assert_allclose(m.hd95, hd, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(m.nsd, nsd, rtol=1e-5, equal_nan=True)


def test_nanmean_rows_skips_undefined():
    values = np.array([[1.0, np.nan, np.nan], [3.0, 2.0, np.nan]])
    np.testing.assert_array_equal(nanmean_rows(values), [2.0, 2.0, np.nan])


# ---- over a dataset, through the engine ----
def test_dataset_sums_boundary_iou_terms_and_averages_the_rest(tmp_path):
    import segviewer
    cases = [random_case(seed, ignore=False) for seed in (1, 3, 4)]
    gts = [gt.astype(np.uint8) for gt, _, _ in cases]
    logits = [np.eye(C, dtype=np.float32)[pred].transpose(2, 0, 1) * 8 for _, pred, _ in cases]
    root = make_dataset(tmp_path, logits, gts)
    ins = segviewer.open(gt=root / "gt", logits=root / "logits", num_classes=C, scoring=segviewer.Scoring(argmax=True))
    result = ins.boundary.dataset(width=2)
    per = [metrics(gt, pred, width=2) for gt, pred, _ in cases]
    assert result.names == ["img0", "img1", "img2"]
    np.testing.assert_array_equal(result.total().intersection, sum(p.intersection for p in per))
    np.testing.assert_array_equal(result.total().union, sum(p.union for p in per))
    for k in ("hd95", "nsd"):
        stacked = np.stack([getattr(p, k) for p in per])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(getattr(result.total(), k), np.nanmean(stacked, 0), rtol=1e-12)
    one = ins.boundary.image("img1", width=2)
    np.testing.assert_array_equal(one.union, per[1].union)
    assert ins.boundary.image("img1", width=2) is one          # kept per setting
    frame = ins.boundary.table(None, width=2)
    assert list(frame.columns) == ["class_id", "class_name", "boundary_iou", "hd95", "nsd"]
    np.testing.assert_allclose(frame["boundary_iou"], result.total().boundary_iou, equal_nan=True)
