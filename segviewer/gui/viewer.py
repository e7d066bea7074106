"""The window's view-model: the engine's settings as the window's, every request through the keyed jobs, and the
signals the panels listen to. Nothing here computes a score.

The engine owns the Scoring (and model B's): a setting changed here is set on the engine, and the engine's event
brings it back, the same path a notebook's `ins.scoring = ...` takes (queued to this thread when it comes from
another). So the window always shows the engine's own settings.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QObject, Signal

from ..core.counts import Counts, DatasetCounts
from ..core.device import describe_device
from ..core.errors import LoadError, OptionError
from ..core.index import DEFAULT_STEPS
from ..core.inspector import Inspector
from ..core.loaded import LoadedImage, Overlay
from ..core.options import DataOptions
from ..core.scores import Scores, compute_scores
from ..core.scoring import Scoring
from .guard import message
from .jobs import KeyedJobs
from .state import ViewSettings, changed_scoring, split_changes
from .viewer_dataset import DatasetView
from .workers import LatestOnlyWorker, Stopwatch

OVERLAY_KEYS = {"threshold", "argmax", "class_id", "view", "boundary", "interior", "compare_threshold",
                "compare_argmax"}
COUNT_KEYS = {"threshold", "argmax", "boundary", "interior"}
SCORE_KEYS = {"beta", "smooth"}
SYNC_OVERLAY_MS = 8.0      # an overlay that took less than this is redrawn on the GUI thread


class Viewer(DatasetView, QObject):
    dataset_opened = Signal()
    dataset_closed = Signal()               # the engine was closed under the window (by its script)
    sample_loaded = Signal()
    overlay_ready = Signal(object)          # uint8 code image
    image_scores_ready = Signal()
    dataset_scores_ready = Signal()
    settings_changed = Signal(set)          # names of the settings that changed (model B's: compare_<field>)
    settings_applied = Signal()             # every answer the change had at once was given (a panel draws once)
    settings_refused = Signal()             # the engine refused a value: the fields show what it holds again
    index_progress = Signal(int, int)
    image_failed = Signal(int, str)         # the selected image could not be loaded
    failures_changed = Signal()             # the set of failed images changed (once per index build)
    error = Signal(str)
    _engine_event = Signal(object)          # an engine event, delivered in this object's thread

    def __init__(self, steps: int = DEFAULT_STEPS, parent: QObject | None = None):
        super().__init__(parent)
        self.steps = steps
        self.compute = LatestOnlyWorker("compute", ("load", "overlay", "image_counts", "regions"), self)
        self.background = LatestOnlyWorker("index", ("index", "dataset_counts", "confusion"), self)
        self.jobs = KeyedJobs(self.error.emit, self)
        self.settings = ViewSettings()
        self._list_values: tuple | None = None      # (counts, (class, score key), the list's columns)
        self.cluster = None        # a core.distributed.Cluster (the open dialog's scheduler): where passes run
        self.engine: Inspector | None = None
        self._owns_engine = False  # an engine this window opened (not a script's) is closed when it is done with it
        self._timing: dict[str, float] = {}
        self.applying = False      # inside a settings change (its answers from the index still coming)
        self._engine_event.connect(self._follow_engine)
        from .slices import SliceNavigator
        self.slices = SliceNavigator(self, self)      # the slice of a 3-D case the window shows
        self._reset(None)

    def _reset(self, engine: Inspector | None, owned: bool = False) -> None:
        self._listen(self.engine, False)
        self.jobs.reset()
        if self._owns_engine and self.engine is not None and self.engine is not engine:
            self.engine.close()
        self.engine, self._owns_engine = engine, owned
        if hasattr(self, "slices"):
            self.slices.forget()
        self.current = -1
        self.loaded: LoadedImage | None = None
        self.index_ready = False
        self.index_refused: str | None = None     # why the index (and so the dataset's numbers) will not come
        self.last_overlay_ms = self.last_counts_ms = math.nan
        self._listen(engine, True)

    def _listen(self, engine: Inspector | None, on: bool) -> None:
        if engine is not None:
            for emitter in (engine.events.scoring, engine.events.compare_scoring, engine.events.closed):
                (emitter.connect if on else emitter.disconnect)(self._on_engine_event)

    @property
    def generation(self) -> int:
        return self.jobs.generation

    # ---- what the panels read ----
    @property
    def dataset(self):
        return self.engine.dataset if self.engine is not None else None

    @property
    def index(self):
        return self.engine.built_index if self.engine is not None and self.index_ready else None

    @property
    def classes(self):
        return self.engine.classes

    @property
    def is_hard(self) -> bool:
        return bool(self.engine and self.engine.is_hard)

    @property
    def failures(self):
        return self.engine.failures if self.engine is not None else {}

    @property
    def scoring(self) -> Scoring:
        return self.settings.scoring

    @property
    def b_scoring(self) -> Scoring:
        return self.settings.compare_scoring

    def device_text(self) -> str:
        return describe_device(self.dataset.device) if self.dataset else ""

    @property
    def overlay(self) -> Overlay | None:
        return self.jobs.value("overlay")

    @property
    def image_counts(self) -> Counts | None:
        return self.jobs.value("image_counts")

    @property
    def dataset_result(self) -> DatasetCounts | None:
        return self.jobs.value("dataset_counts")

    @property
    def dataset_counts(self) -> Counts | None:
        d = self.dataset_result
        return d.total if d is not None else None

    @property
    def dataset_soft(self) -> Counts | None:
        d = self.dataset_result
        return d.soft if d is not None else None

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
            dataset = Dataset(options)
            engine = Inspector(dataset, self._carried_scoring(dataset.classes.num_classes), steps=self.steps)
        except (LoadError, OptionError) as exc:
            self.error.emit(message("Open dataset", exc))
            return False
        return self.open_engine(engine, owned=True)

    def _carried_scoring(self, num_classes: int) -> Scoring:
        """The settings the next dataset opens with: the window's, less what no longer fits it."""
        s = self.settings.scoring
        if self.is_hard:            # masks forced argmax; the user did not choose it
            s = s.with_(argmax=False)
        if s.per_class and len(s.threshold) != num_classes:
            s = s.with_(threshold=Scoring().threshold)
        return s

    def open_engine(self, engine: Inspector, owned: bool = False) -> bool:
        """Shows this engine (owned: the window closes it when another opens or the window closes)."""
        if engine.cluster is None:
            engine.cluster = self.cluster
        self._reset(engine, owned)
        self.settings = self.settings.with_(scoring=engine.scoring, compare_scoring=engine.compare_scoring)
        self.select_image(0)
        if not engine.dataset.volumes:      # a 3-D case's first look goes first (SliceNavigator.arrived)
            self._start_index()
        self.dataset_opened.emit()   # listeners may pick another first image (e.g. resume a review)
        return True

    # ---- the settings: the engine's, both ways ----
    def update_settings(self, **changes) -> None:
        """Window settings by name; the Scoring's fields (and model B's as compare_<field>) are set on the engine."""
        scoring, compare, view = split_changes(changes)
        changed = {k for k, v in view.items() if getattr(self.settings, k) != v}
        if changed:
            self.settings = self.settings.with_(**view)
            self._settings_changed(changed)
        try:
            if scoring:
                if not scoring.get("boundary", self.scoring.boundary):
                    scoring["interior"] = False      # the interior box counts only while a band is set
                self._set_scoring("scoring", self.scoring.with_(**scoring))
            if compare:
                self._set_scoring("compare_scoring", self.b_scoring.with_(**compare))
        except OptionError as exc:
            self.error.emit(message("Settings", exc))
            self.settings_refused.emit()

    def _set_scoring(self, name: str, value: Scoring) -> None:
        if self.engine is not None:
            setattr(self.engine, name, value)       # its event brings the value back (_follow_engine)
            return
        old = getattr(self.settings, name)
        self.settings = self.settings.with_(**{name: value})
        self._settings_changed(changed_scoring(old, value, "compare_" if name == "compare_scoring" else ""))

    def _on_engine_event(self, event) -> None:
        self._engine_event.emit(event)              # direct in this thread, queued from any other

    def _follow_engine(self, event=None) -> None:
        """The engine's settings now, whatever order its events come in: the window shows the engine's own."""
        engine, s = self.engine, self.settings
        if engine is not None and engine.closed:       # its script closed it: nothing of it can be shown any more
            self._reset(None)
            self.dataset_closed.emit()
            self.error.emit("The dataset was closed by the script that opened it (ins.close()); open one to go on.")
            return
        if engine is None:
            return
        changed = changed_scoring(s.scoring, engine.scoring) | \
            changed_scoring(s.compare_scoring, engine.compare_scoring, "compare_")
        if changed:
            self.settings = s.with_(scoring=engine.scoring, compare_scoring=engine.compare_scoring)
            self._settings_changed(changed)

    def _settings_changed(self, changed: set) -> None:
        self.applying = True        # the answers given now (from the index) come in one go: see settings_applied
        try:
            self.settings_changed.emit(changed)
            if changed & OVERLAY_KEYS:
                self.request_render(counts=bool(changed & COUNT_KEYS))
            if changed & COUNT_KEYS:
                self.refresh_dataset_scores()
            elif changed & SCORE_KEYS:
                self.image_scores_ready.emit()
                self.dataset_scores_ready.emit()
        finally:
            self.applying = False
        self.settings_applied.emit()

    # ---- the current image ----
    def select_image(self, i: int) -> None:
        if self.engine is None or not 0 <= i < len(self.engine):
            return
        self.current = i
        engine = self.engine
        self.jobs.forget("load")
        self.jobs.request("load", lambda: engine.key("image", image=self.current),
                          lambda: self.slices.start(self.slices.first_look(engine, i)), self._on_loaded,
                          worker=self.compute, what="Loading the image", failed=lambda exc: self._on_load_failed(i, exc))

    def _on_loaded(self, loaded: tuple) -> None:
        """loaded: (the case or None, the image to show: a 2-D image or the case's slice)."""
        self.slices.arrived(*loaded)
        self._on_slice(loaded[1])

    def _on_slice(self, loaded: LoadedImage) -> None:
        self.loaded = loaded
        self.last_overlay_ms = math.nan   # a new image is measured on the worker first
        self._timing.pop("pixel_counts", None)
        self.sample_loaded.emit()
        self.request_render()

    def _on_load_failed(self, i: int, exc: BaseException) -> None:
        text = str(exc) if isinstance(exc, LoadError) else f"{self.engine.names[i]}: {exc!r}"
        self.engine.failures.record_at(i, text)
        self.loaded = None                  # nothing of the previous image may pass for this one
        if self.jobs.current_key("index") is None:
            self._start_index()             # a volume dataset's, deferred to its first case (slices.arrived)
        self.image_scores_ready.emit()
        self.image_failed.emit(i, text)

    def showing_current(self) -> bool:
        """The loaded image is the selected one (between a selection and its load, nothing is computed for it)."""
        return self.loaded is not None and self.loaded.index == self.current

    def _compare_view(self) -> bool:
        return self.settings.view == "compare" and self.engine.compare.attached

    def overlay_key(self) -> tuple:
        s = self.settings
        kind = "compare_overlay" if self._compare_view() else "overlay"
        return self.engine.key(kind, s.scoring, self.current, (s.class_id, s.view, *self.slices.key()),
                               s.compare_scoring)

    def request_render(self, counts: bool = True) -> None:
        if not self.showing_current():
            return
        engine, loaded, s = self.engine, self.loaded, self.settings
        compare = self._compare_view()

        def job():
            watch = Stopwatch()
            if compare:   # model A vs model B: the pixels B fixes, breaks, or both get wrong
                out = engine.compare.overlay(loaded.index, s.class_id, s.scoring, s.compare_scoring,
                                             at=getattr(loaded, "where", None))
            else:
                out = loaded.overlay(s.scoring, s.class_id, s.view)
            self._timing["overlay"] = watch.ms()
            return out
        # a few ms on this image (measured on the last one): drawn now, in the same repaint as the tables, instead
        # of a worker's result waiting behind that repaint (~30-50 ms of painting on a 2-core CPU)
        now = self.last_overlay_ms < SYNC_OVERLAY_MS and not compare
        self.jobs.request("overlay", self.overlay_key, job, self._on_overlay, worker=self.compute,
                          what="Drawing the overlay", now=now)
        if counts or self.image_counts is None:
            self._request_image_counts()

    def _on_overlay(self, overlay: Overlay) -> None:
        self.last_overlay_ms = self._timing.get("overlay", math.nan)
        self.overlay_ready.emit(overlay.codes)

    def _request_image_counts(self) -> None:
        if self.slices.active:      # a 3-D case: its slice's counts, and the case's beside them
            self.slices.request_counts(self._timing, self._on_image_counts, SYNC_OVERLAY_MS)
        else:
            self._request_whole_image_counts()
        if self.image_counts is None:
            self.image_scores_ready.emit()   # the table shows "computing…" rather than numbers for other settings

    def _request_whole_image_counts(self) -> None:
        engine, i, s = self.engine, self.current, self.scoring

        def job():
            watch = Stopwatch()
            counts = engine.image_counts(i, s)
            self._timing["image_counts"] = self._timing["pixel_counts"] = watch.ms()
            return counts

        def quick():   # from the index this is O(classes): answered at once, so the table never lags the slider
            self._timing["image_counts"] = 0.0
            return engine.indexed_image_counts(i, s) if self.index is not None else None
        # counted on the pixels in a few ms on this image (a band, or a threshold the index cannot answer):
        # counted now, so the table is drawn once per step, with the overlay, not again when a worker answers
        now = self._timing.get("pixel_counts", math.nan) < SYNC_OVERLAY_MS
        self.jobs.request("image_counts", lambda: engine.key("image_counts", self.scoring, self.current), job,
                          self._on_image_counts, worker=self.compute, what="Image scores", quick=quick, now=now)

    def _on_image_counts(self, _counts: Counts) -> None:
        self.last_counts_ms = self._timing.get("image_counts", math.nan)
        self.image_scores_ready.emit()

    def image_scores(self) -> Scores | None:
        counts = self.image_counts
        if counts is None or not self.showing_current():
            return None
        s = self.scoring
        soft = self.loaded.soft_counts(s) if not s.boundary else None
        return compute_scores(counts, s.beta, s.smooth, soft)

    def is_settled(self) -> bool:
        """Every panel shows the answer for the current settings (or the current image failed)."""
        if self.engine is None:
            return self.compute.idle() and self.background.idle()
        shown = ((self.loaded is not None and self.image_counts is not None and self.overlay is not None)
                 or self.current in self.failures)
        dataset_done = self.index_refused is not None or (
            self.index is not None and (self.dataset_result is not None or not self.engine.names))
        return shown and dataset_done and self.compute.idle() and self.background.idle() and self.slices.idle()

    def shutdown(self) -> None:
        self.jobs.reset()
        self.compute.stop()
        self.background.stop()
        self.slices.stop()
        self._reset(None)

