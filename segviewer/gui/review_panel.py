"""The Review panel's widgets (the window docks it; the ReviewController fills and wires them): every label wraps,
so no text change moves the layout; the team rows show for a team session only."""
from __future__ import annotations

import getpass
import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from .team import TeamSection, wrapping_label

ADVANCE_KEY = "review/advance"


class NoteEdit(QPlainTextEdit):
    """The note box: Enter saves, Shift+Enter starts a new line, Esc gives up the edit."""
    submitted = Signal(str)
    cancelled = Signal()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self.submitted.emit(self.toPlainText())
        elif event.key() == Qt.Key_Escape:
            self.cancelled.emit()
        elif event.key() in (Qt.Key_Return, Qt.Key_Enter):
            self.insertPlainText("\n")
        else:
            super().keyPressEvent(event)


class ReviewPanel(QWidget):
    def __init__(self, qsettings, note_box, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)
        self.mode_label = wrapping_label("off — press R to review with single keys")
        self.file_label = wrapping_label("no session")
        self.progress_label = wrapping_label()
        self.status_label = wrapping_label("—")
        self.reviewer = QLineEdit(qsettings.value("reviewer", getpass.getuser()))
        self.note_box = note_box
        self.note_box.setPlaceholderText("N: write a note · Enter saves · Shift+Enter new line · Esc cancels")
        self.note_box.setFixedHeight(3 * self.note_box.fontMetrics().height() + 12)
        self.advance = QCheckBox("a status key moves to the next image")
        self.advance.setChecked(qsettings.value(ADVANCE_KEY, True, type=bool))
        self.advance.toggled.connect(lambda on: qsettings.setValue(ADVANCE_KEY, on))
        self.undo_button = QPushButton("Undo (U)")
        self.undo_button.setToolTip("undo the last review change")
        self.next_button = QPushButton("Next unreviewed")
        self.next_button.setToolTip("Ctrl+→, in the list's order, skipping images open elsewhere")
        buttons = QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.next_button)
        self.retry = QPushButton("Connect again")
        self.retry.setToolTip("open the team session again (the server could not be reached)")
        self.retry.hide()
        self.team = team = TeamSection(form)
        for label, widget in (("review mode", self.mode_label), ("progress", self.progress_label),
                              ("connection", team.connection), ("status", self.status_label), ("", team.notice),
                              ("note", self.note_box), ("", self.advance), ("", buttons), ("history", team.history),
                              ("team", team.reviewers), ("agreement", team.agreement), ("open now", team.held),
                              ("reviewer", self.reviewer), ("session", self.file_label), ("", self.retry)):
            if label:
                form.addRow(label, widget)
            else:           # the whole row's width: the panel fits a 280 px side bar
                form.addRow(widget)
        team.update(None, None)

    def show_session(self, text: str, style: str = "", tip: str = "") -> None:
        """The session line: its file or masked URL, and what is wrong with it."""
        self.file_label.setText(f"<span style='{style}'>{html.escape(text)}</span>")
        self.file_label.setToolTip(tip)

    def show_mode(self, on: bool, keys: str) -> None:
        self.mode_label.setText(f"ON — {keys}; N note, U undo" if on else "off — press R to review")
        self.mode_label.setStyleSheet("color: #2a8a2a; font-weight: bold;" if on else "")
