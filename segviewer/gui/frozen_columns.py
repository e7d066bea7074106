"""A table's first columns kept in place while the rest scroll sideways (Qt's "frozen column" pattern): a second
view over the same model and selection, drawn over the table's left edge, showing only those columns.

The image list scrolls sideways once a class is chosen on a laptop (its F-beta, IoU, FP and FN columns); without
this the rows' names and review marks scrolled out of view with them."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QFrame, QTableView


class FrozenColumns(QObject):
    def __init__(self, view: QTableView, columns: tuple[int, ...]):
        super().__init__(view)
        self.view, self.columns = view, columns
        self.overlay = QTableView(view)
        self._copy_looks()
        self._sync_columns()
        self._connect()
        self.overlay.viewport().stackUnder(view.verticalScrollBar())
        view.viewport().installEventFilter(self)
        self.place()

    def _copy_looks(self) -> None:
        o, v = self.overlay, self.view
        o.setModel(v.model())
        o.setSelectionModel(v.selectionModel())
        o.setFocusPolicy(Qt.NoFocus)
        o.setFrameShape(QFrame.NoFrame)
        o.setSelectionBehavior(QAbstractItemView.SelectRows)
        o.setSelectionMode(QAbstractItemView.SingleSelection)
        o.setEditTriggers(QAbstractItemView.NoEditTriggers)
        o.setTextElideMode(v.textElideMode())
        o.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        o.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        o.setVerticalScrollMode(v.verticalScrollMode())
        o.verticalHeader().setVisible(False)
        o.verticalHeader().setDefaultSectionSize(v.verticalHeader().defaultSectionSize())
        o.horizontalHeader().setSectionsMovable(False)
        o.horizontalHeader().setSortIndicatorShown(True)
        o.horizontalHeader().setHighlightSections(False)

    def _connect(self) -> None:
        v, o = self.view, self.overlay
        v.verticalScrollBar().valueChanged.connect(o.verticalScrollBar().setValue)
        o.verticalScrollBar().valueChanged.connect(v.verticalScrollBar().setValue)
        header = v.horizontalHeader()
        header.sectionResized.connect(self._resized)      # every viewport resize refits the name: no full sync
        header.sectionMoved.connect(lambda *_: self._sync_columns())
        # a Python callable: PySide cannot wrap QHeaderView.setSortIndicator as a slot (it says so on stderr)
        header.sortIndicatorChanged.connect(lambda column, order: o.horizontalHeader().setSortIndicator(column, order))
        o.horizontalHeader().sectionClicked.connect(self._clicked)
        v.model().modelReset.connect(self._sync_columns)
        v.horizontalScrollBar().valueChanged.connect(lambda _v: self.place())

    def _clicked(self, column: int) -> None:
        """A click on a frozen header sorts the table as a click on its own header does."""
        header = self.view.horizontalHeader()
        same = header.sortIndicatorSection() == column
        order = Qt.DescendingOrder if same and header.sortIndicatorOrder() == Qt.AscendingOrder else \
            Qt.AscendingOrder
        header.setSortIndicator(column, order)
        header.sectionClicked.emit(column)

    def _resized(self, column: int, _old: int, new: int) -> None:
        if column in self.columns:
            self.overlay.setColumnWidth(column, new)
            self.place()

    def _sync_columns(self) -> None:
        """The frozen columns in the table's order and widths; the others hidden."""
        o, header = self.overlay, self.view.horizontalHeader()
        for c in range(self.view.model().columnCount()):
            o.setColumnHidden(c, c not in self.columns)
        for visual, c in enumerate(sorted(self.columns, key=header.visualIndex)):
            o.horizontalHeader().moveSection(o.horizontalHeader().visualIndex(c), visual)
            o.setColumnWidth(c, header.sectionSize(c))
        self.place()

    def width(self) -> int:
        header = self.view.horizontalHeader()
        return sum(header.sectionSize(c) for c in self.columns)

    def place(self) -> None:
        """Over the table's left edge, as tall as its header and rows; shown only while the table is scrolled
        sideways (unscrolled, the table's own columns are in the same place)."""
        v, o = self.view, self.overlay
        o.horizontalHeader().setFixedHeight(v.horizontalHeader().height())
        o.setGeometry(v.frameWidth(), v.frameWidth(), self.width(),
                      v.viewport().height() + v.horizontalHeader().height())
        o.setVisible(v.horizontalScrollBar().value() > 0)
        o.verticalScrollBar().setValue(v.verticalScrollBar().value())

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Resize:
            self.place()
        return False
