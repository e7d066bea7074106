"""CPU probability histograms, argmax map and confusion in one pass over cache-sized pixel blocks, on a few threads.

A grid bin costs one lookup instead of float64 arithmetic on every value: the float32 bit pattern of p, shifted
right, names a bucket of consecutive floats narrow enough to hold at most one grid value g_k = float32(k/N); a
table gives s = #{k : g_k < bucket start}, and then bin(p) = #{k : g_k < p} = s + (p > g_s) exactly, with
g_s = float32(s) / float32(N) (IEEE division rounds correctly, so that is the grid value itself; when the bucket
holds no grid value g_s lies past its end and the comparison is false). numpy's take and ufuncs and torch's
bincount release the GIL, so the blocks run in parallel on a small thread pool.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

BLOCK_PIXELS = 1 << 17         # fewer, larger blocks: each numpy call then hands the GIL over less often
MAX_TABLE_ENTRIES = 1 << 18     # finer grids than ~4,000 steps fall back to index.bin_probabilities


@dataclass(frozen=True)
class BinTable:
    """start[key] for key = bits(p) >> shift, clipped to the table: keys below the bucket of g_1 hold 0 (p <= 0
    gives bin 0, 0 < p < g_1 bin 1), and the last bucket starts at 1.0 and takes everything above it."""
    steps: int
    shift: int
    start: np.ndarray    # int32


@dataclass
class ImagePass:
    pos: np.ndarray        # [C, N+2] int64, bins of p_c over GT-c pixels
    pred: np.ndarray       # [C, N+2] int64, bins of p_c over valid pixels
    argmax: np.ndarray     # [H·W] int64, the most probable class, the first on ties (as torch.max)
    confusion: np.ndarray  # [C, C+1] int64, GT rows, argmax columns (the last, 'no prediction', stays 0)


@functools.lru_cache(maxsize=8)
def bin_table(steps: int) -> BinTable | None:
    """The lookup table of the grid k/steps, or None when it would not fit the cache (very fine grids)."""
    grid = (np.arange(steps + 1, dtype=np.float64) / steps).astype(np.float32)
    one = int(np.float32(1.0).view(np.int32))
    for shift in range(23, 0, -1):
        first, last = (int(grid[1].view(np.int32)) >> shift) - 1, one >> shift
        if last + 1 > MAX_TABLE_ENTRIES:
            return None
        starts = (np.arange(first, last + 2, dtype=np.int64) << shift).astype(np.int32).view(np.float32)
        starts[0] = 0.0
        below = np.searchsorted(grid, starts, side="left")      # #{g_k < bucket start}
        if np.all(np.diff(below) <= 1):                           # one grid value per bucket at most
            # indexed by the key itself, no subtraction per value: the keys below `first` repeat bucket 0
            start = np.concatenate([np.zeros(first, np.int64), below[:-1]]).astype(np.int32)
            start[first], start[-1] = 0, steps
            return BinTable(steps, shift, start)
    return None


def bin_block(x: np.ndarray, table: BinTable, scratch: tuple | None = None) -> np.ndarray:
    """int32 bins of a contiguous float32 block; scratch: (int64 keys, int32 bins, bool, float32) of its size."""
    key, bins, above, grid = scratch or (None, None, None, None)
    key = np.right_shift(x.view(np.int32), table.shift, out=key, dtype=np.int64, casting="unsafe")
    # int64 keys: take converts any other index type first; 'clip' sends p < 0 to bucket 0 and p > 1 to the last
    bins = table.start.take(key, mode="clip", out=bins)
    grid = np.divide(bins, np.float32(table.steps), out=grid, dtype=np.float32, casting="unsafe")
    bins += np.greater(x, grid, out=above)
    return bins


def _workers() -> int:
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1, 8))


def blocked_image_pass(probs: torch.Tensor, labels: np.ndarray, ignored: np.ndarray | None, table: BinTable) -> ImagePass:
    """labels: flat class ids (ignore pixels may hold any class); ignored: their flat indices, or None."""
    flat = probs.detach().reshape(probs.shape[0], -1).numpy()
    c, n, nbins = flat.shape[0], flat.shape[1], table.steps + 2
    labels = labels.astype(np.uint8 if c <= 256 else np.int32)   # small ids: the per-class compares stream less
    argmax = np.empty(n, np.int64)
    blocks = [(s, min(s + BLOCK_PIXELS, n)) for s in range(0, n, BLOCK_PIXELS)]

    def run(block):
        with _scratch(labels.dtype) as scratch:
            return _block_counts(flat, labels, argmax, block, table, scratch)

    parts = _run_blocks(run, blocks, _workers())
    zeros = (np.zeros((c, nbins), np.int64), np.zeros((c, nbins), np.int64), np.zeros(c * (c + 1), np.int64))
    pos, pred, confusion = (sum((p[i] for p in parts), zeros[i]) for i in range(3))
    confusion = confusion.reshape(c, c + 1)
    if ignored is not None and len(ignored):
        lab, argmax_ign = labels[ignored].astype(np.int64), argmax[ignored]
        pos -= _class_bin_counts(flat[lab, ignored], lab, table, c)
        pred -= _class_bin_counts(flat[:, ignored], np.repeat(np.arange(c), len(ignored)), table, c)
        confusion -= np.bincount(lab * (c + 1) + argmax_ign, minlength=c * (c + 1)).reshape(c, c + 1)
    return ImagePass(pos, pred, argmax, confusion)


def _run_blocks(run, blocks: list, workers: int) -> list:
    """run(block) for every block, on a kept pool: measured in the Evaluator's loop, threads started per pass (or the
    calling thread working too) cost ~10 ms more per 19×512×1024 image than threads that wait for the next pass.
    One block runs on the calling thread: cutting a 256×512 image in two for two threads measured slower."""
    if workers < 2 or len(blocks) < 2:
        return [run(b) for b in blocks]
    return list(_pool(workers).map(run, blocks))


_kept: dict[int, ThreadPoolExecutor] = {}
_kept_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The kept pool of this size; one of another size (torch.set_num_threads changed) is shut down."""
    with _kept_lock:
        if workers not in _kept:
            for old in _kept.values():
                old.shutdown(wait=False)
            _kept.clear()
            _kept[workers] = ThreadPoolExecutor(workers, thread_name_prefix="segviewer-bins")
        return _kept[workers]


def _forget_pool_after_fork() -> None:
    global _kept_lock, _scratch_lock
    _kept.clear()
    _kept_lock, _scratch_lock = threading.Lock(), threading.Lock()   # another thread may have held them
    # torch rebuilds its own thread pool in a child on first use; two of our threads doing that at once raced to
    # "Invalid thread pool!" (seen in CI after torch.set_num_threads had been called). Rebuild it here, once.
    torch.set_num_threads(torch.get_num_threads())


# a forked child (DDP ranks, DataLoader workers) inherits the pool without its threads: it would wait forever
os.register_at_fork(after_in_child=_forget_pool_after_fork)


class _ScratchSet:
    """One block's buffers; kept between passes: fresh ones per block would be mostly page faults."""

    def __init__(self, size: int, index_dtype):
        self.size, self.index_dtype = size, index_dtype
        self.arrays = tuple(np.empty(size, dtype) for dtype in (np.int64, np.int32, bool, np.float32, np.float32,
                                                                 np.int32, index_dtype, index_dtype))

    def views(self, size: int) -> tuple[np.ndarray, ...]:
        return tuple(a[:size] for a in self.arrays)


_free_scratch: list[_ScratchSet] = []
_scratch_lock = threading.Lock()
MAX_KEPT_SCRATCH = 8


@contextlib.contextmanager
def _scratch(index_dtype):
    """A free set of block buffers (made when none fits), given back after the block."""
    with _scratch_lock:
        fits = [s for s in _free_scratch if s.size >= BLOCK_PIXELS and s.index_dtype == index_dtype]
        if fits:
            _free_scratch.remove(fits[0])
    found = fits[0] if fits else _ScratchSet(BLOCK_PIXELS, index_dtype)
    try:
        yield found
    finally:
        with _scratch_lock:
            if len(_free_scratch) < MAX_KEPT_SCRATCH:
                _free_scratch.append(found)


def _block_counts(flat: np.ndarray, labels: np.ndarray, argmax: np.ndarray, block, table: BinTable,
                  scratch: _ScratchSet):
    """One block of pixels, class by class: bins counted apart for GT and other pixels, running argmax updated.

    Selections are arithmetic on 0/1 masks (old + mask·(new − old)): numpy's masked copies are ~10x slower."""
    s, e = block
    c, nbins = flat.shape[0], table.steps + 2
    key, bins, mask, grid, best, gt_offset, index, step = scratch.views(e - s)
    pos, pred = np.empty((c, nbins), np.int64), np.empty((c, nbins), np.int64)
    lab = labels[s:e]
    index[:] = 0
    for k in range(c):
        x = flat[k, s:e]
        bin_block(x, table, (key, bins, mask, grid))
        # GT-k pixels count in a second half of the histogram: one bincount gives both
        bins += np.multiply(np.equal(lab, k, out=mask), nbins, out=gt_offset, dtype=np.int32)
        both = _bincount_in_pieces(bins, 2 * nbins)
        pos[k] = both[nbins:]
        np.add(both[:nbins], pos[k], out=pred[k])
        if k == 0:
            best[:] = x
            continue
        np.greater(x, best, out=mask)      # strictly: an earlier class keeps a tie, as torch.max does
        np.maximum(best, x, out=best)
        np.subtract(index, k, out=step)
        index -= np.multiply(step, mask.view(np.uint8), out=step, casting="unsafe")
    argmax[s:e] = index
    confusion = _bincount_in_pieces(lab.astype(np.int64) * (c + 1) + index, c * (c + 1))
    return pos, pred, confusion


SERIAL_PIECE = 32767   # torch reduces tensors smaller than its grain size (32768) without an OpenMP region


def _bincount_in_pieces(keys: np.ndarray, length: int) -> np.ndarray:
    """torch's bincount releases the GIL (numpy's does not), but checks its input's range with two reductions that
    open OpenMP regions above torch's grain size: ~40 regions per block, which stall for hundreds of ms when
    another process keeps the cores busy (measured here). Pieces below the grain size open none."""
    t = torch.from_numpy(keys)
    counts = torch.bincount(t[:SERIAL_PIECE], minlength=length)
    for s in range(SERIAL_PIECE, len(keys), SERIAL_PIECE):
        counts += torch.bincount(t[s:s + SERIAL_PIECE], minlength=length)
    return counts.numpy()


def _class_bin_counts(values: np.ndarray, classes: np.ndarray, table: BinTable, c: int) -> np.ndarray:
    """[C, N+2] counts of (class, bin) for a few scattered values (the ignore pixels)."""
    nbins = table.steps + 2
    keys = bin_block(np.ascontiguousarray(values, np.float32).ravel(), table) + classes.astype(np.int64) * nbins
    return np.bincount(keys, minlength=c * nbins).reshape(c, nbins)
