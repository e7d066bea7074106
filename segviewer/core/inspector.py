"""The inspection engine: a dataset, its index, the current image and a frozen Scoring. Every face reads it.

The window runs its requests on worker threads, the CLI and the API call them directly; all of them reduce
every score from the same (tp, fp, fn) counts. Each request is tagged with the key of exactly the settings that
change its result (`request_key`), and a result is applied only while that key still matches the current one.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .calibration import CalibrationMixin
from .compare import CompareMixin
from .counts import Counts, Target, confusion_matrix
from .dataset import Dataset, Sample, evaluate
from .errors import LoadError, OptionError
from .index import DEFAULT_STEPS, ProbabilityIndex, build_index
from .index_cache import load_or_build
from .label_issues import LabelIssuesMixin
from .loaded import LoadedImage
from .overlay import ALL_CLASSES
from .scores import Scores, compute_scores, nanmean
from .scoring import Scoring
from .sweep import Best, best_thresholds

DIRECT_CACHE_SIZE = 4


@dataclass
class DatasetCounts:
    """Counts over the whole dataset for one count_key: totals [C] and per-image rows [I, C] in dataset order.

    Rows of images that failed to load are zero and marked in `loaded`; `exact` is False only when the index keeps
    per-image rows on a coarser grid than the threshold (very large datasets)."""
    key: tuple
    total: Counts
    soft: Counts
    per_image: Counts
    loaded: np.ndarray              # [I] bool
    exact: bool = True
    confusion: np.ndarray | None = None          # [C, C+1] when computed
    confusion_per_image: np.ndarray | None = None  # [I, C, C+1] int32 in dataset order, when computed
    failures: dict[int, str] = field(default_factory=dict)


def request_key(kind: str, scoring: Scoring, image: int | None = None, extra: tuple = ()) -> tuple:
    """The one rule: a result for (kind, image, the settings that change it, view extras)."""
    if kind in ("image_counts", "dataset_counts", "overlay", "regions"):
        settings = scoring.count_key()
    elif kind == "confusion":
        settings = scoring.count_key()
    elif kind == "best":
        settings = (scoring.beta, scoring.smooth)
    elif kind in ("image_scores", "dataset_scores", "images"):
        settings = scoring.score_key()
    else:
        raise OptionError(f"unknown request kind {kind!r}")
    return (kind, image, settings, extra)


class Inspector(CompareMixin, CalibrationMixin, LabelIssuesMixin):
    """The engine. Thread-safe for one writer of `scoring` and any number of readers of computed results."""

    def __init__(self, dataset: Dataset, scoring: Scoring | None = None, steps: int = DEFAULT_STEPS,
                 use_cache: bool = True):
        self.dataset = dataset
        self.steps = steps
        self.use_cache = use_cache
        self.failures: dict[int, str] = {}
        self.reviews: dict[str, str] = {}            # image name -> review status, when a QA session is attached
        self.cluster = None                          # a core.distributed.Cluster: the index is built there
        self._scoring = Scoring()
        self.scoring = scoring or Scoring()
        self._lock = threading.RLock()
        self._index: ProbabilityIndex | None = None
        self._index_rows: np.ndarray | None = None   # dataset position -> index row (-1 when not in the index)
        self._loaded: OrderedDict[int, LoadedImage] = OrderedDict()
        self._direct: OrderedDict[tuple, DatasetCounts] = OrderedDict()
        self._best: tuple[tuple, Best] | None = None
        self.closed = False

    # ---- settings ----
    @property
    def scoring(self) -> Scoring:
        return self._scoring

    @scoring.setter
    def scoring(self, value: Scoring) -> None:
        if not isinstance(value, Scoring):
            raise TypeError("scoring must be a segviewer.Scoring")
        value.check_classes(self.classes.num_classes)
        self._scoring = value.for_dataset(self.is_hard)

    def effective(self, scoring: Scoring | None) -> Scoring:
        return self._scoring if scoring is None else scoring.for_dataset(self.is_hard)

    # ---- the dataset ----
    @property
    def classes(self):
        return self.dataset.classes

    @property
    def is_hard(self) -> bool:
        return self.dataset.is_hard

    @property
    def names(self) -> list[str]:
        return self.dataset.names

    def __len__(self) -> int:
        return len(self.dataset)

    def position(self, image: int | str) -> int:
        """Dataset position of an image given by name or position."""
        if isinstance(image, (int, np.integer)):
            if not 0 <= int(image) < len(self):
                raise OptionError(f"image {image}: out of range (the dataset has {len(self)} images)")
            return int(image)
        rows = self._name_positions()
        if image not in rows:
            example = self.names[0] if len(self) else "none"
            raise OptionError(f"image {image!r}: no such image (e.g. {example!r})")
        return rows[image]

    def _name_positions(self) -> dict[str, int]:
        cached = getattr(self, "_positions", None)
        if cached is None:
            cached = self._positions = {n: i for i, n in enumerate(self.names)}
        return cached

    # ---- one image ----
    def load(self, image: int | str) -> LoadedImage:
        """The image's tensors and overlay maps (the last two are kept); LoadError names the file and problem."""
        i = self.position(image)
        with self._lock:
            if i in self._loaded:
                self._loaded.move_to_end(i)
                return self._loaded[i]
        try:
            sample = self.dataset.load(i)
        except LoadError as exc:
            self.failures[i] = str(exc)
            raise
        loaded = LoadedImage.prepare(i, sample, self.classes)
        with self._lock:
            self.failures.pop(i, None)
            self._loaded[i] = loaded
            while len(self._loaded) > 2:
                self._loaded.popitem(last=False)
        return loaded

    def image_counts(self, image: int | str, scoring: Scoring | None = None) -> Counts:
        """[C] tp/fp/fn of one image; from the index in O(classes) when it can, else counted on the pixels."""
        s = self.effective(scoring)
        i = self.position(image)
        from_index = self._image_counts_from_index(i, s)
        if from_index is not None:
            return from_index
        return self.load(i).counts(s)

    def _image_counts_from_index(self, i: int, s: Scoring) -> Counts | None:
        index = self._index
        if index is None or s.boundary or self._index_rows is None or self._index_rows[i] < 0:
            return None
        row = int(self._index_rows[i])
        if s.argmax:
            return Counts(*(torch.from_numpy(np.ascontiguousarray(a[row], dtype=np.int64))
                            for a in (index.argmax_tp, index.argmax_fp, index.argmax_fn)))
        try:
            if not index.image_counts_exact(s.effective_threshold()):
                return None
            return index.image_row_counts(row, s.effective_threshold())
        except ValueError:
            return None

    def image_soft(self, image: int | str, scoring: Scoring | None = None) -> Counts:
        return self.load(image).soft_counts(self.effective(scoring))

    def image_confusion(self, image: int | str, scoring: Scoring | None = None) -> np.ndarray:
        """[C, C+1] GT class x predicted class (last column: nothing predicted) for one image."""
        s = self.effective(scoring)
        loaded = self.load(image)
        return confusion_matrix(loaded.prediction(s), loaded.target(s)).cpu().numpy()

    # ---- the whole dataset ----
    def index(self, progress: Callable[[int, int], None] | None = None,
              cancelled: Callable[[], bool] | None = None) -> ProbabilityIndex:
        """The probability index (built once, or read from the cache beside the dataset)."""
        with self._lock:
            if self._index is not None:
                return self._index
        failures: list[LoadError] = []

        def build():
            if self.cluster is not None:
                from .distributed import build_index as build_on_cluster
                return build_on_cluster(self.dataset, self.steps, progress=progress, on_error=failures.append,
                                        cancelled=cancelled, cluster=self.cluster)
            return build_index(self.dataset, self.steps, progress=progress, on_error=failures.append,
                               cancelled=cancelled)
        index = load_or_build(self.dataset, self.steps, build)[0] if self.use_cache else build()
        self._record_index(index, failures)
        return index

    def _record_index(self, index: ProbabilityIndex, failures: list[LoadError]) -> None:
        rows = {n: r for r, n in enumerate(index.names)}
        order = np.array([rows.get(n, -1) for n in self.names], dtype=np.int64)
        reasons = {str(f.path): str(f) for f in failures if f.path is not None}
        with self._lock:
            for i in np.flatnonzero(order < 0):
                item = self.dataset.items[i]
                reason = next((reasons[str(p)] for p in (item.gt, item.pred, item.image) if str(p) in reasons),
                              self.failures.get(int(i), f"{item.name}: could not be loaded"))
                self.failures[int(i)] = reason
            self._index, self._index_rows = index, order

    @property
    def has_index(self) -> bool:
        return self._index is not None

    def dataset_counts(self, scoring: Scoring | None = None, progress=None, cancelled=None) -> DatasetCounts:
        """Totals and per-image rows at these settings: from the index when the threshold is on its grid and no
        boundary band is set (O(classes x bins)), else one direct pass, kept for the last few settings."""
        s = self.effective(scoring)
        index = self.index(progress, cancelled)
        key = request_key("dataset_counts", s)
        if not s.boundary:
            counts = self._counts_from_index(index, s, key)
            if counts is not None:
                return counts
        return self._direct_counts(s, key, progress)

    def _counts_from_index(self, index: ProbabilityIndex, s: Scoring, key: tuple) -> DatasetCounts | None:
        if s.argmax:
            per_image, exact = index.argmax_counts(), True
            total = _sum(per_image)
        else:
            t = s.effective_threshold()
            try:
                per_image, exact = index.image_counts(t), index.image_counts_exact(t)
                total = index.dataset_counts(t)
            except ValueError:
                return None
        soft = _sum(index.soft_counts())
        return DatasetCounts(key, total, soft, self._in_dataset_order(per_image), self._index_rows >= 0, exact=exact,
                             failures=dict(self.failures))

    def _direct_counts(self, s: Scoring, key: tuple, progress=None, with_confusion: bool = False) -> DatasetCounts:
        with self._lock:
            cached = self._direct.get(key)
        if cached is not None and (cached.confusion is not None or not with_confusion):
            return cached
        result = evaluate(self.dataset, s.effective_threshold(), s.argmax, boundary=s.boundary or None,
                          interior=s.interior, progress=progress, with_confusion=with_confusion)
        positions = self._name_positions()
        order = np.full(len(self), -1, np.int64)
        for r, n in enumerate(result.names):
            order[positions[n]] = r
        for exc in result.failures:
            for i, item in enumerate(self.dataset.items):
                if exc.path in (item.gt, item.pred, item.image):
                    self.failures[i] = str(exc)
        per_image_confusion = None
        if with_confusion:
            per_image_confusion = _reorder_rows(result.confusion_per_image.numpy().astype(np.int32), order)
        counts = DatasetCounts(key, result.total(), result.soft_total(), _reorder(result.counts, order), order >= 0,
                               confusion=result.confusion.numpy() if with_confusion else None,
                               confusion_per_image=per_image_confusion, failures=dict(self.failures))
        with self._lock:
            self._direct[key] = counts
            while len(self._direct) > DIRECT_CACHE_SIZE:
                self._direct.popitem(last=False)
        return counts

    def _in_dataset_order(self, per_image: Counts) -> Counts:
        return _reorder(per_image, self._index_rows)

    def dataset_confusion(self, scoring: Scoring | None = None, progress=None) -> np.ndarray:
        """[C, C+1] over the dataset: from the index in argmax mode, else one direct pass (kept)."""
        s = self.effective(scoring)
        index = self.index(progress)
        if s.argmax and not s.boundary:
            return index.confusion.sum(0).astype(np.int64)
        return self._direct_counts(s, request_key("dataset_counts", s), progress, with_confusion=True).confusion

    def per_image_confusion(self, scoring: Scoring | None = None, progress=None) -> np.ndarray:
        """[I, C, C+1] per image in dataset order (zeros for failed images): from the index in argmax mode."""
        s = self.effective(scoring)
        index = self.index(progress)
        if s.argmax and not s.boundary:
            return _reorder_rows(index.confusion, self._index_rows)
        return self._direct_counts(s, request_key("dataset_counts", s), progress,
                                   with_confusion=True).confusion_per_image

    def best_thresholds(self, scoring: Scoring | None = None) -> Best | None:
        """Per class, the grid threshold of maximum F-beta (None for hard masks)."""
        if self.is_hard:
            return None
        s = self.effective(scoring)
        key = request_key("best", s)
        with self._lock:
            if self._best is not None and self._best[0] == key:
                return self._best[1]
        index = self.index()
        best = best_thresholds(index.curves(), index.steps, s.beta, s.smooth)
        with self._lock:
            self._best = (key, best)
        return best

    # ---- scores ----
    def scores(self, counts: Counts, soft: Counts | None = None, scoring: Scoring | None = None) -> Scores:
        s = self.effective(scoring)
        return compute_scores(counts, s.beta, s.smooth, soft)

    def image_list(self, counts: DatasetCounts, class_id: int = ALL_CLASSES, scoring: Scoring | None = None) -> dict:
        """Per image (dataset order): mean F-beta and IoU over present classes, the chosen class's F-beta, and FP
        and FN pixels (for all classes: the sums of the per-class fp / fn the table shows)."""
        s = self.effective(scoring)
        pi = counts.per_image
        sc = compute_scores(pi, s.beta, s.smooth)
        mean_f, mean_iou = nanmean(sc.fbeta).numpy(), nanmean(sc.iou).numpy()
        if class_id == ALL_CLASSES:
            fp, fn, cls = pi.fp.sum(1).numpy(), pi.fn.sum(1).numpy(), mean_f
        else:
            fp, fn, cls = pi.fp[:, class_id].numpy(), pi.fn[:, class_id].numpy(), sc.fbeta[:, class_id].numpy()
        failed = ~counts.loaded
        nan = np.where(failed, np.nan, 1.0)
        return {"mean_fbeta": mean_f * nan, "class_fbeta": cls * nan, "mean_iou": mean_iou * nan,
                "fp": fp, "fn": fn, "failed": failed,
                "gt_present": (pi.tp + pi.fn > 0).numpy(), "pred_present": (pi.tp + pi.fp > 0).numpy()}

    # ---- tables for scripts (pandas imported only here) ----
    def image_scores(self, image: int | str):
        """A row per class: class_id, class_name, tp, fp, fn, precision, recall, fbeta, dice, iou."""
        from .tables import scores_frame
        return scores_frame(self.classes.names, self.image_counts(image), self.scoring)

    def dataset_scores(self):
        """The same columns over the whole dataset (images that fail to load are left out)."""
        from .tables import scores_frame
        return scores_frame(self.classes.names, self.dataset_counts().total, self.scoring)

    def images(self, class_id: int = ALL_CLASSES):
        """A row per image in dataset order, as the window's list shows it: image, mean_fbeta, mean_iou, fp, fn,
        status (the review status, or 'failed')."""
        from .tables import images_frame
        counts = self.dataset_counts()
        if not counts.exact:
            counts = self._direct_counts(self.scoring, counts.key)
        return images_frame(self.names, self.image_list(counts, class_id), self.reviews or self.session_statuses())

    def session_statuses(self) -> dict[str, str]:
        """The review statuses of this dataset's QA session (the window's, for this GT + prediction source), read
        without writing; empty when there is none or it cannot be read."""
        from .errors import LoadError
        from .session import ReviewStore
        from .session_paths import session_path
        try:
            path = session_path(self.dataset.options)
        except (LoadError, OSError, ValueError):
            return {}
        if not path.is_file():
            return {}
        try:
            store = ReviewStore(path, read_only=True)
        except (LoadError, OSError):
            return {}
        try:
            return {name: review.status for name, review in store.reviews().items()}
        finally:
            store.close()

    def confusion(self, image: int | str | None = None):
        """GT class x predicted class pixel counts (+ a 'none' column in threshold mode)."""
        from .tables import confusion_frame
        matrix = self.dataset_confusion() if image is None else self.image_confusion(image)
        return confusion_frame(self.classes.names, matrix, with_none=not self.scoring.argmax)

    def show(self, block: bool | None = None):
        """The window on this engine: blocking in a script, non-blocking in IPython/Jupyter under `%gui qt`."""
        from ..api import show   # the one declared exception to the core's no-GUI layer (pyproject.toml)
        return show(self, block=block)

    # ---- lifetime ----
    def close(self) -> None:
        with self._lock:
            self._loaded.clear()
            self._direct.clear()
        self.closed = True

    def __enter__(self) -> "Inspector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<segviewer.Inspector {len(self)} images, {self.classes.num_classes} classes, "
                f"{self.dataset.options.pred_kind}, {self.scoring}>")


def _sum(counts: Counts) -> Counts:
    return Counts(counts.tp.sum(0), counts.fp.sum(0), counts.fn.sum(0))


def _reorder_rows(rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows rearranged to dataset order (order[i] = source row, -1 -> a zero row)."""
    found = order >= 0
    out = np.zeros((len(order),) + rows.shape[1:], rows.dtype)
    out[found] = rows[order[found]]
    return out


def _reorder(counts: Counts, order: np.ndarray) -> Counts:
    return Counts(*(torch.from_numpy(_reorder_rows(t.numpy().astype(np.int64), order))
                    for t in (counts.tp, counts.fp, counts.fn)))


__all__ = ["Inspector", "DatasetCounts", "LoadedImage", "Sample", "Target", "request_key"]
