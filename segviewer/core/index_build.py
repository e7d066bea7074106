"""The index pass over a run of images: one image in memory at a time, its rows added to the index and its counts
at every grid threshold to a block of the count store (core.count_store_build lays blocks out on disk)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .count_store import CountsRow
from .counts import Counts, Target, confusion_matrix
from .errors import LoadError
from .index import DEFAULT_STEPS, ROW_FIELDS, ProbabilityIndex, counts_above, grid_values, hard_counts_from_confusion, image_pass
from .memory import trim_heap_every



class ArrayCounts:
    """Every image's counts at every grid step in memory ([I, C, N+1] each): the Evaluator's per-image index."""

    def __init__(self, tp_above: np.ndarray, pred_above: np.ndarray, gt_count: np.ndarray):
        self.tp_above, self.pred_above, self.gt_count = tp_above, pred_above, gt_count

    def counts(self, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, fp, fn) class-major [C, I], as the store reads them."""
        return self.row(ks).full()

    def row(self, ks: np.ndarray) -> CountsRow:
        k = np.broadcast_to(np.asarray(ks, np.int64), self.tp_above.shape[:-1])[..., None]
        tp, pred = (np.ascontiguousarray(np.take_along_axis(a, k, axis=-1)[..., 0].T) for a in (self.tp_above,
                                                                                               self.pred_above))
        return CountsRow(tp, pred, np.ascontiguousarray(self.gt_count.T))

    def image_counts(self, image: int, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        classes = np.arange(self.tp_above.shape[1])
        tp = self.tp_above[image, classes, ks].astype(np.int64)
        return tp, self.pred_above[image, classes, ks] - tp, self.gt_count[image] - tp

    def close(self) -> None:
        pass


@dataclass
class ImageStats:
    """What the index keeps of one image (or one slab of a volume): additive, so a case's slabs sum to its row."""
    pos: np.ndarray              # [C, N+2] int64
    pred: np.ndarray
    confusion: torch.Tensor      # [C, C+1] int64, argmax (or the mask)
    gt_count: torch.Tensor       # [C] int64
    soft: Counts                 # float64 (hard counts for masks)

    def __add__(self, other: ImageStats) -> ImageStats:
        return ImageStats(self.pos + other.pos, self.pred + other.pred, self.confusion + other.confusion,
                          self.gt_count + other.gt_count, self.soft + other.soft)


class IndexBuilder:
    """Accumulates one image at a time: the dataset's histograms and one row per image (a failed image's rows are
    zero). keep_image_counts: each image's counts at every grid step kept in memory too (ArrayCounts)."""

    def __init__(self, num_classes: int, steps: int = DEFAULT_STEPS, keep_image_counts: bool = False):
        from .budgets import check_index
        check_index(num_classes, steps, 1)   # histograms and confusion matrices within the memory budget
        self.steps, self.c = steps, num_classes
        self.grid = grid_values(steps)
        self.names: list[str] = []
        self.loaded: list[bool] = []
        self.rows: dict[str, list] = {k: [] for k in ROW_FIELDS}
        self.kept: list[tuple[np.ndarray, np.ndarray]] | None = [] if keep_image_counts else None
        self.pos_hist = np.zeros((num_classes, steps + 2), np.int64)
        self.pred_hist = np.zeros((num_classes, steps + 2), np.int64)

    def add(self, name: str, target: Target, probs: torch.Tensor | None = None, soft: Counts | None = None,
            pred_map: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One image: probabilities (logits datasets) or a hard prediction map (mask datasets). Returns the image's
        own [C, N+2] histograms (pos, pred)."""
        stats = self.image_stats(target, probs, soft, pred_map)
        self.add_stats(name, stats)
        return stats.pos, stats.pred

    def add_sample(self, sample) -> tuple[np.ndarray, np.ndarray]:
        """One dataset Sample; a volume's slabs add up to one row (one histogram per case), their torch work on
        one thread (volume_sample.one_thread)."""
        if not sample.is_volume:
            return self.add(sample.name, sample.target, sample.probs, sample.soft(), sample.pred_map)
        from .volume_sample import one_thread
        stats = None
        with one_thread():
            for part in sample.parts():
                one = self.image_stats(part.target, part.probs, part.soft(), part.pred_map)
                stats = one if stats is None else stats + one
        self.add_stats(sample.name, stats)
        return stats.pos, stats.pred

    def image_stats(self, target: Target, probs: torch.Tensor | None = None, soft: Counts | None = None,
                    pred_map: torch.Tensor | None = None) -> ImageStats:
        if probs is not None:
            pos, pred, pred_map, confusion = image_pass(probs, target, self.grid)
        else:
            pos = pred = np.zeros((self.c, self.steps + 2), np.int64)
            confusion = confusion_matrix(pred_map, target)
        confusion = confusion.cpu()
        soft = soft.to("cpu") if soft is not None else hard_counts_from_confusion(confusion)
        return ImageStats(pos, pred, confusion, target.gt_count.cpu(), soft)

    def add_stats(self, name: str, stats: ImageStats) -> None:
        self.pos_hist += stats.pos
        self.pred_hist += stats.pred
        hard = hard_counts_from_confusion(stats.confusion)   # one pass over the pixels for both
        self._row(name, True, stats.gt_count.numpy(), hard, stats.soft, stats.confusion.numpy())
        if self.kept is not None:
            self.kept.append(tuple(counts_above(h)[:, :self.steps + 1].astype(np.uint32) for h in (stats.pos,
                                                                                                   stats.pred)))

    def add_failed(self, name: str) -> None:
        zero = np.zeros(self.c, np.int64)
        self._row(name, False, zero, Counts(*(torch.from_numpy(zero),) * 3), Counts(*(torch.zeros(self.c),) * 3),
                  np.zeros((self.c, self.c + 1), np.int32))
        if self.kept is not None:
            self.kept.append((np.zeros((self.c, self.steps + 1), np.uint32),) * 2)

    def _row(self, name: str, loaded: bool, gt_count, hard: Counts, soft: Counts, confusion) -> None:
        self.names.append(name)
        self.loaded.append(loaded)
        for key, value in (("gt_count", gt_count), ("argmax_tp", hard.tp.cpu().numpy()),
                           ("argmax_fp", hard.fp.cpu().numpy()), ("argmax_fn", hard.fn.cpu().numpy()),
                           ("soft_tp", soft.tp.double().cpu().numpy()), ("soft_fp", soft.fp.double().cpu().numpy()),
                           ("soft_fn", soft.fn.double().cpu().numpy()), ("confusion", confusion.astype(np.int32))):
            self.rows[key].append(value)

    def finish(self) -> ProbabilityIndex:
        n, c = len(self.names), self.c
        stack = {k: np.stack(v).astype(np.float64 if k.startswith("soft") else np.int32 if k == "confusion"
                                       else np.int64) if v else
                 np.zeros((0, c, c + 1) if k == "confusion" else (0, c), np.int32 if k == "confusion" else
                          np.float64 if k.startswith("soft") else np.int64) for k, v in self.rows.items()}
        images = None
        if self.kept is not None:
            shape = (n, c, self.steps + 1)
            images = ArrayCounts(*(np.stack([k[i] for k in self.kept]) if n else np.zeros(shape, np.uint32)
                                   for i in (0, 1)), stack["gt_count"])
        return ProbabilityIndex(self.steps, c, list(self.names), np.array(self.loaded, bool), self.pos_hist,
                                self.pred_hist, images=images, **stack)


def index_images(dataset, steps: int, positions=None, counts=None, *, on_error=None,
                 strict: bool = False, progress: Callable[[int, int], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> ProbabilityIndex:
    """The index of the images at these dataset positions (all by default), in their order; with counts (a
    core.count_store_build.ChunkCounts), each image's counts at every grid step go there too."""
    order = range(len(dataset)) if positions is None else positions
    builder = IndexBuilder(dataset.classes.num_classes, steps)
    for j, i in enumerate(order):
        if cancelled is not None and cancelled():
            raise InterruptedError("index build cancelled")
        try:
            sample = dataset.load(i, with_image=False)
        except LoadError as exc:
            if strict:
                raise
            if on_error:
                on_error(exc)
            builder.add_failed(dataset.items[i].name)
        else:
            pos, pred = builder.add_sample(sample)
            if counts is not None:
                counts.fill(j, *(counts_above(h)[:, :steps + 1] for h in (pos, pred)))
            del sample
        trim_heap_every(j)
        if progress:
            progress(j + 1, len(order))
    return builder.finish()
