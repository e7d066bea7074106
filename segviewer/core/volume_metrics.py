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

from dataclasses import fields
from typing import Literal, Sequence

import numpy as np
import torch

from .boundary_metrics import DEFAULT_TOLERANCE, BoundaryMetrics, image_boundary_metrics, width_in_voxels
from .counts import MASK_BLOCK_BYTES, Counts, argmax_map, as_threshold_vector, count_classes, hard_map_from_labels
from .options import DEFAULT_BETA, DEFAULT_SMOOTH
from .scores import Scores, compute_scores, nanmean

Aggregation = Literal["case_mean", "pooled"]
AGGREGATIONS: tuple[Aggregation, ...] = ("case_mean", "pooled")
SliceAxis = Literal[0, 1, 2]
BLOCK_BYTES = MASK_BLOCK_BYTES  # the largest temporary of a block of slices, below core.memory's mmap threshold


# ---- counts ----
def case_counts(probs: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                threshold=0.5, argmax: bool = False) -> Counts:
    """[C] counts of one case: probs (C, z, y, x), labels (z, y, x); threshold scalar or one per class. The sum of
    its slices' counts: a block of slices at a time keeps every temporary below the 4 MB mmap threshold
    (core.memory), where a whole volume's would be fresh pages at every call (measured, 64×192×192, 4 classes:
    240 ms a case at once, ~30 ms by blocks)."""
    return _summed(slice_counts(probs, labels, num_classes, ignore_index, threshold, argmax))


def mask_case_counts(pred_labels: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int) -> Counts:
    """[C] counts of a hard mask (z, y, x) against its GT; the mask's ignore (or unknown) voxels predict nothing."""
    return _summed(mask_slice_counts(pred_labels, labels, num_classes, ignore_index))


def _summed(per_slice: Counts) -> Counts:
    return Counts(per_slice.tp.sum(0), per_slice.fp.sum(0), per_slice.fn.sum(0))


def slice_counts(probs: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                 threshold=0.5, argmax: bool = False, axis: SliceAxis = 0) -> Counts:
    """[S, C] counts of every slice along axis (S = labels.shape[axis]), a block of slices at a time."""
    probs, labels = probs.movedim(axis + 1, 1), labels.movedim(axis, 0)

    def block(start: int, stop: int) -> Counts:
        p, lab = probs[:, start:stop], labels[start:stop]
        if argmax:
            return _hard_block_counts(argmax_map(p), lab, num_classes, ignore_index)
        return _threshold_block_counts(p, lab, num_classes, ignore_index, threshold)
    return _by_blocks(labels.shape[0], probs[:, 0].numel(), num_classes, block)


def mask_slice_counts(pred_labels: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                      axis: SliceAxis = 0) -> Counts:
    """[S, C] counts of every slice of a hard mask along axis."""
    pred_labels, labels = pred_labels.movedim(axis, 0), labels.movedim(axis, 0)

    def block(start: int, stop: int) -> Counts:
        pred = hard_map_from_labels(pred_labels[start:stop], num_classes, ignore_index)
        return _hard_block_counts(pred, labels[start:stop], num_classes, ignore_index)
    return _by_blocks(labels.shape[0], labels[0].numel(), 1, block)


def _by_blocks(slices: int, plane: int, channels: int, count_block) -> Counts:
    """count_block(start, stop) over blocks of slices whose temporaries (an int64 per voxel, a bool per voxel and
    class) stay within BLOCK_BYTES."""
    step = max(1, BLOCK_BYTES // (max(1, plane) * max(8, channels)))
    blocks = [count_block(start, min(start + step, slices)) for start in range(0, slices, step)]
    return Counts(*(torch.cat([getattr(b, k) for b in blocks]) for k in ("tp", "fp", "fn")))


def _slice_keys(labels: torch.Tensor, num_classes: int, ignore_index: int):
    """Per voxel: its GT class, valid or not, and the key slice × C + class that bincounts [S, C] at once."""
    valid = labels != ignore_index
    safe = torch.where(valid, labels, torch.zeros((), dtype=labels.dtype, device=labels.device)).long()
    offset = (torch.arange(labels.shape[0], device=labels.device) * num_classes).view(-1, *[1] * (labels.dim() - 1))
    return safe, valid, offset


def _per_slice(ids: torch.Tensor, offset: torch.Tensor, slices: int, num_classes: int,
               where: torch.Tensor) -> torch.Tensor:
    return count_classes(ids + offset, slices * num_classes, where).view(slices, num_classes)


def _threshold_block_counts(probs: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int,
                            threshold) -> Counts:
    """pred_c = p_c > t_c over valid voxels, per slice: the per-class rule of counts.count_threshold."""
    slices = labels.shape[0]
    safe, valid, offset = _slice_keys(labels, num_classes, ignore_index)
    thr = as_threshold_vector(threshold, num_classes, probs.device)
    above = (probs > thr.view(-1, *[1] * labels.dim())) & valid
    predicted = above.flatten(2).sum(2).t()
    hit = (probs.gather(0, safe[None])[0] > thr[safe]) & valid
    tp = _per_slice(safe, offset, slices, num_classes, hit)
    return Counts(tp, predicted - tp, _per_slice(safe, offset, slices, num_classes, valid) - tp)


def _hard_block_counts(pred: torch.Tensor, labels: torch.Tensor, num_classes: int, ignore_index: int) -> Counts:
    """Counts per slice of a prediction map of class ids (NO_PREDICTION where nothing is predicted)."""
    slices = labels.shape[0]
    safe, valid, offset = _slice_keys(labels, num_classes, ignore_index)
    pred = pred.long()
    predicted = (pred >= 0) & (pred < num_classes) & valid
    pred_ids = pred.clamp(0, num_classes - 1)
    pred_count = _per_slice(pred_ids, offset, slices, num_classes, predicted)
    tp = _per_slice(safe, offset, slices, num_classes, predicted & (pred == safe))
    return Counts(tp, pred_count - tp, _per_slice(safe, offset, slices, num_classes, valid) - tp)


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
