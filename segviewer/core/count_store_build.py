"""Building the count store chunk by chunk: resumable, the same bytes from one process or many workers.

A build lives in its own folder beside the finished files: the store being filled (`counts.partial`, its final
size from the start), one small file per finished chunk with that chunk's part of the index, and a manifest
naming the finished chunks. A chunk's counts are written before the manifest names it, so an interrupted build
(Ctrl+C, a crash, a lost worker) resumes with every chunk the manifest names and redoes only the others. Chunks
are not flushed one by one (~0.1 s each, waiting for the disk): what a power cut could lose under a manifest that
names it fails the checks every read makes (each row must add up to the index's histograms), and is rebuilt. The finished store gets its name by one rename at the end: a half-built store is never
mistaken for a finished one.

Every count is placed by its threshold, class and dataset position, so the bytes do not depend on how the
images were chunked or in which order chunks finished. The type is the narrowest that holds every count written
so far (a chunk needing a wider one widens what is written, once); before anything is written the free disk
space is checked against what the build will need.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .budgets import format_size
from .count_store import DTYPES, StoreLayout, narrowest_dtype
from .errors import LoadError, os_reason
from .outputs import private_output

CHUNK_BYTES = 64 * 2**20          # a chunk's counts in memory: ~840 images of 19 classes in uint16
MANIFEST = "manifest.json"
PARTIAL = "counts.partial"
MANIFEST_VERSION = 1

FreeSpace = Callable[[Path], int]


def chunk_images(classes: int, steps: int, itemsize: int, budget: int | None = None) -> int:
    """Images per chunk so that a chunk's [N+1, C, n, 2] counts stay within the budget (CHUNK_BYTES)."""
    return max(1, (budget or CHUNK_BYTES) // (max(classes, 1) * (steps + 1) * 2 * itemsize))


def chunk_ranges(images: int, size: int) -> list[range]:
    return [range(start, min(images, start + size)) for start in range(0, images, size)]


class ChunkCounts:
    """A chunk's counts as the store lays them out, [N+1, C, n, (tp, predicted)], in the store's type, widened
    when an image needs a wider one."""

    def __init__(self, layout: StoreLayout, images: int):
        self.array = np.zeros((layout.steps + 1, layout.classes, images, 2), layout.dtype)

    def fill(self, j: int, tp_above: np.ndarray, pred_above: np.ndarray) -> None:
        """Image j from its [C, N+1] counts above each grid value (predicted >= tp)."""
        self._fit(int(pred_above.max(initial=0)))
        self.array[:, :, j, 0] = tp_above.T
        self.array[:, :, j, 1] = pred_above.T

    def put(self, start: int, block: np.ndarray) -> None:
        """A run of images from another chunk's array (a worker's task)."""
        self._fit(int(block.max(initial=0)))
        self.array[:, :, start:start + block.shape[2]] = block

    def _fit(self, largest: int) -> None:
        need = narrowest_dtype(largest)
        if np.dtype(need).itemsize > self.array.itemsize:
            self.array = self.array.astype(need)


def narrowed(block: np.ndarray) -> np.ndarray:
    """The block in the narrowest type that holds it (what a worker sends back)."""
    return block.astype(narrowest_dtype(int(block.max(initial=0))), copy=False)


def disk_free(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def _write_json(path: Path, value: dict) -> None:
    with private_output(path) as tmp, open(tmp, "w") as fh:
        json.dump(value, fh)


def _open_in_place(path: Path):
    """The build's own partial store, made through the output gate (private_output), opened to fill in chunks: a
    resumable build cannot write a fresh temporary file per chunk (the test of the gate lists this exception)."""
    return open(path, "r+b", buffering=0)


def _new_store_file(path: Path, layout: StoreLayout) -> None:
    """An empty store of the layout's full size (sparse: blocks are allocated as chunks land), renamed at once."""
    with private_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(layout.header())
        fh.truncate(layout.file_bytes)


def _allocated(path: Path) -> int:
    """Bytes the file already holds on disk (a sparse file's unwritten blocks still need space)."""
    st = path.stat()
    return getattr(st, "st_blocks", 0) * 512 if hasattr(st, "st_blocks") else st.st_size


def _clear_odd(path: Path) -> None:
    """A FIFO, device, socket or link under the store's own name in segviewer's folder is no store (the output
    gate would refuse to write over it): removed, as a damaged store is."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            path.unlink()
    except (FileNotFoundError, IsADirectoryError):
        pass


def _sync(handle) -> None:
    getattr(os, "fdatasync", os.fsync)(handle.fileno())


class StoreBuild:
    """One build of the store (and the index parts beside it) in `folder`, resumed when it was interrupted."""

    def __init__(self, folder: Path, layout: StoreLayout, chunk_size: int, extra_bytes: int = 0,
                 free_space: FreeSpace | None = None, part_check: Callable[[dict, range], bool] | None = None):
        self.folder, self.layout, self.chunk_size = Path(folder), layout, chunk_size
        self.extra_bytes, self.free_space, self.part_check = extra_bytes, free_space, part_check
        self.done: set[int] = set()
        self._file = None

    @property
    def chunks(self) -> list[range]:
        return chunk_ranges(self.layout.images, self.chunk_size)

    def pending(self) -> list[int]:
        return [j for j in range(len(self.chunks)) if j not in self.done]

    def done_images(self) -> int:
        chunks = self.chunks
        return sum(len(chunks[j]) for j in self.done)

    # ---- start: resume or begin ----
    def start(self) -> "StoreBuild":
        """Resumes the build the folder holds when it is this one (its chunk size is kept), else starts over;
        LoadError naming the folder when the disk cannot hold what is left to write."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self._resume():
                self._begin()
        except OSError as exc:
            raise LoadError(self.folder, f"cannot build the index here: {os_reason(exc)}") from None
        return self

    def _resume(self) -> bool:
        try:
            with open(self.folder / MANIFEST) as fh:
                manifest = json.load(fh)
            layout = StoreLayout(**manifest["layout"])
            same = (type(manifest["version"]) is int and manifest["version"] == MANIFEST_VERSION
                    and layout.dtype in DTYPES and layout.widened(self.layout.dtype) == self.layout)
            done = {int(j) for j in manifest["done"]}
            chunk_size = int(manifest["chunk_size"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        partial = self.folder / PARTIAL
        if not same or chunk_size < 1 or not partial.is_file() or partial.stat().st_size != layout.file_bytes:
            return False
        self.layout, self.chunk_size = layout, chunk_size
        self.done = {j for j in done if 0 <= j < len(self.chunks) and self._part_ok(j)}
        self._check_space(layout.file_bytes - _allocated(partial))
        self._file = _open_in_place(partial)
        return True

    def _part_ok(self, j: int) -> bool:
        try:
            with np.load(self._part_path(j), allow_pickle=False) as arrays:
                part = {name: arrays[name] for name in arrays.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return False
        return self.part_check is None or self.part_check(part, self.chunks[j])

    def _begin(self) -> None:
        for leftover in self.folder.iterdir():      # the build's own folder: anything not a folder goes
            if leftover.is_symlink() or not leftover.is_dir():
                leftover.unlink()
        self._check_space(self.layout.file_bytes)
        _new_store_file(self.folder / PARTIAL, self.layout)
        self._file = _open_in_place(self.folder / PARTIAL)
        self._save_manifest()

    def _check_space(self, store_bytes: int) -> None:
        need = store_bytes + self.extra_bytes
        free = (self.free_space or disk_free)(self.folder)
        if need > free:
            raise LoadError(self.folder.parent, f"not enough disk space for the index of {self.layout.images:,} images: "
                                         f"it needs {format_size(need)}, {format_size(free)} are free here")

    def _save_manifest(self) -> None:
        _write_json(self.folder / MANIFEST, {"version": MANIFEST_VERSION, "layout": self.layout.__dict__,
                                             "chunk_size": self.chunk_size, "done": sorted(self.done)})

    def _part_path(self, j: int) -> Path:
        return self.folder / f"part-{j:06d}.npz"

    # ---- chunks ----
    def write(self, j: int, block: np.ndarray, part: dict[str, np.ndarray]) -> None:
        """Chunk j's counts ([N+1, C, n, 2], any unsigned type) and its part of the index, then the manifest."""
        chunk = self.chunks[j]
        lay = self.layout
        if block.shape != (lay.steps + 1, lay.classes, len(chunk), 2):
            raise ValueError(f"chunk {j}: counts of shape {block.shape}")
        need = narrowest_dtype(int(block.max(initial=0)))
        if DTYPES.index(need) > DTYPES.index(lay.dtype):
            self._widen(need)
            lay = self.layout
        if lay.classes:
            self._write_counts(chunk, np.ascontiguousarray(block, dtype=lay.dtype))
        with private_output(self._part_path(j)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **part)
        self.done.add(j)
        self._save_manifest()

    def _write_counts(self, chunk: range, data: np.ndarray) -> None:
        """Each (threshold, class) run of the chunk's images where it lives."""
        lay = self.layout
        view, size = memoryview(data).cast("B"), len(chunk) * 2 * lay.itemsize
        for k in range(lay.steps + 1):
            for c in range(lay.classes):
                at = (k * lay.classes + c) * size
                self._file.seek(lay.offset(k, c, chunk[0]))
                self._file.write(view[at:at + size])

    def _widen(self, dtype: str) -> None:
        """Rewrites what is written in a wider type (at most once per type step in a build)."""
        wide = self.layout.widened(dtype)
        self._check_space(wide.file_bytes)
        row = np.empty(self.layout.row_bytes // self.layout.itemsize, self.layout.dtype)
        with private_output(self.folder / PARTIAL) as tmp, open(tmp, "r+b") as out:
            out.write(wide.header())
            out.truncate(wide.file_bytes)
            for k in range(self.layout.steps + 1):
                self._file.seek(self.layout.offset(k))
                self._file.readinto(memoryview(row).cast("B"))
                out.seek(wide.offset(k))
                out.write(row.astype(dtype).tobytes())
            out.flush()
            _sync(out)
            self._file.close()
        self._file = _open_in_place(self.folder / PARTIAL)
        self.layout = wide
        self._save_manifest()

    def parts(self) -> Iterator[dict[str, np.ndarray]]:
        """Every chunk's part of the index, in dataset order (all chunks must be done)."""
        for j in range(len(self.chunks)):
            with np.load(self._part_path(j), allow_pickle=False) as arrays:
                yield {name: arrays[name] for name in arrays.files}

    # ---- the end ----
    def commit(self, store_path: Path) -> None:
        """The finished store under its name (one rename), the build folder removed."""
        if self.pending():
            raise RuntimeError("the build has unfinished chunks")
        self._file.seek(0)
        self._file.write(self.layout.header())
        _sync(self._file)
        self.close()
        _clear_odd(store_path)
        with private_output(store_path) as tmp:
            os.replace(self.folder / PARTIAL, tmp)
        self.discard()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
