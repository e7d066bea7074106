"""A panel's slim title bar: its name, optionally a one-line summary beside it (the Scores panel's current numbers),
and a close button. Dragging it moves the panel (Qt uses the mouse events the bar does not take)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget


class PanelTitle(QWidget):
    def __init__(self, dock: QDockWidget, extra: QWidget | None = None):
        super().__init__(dock)
        self.dock = dock
        self.name = QLabel(f"<b>{dock.windowTitle()}</b>")
        self.name.setTextFormat(Qt.RichText)
        self.name.setAttribute(Qt.WA_TransparentForMouseEvents)     # a drag on it moves the panel
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip(f"Hide the {dock.windowTitle()} panel (View ▸ panels brings it back)")
        close.setFocusPolicy(Qt.NoFocus)
        close.setFixedSize(16, 16)
        close.clicked.connect(dock.close)
        self.close_button = close
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 1, 2, 1)
        row.setSpacing(8)
        row.addWidget(self.name)
        if extra is not None:
            extra.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)   # never widens the panel
            row.addWidget(extra, 1)
        else:
            row.addStretch(1)
        row.addWidget(close)
        self.setFixedHeight(max(self.name.sizeHint().height(), 16) + 2)
