"""The window's panels: docks with minimum sizes that never overlap, arranged for the window's size, View ▸ panel
toggles, Reset layout, and the layout remembered between runs (QSettings).

Two arrangements, as napari and CVAT give the canvas the room on a laptop: below COMPACT_BELOW px of width the
Images, Settings and Review panels are tabs of one side bar (the image gets about half the window at 1024×700);
on a wider window Images sits left and Settings over Review right (Settings as tall as its controls, Review the
rest). Scores stays under the image in both. The window follows its size with them until the user moves a panel
(then the layout is theirs, and remembered)."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QFrame, QHBoxLayout, QLabel, QMainWindow, QScrollArea, QTabWidget,
                               QVBoxLayout, QWidget)

from .panel_title import PanelTitle

LAYOUT_VERSION = 3          # bump when the docks change: an older saved layout is then ignored
STATE_KEY, GEOMETRY_KEY = "layout/state", "layout/geometry"
DEFAULT_SIZE = (1500, 920)
COMPACT_BELOW = 1280        # window width under which the side panels become tabs of one side bar


class Arrangement(enum.Enum):
    COMPACT = "compact"     # one tabbed side bar (Images | Settings | Review), Scores under the image
    WIDE = "wide"           # Images left; Settings over Review right; Scores under the image


def arrangement_for(width: int) -> Arrangement:
    return Arrangement.COMPACT if width < COMPACT_BELOW else Arrangement.WIDE


def initial_size(available: QSize) -> tuple[int, int]:
    """The first window: the default size, or the screen's available area when that is smaller (a 1024×700
    screen gets a 1024×700 window, its status bar on screen)."""
    return min(DEFAULT_SIZE[0], available.width()), min(DEFAULT_SIZE[1], available.height())


def scrolling(widget: QWidget) -> QScrollArea:
    """The widget in a scroll area as wide as the widget needs: clipped controls scroll, never overlap. A widget
    that grows wider later (a long status line) gets a horizontal scroll bar rather than cut controls."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
    width = widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 4
    area.setMinimumWidth(width)
    return area


@dataclass
class Panel:
    dock: QDockWidget
    area: Qt.DockWidgetArea          # the wide arrangement's edge
    size: int                        # wide: its width (left/right) or height (bottom); under another: the least
                                     # height it keeps (it takes the spare height, the one above what it needs)
    below: QDockWidget | None        # wide: stacked under this panel
    side_bar: bool                   # compact: a tab of the one side bar


class WindowLayout:
    def __init__(self, window: QMainWindow):
        self.w = window
        self.panels: list[Panel] = []
        self.shares: dict = {}         # dock -> the orientation in which it keeps its share of the window
        self._share: dict = {}         # (arrangement, dock) -> its share: each arrangement keeps its own
        self.arrangement: Arrangement | None = None
        self.customized = False        # the user moved a panel (or a saved layout was restored): theirs to keep
        self.bottom_height = lambda arrangement: 0   # the bottom panel's height per arrangement (px; 0: its size)
        self._window_size = window.size()
        self._applying = False
        self._arranging = False
        self._dragging = False         # a mouse button is down on the window's own area: a separator drag
        self._held: dict = {}          # panel over another -> the height the user dragged it to
        self._fit_pending = False
        self.watcher = _ResizeWatcher(self)
        window.installEventFilter(self.watcher)
        window.setDockNestingEnabled(True)
        window.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        window.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        window.setTabPosition(Qt.AllDockWidgetAreas, QTabWidget.North)

    def add(self, title: str, widget: QWidget, area, size: int, minimum: tuple[int, int] = (0, 0),
            below: QDockWidget | None = None, side_bar: bool = True, summary: QWidget | None = None) -> QDockWidget:
        """A panel; `summary`: a one-line widget shown in its title bar, beside its name."""
        dock = QDockWidget(title, self.w)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setTitleBarWidget(PanelTitle(dock, summary))
        # movable between the window's edges, never floating over the canvas
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        dock.setAllowedAreas(Qt.AllDockWidgetAreas)
        widget.setMinimumSize(max(widget.minimumWidth(), minimum[0]), max(widget.minimumHeight(), minimum[1]))
        dock.dockLocationChanged.connect(self._user_moved)
        self.panels.append(Panel(dock, area, size, below, side_bar))
        if below is not None:
            for stacked in (below, dock):
                stacked.installEventFilter(self.watcher)
                stacked.visibilityChanged.connect(self.watcher.shown_or_hidden)
            content(below).installEventFilter(self.watcher)     # its controls' height changes: fitted again
        return dock

    @property
    def docks(self) -> list[QDockWidget]:
        return [p.dock for p in self.panels]

    def _user_moved(self, *_args) -> None:
        if not self._arranging:
            self.customized = True

    # ---- the two arrangements ----
    def reset(self, arrangement: Arrangement | None = None) -> None:
        """Every panel back where the arrangement for the window's width puts it, shown, at its default size."""
        self._arranging = True
        try:
            for dock in self.docks:
                dock.setFloating(False)
                self.w.removeDockWidget(dock)
            self.arrangement = arrangement or arrangement_for(self.w.width())
            (self._place_compact if self.arrangement is Arrangement.COMPACT else self._place_wide)()
            for dock in self.docks:
                dock.show()
            self.customized = False
            self.apply_default_sizes()
            if arrangement is not None:     # the window crossed COMPACT_BELOW: this arrangement's shares again
                self._apply_shares()
        finally:
            self._arranging = False

    def _place_wide(self) -> None:
        for p in self.panels:
            if p.below is not None:
                self.w.splitDockWidget(p.below, p.dock, Qt.Vertical)
            else:
                self.w.addDockWidget(p.area, p.dock)

    def _place_compact(self) -> None:
        side = [p.dock for p in self.panels if p.side_bar]
        for p in self.panels:
            if not p.side_bar:
                self.w.addDockWidget(p.area, p.dock)
        if side:
            self.w.addDockWidget(Qt.LeftDockWidgetArea, side[0])
            for dock in side[1:]:
                self.w.tabifyDockWidget(side[0], dock)
            side[0].raise_()

    def apply_default_sizes(self) -> None:
        if self.arrangement is Arrangement.COMPACT:
            side = [p.dock for p in self.panels if p.side_bar]
            if side:
                width = max(max(d.widget().minimumSizeHint().width(), d.widget().minimumWidth()) for d in side)
                self.w.resizeDocks([side[0]], [width], Qt.Horizontal)
            for p in self.panels:
                if not p.side_bar:
                    self.w.resizeDocks([p.dock], [self.bottom_height(self.arrangement) or p.size], Qt.Vertical)
            return
        self.fit_stacked()
        for p in self.panels:
            if p.below is not None:
                continue
            elif p.area == Qt.BottomDockWidgetArea:
                self.w.resizeDocks([p.dock], [self.bottom_height(self.arrangement) or p.size], Qt.Vertical)
            elif p.size:
                horizontal = p.area != Qt.BottomDockWidgetArea
                self.w.resizeDocks([p.dock], [p.size], Qt.Horizontal if horizontal else Qt.Vertical)

    def toggle_panels(self) -> None:
        """P: every panel hidden, the image alone in the window; again: the panels that were shown come back."""
        shown = [d for d in self.docks if d.isVisible()]
        if shown:
            self._hidden = shown
            for dock in shown:
                dock.hide()
            return
        for dock in getattr(self, "_hidden", None) or self.docks:
            dock.show()
        self._hidden = []

    def show_panel(self, dock: QDockWidget) -> None:
        """The panel on screen: shown, and its tab in front when it shares the side bar."""
        dock.show()
        dock.raise_()

    # ---- a panel over another takes the height its controls need, the one under it the rest ----
    def fit_stacked(self) -> None:
        """Settings over Review: Settings as tall as its controls (or as the user dragged it), Review the spare
        height, at least its `size` px; a window resize changes Review's height only."""
        self._fit_pending = False
        for p in self.panels:
            if p.below is None or not self._stacked(p.below, p.dock):
                continue
            top, bottom = p.below, p.dock
            laid_out = top.isVisible() and bottom.isVisible()
            total = top.height() + bottom.height() if laid_out else self.w.height()
            wanted = self._held.get(top) or needed_height(top)
            height = max(min(wanted, total - p.size), top.minimumSizeHint().height())
            if not laid_out or height != top.height():
                self.w.resizeDocks([top, bottom], [height, max(total - height, 0)], Qt.Vertical)

    def fit_later(self) -> None:
        """Once the layout settles (a panel shown again, its controls grew): one fit however many asked."""
        if not self._fit_pending:
            self._fit_pending = True
            QTimer.singleShot(0, self.watcher, self.fit_stacked)   # dropped with the window

    def _stacked(self, top: QDockWidget, bottom: QDockWidget) -> bool:
        """The two panels one over the other in one column, as the wide arrangement puts them (the user may have
        moved or tabbed them since)."""
        if not self.w.isVisible():      # not laid out yet: where the arrangement puts them
            return self.arrangement is Arrangement.WIDE and not self.customized
        area = self.w.dockWidgetArea(top)
        shown = not (top.isHidden() or bottom.isHidden() or top.isFloating() or bottom.isFloating())
        if not shown or area != self.w.dockWidgetArea(bottom) or bottom in self.w.tabifiedDockWidgets(top):
            return False
        return top.x() == bottom.x() and top.y() < bottom.y()

    def separator_pressed(self, down: bool) -> None:
        self._dragging = down

    def stacked_resized(self, dock: QDockWidget) -> None:
        """A drag of the separator between the two sets the upper one's height for the rest of the session."""
        for p in self.panels:
            if p.below is dock and self._dragging and self.w.size() == self._window_size:
                self._held[dock] = dock.height()

    # ---- panels keep their share of the window ----
    def keep_share(self, dock: QDockWidget, orientation) -> None:
        """The dock keeps its share of the window's width (or height) when the window is resized, so a list left
        at 270 px on a laptop is not 270 px on a 4K screen, nor the reverse; dragging its edge sets the share."""
        self.shares[dock] = orientation
        dock.installEventFilter(self.watcher)

    def _extent(self, dock: QDockWidget, orientation) -> tuple[int, int]:
        if orientation == Qt.Horizontal:
            return dock.width(), self.w.width()
        return dock.height(), self.w.height()

    def dock_resized(self, dock: QDockWidget) -> None:
        if self._applying or self.w.size() != self._window_size or dock not in self.shares:
            return      # a window resize moves docks too; only a drag of the dock's own edge sets its share
        size, whole = self._extent(dock, self.shares[dock])
        if whole > 0 and dock.isVisible():
            self._share[self.arrangement, dock] = size / whole

    def window_resized(self) -> None:
        """A window that crosses COMPACT_BELOW takes the other arrangement, unless the user arranged the panels;
        every dock that keeps a share gets it of the new size. The docks' own resizes that follow (the layout
        settles in the event loop) do not count as the user's choice."""
        self._window_size = self.w.size()
        self._applying = True
        QTimer.singleShot(100, self.w, self._settled)   # dropped if the window is gone by then
        wanted = arrangement_for(self.w.width())
        if self.arrangement is not None and wanted is not self.arrangement and not self.customized:
            self.reset(wanted)
        else:
            self._apply_shares()
        self.fit_stacked()

    def _apply_shares(self) -> None:
        for dock, orientation in self.shares.items():
            share = self._share.get((self.arrangement, dock))
            if share is None or not dock.isVisible() or dock.isFloating():
                continue
            whole = self._extent(dock, orientation)[1]
            least = dock.widget().minimumWidth() if orientation == Qt.Horizontal else dock.widget().minimumHeight()
            self.w.resizeDocks([dock], [max(least, round(share * whole))], orientation)

    def _settled(self) -> None:
        self._applying = False
        for dock in self.shares:       # the first layout on screen sets the arrangement's starting shares
            if (self.arrangement, dock) not in self._share:
                self.dock_resized(dock)

    def fill_menu(self, menu, add_action) -> None:
        for dock in self.docks:
            action = dock.toggleViewAction()
            action.setText(f"{dock.windowTitle()} panel")
            menu.addAction(action)
        menu.addSeparator()
        add_action(menu, "Reset layout", self.reset_to_default)

    def reset_to_default(self) -> None:
        """View ▸ Reset layout: the arrangement for the window's width at its default sizes."""
        self._share.clear()
        self._held.clear()
        self.reset()

    # ---- remembered between runs ----
    def restore(self, settings) -> bool:
        geometry, state = settings.value(GEOMETRY_KEY), settings.value(STATE_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.w.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty() and self.w.restoreState(state, LAYOUT_VERSION):
            self.customized = True
            self.arrangement = arrangement_for(self.w.width())
            return True
        return False

    def save(self, settings) -> None:
        settings.setValue(GEOMETRY_KEY, self.w.saveGeometry())
        settings.setValue(STATE_KEY, self.w.saveState(LAYOUT_VERSION))


class _ResizeWatcher(QObject):
    def __init__(self, layout: WindowLayout):
        super().__init__(layout.w)
        self.layout = layout

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if obj is self.layout.w:
            if kind in (QEvent.MouseButtonPress, QEvent.MouseButtonRelease):
                self.layout.separator_pressed(kind == QEvent.MouseButtonPress)
        elif kind == QEvent.Resize and isinstance(obj, QDockWidget):
            self.layout.dock_resized(obj)
            self.layout.stacked_resized(obj)
        elif kind == QEvent.LayoutRequest:
            self.layout.fit_later()
        return False

    def shown_or_hidden(self, _shown: bool) -> None:    # a slot of this object: dropped with the window
        self.layout.fit_later()


def content(dock: QDockWidget) -> QWidget:
    """The panel's own widget (inside its scroll area, when it has one)."""
    widget = dock.widget()
    return widget.widget() if isinstance(widget, QScrollArea) else widget


def needed_height(dock: QDockWidget) -> int:
    """The panel's height with every control shown: its widget's at the panel's width, and the title bar."""
    inner, width = content(dock), dock.widget().width()
    body = inner.heightForWidth(width) if inner.hasHeightForWidth() and width > 0 else 0
    # the size hint too: wrapped lines at a narrower width must not bring a scroll bar that narrows it further
    body = max(body, inner.minimumSizeHint().height(), inner.sizeHint().height())
    title = dock.titleBarWidget()
    return body + (title.sizeHint().height() if title is not None else 0) + 2 * dock.contentsMargins().top()


def tab_layout(tab: QWidget, controls: list, body: QWidget) -> None:
    """A Scores tab: a row of controls (a label string, or a widget; the last one stretches) over its body."""
    top = QHBoxLayout()
    for k, item in enumerate(controls):
        top.addWidget(QLabel(item) if isinstance(item, str) else item, 1 if k == len(controls) - 1 else 0)
    layout = QVBoxLayout(tab)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addLayout(top)
    layout.addWidget(body, 1)
