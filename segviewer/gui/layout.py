"""The window's panels: docks with minimum sizes that never overlap, View ▸ panel toggles, Reset layout, and the
layout remembered between runs (QSettings)."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QHBoxLayout, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

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
        self.shares: dict = {}         # dock -> [share of the window, orientation]
        self._window_size = window.size()
        self._applying = False
        self.watcher = _ResizeWatcher(self)
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

    # ---- panels keep their share of the window ----
    def keep_share(self, dock: QDockWidget, orientation) -> None:
        """The dock keeps its share of the window's width (or height) when the window is resized, so a list left
        at 270 px on a laptop is not 270 px on a 4K screen, nor the reverse; dragging its edge sets the share."""
        self.shares[dock] = [None, orientation]
        dock.installEventFilter(self.watcher)

    def _extent(self, dock: QDockWidget, orientation) -> tuple[int, int]:
        if orientation == Qt.Horizontal:
            return dock.width(), self.w.width()
        return dock.height(), self.w.height()

    def dock_resized(self, dock: QDockWidget) -> None:
        if self._applying or self.w.size() != self._window_size or dock not in self.shares:
            return      # a window resize moves docks too; only a drag of the dock's own edge sets its share
        size, whole = self._extent(dock, self.shares[dock][1])
        if whole > 0 and dock.isVisible():
            self.shares[dock][0] = size / whole

    def window_resized(self) -> None:
        """Every dock that keeps a share gets it of the new size; the docks' own resizes that follow (the layout
        settles in the event loop) do not count as the user's choice."""
        self._window_size = self.w.size()
        self._applying = True
        QTimer.singleShot(100, self.w, self._settled)   # dropped if the window is gone by then
        for dock, (share, orientation) in self.shares.items():
            if share is None or not dock.isVisible() or dock.isFloating():
                continue
            whole = self._extent(dock, orientation)[1]
            least = dock.widget().minimumWidth() if orientation == Qt.Horizontal else dock.widget().minimumHeight()
            self.w.resizeDocks([dock], [max(least, round(share * whole))], orientation)

    def _settled(self) -> None:
        self._applying = False
        for dock, entry in self.shares.items():       # the first layout on screen sets the starting shares
            if entry[0] is None:
                self.dock_resized(dock)

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


class _ResizeWatcher(QObject):
    def __init__(self, layout: WindowLayout):
        super().__init__(layout.w)
        self.layout = layout

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Resize:
            self.layout.dock_resized(obj)
        return False


def tab_layout(tab: QWidget, controls: list, body: QWidget) -> None:
    """A Scores tab: a row of controls (a label string, or a widget; the last one stretches) over its body."""
    top = QHBoxLayout()
    for k, item in enumerate(controls):
        top.addWidget(QLabel(item) if isinstance(item, str) else item, 1 if k == len(controls) - 1 else 0)
    layout = QVBoxLayout(tab)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addLayout(top)
    layout.addWidget(body, 1)
