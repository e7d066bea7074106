"""Scores of 3-D cases: nnU-Net's evaluation semantics (reproduced below), MONAI's DiceMetric, HD95 and NSD with an
anisotropic voxel spacing against MONAI's, per-slice counts against the per-case counts, hand-built cases."""
import math
import warnings

import numpy as np
import pytest
import torch
from scipy import ndimage

from segviewer.core.boundary_metrics import boundary_iou_counts, class_maps, image_boundary_metrics
from reference import nnunet_compute_metrics, nnunet_summary
from segviewer.core.volume_metrics import (aggregate_scores, case_boundary_metrics, case_counts, case_mean_scores,
                                           foreground_mean, mask_case_counts, mask_slice_counts, pooled_scores,
                                           slice_counts, stack_counts, worst_slices)

C = 4
IGNORE = 4          # nnU-Net's ignore label is a label id; here the one after the classes
SPACING = (2.5, 0.8, 0.7)


def random_case(seed, shape=(9, 20, 18), ignore=True, drop_class=None):
    """Smooth blobs of C classes, a model's probabilities that mostly agree, a few ignore voxels."""
    rng = np.random.default_rng(seed)
    coarse = [ndimage.zoom(rng.random((C, 4, 6, 6)), (1, 3, 4, 4), order=1)[:, :shape[0], :shape[1], :shape[2]]
              for _ in range(2)]
    gt = coarse[0].argmax(0)
    if drop_class is not None:
        gt[gt == drop_class] = 0
    logits = 6 * coarse[0] + 3 * coarse[1] + rng.normal(0, 0.3, coarse[0].shape)
    probs = torch.softmax(torch.from_numpy(logits), 0).float()
    if ignore:
        gt[rng.random(shape) < 0.02] = IGNORE
    return torch.from_numpy(gt), probs


CASES = [random_case(0), random_case(1, drop_class=2), random_case(2, drop_class=3), random_case(3, ignore=False)]


# ---- nnU-Net ----
@pytest.mark.parametrize("index", range(len(CASES)))
def test_case_counts_and_dice_equal_nnunets(index):
    gt, probs = CASES[index]
    seg_pred = probs.numpy().argmax(0)                     # nnU-Net evaluates the argmax segmentation
    ref = nnunet_compute_metrics(gt.numpy(), seg_pred, range(C), ignore_label=IGNORE)
    counts = case_counts(probs, gt, C, IGNORE, argmax=True)
    for r in range(C):
        assert (counts.tp[r], counts.fp[r], counts.fn[r]) == (ref[r]["TP"], ref[r]["FP"], ref[r]["FN"])
    scores = stack_counts([counts])
    exact = case_mean_scores(scores, smooth=0.0)
    np.testing.assert_array_equal(exact.dice.numpy(), [ref[r]["Dice"] for r in range(C)])
    np.testing.assert_array_equal(exact.iou.numpy(), [ref[r]["IoU"] for r in range(C)])
    smoothed = case_mean_scores(scores)                    # the default smooth = 1e-5 moves a score by < 1e-7
    np.testing.assert_allclose(smoothed.dice.numpy(), [ref[r]["Dice"] for r in range(C)], atol=1e-7)


def test_a_class_in_neither_mask_is_nan_as_nnunets():
    gt, probs = CASES[1]                                   # class 2 removed from this GT
    seg = probs.numpy().argmax(0)
    probs = probs.clone()
    probs[2] = 0                                           # and never predicted
    ref = nnunet_compute_metrics(gt.numpy(), probs.numpy().argmax(0), range(C), IGNORE)
    assert math.isnan(ref[2]["Dice"]) and (seg == 2).any()
    dice = case_mean_scores(stack_counts([case_counts(probs, gt, C, IGNORE, argmax=True)]), smooth=0.0).dice
    assert math.isnan(dice[2]) and not torch.isnan(dice[[0, 1, 3]]).any()


def test_mean_over_cases_equals_nnunets_summary():
    per_case, rows = [], []
    for index, (gt, probs) in enumerate(CASES):
        probs = probs.clone()
        if index == 1:
            probs[2] = 0                                   # class 2 absent from case 1: left out of its mean
        per_case.append(nnunet_compute_metrics(gt.numpy(), probs.numpy().argmax(0), range(C), IGNORE))
        rows.append(case_counts(probs, gt, C, IGNORE, argmax=True))
    means, foreground = nnunet_summary(per_case, range(C))
    ours = aggregate_scores(stack_counts(rows), "case_mean", smooth=0.0)
    np.testing.assert_allclose(ours.dice.numpy(), [means[r]["Dice"] for r in range(C)], rtol=1e-13)
    np.testing.assert_allclose(ours.iou.numpy(), [means[r]["IoU"] for r in range(C)], rtol=1e-13)
    assert foreground_mean(ours.dice) == pytest.approx(foreground["Dice"], rel=1e-13)


def test_pooled_sums_the_counts_first():
    rows = [case_counts(probs, gt, C, IGNORE, argmax=True) for gt, probs in CASES]
    counts = stack_counts(rows)
    tp, fp, fn = (sum(getattr(r, k) for r in rows).double() for k in ("tp", "fp", "fn"))
    np.testing.assert_allclose(pooled_scores(counts, smooth=0.0).dice.numpy(), (2 * tp / (2 * tp + fp + fn)).numpy(),
                               rtol=1e-15)
    assert not torch.allclose(pooled_scores(counts).dice, case_mean_scores(counts).dice)


def test_unknown_aggregation_is_an_option_error():
    from segviewer import OptionError
    with pytest.raises(OptionError, match="case_mean, pooled"):
        aggregate_scores(stack_counts([case_counts(*CASES[0][::-1], C, IGNORE)]), "median")


# ---- MONAI's DiceMetric ----
def one_hot(labels, num_classes=C):
    return torch.nn.functional.one_hot(torch.as_tensor(labels).long(), num_classes).permute(3, 0, 1, 2)[None].float()


@pytest.mark.parametrize("threshold", [None, 0.35])
def test_dice_equals_monais_dice_metric(threshold):
    from monai.metrics import DiceMetric
    gts, preds, ours = [], [], []
    for seed in range(4, 8):
        gt, probs = random_case(seed, ignore=False, drop_class=seed % 4 or None)
        if seed == 5:
            probs[1] = 0                                   # class 1 in neither mask of case 5
        argmax = threshold is None
        pred = one_hot(probs.argmax(0)) if argmax else (probs > threshold)[None].float()
        gts.append(one_hot(gt))
        preds.append(pred)
        ours.append(case_counts(probs, gt, C, IGNORE, threshold or 0.5, argmax=argmax))
    per_case = torch.stack([case_mean_scores(stack_counts([o]), smooth=0.0).dice for o in ours])
    for ignore_empty in (True, False):
        metric = DiceMetric(include_background=True, reduction="none", ignore_empty=ignore_empty)
        metric(torch.cat(preds), torch.cat(gts))
        monai = metric.aggregate().double()
        counts = stack_counts(ours)
        absent = (counts.tp + counts.fp + counts.fn) == 0
        gt_present = (counts.tp + counts.fn) > 0
        keep = ~absent if not ignore_empty else gt_present
        np.testing.assert_allclose(per_case[keep].numpy(), monai[keep].numpy(), rtol=1e-6)
        if not ignore_empty:                               # MONAI scores a class in neither mask 1; segviewer: absent
            assert absent.any() and (monai[absent] == 1).all() and torch.isnan(per_case[absent]).all()


# ---- per slice ----
@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("mode", ["argmax", "threshold", "per-class threshold", "mask"])
@pytest.mark.parametrize("dtype,block_bytes", [(torch.uint8, 9000), (torch.int64, 600)])
def test_slices_sum_to_the_case_and_each_slice_is_its_2d_count(axis, mode, dtype, block_bytes, monkeypatch):
    from segviewer.core import counts as counts_2d
    from segviewer.core import volume_metrics
    monkeypatch.setattr(volume_metrics, "BLOCK_BYTES", block_bytes)   # blocks of slices; of rows of one slice
    gt, probs = CASES[0]
    gt = gt.to(dtype)                                      # as read: the narrowest integer type
    threshold = [0.3, 0.5, 0.2, 0.6] if mode == "per-class threshold" else 0.4
    mask = probs.argmax(0).to(dtype)
    mask[0, 0, :4] = 255                                   # a mask's ignore (unknown) voxels predict nothing
    mask[1, 0, :4] = IGNORE
    whole = counts_2d.prepare_target(gt, C, IGNORE)         # the 2-D counting code on the whole volume at once
    if mode == "mask":
        per_slice, case = mask_slice_counts(mask, gt, C, IGNORE, axis), mask_case_counts(mask, gt, C, IGNORE)
        direct = counts_2d.count_hard(counts_2d.hard_map_from_labels(mask, C, IGNORE), whole)
    else:
        argmax = mode == "argmax"
        per_slice = slice_counts(probs, gt, C, IGNORE, threshold, argmax, axis)
        case = case_counts(probs, gt, C, IGNORE, threshold, argmax)
        direct = counts_2d.count_hard(counts_2d.argmax_map(probs), whole) if argmax else \
            counts_2d.count_threshold(probs, whole, threshold)
    assert per_slice.tp.shape == (gt.shape[axis], C)
    for k in ("tp", "fp", "fn"):
        assert torch.equal(getattr(per_slice, k).sum(0), getattr(direct, k))
        assert torch.equal(getattr(case, k), getattr(direct, k))
    if mode == "mask":                                     # the GPU's way, slice by slice with the 2-D code
        by_slice = volume_metrics._by_slice(gt, axis, lambda s: volume_metrics._mask_counts(
            mask.select(axis, s), gt.select(axis, s), C, IGNORE))
    else:
        by_slice = volume_metrics._by_slice(gt, axis, lambda s: volume_metrics._image_counts(
            probs.select(axis + 1, s), gt.select(axis, s), C, IGNORE, threshold, mode == "argmax"))
    for k in ("tp", "fp", "fn"):
        assert torch.equal(getattr(by_slice, k), getattr(per_slice, k))
    for s in range(gt.shape[axis]):                        # each slice equals the 2-D counting of that slice
        target = counts_2d.prepare_target(gt.select(axis, s), C, IGNORE)
        if mode == "mask":
            one = counts_2d.count_hard(counts_2d.hard_map_from_labels(mask.select(axis, s), C, IGNORE), target)
        elif mode == "argmax":
            one = counts_2d.count_hard(probs.select(axis + 1, s).argmax(0), target)
        else:
            one = counts_2d.count_threshold(probs.select(axis + 1, s), target, threshold)
        for k in ("tp", "fp", "fn"):
            assert torch.equal(getattr(per_slice, k)[s], getattr(one, k)), (s, k)


def test_worst_slices_by_hand():
    from segviewer.core.counts import Counts
    # slice 0: class 1 perfect; slice 1: class 1 half wrong; slice 2: nothing of class 1; slice 3: class 1 missed
    tp, fp, fn = torch.tensor([[10, 4], [10, 2], [10, 0], [10, 0]]), torch.tensor([[0, 0], [0, 2], [0, 0], [0, 0]]), \
        torch.tensor([[0, 0], [0, 2], [0, 0], [0, 3]])
    counts = Counts(tp, fp, fn)
    assert worst_slices(counts, smooth=0.0, class_id=1).tolist() == [3, 1, 0]
    assert worst_slices(counts, smooth=0.0).tolist() == [3, 1, 0, 2]   # mean over present classes: 2 has only 0


# ---- boundary metrics with spacing ----
def test_hd95_of_a_cube_shifted_by_one_slice_is_the_slice_spacing():
    gt = np.zeros((10, 8, 8), np.int64)
    pred = gt.copy()
    gt[2:6, 2:6, 2:6] = 1
    pred[3:7, 2:6, 2:6] = 1
    valid = np.ones(gt.shape, bool)
    m = case_boundary_metrics(gt, valid, pred, 2, spacing=(2.5, 0.8, 0.8), tolerance_mm=2.0)
    # 56 edge voxels each way: the 16 of the end face outside the other cube are 2.5 mm from its edge, the 4 inside
    # the other end face 0.8 mm (in-plane, to the other cube's side ring), the 36 of the side rings 0 mm
    assert m.hd95[1] == pytest.approx(2.5)
    assert m.nsd[1] == pytest.approx(80 / 112)
    assert case_boundary_metrics(gt, valid, pred, 2, spacing=(2.5, 0.8, 0.8), tolerance_mm=2.5).nsd[1] == 1.0
    unit = image_boundary_metrics(gt, valid, pred, 2, width=1)
    assert unit.hd95[1] == pytest.approx(1.0)              # without spacing: voxels


def random_volume_pair(seed, shape=(8, 22, 19)):
    rng = np.random.default_rng(seed)
    smooth = [ndimage.zoom(rng.random((C, 4, 6, 5)), (1, 2, 4, 4), order=1)[:, :shape[0], :shape[1], :shape[2]]
              for _ in range(2)]
    gt = smooth[0].argmax(0)
    pred = (smooth[0] + 0.3 * smooth[1]).argmax(0)
    pred[rng.random(shape) < 0.01] = 3
    if seed % 3 == 0:
        gt[gt == 2] = 1                                    # a class only in the prediction
    valid = np.ones(shape, bool)
    valid[rng.random(shape) < 0.02] = False
    return gt, pred, valid


@pytest.mark.parametrize("seed", range(4))
def test_hd95_and_nsd_with_spacing_equal_monais(seed):
    from monai.metrics import compute_hausdorff_distance, compute_surface_dice
    gt, pred, valid = random_volume_pair(seed)
    spacing = [SPACING, (1.0, 0.6, 0.6), (3.0, 1.0, 0.5), (0.7, 0.7, 0.7)][seed]
    keep = torch.from_numpy(valid)[None, None].float()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = compute_hausdorff_distance(one_hot(pred) * keep, one_hot(gt) * keep, include_background=True,
                                        percentile=95, spacing=spacing)[0].numpy()
        nsd = compute_surface_dice(one_hot(pred) * keep, one_hot(gt) * keep, [1.5] * C, include_background=True,
                                   spacing=spacing)[0].numpy()
    m = case_boundary_metrics(gt, valid, pred, C, spacing=spacing, tolerance_mm=1.5)
    assert not np.isnan(hd).all()
    np.testing.assert_allclose(m.hd95, hd, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(m.nsd, nsd, rtol=1e-5, equal_nan=True)


def reference_boundary_3d(mask, widths):
    """Boundary IoU's boundary in 3-D: the mask minus its erosion by a box of 2w+1 voxels per axis, zero border."""
    eroded = ndimage.binary_erosion(mask, structure=np.ones([2 * w + 1 for w in widths], bool), border_value=0)
    return mask & ~eroded


@pytest.mark.parametrize("widths", [(1, 1, 1), (1, 3, 2)])
def test_boundary_iou_in_3d_matches_a_box_erosion(widths):
    gt, pred, valid = random_volume_pair(5)
    g, p = class_maps(gt, valid, pred)
    inter, union = boundary_iou_counts(g, p, C, widths)
    for c in range(C):
        bg, bp = reference_boundary_3d((gt == c) & valid, widths), reference_boundary_3d((pred == c) & valid, widths)
        assert (inter[c], union[c]) == ((bg & bp).sum(), (bg | bp).sum())


def test_default_width_is_two_percent_of_the_diagonal_in_mm_per_axis():
    from segviewer.core.boundary_metrics import default_width_mm, width_in_voxels
    shape, spacing = (300, 512, 512), (2.5, 0.8, 0.8)
    diagonal = math.sqrt(750 ** 2 + 409.6 ** 2 * 2)
    assert default_width_mm(shape, spacing) == pytest.approx(0.02 * diagonal)
    assert width_in_voxels(default_width_mm(shape, spacing), spacing) == (8, 24, 24)
    assert width_in_voxels(1.0, spacing) == (1, 1, 1)      # at least one voxel on every axis
