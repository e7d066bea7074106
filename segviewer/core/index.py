"""Per-class probability histograms: counts at every grid threshold by cumulative sums.

bin(p) = number of grid values g_k = float32(k/N) strictly below p, so p > g_k  <=>  bin(p) > k, exactly, for
every pixel. One streaming pass fills, per class, a histogram over GT-positive pixels and one over all valid
pixels; a slider step is then O(classes), a curve O(classes x bins), and indexes of disjoint image sets merge by
addition (per-image rows concatenate). Every image's own counts at every grid threshold live beside the index, on
disk (core.count_store): the index holds one row per image of what does not depend on the threshold.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Callable, Protocol

import numpy as np
import torch

from . import histogram_cpu
from .counts import Counts, Target, argmax_map, confusion_matrix
from .histogram_cpu import bin_table

DEFAULT_STEPS = 1000
INDEX_VERSION = 5


def grid_values(steps: int) -> torch.Tensor:
    """The threshold grid k/N as the float32 values every comparison uses."""
    return (torch.arange(steps + 1, dtype=torch.float64) / steps).float()


def threshold_to_step(threshold: float, steps: int) -> int | None:
    """k when the threshold is (to float32 precision) a grid value, else None."""
    k = int(round(float(threshold) * steps))
    return k if 0 <= k <= steps and float(grid_values(steps)[k]) == float(torch.tensor(threshold, dtype=torch.float32)) else None


def bin_probabilities(probs: torch.Tensor, grid: torch.Tensor, offsets: np.ndarray | None = None) -> torch.Tensor:
    """bin(p) = #{k : g_k < p} in 0..N+1 (N+1 only for values above 1, possible with activation 'none').

    CPU, with offsets ([C, 1] int64): int64 keys offsets[c] + bin, ready for one bincount (no second pass)."""
    if probs.device.type != "cpu":
        return torch.bucketize(probs, grid.to(probs.device), right=False, out_int32=True)
    # CPU, ~5x faster than a binary search: p·N is exact in float64, so ceil(p·N) counts the k with k/N < p;
    # rounding k/N to float32 can lift only the largest of them to p, which one lookup takes back
    # and g_(k-1) = float32(k-1) / float32(N) exactly (IEEE division rounds correctly), so no table lookup is needed
    steps, p = grid.numel() - 1, probs.detach().numpy()
    q = p.astype(np.float64)
    q *= steps
    np.clip(np.ceil(q, out=q), 0, steps + 1, out=q)
    below = q.astype(np.float32)
    below -= 1
    below /= np.float32(steps)
    bins = q.astype(np.int32 if offsets is None else np.int64)
    bins -= (below >= p) & (bins > 0)
    if offsets is not None:
        bins.reshape(len(offsets), -1)[...] += offsets
    return torch.from_numpy(bins)


def _bincount_on_device(values: torch.Tensor, length: int) -> torch.Tensor:
    if values.device.type == "cpu":   # numpy's bincount is ~5x faster than torch's on CPU
        return torch.from_numpy(np.bincount(values.numpy(), minlength=length))
    return torch.bincount(values, minlength=length)


def image_histograms(probs: torch.Tensor, target: Target, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[C, N+2] histograms of p_c over GT-c pixels and over all valid pixels (ignore pixels excluded)."""
    c, nbins = probs.shape[0], grid.numel() + 1
    if probs.device.type == "cpu":
        return _image_histograms_cpu(probs, target, grid, c, nbins)
    bins = bin_probabilities(probs, grid).view(c, -1)
    offsets = (torch.arange(c, device=probs.device, dtype=torch.int32) * nbins).view(c, 1)
    pred = _bincount_on_device((bins + offsets).flatten(), c * nbins).view(c, nbins)
    labels = target.labels.flatten()
    bin_gt = bins.gather(0, labels.view(1, -1))[0]
    if not target.all_valid:
        ignored = target.ignored_index()
        pred -= _bincount_on_device((bins[:, ignored] + offsets).flatten(), c * nbins).view(c, nbins)
        keep = target.valid.flatten()
        labels, bin_gt = labels[keep], bin_gt[keep]
    pos = _bincount_on_device(labels * nbins + bin_gt.long(), c * nbins).view(c, nbins)
    return pos, pred


def _image_histograms_cpu(probs, target: Target, grid, c: int, nbins: int):
    """One key per (class, pixel) = class·nbins + bin: the key at a pixel's GT class is already its
    positive-histogram key, so both histograms come from two bincounts and no other pass over C×H×W."""
    offsets = (np.arange(c, dtype=np.int64) * nbins)[:, None]
    keys = bin_probabilities(probs, grid, offsets).numpy().reshape(c, -1)
    pred = np.bincount(keys.ravel(), minlength=c * nbins)
    labels = target.labels.flatten().numpy()
    key_gt = np.take_along_axis(keys, labels[None], axis=0)[0]
    if not target.all_valid:
        ignored = target.ignored_index().numpy()
        pred -= np.bincount(keys[:, ignored].ravel(), minlength=c * nbins)
        key_gt = key_gt[target.valid.flatten().numpy()]
    pos = np.bincount(key_gt, minlength=c * nbins)
    return torch.from_numpy(pos.reshape(c, nbins)), torch.from_numpy(pred.reshape(c, nbins))


def image_pass(probs: torch.Tensor, target: Target, grid: torch.Tensor):
    """(pos, pred) histograms as numpy, the argmax map and its [C, C+1] confusion matrix, in as few passes as the
    device allows: on CPU one blocked pass for all four (histogram_cpu), elsewhere the torch kernels."""
    table = bin_table(grid.numel() - 1) if probs.device.type == "cpu" and probs.dtype == torch.float32 else None
    if table is None:
        pos, pred = (h.cpu().numpy() for h in image_histograms(probs, target, grid))
        pred_map = argmax_map(probs)
        return pos, pred, pred_map, confusion_matrix(pred_map, target)
    ignored = None if target.all_valid else target.ignored_index().numpy()
    done = histogram_cpu.blocked_image_pass(probs, target.labels.flatten().numpy(), ignored, table)
    return (done.pos, done.pred, torch.from_numpy(done.argmax).view(probs.shape[1:]),
            torch.from_numpy(done.confusion))


def counts_above(hist: np.ndarray) -> np.ndarray:
    """above[..., k] = Σ_{b > k} hist[..., b]: the count of pixels with p > g_k, for every bin k."""
    above = np.zeros_like(hist)
    above[..., :-1] = np.cumsum(hist[..., :0:-1], axis=-1)[..., ::-1]
    return above


class ImageCounts(Protocol):
    """Every image's tp and predicted pixels at every grid step: the count store on disk, or arrays in memory."""

    def counts(self, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...    # (tp, fp, fn) [C, I]

    def row(self, ks: np.ndarray): ...      # a core.count_store.CountsRow: the counts made when asked for

    def image_counts(self, image: int, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...  # [C]

    def close(self) -> None: ...


ROW_FIELDS = ("gt_count", "argmax_tp", "argmax_fp", "argmax_fn", "soft_tp", "soft_fp", "soft_fn", "confusion")
SAVED = ("steps", "num_classes", "names", "loaded", "pos_hist", "pred_hist", *ROW_FIELDS)


@dataclass
class ProbabilityIndex:
    """One row per image of the dataset (dataset order; an image that failed to load keeps zero rows and
    loaded=False) and the dataset's histograms; `images` answers every image's counts at a grid threshold."""
    steps: int
    num_classes: int
    names: list[str]
    loaded: np.ndarray          # [I] bool
    pos_hist: np.ndarray        # [C, N+2] int64, over the images that loaded
    pred_hist: np.ndarray       # [C, N+2] int64
    gt_count: np.ndarray        # [I, C] int64
    argmax_tp: np.ndarray       # [I, C] int64
    argmax_fp: np.ndarray
    argmax_fn: np.ndarray
    soft_tp: np.ndarray         # [I, C] float64
    soft_fp: np.ndarray
    soft_fn: np.ndarray
    confusion: np.ndarray | None   # [I, C, C+1] int32, argmax; None until confusion_rows() reads it from the cache
    images: ImageCounts | None = field(default=None, compare=False, repr=False)   # not saved with the index
    confusion_source: Callable[[], np.ndarray] | None = field(default=None, compare=False, repr=False)

    # ---- counts ----
    def step_vector(self, threshold) -> np.ndarray:
        """Grid steps k per class for a scalar or per-class threshold on the grid; ValueError if off the grid."""
        t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (self.num_classes,))
        ks = np.rint(t * self.steps).astype(np.int64)
        if ((ks < 0) | (ks > self.steps)).any() or not np.array_equal(grid_values(self.steps).numpy()[ks],
                                                                       t.astype(np.float32)):
            raise ValueError(f"threshold {threshold} is not on the grid k/{self.steps}")
        return ks

    def cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """[C, N+1] dataset tp and predicted pixels above each grid value k = 0..N."""
        n = self.steps + 1
        return counts_above(self.pos_hist)[:, :n], counts_above(self.pred_hist)[:, :n]

    def dataset_counts(self, threshold) -> Counts:
        k, classes = self.step_vector(threshold), np.arange(self.num_classes)
        tp, pred = (a[classes, k] for a in self.cumulative())
        return _counts(tp, pred - tp, self.gt_count.sum(0) - tp)

    def image_counts(self, threshold) -> Counts:
        """[I, C] counts of every image at a grid threshold (ValueError off the grid), from `images`: a RowCounts,
        whose tensors are made when first asked for (views of class-major arrays, as the store reads them)."""
        return RowCounts(self._images().row(self.step_vector(threshold)))

    def image_row_counts(self, row: int, threshold) -> Counts:
        """[C] counts of one image at a grid threshold: a slider step for the current image costs O(classes)."""
        return _counts(*self._images().image_counts(row, self.step_vector(threshold)))

    def confusion_rows(self) -> np.ndarray:
        """[I, C, C+1] every image's argmax confusion matrix; a cached index reads them when first asked (152 MB
        at 100,000 images of 19 classes: not on the way to the first scores), checked (ValueError)."""
        if self.confusion is None:
            rows = self.confusion_source()
            if rows.shape != (len(self.names), self.num_classes, self.num_classes + 1) or rows.dtype.kind != "i" \
                    or not np.array_equal(rows.sum(2, dtype=np.int64), self.gt_count):
                raise ValueError("index confusion matrices that do not add up")
            self.confusion = rows
        return self.confusion

    def close(self) -> None:
        """Lets go of the count store (its file stays)."""
        if self.images is not None:
            self.images.close()

    def _images(self) -> ImageCounts:
        if self.images is None:
            raise ValueError("this index keeps no per-image counts")
        return self.images

    def curves(self) -> Counts:
        """[C, N+1] dataset counts at every grid threshold k = 0..N."""
        tp, pred = self.cumulative()
        gt = self.gt_count.sum(0)[:, None]
        return _counts(tp, pred - tp, gt - tp)

    def argmax_counts(self) -> Counts:
        return _counts(self.argmax_tp, self.argmax_fp, self.argmax_fn)

    def argmax_row_counts(self, row: int) -> Counts:
        return _counts(self.argmax_tp[row], self.argmax_fp[row], self.argmax_fn[row])

    def soft_counts(self) -> Counts:
        return Counts(*(torch.from_numpy(a) for a in (self.soft_tp, self.soft_fp, self.soft_fn)))

    def soft_totals(self) -> Counts:
        """[C] soft counts over the images that loaded (DatasetCounts' sum, kept: it does not change with a step)."""
        cached = self.__dict__.get("_soft_totals")
        if cached is None:
            keep, soft = torch.from_numpy(self.loaded), self.soft_counts()
            cached = self.__dict__["_soft_totals"] = Counts(*(t[keep].sum(0) for t in (soft.tp, soft.fp, soft.fn)))
        return cached

    # ---- storage ----
    def merge(self, other: "ProbabilityIndex") -> "ProbabilityIndex":
        """The index of two consecutive parts of one dataset (or two disjoint image sets)."""
        return ProbabilityIndex.concatenate([self, other])

    @classmethod
    def concatenate(cls, parts: list["ProbabilityIndex"]) -> "ProbabilityIndex":
        """The index of consecutive parts, in their order: histograms added, rows concatenated (each array
        copied once)."""
        first = parts[0]
        if any((p.steps, p.num_classes) != (first.steps, first.num_classes) for p in parts):
            raise ValueError("indexes differ in grid or classes")
        names = [n for p in parts for n in p.names]
        if len(set(names)) != len(names):
            raise ValueError("indexes share images; merge needs disjoint parts")
        merged = {"steps": first.steps, "num_classes": first.num_classes, "names": names,
                  "pos_hist": sum(p.pos_hist for p in parts), "pred_hist": sum(p.pred_hist for p in parts)}
        for name in ("loaded", *ROW_FIELDS):
            merged[name] = np.concatenate([p.confusion_rows() if name == "confusion" else getattr(p, name)
                                           for p in parts])
        return cls(**merged)

    def to_arrays(self) -> dict[str, np.ndarray]:
        self.confusion_rows()
        out = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self) if f.name in SAVED}
        out["names"] = np.array(self.names, dtype=np.str_)
        return out

    @classmethod
    def from_arrays(cls, arrays, confusion_source: Callable[[], np.ndarray] | None = None) -> "ProbabilityIndex":
        """The index the arrays describe, checked for shapes, types and consistency (ValueError otherwise): a
        cache file is never trusted. confusion_source: the confusion matrices are read from it when asked for."""
        values = {name: None if name == "confusion" and confusion_source else arrays[name] for name in SAVED}
        for name in ("steps", "num_classes"):
            values[name] = int(values[name])
        values["names"] = [str(n) for n in values["names"]]
        index = cls(**values, confusion_source=confusion_source)
        _check(index)
        if confusion_source is None:
            index.confusion_rows()
        return index


def _check(index: ProbabilityIndex) -> None:
    """Everything but the confusion matrices (confusion_rows checks those when it reads them)."""
    i, c, nb = len(index.names), index.num_classes, index.steps + 2
    shapes = {"loaded": (i,), "pos_hist": (c, nb), "pred_hist": (c, nb),
              **{name: (i, c) for name in ROW_FIELDS if name != "confusion"}}
    for name, shape in shapes.items():
        if getattr(index, name).shape != shape:
            raise ValueError(f"index array {name} has shape {getattr(index, name).shape}, not {shape}")
    kinds = {"loaded": "b", "soft_tp": "f", "soft_fp": "f", "soft_fn": "f"}
    for name in shapes:
        if getattr(index, name).dtype.kind != kinds.get(name, "i"):
            raise ValueError(f"index array {name} has type {getattr(index, name).dtype}")
    gt = index.gt_count.sum(0)
    # every GT pixel of a class is in its positive histogram, every valid pixel in each class's (masks: none)
    histograms = (np.array_equal(index.pos_hist.sum(1), gt) and (index.pred_hist.sum(1) == gt.sum()).all()) or \
        not (index.pos_hist.any() or index.pred_hist.any())
    if not histograms or (index.pos_hist < 0).any() or (index.pred_hist < 0).any() or (index.gt_count < 0).any() \
            or (index.gt_count[~index.loaded] != 0).any():
        raise ValueError("index arrays that do not add up")


class RowCounts(Counts):
    """[I, C] Counts of every image from a count store's row (core.count_store.CountsRow): tp / fp / fn made when
    first asked for; subset(images) and of_class(c) without making them (what a list on screen and a filter need)."""

    def __init__(self, row):
        self.row = row
        self._made: tuple | None = None

    def _tensors(self) -> tuple:
        if self._made is None:
            self._made = tuple(torch.from_numpy(a).T for a in self.row.full())
        return self._made

    tp = property(lambda self: self._tensors()[0])
    fp = property(lambda self: self._tensors()[1])
    fn = property(lambda self: self._tensors()[2])

    def subset(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class-major [C, n] (tp, fp, fn) of these dataset positions."""
        return self.row.subset(images)

    def of_class(self, class_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[I] (tp, fp, fn) of one class."""
        return self.row.of_class(class_id)


def _counts(tp, fp, fn) -> Counts:
    return Counts(*(torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for a in (tp, fp, fn)))


def hard_counts_from_confusion(confusion: torch.Tensor) -> Counts:
    """count_hard's counts from a [C, C+1] confusion matrix: tp the diagonal, predictions the columns, GT the rows."""
    c = confusion.shape[0]
    tp = torch.diagonal(confusion).clone()
    return Counts(tp, confusion[:, :c].sum(0) - tp, confusion.sum(1) - tp)
