"""One function per pass over a dataset: counts, index, calibration, label scan, boundary metrics, compare.

Each takes (dataset, scoring, cluster=None) plus its own parameters, and runs here or, given a cluster (a
core.distributed.Cluster or a dask Client), as chunks of consecutive images on its workers: the same chunk
function either way, the chunks merged in dataset order, so the results are identical to one process's. Every
face (the engine, hence the window, the API and every command) runs its passes through these functions.

The keywords every pass shares: on_error(LoadError) hears each file that failed (the image is skipped),
strict=True raises the first one instead, progress(done, total) and cancelled() as the window uses them.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from .counts import Counts, DatasetCounts
from .errors import LoadError, all_failed
from .memory import trim_heap_every
from .scoring import Scoring

Progress = Callable[[int, int], None]


def _run(dataset, chunk_function, args, cluster, on_error, strict, progress, cancelled) -> list:
    """chunk_function over the whole dataset here, or over chunks of it on the cluster: its results in order."""
    if cluster is None:
        return [chunk_function(dataset, *(args(range(len(dataset))) if callable(args) else args), on_error=on_error,
                               strict=strict, progress=progress, cancelled=cancelled)]
    from .distributed import run_chunks
    return [result for _, result in run_chunks(cluster, chunk_function, dataset, args, on_error, progress, cancelled,
                                               strict)]


def _collecting(on_error) -> tuple[list[LoadError], Callable[[LoadError], None]]:
    failures: list[LoadError] = []

    def report(exc: LoadError) -> None:
        failures.append(exc)
        if on_error is not None:
            on_error(exc)
    return failures, report


# ---- counts ----
def counts_pass(dataset, scoring: Scoring, cluster=None, *, with_confusion: bool = False,
                slice_axis: int | None = None, on_error=None, strict: bool = False, progress: Progress | None = None,
                cancelled: Callable[[], bool] | None = None) -> DatasetCounts:
    """Every image's tp / fp / fn and soft counts at the Scoring (its band too), in dataset order. slice_axis (a
    volume dataset; 0 axial, 1 coronal, 2 sagittal, named per case from its orientation): every case's counts per
    slice of that plane too, by the slice's index in the case's array (DatasetCounts.per_slice)."""
    from .budgets import check_counts
    check_counts(dataset.classes.num_classes, len(dataset), with_confusion)   # before a row is allocated
    scoring = scoring.for_dataset(dataset.is_hard)
    failures, report = _collecting(on_error)
    parts = _run(dataset, count_images, (scoring, with_confusion, slice_axis), cluster, report, strict, progress,
                 cancelled)
    merged = _merge_counts(parts, scoring)
    if not merged.loaded.any():
        raise all_failed(dataset.options.gt_dir, failures)
    return merged


def count_images(dataset, scoring: Scoring, with_confusion: bool, slice_axis: int | None = None, *, on_error=None,
                 strict: bool = False, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> DatasetCounts:
    """The counts pass over one chunk: one image in memory at a time; failed images keep zero rows."""
    from .dataset import restrict_to_band
    n, c = len(dataset), dataset.classes.num_classes
    rows = {k: np.zeros((n, c), np.int64) for k in ("tp", "fp", "fn")}
    soft = {k: np.zeros((n, c), np.float64) for k in ("tp", "fp", "fn")}
    confusion = np.zeros((n, c, c + 1), np.int32) if with_confusion else None
    loaded = np.zeros(n, bool)
    per_slice = [None] * n if slice_axis is not None else None
    for i, sample in dataset.iter_samples(on_error=on_error, strict=strict):
        if cancelled is not None and cancelled():
            raise InterruptedError("cancelled")
        if scoring.boundary:
            restrict_to_band(sample, scoring.boundary, dataset.classes.ignore_index, scoring.interior)
        if per_slice is not None:      # the slices sum to the case: one count for both
            per_slice[i] = sample.slice_counts(scoring, sample.orientation.axis(slice_axis))
            counts = Counts(*(getattr(per_slice[i], k).sum(0) for k in ("tp", "fp", "fn")))
        else:
            counts = sample.counts(scoring)
        for table, counts in ((rows, counts), (soft, sample.soft())):
            for k in ("tp", "fp", "fn"):
                table[k][i] = getattr(counts, k).cpu().numpy()
        if with_confusion:
            confusion[i] = sample.confusion(scoring).cpu().numpy()
        loaded[i] = True
        if progress:
            progress(i + 1, n)
        trim_heap_every(i)
    as_counts = lambda t: Counts(*(torch.from_numpy(t[k]) for k in ("tp", "fp", "fn")))  # noqa: E731
    return DatasetCounts(list(dataset.names), as_counts(rows), as_counts(soft), loaded,
                         confusion_per_image=confusion, per_slice=per_slice)


def _merge_counts(parts: list[DatasetCounts], scoring: Scoring) -> DatasetCounts:
    if len(parts) == 1:
        parts[0].key = scoring.count_key()
        return parts[0]
    cat = lambda name: Counts(*(torch.cat([getattr(getattr(p, name), k) for p in parts])  # noqa: E731
                                for k in ("tp", "fp", "fn")))
    confusion = None if parts[0].confusion_per_image is None else np.concatenate(
        [p.confusion_per_image for p in parts])
    per_slice = None if parts[0].per_slice is None else [s for p in parts for s in p.per_slice]
    return DatasetCounts([n for p in parts for n in p.names], cat("per_image"), cat("soft_per_image"),
                         np.concatenate([p.loaded for p in parts]), scoring.count_key(), confusion_per_image=confusion,
                         per_slice=per_slice)


# ---- the probability index ----
def index_pass(dataset, scoring: Scoring | None = None, cluster=None, *, steps: int | None = None, on_error=None,
               strict: bool = False, progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
               path=None, key: str | None = None):
    """The probability index (histograms per class and grid threshold, a row per image) and every image's counts
    at every grid threshold, written as files at path (default: the dataset's index cache) chunk by chunk: an
    interrupted build resumes with its finished chunks. Independent of the Scoring; the index comes back with
    its count store open."""
    from .index import DEFAULT_STEPS
    from .index_files import build
    from .budgets import check_index
    steps = steps or DEFAULT_STEPS
    # memory before disk: a refusal should name the option that lowers it, not the free space of this machine;
    # with a cluster this process holds every image's rows once merged
    check_index(dataset.classes.num_classes, steps, len(dataset) if cluster is not None else 1)
    if path is None:
        from .index_cache import cache_path
        path, key = cache_path(dataset, steps)
    return build(dataset, steps, key, path, cluster, on_error=on_error, strict=strict, progress=progress,
                 cancelled=cancelled)


# ---- calibration ----
def calibration_pass(dataset, scoring: Scoring | None = None, cluster=None, *, bins: int, on_error=None,
                     strict: bool = False, progress: Progress | None = None,
                     cancelled: Callable[[], bool] | None = None):
    """Per class and top label: pixels, probability sums and positives per confidence bin (independent of the
    Scoring). Every image's statistics are added to the total one at a time in dataset order, here and from a
    cluster alike, so even the float64 probability sums are the same to the last bit."""
    from .calibration import CalibrationStats, check_bins, dataset_calibration, require_confidence
    require_confidence(dataset)
    bins = check_bins(bins)
    if cluster is None:
        return dataset_calibration(dataset, bins, progress, on_error, strict, cancelled)
    total = CalibrationStats.empty(dataset.classes.num_classes, bins)
    for images in _run(dataset, calibrate_images, (bins,), cluster, on_error, strict, progress, cancelled):
        for stats in images:
            total = total + stats
    return total


def calibrate_images(dataset, bins: int, *, on_error=None, strict: bool = False, progress=None,
                     cancelled=None) -> list:
    """A chunk's statistics, one per image that loaded (the client adds them in order)."""
    from .calibration import sample_calibration
    out = []
    for i, sample in dataset.iter_samples(on_error=on_error, strict=strict):
        if cancelled is not None and cancelled():
            raise InterruptedError("cancelled")
        out.append(sample_calibration(sample, bins))
        if progress:
            progress(i + 1, len(dataset))
    return out


# ---- likely label errors ----
def label_scan_pass(dataset, scoring: Scoring | None = None, cluster=None, *, temperature: float,
                    min_confidence: float, with_regions: bool = False, on_error=None, strict: bool = False,
                    progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> Iterator:
    """Each image's label score and suspect pixels (and regions) in dataset order (independent of the Scoring).
    Here one image is in memory at a time; from a cluster, the chunks as they are merged."""
    from .label_issues import check_settings, require_probabilities, scan_label_issues
    temperature, min_confidence = check_settings(temperature, min_confidence)
    require_probabilities(dataset)
    if cluster is None:
        yield from scan_label_issues(dataset, temperature, min_confidence, with_regions, on_error, strict, progress,
                                     cancelled)
        return
    positions = {item.name: i for i, item in enumerate(dataset.items)}
    for issues in _run(dataset, scan_images, (temperature, min_confidence, with_regions), cluster, on_error, strict,
                       progress, cancelled):
        for issue in issues:
            issue.index = positions[issue.name]     # a chunk numbers its images from 0
            yield issue


def scan_images(dataset, temperature: float, min_confidence: float, with_regions: bool, *, on_error=None,
                strict: bool = False, progress=None, cancelled=None) -> list:
    from .label_issues import scan_label_issues
    return list(scan_label_issues(dataset, temperature, min_confidence, with_regions, on_error, strict, progress,
                                  cancelled))


# ---- boundary metrics ----
def boundary_pass(dataset, scoring: Scoring, cluster=None, *, width: int | None = None, tolerance: float,
                  on_error=None, strict: bool = False, progress: Progress | None = None,
                  cancelled: Callable[[], bool] | None = None):
    """Boundary IoU, HD95 and NSD per image and class for the Scoring's prediction (threshold, argmax, mask)."""
    from .boundary_metrics import DatasetBoundary, stack_metrics
    scoring = scoring.for_dataset(dataset.is_hard)
    parts = _run(dataset, boundary_images, (scoring, width, tolerance), cluster, on_error, strict, progress,
                 cancelled)
    if len(parts) == 1:
        return parts[0]
    rows = [p.per_image for p in parts]
    merged = stack_metrics([], dataset.classes.num_classes) if not rows else type(rows[0])(
        *(np.concatenate([getattr(r, k) for r in rows]) for k in ("intersection", "union", "hd95", "nsd")))
    return DatasetBoundary([n for p in parts for n in p.names], merged)


def boundary_images(dataset, scoring: Scoring, width, tolerance: float, **keywords):
    from .boundary_metrics import dataset_boundary_metrics
    return dataset_boundary_metrics(dataset, scoring, width, tolerance, **keywords)


# ---- model A vs model B ----
def compare_pass(dataset, scoring: Scoring, cluster=None, *, model_b, rows: np.ndarray, compare_scoring: Scoring,
                 on_error=None, strict: bool = False, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None):
    """Per image of model A's dataset: both models' counts and the pixels B fixes or breaks, over the pixels A's
    Scoring scores (model B's own threshold / argmax in compare_scoring). rows[i]: B's image for A's image i."""
    from .compare import DatasetComparison, compare_images
    if cluster is None:
        return compare_images(dataset, model_b, rows, scoring, compare_scoring, on_error=on_error, strict=strict,
                              progress=progress, cancelled=cancelled)
    from .distributed import client_paths, dataset_part, local_path

    def chunk_args(chunk: range) -> tuple:
        mine = [int(rows[i]) for i in chunk if rows[i] >= 0]
        local = {r: k for k, r in enumerate(mine)}
        return (dataset_part(model_b, mine), np.array([local.get(int(rows[i]), -1) for i in chunk], np.int64),
                scoring, compare_scoring)
    parts = _run(dataset, compare_images, chunk_args, cluster, on_error, strict, progress, cancelled)
    paths = {**client_paths(model_b), **client_paths(dataset)}
    merged = DatasetComparison.concatenate(parts)
    merged.failures = {i: LoadError(local_path(paths, e.path), e.reason) for i, e in merged.failures.items()}
    return merged
