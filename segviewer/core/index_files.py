"""The index and its per-image count store on disk, beside the dataset: read and checked, or built.

A build runs chunk by chunk (here, or as tasks on a Dask cluster whose results the client writes as they come
back) into a build folder, and resumes where an interrupted one stopped: every finished chunk is kept. The
finished index is written under its name first and the store renamed beside it last; a store without its index,
an index without its store, or either damaged, is built again.
"""
from __future__ import annotations

import math
from collections import Counter
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from .count_store import Bounds, CountStore, StoreLayout, narrowest_dtype
from .count_store_build import ChunkCounts, StoreBuild, chunk_images, narrowed
from .index import ProbabilityIndex

Progress = Callable[[int, int], None]
INDEX_BYTES_PER_ROW = 100     # a name and the row's bookkeeping, besides its numbers


def store_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name.replace("index-", "counts-").replace(".npz", ".bin"))


def build_folder(index_path: Path) -> Path:
    return index_path.with_name(index_path.name.replace("index-", "build-").replace(".npz", ""))


def attach_store(index: ProbabilityIndex, path: Path, key: str) -> ProbabilityIndex:
    """The index with its count store opened (StoreDamaged when it is missing or not this index's)."""
    cumulative = index.cumulative()
    bounds = Bounds(index.gt_count, *cumulative)
    index.images = CountStore.open(path, key, len(index.names), index.num_classes, index.steps, bounds)
    return index


def dtype_guess(dataset) -> str:
    """The store's type from the first image's size (every count of an image is at most its pixels); the build
    widens it if a later image needs more."""
    from .io import label_map_size
    for item in dataset.items[:1]:
        size = label_map_size(item.gt)
        if size is not None:
            return narrowest_dtype(size[0] * size[1])
    return "<u4"


def index_bytes(images: int, classes: int) -> int:
    """The index file and the chunk parts it is merged from."""
    return 2 * images * (classes * (7 * 8 + (classes + 1) * 4) + INDEX_BYTES_PER_ROW)


def build(dataset, steps: int, key: str, index_path: Path, client=None, *, on_error=None, strict: bool = False,
          progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
          free_space=None) -> ProbabilityIndex:
    """Builds (or finishes) the index and its store at index_path; the index with its store attached."""
    from .index_cache import save_cached
    n, c = len(dataset), dataset.classes.num_classes
    classes = 0 if dataset.is_hard else c       # masks have no threshold: no per-threshold counts
    layout = StoreLayout(key, n, classes, steps, dtype_guess(dataset))
    size = chunk_images(max(classes, 1), steps, layout.itemsize)
    store = StoreBuild(build_folder(index_path), layout, size, index_bytes(n, c), free_space,
                       part_check=_part_checker(c)).start()
    try:
        done = store.done_images()
        if progress and done:
            progress(done, n)
        if client is None:
            _build_here(dataset, steps, store, on_error, strict, progress, cancelled)
        else:
            _build_on_cluster(dataset, steps, store, client, on_error, strict, progress, cancelled)
        index = _merged(store)
        save_cached(index_path, key, index, per_threshold_counts=bool(classes))
        if classes:
            store.commit(store_path(index_path))
        else:
            store.discard()
    finally:
        store.close()
    if classes:
        attach_store(index, store_path(index_path), key)
    return index


def _build_here(dataset, steps, store: StoreBuild, on_error, strict, progress, cancelled) -> None:
    from .index_build import index_images
    before = store.done_images()
    for j in store.pending():
        chunk = store.chunks[j]
        counts = ChunkCounts(store.layout, len(chunk)) if store.layout.classes else None
        step = (lambda done, _t, base=before: progress(base + done, len(dataset))) if progress else None
        part = index_images(dataset, steps, chunk, counts, on_error=on_error, strict=strict, progress=step,
                            cancelled=cancelled)
        store.write(j, counts.array if counts else _no_counts(store, chunk), part.to_arrays())
        before += len(chunk)


def _build_on_cluster(dataset, steps, store: StoreBuild, client, on_error, strict, progress, cancelled) -> None:
    """Tasks of a few images each; a chunk is written when all of its tasks are back (tasks finish in any order,
    so a few chunks wait in memory at a time)."""
    from .distributed import run_chunks, worker_count
    pending = store.pending()
    per_task = max(1, min(store.chunk_size, math.ceil(len(dataset) / (4 * worker_count(client)))))
    tasks = [(j, range(start, min(store.chunks[j].stop, start + per_task)))
             for j in pending for start in range(store.chunks[j].start, store.chunks[j].stop, per_task)]
    waiting: dict[int, dict] = {}
    remaining = Counter(j for j, _ in tasks)
    done0 = store.done_images()

    def arrived(t: int, result) -> None:
        j, sub = tasks[t]
        part, block = result
        chunk = store.chunks[j]
        slot = waiting.setdefault(j, {"parts": {}, "counts": ChunkCounts(store.layout, len(chunk))
                                      if store.layout.classes else None})
        slot["parts"][sub.start] = part
        if slot["counts"] is not None:
            slot["counts"].put(sub.start - chunk.start, block)
        remaining[j] -= 1
        if remaining[j] == 0:
            merged = _merge_parts([slot["parts"][s] for s in sorted(slot["parts"])])
            counts = slot["counts"]
            store.write(j, counts.array if counts else _no_counts(store, chunk), merged)
            del waiting[j]
    step = (lambda done, _t: progress(done0 + done, len(dataset))) if progress else None
    run_chunks(client, index_task, dataset, (steps, bool(store.layout.classes)), on_error, step, cancelled, strict,
               chunks=[sub for _, sub in tasks], on_result=arrived)


def index_task(part, steps: int, with_counts: bool, *, on_error=None, strict=False, progress=None, cancelled=None):
    """A worker's task: its images' index part (as arrays) and their counts block in its narrowest type."""
    from .index_build import index_images
    counts = ChunkCounts(StoreLayout("", len(part), part.classes.num_classes, steps, "<u1"), len(part)) \
        if with_counts else None
    index = index_images(part, steps, None, counts, on_error=on_error, strict=strict, progress=progress,
                         cancelled=cancelled)
    return index.to_arrays(), (narrowed(counts.array) if counts else None)


def _no_counts(store: StoreBuild, chunk: range) -> np.ndarray:
    return np.zeros((store.layout.steps + 1, 0, len(chunk), 2), np.uint8)


def _merge_parts(parts: list[dict]) -> dict:
    return ProbabilityIndex.concatenate([ProbabilityIndex.from_arrays(part) for part in parts]).to_arrays()


def _merged(store: StoreBuild) -> ProbabilityIndex:
    """Every chunk's part, in dataset order, as one index (each array copied once)."""
    return ProbabilityIndex.concatenate([ProbabilityIndex.from_arrays(part) for part in store.parts()])


def _part_checker(classes: int):
    def check(part: dict, chunk: range) -> bool:
        try:
            index = ProbabilityIndex.from_arrays(part)
        except (ValueError, KeyError, TypeError):
            return False
        return index.num_classes == classes and len(index.names) == len(chunk)
    return check


def temporary_folder() -> Path:
    """Where an engine without a cache (use_cache=False) keeps its store: removed once the store is open (POSIX
    keeps an open file's content), else when the engine closes."""
    return Path(tempfile.mkdtemp(prefix="segviewer-index-"))


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
