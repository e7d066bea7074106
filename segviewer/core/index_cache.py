"""The index on disk: keyed by the files and the settings that change probabilities; damaged files rebuilt."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .index import INDEX_VERSION, ProbabilityIndex

CACHE_DIR_NAME = ".segviewer"


def dataset_key(dataset, steps: int) -> str:
    """sha256 over every paired file's (path, size, mtime) and the probability settings."""
    h = hashlib.sha256()
    meta = {"version": INDEX_VERSION, "steps": steps, "classes": dataset.classes.num_classes,
            "ignore": dataset.classes.ignore_index, **dataset.options.probability_key()}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for item in dataset.items:
        for path in (item.gt, item.pred):
            st = path.stat()
            h.update(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def cache_folder(dataset) -> Path:
    """.segviewer/ beside the dataset, or the user cache folder when that is read-only."""
    beside = Path(dataset.options.gt_dir).resolve().parent / CACHE_DIR_NAME
    if _writable(beside):
        return beside
    from platformdirs import user_cache_dir
    digest = hashlib.sha1(str(beside).encode()).hexdigest()[:12]
    return Path(user_cache_dir("segviewer")) / "index" / digest


def cache_path(dataset, steps: int) -> tuple[Path, str]:
    key = dataset_key(dataset, steps)
    return cache_folder(dataset) / f"index-{key[:24]}.npz", key


def load_cached(path: Path, key: str) -> ProbabilityIndex | None:
    """The cached index, or None when missing, stale or damaged (never trusted, never unpickled)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if str(arrays["key"]) != key:
                return None
            return ProbabilityIndex.from_arrays(arrays)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def save_cached(path: Path, key: str, index: ProbabilityIndex) -> None:
    """Written to a temporary name and renamed, so a crash never leaves half a file under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, key=np.array(key), **index.to_arrays())
    os.replace(tmp, path)


def load_or_build(dataset, steps: int, build) -> tuple[ProbabilityIndex, bool]:
    """(index, came_from_cache); build() is called only when no valid cache exists."""
    path, key = cache_path(dataset, steps)
    cached = load_cached(path, key)
    if cached is not None:
        return cached, True
    index = build()
    try:
        save_cached(path, key, index)
    except OSError:
        pass  # a cache that cannot be written only costs a rebuild next time
    return index, False
