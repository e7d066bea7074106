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
    (("I",), "image only (press again: back to the overlay)", "image_only"),
    (("T",), "flicker: ground truth ⇄ prediction (class colours)", "flicker"),
    (("S",), "side by side: ground truth beside the view, zoom and pan linked", "side_by_side"),
    (("O",), "contour style ⇄ filled", "toggle_contour"),
    (("D",), "label doubt: 1 − p(label) as a heatmap over the photo (again: back)", "view_doubt"),
    (("V",), "model A → B: pixels B fixes, breaks, or both get wrong (again: back)", "view_compare"),
    (("B",), "all classes: paint the correct background pixels too", "toggle_background"),
    (("F",), "fit the image to the window", "fit"),
    (("Esc",), "clear the confusion-cell highlight and region box", "clear_highlight"),
    (("R",), "review mode on / off (QA)", "toggle_review"),
    (("1", "2", "3", "4", "5"), "review mode: set the status (and go to the next image in the list)",
     "set_status"),
    (("N",), "review mode: write a note", "edit_note"),
    (("U",), "review mode: undo the last review change", "undo_review"),
    (("L",), "review mode: 'needs fix', noting the suspect region selected in Label doubt (else the largest)",
     "mark_label_doubt"),
    (("Ctrl+Right",), "next unreviewed image (in the list's order)", "next_unreviewed"),
    (("Enter", "Esc"), "in a text or number field: done, keys go back to the image", "field_done"),
    (("?",), "this help", "toggle_help"),
]


MOUSE = [
    ("wheel", "zoom at the pointer"),
    ("left drag", "pan (both panes when side by side)"),
    ("right drag", "zoom in x and y"),
    ("hover", "pixel readout: GT class, prediction, probabilities"),
    ("click an image row", "show that image; click a column header to sort by it"),
    ("click a class row", "show that class"),
    ("click a confusion cell", "highlight its pixels (magenta) and rank the images by it"),
    ("click an error region", "zoom to it"),
]
SINGLE_KEY_NOTE = ("Single keys work wherever the focus is, except while typing in a text or number field "
                   "(there, letters still work in number fields; Enter or Esc gives the keys back).")


def _rows(pairs) -> str:
    return "".join(f"<tr><td style='padding-right:16px'><b>{keys}</b></td><td>{text}</td></tr>" for keys, text in pairs)


class HelpOverlay(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts and mouse")
        keys = _rows((" / ".join(k), text) for k, text, _ in SHORTCUTS)
        label = QLabel(f"<table>{keys}</table><p><b>Mouse</b></p><table>{_rows(MOUSE)}</table>"
                       f"<p style='color:gray'>{SINGLE_KEY_NOTE}</p>")
        label.setWordWrap(True)
        label.setTextFormat(Qt.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
