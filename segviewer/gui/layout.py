"""The window's panels: docks with minimum sizes that never overlap, View ▸ panel toggles, Reset layout, and the
layout remembered between runs (QSettings)."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea, QWidget

LAYOUT_VERSION = 2          # bump when the docks change: an older saved layout is then ignored
STATE_KEY, GEOMETRY_KEY = "layout/state", "layout/geometry"
DEFAULT_SIZE = (1500, 920)


def scrolling(widget: QWidget) -> QScrollArea:
    """The widget in a vertical scroll area as wide as the widget needs: clipped controls scroll, never overlap."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    width = widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 4
    area.setMinimumWidth(width)
    return area


class WindowLayout:
    def __init__(self, window: QMainWindow):
        self.w = window
        self.docks: list[tuple] = []   # dock, default area, default size, the dock it sits below
        window.setDockNestingEnabled(True)
        window.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        window.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)

    def add(self, title: str, widget: QWidget, area, size: int, minimum: tuple[int, int] = (0, 0),
            below: QDockWidget | None = None) -> QDockWidget:
        dock = QDockWidget(title, self.w)
        dock.setObjectName(title)
        dock.setWidget(widget)
        # movable between the window's edges, never floating over the canvas
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        dock.setAllowedAreas(Qt.AllDockWidgetAreas)
        widget.setMinimumSize(max(widget.minimumWidth(), minimum[0]), max(widget.minimumHeight(), minimum[1]))
        self.docks.append((dock, area, size, below))
        self._place(dock, area, below)
        return dock

    def _place(self, dock: QDockWidget, area, below: QDockWidget | None) -> None:
        if below is not None:
            self.w.splitDockWidget(below, dock, Qt.Vertical)
        else:
            self.w.addDockWidget(area, dock)

    def reset(self) -> None:
        """Every panel back where it started, shown, at its default size."""
        for dock, *_ in self.docks:
            dock.setFloating(False)
            self.w.removeDockWidget(dock)
        for dock, area, _size, below in self.docks:
            self._place(dock, area, below)
            dock.show()
        self.apply_default_sizes()

    def apply_default_sizes(self) -> None:
        for dock, area, size, below in self.docks:
            if below is not None:     # a panel under another: it keeps `size` px, the one above the rest
                self.w.resizeDocks([below, dock], [max(self.w.height() - size, size), size], Qt.Vertical)
            elif size:
                horizontal = area != Qt.BottomDockWidgetArea
                self.w.resizeDocks([dock], [size], Qt.Horizontal if horizontal else Qt.Vertical)

    def follow_window_width(self, dock: QDockWidget, old_width: int, new_width: int) -> None:
        """A panel keeps its share of the window's width when the window is resized (within its minimum)."""
        if old_width <= 0 or new_width == old_width or not dock.isVisible() or dock.isFloating():
            return
        width = max(dock.widget().minimumWidth(), round(dock.width() * new_width / old_width))
        self.w.resizeDocks([dock], [width], Qt.Horizontal)

    def fill_menu(self, menu, add_action) -> None:
        for dock, *_ in self.docks:
            action = dock.toggleViewAction()
            action.setText(f"{dock.windowTitle()} panel")
            menu.addAction(action)
        menu.addSeparator()
        add_action(menu, "Reset layout", self.reset)

    # ---- remembered between runs ----
    def restore(self, settings) -> bool:
        geometry, state = settings.value(GEOMETRY_KEY), settings.value(STATE_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.w.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            return bool(self.w.restoreState(state, LAYOUT_VERSION))
        return False

    def save(self, settings) -> None:
        settings.setValue(GEOMETRY_KEY, self.w.saveGeometry())
        settings.setValue(STATE_KEY, self.w.saveState(LAYOUT_VERSION))
