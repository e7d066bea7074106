"""The Compare tab (model A vs model B): B's own threshold, a per-class table of A, B and Δ for the current image and
the dataset with the pixels B fixes, breaks or both get wrong, and the per-image Δ that ranks the image list.
The canvas's compare view draws the engine's change codes. Every number comes from the engine, off the GUI thread,
and is shown only while its key (both models' settings) is still the current one."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget)

from ..core.compare import per_class_values
from ..core.compare_pixels import COMPARE_RGB, COMPARE_WORDS
from ..core.counts import Counts
from ..core.scores import compute_scores
from .table_model import Cell, TableModel, sorted_table
from .number_field import ExactSpinBox

COLUMNS = ["class", "image Fβ A", "image Fβ B", "image ΔFβ", "dataset Fβ A", "dataset Fβ B", "dataset ΔFβ",
           "dataset IoU A", "dataset IoU B", "dataset ΔIoU", "fixed px", "broken px", "both wrong px"]
TIPS = ["", "model A on this image", "model B on this image", "B − A", "model A over the dataset",
        "model B over the dataset", "B − A", "", "", "B − A",
        "errors of A for this class that B gets right (dataset)",
        "pixels B gets wrong for this class that A got right (dataset)", "wrong for this class under both (dataset)"]
GAIN, LOSS = (0, 114, 178), (213, 94, 0)


class ComparePanel(QWidget):
    threshold_changed = Signal(object)       # B's Scoring threshold / argmax as a dict of changes
    ranking_changed = Signal(str)             # "breaks" | "fixes"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.threshold = ExactSpinBox(0.0, 1.0, 0.01, hint="0.000")    # B's threshold as the engine holds it
        self.threshold.setValue(0.5)
        self.threshold.setPrefix("B threshold ")
        self.argmax = QCheckBox("B argmax")
        self.ranking = QComboBox()
        self.ranking.addItem("list: what B breaks first", "breaks")
        self.ranking.addItem("list: what B fixes first", "fixes")
        self.legend = QLabel(" ".join(
            f"<span style='background: rgb{COMPARE_RGB[c]}; color: rgb{COMPARE_RGB[c]}'>&nbsp;&nbsp;&nbsp;</span>"
            f"&nbsp;{w}" for c, w in COMPARE_WORDS.items()))
        self.legend.setTextFormat(Qt.RichText)
        self.note = QLabel("Open a second model with File ▸ Compare with model B… (or start with "
                           "segviewer DIR --compare B_DIR).")
        self.note.setStyleSheet("color: gray;")
        # narrow rows: the Scores dock must fit a 1024-px window beside the settings
        self.legend.setWordWrap(True)
        self.note.setWordWrap(True)
        self.ranking.setSizeAdjustPolicy(QComboBox.AdjustToContents)    # its choice whole (fits 740 px)
        top = QHBoxLayout()
        for w in (self.threshold, self.argmax, self.ranking):
            top.addWidget(w)
        top.addStretch(1)
        self.model = TableModel(COLUMNS, TIPS, self)
        self.proxy, self.view = sorted_table(self.model, self)
        self.view.sortByColumn(-1, Qt.AscendingOrder)    # class order until the user sorts by a column
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addLayout(top)
        layout.addWidget(self.legend)
        layout.addWidget(self.view, 1)
        self.threshold.valueChanged.connect(lambda t: self.threshold_changed.emit({"threshold": float(t)}))
        self.argmax.toggled.connect(self._on_argmax)
        self.ranking.currentIndexChanged.connect(lambda _i: self.ranking_changed.emit(self.ranking.currentData()))

    def _on_argmax(self, on: bool) -> None:
        self.threshold.setEnabled(not on)
        self.threshold_changed.emit({"argmax": bool(on)})

    def set_rows(self, names, image: dict | None, dataset: dict | None) -> None:
        rows = []
        for c, name in enumerate(names):
            row = [Cell(f"{c}: {name}")]
            for source, keys in ((image, ("fbeta_a", "fbeta_b", "delta_fbeta")),
                                 (dataset, ("fbeta_a", "fbeta_b", "delta_fbeta", "iou_a", "iou_b", "delta_iou"))):
                row += [_delta_cell(source[k][c], k) if source is not None else Cell(None, tooltip="computing…")
                        for k in keys]
            row += [Cell(int(dataset[k][c])) if dataset is not None else Cell(None)
                    for k in ("fixed", "broken", "both_wrong")]
            rows.append(row)
        self.model.set_rows(rows, list(range(len(names))))


def _delta_cell(value, key: str) -> Cell:
    value = float(value)
    if not key.startswith("delta") or np.isnan(value) or value == 0:
        return Cell(value)
    return Cell(value, color=GAIN if value > 0 else LOSS)


def image_values(counts_a: Counts, counts_b: Counts, beta: float, smooth: float) -> dict:
    sa, sb = compute_scores(counts_a, beta, smooth), compute_scores(counts_b, beta, smooth)
    fa, fb = sa.fbeta.numpy(), sb.fbeta.numpy()
    return {"fbeta_a": fa, "fbeta_b": fb, "delta_fbeta": fb - fa}


class CompareController(QObject):
    """Runs the engine's compare requests for the panel and the list's Δ ranking (the viewer draws the compare
    view itself, as every other view). Model B's threshold / argmax is the engine's compare_scoring."""
    deltas_ready = Signal(object)        # per-image dict a, b, delta, failed (dataset order)

    def __init__(self, viewer, panel: ComparePanel):
        super().__init__(panel)
        self.v, self.panel = viewer, panel
        self.active = False              # the tab or the compare view is showing
        self.ranking = "breaks"
        viewer.sample_loaded.connect(self.refresh)
        viewer.dataset_opened.connect(self.reset)
        viewer.dataset_scores_ready.connect(self.refresh)
        viewer.settings_changed.connect(self._on_settings_changed)
        panel.threshold_changed.connect(self.set_b)
        panel.ranking_changed.connect(self._on_ranking)

    @property
    def available(self) -> bool:
        return self.v.engine is not None and self.v.engine.compare.attached

    @property
    def deltas(self):
        return self.v.jobs.value("compare_deltas")

    def reset(self) -> None:
        self.panel.note.setVisible(not self.available)
        for widget in (self.panel.threshold, self.panel.argmax, self.panel.ranking):
            widget.setEnabled(self.available)           # nothing to set or rank without a model B
        if self.available:
            self._show_b()

    def _show_b(self) -> None:
        """Model B's settings in the panel's widgets, without echoing them back."""
        b = self.v.b_scoring
        for widget, value in ((self.panel.threshold, None if b.per_class else b.threshold),
                              (self.panel.argmax, b.argmax)):
            widget.blockSignals(True)
            if widget is self.panel.argmax:
                widget.setChecked(value)
            elif value is not None:
                widget.setValue(value)
            widget.blockSignals(False)
        hard = self.v.engine.compare.model.is_hard
        self.panel.threshold.setEnabled(not hard and not b.argmax and not b.per_class)
        self.panel.argmax.setEnabled(not hard)

    def _on_settings_changed(self, changed: set) -> None:
        if self.available and any(name.startswith("compare_") for name in changed):
            self._show_b()
        self.refresh()

    def set_b(self, changes: dict) -> None:
        if self.available:
            self.v.update_settings(**{f"compare_{k}": v for k, v in changes.items()})

    def _on_ranking(self, ranking: str) -> None:
        self.ranking = ranking
        if self.deltas is not None:
            self.deltas_ready.emit(self.deltas)

    def refresh(self) -> None:
        v = self.v
        if not self.active or not self.available or v.index is None:
            return
        engine = v.engine
        # snapshots: each job computes exactly the settings its key names
        i, class_id, sa, sb = v.current, v.settings.class_id, v.scoring, v.b_scoring
        v.jobs.request("compare_image", self._key("compare_image", image=True),
                       lambda: engine.compare.image(i, sa, sb), self._show, worker=v.compute, what="Compare")
        v.jobs.request("compare_dataset", self._key("compare_dataset"),
                       lambda: engine.compare.dataset(scoring=sa, compare_scoring=sb), self._show,
                       worker=v.background, what="Compare")
        v.jobs.request("compare_deltas", self._key("compare_deltas", by_class=True),
                       lambda: engine.compare.deltas("fbeta", class_id, sa, sb), self.deltas_ready.emit,
                       worker=v.background, what="Compare")
        self._show()

    def _key(self, kind: str, image: bool = False, by_class: bool = False):
        """The current settings' key of this kind of compare result, for the keyed jobs."""
        v = self.v
        return lambda: v.engine.key(kind, v.scoring, v.current if image else None,
                                    (v.settings.class_id,) if by_class else (), v.b_scoring)

    def _show(self, _out=None) -> None:
        """Only results whose key is the current one ("computing…" otherwise)."""
        s, jobs = self.v.scoring, self.v.jobs
        one, comparison = jobs.value("compare_image"), jobs.value("compare_dataset")
        image = image_values(one.counts_a, one.counts_b, s.beta, s.smooth) if one is not None else None
        dataset = per_class_values(comparison, s.beta, s.smooth) if comparison is not None else None
        self.panel.set_rows(self.v.classes.names, image, dataset)
