"""The image with its overlay (pyqtgraph): an 8-bit code image drawn through a lookup table; zoom, pan, hover."""
from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QCursor, QTransform
from PySide6.QtWidgets import QGraphicsItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.overlay import (ALL_CLASSES, ALL_CLASSES_WORDS, EXTRA, FN, FP, IGNORE_RGB, NO_CLASS_CODE, OUTSIDE_RGBA,
                            PALETTES, TN, TP, TP_ALPHA_FACTOR, class_lut, contour, error_lut)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


LEGEND_GAP = "&nbsp; "       # a narrow window wraps the legend between its entries, never inside one


def unbroken(text: str) -> str:
    """An entry of the legend kept on one line."""
    return text.replace(" ", "&nbsp;")


def swatch(rgb, text: str) -> str:
    r, g, b = rgb
    return (f"<span style='background-color: rgb({r},{g},{b}); color: rgb({r},{g},{b});'>&nbsp;&nbsp;&nbsp;</span>"
            f"&nbsp;{text}")


NUMBER = re.compile(r"\d[\d,]*")
TAG = re.compile(r"(<[^>]*>)")
COUNT_ROOM = 100      # a count's width is reserved up to this many times the image's pixels (Σ over classes)


def widen_numbers(html: str, widest: str) -> str:
    """The legend with every number of its text (not of its markup) as wide as `widest`."""
    if not widest:
        return html
    return "".join(part if part.startswith("<") else NUMBER.sub(widest, part) for part in TAG.split(html))


def gray(text: str) -> str:
    return f"<span style='color:gray'>{text}</span>"


class Legend(QLabel):
    """The legend under the image. It keeps the height its widest numbers would need (every count as wide as the
    image's pixels × COUNT_ROOM, every note that comes and goes present), so the image does not resize while a
    slider drag changes the numbers; a new width, image size or set of entries may change it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)     # on a row of its own: it wraps instead of widening the window or being cut off
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)   # never widens the window
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self._widest = QLabel(self)          # never shown: measures the height to keep
        self._widest.setTextFormat(Qt.RichText)
        self._widest.setWordWrap(True)
        self._widest.hide()
        self.widest_number = ""
        self._kept: dict[int, int] = {}      # width -> the most height given at it

    def setContentsMargins(self, *margins) -> None:
        super().setContentsMargins(*margins)
        self._widest.setContentsMargins(*margins)

    def setText(self, text: str, widest: str | None = None) -> None:
        """`widest`: the text with every entry that may come and go (else the text itself)."""
        reserved = widen_numbers(widest if widest is not None else text, self.widest_number)
        if reserved != self._widest.text():
            self._widest.setText(reserved)
            self.updateGeometry()
        if text != self.text():
            super().setText(text)

    def set_pixels(self, pixels: int) -> None:
        self.widest_number = re.sub(r"\d", "8", f"{pixels * COUNT_ROOM:,}") if pixels else ""

    def heightForWidth(self, width: int) -> int:
        """At one width it never gives back height: another view or class (one line where the errors took two)
        would otherwise resize the image under the pointer."""
        needed = max(super().heightForWidth(width), self._widest.heightForWidth(width))
        if len(self._kept) > 64:        # the widths a layout asks about: a few per window size
            self._kept.clear()
        height = self._kept[width] = max(needed, self._kept.get(width, 0))
        return height


class CanvasPanel(QWidget):
    hovered = Signal(int, int)      # pixel x, y (or -1, -1 when outside)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view_widget = pg.GraphicsLayoutWidget()
        self.view_widget.setBackground((32, 33, 36))
        self.view_widget.setFocusPolicy(Qt.StrongFocus)   # a click on the image takes the keys back
        self.view_widget.setMinimumSize(240, 160)
        self.viewbox = self.view_widget.addViewBox(row=0, col=1, lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem()
        self.overlay_item = pg.ImageItem()
        self.highlight_item = pg.ImageItem()
        for item in (self.image_item, self.overlay_item, self.highlight_item):
            self.viewbox.addItem(item)
        self._side_pane()
        self.overlay_item.setZValue(1)
        self.highlight_item.setZValue(2)
        # the photo does not change while the sliders move: drawn from a cache at screen resolution, not scaled
        # again on every step's repaint (redrawn when the zoom or the photo changes)
        self.image_item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.box_item = pg.RectROI([0, 0], [1, 1], movable=False, resizable=False, pen=pg.mkPen((255, 255, 0), width=2))
        self.box_item.setZValue(3)
        self.box_item.hide()
        self.viewbox.addItem(self.box_item)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #5c1f1f; color: #ffdede; padding: 6px; border-radius: 3px;")
        self.banner.hide()
        self.legend = Legend()
        self.readout = HoverReadout(self.view_widget)     # over the image's corner: no row of its own
        self.title = QLabel("")
        self.title.setTextFormat(Qt.RichText)
        for label in (self.title, self.legend):
            label.setContentsMargins(4, 1, 4, 1)     # off the window's edge when the panels are hidden (P)
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self._codes: np.ndarray | None = None
        self._blank = TN
        self.style = "filled"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        layout.addWidget(self.view_widget, 1)
        layout.addWidget(self.legend)
        self._shape: tuple[int, int] | None = None
        self._region_zoom = False      # the view is zoomed to a clicked region (not by the user's wheel)
        self._geometry = 1.0                    # row height / column width
        self._transform = QTransform()         # pixel -> view coordinates
        self.view_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        # the view moved under a still pointer (a zoom, side by side, panels hidden): another pixel is under it
        self.viewbox.sigRangeChanged.connect(lambda *_: self.hover_again())
        self._pointer_on = False                # the pointer is over the image (the readout follows it)
        self.unit = "px"                        # what the legend counts: "vx" on a 3-D case's slice
        self.view_widget.viewport().installEventFilter(self)

    def _side_pane(self) -> None:
        """The ground-truth pane of the side-by-side layout: its zoom and pan follow the main pane's."""
        self.gt_box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.gt_image_item, self.gt_overlay_item = pg.ImageItem(), pg.ImageItem()
        self.gt_overlay_item.setZValue(1)
        for item in (self.gt_image_item, self.gt_overlay_item):
            self.gt_box.addItem(item)
        self.gt_box.setXLink(self.viewbox)
        self.gt_box.setYLink(self.viewbox)
        self.side_by_side = False

    def set_side_by_side(self, on: bool) -> None:
        if on == self.side_by_side:
            return
        self.side_by_side = on
        layout = self.view_widget.ci
        if on:
            layout.addItem(self.gt_box, row=0, col=0)
        else:
            layout.removeItem(self.gt_box)       # out of the scene too (again: Qt warns of another scene)
        self.fit()

    def set_gt_codes(self, codes: np.ndarray | None, lut: np.ndarray) -> None:
        if codes is None:
            self.gt_overlay_item.clear()
            return
        shown = contour(codes, NO_CLASS_CODE) if self.style == "contour" else codes
        self.gt_overlay_item.setImage(shown, autoLevels=False, levels=(0, 255))
        self.gt_overlay_item.setLookupTable(lut)

    # ---- content ----
    def set_image(self, rgb: np.ndarray | None, shape: tuple[int, int], aspect: float = 1.0) -> None:
        """The photo (or a neutral grey when the dataset has none); refits when the size changes. aspect: a row's
        height over a column's width (a slice of anisotropic voxels at its true aspect; a slice comes already
        turned as it is drawn)."""
        if rgb is None:
            rgb = np.full((*shape, 3), 70, np.uint8)
        self.set_intensities(rgb)
        self.readout.setText("")      # the previous image's values must not pass for this one's
        self.highlight_item.clear()
        self.box_item.hide()
        # a region's zoom belongs to its image; a zoom of the user's own stays
        if self._shape != shape or self._geometry != aspect or self._region_zoom:
            self._shape, self._geometry = shape, aspect
            self.legend.set_pixels(shape[0] * shape[1])
            self._transform = QTransform.fromScale(1.0, aspect)
            for item in (self.image_item, self.overlay_item, self.highlight_item, self.gt_image_item,
                         self.gt_overlay_item):
                item.setTransform(self._transform)
            self.fit()

    def set_intensities(self, rgb: np.ndarray) -> None:
        """The image alone (a new intensity window on the same slice): the overlay and the view stay."""
        self.image_item.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.gt_image_item.setImage(rgb, autoLevels=False, levels=(0, 255))

    def clear(self) -> None:
        for item in (self.image_item, self.overlay_item, self.highlight_item, self.gt_image_item,
                     self.gt_overlay_item):
            item.clear()
        self._codes = None
        self.readout.setText("")
        self.box_item.hide()

    def set_codes(self, codes: np.ndarray, blank: int = TN) -> None:
        """The overlay's code image; `blank` is the transparent code (TN for errors, NO_CLASS_CODE for classes)."""
        self._codes, self._blank = codes, blank
        shown = contour(codes, blank) if self.style == "contour" else codes
        self.overlay_item.setImage(shown, autoLevels=False, levels=(0, 255))
        if self._pointer_on:     # new codes under a still pointer (a threshold step, a slice): its readout too
            self.hover_again()

    def set_style(self, style: str) -> None:
        """"filled" or "contour" (outlines only); redraws the codes already shown."""
        self.style = style
        if self._codes is not None:
            self.set_codes(self._codes, self._blank)

    def set_lut(self, lut: np.ndarray) -> None:
        self.overlay_item.setLookupTable(lut)

    def set_highlight(self, mask: np.ndarray | None) -> None:
        """Pixels to pick out (e.g. one confusion-matrix cell), drawn in bright magenta over everything."""
        if mask is None:
            self.highlight_item.clear()
            return
        rgba = np.zeros((*mask.shape, 4), np.uint8)
        rgba[mask] = (255, 0, 255, 230)
        self.highlight_item.setImage(rgba, autoLevels=False, levels=(0, 255))

    def zoom_to(self, x0: int, y0: int, x1: int, y1: int, margin: int = 12) -> None:
        self._region_zoom = True
        box = self._transform.mapRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.box_item.setPos((box.x(), box.y()))
        self.box_item.setSize((box.width(), box.height()))
        self.box_item.show()
        self.viewbox.setRange(box.adjusted(-margin, -margin, margin, margin), padding=0)

    def fit(self) -> None:
        self._region_zoom = False
        if self._shape is not None:
            h, w = self._shape
            self.viewbox.setRange(self._transform.mapRect(QRectF(0, 0, w, h)), padding=0.02)

    def show_error(self, text: str | None) -> None:
        self.banner.setText(text or "")
        self.banner.setVisible(bool(text))

    def set_error_legend(self, palette: str, show: tuple[bool, bool, bool], counts: dict | None = None,
                         all_classes: bool = False, sums: tuple[int, int] | None = None,
                         background: bool = False) -> None:
        """TP/FP/FN pixels of one class, or for all classes the four categories (see ALL_CLASSES_WORDS), which
        add up to the table: correct + extra = Σ tp, wrong class + missed = Σ fn."""
        colors = PALETTES[palette]
        if all_classes:
            kinds = ((TP, "tp", show[0]), (EXTRA, "extra", show[1]), (FP, "fp", show[1]), (FN, "fn", show[2]))
            names = ALL_CLASSES_WORDS
        else:
            kinds = ((TP, "tp", show[0]), (FP, "fp", show[1]), (FN, "fn", show[2]))
            names = {TP: "TP", FP: "FP", FN: "FN"}
        parts = []
        for code, key, visible in kinds:
            label = unbroken(f"{names[code]} {counts[key]:,} {self.unit}" if counts else names[code])
            parts.append(swatch(colors[code], label if visible else f"<s>{label}</s>"))
        unpainted = all_classes and counts and not background     # its note shows while it is not 0
        note = gray(unbroken(f"(correct background {counts['background']:,} {self.unit} not painted: B)")) \
            if unpainted else ""
        if all_classes and sums is not None:
            parts.append(gray(unbroken(f"(Σ FP {sums[0]:,} · Σ FN {sums[1]:,})")))
        if counts and counts.get("outside"):
            parts.append(swatch(OUTSIDE_RGBA[:3], unbroken("not scored (outside the band)")))
        parts.append(swatch(IGNORE_RGB, unbroken("ignore (hatched)")))
        shown = parts[:len(kinds)] + ([note] if note and counts["background"] else []) + parts[len(kinds):]
        widest = parts[:len(kinds)] + ([note] if note else []) + parts[len(kinds):]
        self.legend.setText(LEGEND_GAP.join(shown), LEGEND_GAP.join(widest))

    def set_class_legend(self, names, colors, present: set[int] | None = None) -> None:
        shown = [i for i in range(len(names)) if present is None or i in present]
        self.legend.setText(LEGEND_GAP.join(swatch(colors[i], unbroken(names[i])) for i in shown[:24])
                            + LEGEND_GAP + swatch(IGNORE_RGB, "ignore"))

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """(height, width) of the image on screen, None before the first."""
        return self._shape

    @property
    def aspect(self) -> float:
        """A row's drawn height over a column's width (a slice of anisotropic voxels; 1 for a 2-D image)."""
        return self._geometry

    # ---- hover ----
    def hover_again(self) -> None:
        """The readout for what is under a still pointer now: the view moved, or the overlay, the slice or the
        settings changed under it."""
        if not (self._pointer_on or self.readout.isVisible()):
            return
        at = self.view_widget.mapFromGlobal(QCursor.pos())
        if not self.view_widget.rect().contains(at):
            self._pointer_left()
            return
        self._on_mouse_moved(self.view_widget.mapToScene(at))


    def _on_mouse_moved(self, pos: QPointF) -> None:
        boxes = (self.viewbox, self.gt_box) if self.side_by_side else (self.viewbox,)
        box = next((b for b in boxes if b.sceneBoundingRect().contains(pos)), None)
        if self._shape is None or box is None:
            self._pointer_left()
            return
        point = self._transform.inverted()[0].map(box.mapSceneToView(pos))     # view -> pixel
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        h, w = self._shape
        if 0 <= x < w and 0 <= y < h:
            self._pointer_on = True
            self.hovered.emit(x, y)
        else:
            self._pointer_left()

    def _pointer_left(self) -> None:
        self._pointer_on = False
        self.hovered.emit(-1, -1)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Leave:      # off the view: the readout goes (it stayed over other panels)
            self._pointer_left()
        return False


class HoverReadout(QLabel):
    """The pixel readout, drawn over the view's bottom-left corner while the pointer is on the image."""

    def __init__(self, view: QWidget):
        super().__init__(view)
        self.setStyleSheet("background: rgba(20, 20, 22, 200); color: #f0f0f0; padding: 2px 6px;")
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.setWordWrap(True)        # a case's every class's probability wraps within the view on a laptop
        self.hide()
        view.installEventFilter(self)

    def setText(self, text: str) -> None:
        if text == self.text():
            return             # a threshold step under a still pointer mostly says the same
        super().setText(text)
        self.setVisible(bool(text))
        self._place()

    def _place(self) -> None:
        # a wrapped label's adjustSize picks a narrow "nice" width: the text's own width, up to the view's
        view = self.parentWidget()
        if not self.text():
            return                                   # hidden; Qt has no height for no text
        self.setWordWrap(False)                      # QLabel wraps short of its font's own measure: its hint
        natural = self.sizeHint().width()
        self.setWordWrap(True)
        width = max(1, min(view.width(), natural))
        height = self.heightForWidth(width)
        self.resize(width, height if height > 0 else self.sizeHint().height())
        self.move(0, view.height() - self.height())

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Resize:
            self._place()
        return False


def doubt_lut(opacity: float) -> np.ndarray:
    """1 − p(label) as heat: transparent where the label is certain, inferno colours rising with the doubt."""
    lut = pg.colormap.get("inferno").getLookupTable(0.25, 1.0, 256, alpha=False).astype(np.uint8)
    alpha = np.clip(255 * opacity * 1.3 * (np.arange(256) / 255) ** 0.6, 0, 255).astype(np.uint8)
    return np.column_stack([lut[:, :3], alpha])


def luts_for(settings, class_colors: np.ndarray) -> np.ndarray:
    if settings.view == "doubt":
        return doubt_lut(settings.opacity)
    if settings.view == "compare":
        from ..core.compare_pixels import compare_lut
        return compare_lut(settings.opacity)
    if settings.view in ("errors", "image"):
        tp_factor = TP_ALPHA_FACTOR if settings.class_id == ALL_CLASSES else 1.0
        return error_lut(settings.palette, (settings.show_tp, settings.show_fp, settings.show_fn), settings.opacity,
                         tp_factor, settings.show_background)
    return class_lut(class_colors, settings.opacity)


def blank_code(view: str) -> int:
    """The code a view leaves transparent (what a contour's inside becomes)."""
    return NO_CLASS_CODE if view in ("gt", "pred") else TN
