"""Per-image counts at every grid threshold, on disk beside the index: read one threshold for every image at once.

The file is a 4 KiB header (magic, then JSON: the dataset key, images, classes, steps, dtype) and the counts
laid out threshold-major: for k = 0..N, for class c, for image i (dataset position), the pair (tp, predicted) =
the image's GT-c pixels and valid pixels whose probability of c is above the grid value k/N. A slider step for
every image is one read of C×I pairs (per-class thresholds: one read per run of classes sharing a threshold),
whatever the number of images; memory holds only that row.

Files are read with positioned reads, never memory-mapped: a file shortened under a mapping kills the process
(SIGBUS), a short read is only an error. Nothing in the file is trusted: the header must match what the index
expects, the size must match the header, and every row read is checked against the index (each count within
the image's pixels, tp <= predicted, and the rows summing to the dataset's own histograms) before use.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import LoadError
from .reads import open_regular, read_fully

MAGIC = b"SEGVCNT\x00"
VERSION = 1
HEADER_BYTES = 4096
DTYPES = ("<u1", "<u2", "<u4", "<u8")      # the narrowest that holds an image's pixel count is used
READ_AHEAD = 4                             # thresholds on either side of the one read, asked of the kernel


class StoreDamaged(Exception):
    """The store cannot be used (missing, foreign, truncated or inconsistent): it is rebuilt, never trusted."""


def narrowest_dtype(largest: int) -> str:
    """The smallest unsigned type of DTYPES that holds the value."""
    for dtype in DTYPES:
        if largest <= np.iinfo(np.dtype(dtype)).max:
            return dtype
    raise ValueError(f"{largest} does not fit 64 bits")


@dataclass(frozen=True)
class StoreLayout:
    """Where every count lives; two stores with equal layouts and content are equal byte for byte."""
    key: str            # the dataset key (index_cache.dataset_key) the counts belong to
    images: int         # dataset positions (an image that failed to load keeps a zero row)
    classes: int
    steps: int          # thresholds k/steps for k = 0..steps
    dtype: str

    @property
    def itemsize(self) -> int:
        return np.dtype(self.dtype).itemsize

    @property
    def row_bytes(self) -> int:
        """One threshold: every class of every image."""
        return self.classes * self.images * 2 * self.itemsize

    @property
    def file_bytes(self) -> int:
        return HEADER_BYTES + (self.steps + 1) * self.row_bytes

    def offset(self, k: int, class_id: int = 0, image: int = 0) -> int:
        return HEADER_BYTES + k * self.row_bytes + (class_id * self.images + image) * 2 * self.itemsize

    def widened(self, dtype: str) -> "StoreLayout":
        return StoreLayout(self.key, self.images, self.classes, self.steps, dtype)

    def header(self) -> bytes:
        text = json.dumps({"version": VERSION, **asdict(self)}, sort_keys=True).encode()
        head = MAGIC + len(text).to_bytes(4, "little") + text
        if len(head) > HEADER_BYTES:
            raise ValueError("store header too long")
        return head.ljust(HEADER_BYTES, b"\0")

    @classmethod
    def parse(cls, head: bytes) -> "StoreLayout":
        """The layout a header declares; StoreDamaged for anything that is not a header this version wrote."""
        if len(head) < HEADER_BYTES or head[:8] != MAGIC:
            raise StoreDamaged("not a segviewer count store")
        size = int.from_bytes(head[8:12], "little")
        if not 0 < size <= HEADER_BYTES - 12:
            raise StoreDamaged("damaged header")
        try:
            fields = json.loads(head[12:12 + size].decode())
        except (UnicodeDecodeError, ValueError):
            raise StoreDamaged("damaged header") from None
        if not isinstance(fields, dict):
            raise StoreDamaged("damaged header")
        version = fields.pop("version", None)
        if type(version) is not int or version != VERSION:
            raise StoreDamaged("written by another version")
        try:
            layout = cls(**fields)
        except TypeError:
            raise StoreDamaged("damaged header") from None
        ok = (isinstance(layout.key, str) and layout.dtype in DTYPES
              and all(type(v) is int and v >= 0 for v in (layout.images, layout.classes, layout.steps)))
        if not ok:
            raise StoreDamaged("damaged header")
        return layout


@dataclass
class Bounds:
    """What the index knows about every image, against which each row read is checked."""
    gt_count: np.ndarray      # [I, C] GT pixels per class (zero rows for images that failed)
    pos_above: np.ndarray     # [C, N+1] dataset tp at each threshold (from the index's histograms)
    pred_above: np.ndarray    # [C, N+1] dataset predicted pixels at each threshold

    def __post_init__(self):
        self.gt_by_class = np.ascontiguousarray(self.gt_count.T)      # [C, I], as rows are read
        self.valid = self.gt_count.sum(1)       # [I] valid pixels: each has exactly one GT class
        self._narrow: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def narrow(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """GT pixels [C, I] and valid pixels [I] in a row's type, capped at its largest value (a count of that
        type is never above it, so the comparisons are those of the full values), made once."""
        if dtype not in self._narrow:
            top = np.iinfo(np.dtype(dtype)).max
            self._narrow[dtype] = tuple(np.minimum(a, top).astype(dtype) for a in (self.gt_by_class, self.valid))
        return self._narrow[dtype]


class CountsRow:
    """Every image's (tp, predicted) at one threshold per class ([C, I] each, any integer type): int64 (tp, fp, fn)
    made when asked for, for every image (kept) or for a few (the rows a list shows) or for one class."""

    def __init__(self, tp: np.ndarray, pred: np.ndarray, gt_by_class: np.ndarray):
        self.tp, self.pred, self.gt = tp, pred, gt_by_class
        self._full: tuple | None = None

    def _make(self, tp, pred, gt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tp = tp.astype(np.int64)
        return tp, np.subtract(pred, tp, dtype=np.int64), gt - tp

    def full(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._full is None:
            self._full = self._make(self.tp, self.pred, self.gt)
        return self._full

    def subset(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[C, n] of these dataset positions."""
        if self._full is not None:
            return tuple(a[:, images] for a in self._full)
        return self._make(self.tp[:, images], self.pred[:, images], self.gt[:, images])

    def of_class(self, class_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[I] of one class."""
        return self._make(self.tp[class_id], self.pred[class_id], self.gt[class_id])


def check_counts(tp: np.ndarray, pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> None:
    """Counts (class-major [C, I], or [C] of one image with its scalar valid) must be possible for these images:
    tp <= predicted, tp <= GT pixels, predicted <= valid pixels."""
    if not ((tp <= pred).all() and (tp <= gt).all() and (pred <= valid).all()):
        raise StoreDamaged("counts that no image can have")


class CountStore:
    """A finished store opened for reading; thread-safe (one positioned read at a time)."""

    def __init__(self, path: Path, layout: StoreLayout, handle, bounds: Bounds):
        self.path, self.layout, self._file, self.bounds = path, layout, handle, bounds
        self._lock = threading.Lock()
        self._last: tuple[bytes, CountsRow] | None = None   # the row read last: a step asks for it twice or more

    @classmethod
    def open(cls, path: Path, key: str, images: int, classes: int, steps: int, bounds: Bounds) -> "CountStore":
        """The store at path if it is the one these expectations describe, else StoreDamaged (missing too)."""
        try:
            handle = open_regular(path, "count store")
        except LoadError as exc:
            raise StoreDamaged(exc.reason) from None
        try:
            layout = StoreLayout.parse(handle.read(HEADER_BYTES))
            if (layout.key, layout.images, layout.classes, layout.steps) != (key, images, classes, steps):
                raise StoreDamaged("belongs to other files or settings")
            if os.fstat(handle.fileno()).st_size != layout.file_bytes:
                raise StoreDamaged("truncated or padded")
        except BaseException:
            handle.close()
            raise
        return cls(Path(path), layout, handle, bounds)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    # ---- reads ----
    def _read_into(self, offset: int, out: np.ndarray) -> None:
        view = memoryview(out).cast("B")
        with self._lock:
            if self._file is None:
                raise StoreDamaged("closed")
            self._file.seek(offset)
            if read_fully(self._file, view) < len(view):
                raise StoreDamaged("shorter than its header says (truncated while open?)")

    def counts(self, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, fp, fn) of every image at grid step ks[c] for class c, class-major [C, I] int64, checked."""
        return self.row(ks).full()

    def row(self, ks: np.ndarray) -> "CountsRow":
        """Every image's counts at grid step ks[c] for class c, as read (the store's narrow type), checked: each
        count possible for its image (tp <= predicted <= valid pixels, tp <= GT pixels) and every class's row
        adding up to the index's histograms. A slider step costs this; int64 counts are made when asked for."""
        lay, b = self.layout, self.bounds
        ks = self._steps(ks)
        with self._lock:
            last = self._last
        if last is not None and last[0] == ks.tobytes():
            return last[1]
        raw = np.empty((lay.classes, lay.images, 2), lay.dtype)
        start = 0
        for end in _run_ends(ks):           # one read per run of consecutive classes at the same step
            self._read_into(lay.offset(int(ks[start]), start), raw[start:end])
            start = end
        self._read_ahead(int(ks[0]) if (ks == ks[0]).all() else None)
        tp, pred = raw[:, :, 0], raw[:, :, 1]
        check_counts(tp, pred, *b.narrow(lay.dtype))
        classes = np.arange(lay.classes)
        if not (np.array_equal(np.add.reduce(tp, axis=1, dtype=np.int64), b.pos_above[classes, ks]) and
                np.array_equal(np.add.reduce(pred, axis=1, dtype=np.int64), b.pred_above[classes, ks])):
            raise StoreDamaged("rows do not add up to the index's histograms")
        row = CountsRow(tp, pred, b.gt_by_class)
        with self._lock:
            self._last = (ks.tobytes(), row)
        return row

    def _read_ahead(self, k: int | None) -> None:
        """Asks the kernel to read the thresholds around k in the background (a slider moves to a neighbour next):
        a row not in the page cache costs a disk read (7.6 MB at 100,000 images), a cached one ~1 ms."""
        advise = getattr(os, "posix_fadvise", None)
        if k is None or advise is None:
            return
        lay = self.layout
        first, last = max(0, k - READ_AHEAD), min(lay.steps, k + READ_AHEAD)
        with self._lock:
            if self._file is not None:
                try:
                    advise(self._file.fileno(), lay.offset(first), (last - first + 1) * lay.row_bytes,
                           os.POSIX_FADV_WILLNEED)
                except OSError:
                    pass

    def _steps(self, ks) -> np.ndarray:
        ks = np.broadcast_to(np.asarray(ks, np.int64), (self.layout.classes,))
        if ((ks < 0) | (ks > self.layout.steps)).any():
            raise ValueError(f"grid steps {ks.tolist()} outside 0..{self.layout.steps}")
        return ks

    def image_counts(self, image: int, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, fp, fn) [C] int64 of one image (dataset position), from its checked row: one image's entries have
        nothing to add up to, so a chunk lost in a power cut (zeros) would pass for counts read alone."""
        row = self.row(ks)
        tp = row.tp[:, image].astype(np.int64)
        return tp, row.pred[:, image].astype(np.int64) - tp, self.bounds.gt_count[image] - tp


def _run_ends(ks: np.ndarray) -> list[int]:
    """End of each run of equal consecutive values."""
    ks = np.asarray(ks)
    return [*(np.flatnonzero(ks[1:] != ks[:-1]) + 1).tolist(), len(ks)]
