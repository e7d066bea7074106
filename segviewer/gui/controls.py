"""Threshold, beta, mode, class and layer controls; every change goes to the Viewer, which owns the settings."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QSlider, QSpinBox, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider

from ..core.overlay import ALL_CLASSES, PALETTES
from ..core.scoring import MAX_BOUNDARY
from ..core.validate import MAX_BETA, MAX_SMOOTH
from .number_field import ExactSpinBox, whole_field
from .state import LAYOUTS, STYLES, ViewSettings

BETA_LOG_RANGE = 100   # slider units per decade; the slider spans 0.1..10
VIEW_LABELS = {"errors": "Errors: TP / FP / FN (E)", "gt": "Ground-truth classes (G)", "pred": "Predicted classes (M)",
               "image": "Image only (I)", "doubt": "Label doubt (D)", "compare": "Model A → B (V)"}


BAND_TIP = ("Score only pixels within K px of a GT boundary. Ignore pixels count as a boundary too (VOC-style "
            "data outlines objects with ignore), so a class next to them has an edge there.")


def narrow_form(box: QGroupBox) -> QFormLayout:
    """A form whose rows fit a side bar about 270 px wide (labels beside short fields, long ones span the row)."""
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
    form.setHorizontalSpacing(6)
    form.setContentsMargins(6, 6, 6, 6)
    return form


def color_icon(rgb) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*rgb))
    return QIcon(pix)


class ControlsPanel(QWidget):
    changed = Signal(dict)            # setting name -> value
    apply_best = Signal()
    reset_best = Signal()
    drag_changed = Signal(bool)       # a slider is held (True) or released (False)

    def __init__(self, steps: int = 1000, parent: QWidget | None = None):
        super().__init__(parent)
        self.steps = steps
        self._syncing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._scoring_group())
        layout.addWidget(self._display_group())
        layout.addStretch(1)

    # ---- building ----
    def _scoring_group(self) -> QGroupBox:
        box = QGroupBox("Scoring")
        form = narrow_form(box)
        self.mode = QComboBox()
        self.mode.addItems(["threshold", "argmax"])
        self.mode.setToolTip("threshold: p_c > threshold counts as class c; argmax: the most probable class")
        self.mode.currentTextChanged.connect(lambda t: self._emit(argmax=(t == "argmax")))
        form.addRow("mode", self.mode)

        self.threshold_slider = QSlider(Qt.Horizontal)
        self.threshold_slider.setRange(0, self.steps)
        self.threshold_slider.setToolTip("Drag: steps of 1/%d on the index grid" % self.steps)
        self.threshold_spin = ExactSpinBox(0.0, 1.0, 1.0 / self.steps, hint="0.0000")
        self.threshold_spin.setToolTip("Exact threshold (applied on Enter); values off the grid are computed directly")
        self.threshold_slider.valueChanged.connect(lambda k: self._emit(threshold=k / self.steps))
        self.threshold_spin.valueChanged.connect(lambda v: self._emit(threshold=v))
        form.addRow("threshold", self._pair(self.threshold_slider, self.threshold_spin))
        self.per_class_label = QLabel("")
        self.per_class_label.setStyleSheet("color: #c98a00;")
        self.per_class_label.setWordWrap(True)        # a long line wraps: it never widens the panel
        self.per_class_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.per_class_label.hide()
        self.best_button = QPushButton("Apply best thresholds")
        self.best_button.setToolTip("One threshold per class: each class's maximum F-beta over the grid (a class "
                                    "in no GT: the lowest threshold that predicts none of it)")
        self.best_button.clicked.connect(self.apply_best)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to one threshold, 0.5, for every class")
        self.reset_button.clicked.connect(self.reset_best)
        form.addRow(self._pair(self.best_button, self.reset_button))
        form.addRow(self.per_class_label)

        self.beta_slider = QSlider(Qt.Horizontal)
        self.beta_slider.setRange(-BETA_LOG_RANGE, BETA_LOG_RANGE)
        self.beta_slider.setTickPosition(QSlider.TicksBelow)
        self.beta_slider.setTickInterval(BETA_LOG_RANGE)   # ticks at 0.1, 1 (Dice), 10
        self.beta_slider.setToolTip("log scale 0.1 – 10 · β → 0: precision · β → ∞: recall")
        # the engine's whole range: beta in (0, 1e6] (the field's least value is the least positive double)
        self.beta_spin = ExactSpinBox(math.ulp(0.0), MAX_BETA, 0.1, adaptive=True, hint="0.000")
        self.beta_spin.setToolTip("Exact beta (applied on Enter)")
        self.beta_slider.valueChanged.connect(lambda v: self._emit(beta=round(10 ** (v / BETA_LOG_RANGE), 3)))
        self.beta_spin.valueChanged.connect(lambda v: self._emit(beta=v))
        dice = QPushButton("β = 1 (Dice)")
        dice.clicked.connect(lambda: self._emit(beta=1.0, force=True))
        form.addRow("beta", self._pair(self.beta_slider, self.beta_spin))
        hint = QLabel("log scale 0.1 – 10 · β → 0: precision · β → ∞: recall")
        hint.setStyleSheet("color: gray; font-size: 10px;")
        hint.setWordWrap(True)
        hint.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        for slider in (self.threshold_slider, self.beta_slider):
            slider.sliderPressed.connect(lambda: self.drag_changed.emit(True))
            slider.sliderReleased.connect(lambda: self.drag_changed.emit(False))
        form.addRow("", dice)
        form.addRow(hint)

        self.smooth_spin = ExactSpinBox(0.0, MAX_SMOOTH, 1e-5, adaptive=True, hint="0.0000001")
        self.smooth_spin.valueChanged.connect(lambda v: self._emit(smooth=v))
        form.addRow("smooth", self.smooth_spin)
        self.boundary_spin = whole_field(QSpinBox(), 0, MAX_BOUNDARY)
        self.boundary_spin.setSpecialValueText("off (all pixels)")
        self.boundary_spin.setSuffix(" px band")
        self.boundary_spin.setToolTip(BAND_TIP)
        self.boundary_spin.valueChanged.connect(lambda v: self._emit(boundary=v))
        self.interior_box = QCheckBox("interior instead")
        self.interior_box.setToolTip("Score the pixels beyond the band: tells boundary sloppiness from whole-object errors")
        self.interior_box.toggled.connect(lambda on: self._emit(interior=on))
        form.addRow("boundary", self.boundary_spin)
        form.addRow("", self.interior_box)
        self._scoring_form = form
        return box

    def add_row(self, widget: QWidget) -> None:
        """A row of another part's (the class table's boundary-metrics box) at the end of the Scoring group."""
        self._scoring_form.addRow(widget)

    def _display_group(self) -> QGroupBox:
        box = QGroupBox("Display")
        form = narrow_form(box)
        self.class_combo = QComboBox()        # keys are shortcuts on it (0-9, A), never text typed into it
        self.class_combo.setMaxVisibleItems(24)
        self.class_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.class_combo.setMinimumContentsLength(12)
        self.class_combo.currentIndexChanged.connect(self._class_chosen)
        form.addRow("class", self.class_combo)
        self.view_combo = QComboBox()
        self.view_combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)   # every label whole
        for key, label in VIEW_LABELS.items():
            self.view_combo.addItem(label, key)
        self.view_combo.currentIndexChanged.connect(lambda i: self._emit(view=self.view_combo.itemData(i)))
        form.addRow("view", self.view_combo)
        self.layer_boxes = {}
        row = QHBoxLayout()
        for key, label, tip in (("show_tp", "TP", "true positives (Z)"), ("show_fp", "FP", "false positives (X)"),
                                ("show_fn", "FN", "false negatives (C)")):
            cb = QCheckBox(label)
            cb.setToolTip(f"Show {tip}")
            cb.toggled.connect(lambda on, k=key: self._emit(**{k: on}))
            self.layer_boxes[key] = cb
            row.addWidget(cb)
        layers = QWidget()
        layers.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("layers", layers)
        self.opacity = QLabeledDoubleSlider(Qt.Horizontal)
        self.opacity.setRange(0.0, 1.0)
        self.opacity.setDecimals(2)
        self.opacity.valueChanged.connect(lambda v: self._emit(opacity=float(v)))
        form.addRow("opacity", self.opacity)
        self.palette_combo = QComboBox()
        self.palette_combo.addItems(list(PALETTES))
        self.palette_combo.currentTextChanged.connect(lambda t: self._emit(palette=t))
        form.addRow("colours", self.palette_combo)
        self.style_combo = QComboBox()
        self.style_combo.addItems(list(STYLES))
        self.style_combo.setToolTip("filled regions, or their outlines only (O)")
        self.style_combo.currentTextChanged.connect(lambda t: self._emit(style=t))
        self.background_box = QCheckBox("paint correct background")
        self.background_box.setToolTip("All classes: correct pixels of the background class are counted but not "
                                       "painted, so the photo shows (B)")
        self.background_box.toggled.connect(lambda on: self._emit(show_background=on))
        form.addRow("style", self.style_combo)
        form.addRow("", self.background_box)
        self.layout_combo = QComboBox()
        self.layout_combo.addItems(list(LAYOUTS))
        self.layout_combo.setToolTip("side by side: the ground truth beside the view, zoom and pan linked (S)")
        self.layout_combo.currentTextChanged.connect(lambda t: self._emit(layout=t))
        form.addRow("panes", self.layout_combo)
        return box

    @staticmethod
    def _pair(a: QWidget, b: QWidget) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(a, 1)
        lay.addWidget(b)
        return w

    # ---- data ----
    def set_classes(self, names, colors, hard: bool) -> None:
        self._syncing = True
        self.class_combo.clear()
        self.class_combo.addItem("All classes", ALL_CLASSES)
        for i, (name, rgb) in enumerate(zip(names, colors)):
            self.class_combo.addItem(color_icon(rgb), f"{i}: {name}", i)
        self._syncing = False
        for w in (self.mode, self.threshold_slider, self.threshold_spin, self.best_button, self.reset_button):
            w.setEnabled(not hard)
            w.setToolTip("Hard masks have no threshold" if hard else w.toolTip())

    def _class_chosen(self, row: int) -> None:
        data = self.class_combo.itemData(row)
        if data is not None:
            self._emit(class_id=int(data))

    def _emit(self, force: bool = False, **changes) -> None:
        if not self._syncing:
            self.changed.emit(changes)

    def sync(self, s: ViewSettings) -> None:
        """Shows the settings without echoing them back as changes."""
        self._syncing = True
        try:
            sc = s.scoring
            per_class = sc.per_class
            self.mode.setCurrentText("argmax" if sc.argmax else "threshold")
            if not per_class:           # per-class thresholds: the slider keeps its last single value, unused
                self.threshold_slider.setValue(int(round(sc.threshold * self.steps)))
                self.threshold_spin.setValue(sc.threshold)
            self.beta_slider.setValue(int(round(math.log10(max(sc.beta, 1e-6)) * BETA_LOG_RANGE)))
            self.beta_spin.setValue(sc.beta)
            self.smooth_spin.setValue(sc.smooth)
            self.boundary_spin.setValue(sc.boundary)
            self.interior_box.setChecked(sc.interior)
            self.interior_box.setEnabled(sc.boundary > 0)
            idx = self.class_combo.findData(s.class_id)
            if idx >= 0:
                self.class_combo.setCurrentIndex(idx)
            self.view_combo.setCurrentIndex(self.view_combo.findData(s.view))
            for key, cb in self.layer_boxes.items():
                cb.setChecked(getattr(s, key))
            self.opacity.setValue(s.opacity)
            self.palette_combo.setCurrentText(s.palette)
            self.style_combo.setCurrentText(s.style)
            self.background_box.setChecked(s.show_background)
            self.layout_combo.setCurrentText(s.layout)
            thresholds_used = not sc.argmax and self.mode.isEnabled()      # argmax and hard masks use none
            self.per_class_label.setText("per-class thresholds active (the slider is not used; Reset for one)"
                                         if per_class and thresholds_used else "")
            self.per_class_label.setVisible(bool(per_class) and thresholds_used)
            self.threshold_slider.setEnabled(not per_class and thresholds_used)
            self.threshold_spin.setEnabled(not per_class and thresholds_used)
            self.best_button.setEnabled(thresholds_used)
        finally:
            self._syncing = False
