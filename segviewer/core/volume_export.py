"""CSV writers of a volume dataset: per class under both aggregations medical papers report, per case, per slice.

The per-class CSV names its aggregation in its first column: a block of rows per class for "case_mean" (each
case's scores, then per class the mean over the cases where it is present: nnU-Net's summary.json "mean") and one
for "pooled" (tp, fp, fn summed over the cases, then scored), each closed by its "mean (present classes)" row and
its "foreground mean" row (classes 1..C-1: nnU-Net's foreground_mean, which never scores the background). tp, fp,
fn and gt_voxels are sums over the cases in both blocks; `cases` counts the cases where the class is present.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

from .counts import Counts
from .csv_text import fmt_number, safe_text, write_rows
from .export import threshold_cell
from .scores import SCORE_NAMES, compute_scores, nanmean, soft_dice_score, absent_mask
from .scoring import Mode, Scoring
from .volume_metrics import AGGREGATIONS, aggregate_scores

VOLUME_PER_CLASS_COLUMNS = ("aggregation", "class_id", "class_name", "cases", "gt_voxels", "tp", "fp", "fn",
                            "precision", "recall", "fbeta", "dice", "iou", "soft_dice", "threshold", "beta")
PER_CASE_COLUMNS = ("case", "class_id", "class_name", "tp", "fp", "fn", "precision", "recall", "fbeta", "dice", "iou")
PER_SLICE_COLUMNS = ("case", "axis", "slice", "position_mm", "class_id", "class_name", "tp", "fp", "fn",
                     "precision", "recall", "fbeta", "dice", "iou")
MEAN_ROW, FOREGROUND_ROW = "mean (present classes)", "foreground mean"


def aggregated_soft_dice(counts: Counts, soft: Counts, aggregation: str, smooth: float) -> torch.Tensor:
    """[C] soft Dice: the mean over the cases where the class is present of each case's, or of the pooled terms."""
    if aggregation == "case_mean":
        return nanmean(soft_dice_score(soft, smooth, absent_mask(counts)).t())
    total = lambda c: Counts(c.tp.sum(0), c.fp.sum(0), c.fn.sum(0))  # noqa: E731
    return soft_dice_score(total(soft), smooth, absent_mask(total(counts)))


def volume_class_rows(classes, counts: Counts, soft: Counts, scoring: Scoring) -> list[list[object]]:
    """counts, soft: [cases, C] of the cases that loaded."""
    present = (~absent_mask(counts)).sum(0)
    tp, fp, fn = (getattr(counts, k).sum(0) for k in ("tp", "fp", "fn"))
    rows = []
    for aggregation in AGGREGATIONS:
        scores = aggregate_scores(counts, aggregation, scoring.beta, scoring.smooth)
        soft_dice = aggregated_soft_dice(counts, soft, aggregation, scoring.smooth)
        for c, name in enumerate(classes.names):
            rows.append([aggregation, c, safe_text(name), int(present[c]), int(tp[c] + fn[c]), int(tp[c]),
                         int(fp[c]), int(fn[c]), *(fmt_number(getattr(scores, s)[c]) for s in SCORE_NAMES),
                         fmt_number(soft_dice[c]), threshold_cell(scoring, c), fmt_number(scoring.beta)])
        for label, keep in ((MEAN_ROW, slice(None)), (FOREGROUND_ROW, slice(1, None))):
            means = [fmt_number(nanmean(getattr(scores, s)[keep])) for s in SCORE_NAMES]
            rows.append([aggregation, "", label, "", int((tp + fn)[keep].sum()), int(tp[keep].sum()),
                         int(fp[keep].sum()), int(fn[keep].sum()), *means, fmt_number(nanmean(soft_dice[keep])),
                         _threshold_summary(scoring), fmt_number(scoring.beta)])
    return rows


def _threshold_summary(scoring: Scoring) -> str:
    if scoring.mode is Mode.ARGMAX:
        return "argmax"
    return "per-class" if scoring.per_class else fmt_number(torch.tensor(scoring.threshold, dtype=torch.float64))


def per_case_rows(names: Sequence[str], classes, counts: Counts, scoring: Scoring) -> Iterable[list[object]]:
    scores = compute_scores(counts, scoring.beta, scoring.smooth)
    for i, case in enumerate(names):
        for c, cname in enumerate(classes.names):
            yield [safe_text(case), c, safe_text(cname), *(int(getattr(counts, k)[i, c]) for k in ("tp", "fp", "fn")),
                   *(fmt_number(getattr(scores, s)[i, c]) for s in SCORE_NAMES)]


def per_slice_rows(names: Sequence[str], per_slice: Sequence[Counts], spacings: Sequence[float], axis: str, classes,
                   scoring: Scoring) -> Iterable[list[object]]:
    """A row per case, slice and class; spacings[i]: the case's spacing across the axis (mm)."""
    for case, counts, spacing in zip(names, per_slice, spacings):
        scores = compute_scores(counts, scoring.beta, scoring.smooth)
        for s in range(counts.tp.shape[0]):
            position = fmt_number(torch.tensor(s * float(spacing), dtype=torch.float64))
            for c, cname in enumerate(classes.names):
                yield [safe_text(case), axis, s, position, c, safe_text(cname),
                       *(int(getattr(counts, k)[s, c]) for k in ("tp", "fp", "fn")),
                       *(fmt_number(getattr(scores, k)[s, c]) for k in SCORE_NAMES)]


def write_volume_class_csv(path, classes, counts: Counts, soft: Counts, scoring: Scoring, boundary=None) -> None:
    """boundary: a DatasetBoundary whose boundary_iou, hd95, nsd are appended (see boundary_cells_by_block)."""
    rows = volume_class_rows(classes, counts, soft, scoring)
    columns = VOLUME_PER_CLASS_COLUMNS
    if boundary is not None:
        from .boundary_metrics import BOUNDARY_COLUMNS
        rows = [row + cells for row, cells in zip(rows, boundary_cells_by_block(boundary, classes.num_classes))]
        columns += BOUNDARY_COLUMNS
    write_rows(path, columns, rows)


def boundary_cells_by_block(boundary, num_classes: int) -> list[list[str]]:
    """Per row of volume_class_rows: Boundary IoU as the mean of the cases' (case_mean) or from the summed terms
    (pooled); HD95 (mm) and NSD the mean over the cases where defined in both; the summary rows their means."""
    from .boundary_metrics import BOUNDARY_COLUMNS, nanmean_rows
    per = boundary.per_image
    means = {"boundary_iou": nanmean_rows(per.boundary_iou), "hd95": nanmean_rows(per.hd95),
             "nsd": nanmean_rows(per.nsd)}
    blocks = {"case_mean": means, "pooled": {**means, "boundary_iou": boundary.total().boundary_iou}}
    out = []
    for aggregation in AGGREGATIONS:
        columns = blocks[aggregation]
        out += [[fmt_number(columns[k][c]) for k in BOUNDARY_COLUMNS] for c in range(num_classes)]
        for keep in (slice(None), slice(1, None)):
            out.append([fmt_number(nanmean_rows(np.asarray(columns[k][keep], np.float64)[:, None])[0])
                        for k in BOUNDARY_COLUMNS])
    return out


def write_per_case_csv(path, names, classes, counts: Counts, scoring: Scoring, boundary=None) -> None:
    rows = per_case_rows(names, classes, counts, scoring)
    columns = PER_CASE_COLUMNS
    if boundary is not None:
        from .boundary_metrics import BOUNDARY_COLUMNS
        from .export import boundary_cells
        table, c = boundary.per_image.columns(), classes.num_classes

        def with_cells(rows):
            for k, row in enumerate(rows):
                at = boundary.row_of(names[k // c])
                yield row + boundary_cells(table, None if at is None else (at, k % c))
        rows, columns = with_cells(rows), columns + BOUNDARY_COLUMNS
    write_rows(path, columns, rows)


def write_per_slice_csv(path, names, per_slice, spacings, axis: str, classes, scoring: Scoring) -> None:
    write_rows(path, PER_SLICE_COLUMNS, per_slice_rows(names, per_slice, spacings, axis, classes, scoring))
