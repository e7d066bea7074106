"""The inspection engine: a dataset, its index, the loaded images, one failure log and the evented Scoring.

Every face reads it: the window runs its requests on worker threads, the CLI and the API call them directly, and
all of them reduce every score from the same (tp, fp, fn) counts. The analyses are parts the engine holds
(`ins.compare`, `ins.calibration`, `ins.label_issues`, `ins.boundary`); every dataset pass goes through
core.passes, on the engine's cluster when it has one. `key()` names the settings each kind of result depends on.
"""
from __future__ import annotations

import threading
from typing import Callable, Literal

import numpy as np

from .cache import BoundedCache
from .counts import Counts, DatasetCounts
from .dataset import Dataset, Sample, checked_dataset
from .distributed import Connection
from . import validate
from .errors import ClosedError, LoadError, OptionError
from .events import Events
from .failures import FailureLog
from .index import DEFAULT_STEPS, ProbabilityIndex
from .index_cache import KeptIndex
from .inspector_tables import InspectorTables
from .keys import KINDS, settings_key
from .loaded import LoadedImage
from .loaded_volume import prepare_loaded, volume_axis
from .overlay import ALL_CLASSES
from .parts import Boundary, Calibration, Compare, LabelIssues, Slices, refuse_after_close
from .scores import Scores, compute_scores
from .scoring import Scoring, checked_scoring
from .sweep import Best, best_thresholds

LOADED_IMAGES = 2          # the current image and the one before it (flicking back is instant)
LOADED_CASES = 1           # a 3-D case: one in memory (the last is let go before the next is read)
DIRECT_CACHE_SIZE = 4      # dataset passes kept for settings the index cannot answer (bands, off-grid thresholds)
CountSource = Literal["index", "pass"]


@refuse_after_close
class Inspector(InspectorTables):
    """The engine (its pandas tables for scripts: InspectorTables). Thread-safe for any number of readers; settings may be set from any thread (listeners are
    called in the setter's thread)."""

    def __init__(self, dataset: Dataset, scoring: Scoring | None = None, steps: int = DEFAULT_STEPS,
                 use_cache: bool = True, cluster=None):
        self.steps, self.use_cache = validate.steps(steps), use_cache
        self.session = None           # the QA session images() reads (a file or a PostgreSQL target; None: the window's)
        self._connection = Connection(cluster)
        self.events = Events("scoring", "compare_scoring", "closed")
        self._closed = False
        self._lock = threading.RLock()
        self._caches: list[BoundedCache] = []
        self._loaded = self._add_cache(LOADED_IMAGES)        # position -> LoadedImage
        self._direct = self._add_cache(DIRECT_CACHE_SIZE)    # (count key, with confusion) -> DatasetCounts
        self._best = self._add_cache(1)                       # (beta, smooth) -> Best
        self.compare = Compare(self)
        self.calibration = Calibration(self)
        self.label_issues = LabelIssues(self)
        self.boundary = Boundary(self)
        self.slices = Slices(self)
        self._scoring = self._compare_scoring = Scoring()
        self.dataset = dataset
        if scoring is not None:
            self.scoring = scoring

    def _add_cache(self, size: int) -> BoundedCache:
        self._caches.append(BoundedCache(size))
        return self._caches[-1]

    # ---- where the passes run ----
    @property
    def cluster(self):
        """A core.distributed.Cluster (or a dask Client) every pass runs on; None: this process."""
        return self._connection.cluster

    @cluster.setter
    def cluster(self, cluster) -> None:
        self._connection.close()
        self._connection = Connection(cluster)

    def cluster_client(self):
        """The Dask client the passes run on (started on first use, kept until close()); None: this process."""
        return self._connection.client()

    @property
    def parts(self) -> tuple:
        return (self.compare, self.calibration, self.label_issues, self.boundary, self.slices)

    # ---- the dataset: setting another one resets everything computed from the last ----
    @property
    def dataset(self) -> Dataset:
        return self._dataset

    @dataset.setter
    def dataset(self, dataset: Dataset) -> None:
        self._check_open()
        checked_dataset(dataset)
        with self._lock:
            self._scoring.check_classes(dataset.classes.num_classes)
            self._dataset = dataset
            self.failures = FailureLog(dataset.items)
            self._positions = {name: i for i, name in enumerate(dataset.names)}
            if hasattr(self, "_kept"):
                self._kept.keep(None)
            self._kept = KeptIndex(dataset, self.steps, self.use_cache)   # a row per image, its store open
            self.index_from_cache = False
            for cache in self._caches:
                cache.clear()
            self._loaded.size = LOADED_CASES if dataset.volumes else LOADED_IMAGES
            for part in self.parts:
                part.reset()
        self.scoring = self._scoring                     # hard masks predict by themselves: argmax

    # ---- the settings ----
    @property
    def scoring(self) -> Scoring:
        return self._scoring

    @scoring.setter
    def scoring(self, value: Scoring) -> None:
        self._set("scoring", value, hard_masks_argmax=True)

    @property
    def compare_scoring(self) -> Scoring:
        """Model B's threshold / argmax (its beta, smoothing and band are model A's)."""
        return self._compare_scoring

    @compare_scoring.setter
    def compare_scoring(self, value: Scoring) -> None:
        self._set("compare_scoring", value)

    def _set(self, name: str, value: Scoring, hard_masks_argmax: bool = False) -> None:
        """The one way a setting changes: validated, kept, then every listener told (in this thread)."""
        self._check_open()
        checked_scoring(value, name).check_classes(self.classes.num_classes)
        if hard_masks_argmax:
            value = value.for_dataset(self.is_hard)
        with self._lock:
            old = getattr(self, f"_{name}")
            if value == old:
                return              # nothing changed: the object everyone holds stays the engine's
            setattr(self, f"_{name}", value)
        getattr(self.events, name).emit(old, value)

    def effective(self, scoring: Scoring | None) -> Scoring:
        return self._scoring if scoring is None else checked_scoring(scoring).for_dataset(self.is_hard)

    def key(self, kind: str, scoring: Scoring | None = None, image: int | None = None, extra: tuple = (),
            compare_scoring: Scoring | None = None) -> tuple:
        """The key of a result of this kind: exactly the settings that change it (core.keys.KINDS), the image,
        and the caller's own extras (a view, a class, a bin count ...)."""
        if kind not in KINDS:
            raise OptionError(f"unknown kind of result {kind!r} (kinds: {', '.join(KINDS)})")
        depends, with_b = KINDS[kind]
        s = self.effective(scoring)
        b = self.compare.scoring_b(s, compare_scoring).prediction_key() if with_b else ()
        return (kind, image, settings_key(depends, s), b, tuple(extra))

    # ---- the dataset's facts ----
    @property
    def classes(self):
        return self._dataset.classes

    @property
    def is_hard(self) -> bool:
        return self._dataset.is_hard

    @property
    def names(self) -> list[str]:
        return self._dataset.names

    def __len__(self) -> int:
        return len(self._dataset)

    def position(self, image: int | str) -> int:
        """Dataset position of an image given by name or position."""
        if isinstance(image, (int, np.integer)):
            if not 0 <= int(image) < len(self):
                raise OptionError(f"image {image}: out of range (the dataset has {len(self)} images)")
            return int(image)
        if image not in self._positions:
            example = self.names[0] if len(self) else "none"
            raise OptionError(f"image {image!r}: no such image (e.g. {example!r})")
        return self._positions[image]

    # ---- one image ----
    def load(self, image: int | str) -> LoadedImage:
        """The image's tensors and overlay maps (the last few are kept); LoadError names the file and problem."""
        i = self.position(image)
        found = self._loaded.get(i)
        if found is not None:
            return found
        if self._dataset.volumes:
            self._loaded.clear()
        try:
            sample = self._dataset.load(i)
        except LoadError as exc:
            self.failures.record_at(i, str(exc))
            raise
        self.failures.forget(i)
        return self._loaded.put(i, prepare_loaded(i, sample, self.classes))

    def image_counts(self, image: int | str, scoring: Scoring | None = None) -> Counts:
        """[C] tp/fp/fn of one image; from the index in O(classes) when it can, else counted on the pixels."""
        s, i = self.effective(scoring), self.position(image)
        found = self.indexed_image_counts(i, s)
        return found if found is not None else self.load(i).counts(s)

    def indexed_image_counts(self, image: int | str, scoring: Scoring | None = None) -> Counts | None:
        """[C] counts of one image from the built index in O(classes); None when the index cannot answer (not
        built, a band, a threshold off its grid, the image not loaded, its count store damaged)."""
        s, i = self.effective(scoring), self.position(image)
        index = self._kept.index
        if index is None or s.boundary or not index.loaded[i]:
            return None
        if s.argmax:
            return index.argmax_row_counts(i)
        return self._kept.read(index, lambda: index.image_row_counts(i, s.effective_threshold()))

    def image_confusion(self, image: int | str, scoring: Scoring | None = None) -> np.ndarray:
        """[C, C+1] GT class x predicted class (last column: nothing predicted) for one image."""
        return self.load(image).confusion(self.effective(scoring)).cpu().numpy()

    # ---- the probability index ----
    def index(self, progress: Callable[[int, int], None] | None = None, cancelled: Callable[[], bool] | None = None,
              strict: bool = False, rebuild: bool = False) -> ProbabilityIndex:
        """The probability index and every image's counts at every grid threshold: read from the cache beside
        the dataset, or built there (on the cluster when there is one; an interrupted build resumes);
        rebuild=True builds them again. use_cache=False builds them in a temporary folder instead."""
        from .index_cache import load_or_build
        from .passes import index_pass
        with self._lock:
            if self._kept.index is not None and not rebuild:
                return self._kept.index
        failures: list = []

        def build(path, key) -> ProbabilityIndex:
            return index_pass(self._dataset, self._scoring, self.cluster_client(), steps=self.steps,
                              on_error=failures.append, strict=strict, progress=progress, cancelled=cancelled,
                              path=path, key=key)
        index, cached = load_or_build(self._dataset, self.steps, build, rebuild, self.use_cache)
        self._keep_index(index, failures, cached)
        return index

    def _keep_index(self, index: ProbabilityIndex, failures: list, cached: bool) -> None:
        self.failures.record_all(failures)
        for i in np.flatnonzero(~index.loaded):
            if int(i) not in self.failures:     # a cached index knows only that the image was left out
                self.failures.record_at(int(i), f"{self.names[i]}: could not be loaded")
        with self._lock:
            self._kept.keep(index)
            self.index_from_cache = cached
            self._best.clear()

    @property
    def built_index(self) -> ProbabilityIndex | None:
        """The index when it has been built (or read), without building it."""
        return self._kept.index

    # ---- the whole dataset ----
    def dataset_counts(self, scoring: Scoring | None = None, progress=None, cancelled=None, *,
                       source: CountSource = "index", strict: bool = False, slice_axis=None) -> DatasetCounts:
        """Every image's counts at these settings. source "index": from the index when the threshold is on its
        grid and no band is set (O(classes x bins)), else one pass over the pixels, kept for the last few
        settings; "pass": always the pass (no index is built: what `segviewer export` runs). slice_axis (a volume
        dataset; 'axial', 'coronal', 'sagittal'): the pass also keeps every case's counts per slice (per_slice)."""
        if source not in ("index", "pass"):
            raise OptionError(f"source {source!r}: use 'index' or 'pass'")
        s = self.effective(scoring)
        if slice_axis is not None:
            return self._counted(s, False, progress, cancelled, strict, volume_axis(self._dataset, slice_axis))
        if source == "index":
            self.index(progress, cancelled)
            found = self.indexed_dataset_counts(s)
            if found is not None:
                return found
        return self._counted(s, False, progress, cancelled, strict)

    def indexed_dataset_counts(self, scoring: Scoring | None = None) -> DatasetCounts | None:
        """The dataset's counts from the built index: the totals in O(classes x bins), every image's counts with
        one read of its count store. None when it cannot answer (off the grid, a band, the store damaged)."""
        s, index = self.effective(scoring), self._kept.index
        if index is None or s.boundary:
            return None
        if s.argmax:
            per_image, totals = index.argmax_counts(), None
        else:
            t = s.effective_threshold()
            found = self._kept.read(index, lambda: (index.image_counts(t), index.dataset_counts(t)))
            if found is None:
                return None
            per_image, totals = found
        return DatasetCounts(self.names, per_image, index.soft_counts(), index.loaded, s.count_key(),
                             totals=totals, soft_totals=index.soft_totals())

    def _counted(self, s: Scoring, with_confusion: bool, progress=None, cancelled=None,
                 strict: bool = False, slice_axis: int | None = None) -> DatasetCounts:
        from .passes import counts_pass
        found = self._direct.get((s.count_key(), with_confusion, slice_axis))
        if found is None and slice_axis is None and not with_confusion:
            found = self._direct.get((s.count_key(), True, None))
        if found is not None:
            return found
        counts = counts_pass(self._dataset, s, self.cluster_client(), with_confusion=with_confusion,
                             slice_axis=slice_axis, on_error=self.failures.record, strict=strict, progress=progress,
                             cancelled=cancelled)
        return self._direct.put((s.count_key(), with_confusion, slice_axis), counts)

    def dataset_confusion(self, scoring: Scoring | None = None, progress=None) -> np.ndarray:
        """[C, C+1] over the dataset: the sum of every image's matrix."""
        return self.per_image_confusion(scoring, progress).sum(0, dtype=np.int64)

    def per_image_confusion(self, scoring: Scoring | None = None, progress=None) -> np.ndarray:
        """[I, C, C+1] per image in dataset order (zeros for failed images): from the index in argmax mode."""
        s = self.effective(scoring)
        index = self.index(progress)
        if s.argmax and not s.boundary:
            try:
                return index.confusion_rows()
            except (OSError, ValueError, KeyError, EOFError):   # the cache changed or was damaged since it was read
                pass
        return self._counted(s, True, progress).confusion_per_image

    def best_thresholds(self, scoring: Scoring | None = None) -> Best | None:
        """Per class, the grid threshold of maximum F-beta (None for hard masks)."""
        if self.is_hard:
            return None
        s = self.effective(scoring)
        index = self.index()
        return self._best.get_or_compute((s.beta, s.smooth),
                                         lambda: best_thresholds(index.curves(), index.steps, s.beta, s.smooth))

    # ---- scores ----
    def scores(self, counts: Counts, soft: Counts | None = None, scoring: Scoring | None = None) -> Scores:
        s = self.effective(scoring)
        return compute_scores(counts, s.beta, s.smooth, soft)

    def image_list(self, counts: DatasetCounts, class_id: int = ALL_CLASSES, scoring: Scoring | None = None):
        """Per image (dataset order): mean F-beta and IoU over present classes, the chosen class's F-beta, and FP
        and FN pixels (for all classes: the sums of the per-class fp / fn the table shows). An ImageListValues:
        `[key]` every image's (computed once), `rows(images)` a few rows' (what the window's list shows)."""
        from .list_values import ImageListValues
        return ImageListValues(counts, class_id, self.effective(scoring))

    # ---- lifetime ----
    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError()

    def close(self) -> None:
        """Releases every cache of the engine and its parts; any later call raises ClosedError."""
        with self._lock:
            for cache in self._caches:
                cache.clear()
            for part in self.parts:
                part.reset()
            self._kept.keep(None)
            self._closed = True
        self.cluster = None              # a local cluster this engine started stops here
        self.events.closed.emit(False, True, frozenset({"closed"}))   # a window on it lets go of it
        self.events.disconnect_all()

    def __enter__(self) -> "Inspector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self)} images, {self.classes.num_classes} classes, " \
                                              f"{self._dataset.options.pred_kind}, {self._scoring}"
        return f"<segviewer.Inspector {state}>"


__all__ = ["Inspector", "DatasetCounts", "LoadedImage", "Sample"]
