"""pandas tables for scripts and notebooks, from the engine's counts (pandas is imported only when asked)."""
from __future__ import annotations

import threading

import numpy as np

from .counts import Counts
from .scores import compute_scores
from .scoring import Scoring

SCORE_COLUMNS = ("class_id", "class_name", "tp", "fp", "fn", "precision", "recall", "fbeta", "dice", "iou")
IMAGE_COLUMNS = ("image", "mean_fbeta", "mean_iou", "fp", "fn", "status")


def scores_frame(names, counts: Counts, scoring: Scoring):
    """A row per class; absent classes (no GT, nothing predicted) have NaN scores."""
    import pandas as pd
    sc = compute_scores(counts, scoring.beta, scoring.smooth)
    return pd.DataFrame({
        "class_id": np.arange(len(names)), "class_name": list(names),
        "tp": counts.tp.numpy().astype(np.int64), "fp": counts.fp.numpy().astype(np.int64),
        "fn": counts.fn.numpy().astype(np.int64),
        **{k: getattr(sc, k).numpy() for k in ("precision", "recall", "fbeta", "dice", "iou")}},
        columns=list(SCORE_COLUMNS))


def image_list_values(counts, class_id: int, scoring: Scoring) -> dict:
    """Per image (dataset order) of a DatasetCounts: mean F-beta and IoU over present classes, the class's F-beta
    (ALL_CLASSES: the mean), FP and FN pixels (all classes: the sums of the per-class fp / fn the table shows).

    In numpy, in place: it runs on every slider step, at 100,000 images × 19 classes ~25 ms where core.scores'
    torch ops took ~200 ms (~600 ms on two threads of a busy 2-core machine). F-beta and IoU are core.scores'
    formulas operation for operation, so a class's value is the table's to the last bit; absent classes (no GT,
    nothing predicted) are left out of the means."""
    from .overlay import ALL_CLASSES
    pi = counts.per_image
    tp, fp, fn = (_class_major(t) for t in (pi.tp, pi.fp, pi.fn))      # [C, I]: the sums below run class by class
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
    num /= den
    failed = ~np.asarray(counts.loaded, bool)
    chosen = None if class_id == ALL_CLASSES else np.where(present[class_id] & ~failed, num[class_id], np.nan)
    mean_f = _mean_present(num, present, classes)
    np.add(tp, smooth, out=num)                # (tp + s) / (tp + fp + fn + s)
    np.add(union, smooth, out=den)
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
    found = getattr(_workspaces, "buffers", None)
    if found is None or found[0].shape != shape:
        found = _workspaces.buffers = (np.empty(shape, np.int64), np.empty(shape), np.empty(shape))
    return found


def _class_major(t) -> np.ndarray:
    """[C, I] contiguous int64 of [I, C] counts (a view when they are class-major already, as the store's are),
    so that every source of the same counts gives the same sums, to the last bit."""
    a = t.numpy().T
    return a if a.flags.c_contiguous and a.dtype == np.int64 else np.ascontiguousarray(a, dtype=np.int64)


def images_frame(names, rows: dict, reviews: dict[str, str]):
    import pandas as pd
    failed = rows["failed"]
    status = ["failed" if f else reviews.get(n, "unreviewed") for n, f in zip(names, failed)]
    return pd.DataFrame({"image": list(names), "mean_fbeta": rows["mean_fbeta"], "mean_iou": rows["mean_iou"],
                         "fp": rows["fp"].astype(np.int64), "fn": rows["fn"].astype(np.int64), "status": status},
                        columns=list(IMAGE_COLUMNS))


def confusion_frame(names, matrix: np.ndarray, with_none: bool):
    import pandas as pd
    columns = [*names, "none"]
    frame = pd.DataFrame(np.asarray(matrix, dtype=np.int64), index=list(names), columns=columns)
    frame.index.name, frame.columns.name = "gt", "predicted"
    return frame if with_none else frame.drop(columns="none")

