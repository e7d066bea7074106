"""Where a pass runs when a cluster is given: chunks of consecutive images on Dask workers, merged in dataset order.

A task is one of core.passes' chunk functions on a part of the dataset (`dataset_part`); it returns its result,
and the files that failed come back beside it. Every per-image row is computed by the same code as in one
process and the client merges the parts in dataset order, so the merged results (and the files written from
them) are identical to one process's. Dask (`pip install "segviewer[dask]"`) is imported only when a cluster is
asked for; core.passes decides what runs where.
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from .errors import LoadError, OptionError

INSTALL_HINT = 'pip install "segviewer[dask]"'
MAX_CHUNK = 32            # images per task: a partial index of 32 images is a few MB
TASKS_PER_WORKER = 4      # enough tasks for a balanced finish and a cheap rerun of a lost one
TASK_RETRIES = 2          # a task that raises is rerun; a task whose worker dies is rescheduled by Dask itself
CONNECT_TIMEOUT = "15s"
# torch asks for transparent huge pages on its large CPU buffers: a 19×256×512 image's buffers then fault
# ~900 pages instead of ~2,700 (measured: 31.7 -> 21.5 ms CPU per image). Read once, before torch allocates.
# A worker computes on the client's torch thread count (see _prepare_worker); its OpenMP threads sleep as soon as
# a parallel op ends instead of spinning, or N workers' spinning threads take the cores from each other (index
# of 60 × 19×256×512 on 2 workers, 2 cores: 16-26 s spinning, 1-2 s passive, 2.6-3.0 s on one thread each).
WORKER_ENV = {"THP_MEM_ALLOC_ENABLE": "1", "OMP_WAIT_POLICY": "PASSIVE"}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Cluster:
    """Where the work runs: a local cluster of `workers` single-threaded processes, or a running scheduler."""
    workers: int | None = None
    scheduler: str | None = None


# ---- the client side ----

def run_chunks(cluster, task, dataset, args, on_error=None, progress: Progress | None = None,
               cancelled: Callable[[], bool] | None = None, strict: bool = False, *,
               chunks: list[range] | None = None, on_result: Callable[[int, object], None] | None = None
               ) -> list[tuple[range, object]]:
    """task(part, *args, on_error=...) for every chunk of the dataset on the cluster (args: a tuple, or a function
    of the chunk that gives one); the (chunk, result) pairs in dataset order. Each failed file reaches on_error
    named as this process names it, in dataset order. chunks: these ranges of images instead of the default;
    on_result(i, result): each chunk's result as it comes back (in any order), not kept (the pairs then hold None).

    Ctrl+C or cancelled() cancels every task still queued or running; with strict, the first bad file in dataset
    order is raised as soon as every chunk before it is known to be clean."""
    import torch
    threads = torch.get_num_threads()
    with connected(cluster) as client:
        chunks = chunks if chunks is not None else chunk_ranges(len(dataset), worker_count(client))
        futures = [client.submit(run_task, task, dataset_part(dataset, chunk),
                                 *(args(chunk) if callable(args) else args), torch_threads=threads,
                                 retries=TASK_RETRIES, pure=False)
                   for chunk in chunks]
        try:
            outcomes = _collect(client, futures, chunks, dataset, progress, cancelled, strict, on_result)
        except BaseException:
            _cancel(client, futures)
            raise
    for _, failures in outcomes:
        for path, reason in failures:
            if on_error is not None:
                on_error(LoadError(path, reason))
    return [(chunk, result) for chunk, (result, _) in zip(chunks, outcomes)]


def _collect(client, futures, chunks, dataset, progress, cancelled, strict, on_result=None) -> list[tuple]:
    from dask.distributed import as_completed
    position = {future.key: i for i, future in enumerate(futures)}
    paths = client_paths(dataset)
    outcomes: list[tuple | None] = [None] * len(futures)
    done, total = 0, sum(len(chunk) for chunk in chunks)
    for future in as_completed(futures, loop=client.loop):
        i = position[future.key]
        result, failures = _result(future, dataset, chunks[i], paths)
        future.release()
        outcomes[i] = (None if on_result else result, [(local_path(paths, path), reason) for path, reason in failures])
        if on_result:
            on_result(i, result)
        for _ in chunks[i]:
            done += 1
            if progress:
                progress(done, total)
        if cancelled is not None and cancelled():
            raise InterruptedError("cancelled")
        if strict:
            _raise_first_failure(outcomes)
    return outcomes  # type: ignore[return-value]


def _result(future, dataset, chunk: range, paths: dict) -> tuple:
    from dask.distributed import KilledWorker
    try:
        return future.result()
    except LoadError as exc:        # a worker's --strict failure: named as this process names the file
        raise LoadError(local_path(paths, exc.path), exc.reason) from None
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


class Connection:
    """A Cluster's client, started on first use and kept until close(): the passes of one engine share it (a local
    cluster starts once, not once per pass). Closed from any thread, as the window's workers use it."""

    def __init__(self, cluster):
        self.cluster = cluster
        self._opened: tuple | None = None      # (client, local cluster or None)

    def client(self):
        """The client (None without a cluster: this process)."""
        if self.cluster is None or hasattr(self.cluster, "submit"):   # a dask Client given: the caller's to close
            return self.cluster
        if self._opened is None:
            self._opened = open_client(self.cluster)
        return self._opened[0]

    def close(self) -> None:
        opened, self._opened = self._opened, None
        if opened is not None:
            close_client(*opened)


def open_client(cluster) -> tuple:
    """(dask Client, the LocalCluster it started or None) for a Cluster."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise OptionError(f"--workers and --scheduler need Dask: {INSTALL_HINT}") from None
    if cluster.scheduler:
        from .cluster_probe import probe_scheduler
        probe_scheduler(cluster.scheduler)   # a Dask scheduler greets within seconds; anything else is refused
        try:
            return Client(cluster.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:   # TypeError: a comm Dask cannot make here
            raise OptionError(f"cannot reach the Dask scheduler at {cluster.scheduler} ({exc})") from None
    import logging
    local = LocalCluster(n_workers=cluster.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR, env=WORKER_ENV)
    try:
        return Client(local, set_as_default=False), local
    except BaseException:
        local.close()
        raise


def close_client(client, local) -> None:
    client.close()
    if local is not None:
        local.close()


@contextmanager
def connected(cluster) -> Iterator:
    """A dask Client for a Cluster (closed afterwards, with the local cluster it started) or the Client given."""
    if hasattr(cluster, "submit"):
        yield cluster
        return
    client, local = open_client(cluster)
    try:
        yield client
    finally:
        close_client(client, local)


def worker_count(client) -> int:
    return max(1, sum(client.nthreads().values()))


def chunk_ranges(n_images: int, workers: int) -> list[range]:
    """Consecutive chunks: several per worker, at most MAX_CHUNK images each."""
    size = max(1, min(MAX_CHUNK, math.ceil(n_images / (TASKS_PER_WORKER * max(1, workers)))))
    return [range(start, min(n_images, start + size)) for start in range(0, n_images, size)]


def dataset_part(dataset, positions: Sequence[int]):
    """The dataset restricted to some images (a shallow copy with their items only): what a task ships. Paths
    are made absolute, so a worker started in another folder finds the same files."""
    from .io import Pairing
    part = copy.copy(dataset)
    part.pairing = Pairing([_absolute(dataset.items[i]) for i in positions])
    return part


def _absolute(item):
    return item.replace(gt=item.gt.absolute(), pred=item.pred.absolute(),
                        image=item.image.absolute() if item.image is not None else None)


def client_paths(dataset) -> dict[str, object]:
    """Absolute path -> the path as this process names it, so a worker's failure reads as a local one."""
    return {str(path.absolute()): path for item in dataset.items for path in (item.gt, item.pred, item.image)
            if path is not None}


def local_path(paths: dict, path):
    return paths.get(str(path), path) if path is not None else None


# ---- the worker side (module-level functions: Dask ships them by reference) ----

_worker_ready = False


def run_task(task, part, *args, torch_threads: int | None = None) -> tuple:
    """On a worker: task(part, *args) with its failed files collected as (path, reason) pairs, on as many torch
    threads as the client computes with (torch_threads)."""
    failures: list[LoadError] = []
    with _heap_trimmed():
        _prepare_worker(part, torch_threads)
        result = task(part, *args, on_error=failures.append)
    return result, [(f.path, f.reason) for f in failures]


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


def _prepare_worker(part, torch_threads: int | None = None) -> None:
    """Once per worker process: the heap bound `segviewer` sets at start-up (without it a worker's heap grows
    ~7 MB per 19x256x512 image); the client's torch thread count; the device resolved where the work runs.

    torch's CPU kernels split the pixels between its threads, and the values at a split's edges take the scalar
    path instead of the vector one (softmax over a 21×375×500 image: 19 probabilities differ in their last bit
    between 1 and 2 threads). A worker on the client's thread count computes the same bits as one process, so the
    soft Dice, calibration and label scores of `--workers N` equal one process's byte for byte."""
    global _worker_ready
    if not _worker_ready:
        from .memory import bound_heap_growth
        bound_heap_growth()
        _worker_ready = True
    if torch_threads:
        import torch
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
    from .device import resolve_device
    part.device = resolve_device(part.options.device)
