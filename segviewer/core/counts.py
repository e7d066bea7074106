"""tp / fp / fn per class (and the confusion matrix) from probabilities or hard masks, on any torch device.

Ignore pixels count in no term. Every function returns [C] tensors; callers stack them per image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NO_PREDICTION = -1
MASK_BLOCK_BYTES = 2 * 2**20   # class-block masks stay below core.memory's 4 MB mmap threshold


@dataclass
class Counts:
    """Per-class pixel counts; tp/fp/fn are int64, the soft (probability-weighted) ones float64."""
    tp: torch.Tensor
    fp: torch.Tensor
    fn: torch.Tensor

    def to(self, device) -> "Counts":
        return Counts(self.tp.to(device), self.fp.to(device), self.fn.to(device))

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass
class Target:
    """A ground-truth label map prepared once per image: valid mask, safe class ids, per-class pixel counts."""
    labels: torch.Tensor     # H×W int64, ignore pixels replaced by 0
    valid: torch.Tensor      # H×W bool
    all_valid: bool
    gt_count: torch.Tensor   # [C] int64
    num_classes: int
    _ignored: torch.Tensor | None = None

    def ignored_index(self) -> torch.Tensor:
        """Flat indices of the ignore pixels, computed once."""
        if self._ignored is None:
            self._ignored = torch.nonzero(~self.valid.flatten()).flatten()
        return self._ignored


def prepare_target(labels: torch.Tensor, num_classes: int, ignore_index: int) -> Target:
    valid = labels != ignore_index
    safe = torch.where(valid, labels, torch.zeros((), dtype=labels.dtype, device=labels.device)).long()
    all_valid = bool(valid.all())
    gt_count = count_classes(labels.long(), num_classes, None if all_valid else valid)
    return Target(safe, valid, all_valid, gt_count, num_classes)


def count_classes(ids: torch.Tensor, num_classes: int, where: torch.Tensor | None = None,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """[C] count (or weight sum) of each class id 0..C-1 among the pixels where `where` holds (all when None).

    The pixels left out go to a spare bin C instead of being selected out (one pass, no selection of a
    data-dependent size); the sums over the kept pixels are taken in the same order, the same to the bit."""
    ids = ids.flatten()
    if where is not None:
        ids = torch.where(where.flatten(), ids, torch.full((), num_classes, dtype=ids.dtype, device=ids.device))
    return torch.bincount(ids, weights=weights, minlength=num_classes + 1)[:num_classes]


def as_threshold_vector(threshold, num_classes: int, device) -> torch.Tensor:
    """A scalar or per-class threshold as a [C] float32 tensor."""
    t = torch.as_tensor(threshold, dtype=torch.float32, device=device)
    return t.expand(num_classes).contiguous() if t.ndim == 0 else t


def count_true_per_class(mask: torch.Tensor) -> torch.Tensor:
    """Per-class count of True in a C×... bool tensor."""
    if mask.device.type == "cpu":
        # numpy's SIMD count_nonzero is ~7x faster than torch's bool sum on CPU
        return torch.from_numpy(np.count_nonzero(mask.reshape(mask.shape[0], -1).numpy(), axis=1).astype(np.int64))
    return mask.flatten(1).sum(1)


def _count_above(probs: torch.Tensor, thr: torch.Tensor) -> torch.Tensor:
    """Per-class count of p_c > t_c. On CPU a few classes at a time: a C×H×W mask would be a fresh mapping, all
    page faults (19.6 MB, ~4,800 faults for 150×256×512); a block below the mmap threshold reuses the heap."""
    flat = probs.reshape(probs.shape[0], -1)
    per_block = max(1, MASK_BLOCK_BYTES // max(1, flat.shape[1]))
    if probs.device.type != "cpu" or per_block >= flat.shape[0]:
        return count_true_per_class(flat > thr.view(-1, 1))
    return torch.cat([count_true_per_class(flat[c:c + per_block] > thr[c:c + per_block, None])
                      for c in range(0, flat.shape[0], per_block)])


def _count_predicted(probs: torch.Tensor, thr: torch.Tensor, target: Target) -> torch.Tensor:
    """Per-class count of p_c > t_c over valid pixels; ignore pixels are few, so subtract them afterwards."""
    count = _count_above(probs, thr)
    if not target.all_valid:
        ignored = probs.flatten(1).index_select(1, target.ignored_index())   # ~4x faster than [:, index]
        count = count - count_true_per_class(ignored > thr.view(-1, 1)).to(count.device)
    return count.to(probs.device)


def count_threshold(probs: torch.Tensor, target: Target, threshold) -> Counts:
    """pred_c = p_c > threshold_c (threshold scalar or per class)."""
    thr = as_threshold_vector(threshold, probs.shape[0], probs.device)
    pred_count = _count_predicted(probs, thr, target)
    p_gt = probs.gather(0, target.labels[None])[0]
    hit = p_gt > thr[target.labels]
    if not target.all_valid:
        hit &= target.valid
    tp = count_classes(target.labels, target.num_classes, hit)
    return Counts(tp, pred_count - tp, target.gt_count - tp)


def count_hard(pred_map: torch.Tensor, target: Target) -> Counts:
    """Counts from a hard prediction map of class ids (NO_PREDICTION where nothing is predicted)."""
    c = target.num_classes
    pred_map = pred_map.long()
    predicted = (pred_map >= 0) & (pred_map < c)
    if not target.all_valid:
        predicted &= target.valid
    pred_count = count_classes(pred_map, c, predicted)
    hit = predicted & (pred_map == target.labels)
    tp = count_classes(target.labels, c, hit)
    return Counts(tp, pred_count - tp, target.gt_count - tp)


def accumulation_dtype(device: torch.device) -> torch.dtype:
    # MPS has no float64; there the sums stay float32 on the device and become float64 on the CPU
    return torch.float32 if device.type == "mps" else torch.float64


def soft_counts(probs: torch.Tensor, target: Target) -> Counts:
    """Probability-weighted tp/fp/fn (no threshold): the terms of soft Dice. float64, on the CPU."""
    acc = accumulation_dtype(probs.device)
    flat = probs.flatten(1)
    # float32 sums along each image row, then float64 over the rows: a float32 sum over a whole megapixel would
    # differ in its 8th digit with the thread count, a float64 one costs a conversion of every value
    rows = probs.sum(-1).reshape(probs.shape[0], -1) if probs.dim() >= 3 else flat.sum(1, keepdim=True)
    pred_sum = rows.to(acc).sum(-1)
    if not target.all_valid:   # ignore pixels are few: subtract them rather than weight every pixel
        pred_sum = pred_sum - flat.index_select(1, target.ignored_index()).sum(1, dtype=acc)
    pred_sum = pred_sum.cpu().double()
    p_gt = probs.gather(0, target.labels[None])[0].flatten()
    tp = count_classes(target.labels, target.num_classes, None if target.all_valid else target.valid, p_gt.to(acc))
    tp = tp.cpu().double()
    return Counts(tp, pred_sum - tp, target.gt_count.cpu().double() - tp)


def argmax_map(probs: torch.Tensor) -> torch.Tensor:
    """H×W int64 index of the largest probability, the first on ties: equal to probs.max(0).indices.

    On CPU a running maximum over the classes: torch reduces dim 0 of a C×H×W tensor slowly (measured, one
    thread, 256×512: 8.3 ms -> 6.4 ms at 19 classes, 155 ms -> 49 ms at 256)."""
    if probs.device.type != "cpu" or probs.shape[0] < 2:
        return probs.max(0).indices
    flat = probs.reshape(probs.shape[0], -1)
    best = flat[0].clone()
    index = torch.zeros(flat.shape[1], dtype=torch.int64)
    above = torch.empty(flat.shape[1], dtype=torch.bool)
    for c in range(1, flat.shape[0]):
        torch.gt(flat[c], best, out=above)     # strictly greater: an earlier class keeps a tie
        torch.maximum(best, flat[c], out=best)
        index.masked_fill_(above, c)
    return index.view(probs.shape[1:])


def threshold_map(probs: torch.Tensor, threshold) -> torch.Tensor:
    """The most probable class among those above their threshold; NO_PREDICTION where none is."""
    thr = as_threshold_vector(threshold, probs.shape[0], probs.device).view(-1, *[1] * (probs.dim() - 1))
    above = probs > thr
    best = torch.where(above, probs, torch.full((), -1.0, device=probs.device)).argmax(0)
    return torch.where(above.any(0), best, torch.full((), NO_PREDICTION, device=probs.device))


def hard_map_from_labels(labels: torch.Tensor, num_classes: int, ignore_index: int) -> torch.Tensor:
    """An annotator's / model's hard mask as a prediction map; its ignore (or unknown) pixels predict nothing."""
    labels = labels.long()
    ok = (labels >= 0) & (labels < num_classes) & (labels != ignore_index)
    return torch.where(ok, labels, torch.full((), NO_PREDICTION, device=labels.device))


def confusion_matrix(pred_map: torch.Tensor, target: Target) -> torch.Tensor:
    """[C, C+1] int64: rows GT class, columns predicted class, last column 'no prediction'."""
    c = target.num_classes
    cols = torch.where(pred_map < 0, torch.full((), c, device=pred_map.device), pred_map.long())
    flat = target.labels * (c + 1) + cols
    if not target.all_valid:
        flat = flat[target.valid]
    return torch.bincount(flat.flatten(), minlength=c * (c + 1))[: c * (c + 1)].view(c, c + 1)


@dataclass
class DatasetCounts:
    """Every image's counts at one Scoring, in dataset order: the rows of images that failed to load are zero and
    marked False in `loaded`. From one pass over the pixels or from the index (exact either way)."""
    names: list[str]
    per_image: Counts                         # [I, C] int64
    soft_per_image: Counts                    # [I, C] float64, soft Dice's terms
    loaded: np.ndarray                        # [I] bool
    key: tuple = ()
    totals: Counts | None = None              # [C] known apart from the rows (the index's dataset histograms)
    soft_totals: Counts | None = None         # [C] known apart from the rows (the index keeps them)
    confusion_per_image: np.ndarray | None = None   # [I, C, C+1] when asked for
    per_slice: list | None = None             # [I] a volume's [S, C] counts per slice (None: failed), when asked for

    def _loaded_sum(self, counts: Counts) -> Counts:
        # over the loaded rows only: the same additions, in the same order, as a pass that never saw the failures
        keep = torch.from_numpy(np.asarray(self.loaded, bool))
        return Counts(*(t[keep].sum(0) for t in (counts.tp, counts.fp, counts.fn)))

    @property
    def total(self) -> Counts:
        """[C] counts over the images that loaded."""
        return self.totals if self.totals is not None else self._loaded_sum(self.per_image)

    @property
    def soft(self) -> Counts:
        return self.soft_totals if self.soft_totals is not None else self._loaded_sum(self.soft_per_image)

    @property
    def confusion(self) -> np.ndarray | None:
        """[C, C+1] summed over the images that loaded (None when not computed)."""
        if self.confusion_per_image is None:
            return None
        return self.confusion_per_image[self.loaded].sum(0, dtype=np.int64)

    def loaded_rows(self) -> tuple[list[str], Counts]:
        """Names and [n, C] counts of the images that loaded: what the per-image CSV writes."""
        keep = np.flatnonzero(self.loaded)
        rows = torch.from_numpy(keep)
        return ([self.names[i] for i in keep],
                Counts(*(t.index_select(0, rows) for t in (self.per_image.tp, self.per_image.fp, self.per_image.fn))))
