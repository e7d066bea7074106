"""What the canvas shows for the view-model's state: the image, the overlay through the view's lookup table, the
ground-truth pane beside it, a failed image's photo and ground truth, and the words around the image (title with
"n of N in the list", legend). The window connects the signals; this part only draws."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.overlay import ALL_CLASSES, class_lut
from .canvas import CanvasPanel, blank_code, luts_for

LUT_KEYS = {"palette", "show_tp", "show_fp", "show_fn", "opacity", "view", "class_id", "show_background"}
VIEW_WORDS = {"errors": "errors", "gt": "ground truth", "pred": "prediction", "image": "image only",
              "doubt": "label doubt", "compare": "model A → B"}
EMPTY_HINT = "File ▸ Open dataset (Ctrl+O), drop a dataset folder here, or File ▸ Open demo dataset"
PREVIEW_LEGEND = "what could be read: the photo and the ground truth (class colours)"


class CanvasView:
    def __init__(self, viewer, canvas: CanvasPanel, position_of: Callable[[int], tuple[int, int]],
                 insight_legend: Callable[[str, object], str], failed: Callable[[], bool], volume):
        """position_of(image) -> (row in the list or -1, rows shown); insight_legend(view, overlay): the doubt and
        compare views' legends; failed(): the selected image is one that could not be loaded; volume: the
        VolumeView (a 3-D case's slice, through its intensity window, and its words in the title)."""
        self.v, self.canvas, self.volume = viewer, canvas, volume
        self.position_of, self.insight_legend, self.failed = position_of, insight_legend, failed
        self.last_codes: np.ndarray | None = None

    # ---- the image ----
    def sample_loaded(self) -> None:
        loaded = self.v.loaded
        self.canvas.show_error(None)
        self.canvas.set_image(*self.volume.image_of(loaded))
        self.update_title()
        self.show_gt_pane()

    def overlay_ready(self, codes: np.ndarray) -> None:
        self.last_codes = codes
        self.canvas.set_codes(codes, blank_code(self.v.settings.view))
        self.update_legend()

    def image_failed(self, message: str) -> None:
        self.clear()
        self.canvas.show_error(f"Could not load this image — {message}")

    def show_preview(self, photo, labels) -> None:
        """A failed image's photo and ground truth (class colours), whichever could be read, under the banner."""
        v = self.v
        shape = photo.shape[:2] if photo is not None else labels.shape if labels is not None else None
        if shape is None:
            return
        self.canvas.set_image(photo, shape)
        if labels is not None and labels.shape == shape:
            c = v.classes.num_classes
            codes = np.where((labels == v.classes.ignore_index) | (labels >= c), c, labels).astype(np.uint8)
            self.canvas.set_codes(codes, blank_code("gt"))
            self.canvas.set_lut(class_lut(v.classes.color_array(), max(v.settings.opacity, 0.5)))
            self.canvas.legend.setText(PREVIEW_LEGEND)

    def clear(self) -> None:
        self.canvas.clear()
        self.last_codes = None

    def show_empty_hint(self) -> None:
        self.canvas.show_error(None)
        self.canvas.legend.setText(EMPTY_HINT)

    # ---- settings ----
    def settings_changed(self, changed: set) -> None:
        s = self.v.settings
        if "style" in changed:
            self.canvas.set_style(s.style)
        if "layout" in changed:
            self.canvas.set_side_by_side(s.layout == "side by side")
        if changed & LUT_KEYS:
            self.apply_lut()
        if changed & {"style", "layout", "opacity", "view"}:
            self.show_gt_pane()
        self.update_title()

    def apply_lut(self) -> None:
        if self.failed():
            return          # a failed image's ground truth keeps its class colours
        v = self.v
        colors = v.classes.color_array() if v.dataset else np.zeros((1, 3), np.uint8)
        self.canvas.set_lut(luts_for(v.settings, colors))
        self.update_legend()

    def show_gt_pane(self) -> None:
        """Side by side: the GT classes in the left pane, whatever the main pane shows."""
        v = self.v
        if not self.canvas.side_by_side or v.loaded is None:
            return
        codes = v.loaded.overlay(v.scoring, v.settings.class_id, "gt").codes
        self.canvas.set_gt_codes(codes, class_lut(v.classes.color_array(), max(v.settings.opacity, 0.5)))

    # ---- words ----
    def update_title(self) -> None:
        v = self.v
        if v.dataset is None or v.current < 0:
            return
        row, shown = self.position_of(v.current)
        where = (f"{row + 1} of {shown} in the list" if row >= 0 else
                 "not in the list (the filter hides it)" if shown else "the filter shows no image")
        s = v.settings
        left = "ground truth ◂ │ ▸ " if s.layout == "side by side" else ""
        one = s.class_id != ALL_CLASSES and s.view == "errors"     # the class views paint every class
        of = f" of {s.class_id}: {v.classes.names[s.class_id]}" if one else ""
        set_if_new(self.canvas.title, f"<b>{v.dataset.items[v.current].name}</b>{self.volume.title()} &nbsp;"
                                      f"<span style='color:gray'>{where} · {left}{VIEW_WORDS[s.view]}{of}</span>")

    def update_legend(self) -> None:
        v, s = self.v, self.v.settings
        self.update_title()
        if self.failed():
            return          # the banner and the preview's legend say what is shown
        if s.view == "image":
            self.canvas.legend.setText("image only — press I to bring the overlay back")
        elif s.view in ("doubt", "compare"):
            self.canvas.legend.setText(self.insight_legend(s.view, v.overlay))
        elif s.view == "errors":
            overlay, image = v.overlay, v.image_counts
            counts = overlay.legend if overlay is not None else None
            sums = (int(image.fp.sum()), int(image.fn.sum())) if image is not None else None
            self.canvas.set_error_legend(s.palette, (s.show_tp, s.show_fp, s.show_fn), counts,
                                         s.class_id == ALL_CLASSES, sums, s.show_background)
        elif v.dataset:
            present = set(np.unique(self.last_codes).tolist()) if self.last_codes is not None else None
            self.canvas.set_class_legend(v.classes.names, v.classes.colors, present)


def set_if_new(label, text: str) -> None:
    """A label's text changed only when it differs: an equal setText still makes Qt lay the window out again."""
    if label.text() != text:
        label.setText(text)
