"""Every menu entry, action and key of the window in one declarative table; the window binds it (window_actions)
and the help (?) is generated from it, so the help lists exactly what is bound.

Keys with Ctrl/Alt are Qt shortcuts; single keys go through the KeyRouter (they work wherever the focus is, except
while typing in a field) and are shown in their menu entry's text.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QTextBrowser, QVBoxLayout, QWidget

DIGITS = tuple(str(n) for n in range(10))
HELP_WIDTH = 720
SCROLL_KEYS = (Qt.Key_Up, Qt.Key_Down, Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_Home, Qt.Key_End)


@dataclass(frozen=True)
class Action:
    name: str                     # the handler's name (WindowActions.handlers)
    help: str                     # what the help says it does
    keys: tuple[str, ...] = ()
    menu: str | None = None       # "File", "View" or "Help": also a menu entry, with this text
    text: str | None = None
    separator: bool = False       # a separator above its menu entry


ACTIONS = (
    # ---- File ----
    Action("pick_folder", "open a dataset folder", ("Ctrl+O",), "File", "Open dataset folder…"),
    Action("open_dialog", "open a dataset from separate folders (and a Dask scheduler)", ("Ctrl+Shift+O",), "File",
           "Open dataset (separate folders)…"),
    Action("recent", "open a recent dataset", (), "File", "Open recent"),            # a submenu
    Action("open_demo", "open the demo dataset", (), "File", "Open demo dataset"),
    Action("pick_compare", "open model B beside the dataset's model A", (), "File", "Compare with model B…"),
    Action("export_per_class", "export the per-class CSV", ("Ctrl+E",), "File", "Export per-class CSV…", True),
    Action("export_per_image", "export the per-image CSV", (), "File", "Export per-image CSV…"),
    Action("export_report", "export the QA report", (), "File", "Export QA report…"),
    Action("export_worst_figures", "export figures of the worst images", (), "File", "Export worst figures…"),
    Action("save_view", "save the view as a PNG with a caption", ("Ctrl+S",), "File", "Save view as PNG…"),
    Action("quit", "quit", ("Ctrl+Q",), "File", "Quit", True),
    # ---- View ----
    Action("fit", "fit the image to the window", ("F",), "View", "Fit image"),
    Action("image_only", "image only (press again: back to the overlay)", ("I",), "View", "Image only"),
    Action("toggle_contour", "contour style ⇄ filled", ("O",), "View", "Contour / filled"),
    Action("side_by_side", "side by side: ground truth beside the view, zoom and pan linked", ("S",), "View",
           "Side by side with the ground truth"),
    Action("flicker", "flicker: ground truth ⇄ prediction (class colours)", ("T",), "View",
           "Flicker ground truth ⇄ prediction"),
    Action("view_doubt", "label doubt: 1 − p(label) as a heatmap over the photo (again: back)", ("D",), "View",
           "Label doubt heatmap"),
    Action("view_compare", "model A → B: pixels B fixes, breaks, or both get wrong (again: back)", ("V",), "View",
           "Model A → B changes"),
    Action("toggle_palette", "colour-blind safe colours ⇄ classic", (), "View", "Colour-blind safe colours"),
    Action("toggle_panels", "hide the panels: the image gets the whole window (again: they come back)", ("H",),
           "View", "Image alone (hide the panels)"),
    Action("axial", "3-D case: axial slices", ("Ctrl+1",), "View", "Axial slices", True),
    Action("coronal", "3-D case: coronal slices (head up, at the voxels' true aspect)", ("Ctrl+2",), "View",
           "Coronal slices"),
    Action("sagittal", "3-D case: sagittal slices (head up, at the voxels' true aspect)", ("Ctrl+3",), "View",
           "Sagittal slices"),
    Action("cycle_window", "3-D case: next intensity window (CT soft tissue, lung, bone; MR 1st–99th percentile)",
           ("W",), "View", "Next intensity window"),
    Action("panels", "show or hide a panel; reset the layout", (), "View", "Panels", True),   # dock toggles
    # ---- Help ----
    Action("toggle_help", "this help", ("?",), "Help", "Keyboard shortcuts"),
    # ---- keys only ----
    Action("next_image", "next image (in the list's order)", ("Right", "J")),
    Action("previous_image", "previous image", ("Left", "K")),
    Action("next_worst", "next worst image (list sorted worst first)", ("]",)),
    Action("previous_worst", "previous worst image", ("[",)),
    Action("next_slice", "3-D case: next slice (also Ctrl+wheel over the image)", ("PgDown",)),
    Action("previous_slice", "3-D case: previous slice", ("PgUp",)),
    Action("next_worst_slice", "3-D case: next worst slice of the case (Worst slices tab's order)", ("}",)),
    Action("previous_worst_slice", "3-D case: previous worst slice", ("{",)),
    Action("cycle_plane", "3-D case: next orientation (axial → coronal → sagittal)", ("P",)),
    Action("all_classes", "all classes", ("A",)),
    Action("class_by_number", "class 0–9 (in review mode: the status 1–5)", DIGITS),
    Action("select_class", "class 0–9, also in review mode", tuple(f"Alt+{n}" for n in DIGITS)),
    Action("toggle_tp", "show / hide true positives", ("Z",)),
    Action("toggle_fp", "show / hide false positives", ("X",)),
    Action("toggle_fn", "show / hide false negatives", ("C",)),
    Action("view_errors", "errors view", ("E",)),
    Action("view_gt", "ground-truth classes view", ("G",)),
    Action("view_pred", "predicted classes view", ("M",)),
    Action("toggle_background", "all classes: paint the correct background pixels too", ("B",)),
    Action("clear_highlight", "close the help, else clear the confusion-cell highlight and region box", ("Esc",)),
    Action("toggle_review", "review mode on / off (QA)", ("R",)),
    Action("edit_note", "review mode: write a note", ("N",)),
    Action("undo_review", "review mode: undo the last review change", ("U",)),
    Action("mark_label_doubt", "review mode: 'needs fix', noting the suspect region selected in Label doubt "
           "(else the largest)", ("L",)),
    Action("next_unreviewed", "next unreviewed image (in the list's order)", ("Ctrl+Right",)),
)
FIELD_KEYS = (("Enter / Esc", "in a text or number field: done, keys go back to the image"),)

MOUSE = (
    ("wheel", "zoom at the pointer"),
    ("left drag", "pan (both panes when side by side)"),
    ("right drag", "zoom in x and y; on a 3-D case: the intensity window (↔ width, ↕ level)"),
    ("Ctrl+wheel", "3-D case: step through the slices"),
    ("hover", "pixel readout: GT class, prediction, probabilities"),
    ("drop a folder", "open it as a dataset"),
    ("click an image row", "show that image; click a column header to sort by it"),
    ("click a class row", "show that class"),
    ("click a confusion cell", "highlight its pixels (magenta) and rank the images by it"),
    ("click an error region", "zoom to it"),
    ("click a worst slice", "show that slice (Worst slices tab)"),
    ("click a suspect region", "zoom to it (Label doubt tab); click an image there to show it"),
    ("drag a panel's title", "move the panel to another edge of the window"),
)
SINGLE_KEY_NOTE = ("Single keys work wherever the focus is, except while typing in a text or number field "
                   "(there, letters still work in number fields; Enter or Esc gives the keys back).")


def is_single(key: str) -> bool:
    """Routed by the KeyRouter (no Ctrl/Alt): "F", "?", "Right", "Esc" ..."""
    return "+" not in key


def key_text(keys: tuple[str, ...]) -> str:
    if keys == DIGITS:
        return "0 – 9"
    if len(keys) == 10 and all(k.startswith("Alt+") for k in keys):
        return "Alt+0 – 9"
    return " / ".join(keys)


def menu_text(action: Action) -> str:
    """A menu entry's text; its single keys in brackets (Ctrl keys are shown by Qt itself)."""
    single = [k for k in action.keys if is_single(k)]
    return f"{action.text} ({' / '.join(single)})" if single else action.text


def help_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for every action with keys, then the field keys: what the help shows."""
    return [(key_text(a.keys), a.help) for a in ACTIONS if a.keys] + list(FIELD_KEYS)


def help_html() -> str:
    return (f"<table>{_rows(help_rows())}</table><p><b>Mouse</b></p><table>{_rows(MOUSE)}</table>"
            f"<p style='color:gray'>{SINGLE_KEY_NOTE}</p>")


def _rows(pairs) -> str:
    return "".join(f"<tr><td style='padding-right:16px'><b>{keys}</b></td><td>{text}</td></tr>" for keys, text in pairs)


class HelpOverlay(QDialog):
    """Every key and mouse action, generated from the table; it scrolls and fits inside the window at any size."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts and mouse")
        self.text = QTextBrowser()
        self.text.setHtml(help_html())
        self.text.setOpenLinks(False)
        self.text.setFocusPolicy(Qt.NoFocus)      # Up/Down/Page keys still scroll it (the dialog passes them on)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.text)

    def showEvent(self, event) -> None:
        self.fit_parent()
        super().showEvent(event)

    def fit_parent(self) -> None:
        """As large as the help, at most the parent window less a margin (then it scrolls)."""
        parent = self.parentWidget()
        room = parent.size() if parent is not None else self.screen().availableGeometry().size()
        width = min(HELP_WIDTH, room.width() - 40)
        self.text.document().setTextWidth(width - 40)
        height = int(self.text.document().size().height()) + 30
        self.resize(width, max(200, min(height, room.height() - 60)))
        if parent is not None:
            self.move(parent.mapToGlobal(parent.rect().center()) - self.rect().center())

    def keyPressEvent(self, event) -> None:
        if event.key() in SCROLL_KEYS:
            self.text.keyPressEvent(event)    # the keys the window does not use scroll the help
            return
        super().keyPressEvent(event)
