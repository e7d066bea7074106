"""CSV writers: per-class, per-image (tidy), all reading the same counts as the window."""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from .classes import ClassSpec
from .counts import Counts
from .csv_text import FORMULA_PREFIXES, fmt_number, safe_text, write_rows  # noqa: F401  (re-exported)
from .scores import Scores, compute_scores, nanmean
from .scoring import Mode, Scoring

PER_CLASS_COLUMNS = ("class_id", "class_name", "gt_pixels", "tp", "fp", "fn", "precision", "recall", "fbeta",
                     "dice", "iou", "soft_dice", "threshold", "beta")
PER_IMAGE_COLUMNS = ("image", "class_id", "class_name", "tp", "fp", "fn", "precision", "recall", "fbeta", "dice", "iou")


def threshold_cell(scoring: Scoring, class_id: int) -> str:
    """The threshold column: 'argmax' in argmax mode (and for hard masks), else the class's threshold."""
    if scoring.mode is Mode.ARGMAX:
        return "argmax"
    t = torch.as_tensor(scoring.effective_threshold(), dtype=torch.float64)
    return fmt_number(t if t.ndim == 0 else t[class_id])


def per_class_rows(classes: ClassSpec, counts: Counts, soft: Counts | None, scoring: Scoring) -> list[list[object]]:
    """One row per class in class-id order, then a summary row (empty class_id) of sums and present-class means."""
    scores = compute_scores(counts, scoring.beta, scoring.smooth, soft)
    gt_pixels = counts.tp + counts.fn
    rows = []
    for c, name in enumerate(classes.names):
        rows.append([c, safe_text(name), int(gt_pixels[c]), int(counts.tp[c]), int(counts.fp[c]), int(counts.fn[c]),
                     *(fmt_number(getattr(scores, s)[c]) for s in ("precision", "recall", "fbeta", "dice", "iou")),
                     fmt_number(scores.soft_dice[c]) if scores.soft_dice is not None else "",
                     threshold_cell(scoring, c), fmt_number(scoring.beta)])
    rows.append(summary_row(scores, counts, scoring))
    return rows


def summary_row(scores: Scores, counts: Counts, scoring: Scoring) -> list[object]:
    means = [fmt_number(nanmean(getattr(scores, s))) for s in ("precision", "recall", "fbeta", "dice", "iou")]
    soft = fmt_number(nanmean(scores.soft_dice)) if scores.soft_dice is not None else ""
    if scoring.mode is Mode.ARGMAX:
        threshold = "argmax"
    elif scoring.per_class:
        threshold = "per-class"
    else:
        threshold = fmt_number(torch.tensor(scoring.threshold, dtype=torch.float64))
    return ["", "mean (present classes)", int((counts.tp + counts.fn).sum()), int(counts.tp.sum()),
            int(counts.fp.sum()), int(counts.fn.sum()), *means, soft, threshold, fmt_number(scoring.beta)]


def per_image_rows(names: Sequence[str], classes: ClassSpec, counts: Counts,
                   scoring: Scoring) -> Iterable[list[object]]:
    """Tidy rows: one per (image, class); absent classes keep their zero counts and empty scores."""
    scores = compute_scores(counts, scoring.beta, scoring.smooth)
    for i, image in enumerate(names):
        for c, cname in enumerate(classes.names):
            yield [safe_text(image), c, safe_text(cname), int(counts.tp[i, c]), int(counts.fp[i, c]),
                   int(counts.fn[i, c]),
                   *(fmt_number(getattr(scores, s)[i, c]) for s in ("precision", "recall", "fbeta", "dice", "iou"))]


def write_per_class_csv(path, classes, counts, soft, scoring) -> None:
    write_rows(path, PER_CLASS_COLUMNS, per_class_rows(classes, counts, soft, scoring))


def write_per_image_csv(path, names, classes, counts, scoring) -> None:
    write_rows(path, PER_IMAGE_COLUMNS, per_image_rows(names, classes, counts, scoring))


# ---- boundary metrics columns (issue #12): appended by `export --boundary-metrics` ----
def boundary_cells(columns: dict, at) -> list[str]:
    """boundary_iou, hd95, nsd cells at one index of the columns (None: an image without metrics, empty cells)."""
    from .boundary_metrics import BOUNDARY_COLUMNS
    if at is None:
        return [""] * len(BOUNDARY_COLUMNS)
    return [fmt_number(columns[k][at]) for k in BOUNDARY_COLUMNS]


def write_per_class_csv_with_boundary(path, classes, counts, soft, scoring, boundary) -> None:
    """The per-class CSV with boundary_iou, hd95, nsd appended (dataset values of a DatasetBoundary); the summary
    row holds their means over the classes where defined."""
    from .boundary_metrics import BOUNDARY_COLUMNS, nanmean_rows
    columns = boundary.total().columns()
    rows = per_class_rows(classes, counts, soft, scoring)
    for c, row in enumerate(rows[:-1]):
        row += boundary_cells(columns, c)
    rows[-1] += [fmt_number(nanmean_rows(columns[k][:, None])[0]) for k in BOUNDARY_COLUMNS]
    write_rows(path, PER_CLASS_COLUMNS + BOUNDARY_COLUMNS, rows)


def write_per_image_csv_with_boundary(path, names, classes, counts, scoring, boundary) -> None:
    """The per-image CSV with each image's boundary_iou, hd95, nsd appended (matched by image name)."""
    from .boundary_metrics import BOUNDARY_COLUMNS
    columns = boundary.per_image.columns()
    c = classes.num_classes

    def rows():
        for k, row in enumerate(per_image_rows(names, classes, counts, scoring)):
            at = boundary.row_of(names[k // c])
            yield row + boundary_cells(columns, None if at is None else (at, k % c))
    write_rows(path, PER_IMAGE_COLUMNS + BOUNDARY_COLUMNS, rows())
