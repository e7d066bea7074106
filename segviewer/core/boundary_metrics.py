"""Boundary metrics per class (issue #12): Boundary IoU, HD95 and NSD, for one image or volume and over a dataset.

- Boundary IoU (Cheng et al., CVPR 2021): the boundary of a mask M is M minus M eroded `width` times by a 3×3
  square (a 3×3×3 cube in 3-D), the border counting as background (the reference pads with zeros); per class
  |B(G) ∩ B(P)| / |B(G) ∪ B(P)|, and over a dataset the intersections and unions are summed. Default width:
  round(0.02 × diagonal), at least 1, as the reference's dilation_ratio=0.02; with a voxel spacing the diagonal is
  in mm and the width is turned into voxels per axis (at least 1 on each).
- HD95 and NSD with the semantics of MONAI's `compute_hausdorff_distance(percentile=95, spacing=)` and
  `compute_surface_dice(class_thresholds=[tolerance] * C, spacing=)` (include_background=True): edges are a mask
  minus its erosion by the cross of face neighbours (zero border), distances are Euclidean between edge pixels
  (float32, as MONAI's), in pixels, or in mm when a spacing is given; HD95 = max over both directions of the
  linearly interpolated 95th percentile, NSD = the share of edge pixels of both masks within `tolerance` of the
  other's edge. As MONAI gives: NaN for both where the class is in neither mask; HD95 NaN and NSD 0 where it is in
  only one. Dataset values: the mean over images where defined.

Ignore pixels belong to no class in either mask (as MONAI's ignore_index masks both), and pixels where a
threshold predicts nothing belong to no predicted class. All classes are done in one pass over the label maps:
a pixel is on its class's boundary when a pixel of another label (or the border) lies within the width. Every
pure function takes 2-D images and 3-D volumes alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import ndimage

DEFAULT_TOLERANCE = 2.0
BOUNDARY_RATIO = 0.02
OUTSIDE = -1            # ignore pixels, no prediction, and beyond the image border
PERCENTILE = 95


@dataclass
class BoundaryMetrics:
    """Per class ([C] for one image, [I, C] per image over a dataset)."""
    intersection: np.ndarray     # int64 |B(G) ∩ B(P)|
    union: np.ndarray            # int64 |B(G) ∪ B(P)|
    hd95: np.ndarray             # float64 px
    nsd: np.ndarray              # float64 in [0, 1]

    @property
    def boundary_iou(self) -> np.ndarray:
        """NaN where neither mask has the class (empty union)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.union > 0, self.intersection / np.maximum(self.union, 1), np.nan)

    def columns(self) -> dict[str, np.ndarray]:
        return {"boundary_iou": self.boundary_iou, "hd95": self.hd95, "nsd": self.nsd}


def default_width(shape: tuple[int, ...]) -> int:
    """The reference's dilation: round(0.02 × diagonal), at least 1."""
    return max(1, int(round(BOUNDARY_RATIO * math.hypot(*shape))))


def default_width_mm(shape: tuple[int, ...], spacing: Sequence[float]) -> float:
    """The reference's dilation ratio on a volume's diagonal in mm (not rounded: it becomes voxels per axis)."""
    return BOUNDARY_RATIO * math.hypot(*(n * float(s) for n, s in zip(shape, spacing)))


def width_in_voxels(width_mm: float, spacing: Sequence[float]) -> tuple[int, ...]:
    """A width in mm as voxels along each axis, at least 1 on each (else a surface facing that axis had none)."""
    return tuple(max(1, int(round(width_mm / float(s)))) for s in spacing)


def class_maps(labels: np.ndarray, valid: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GT and predicted class per pixel as int32, OUTSIDE at ignore pixels (both) and where nothing is predicted."""
    gt = np.where(valid, labels, OUTSIDE).astype(np.int32)
    pr = np.where(valid & (pred >= 0), pred, OUTSIDE).astype(np.int32)
    return gt, pr


def boundary_pixels(classes: np.ndarray, width: int | Sequence[int]) -> np.ndarray:
    """B(M_c) of every class c at once: pixels of a class with another label or the border within `width` px
    (chessboard; one width per axis allowed), i.e. not in the class mask eroded `width` times by the 3×3 square
    (3×3×3 cube) with zero padding."""
    # a window past the image's longest side always reaches the border: a huge width is that width, same result
    size = 2 * np.minimum(np.asarray(width), max(classes.shape)) + 1
    low = ndimage.minimum_filter(classes, size=size, mode="constant", cval=OUTSIDE)
    high = ndimage.maximum_filter(classes, size=size, mode="constant", cval=OUTSIDE)
    return (classes != OUTSIDE) & (low != high)


def edge_pixels(classes: np.ndarray) -> np.ndarray:
    """MONAI's edges of every class at once: pixels of a class with a face neighbour (4 in 2-D, 6 in 3-D) of
    another label or the border."""
    padded = np.pad(classes, 1, constant_values=OUTSIDE)
    inner = (slice(1, -1),) * classes.ndim
    centre = padded[inner]
    differs = np.zeros(classes.shape, bool)
    for axis in range(classes.ndim):
        for shifted in (slice(None, -2), slice(2, None)):
            differs |= padded[inner[:axis] + (shifted,) + inner[axis + 1:]] != centre
    return differs & (centre != OUTSIDE)


def boundary_iou_counts(gt: np.ndarray, pred: np.ndarray, num_classes: int,
                        width: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """[C] intersections and unions of the class boundaries of two class maps."""
    in_gt, in_pred = boundary_pixels(gt, width), boundary_pixels(pred, width)
    gt_size = np.bincount(gt[in_gt], minlength=num_classes)[:num_classes]
    pred_size = np.bincount(pred[in_pred], minlength=num_classes)[:num_classes]
    both = in_gt & in_pred & (gt == pred)
    intersection = np.bincount(gt[both], minlength=num_classes)[:num_classes]
    return intersection.astype(np.int64), (gt_size + pred_size - intersection).astype(np.int64)


def edge_points_by_class(classes: np.ndarray, num_classes: int,
                         spacing: Sequence[float] | None = None) -> list[np.ndarray]:
    """Per class, the coordinates of its edge pixels as float64 [N, ndim]: indices, or mm with a spacing."""
    where = np.nonzero(edge_pixels(classes))
    owner = classes[where]
    order = np.argsort(owner, kind="stable")
    points = np.stack([axis[order] for axis in where], axis=1).astype(np.float64)
    if spacing is not None:
        points *= np.asarray(spacing, np.float64)
    bounds = np.searchsorted(owner[order], np.arange(num_classes + 1))
    return [points[bounds[c]:bounds[c + 1]] for c in range(num_classes)]


def surface_scores(gt_points: np.ndarray, pred_points: np.ndarray, tolerance: float) -> tuple[float, float]:
    """(HD95, NSD) of one class from its edge points, with MONAI's values for empty masks."""
    if len(gt_points) == 0 and len(pred_points) == 0:
        return math.nan, math.nan
    if len(gt_points) == 0 or len(pred_points) == 0:
        return math.nan, 0.0       # MONAI: the percentile of infinite distances is NaN; no edge pixel is close
    from scipy.spatial import KDTree    # here, not at import: scipy.spatial costs the window's start-up ~0.2 s
    pred_to_gt = KDTree(gt_points, leafsize=32).query(pred_points, k=1)[0].astype(np.float32)
    gt_to_pred = KDTree(pred_points, leafsize=32).query(gt_points, k=1)[0].astype(np.float32)
    hd = max(np.quantile(pred_to_gt, PERCENTILE / 100), np.quantile(gt_to_pred, PERCENTILE / 100))
    close = np.count_nonzero(pred_to_gt <= tolerance) + np.count_nonzero(gt_to_pred <= tolerance)
    return float(hd), close / (len(pred_to_gt) + len(gt_to_pred))


def image_boundary_metrics(labels: np.ndarray, valid: np.ndarray, pred: np.ndarray, num_classes: int,
                           width: int | Sequence[int] | None = None, tolerance: float = DEFAULT_TOLERANCE,
                           spacing: Sequence[float] | None = None) -> BoundaryMetrics:
    """All three metrics of every class for one image (H×W) or volume (z×y×x).

    labels: GT class ids (any value at invalid pixels); valid: bool (False at ignore pixels); pred: predicted
    class ids, negative where nothing is predicted. width: pixels (one, or one per axis); None: the reference's
    default. spacing: the size of a pixel along each axis (mm): HD95 and the NSD tolerance are then in mm."""
    gt, pr = class_maps(np.asarray(labels), np.asarray(valid, bool), np.asarray(pred))
    if width is None:
        width = default_width(gt.shape) if spacing is None else width_in_voxels(default_width_mm(gt.shape, spacing),
                                                                                spacing)
    intersection, union = boundary_iou_counts(gt, pr, num_classes, width)
    gt_points = edge_points_by_class(gt, num_classes, spacing)
    pred_points = edge_points_by_class(pr, num_classes, spacing)
    hd95, nsd = np.full(num_classes, np.nan), np.full(num_classes, np.nan)
    for c in range(num_classes):
        hd95[c], nsd[c] = surface_scores(gt_points[c], pred_points[c], tolerance)
    return BoundaryMetrics(intersection, union, hd95, nsd)


def sample_boundary_metrics(sample, num_classes: int, scoring=None, width: float | None = None,
                            tolerance: float = DEFAULT_TOLERANCE, prediction=None) -> BoundaryMetrics:
    """The metrics of one dataset Sample for its prediction at the Scoring's mode (or the given prediction map).
    A volume's are in mm with its voxel spacing (width and tolerance in mm; width None: 2 % of its diagonal)."""
    if prediction is None:
        prediction = sample.prediction_map(scoring)
    if sample.is_volume:
        from .volume_metrics import case_boundary_metrics
        return case_boundary_metrics(sample.labels, sample.labels != sample.ignore_index, prediction.cpu().numpy(),
                                     num_classes, sample.spacing, width, tolerance)
    target = sample.target
    return image_boundary_metrics(target.labels.cpu().numpy(), target.valid.cpu().numpy(),
                                  prediction.cpu().numpy(), num_classes, width, tolerance)


def nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Column means over the rows where defined (NaN where no row is), without a warning."""
    defined = ~np.isnan(values)
    total = np.where(defined, values, 0.0).sum(0)
    count = defined.sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass
class DatasetBoundary:
    """Per-image metrics [I, C] of the images that loaded (in `names` order)."""
    names: list[str]
    per_image: BoundaryMetrics

    def total(self) -> BoundaryMetrics:
        """Summed Boundary IoU terms; HD95 and NSD averaged over the images where defined."""
        p = self.per_image
        return BoundaryMetrics(p.intersection.sum(0), p.union.sum(0), nanmean_rows(p.hd95), nanmean_rows(p.nsd))

    def row_of(self, name: str) -> int | None:
        if not hasattr(self, "_rows"):
            self._rows = {n: r for r, n in enumerate(self.names)}
        return self._rows.get(name)


def stack_metrics(rows: list[BoundaryMetrics], num_classes: int) -> BoundaryMetrics:
    if not rows:
        empty_int, empty = np.zeros((0, num_classes), np.int64), np.zeros((0, num_classes))
        return BoundaryMetrics(empty_int, empty_int.copy(), empty, empty.copy())
    return BoundaryMetrics(*(np.stack([getattr(r, k) for r in rows]) for k in ("intersection", "union", "hd95", "nsd")))


def dataset_boundary_metrics(dataset, scoring, width: int | None = None, tolerance: float = DEFAULT_TOLERANCE,
                             on_error=None, strict: bool = False, progress: Callable[[int, int], None] | None = None,
                             cancelled: Callable[[], bool] | None = None) -> DatasetBoundary:
    """One streaming pass (one image in memory at a time); a bad file goes to on_error and is skipped unless
    strict. The chunk function of core.passes.boundary_pass."""
    c = dataset.classes.num_classes
    names, rows = [], []
    for index, sample in dataset.iter_samples(on_error=on_error, strict=strict):
        if cancelled is not None and cancelled():
            raise InterruptedError("cancelled")
        names.append(sample.name)
        rows.append(sample_boundary_metrics(sample, c, scoring, width, tolerance))
        if progress:
            progress(index + 1, len(dataset))
    return DatasetBoundary(names, stack_metrics(rows, c))


BOUNDARY_COLUMNS = ("boundary_iou", "hd95", "nsd")


def boundary_frame(class_names, metrics: BoundaryMetrics):
    """A row per class: class_id, class_name, boundary_iou, hd95, nsd (pandas imported here only)."""
    import pandas as pd
    return pd.DataFrame({"class_id": np.arange(len(class_names)), "class_name": list(class_names),
                         **metrics.columns()}, columns=["class_id", "class_name", *BOUNDARY_COLUMNS])
