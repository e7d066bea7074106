"""Save view: the image panes at the image's own resolution (or a whole multiple of it), composed from what the
canvas draws — the photo, the overlay codes through their lookup table, the highlight — with the legend and a
caption under them; or the canvas as it is on screen (zoomed), as before."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QTextDocument

SCALES = (1, 2, 4)           # whole multiples keep every pixel a square of pixels (nearest neighbour)
ON_SCREEN = 0                # the canvas as shown, at the window's size
PANE_GAP = 8
BACKGROUND = QColor(250, 250, 250)


def scale_choices(shape: tuple[int, int] | None, side_by_side: bool, aspect: float = 1.0) -> list[tuple[str, int]]:
    """(label, scale) for the Save view dialog: the sizes the file will have."""
    choices = []
    if shape is not None:
        h, w = shape
        panes = 2 if side_by_side else 1
        for k in SCALES:
            size = f"{k * w * panes + PANE_GAP * (panes - 1)}×{drawn_rows(h, k, aspect)} px"
            choices.append((f"{k}× — {size}" + (" (the image's own size)" if k == 1 else ""), k))
    choices.append(("as on screen (the canvas's zoom, the window's size)", ON_SCREEN))
    return choices


def drawn_rows(height: int, scale: int, aspect: float) -> int:
    return max(1, round(height * scale * aspect))


def stretched(pane: np.ndarray, scale: int, aspect: float) -> np.ndarray:
    """Nearest neighbour as the canvas draws it: columns `scale`×, rows `scale × aspect`× (a coronal slice of 2.5 mm
    slices over 0.8 mm pixels is as tall as on screen, not squashed)."""
    h = pane.shape[0]
    rows = np.minimum((np.arange(drawn_rows(h, scale, aspect)) / (scale * aspect)).astype(np.int64), h - 1)
    return np.repeat(pane[rows], scale, axis=1)


def blend(base: np.ndarray, rgba: np.ndarray | None) -> np.ndarray:
    """RGBA over RGB (float arrays 0..255), as the canvas paints its layers."""
    if rgba is None:
        return base
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return base * (1.0 - alpha) + rgba[..., :3].astype(np.float32) * alpha


def compose_pane(photo: np.ndarray | None, codes: np.ndarray | None, lut: np.ndarray | None,
                 highlight: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """One pane at the image's resolution: H×W×3 uint8."""
    base = (photo[..., :3].astype(np.float32) if photo is not None and photo.shape[:2] == shape
            else np.full((*shape, 3), 70, np.float32))
    if codes is not None and lut is not None and codes.shape == shape:
        table = np.asarray(lut, np.uint8)
        if table.shape[1] == 3:
            table = np.column_stack([table, np.full(len(table), 255, np.uint8)])
        base = blend(base, table[codes])
    if highlight is not None and highlight.shape[:2] == shape:
        base = blend(base, highlight)
    return np.clip(base + 0.5, 0, 255).astype(np.uint8)


def item_arrays(item) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(image, lookup table) a pyqtgraph ImageItem draws."""
    return getattr(item, "image", None), getattr(item, "lut", None)


def compose_panes(canvas, scale: int) -> np.ndarray | None:
    """The canvas's panes (ground truth left when side by side) at `scale`× the image's size, or None."""
    shape = canvas.image_shape
    if shape is None:
        return None
    check_memory(shape, scale, canvas.aspect, 2 if canvas.side_by_side else 1)
    photo = item_arrays(canvas.image_item)[0]
    panes = []
    if canvas.side_by_side:
        panes.append(compose_pane(photo, *item_arrays(canvas.gt_overlay_item), None, shape))
    panes.append(compose_pane(photo, *item_arrays(canvas.overlay_item), item_arrays(canvas.highlight_item)[0], shape))
    if scale > 1 or canvas.aspect != 1.0:
        panes = [stretched(p, scale, canvas.aspect) for p in panes]
    gap = np.full((panes[0].shape[0], PANE_GAP, 3), 250, np.uint8)
    joined = [panes[0]] + [part for p in panes[1:] for part in (gap, p)]
    return np.ascontiguousarray(np.concatenate(joined, axis=1))


BYTES_PER_SAVED_PIXEL = 14   # the panes (RGB), their joined copy, the QImage copy of it and the RGB32 page


def check_memory(shape: tuple[int, int], scale: int, aspect: float, panes: int) -> None:
    """OptionError before anything is made when the saved image cannot fit the memory budget (4× of a large image
    side by side is gigabytes)."""
    from ..core.budgets import check_needs
    h, w = shape
    pixels = drawn_rows(h, scale, aspect) * (w * scale * panes + PANE_GAP * (panes - 1))
    check_needs("Save view", [(pixels * BYTES_PER_SAVED_PIXEL, f"{scale}× the image's size",
                               "choose a smaller size")])


def text_block(html: str, width: int) -> QTextDocument:
    doc = QTextDocument()
    doc.setHtml(html)
    doc.setTextWidth(max(width - 12, 50))
    return doc


def render_view(canvas, caption: str, scale: int) -> QImage:
    """The saved view: the panes (at `scale`×, or as on screen for ON_SCREEN), the legend wrapped to their width,
    then the caption (what is shown, with which settings)."""
    panes = compose_panes(canvas, scale) if scale != ON_SCREEN else None
    if panes is None:
        top = canvas.view_widget.grab().toImage()
    else:
        h, w = panes.shape[:2]
        top = QImage(panes.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    width = top.width()
    legend = text_block(canvas.legend.text(), width)
    words = text_block(f"<span style='color:#141414'>{caption}</span>", width)
    heights = [int(doc.size().height()) + 4 for doc in (legend, words)]
    out = QImage(width, top.height() + sum(heights), QImage.Format_RGB32)
    out.fill(BACKGROUND)
    painter = QPainter(out)
    painter.drawImage(0, 0, top)
    y = top.height()
    for doc, height in zip((legend, words), heights):
        painter.translate(6, y + 2)
        doc.drawContents(painter, QRectF(0, 0, width - 12, height))
        painter.translate(-6, -(y + 2))
        y += height
    painter.end()
    return out
