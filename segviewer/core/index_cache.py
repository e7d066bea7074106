"""The index on disk: keyed by the files and the settings that change probabilities; damaged files rebuilt."""
from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .index import INDEX_VERSION, ProbabilityIndex
from .options import CACHE_DIR_NAME, state_folder  # noqa: F401  (CACHE_DIR_NAME re-exported)



STAT_THREADS = 4          # stat() waits in the kernel with the GIL released: ~2.5x faster on 2 cores
STAT_BATCH = 2048


def dataset_key(dataset, steps: int) -> str:
    """sha256 over every paired file's (path, size, mtime) and the probability settings: one stat per file (on a
    few threads), no read; a path is its folder's resolved path and its name (one resolve per folder)."""
    h = hashlib.sha256()
    classes = dataset.classes
    # what the class file resolves to, not its path: an edited label_map must not reuse old counts
    label_map = sorted((classes.label_map or {}).items())
    meta = {"version": INDEX_VERSION, "steps": steps, "classes": list(classes.names),
            "ignore": classes.ignore_index, "label_map": label_map, **dataset.options.probability_key()}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    paths = [path for item in dataset.items for path in (item.text("gt"), item.text("pred"))]
    for lines in _stat_lines(paths):
        h.update(lines.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _stat_lines(paths: list[str]) -> list[str]:
    """'resolved path|size|mtime' lines for the paths in order, in batches stat'ed on a few threads."""
    folders = {folder: os.path.realpath(folder or ".") for folder in {_split(path)[0] for path in paths}}

    def batch(start: int) -> str:
        out = []
        for path in paths[start:start + STAT_BATCH]:
            try:
                st = os.stat(path)
            except OSError:   # gone since the folder was listed: the pass skips it and says so; so does the key
                out.append(f"{path}|missing\n")
                continue
            folder, name = _split(path)
            out.append(f"{folders[folder]}{os.sep}{name}|{st.st_size}|{st.st_mtime_ns}\n")
        return "".join(out)
    starts = range(0, len(paths), STAT_BATCH)
    if len(starts) < 2:
        return [batch(0)] if paths else []
    with ThreadPoolExecutor(STAT_THREADS) as pool:
        return list(pool.map(batch, starts))


def _split(path: str) -> tuple[str, str]:
    """os.path.split for the paths of a listing, ~3x faster (a file right under the root keeps "/")."""
    folder, _, name = path.rpartition(os.sep)
    return (folder or (os.sep if path.startswith(os.sep) else "")), name


def cache_folder(dataset) -> Path:
    """.segviewer/ beside the dataset, or the user cache folder when that is read-only."""
    return state_folder(dataset.options.gt_dir, "index")


def cache_path(dataset, steps: int) -> tuple[Path, str]:
    """index-<the dataset's folders>-<its files and settings>.npz in the cache folder, and the full key."""
    key = dataset_key(dataset, steps)
    return cache_folder(dataset) / f"index-{dataset_family(dataset, steps)}-{key[:24]}.npz", key


def dataset_family(dataset, steps: int) -> str:
    """What an index belongs to apart from its files' state: the GT and prediction folders and the grid. A newer
    index of the same family replaces the older ones (a count store can take gigabytes)."""
    opts = dataset.options
    text = f"{INDEX_VERSION}|{Path(opts.gt_dir).resolve()}|{Path(opts.pred_dir).resolve()}|{opts.pred_kind}|{steps}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def remove_older(path: Path) -> None:
    """The indexes, count stores and builds of path's family other than path's own (files changed since)."""
    from .index_files import build_folder, remove_folder, store_path
    family = path.name.split("-")[1]
    keep = {path.name, store_path(path).name, build_folder(path).name}
    for pattern in (f"index-{family}-*.npz", f"counts-{family}-*.bin", f"build-{family}-*"):
        for found in path.parent.glob(pattern):
            if found.name not in keep:
                remove_folder(found) if found.is_dir() else found.unlink(missing_ok=True)


def load_cached(path: Path, key: str, names: list[str] | None = None) -> ProbabilityIndex | None:
    """The cached index with its count store attached, or None when either is missing, stale, not these images'
    or damaged (never trusted, never unpickled: the index's arrays are checked, the store's header and size)."""
    from .count_store import StoreDamaged
    from .index_files import attach_store, store_path
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if str(arrays["key"]) != key:
                return None
            fields = {name: arrays[name] for name in arrays.files if name != "confusion"}
        index = ProbabilityIndex.from_arrays(fields, confusion_source=lambda: _read_confusion(path, key))
        with_counts = bool(fields["per_threshold_counts"])
    except (OSError, ValueError, KeyError, EOFError, TypeError, MemoryError, zipfile.BadZipFile):
        return None       # damaged, whatever the damage (arrays of the wrong shape raise TypeError): built again
    if names is not None and index.names != list(names):
        return None
    if with_counts:
        try:
            attach_store(index, store_path(path), key)
        except StoreDamaged:
            return None
    return index


def _read_confusion(path: Path, key: str) -> np.ndarray:
    """The index's confusion matrices, read when first asked for (ValueError: not this index's file any more)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if str(arrays["key"]) != key:
                raise ValueError("the index file changed")
            return arrays["confusion"]
    except zipfile.BadZipFile:
        raise ValueError("damaged index file") from None


def save_cached(path: Path, key: str, index: ProbabilityIndex, per_threshold_counts: bool = True) -> None:
    """Through the output gate's writer for segviewer's own files: a temporary file renamed at once, removed on any
    failure (a full disk leaves nothing behind) and, if a killed run left one, by the next run. LoadError on
    failure. per_threshold_counts: a count store is to be found beside it (datasets of probabilities)."""
    from .outputs import private_output
    with private_output(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, key=np.array(key), per_threshold_counts=np.array(per_threshold_counts), **index.to_arrays())


def remove_cached(path: Path) -> None:
    """The index, its store and any build of them (a damaged store found while reading, an index of no image)."""
    from .index_files import build_folder, remove_folder, store_path
    for file in (path, store_path(path)):
        try:
            file.unlink()
        except OSError:
            pass
    remove_folder(build_folder(path))


def load_or_build(dataset, steps: int, build, rebuild: bool = False, use_cache: bool = True
                  ) -> tuple[ProbabilityIndex, bool]:
    """(index, came_from_cache); build(path, key) writes the index and its store at path (finishing an
    interrupted build) and is called only when no valid cache exists (or rebuild). An index of no image is not
    kept: the next run tries the files again. use_cache=False: built in a temporary folder, removed once the store
    is open (POSIX keeps an open file's content; elsewhere the system's temporary folder keeps it until cleared)."""
    if not use_cache:
        from .index_files import remove_folder, temporary_folder
        folder, key = temporary_folder(), dataset_key(dataset, steps)
        try:
            return build(folder / f"index-{key[:24]}.npz", key), False
        finally:
            remove_folder(folder)
    path, key = cache_path(dataset, steps)
    cached = None if rebuild else load_cached(path, key, dataset.names)
    if cached is not None:
        return cached, True
    with one_build_at_a_time(path.parent):
        cached = None if rebuild else load_cached(path, key, dataset.names)    # built meanwhile by another
        if cached is not None:
            return cached, True
        index = build(path, key)
        if not index.loaded.any():
            remove_cached(path)
        else:
            remove_older(path)
    return index, False


@contextmanager
def one_build_at_a_time(folder: Path) -> Iterator[None]:
    """An exclusive lock on the cache folder (flock on its descriptor: no file made) while an index is built in it:
    a second build of the same files (the window opened while `segviewer index` runs) waits and then reads the
    first one's, instead of sharing its partial files; nor can one build's clean-up remove another's work. Where
    the system has no such locks, builds go on unlocked as before."""
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)


class KeptIndex:
    """An engine's index, one at a time: the one replaced lets go of its count store; a store found damaged while
    read drops the index and its files (the next request builds them again; this one is counted on the pixels)."""

    def __init__(self, dataset, steps: int, use_cache: bool):
        self.dataset, self.steps, self.use_cache = dataset, steps, use_cache
        self.index: ProbabilityIndex | None = None
        self._lock = threading.Lock()

    def keep(self, index: ProbabilityIndex | None, only: ProbabilityIndex | None = None) -> bool:
        """Keeps index (None: none); with only: just when that one is the index kept now."""
        with self._lock:
            old = self.index
            if only is not None and old is not only:
                return False
            self.index = index
        if old is not None and old is not index:
            old.close()
        return True

    def read(self, index: ProbabilityIndex, read):
        """read() of the index's count store; None off the grid, and when the store turns out damaged."""
        from .count_store import StoreDamaged
        try:
            return read()
        except ValueError:       # not on the grid
            return None
        except StoreDamaged:
            if self.keep(None, only=index) and self.use_cache:
                remove_cached(cache_path(self.dataset, self.steps)[0])
            return None
