"""Scores of 3-D cases: counts per case and per slice, the two aggregations medical papers report, and boundary
metrics in millimetres.

A volume is one "image": its counts [C] come from core.counts exactly as a 2-D image's (threshold: p_c > t_c per
class; argmax; a hard mask), and its slices are views of it: slice_counts gives [S, C] counts of every slice along
an axis (0 axial, 1 coronal, 2 sagittal), which sum over the slices to the case's counts.

Aggregations over counts [cases, classes] (Aggregation):
- "case_mean": scores per case, a class absent from a case (tp + fp + fn = 0, in neither its GT nor its
  prediction) left out of that case (NaN, as nnU-Net's Dice), then per class the mean over the cases where it is
  present: nnU-Net's summary.json "mean"; foreground_mean gives its "foreground_mean" (absent classes left out).
- "pooled": tp, fp, fn summed over the cases, then scored: segviewer's dataset convention for 2-D images.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Literal, Sequence

import numpy as np
import torch

from .boundary_metrics import DEFAULT_TOLERANCE, BoundaryMetrics, image_boundary_metrics, width_in_voxels
from .counts import (NO_PREDICTION, Counts, argmax_map, as_threshold_vector, count_hard,
                     count_threshold, hard_map_from_labels, prepare_target)
from .options import DEFAULT_BETA, DEFAULT_SMOOTH
from .scores import Scores, compute_scores, nanmean

Aggregation = Literal["case_mean", "pooled"]
AGGREGATIONS: tuple[Aggregation, ...] = ("case_mean", "pooled")
SliceAxis = Literal[0, 1, 2]
BLOCK_BYTES = 2**17             # the largest temporary of a block (see _by_blocks)


# ---- counts ----
def case_counts(probs: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                threshold=0.5, argmax: bool = False) -> Counts:
    """[C] counts of one case: probs (C, z, y, x), labels (z, y, x) holding class ids 0..C-1 or ignore_index only
    (io.check_label_values says which file does not); threshold scalar or one per class. The sum of its slices'
    counts (see _by_blocks for why)."""
    return _summed(slice_counts(probs, labels, num_classes, ignore_index, threshold, argmax))


def mask_case_counts(pred_labels: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int) -> Counts:
    """[C] counts of a hard mask (z, y, x) against its GT; the mask's ignore (or unknown) voxels predict nothing."""
    return _summed(mask_slice_counts(pred_labels, labels, num_classes, ignore_index))


def _summed(per_slice: Counts) -> Counts:
    return Counts(per_slice.tp.sum(0), per_slice.fp.sum(0), per_slice.fn.sum(0))


def slice_counts(probs: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                 threshold=0.5, argmax: bool = False, axis: SliceAxis = 0) -> Counts:
    """[S, C] counts of every slice along axis (S = labels.shape[axis])."""
    if probs.device.type != "cpu":
        return _by_slice(labels, axis, lambda s: _image_counts(probs.select(axis + 1, s), labels.select(axis, s),
                                                               num_classes, ignore_index, threshold, argmax))
    p, lab = np.moveaxis(probs.numpy(), axis + 1, 1), np.moveaxis(labels.numpy(), axis, 0)
    thr = as_threshold_vector(threshold, num_classes, "cpu").numpy()

    def block(where: tuple[slice, slice]) -> tuple[np.ndarray, ...]:
        part = p[(slice(None), *where)]
        if argmax:
            return _hard_block(_argmax_block(part), lab[where], num_classes, ignore_index)
        return _threshold_block(part, lab[where], num_classes, ignore_index, thr)
    return _by_blocks(lab.shape, num_classes, num_classes, block)


def mask_slice_counts(pred_labels: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                      axis: SliceAxis = 0) -> Counts:
    """[S, C] counts of every slice of a hard mask along axis."""
    if pred_labels.device.type != "cpu":
        return _by_slice(labels, axis, lambda s: _mask_counts(pred_labels.select(axis, s), labels.select(axis, s),
                                                              num_classes, ignore_index))
    pred, lab = np.moveaxis(pred_labels.numpy(), axis, 0), np.moveaxis(labels.numpy(), axis, 0)

    def block(where: tuple[slice, slice]) -> tuple[np.ndarray, ...]:
        part = pred[where].astype(np.intp)
        known = (part >= 0) & (part < num_classes) & (part != ignore_index)
        return _hard_block(np.where(known, part, NO_PREDICTION), lab[where], num_classes, ignore_index)
    return _by_blocks(lab.shape, num_classes, 1, block)


# On the CPU a block of slices (or of rows of one slice) at a time in numpy: single-threaded, so no OpenMP region
# waits for a core another process holds (measured under a load of 6 on 2 cores, 64×192×192, 4 classes: torch's 2
# threads 158 ms a case, numpy 34 ms), and the temporaries stay small: once core.memory fixes the mmap threshold,
# glibc hands the heap's top back above 128 KB, so larger blocks were fresh pages each time (one thread, CPU time,
# 64×192×192, 4 classes: 128 KB blocks 23–29 ms a case and no page faults; 512 KB up to 63 ms and 28,000 faults;
# 5×32×512×512: 131 ms against 223 ms at 512 KB and 151 ms for torch on the whole volume at once). On a GPU each
# slice is counted by the 2-D code (core.counts).
def _by_blocks(shape: tuple[int, ...], num_classes: int, channels: int, count_block) -> Counts:
    """Sums count_block(where) -> (tp, fp, fn) [slices in where, C] over blocks `where` = (slices, rows) whose
    temporaries (an int64 per voxel, a bool per voxel and channel) stay within BLOCK_BYTES."""
    slices, rows = shape[0], shape[1]
    rows_per_block = max(1, BLOCK_BYTES // (math.prod(shape[2:]) * max(8, channels)))
    if rows_per_block >= rows:
        step = rows_per_block // rows
        blocks = [(slice(s, s + step), slice(None)) for s in range(0, slices, step)]
    else:
        blocks = [(slice(s, s + 1), slice(r, r + rows_per_block)) for s in range(slices)
                  for r in range(0, rows, rows_per_block)]
    totals = [np.zeros((slices, num_classes), np.int64) for _ in range(3)]
    for where in blocks:
        for total, value in zip(totals, count_block(where)):
            total[where[0]] += value
    return Counts(*(torch.from_numpy(t) for t in totals))


def _slice_keys(labels: np.ndarray, num_classes: int, ignore_index: int):
    """Per voxel its GT class (0 at ignore voxels), valid or not, and the key slice × C + class that one bincount
    turns into [S, C] counts; keys of left-out voxels go to the spare bin S × C."""
    valid = labels != ignore_index
    safe = np.where(valid, labels, 0).astype(np.intp)
    keys = safe + (np.arange(labels.shape[0], dtype=np.intp) * num_classes).reshape(-1, *[1] * (labels.ndim - 1))
    return safe, valid, keys


def _per_slice(keys: np.ndarray, where: np.ndarray, slices: int, num_classes: int) -> np.ndarray:
    spare = slices * num_classes
    return np.bincount(np.where(where, keys, spare).ravel(), minlength=spare + 1)[:spare].reshape(slices, num_classes)


def _threshold_block(probs: np.ndarray, labels: np.ndarray, num_classes: int, ignore_index: int,
                     thr: np.ndarray) -> tuple[np.ndarray, ...]:
    """pred_c = p_c > t_c over valid voxels, per slice: the per-class rule of counts.count_threshold."""
    slices = labels.shape[0]
    safe, valid, keys = _slice_keys(labels, num_classes, ignore_index)
    above = probs > thr.reshape(-1, *[1] * labels.ndim)
    above &= valid
    predicted = np.count_nonzero(above.reshape(num_classes * slices, -1), axis=1).reshape(num_classes, slices).T
    hit = np.take_along_axis(probs, safe[None], 0)[0] > thr[safe]
    hit &= valid
    tp = _per_slice(keys, hit, slices, num_classes)
    return tp, predicted - tp, _per_slice(keys, valid, slices, num_classes) - tp


def _argmax_block(probs: np.ndarray) -> np.ndarray:
    """The index of the largest probability, the first on ties (counts.argmax_map's running maximum)."""
    best = probs[0].copy()
    index = np.zeros(best.shape, np.intp)
    above = np.empty(best.shape, bool)
    for c in range(1, probs.shape[0]):
        np.greater(probs[c], best, out=above)
        np.maximum(best, probs[c], out=best)
        np.copyto(index, c, where=above)
    return index


def _hard_block(pred: np.ndarray, labels: np.ndarray, num_classes: int, ignore_index: int) -> tuple[np.ndarray, ...]:
    """Counts per slice of a prediction map of class ids (NO_PREDICTION where nothing is predicted)."""
    slices = labels.shape[0]
    safe, valid, keys = _slice_keys(labels, num_classes, ignore_index)
    predicted = (pred >= 0) & (pred < num_classes) & valid
    pred_keys = keys - safe + np.clip(pred, 0, num_classes - 1)
    pred_count = _per_slice(pred_keys, predicted, slices, num_classes)
    tp = _per_slice(keys, predicted & (pred == safe), slices, num_classes)
    return tp, pred_count - tp, _per_slice(keys, valid, slices, num_classes) - tp


def _by_slice(labels: torch.Tensor, axis: int, count) -> Counts:
    rows = [count(s) for s in range(labels.shape[axis])]
    return Counts(*(torch.stack([getattr(r, k) for r in rows]).cpu() for k in ("tp", "fp", "fn")))


def _image_counts(probs, labels, num_classes, ignore_index, threshold, argmax) -> Counts:
    target = prepare_target(labels, num_classes, ignore_index)
    return count_hard(argmax_map(probs), target) if argmax else count_threshold(probs, target, threshold)


def _mask_counts(pred_labels, labels, num_classes, ignore_index) -> Counts:
    return count_hard(hard_map_from_labels(pred_labels, num_classes, ignore_index),
                      prepare_target(labels, num_classes, ignore_index))


def stack_counts(rows: Sequence[Counts]) -> Counts:
    """[N, C] counts from N cases' [C] counts."""
    return Counts(*(torch.stack([getattr(r, k) for r in rows]) for k in ("tp", "fp", "fn")))


# ---- aggregations ----
def case_mean_scores(counts: Counts, beta: float = DEFAULT_BETA, smooth: float = DEFAULT_SMOOTH) -> Scores:
    """[C] per class, the mean over the cases where the class is present of each case's score."""
    per_case = compute_scores(counts, beta, smooth)
    return Scores(**{f.name: nanmean(getattr(per_case, f.name).t()) for f in fields(Scores)
                     if getattr(per_case, f.name) is not None})


def pooled_scores(counts: Counts, beta: float = DEFAULT_BETA, smooth: float = DEFAULT_SMOOTH) -> Scores:
    """[C] per class, scored from the counts summed over the cases."""
    return compute_scores(Counts(counts.tp.sum(0), counts.fp.sum(0), counts.fn.sum(0)), beta, smooth)


def aggregate_scores(counts: Counts, aggregation: Aggregation, beta: float = DEFAULT_BETA,
                     smooth: float = DEFAULT_SMOOTH) -> Scores:
    if aggregation == "case_mean":
        return case_mean_scores(counts, beta, smooth)
    if aggregation == "pooled":
        return pooled_scores(counts, beta, smooth)
    from .errors import OptionError
    raise OptionError(f"aggregation {aggregation!r}: use one of {', '.join(AGGREGATIONS)}")


def foreground_mean(values: torch.Tensor, background: int | None = 0) -> float:
    """The mean over classes but background of per-class values, absent (NaN) classes left out."""
    keep = torch.ones(values.shape[-1], dtype=torch.bool)
    if background is not None:
        keep[background] = False
    return float(nanmean(values[..., keep]))


def worst_slices(counts: Counts, beta: float = DEFAULT_BETA, smooth: float = DEFAULT_SMOOTH,
                 class_id: int | None = None) -> torch.Tensor:
    """Slice indices, worst first, by one class's F-beta or (None) the mean over present classes; slices where
    the class (or every class) is absent are left out. Ties keep slice order."""
    fbeta = compute_scores(counts, beta, smooth).fbeta
    score = fbeta[:, class_id] if class_id is not None else nanmean(fbeta)
    present = torch.nonzero(~torch.isnan(score)).flatten()
    return present[torch.sort(score[present], stable=True).indices]


# ---- boundary metrics in mm ----
def case_boundary_metrics(labels: np.ndarray, valid: np.ndarray, pred: np.ndarray, num_classes: int,
                          spacing: Sequence[float], width_mm: float | None = None,
                          tolerance_mm: float = DEFAULT_TOLERANCE) -> BoundaryMetrics:
    """Boundary IoU, HD95 (mm) and NSD (tolerance in mm) of every class of one case (z, y, x) with its voxel
    spacing; pred negative where nothing is predicted. width_mm None: 2% of the case's diagonal in mm."""
    width = None if width_mm is None else width_in_voxels(width_mm, spacing)
    return image_boundary_metrics(labels, valid, pred, num_classes, width, tolerance_mm, spacing)
