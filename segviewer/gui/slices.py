"""The slice of a 3-D case the window shows (axial, coronal or sagittal, and which one), the bar that moves it,
and the case's slices ranked worst first. A slice is a loaded 2-D image of the engine's (ins.slices): the overlay,
the tables, the readout, label doubt and compare all read it as they read a 2-D image.

The planes are named and drawn from the case's orientation (core.orientation): radiological convention, head up,
every slice at its voxels' true aspect (the spacing of its rows against its columns'); slice numbers and the
readout's voxel are the file's array indices.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QWidget

from ..core.counts import Counts
from ..core.scores import compute_scores, nanmean
from ..core.orientation import AXIS_NAMES
from .window_level import PRESETS, CUSTOM
from .workers import LatestOnlyWorker

AXIS_TITLES = tuple(name.capitalize() for name in AXIS_NAMES)


class SliceNavigator(QObject):
    """Where in the current case the window is; every change of slice goes through the viewer's keyed jobs."""
    changed = Signal()        # the axis, the slice or the case changed (the bar, the title)
    worst_ready = Signal()    # the per-slice counts of the current axis and settings arrived (or were dropped)

    def __init__(self, viewer, parent: QObject | None = None):
        super().__init__(parent)
        self.v = viewer
        self.volume = None          # the current case (core.loaded_volume.LoadedVolume)
        self.axis = 0
        self.index = 0
        self._last: dict[tuple[str, int], int] = {}     # (case, axis) -> the slice shown last
        # the whole case is read here after its first look, so the slices can be stepped through meanwhile
        self.case_worker = LatestOnlyWorker("case", ("case",), self)
        self._after_first_slice = False       # a case arrived: its first slice's overlay not yet drawn
        # a slice ranking costs a pass over the case per threshold step: only while its tab shows (the window says)
        self.worst_wanted: Callable[[], bool] = lambda: True
        viewer.settings_changed.connect(self._on_settings)
        viewer.overlay_ready.connect(self._on_overlay)

    def _on_settings(self, changed: set) -> None:
        if changed & {"threshold", "argmax", "boundary", "interior"}:
            self.refresh_worst()
        elif changed & {"beta", "smooth"}:
            self.worst_ready.emit()

    @property
    def active(self) -> bool:
        return self.volume is not None

    def key(self) -> tuple:
        """What the keys of a slice's results add: the slice shown (nothing for a 2-D image)."""
        return (self.axis, self.index) if self.active else ()

    @property
    def count(self) -> int:
        return self.volume.slices_along(self.axis) if self.active else 0

    # ---- a case arrives (on the worker: the first slice is loaded with it) ----
    def first_look(self, engine, i: int):
        """What the load job shows first: a 3-D case's first look (a slice at a time), else the loaded image."""
        return engine.slices.preview(i, self.axis) if engine.dataset.volumes else engine.load(i)

    def start(self, loaded):
        """The loaded image to show for an engine.load() result: a case's slice (the last one shown of it on this
        axis, else the one with the most ground-truth foreground), or the 2-D image itself."""
        if not getattr(loaded, "is_volume", False):
            return None, loaded
        index = self._last.get((loaded.name, self.axis))
        if index is None:
            index = foreground_slice(loaded.sample.labels, loaded.view(self.axis).across, loaded.classes.ignore_index)
        return loaded, loaded.slice(self.axis, index)

    def arrived(self, volume, image) -> None:
        """On the GUI thread, with start()'s result. Once its first slice is drawn, a first look sends for the
        whole case and a volume dataset's index pass starts: started with it, on 2 cores, they made the first
        slice wait twice as long."""
        self.volume = volume
        if volume is not None:
            self.index = image.at
            self._last[(volume.name, self.axis)] = self.index
            self._after_first_slice = True
        self.changed.emit()

    def _on_overlay(self, _codes) -> None:
        if not self._after_first_slice or not self.active:
            return
        self._after_first_slice = False
        v, engine, i = self.v, self.v.engine, self.v.current
        if v.jobs.current_key("index") is None:
            v._start_index()
        self.refresh_worst()
        if self.volume.sample.preview:
            v.jobs.request("case", lambda: engine.key("image", image=v.current, extra=("case",)),
                           lambda: engine.load(i), self._whole_case, worker=self.case_worker,
                           what="Loading the case")

    def _whole_case(self, volume) -> None:
        """The whole case after its first look: the same slices, now with every orientation's image."""
        if self.volume is None or volume.index != self.volume.index:
            return
        self.volume = volume
        self.changed.emit()
        self.v.jobs.forget("slice")
        self._load(self.axis, self.index)
        self.refresh_worst()

    def idle(self) -> bool:
        return self.case_worker.idle()

    def stop(self) -> None:
        self.case_worker.stop()

    def forget(self) -> None:
        self.volume = None
        self.changed.emit()

    # ---- moving ----
    def step(self, delta: int) -> None:
        if self.active:
            self.go(self.index + delta)

    def go(self, index: int, axis: int | None = None, then: Callable[[], None] | None = None) -> None:
        """Shows slice `index` across `axis` (the current axis when None); clamped to the case. then(): once that
        slice is drawn (never, if another request overtakes it)."""
        if not self.active:
            return
        if axis is not None and axis != self.axis:
            self.axis = axis
            if index is None:
                index = self._last.get((self.volume.name, axis), self.volume.slices_along(axis) // 2)
        index = int(np.clip(index, 0, self.count - 1))
        if index == self.index and axis is None:
            if then is not None:
                then()
            return
        self.index = index
        self._last[(self.volume.name, self.axis)] = index
        self.changed.emit()
        self._load(self.axis, index, then)
        if axis is not None:
            self.refresh_worst()

    def _load(self, axis: int, index: int, then: Callable[[], None] | None = None) -> None:
        v, volume = self.v, self.volume
        engine = v.engine

        def show(loaded) -> None:
            v._on_slice(loaded)
            if then is not None:
                then()
        v.jobs.request("slice", lambda: engine.key("slice", image=v.current, extra=self.key()),
                       lambda: volume.slice(axis, index), show, worker=v.compute, what="Loading the slice")

    def set_axis(self, axis: int) -> None:
        if self.active and axis != self.axis:
            self.go(None, axis)

    def cycle_axis(self) -> None:
        self.set_axis((self.axis + 1) % 3)

    # ---- where a pixel of the slice is ----
    def voxel(self, x: int, y: int) -> tuple[int, int, int]:
        """(z, y, x) of pixel (x, y) of the slice shown."""
        return self.volume.view(self.axis).voxel(self.index, y, x, self.volume.shape)

    def position_mm(self) -> float:
        return self.index * self.volume.spacing_along(self.axis) if self.active else 0.0

    def aspect(self) -> float:
        """A drawn row's height over a column's width: the slice comes drawn as the case's orientation says (head
        up included), at its voxels' true aspect."""
        view, spacing = self.volume.view(self.axis), self.volume.spacing
        return float(spacing[view.rows]) / float(spacing[view.cols])

    def where(self) -> str:
        """The slice shown, as the per-slice CSV and the readout number it: "axial z 12 (30.0 mm)"."""
        if not self.active:
            return ""
        return f"{AXIS_NAMES[self.axis]} {self.array_axis()} {self.index} ({self.position_mm():.1f} mm)"

    def array_axis(self) -> str:
        """The letter of the array axis the slices are numbered along (z, y or x of the file's (z, y, x))."""
        return "zyx"[self.volume.view(self.axis).across]

    def title(self) -> str:
        if not self.active:
            return ""
        return f"{self.where()} of 0–{self.count - 1} · {self.volume.orientation.describe()}"

    # ---- the slice's, the case's and the dataset's per-case numbers ----
    def request_counts(self, timing: dict, done, sync_ms: float) -> None:
        """The slice's counts (the viewer's image counts: on this thread when the last took under sync_ms) and
        the case's."""
        v = self.v
        engine, loaded, s = v.engine, v.loaded, v.scoring

        def job():
            t0 = time.perf_counter()
            counts = loaded.counts(s)
            timing["image_counts"] = (time.perf_counter() - t0) * 1000
            return counts
        v.jobs.request("image_counts", lambda: engine.key("image_counts", v.scoring, v.current, self.key()), job,
                       done, worker=v.compute, what="Slice scores", now=v.last_counts_ms < sync_ms)
        self.request_case_counts()

    def request_case_counts(self) -> None:
        """The case's counts beside its slice's: from the index in O(classes) when it can answer."""
        v = self.v
        engine, i, s = v.engine, v.current, v.scoring
        v.jobs.request("case_counts", lambda: engine.key("image_counts", v.scoring, v.current, ("case",)),
                       lambda: engine.image_counts(i, s), lambda _counts: v.image_scores_ready.emit(),
                       worker=v.compute, what="Case scores",
                       quick=lambda: engine.indexed_image_counts(i, s) if v.index is not None else None)

    def case_scores(self) -> tuple:
        """(Scores, GT voxels) of the current case (None, None while computed); soft Dice from the index's row."""
        v = self.v
        counts = v.jobs.value("case_counts") if self.active else None
        if counts is None:
            return None, None
        d, s = v.dataset_result, v.scoring
        soft = None
        if d is not None and d.loaded[v.current] and not s.boundary:
            soft = Counts(*(getattr(d.soft_per_image, k)[v.current] for k in ("tp", "fp", "fn")))
        return compute_scores(counts, s.beta, s.smooth, soft), counts.tp + counts.fn

    def dataset_case_mean(self) -> tuple:
        """(Scores, GT voxels) over the cases: each case's scores, then per class the mean over the cases where it
        is present (nnU-Net's summary), beside the pooled scores the dataset column shows."""
        from ..core.volume_export import aggregated_soft_dice
        from ..core.volume_metrics import aggregate_scores
        d, s = self.v.dataset_result, self.v.scoring
        if d is None:
            return None, None
        keep = torch.from_numpy(d.loaded)
        rows = Counts(*(getattr(d.per_image, k)[keep] for k in ("tp", "fp", "fn")))
        scores = aggregate_scores(rows, "case_mean", s.beta, s.smooth)
        if not s.boundary:
            soft = Counts(*(getattr(d.soft_per_image, k)[keep] for k in ("tp", "fp", "fn")))
            scores.soft_dice = aggregated_soft_dice(rows, soft, "case_mean", s.smooth)
        return scores, d.total.tp + d.total.fn

    # ---- the worst slices ----
    def refresh_worst(self, then: Callable[[], None] | None = None) -> None:
        """The case's per-slice counts for the ranking, while someone looks at it (worst_wanted) or a key walks it
        (then: once they are in)."""
        v = self.v
        if not self.active or v.engine is None or not (then or self.worst_wanted()):
            return
        engine, volume, s, axis = v.engine, self.volume, v.scoring, self.axis

        def ready(_counts) -> None:
            self.worst_ready.emit()
            if then is not None:
                then()
        v.jobs.request("slice_counts", lambda: engine.key("slice_counts", v.scoring, v.current, (self.axis,)),
                       lambda: volume.slice_counts(s, axis), ready, worker=v.background, what="Per-slice scores")
        if v.jobs.value("slice_counts") is None:
            self.worst_ready.emit()          # "computing…" rather than another axis's or threshold's ranking

    def worst_rows(self) -> list[tuple] | None:
        """(slice, position mm, mean F-beta over the classes present, FP, FN) of the slices where a class is,
        worst first; None while they are computed."""
        counts = self.v.jobs.value("slice_counts") if self.active else None
        if counts is None:
            return None
        s = self.v.scoring
        mean = nanmean(compute_scores(counts, s.beta, s.smooth).fbeta).numpy()
        fp, fn = counts.fp.sum(1).numpy(), counts.fn.sum(1).numpy()
        present = np.flatnonzero(~np.isnan(mean))
        order = present[np.argsort(mean[present], kind="stable")]
        spacing = self.volume.spacing_along(self.axis)
        return [(int(k), round(float(k * spacing), 3), float(mean[k]), int(fp[k]), int(fn[k])) for k in order]

    def next_worst(self, delta: int) -> None:
        """The next (delta 1) or previous (-1) slice in the worst-first ranking after the one shown."""
        rows = self.worst_rows()
        if rows is None:             # not ranked yet (its tab is hidden, or a step is being counted): walk once it is
            self.refresh_worst(then=lambda: self.next_worst(delta) if self.worst_rows() is not None else None)
            return
        if not rows:
            return
        order = [r[0] for r in rows]
        at = order.index(self.index) if self.index in order else -1
        self.go(order[(at + delta) % len(order)] if at >= 0 or delta > 0 else order[-1])


def foreground_slice(labels: np.ndarray, axis: int, ignore_index: int) -> int:
    """The slice across the axis with the most ground truth other than class 0 (the middle one when none)."""
    other = (labels != 0) & (labels != ignore_index)
    area = other.sum(axis=tuple(a for a in range(3) if a != axis))
    return int(np.argmax(area)) if area.any() else labels.shape[axis] // 2


class SliceBar(QWidget):
    """Orientation, the slice slider, where the slice is, and the intensity window."""
    axis_chosen = Signal(int)
    slice_chosen = Signal(int)
    preset_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.axis_box = QComboBox()
        self.axis_box.addItems([f"{t} (Ctrl+{k})" for k, t in enumerate(AXIS_TITLES, start=1)])
        self.axis_box.setToolTip("orientation (P cycles)")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("slice (PgUp / PgDn, Ctrl+wheel over the image)")
        self.slider.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.where = QLabel("")
        self.window_box = QComboBox()
        self.window_box.addItems([*PRESETS, CUSTOM])
        self.window_box.setToolTip("intensity window (W cycles; right-drag on the image: width ↔, level ↕)")
        self.window_text = QLabel("")
        # the numbers' widest text reserved: stepping slices or windows never moves the slider's end
        metrics = self.fontMetrics()
        self.where.setMinimumWidth(metrics.horizontalAdvance("z 9999 / 9999 · 99999.9 mm"))
        self.window_text.setMinimumWidth(metrics.horizontalAdvance("W 99999 · L -99999"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 6, 2)
        for w, stretch in ((self.axis_box, 0), (self.slider, 1), (self.where, 0), (self.window_box, 0),
                           (self.window_text, 0)):
            layout.addWidget(w, stretch)
        self.axis_box.activated.connect(self.axis_chosen.emit)
        self.slider.valueChanged.connect(lambda k: self.slice_chosen.emit(k))
        self.window_box.activated.connect(lambda i: self.preset_chosen.emit(self.window_box.itemText(i)))

    def show_slice(self, nav: SliceNavigator) -> None:
        self.setVisible(nav.active)
        if not nav.active:
            return
        self.axis_box.setCurrentIndex(nav.axis)
        self.slider.blockSignals(True)
        self.slider.setRange(0, nav.count - 1)
        self.slider.setValue(nav.index)
        self.slider.blockSignals(False)
        self.where.setText(f"{nav.array_axis()} {nav.index} / {nav.count - 1} · {nav.position_mm():.1f} mm")

    def show_window(self, preset: str, text: str) -> None:
        self.window_box.setEnabled(bool(text))
        self.window_box.setCurrentText(preset or CUSTOM)
        self.window_text.setText(text)
