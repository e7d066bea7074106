"""The window's parts for 3-D cases: the slice bar above the canvas, the intensity window, the mouse (Ctrl+wheel,
right-drag), the class table's scopes (slice, case, dataset pooled and case mean) and the "Worst slices" tab.
Shown only while the dataset holds volumes; a 2-D dataset sees none of it."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .class_table import IMAGE_SCOPES, VOLUME_SCOPES
from .slices import SliceBar
from .table_model import KEY_ROLE, Cell, TableModel, select_key, sorted_table
from .window_level import CanvasMouse, WindowLevel

WORST_COLUMNS = ["slice", "position\nmm", "mean Fβ", "FP vx", "FN vx"]
WORST_TIPS = ["slice index along the axis (from 0, as the per-slice CSV and the readout's voxel)", "the slice's position along the axis (slice × spacing)",
              "mean F-beta over the classes present in the slice", "false-positive voxels", "false-negative voxels"]


class WorstSlicesPanel(QWidget):
    """The current case's slices across the current axis, worst first; a click shows that slice."""
    slice_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = TableModel(WORST_COLUMNS, WORST_TIPS, self)
        self.proxy, self.view = sorted_table(self.model, self)
        self.view.clicked.connect(lambda idx: self.slice_clicked.emit(int(idx.data(KEY_ROLE))))
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(self.view)

    def show_rows(self, rows, axis_name: str) -> None:
        if rows is None:
            self.note.setText("computing the slices' scores…")
            self.model.set_rows([], [])
            return
        self.note.setText(f"{axis_name} slices with a class in their ground truth or prediction, worst first "
                          f"({len(rows)}); click one to show it")
        self.model.set_rows([[Cell(k), Cell(mm), Cell(f), Cell(fp), Cell(fn)] for k, mm, f, fp, fn in rows],
                            [k for k, *_ in rows])
        self.view.sortByColumn(2, Qt.AscendingOrder)

    def select_slice(self, index: int | None) -> None:
        """The row of the slice shown, whichever way it was reached (a click, }, the bar, PgDn)."""
        select_key(self.proxy, self.view, index)


class VolumeView(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w, self.v = window, window.viewer
        self.nav = self.v.slices
        self.bar = SliceBar()
        self.bar.hide()
        window.canvas.layout().insertWidget(1, self.bar)
        self.level = WindowLevel(self)
        self.mouse = CanvasMouse(window.canvas.view_widget.viewport(), self)
        self.worst = WorstSlicesPanel()
        self._tab = -1
        self._case = None
        self._connect()

    def _connect(self) -> None:
        nav, bar = self.nav, self.bar
        nav.changed.connect(self._on_navigated)
        nav.worst_ready.connect(self._show_worst)
        bar.axis_chosen.connect(nav.set_axis)
        bar.slice_chosen.connect(nav.go)
        bar.preset_chosen.connect(self.level.choose)
        self.level.changed.connect(self._on_window)
        self.mouse.wheel_slices.connect(nav.step)
        self.mouse.drag_window.connect(self.level.drag)
        self.worst.slice_clicked.connect(nav.go)
        nav.worst_wanted = lambda: self.w.bottom_tabs.currentWidget() is self.worst
        self.w.bottom_tabs.currentChanged.connect(lambda _i: self._on_tab())
        self.v.dataset_opened.connect(self._on_dataset)

    @property
    def active(self) -> bool:
        return self.nav.active

    def _on_dataset(self) -> None:
        volumes = bool(self.v.dataset is not None and self.v.dataset.volumes)
        self.w.class_table.set_scopes(VOLUME_SCOPES if volumes else IMAGE_SCOPES)
        self.w.canvas.unit = "vx" if volumes else "px"        # as the tables and the Worst slices tab count
        tabs = self.w.bottom_tabs
        if volumes and self._tab < 0:
            self._tab = tabs.addTab(self.worst, "Worst slices")
        elif not volumes and self._tab >= 0:
            tabs.removeTab(tabs.indexOf(self.worst))
            self._tab = -1

    def _on_navigated(self) -> None:
        nav = self.nav
        self.mouse.active = nav.active
        volume = nav.volume
        if volume is not self._case:            # another case: its own intensity window
            self._case = volume
            values = None if volume is None else volume.sample.image
            if volume is not None and values is None:       # a first look: from its slice
                values = volume.intensities(nav.axis, nav.index)
            self.level.reset(values)
        self.bar.show_slice(nav)
        self.worst.select_slice(nav.index if nav.active else None)

    def image_of(self, loaded) -> tuple:
        """set_image's arguments for a loaded image: a case's slice through the window, at its true aspect."""
        if not self.active:
            return loaded.sample.image, loaded.sample.shape
        rgb = self.level.rgb(self.nav.volume.intensities(self.nav.axis, self.nav.index))
        return rgb, loaded.sample.shape, self.nav.aspect()

    def _on_window(self) -> None:
        self.bar.show_window(self.level.preset, self.level.text())
        loaded = self.v.loaded
        if self.active and loaded is not None and self.v.showing_current():
            rgb = self.level.rgb(self.nav.volume.intensities(*loaded.where))
            if rgb is not None:
                self.w.canvas.set_intensities(rgb)

    def _on_tab(self) -> None:
        if self.nav.worst_wanted():
            self.nav.refresh_worst()
            self._show_worst()

    def _show_worst(self) -> None:
        if self.active and self.nav.worst_wanted():
            from ..core.orientation import AXIS_NAMES
            self.worst.show_rows(self.nav.worst_rows(), AXIS_NAMES[self.nav.axis].capitalize())
            self.worst.select_slice(self.nav.index)

    def title(self) -> str:
        return f" · {self.nav.title()}" if self.active else ""
