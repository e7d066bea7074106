"""Per-class probability histograms: counts at every grid threshold by cumulative sums.

bin(p) = number of grid values g_k = float32(k/N) strictly below p, so p > g_k  <=>  bin(p) > k, exactly, for
every pixel. One streaming pass fills, per class, a histogram over GT-positive pixels and one over all valid
pixels; a slider step is then O(classes), a curve O(classes x bins), and indexes of disjoint image sets merge by
addition (per-image rows concatenate).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
import torch

from . import histogram_cpu
from .counts import Counts, Target, argmax_map, confusion_matrix
from .histogram_cpu import bin_table
from .memory import trim_heap_every

DEFAULT_STEPS = 1000
IMAGE_BUDGET_BYTES = 256 * 2**20   # per-image histograms get coarser past this
INDEX_VERSION = 4


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


def coarsen(hist: np.ndarray, factor: int) -> np.ndarray:
    """Groups fine bins b into coarse bins ceil(b / factor): 'above coarse k' then equals 'above fine k*factor'."""
    if factor == 1:
        return hist
    steps = hist.shape[-1] - 2
    starts = [0, *range(1, steps + 1, factor), steps + 1]
    return np.add.reduceat(hist, starts, axis=-1)


def counts_above(hist: np.ndarray) -> np.ndarray:
    """above[..., k] = Σ_{b > k} hist[..., b]: the count of pixels with p > g_k, for every bin k."""
    above = np.zeros_like(hist)
    above[..., :-1] = np.cumsum(hist[..., :0:-1], axis=-1)[..., ::-1]
    return above


def image_step_factor(n_images: int, num_classes: int, steps: int, budget: int = IMAGE_BUDGET_BYTES) -> int:
    """The smallest divisor f of N such that per-image int32 histograms at N/f steps fit the budget."""
    for f in (d for d in range(1, steps + 1) if steps % d == 0):
        if n_images * num_classes * 2 * (steps // f + 2) * 4 <= budget:
            return f
    return steps


@dataclass
class ProbabilityIndex:
    steps: int
    num_classes: int
    names: list[str]
    pos_hist: np.ndarray        # [C, N+2] int64, whole dataset
    pred_hist: np.ndarray       # [C, N+2] int64
    image_factor: int           # per-image grid is k/(N/f)
    image_pos: np.ndarray       # [I, C, N/f+2] int32, GT-positive pixels above each per-image grid step
    image_pred: np.ndarray      # [I, C, N/f+2] int32, valid pixels above each step (stored cumulated: a step is a lookup)
    gt_count: np.ndarray        # [I, C] int64
    argmax_tp: np.ndarray       # [I, C] int64
    argmax_fp: np.ndarray
    argmax_fn: np.ndarray
    soft_tp: np.ndarray         # [I, C] float64
    soft_fp: np.ndarray
    soft_fn: np.ndarray
    confusion: np.ndarray       # [I, C, C+1] int32, argmax

    # ---- counts ----
    def _above(self, hist: np.ndarray, k: np.ndarray) -> np.ndarray:
        """Σ_{b > k} hist[..., c, b] for each class c (k per class)."""
        suffix = np.cumsum(hist[..., ::-1], axis=-1)[..., ::-1]   # suffix[b] = Σ_{b' >= b}
        idx = np.broadcast_to(np.minimum(k + 1, hist.shape[-1] - 1), hist.shape[:-1])
        above = np.take_along_axis(suffix, idx[..., None], axis=-1)[..., 0]
        return np.where(k + 1 >= hist.shape[-1], 0, above)

    def step_vector(self, threshold) -> np.ndarray:
        """Grid steps k per class for a scalar or per-class threshold on the grid; ValueError if off the grid."""
        t = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (self.num_classes,))
        ks = np.rint(t * self.steps).astype(np.int64)
        if not np.array_equal(grid_values(self.steps).numpy()[ks], t.astype(np.float32)):
            raise ValueError(f"threshold {threshold} is not on the grid k/{self.steps}")
        return ks

    def dataset_counts(self, threshold) -> Counts:
        k = self.step_vector(threshold)
        tp = self._above(self.pos_hist, k)
        pred = self._above(self.pred_hist, k)
        gt = self.gt_count.sum(0)
        return _counts(tp, pred - tp, gt - tp)

    def image_counts_exact(self, threshold) -> bool:
        return bool(np.all(self.step_vector(threshold) % self.image_factor == 0))

    def image_counts(self, threshold) -> Counts:
        """[I, C] counts; exact when the threshold is on the per-image grid, else at the grid value just below."""
        k = np.broadcast_to(self.step_vector(threshold) // self.image_factor, self.image_pos.shape[:-1])
        tp = np.take_along_axis(self.image_pos, k[..., None], axis=-1)[..., 0].astype(np.int64)
        pred = np.take_along_axis(self.image_pred, k[..., None], axis=-1)[..., 0].astype(np.int64)
        return _counts(tp, pred - tp, self.gt_count - tp)

    def image_row_counts(self, row: int, threshold) -> Counts:
        """[C] counts of one image (its index row): a slider step for the current image costs O(classes)."""
        k = self.step_vector(threshold) // self.image_factor
        classes = np.arange(self.num_classes)
        tp = self.image_pos[row, classes, k].astype(np.int64)
        pred = self.image_pred[row, classes, k].astype(np.int64)
        return _counts(tp, pred - tp, self.gt_count[row] - tp)

    def argmax_row_counts(self, row: int) -> Counts:
        """[C] argmax counts of one image (its index row)."""
        return Counts(*(torch.from_numpy(np.ascontiguousarray(a[row], dtype=np.int64))
                        for a in (self.argmax_tp, self.argmax_fp, self.argmax_fn)))

    def curves(self) -> Counts:
        """[C, N+1] dataset counts at every grid threshold k = 0..N."""
        tp = np.cumsum(self.pos_hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
        pred = np.cumsum(self.pred_hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
        gt = self.gt_count.sum(0)[:, None]
        return _counts(tp, pred - tp, gt - tp)

    def argmax_counts(self) -> Counts:
        return _counts(self.argmax_tp, self.argmax_fp, self.argmax_fn)

    def soft_counts(self) -> Counts:
        return Counts(*(torch.from_numpy(a) for a in (self.soft_tp, self.soft_fp, self.soft_fn)))

    # ---- storage ----
    def merge(self, other: "ProbabilityIndex") -> "ProbabilityIndex":
        """The index of the union of two disjoint image sets."""
        if (self.steps, self.num_classes, self.image_factor) != (other.steps, other.num_classes, other.image_factor):
            raise ValueError("indexes differ in grid, classes or per-image resolution")
        if set(self.names) & set(other.names):
            raise ValueError("indexes share images; merge needs disjoint parts")
        merged = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("steps", "num_classes", "image_factor"):
                merged[f.name] = a
            elif f.name == "names":
                merged[f.name] = a + b
            elif f.name in ("pos_hist", "pred_hist"):
                merged[f.name] = a + b
            else:
                merged[f.name] = np.concatenate([a, b])
        return ProbabilityIndex(**merged)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}
        out["names"] = np.array(self.names, dtype=np.str_)
        return out

    @classmethod
    def from_arrays(cls, arrays) -> "ProbabilityIndex":
        values = {f.name: arrays[f.name] for f in fields(cls)}
        for name in ("steps", "num_classes", "image_factor"):
            values[name] = int(values[name])
        values["names"] = [str(n) for n in values["names"]]
        return cls(**values)


def _counts(tp, fp, fn) -> Counts:
    return Counts(*(torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for a in (tp, fp, fn)))


def hard_counts_from_confusion(confusion: torch.Tensor) -> Counts:
    """count_hard's counts from a [C, C+1] confusion matrix: tp the diagonal, predictions the columns, GT the rows."""
    c = confusion.shape[0]
    tp = torch.diagonal(confusion).clone()
    return Counts(tp, confusion[:, :c].sum(0) - tp, confusion.sum(1) - tp)


@dataclass
class ImageStats:
    """What the index keeps of one image (or one slab of a volume): additive, so a case's slabs sum to its row."""
    pos: np.ndarray              # [C, N+2] int64
    pred: np.ndarray
    confusion: torch.Tensor      # [C, C+1] int64, argmax (or the mask)
    gt_count: torch.Tensor       # [C] int64
    soft: Counts                 # float64 (hard counts for masks)

    def __add__(self, other: "ImageStats") -> "ImageStats":
        return ImageStats(self.pos + other.pos, self.pred + other.pred, self.confusion + other.confusion,
                          self.gt_count + other.gt_count, self.soft + other.soft)


class IndexBuilder:
    """Accumulates one image at a time; memory is one image plus the index."""

    def __init__(self, num_classes: int, steps: int = DEFAULT_STEPS, n_images: int = 1,
                 image_factor: int | None = None):
        from .budgets import check_index
        check_index(num_classes, steps, n_images)   # histograms and confusion matrices within the memory budget
        self.steps, self.c = steps, num_classes
        self.grid = grid_values(steps)
        self.factor = image_factor or image_step_factor(n_images, num_classes, steps)
        self.rows: dict[str, list] = {k: [] for k in ("names", "image_pos", "image_pred", "gt_count", "argmax_tp",
                                                      "argmax_fp", "argmax_fn", "soft_tp", "soft_fp", "soft_fn",
                                                      "confusion")}
        nb = steps + 2
        self.pos_hist = np.zeros((num_classes, nb), np.int64)
        self.pred_hist = np.zeros((num_classes, nb), np.int64)

    def add(self, name: str, target: Target, probs: torch.Tensor | None = None, soft: Counts | None = None,
            pred_map: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One image: probabilities (logits datasets) or a hard prediction map (mask datasets). Returns the image's
        own [C, N+2] histograms (pos, pred)."""
        stats = self.image_stats(target, probs, soft, pred_map)
        self.add_stats(name, stats)
        return stats.pos, stats.pred

    def add_sample(self, sample) -> None:
        """One dataset Sample; a volume's slabs add up to one row (one histogram per case), their torch work on
        one thread (volume_sample.one_thread)."""
        if not sample.is_volume:
            self.add(sample.name, sample.target, sample.probs, sample.soft(), sample.pred_map)
            return
        from .volume_sample import one_thread
        stats = None
        with one_thread():
            for part in sample.parts():
                one = self.image_stats(part.target, part.probs, part.soft(), part.pred_map)
                stats = one if stats is None else stats + one
        self.add_stats(sample.name, stats)

    def image_stats(self, target: Target, probs: torch.Tensor | None = None, soft: Counts | None = None,
                    pred_map: torch.Tensor | None = None) -> "ImageStats":
        c, nb = self.c, self.steps + 2
        if probs is not None:
            pos, pred, pred_map, confusion = image_pass(probs, target, self.grid)
        else:
            pos = pred = np.zeros((c, nb), np.int64)
            confusion = confusion_matrix(pred_map, target)
        confusion = confusion.cpu()
        soft = soft.to("cpu") if soft is not None else hard_counts_from_confusion(confusion)
        return ImageStats(pos, pred, confusion, target.gt_count.cpu(), soft)

    def add_stats(self, name: str, stats: "ImageStats") -> None:
        self.pos_hist += stats.pos
        self.pred_hist += stats.pred
        hard = hard_counts_from_confusion(stats.confusion)   # one pass over the pixels for both
        soft = stats.soft
        for key, value in (("names", name),
                           ("image_pos", counts_above(coarsen(stats.pos, self.factor)).astype(np.int32)),
                           ("image_pred", counts_above(coarsen(stats.pred, self.factor)).astype(np.int32)),
                           ("gt_count", stats.gt_count.numpy()), ("argmax_tp", hard.tp.numpy()),
                           ("argmax_fp", hard.fp.numpy()), ("argmax_fn", hard.fn.numpy()),
                           ("soft_tp", soft.tp.double().numpy()), ("soft_fp", soft.fp.double().numpy()),
                           ("soft_fn", soft.fn.double().numpy()),
                           ("confusion", stats.confusion.numpy().astype(np.int32))):
            self.rows[key].append(value)

    def finish(self) -> ProbabilityIndex:
        rows = self.rows
        nbi = self.steps // self.factor + 2
        stack = {k: (np.stack(v) if v else np.zeros((0, self.c), np.int64)) for k, v in rows.items() if k != "names"}
        if not rows["names"]:
            stack["image_pos"] = stack["image_pred"] = np.zeros((0, self.c, nbi), np.int32)
            stack["confusion"] = np.zeros((0, self.c, self.c + 1), np.int32)
        return ProbabilityIndex(self.steps, self.c, list(rows["names"]), self.pos_hist, self.pred_hist, self.factor,
                                **stack)


def build_index(dataset, steps: int = DEFAULT_STEPS, progress: Callable[[int, int], None] | None = None,
                on_error=None, strict: bool = False, cancelled: Callable[[], bool] | None = None,
                indices: list[int] | None = None, image_factor: int | None = None) -> ProbabilityIndex:
    """One streaming pass over the dataset (or the given image indices); image_factor fixes the per-image grid
    (parts of one dataset built apart must share it to merge)."""
    order = list(range(len(dataset))) if indices is None else indices
    builder = IndexBuilder(dataset.classes.num_classes, steps, len(order), image_factor)
    from .errors import LoadError
    for done, i in enumerate(order, 1):
        if cancelled is not None and cancelled():
            raise InterruptedError("index build cancelled")
        try:
            sample = dataset.load(i, with_image=False)
        except LoadError as exc:
            if strict:
                raise
            if on_error:
                on_error(exc)
            continue
        builder.add_sample(sample)
        del sample
        trim_heap_every(done - 1)
        if progress:
            progress(done, len(order))
    return builder.finish()
