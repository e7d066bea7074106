"""pandas tables for scripts and notebooks, from the engine's counts (pandas is imported only when asked)."""
from __future__ import annotations

import numpy as np

from .counts import Counts
from .scores import compute_scores
from .scoring import Scoring

SCORE_COLUMNS = ("class_id", "class_name", "tp", "fp", "fn", "precision", "recall", "fbeta", "dice", "iou")
IMAGE_COLUMNS = ("image", "mean_fbeta", "mean_iou", "fp", "fn", "status")


SLICE_COLUMNS = ("slice", "position_mm", *SCORE_COLUMNS)


def scores_frame(names, counts: Counts, scoring: Scoring, scores=None):
    """A row per class; absent classes (no GT, nothing predicted) have NaN scores. scores: other Scores of these
    classes to show (a per-case mean) beside the counts' totals."""
    import pandas as pd
    sc = compute_scores(counts, scoring.beta, scoring.smooth) if scores is None else scores
    return pd.DataFrame({
        "class_id": np.arange(len(names)), "class_name": list(names),
        "tp": counts.tp.numpy().astype(np.int64), "fp": counts.fp.numpy().astype(np.int64),
        "fn": counts.fn.numpy().astype(np.int64),
        **{k: getattr(sc, k).numpy() for k in ("precision", "recall", "fbeta", "dice", "iou")}},
        columns=list(SCORE_COLUMNS))


def dataset_frame(names, counts, scoring: Scoring, aggregation: str):
    """scores_frame of a DatasetCounts under an aggregation (volume_metrics.AGGREGATIONS): pooled from its total,
    or case_mean from every image's own counts."""
    from .volume_metrics import aggregate_scores
    if aggregation == "pooled":
        return scores_frame(names, counts.total, scoring)
    rows = counts.loaded_rows()[1]
    return scores_frame(names, counts.total, scoring, aggregate_scores(rows, aggregation, scoring.beta, scoring.smooth))


def slices_frame(names, counts: Counts, scoring: Scoring, spacing: float):
    """A row per slice and class of [S, C] counts: slice, position_mm (slice × spacing), then SCORE_COLUMNS."""
    import pandas as pd
    n_slices, c = counts.tp.shape
    sc = compute_scores(counts, scoring.beta, scoring.smooth)
    flat = lambda t: t.numpy().reshape(-1)  # noqa: E731
    slices = np.repeat(np.arange(n_slices), c)
    return pd.DataFrame({
        "slice": slices, "position_mm": slices * float(spacing), "class_id": np.tile(np.arange(c), n_slices),
        "class_name": list(names) * n_slices, **{k: flat(getattr(counts, k)).astype(np.int64) for k in ("tp", "fp", "fn")},
        **{k: flat(getattr(sc, k)) for k in ("precision", "recall", "fbeta", "dice", "iou")}}, columns=list(SLICE_COLUMNS))


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

