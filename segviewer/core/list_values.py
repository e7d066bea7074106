"""The image list's columns: every image's mean F-beta and IoU over its present classes, a class's F-beta, FP and
FN pixels, from a DatasetCounts; all at once (the API's images(), a sort) or for the rows on screen only."""
from __future__ import annotations

import threading

import numpy as np

from .scoring import Scoring

LIST_KEYS = ("mean_fbeta", "class_fbeta", "mean_iou", "fp", "fn", "failed", "gt_present", "pred_present")
BLOCK = 256                    # rows computed together when the screen asks for one it has not got


class ImageListValues:
    """The list's columns for one DatasetCounts, class and Scoring, computed when asked: `values[key]` every image
    at once (kept), `rows(images)` only those (what a repaint needs), `present(key, class_id)` one class's presence
    for a filter. Every value is image_list_values' own, whichever way it is asked for."""

    def __init__(self, counts, class_id: int, scoring: Scoring):
        from . import validate
        self.counts, self.scoring = counts, scoring
        self.class_id = validate.class_id(class_id, counts.per_image.tp.shape[1])
        self._all: dict | None = None
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> np.ndarray:
        with self._lock:
            if self._all is None:
                self._all = image_list_values(self.counts, self.class_id, self.scoring)
            return self._all[key]

    def keys(self):
        return LIST_KEYS

    def rows(self, images: np.ndarray) -> dict:
        """The columns of these dataset positions only."""
        if self._all is not None:
            return {k: v[images] for k, v in self._all.items()}
        return image_list_values(self.counts, self.class_id, self.scoring, np.asarray(images, np.int64))

    def present(self, key: str, class_id: int) -> np.ndarray:
        """[I] 'gt_present' (GT pixels of the class) or 'pred_present' (pixels predicted as it), for a filter."""
        pi = self.counts.per_image
        if hasattr(pi, "of_class"):
            tp, fp, fn = pi.of_class(class_id)
        else:
            tp, fp, fn = (_class_major(t)[class_id] for t in (pi.tp, pi.fp, pi.fn))
        return (tp + (fn if key == "gt_present" else fp)) > 0


def image_list_values(counts, class_id: int, scoring: Scoring, images: np.ndarray | None = None) -> dict:
    """Per image (dataset order) of a DatasetCounts: mean F-beta and IoU over present classes, the class's F-beta
    (ALL_CLASSES: the mean), FP and FN pixels (all classes: the sums of the per-class fp / fn the table shows).
    images: only these dataset positions (in their order), each with the very values it has among all.

    In numpy, in place: it runs on every slider step, at 100,000 images × 19 classes ~25 ms where core.scores'
    torch ops took ~200 ms (~600 ms on two threads of a busy 2-core machine). F-beta and IoU are core.scores'
    formulas operation for operation, so a class's value is the table's to the last bit; absent classes (no GT,
    nothing predicted) are left out of the means."""
    from . import validate
    from .overlay import ALL_CLASSES
    pi = counts.per_image
    class_id = validate.class_id(class_id, pi.tp.shape[1])
    loaded = np.asarray(counts.loaded, bool)
    if images is not None and hasattr(pi, "subset"):      # the store's row: only these images' counts are made
        (tp, fp, fn), loaded = pi.subset(images), loaded[images]
    else:
        tp, fp, fn = (_class_major(t) for t in (pi.tp, pi.fp, pi.fn))      # [C, I]: the sums run class by class
        if images is not None:
            tp, fp, fn, loaded = tp[:, images], fp[:, images], fn[:, images], loaded[images]
    b2, smooth = float(scoring.beta) ** 2, float(scoring.smooth)
    union, num, den = _workspace(tp.shape)
    np.add(tp, fp, out=union)
    pred_present = union > 0
    union += fn
    present = union > 0
    classes = np.count_nonzero(present, axis=0)
    np.multiply(tp, 1 + b2, out=num)           # ((1+β²)tp + s) / ((1+β²)tp + β²fn + fp + s)
    np.multiply(fn, b2, out=den)
    den += num
    den += fp
    den += smooth
    num += smooth
    # without smoothing an absent class is 0 / 0 = NaN, which the means' multiplication by 0 would keep: 0 / 1
    absent = ~present if smooth == 0 else False
    den += absent
    num /= den
    failed = ~loaded
    chosen = None if class_id == ALL_CLASSES else np.where(present[class_id] & ~failed, num[class_id], np.nan)
    mean_f = _mean_present(num, present, classes)
    np.add(tp, smooth, out=num)                # (tp + s) / (tp + fp + fn + s)
    np.add(union, smooth, out=den)
    den += absent
    num /= den
    mean_iou = _mean_present(num, present, classes)
    mean_f[failed], mean_iou[failed] = np.nan, np.nan
    if chosen is None:
        fp_shown, fn_shown, chosen = fp.sum(0), fn.sum(0), mean_f
    else:
        fp_shown, fn_shown = fp[class_id].copy(), fn[class_id].copy()
    return {"mean_fbeta": mean_f, "class_fbeta": chosen, "mean_iou": mean_iou, "fp": fp_shown, "fn": fn_shown,
            "failed": failed, "gt_present": ((tp > 0) | (fn > 0)).T, "pred_present": pred_present.T}


def _mean_present(values: np.ndarray, present: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """[I] mean over the present classes of [C, I] values (NaN where none is), summed class by class."""
    values *= present
    with np.errstate(invalid="ignore", divide="ignore"):   # no class present: 0 / 0 is NaN, as in core.scores
        return np.add.reduce(values, axis=0) / classes


_workspaces = threading.local()


def _workspace(shape: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three [C, I] buffers (int64, float64, float64) kept per thread: fresh 15 MB arrays on every step cost more
    in page faults than the arithmetic (glibc maps and unmaps arrays this large each time)."""
    if shape[0] * shape[1] < 2**16:             # a few rows on screen: small, fresh
        return np.empty(shape, np.int64), np.empty(shape), np.empty(shape)
    found = getattr(_workspaces, "buffers", None)
    if found is None or found[0].shape != shape:
        found = _workspaces.buffers = (np.empty(shape, np.int64), np.empty(shape), np.empty(shape))
    return found


def _class_major(t) -> np.ndarray:
    """[C, I] contiguous int64 of [I, C] counts (a view when they are class-major already, as the store's are),
    so that every source of the same counts gives the same sums, to the last bit."""
    a = t.numpy().T
    return a if a.flags.c_contiguous and a.dtype == np.int64 else np.ascontiguousarray(a, dtype=np.int64)
