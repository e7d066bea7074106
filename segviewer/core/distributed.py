"""The index and the per-image counts on a Dask cluster, with the same results as one process.

Tasks are chunks of consecutive images. A worker loads its chunk and returns a partial index (or partial
per-image counts) and the files that failed; the client merges the parts in dataset order. Every per-image row is
computed by the same code as in one process, the dataset histograms are int64 sums and the per-image grid is
fixed for the whole dataset up front, so the merged arrays (and the CSVs written from them) are identical.

Without a cluster, `build_index` and `evaluate` here are exactly the single-process functions. Dask
(`pip install "segviewer[dask]"`) is imported only when a cluster is asked for.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from .errors import LoadError, OptionError, all_failed

INSTALL_HINT = 'pip install "segviewer[dask]"'
MAX_CHUNK = 32            # images per task: a partial index of 32 images is a few MB
TASKS_PER_WORKER = 4      # enough tasks for a balanced finish and a cheap rerun of a lost one
TASK_RETRIES = 2          # a task that raises is rerun; a task whose worker dies is rescheduled by Dask itself
CONNECT_TIMEOUT = "15s"
# torch asks for transparent huge pages on its large CPU buffers: a 19×256×512 image's buffers then fault
# ~900 pages instead of ~2,700 (measured: 31.7 -> 21.5 ms CPU per image). Read once, before torch allocates.
WORKER_ENV = {"THP_MEM_ALLOC_ENABLE": "1"}

Progress = Callable[[int, int], None]


class RemoteLoadError(Exception):
    """A LoadError raised on a worker, as (path, reason): LoadError's own pickling needs both arguments."""

    def __init__(self, path, reason: str):
        super().__init__(path, reason)


@dataclass(frozen=True)
class Cluster:
    """Where the work runs: a local cluster of `workers` single-threaded processes, or a running scheduler."""
    workers: int | None = None
    scheduler: str | None = None


# ---- the client side ----

def build_index(dataset, steps: int | None = None, progress: Progress | None = None, on_error=None,
                strict: bool = False, cancelled: Callable[[], bool] | None = None, cluster=None):
    """core.index.build_index, on the cluster when one is given (a Cluster or a dask Client)."""
    from .index import DEFAULT_STEPS, build_index as build_local, image_step_factor
    steps = steps or DEFAULT_STEPS
    if cluster is None:
        return build_local(dataset, steps, progress=progress, on_error=on_error, strict=strict, cancelled=cancelled)
    factor = image_step_factor(len(dataset), dataset.classes.num_classes, steps)
    outcomes = run_chunks(cluster, _index_task, dataset, (steps, factor), progress, cancelled, strict)
    _report(outcomes, on_error)
    return merge_indexes([part for part, _ in outcomes])


def evaluate(dataset, threshold=0.5, argmax: bool = False, strict: bool = False, progress: Progress | None = None,
             boundary: int | None = None, interior: bool = False, with_confusion: bool = False, cluster=None):
    """core.dataset.evaluate, on the cluster when one is given (a Cluster or a dask Client)."""
    from .dataset import evaluate as evaluate_local
    if cluster is None:
        return evaluate_local(dataset, threshold, argmax, strict, progress, boundary, interior, with_confusion)
    outcomes = run_chunks(cluster, _evaluate_task, dataset, (threshold, argmax, boundary, interior, with_confusion),
                          progress, None, strict)
    failures = [LoadError(path, reason) for _, chunk_failures in outcomes for path, reason in chunk_failures]
    return merge_counts([part for part, _ in outcomes if part is not None], failures, dataset, with_confusion)


def calibrate(dataset, bins: int, progress: Progress | None = None, on_error=None, strict: bool = False,
              cluster=None):
    """core.calibration.dataset_calibration, on the cluster when one is given: per-chunk statistics add up."""
    from .calibration import CalibrationStats, check_bins, dataset_calibration
    if cluster is None:
        return dataset_calibration(dataset, bins, progress, on_error, strict=strict)
    outcomes = run_chunks(cluster, _calibration_task, dataset, (check_bins(bins),), progress, None, strict)
    _report(outcomes, on_error)
    total = CalibrationStats.empty(dataset.classes.num_classes, bins)
    for part, _ in outcomes:
        total = total + part
    return total


def scan_label_issues(dataset, temperature: float, min_confidence: float, with_regions: bool = False, on_error=None,
                      strict: bool = False, progress: Progress | None = None, cluster=None):
    """core.label_issues.scan_label_issues, on the cluster when one is given; the images in dataset order."""
    from .label_issues import scan_label_issues as scan_local
    if cluster is None:
        yield from scan_local(dataset, temperature, min_confidence, with_regions, on_error, strict, progress)
        return
    outcomes = run_chunks(cluster, _label_issues_task, dataset, (temperature, min_confidence, with_regions),
                          progress, None, strict)
    _report(outcomes, on_error)
    positions = {item.name: i for i, item in enumerate(dataset.items)}
    for part, _ in outcomes:
        for issue in part:
            issue.index = positions[issue.name]     # a chunk numbers its images from 0
            yield issue


def run_chunks(cluster, task, dataset, args: tuple, progress: Progress | None = None,
               cancelled: Callable[[], bool] | None = None, strict: bool = False) -> list[tuple]:
    """task(part, *args) for every chunk of the dataset; the (result, failures) pairs in dataset order.

    Ctrl+C or cancelled() cancels every task still queued or running; with strict, the first bad file in dataset
    order is raised as soon as every chunk before it is known to be clean."""
    with connected(cluster) as client:
        chunks = chunk_ranges(len(dataset), worker_count(client))
        futures = [client.submit(task, dataset_part(dataset, chunk), *args, retries=TASK_RETRIES, pure=False)
                   for chunk in chunks]
        try:
            return _collect(client, futures, chunks, dataset, progress, cancelled, strict)
        except BaseException:
            _cancel(client, futures)
            raise


def _collect(client, futures, chunks, dataset, progress, cancelled, strict) -> list[tuple]:
    from dask.distributed import as_completed
    position = {future.key: i for i, future in enumerate(futures)}
    paths = client_paths(dataset)
    outcomes: list[tuple | None] = [None] * len(futures)
    done, total = 0, len(dataset)
    for future in as_completed(futures):
        i = position[future.key]
        result, failures = _result(future, dataset, chunks[i])
        outcomes[i] = (result, [(paths.get(str(path), path), reason) for path, reason in failures])
        for _ in chunks[i]:
            done += 1
            if progress:
                progress(done, total)
        if cancelled is not None and cancelled():
            raise InterruptedError("index build cancelled")
        if strict:
            _raise_first_failure(outcomes)
    return outcomes  # type: ignore[return-value]


def _result(future, dataset, chunk: range) -> tuple:
    from dask.distributed import KilledWorker
    try:
        return future.result()
    except RemoteLoadError as exc:
        raise LoadError(*exc.args) from None
    except KilledWorker:
        first, last = dataset.items[chunk[0]], dataset.items[chunk[-1]]
        raise LoadError(first.gt, f"Dask workers died repeatedly on the images {first.name} .. {last.name} "
                                  f"(out of memory?); the run was stopped") from None


def _raise_first_failure(outcomes: list) -> None:
    """The first failure in dataset order, once every chunk before it has come back."""
    for outcome in outcomes:
        if outcome is None:
            return
        if outcome[1]:
            path, reason = outcome[1][0]
            raise LoadError(path, reason)


def _cancel(client, futures) -> None:
    try:
        client.cancel(futures)
    except Exception:  # noqa: BLE001  the client may already be gone; there is nothing left to cancel then
        pass


def _report(outcomes: list[tuple], on_error) -> None:
    if on_error is None:
        return
    for _, failures in outcomes:
        for path, reason in failures:
            on_error(LoadError(path, reason))


@contextmanager
def connected(cluster) -> Iterator:
    """A dask Client for a Cluster (closed afterwards, with the local cluster it started) or the Client given."""
    if hasattr(cluster, "submit"):
        yield cluster
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise OptionError(f"--workers and --scheduler need Dask: {INSTALL_HINT}") from None
    if cluster.scheduler:
        try:
            client = Client(cluster.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptionError(f"cannot reach the Dask scheduler at {cluster.scheduler} ({exc})") from None
        with client:
            yield client
        return
    import logging
    with LocalCluster(n_workers=cluster.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR, env=WORKER_ENV) as local, Client(local) as client:
        yield client


def worker_count(client) -> int:
    return max(1, sum(client.nthreads().values()))


def chunk_ranges(n_images: int, workers: int) -> list[range]:
    """Consecutive chunks: several per worker, at most MAX_CHUNK images each."""
    size = max(1, min(MAX_CHUNK, math.ceil(n_images / (TASKS_PER_WORKER * max(1, workers)))))
    return [range(start, min(n_images, start + size)) for start in range(0, n_images, size)]


def dataset_part(dataset, positions: range):
    """The dataset restricted to some images (a shallow copy with their items only): what a task ships. Paths
    are made absolute, so a worker started in another folder finds the same files."""
    from .io import Pairing
    part = copy.copy(dataset)
    part.pairing = Pairing([_absolute(dataset.items[i]) for i in positions])
    return part


def _absolute(item):
    return dataclasses.replace(item, gt=item.gt.absolute(), pred=item.pred.absolute(),
                               image=item.image.absolute() if item.image is not None else None)


def client_paths(dataset) -> dict[str, object]:
    """Absolute path -> the path as this process names it, so a worker's failure reads as a local one."""
    return {str(path.absolute()): path for item in dataset.items for path in (item.gt, item.pred, item.image)
            if path is not None}


# ---- merging, in dataset order ----

def merge_indexes(parts: list):
    """One index from the parts of consecutive chunks, in their order (pairwise, so each array is copied log n
    times rather than once per part). Empty parts (every image failed) add nothing."""
    kept = [p for p in parts if p.names] or parts[:1]
    while len(kept) > 1:
        kept = [kept[i].merge(kept[i + 1]) if i + 1 < len(kept) else kept[i] for i in range(0, len(kept), 2)]
    return kept[0]


def merge_counts(parts: list, failures: list[LoadError], dataset, with_confusion: bool):
    """DatasetCounts of the parts, in their order; the same tensors one process stacks."""
    import torch
    from .counts import Counts
    from .dataset import DatasetCounts
    if not parts:
        raise all_failed(dataset.options.gt_dir, failures)
    cat = lambda name: Counts(*(torch.cat([getattr(getattr(p, name), k) for p in parts])  # noqa: E731
                                for k in ("tp", "fp", "fn")))
    c = dataset.classes.num_classes
    per_image = torch.cat([p.confusion_per_image for p in parts]) if with_confusion else None
    confusion = per_image.sum(0) if with_confusion else torch.zeros(c, c + 1, dtype=torch.int64)
    names = [name for p in parts for name in p.names]
    return DatasetCounts(names, cat("counts"), cat("soft"), confusion, failures, per_image)


# ---- the worker side (module-level functions: Dask ships them by reference) ----

_worker_ready = False


@contextmanager
def _picklable_errors() -> Iterator[None]:
    try:
        yield
    except LoadError as exc:
        raise RemoteLoadError(exc.path, exc.reason) from None


@contextmanager
def _heap_trimmed() -> Iterator[None]:
    """glibc keeps the memory freed inside its heap: streaming images of varying content grows RSS ~2.3 MB per
    19×256×512 image (1.3 GB after 800, with 0.1 GB in use); malloc_trim after each chunk hands it back."""
    try:
        yield
    finally:
        _malloc_trim()


def _malloc_trim() -> None:
    import ctypes
    import ctypes.util
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: nothing to trim this way
        pass


def _prepare_worker(part) -> None:
    """Once per worker process: the heap bound `segviewer` sets at start-up (without it a worker's heap grows
    ~7 MB per 19x256x512 image), and the device resolved where the work runs."""
    global _worker_ready
    if not _worker_ready:
        from .memory import bound_heap_growth
        bound_heap_growth()
        _worker_ready = True
    from .device import resolve_device
    part.device = resolve_device(part.options.device)


def _index_task(part, steps: int, factor: int) -> tuple:
    from .index import build_index as build_local
    failures: list[LoadError] = []
    with _picklable_errors(), _heap_trimmed():
        _prepare_worker(part)
        index = build_local(part, steps, on_error=failures.append, image_factor=factor)
    return index, [(f.path, f.reason) for f in failures]


def _evaluate_task(part, threshold, argmax: bool, boundary, interior: bool, with_confusion: bool) -> tuple:
    from .dataset import evaluate as evaluate_local
    with _picklable_errors(), _heap_trimmed():
        _prepare_worker(part)
        try:
            result = evaluate_local(part, threshold, argmax, False, None, boundary, interior, with_confusion)
        except LoadError:   # every image of the chunk failed; evaluate keeps no list then, so name them here
            return None, [(f.path, f.reason) for f in _load_failures(part)]
    failures, result.failures = result.failures, []
    return result, [(f.path, f.reason) for f in failures]


def _calibration_task(part, bins: int) -> tuple:
    from .calibration import dataset_calibration
    failures: list[LoadError] = []
    with _picklable_errors(), _heap_trimmed():
        _prepare_worker(part)
        stats = dataset_calibration(part, bins, on_error=failures.append)
    return stats, [(f.path, f.reason) for f in failures]


def _label_issues_task(part, temperature: float, min_confidence: float, with_regions: bool) -> tuple:
    from .label_issues import scan_label_issues as scan_local
    failures: list[LoadError] = []
    with _picklable_errors(), _heap_trimmed():
        _prepare_worker(part)
        issues = list(scan_local(part, temperature, min_confidence, with_regions, on_error=failures.append))
    return issues, [(f.path, f.reason) for f in failures]


def _load_failures(part) -> list[LoadError]:
    failures = []
    for i in range(len(part)):
        try:
            part.load(i, with_image=False)
        except LoadError as exc:
            failures.append(exc)
    return failures
