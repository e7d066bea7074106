"""The intensity window / level of a 3-D case's slices, as radiology viewers do it: CT presets (soft tissue, lung,
bone), the MR window from the 1st to the 99th percentile, and the mouse: right-drag on the image (horizontal: the
width, vertical: the level). Ctrl+wheel over the image steps through the slices. The values are core.intensity's
(the export's figures use the same)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal

from ..core.intensity import (CT_PRESETS, PERCENTILE_PRESET, Window, default_window, dragged, looks_like_ct,
                              percentile_window, preset_window, to_rgb)

PRESETS = (*CT_PRESETS, PERCENTILE_PRESET)
CUSTOM = "custom (right-drag)"


class WindowLevel(QObject):
    """The window of the current case's intensities; `changed` when it moves."""
    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.window: Window | None = None
        self.preset = ""
        self._values: np.ndarray | None = None
        self._span = 1.0

    def reset(self, values: np.ndarray | None) -> None:
        """A new case: its default window (CT soft tissue in Hounsfield units, else the percentile window)."""
        self._values = values
        if values is None:
            self.window, self.preset = None, ""
        else:
            self.preset = "CT soft tissue" if looks_like_ct(values) else PERCENTILE_PRESET
            self.window = default_window(values)
            self._span = percentile_window(values, 0.5, 99.5).width
        self.changed.emit()

    def choose(self, name: str) -> None:
        if self._values is None or name not in PRESETS:
            return
        self.window, self.preset = preset_window(name, self._values), name
        self.changed.emit()

    def cycle(self) -> None:
        """The next preset (W)."""
        at = PRESETS.index(self.preset) if self.preset in PRESETS else -1
        self.choose(PRESETS[(at + 1) % len(PRESETS)])

    def drag(self, dx: float, dy: float) -> None:
        if self.window is None:
            return
        self.window, self.preset = dragged(self.window, dx, dy, self._span), CUSTOM
        self.changed.emit()

    def rgb(self, values: np.ndarray | None) -> np.ndarray | None:
        """A slice's intensities through the window (None: no image)."""
        return None if values is None or self.window is None else to_rgb(values, self.window)

    def text(self) -> str:
        w = self.window
        return "" if w is None else f"W {w.width:.0f} · L {w.level:.0f}"


class CanvasMouse(QObject):
    """On the canvas of a 3-D case: Ctrl+wheel steps slices, right-drag moves the window (instead of the 2-D
    zoom); on a 2-D dataset it lets every event through."""
    wheel_slices = Signal(int)
    drag_window = Signal(float, float)

    def __init__(self, viewport, parent: QObject | None = None):
        super().__init__(parent)
        self.active = False
        self._last = None
        viewport.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if not self.active:
            return False
        kind = event.type()
        if kind == QEvent.Wheel and event.modifiers() & Qt.ControlModifier:
            step = event.angleDelta().y()
            if step:
                self.wheel_slices.emit(-1 if step > 0 else 1)      # wheel up: towards the first slice
            return True
        if kind == QEvent.MouseButtonPress and event.button() == Qt.RightButton:
            self._last = event.position()
            return True
        if kind == QEvent.MouseMove and self._last is not None and event.buttons() & Qt.RightButton:
            pos = event.position()
            self.drag_window.emit(pos.x() - self._last.x(), pos.y() - self._last.y())
            self._last = pos
            return True
        if kind == QEvent.MouseButtonRelease and event.button() == Qt.RightButton and self._last is not None:
            self._last = None
            return True
        return False
