"""Every keyboard shortcut in one table, shown by the help overlay (?) exactly as the window binds them."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

# (keys, description, action name on the window)
SHORTCUTS = [
    (("Right", "J"), "next image (in the list's order)", "next_image"),
    (("Left", "K"), "previous image", "previous_image"),
    (("]",), "next worst image (list sorted worst first)", "next_worst"),
    (("[",), "previous worst image", "previous_worst"),
    (("A",), "all classes", "all_classes"),
    (("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"), "class 0–9 (in review mode: Alt+number)", "class_by_number"),
    (("Z",), "show / hide true positives", "toggle_tp"),
    (("X",), "show / hide false positives", "toggle_fp"),
    (("C",), "show / hide false negatives", "toggle_fn"),
    (("E",), "errors view", "view_errors"),
    (("G",), "ground-truth classes view", "view_gt"),
    (("M",), "predicted classes view", "view_pred"),
    (("F",), "fit the image to the window", "fit"),
    (("Esc",), "clear the confusion-cell highlight and region box", "clear_highlight"),
    (("R",), "review mode on / off (QA)", "toggle_review"),
    (("1", "2", "3", "4", "5"), "review mode: set the status", "set_status"),
    (("N",), "review mode: write a note", "edit_note"),
    (("U",), "review mode: undo the last review change", "undo_review"),
    (("Ctrl+Right",), "next unreviewed image", "next_unreviewed"),
    (("?",), "this help", "toggle_help"),
]


class HelpOverlay(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = "".join(f"<tr><td style='padding-right:16px'><b>{' / '.join(keys)}</b></td><td>{text}</td></tr>"
                       for keys, text, _ in SHORTCUTS)
        label = QLabel(f"<table>{rows}</table>")
        label.setTextFormat(Qt.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
