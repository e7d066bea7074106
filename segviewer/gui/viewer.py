"""The window's model: dataset, current image, settings, and every number, asked of the core off the GUI thread."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from ..core.counts import Counts, count_hard, count_threshold, threshold_map
from ..core.dataset import DataOptions, Dataset, Sample, evaluate
from ..core.device import describe_device
from ..core.errors import LoadError
from ..core.index import DEFAULT_STEPS, ProbabilityIndex, build_index
from ..core.index_cache import load_or_build
from ..core.overlay import (ALL_CLASSES, OverlayMaps, class_map_codes, hard_codes, prepare_maps, threshold_codes)
from ..core.regions import boundary_band, restrict_target
from ..core.scores import Scores, compute_scores, nanmean
from ..core.sweep import Best, best_thresholds
from .state import ViewSettings
from .workers import LatestOnlyWorker, Stopwatch

OVERLAY_KEYS = {"threshold", "class_thresholds", "argmax", "class_id", "view", "boundary", "interior"}
COUNT_KEYS = {"threshold", "class_thresholds", "argmax", "boundary", "interior"}
SCORE_KEYS = {"beta", "smooth"}


@dataclass
class Loaded:
    index: int
    sample: Sample
    maps: OverlayMaps
    soft: Counts | None = None    # filled by the first counts job, after the image is on screen
    hard: Counts | None = None

    def ensure_counts(self) -> None:
        if self.hard is None:
            self.hard = count_hard(self.maps.pred_argmax, self.sample.target)
            self.soft = self.sample.soft().to("cpu")


class Viewer(QObject):
    dataset_opened = Signal()
    sample_loaded = Signal()
    overlay_ready = Signal(object)          # uint8 code image
    image_scores_ready = Signal()
    dataset_scores_ready = Signal()
    settings_changed = Signal(set)          # names of the settings that changed
    index_progress = Signal(int, int)
    image_failed = Signal(int, str)
    error = Signal(str)

    def __init__(self, steps: int = DEFAULT_STEPS, parent: QObject | None = None):
        super().__init__(parent)
        self.steps = steps
        self.compute = LatestOnlyWorker("compute", ("load", "overlay", "counts", "analysis"), self)
        self.background = LatestOnlyWorker("index", ("index", "direct", "confusion"), self)
        self.settings = ViewSettings()
        self._reset()

    def _reset(self) -> None:
        self.dataset: Dataset | None = None
        self.index: ProbabilityIndex | None = None
        self.generation = getattr(self, "generation", 0) + 1
        self.current = -1
        self.loaded: Loaded | None = None
        self.failures: dict[int, str] = {}
        self.image_counts: Counts | None = None
        self.dataset_counts: Counts | None = None
        self.dataset_soft: Counts | None = None
        self.per_image: Counts | None = None     # [I, C] in dataset order; rows of failed images are zero
        self.per_image_exact = True
        self.best: Best | None = None
        self.last_overlay_ms = math.nan
        self.last_counts_ms = math.nan
        self._band_cache: dict[tuple[int, int], torch.Tensor] = {}

    # ---- opening ----
    def open_dataset(self, options: DataOptions) -> bool:
        try:
            dataset = Dataset(options)
        except LoadError as exc:
            self.error.emit(str(exc))
            return False
        self.compute.cancel("load")
        self._reset()
        self.dataset = dataset
        if dataset.is_hard:
            self.settings = self.settings.with_(argmax=False, class_thresholds=None)
        self.select_image(0)
        self._start_index()
        self.dataset_opened.emit()   # listeners may pick another first image (e.g. resume a review)
        return True

    @property
    def classes(self):
        return self.dataset.classes

    @property
    def is_hard(self) -> bool:
        return bool(self.dataset and self.dataset.is_hard)

    def device_text(self) -> str:
        return describe_device(self.dataset.device) if self.dataset else ""

    # ---- the current image ----
    def select_image(self, i: int) -> None:
        if self.dataset is None or not 0 <= i < len(self.dataset):
            return
        self.current = i
        generation = self.generation
        self.compute.submit("load", lambda: self._load(i),
                            lambda loaded: self._on_loaded(generation, loaded),
                            lambda exc: self._on_load_failed(generation, i, exc))

    def _load(self, i: int) -> Loaded:
        sample = self.dataset.load(i)
        maps = prepare_maps(sample.target.labels.new_tensor(sample.labels), self.classes.ignore_index,
                            sample.probs, sample.pred_map)
        return Loaded(i, sample, maps)

    def _on_loaded(self, generation: int, loaded: Loaded) -> None:
        if generation != self.generation or loaded.index != self.current:
            return
        self.loaded = loaded
        self.failures.pop(loaded.index, None)
        self.sample_loaded.emit()
        self.request_render()

    def _on_load_failed(self, generation: int, i: int, exc: BaseException) -> None:
        if generation != self.generation:
            return
        message = str(exc) if isinstance(exc, LoadError) else f"{self.dataset.items[i].name}: {exc!r}"
        self.failures[i] = message
        if i == self.current:  # nothing of the previous image may pass for this one
            self.loaded, self.image_counts = None, None
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
        if changed & (COUNT_KEYS | SCORE_KEYS):
            self.refresh_dataset_scores(recount=bool(changed & COUNT_KEYS))
            if changed & SCORE_KEYS:
                self.image_scores_ready.emit()

    # ---- recompute for the current image ----
    def request_render(self, counts: bool = True) -> None:
        if self.loaded is None:
            return
        loaded, settings, generation = self.loaded, self.settings, self.generation
        self.compute.submit("overlay", lambda: self._overlay(loaded, settings),
                            lambda out: self._on_overlay(generation, loaded, out))
        if counts or self.image_counts is None:
            self.compute.submit("counts", lambda: self._counts(loaded, settings),
                                lambda out: self._on_counts(generation, loaded, out))

    def _overlay(self, loaded: Loaded, s: ViewSettings):
        watch = Stopwatch()
        codes = overlay_codes(loaded, s, self.classes.num_classes)
        return codes, watch.ms()

    def _on_overlay(self, generation, loaded, out) -> None:
        if generation == self.generation and loaded is self.loaded:
            codes, self.last_overlay_ms = out
            self.overlay_ready.emit(codes)

    def _counts(self, loaded: Loaded, s: ViewSettings):
        watch = Stopwatch()
        loaded.ensure_counts()
        target = loaded.sample.target
        if s.boundary > 0:
            band = self._band(loaded, s.boundary)
            target = restrict_target(target, ~band if s.interior else band)
        if self.is_hard or s.argmax:
            counts = loaded.hard if s.boundary == 0 else count_hard(loaded.maps.pred_argmax, target)
        else:
            counts = self._image_counts_from_index(loaded.index, s) if s.boundary == 0 else None
            if counts is None:
                counts = count_threshold(loaded.sample.probs, target, s.effective_threshold())
        return counts.to("cpu"), watch.ms()

    def _image_counts_from_index(self, i: int, s: ViewSettings) -> Counts | None:
        """O(classes) when the index holds this image at full resolution and the threshold is on its grid."""
        index, name = self.index, self.dataset.items[i].name
        if index is None or index.image_factor != 1 or name not in self._name_rows():
            return None
        try:
            row = self._name_rows()[name]
            counts = index.image_counts(s.effective_threshold())
        except ValueError:
            return None
        return Counts(counts.tp[row], counts.fp[row], counts.fn[row])

    def _name_rows(self) -> dict[str, int]:
        if getattr(self, "_rows_for", None) is not self.index:
            self._rows, self._rows_for = {n: r for r, n in enumerate(self.index.names)}, self.index
        return self._rows

    def _band(self, loaded: Loaded, width: int) -> torch.Tensor:
        key = (loaded.index, width)
        if key not in self._band_cache:
            band = boundary_band(loaded.sample.labels, width, self.classes.ignore_index)
            self._band_cache = {key: torch.from_numpy(band).to(loaded.sample.target.labels.device)}
        return self._band_cache[key]

    def _on_counts(self, generation, loaded, out) -> None:
        if generation == self.generation and loaded is self.loaded:
            self.image_counts, self.last_counts_ms = out
            self.image_scores_ready.emit()

    def image_scores(self) -> Scores | None:
        if self.image_counts is None or self.loaded is None or self.loaded.soft is None:
            return None
        s = self.settings
        return compute_scores(self.image_counts, s.beta, s.smooth, self.loaded.soft)

    # ---- the whole dataset ----
    def _start_index(self) -> None:
        dataset, generation, steps = self.dataset, self.generation, self.steps
        failures: list[LoadError] = []

        def job():
            def progress(done, total):
                self.index_progress.emit(done, total)
            index, _ = load_or_build(dataset, steps, lambda: build_index(
                dataset, steps, progress=progress, on_error=failures.append,
                cancelled=lambda: generation != self.generation))
            return index

        def done(index):
            if generation != self.generation:
                return
            self.index = index
            names = set(index.names)
            for i, item in enumerate(dataset.items):
                if item.name not in names and i not in self.failures:
                    reason = next((str(f) for f in failures if f.path in (item.gt, item.pred, item.image)),
                                  f"{item.name}: could not be loaded")
                    self.failures[i] = reason
                    self.image_failed.emit(i, reason)
            self.index_progress.emit(len(dataset), len(dataset))
            self.refresh_dataset_scores(recount=True)
            self.request_render(counts=True)

        self.background.submit("index", job, done, lambda exc: self.error.emit(f"index: {exc}"))

    def refresh_dataset_scores(self, recount: bool = True) -> None:
        """From the index in O(classes × bins); off-grid thresholds and boundary bands computed directly."""
        if self.index is None:
            return
        s = self.settings
        if recount:
            if s.boundary > 0 or not self._counts_from_index(s):
                self._direct_dataset_counts(s)
                return
        self._update_best()
        self.dataset_scores_ready.emit()

    def _counts_from_index(self, s: ViewSettings) -> bool:
        index = self.index
        if self.is_hard or s.argmax:
            per_image = index.argmax_counts()
            exact = True
        else:
            try:
                per_image = index.image_counts(s.effective_threshold())
                exact = index.image_counts_exact(s.effective_threshold())
            except ValueError:
                return False
        self.dataset_counts = (index.dataset_counts(s.effective_threshold())
                               if not (self.is_hard or s.argmax) else _sum(per_image))
        self.dataset_soft = _sum(index.soft_counts())
        self.per_image, self.per_image_exact = self._in_dataset_order(per_image, index.names), exact
        return True

    def _direct_dataset_counts(self, s: ViewSettings) -> None:
        dataset, generation = self.dataset, self.generation
        threshold = s.effective_threshold()

        def job():
            return evaluate(dataset, threshold, s.argmax or dataset.is_hard, boundary=s.boundary or None,
                            interior=s.interior)

        def done(result):
            if generation != self.generation or s != self.settings:
                return
            self.dataset_counts, self.dataset_soft = result.total(), result.soft_total()
            self.per_image, self.per_image_exact = self._in_dataset_order(result.counts, result.names), True
            self._update_best()
            self.dataset_scores_ready.emit()

        self.background.submit("direct", job, done, lambda exc: self.error.emit(str(exc)))

    def _in_dataset_order(self, counts: Counts, names: list[str]) -> Counts:
        return Counts(*(torch.from_numpy(self._in_dataset_order_array(getattr(counts, k).numpy(), names))
                        for k in ("tp", "fp", "fn")))

    def _in_dataset_order_array(self, per_image: np.ndarray, names: list[str]) -> np.ndarray:
        """Rows of a per-image array rearranged to the dataset's order; zeros for images that failed."""
        take, found = self._row_order(names)
        out = np.zeros((len(self.dataset),) + per_image.shape[1:], per_image.dtype)
        out[found] = per_image[take[found]]
        return out

    def _row_order(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        # a slider step reorders with this; the name lookup runs once per list of names
        cached = getattr(self, "_order_cache", None)
        if cached is None or cached[0] is not names:
            rows = {n: r for r, n in enumerate(names)}
            take = np.array([rows.get(item.name, -1) for item in self.dataset.items], dtype=np.int64)
            cached = self._order_cache = (names, take, take >= 0)
        return cached[1], cached[2]

    def _update_best(self) -> None:
        """Best thresholds depend on the index, beta and smooth only: a threshold step reuses them."""
        if self.index is None or self.is_hard:
            self.best = None
            return
        s = self.settings
        key = (id(self.index), s.beta, s.smooth)
        if getattr(self, "_best_key", None) != key:
            self._best_key = key
            self.best = best_thresholds(self.index.curves(), self.index.steps, s.beta, s.smooth)

    def dataset_scores(self) -> Scores | None:
        if self.dataset_counts is None:
            return None
        s = self.settings
        return compute_scores(self.dataset_counts, s.beta, s.smooth, self.dataset_soft)

    def image_list_scores(self) -> dict[str, np.ndarray] | None:
        """Per image: mean F-beta over present classes, the selected class's F-beta, FP and FN pixels."""
        if self.per_image is None:
            return None
        s = self.settings
        scores = compute_scores(self.per_image, s.beta, s.smooth)
        c = s.class_id
        fp = self.per_image.fp.sum(1) if c == ALL_CLASSES else self.per_image.fp[:, c]
        fn = self.per_image.fn.sum(1) if c == ALL_CLASSES else self.per_image.fn[:, c]
        cls = nanmean(scores.fbeta) if c == ALL_CLASSES else scores.fbeta[:, c]
        return {"mean_fbeta": nanmean(scores.fbeta).numpy(), "class_fbeta": cls.numpy(),
                "mean_iou": nanmean(scores.iou).numpy(),
                "fp": fp.numpy(), "fn": fn.numpy(),
                "gt_present": (self.per_image.tp + self.per_image.fn > 0).numpy(),
                "pred_present": (self.per_image.tp + self.per_image.fp > 0).numpy()}

    def loaded_per_image(self) -> tuple[list[str], Counts] | None:
        """Names and [I, C] counts of the images that loaded (failed ones left out), for exports."""
        if self.per_image is None:
            return None
        keep = [i for i in range(len(self.dataset)) if i not in self.failures]
        counts = Counts(self.per_image.tp[keep], self.per_image.fp[keep], self.per_image.fn[keep])
        return [self.dataset.items[i].name for i in keep], counts

    def output_threshold(self):
        """The threshold written into exports: None in argmax mode and for hard masks."""
        s = self.settings
        return None if (s.argmax or self.is_hard) else s.effective_threshold()

    def apply_best_thresholds(self) -> None:
        if self.best is not None:
            t = np.where(np.isnan(self.best.threshold), self.settings.threshold, self.best.threshold)
            self.update_settings(class_thresholds=tuple(float(v) for v in t))

    def reset_thresholds(self) -> None:
        self.update_settings(class_thresholds=None)

    def is_settled(self) -> bool:
        shown = (self.loaded is not None and self.image_counts is not None) or self.current in self.failures
        return shown and self.compute.idle() and self.background.idle() and (self.index is not None or not self.dataset)

    def shutdown(self) -> None:
        self.generation += 1
        self.compute.stop()
        self.background.stop()


def _sum(counts: Counts) -> Counts:
    return Counts(counts.tp.sum(0), counts.fp.sum(0), counts.fn.sum(0))


def overlay_codes(loaded: Loaded, s: ViewSettings, num_classes: int) -> np.ndarray:
    """The code image for the current view: errors, or the GT / predicted class map."""
    maps, sample = loaded.maps, loaded.sample
    hard = sample.probs is None or s.argmax
    if s.view == "gt":
        return class_map_codes(maps.labels.clamp(max=255), num_classes, maps.ignore)
    if s.view == "pred":
        pred = maps.pred_argmax if hard else threshold_map(sample.probs, s.effective_threshold())
        return class_map_codes(pred, num_classes)
    if hard:
        return hard_codes(maps, maps.pred_argmax, s.class_id)
    return threshold_codes(maps, sample.probs, s.class_id, s.effective_threshold())
