"""The window's adapter to the engine: runs Inspector requests on the workers and emits signals.

One rule for every result: a request is tagged with (generation, request_key(kind, scoring, image, view extras)),
and its result is applied only while that key is still the current one. Nothing here computes a score.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QObject, Signal

from ..core.counts import Counts
from ..core.device import describe_device
from ..core.errors import LoadError
from ..core.index import DEFAULT_STEPS
from ..core.inspector import DatasetCounts, Inspector, request_key
from ..core.loaded import LoadedImage, Overlay
from ..core.options import DataOptions
from ..core.scores import Scores, compute_scores
from .guard import guarded, message
from .state import ViewSettings
from .workers import LatestOnlyWorker, Stopwatch

OVERLAY_KEYS = {"threshold", "class_thresholds", "argmax", "class_id", "view", "boundary", "interior",
                "compare_threshold", "compare_argmax"}
COUNT_KEYS = {"threshold", "class_thresholds", "argmax", "boundary", "interior"}
SCORE_KEYS = {"beta", "smooth"}
IMAGE_KINDS = ("overlay", "image_counts", "regions")
SYNC_OVERLAY_MS = 8.0      # an overlay that took less than this is redrawn on the GUI thread


class Viewer(QObject):
    dataset_opened = Signal()
    sample_loaded = Signal()
    overlay_ready = Signal(object)          # uint8 code image
    image_scores_ready = Signal()
    dataset_scores_ready = Signal()
    settings_changed = Signal(set)          # names of the settings that changed
    index_progress = Signal(int, int)
    image_failed = Signal(int, str)         # the selected image could not be loaded
    failures_changed = Signal()             # the set of failed images changed (once per index build)
    error = Signal(str)

    def __init__(self, steps: int = DEFAULT_STEPS, parent: QObject | None = None):
        super().__init__(parent)
        self.steps = steps
        self.compute = LatestOnlyWorker("compute", ("load", "overlay", "counts", "analysis"), self)
        self.background = LatestOnlyWorker("index", ("index", "direct", "confusion"), self)
        self.settings = ViewSettings()
        self.cluster = None        # a core.distributed.Cluster (the open dialog's scheduler): where the index is built
        self.generation = 0
        self._reset(None)

    def _reset(self, engine: Inspector | None) -> None:
        self.engine = engine
        self.generation += 1
        self.current = -1
        self.loaded: LoadedImage | None = None
        self.overlay: Overlay | None = None
        self.image_result: tuple[tuple, Counts] | None = None      # (key, [C] counts)
        self.dataset_result: DatasetCounts | None = None
        self.index_ready = False
        self.last_overlay_ms = math.nan
        self.last_counts_ms = math.nan
        self._reported = None

    # ---- what the panels read ----
    @property
    def dataset(self):
        return self.engine.dataset if self.engine is not None else None

    @property
    def index(self):
        return self.engine._index if self.engine is not None and self.index_ready else None

    @property
    def classes(self):
        return self.engine.classes

    @property
    def is_hard(self) -> bool:
        return bool(self.engine and self.engine.is_hard)

    @property
    def failures(self) -> dict[int, str]:
        return self.engine.failures if self.engine is not None else {}

    @property
    def scoring(self):
        return self.settings.scoring().for_dataset(self.is_hard)

    def device_text(self) -> str:
        return describe_device(self.dataset.device) if self.dataset else ""

    def key(self, kind: str, image: bool = False, extra: tuple = ()) -> tuple:
        """The key a result of this kind must carry to be shown now."""
        return (self.generation, request_key(kind, self.scoring, self.current if image else None, extra))

    @property
    def image_counts(self) -> Counts | None:
        r = self.image_result
        return r[1] if r is not None and r[0] == self.key("image_counts", image=True) else None

    @property
    def dataset_counts(self) -> Counts | None:
        d = self._current_dataset()
        return d.total if d is not None else None

    @property
    def dataset_soft(self) -> Counts | None:
        d = self._current_dataset()
        return d.soft if d is not None else None

    @property
    def per_image(self) -> Counts | None:
        d = self._current_dataset()
        return d.per_image if d is not None else None

    @property
    def per_image_exact(self) -> bool:
        d = self._current_dataset()
        return d is None or d.exact

    def _current_dataset(self) -> DatasetCounts | None:
        d = self.dataset_result
        return d if d is not None and d.key == self.key("dataset_counts")[1] else None

    @property
    def best(self):
        """Best thresholds over the whole image (the index knows no band): none while a band is set, so the table
        never puts whole-image figures beside band scores."""
        s = self.scoring
        usable = self.index is not None and not self.is_hard and not s.boundary
        return self.engine.best_thresholds(s) if usable else None

    # ---- opening ----
    def open_dataset(self, options: DataOptions) -> bool:
        from ..core.dataset import Dataset
        try:
            engine = Inspector(Dataset(options), steps=self.steps)
        except LoadError as exc:
            self.error.emit(message("Open dataset", exc))
            return False
        return self.open_engine(engine)

    def open_engine(self, engine: Inspector) -> bool:
        self.compute.cancel("load")
        if engine.cluster is None:
            engine.cluster = self.cluster
        self._reset(engine)
        if engine.is_hard:
            self.settings = self.settings.with_(argmax=False, class_thresholds=None)
        elif self.settings.class_thresholds is not None and len(self.settings.class_thresholds) != len(engine.classes.names):
            self.settings = self.settings.with_(class_thresholds=None)
        self.select_image(0)
        self._start_index()
        self.dataset_opened.emit()   # listeners may pick another first image (e.g. resume a review)
        return True

    # ---- the current image ----
    def select_image(self, i: int) -> None:
        if self.engine is None or not 0 <= i < len(self.engine):
            return
        self.current = i
        engine, generation = self.engine, self.generation
        self.compute.submit("load", lambda: engine.load(i),
                            lambda loaded: self._on_loaded(generation, loaded),
                            lambda exc: self._on_load_failed(generation, i, exc))

    def _on_loaded(self, generation: int, loaded: LoadedImage) -> None:
        if generation != self.generation or loaded.index != self.current:
            return
        self.loaded = loaded
        self.overlay = None
        self.last_overlay_ms = math.nan   # a new image is measured on the worker first
        self.sample_loaded.emit()
        self.request_render()

    def _on_load_failed(self, generation: int, i: int, exc: BaseException) -> None:
        if generation != self.generation:
            return
        message = str(exc) if isinstance(exc, LoadError) else f"{self.engine.names[i]}: {exc!r}"
        self.engine.failures[i] = message
        if i == self.current:  # nothing of the previous image may pass for this one
            self.loaded, self.overlay, self.image_result = None, None, None
            self.image_scores_ready.emit()
        self.image_failed.emit(i, message)

    # ---- settings ----
    def update_settings(self, **changes) -> None:
        changed = {k for k, v in changes.items() if getattr(self.settings, k) != v}
        if not changed:
            return
        self.settings = self.settings.with_(**changes)
        self.settings_changed.emit(changed)
        if changed & OVERLAY_KEYS:
            self.request_render(counts=bool(changed & COUNT_KEYS))
        if changed & COUNT_KEYS:
            self.refresh_dataset_scores()
        elif changed & SCORE_KEYS:
            self.image_scores_ready.emit()
            self.dataset_scores_ready.emit()

    # ---- the current image's overlay and counts ----
    def overlay_extra(self) -> tuple:
        s = self.settings
        b = s.compare_scoring().prediction_key() if s.view == "compare" else ()
        return (s.class_id, s.view, b)

    @property
    def b_scoring(self):
        return self.settings.compare_scoring()

    def showing_current(self) -> bool:
        """The loaded image is the selected one (between a selection and its load, nothing is computed for it)."""
        return self.loaded is not None and self.loaded.index == self.current

    def request_render(self, counts: bool = True) -> None:
        if not self.showing_current():
            return
        loaded, scoring, extra = self.loaded, self.scoring, self.overlay_extra()
        key = self.key("overlay", image=True, extra=extra)
        engine, b = self.engine, self.b_scoring
        compare = extra[1] == "compare" and engine.has_compare

        def job():
            watch = Stopwatch()
            if compare:   # model A vs model B: the pixels B fixes, breaks, or both get wrong
                return engine.compare_overlay(loaded.index, extra[0], scoring, b), watch.ms()
            return loaded.overlay(scoring, *extra[:2]), watch.ms()
        if self.last_overlay_ms < SYNC_OVERLAY_MS and not compare:
            # a few ms on this image (measured on the last one): drawn now, in the same repaint as the tables,
            # instead of a worker's result waiting behind that repaint (~30-50 ms of painting on a 2-core CPU)
            self.compute.cancel("overlay")
            out = guarded(self.error.emit, "Drawing the overlay", job)()
            if out is not None:
                self._apply(key, "overlay", extra, out, self._on_overlay)
        else:
            self.compute.submit("overlay", job, lambda out: self._apply(key, "overlay", extra, out, self._on_overlay),
                                self._job_failed(key, "overlay", extra, "Drawing the overlay"))
        if counts or self.image_counts is None:
            self._request_image_counts()

    def _job_failed(self, key: tuple, kind: str, extra: tuple, what: str):
        """A failed job is reported once, and only while its settings are still the current ones."""
        def report(exc: BaseException) -> None:
            if key == self.key(kind, image=kind in IMAGE_KINDS, extra=extra) and key != self._reported:
                self._reported = key
                self.error.emit(message(what, exc))
        return report

    def _apply(self, key: tuple, kind: str, extra: tuple, out, apply) -> None:
        """The one rule: a result is applied only while its key is the current one."""
        if key == self.key(kind, image=kind in IMAGE_KINDS, extra=extra):
            apply(out)

    def _on_overlay(self, out) -> None:
        self.overlay, self.last_overlay_ms = out
        self.overlay_ready.emit(self.overlay.codes)

    def _request_image_counts(self) -> None:
        engine, i, scoring = self.engine, self.current, self.scoring
        key = self.key("image_counts", image=True)
        # from the index this is O(classes): answer at once, so the table never lags the slider
        quick = engine._image_counts_from_index(i, scoring) if self.index is not None else None
        if quick is not None:
            self.image_result, self.last_counts_ms = (key, quick), 0.0
            self.image_scores_ready.emit()
            return

        def job():
            watch = Stopwatch()
            return engine.image_counts(i, scoring), watch.ms()

        def done(out):
            counts, self.last_counts_ms = out
            self.image_result = (key, counts)
            self.image_scores_ready.emit()
        self.compute.submit("counts", job, lambda out: self._apply(key, "image_counts", (), out, done),
                            self._job_failed(key, "image_counts", (), "Image scores"))
        self.image_scores_ready.emit()   # the table shows "computing…" rather than numbers for other settings

    def image_scores(self) -> Scores | None:
        counts = self.image_counts
        if counts is None or not self.showing_current():
            return None
        s = self.scoring
        soft = self.loaded.soft_counts(s) if not s.boundary else None
        return compute_scores(counts, s.beta, s.smooth, soft)

    # ---- the whole dataset ----
    def _start_index(self) -> None:
        engine, generation = self.engine, self.generation

        def job():
            return engine.index(progress=lambda done, total: self.index_progress.emit(done, total),
                                cancelled=lambda: generation != self.generation)

        def done(_index):
            if generation != self.generation:
                return
            self.index_ready = True
            self.failures_changed.emit()
            self.index_progress.emit(len(engine), len(engine))
            self.refresh_dataset_scores()
            self.request_render(counts=True)

        def failed(exc):
            if generation == self.generation:
                self.error.emit(message("Building the dataset index", exc))
        self.background.submit("index", job, done, failed)

    def refresh_dataset_scores(self) -> None:
        """From the index in O(classes × bins) on this thread; off-grid thresholds and bands on a worker."""
        if self.index is None:
            return
        engine, scoring = self.engine, self.scoring
        key = self.key("dataset_counts")
        if not scoring.boundary:
            quick = engine._counts_from_index(engine._index, scoring, key[1])
            if quick is not None:
                self.background.cancel("direct")     # a queued pass for earlier settings would only be dropped
                self.dataset_result = quick
                self.dataset_scores_ready.emit()
                return
        self.background.submit("direct", lambda: engine.dataset_counts(scoring),
                               lambda out: self._apply(key, "dataset_counts", (), out, self._on_dataset_counts),
                               lambda exc: self.error.emit(message("Dataset scores", exc)))
        self.dataset_scores_ready.emit()   # stale numbers give way to "computing…"

    def _on_dataset_counts(self, counts: DatasetCounts) -> None:
        self.dataset_result = counts
        self.dataset_scores_ready.emit()

    def dataset_scores(self) -> Scores | None:
        d = self._current_dataset()
        if d is None:
            return None
        s = self.scoring
        return compute_scores(d.total, s.beta, s.smooth, d.soft)

    def image_list_scores(self) -> dict | None:
        """Per image (dataset order): the list's columns at the current settings, from the engine."""
        d = self._current_dataset()
        if d is None:
            return None
        return self.engine.image_list(d, self.settings.class_id, self.scoring)

    def loaded_per_image(self) -> tuple[list[str], Counts] | None:
        """Names and [I, C] counts of the images that loaded (failed ones left out), for exports."""
        d = self._current_dataset()
        if d is None:
            return None
        keep = [i for i in range(len(self.engine)) if d.loaded[i]]
        counts = Counts(d.per_image.tp[keep], d.per_image.fp[keep], d.per_image.fn[keep])
        return [self.engine.names[i] for i in keep], counts

    def output_threshold(self):
        """The threshold written into exports: None in argmax mode and for hard masks."""
        s = self.scoring
        return None if s.argmax else s.effective_threshold()

    def apply_best_thresholds(self) -> None:
        best = self.best
        if best is not None:
            import numpy as np
            t = np.where(np.isnan(best.threshold), self.settings.threshold, best.threshold)
            self.update_settings(class_thresholds=tuple(float(v) for v in t))

    def reset_thresholds(self) -> None:
        self.update_settings(class_thresholds=None)

    def is_settled(self) -> bool:
        """Every panel shows the answer for the current settings (or the current image failed)."""
        if self.engine is None:
            return self.compute.idle() and self.background.idle()
        shown = ((self.loaded is not None and self.image_counts is not None and self.overlay is not None)
                 or self.current in self.failures)
        dataset_done = self.index is not None and (self._current_dataset() is not None or not self.engine.names)
        return shown and dataset_done and self.compute.idle() and self.background.idle()

    def shutdown(self) -> None:
        self.generation += 1
        self.compute.stop()
        self.background.stop()
