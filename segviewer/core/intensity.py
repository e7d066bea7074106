"""Intensity window / level of CT and MR slices as radiology viewers show them (Qt-free: the window and the export's
figures use the same values). A window is (width, level): intensities from level − width/2 to level + width/2 map
to black .. white. CT presets in Hounsfield units; MR (and anything not in HU) from the 1st to the 99th
percentile of the case's intensities.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

SAMPLE_VALUES = 1 << 18      # percentiles from an even sample of a case's voxels: a 300-slice case costs ~ms
MIN_WIDTH = 1e-6


class Window(NamedTuple):
    width: float
    level: float

    @property
    def low(self) -> float:
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        return self.level + self.width / 2


CT_PRESETS: dict[str, Window] = {
    "CT soft tissue": Window(400.0, 40.0),
    "CT lung": Window(1500.0, -600.0),
    "CT bone": Window(1800.0, 400.0),
}
PERCENTILE_PRESET = "1st–99th percentile"


def percentile_window(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> Window:
    """The window from the low-th to the high-th percentile of the values (MR, or any unscaled image)."""
    flat = np.asarray(values).reshape(-1)
    if flat.size > SAMPLE_VALUES:
        flat = flat[:: flat.size // SAMPLE_VALUES]
    flat = flat[np.isfinite(flat)]
    if not flat.size:
        return Window(1.0, 0.5)
    lo, hi = (float(v) for v in np.percentile(flat, (low, high)))
    return Window(max(hi - lo, MIN_WIDTH), (lo + hi) / 2)


def looks_like_ct(values: np.ndarray) -> bool:
    """Hounsfield units: air at about −1000 and nothing far below it."""
    flat = np.asarray(values).reshape(-1)
    if flat.size > SAMPLE_VALUES:
        flat = flat[:: flat.size // SAMPLE_VALUES]
    lo = float(np.min(flat)) if flat.size else 0.0
    return -1100.0 <= lo <= -900.0 or -3100.0 <= lo <= -1900.0    # -2048 / -3024: outside the scanner's circle


def default_window(values: np.ndarray) -> Window:
    """CT soft tissue for Hounsfield units, else the 1st–99th percentile window."""
    return CT_PRESETS["CT soft tissue"] if looks_like_ct(values) else percentile_window(values)


def preset_window(name: str, values: np.ndarray) -> Window:
    if name == PERCENTILE_PRESET:
        return percentile_window(values)
    if name not in CT_PRESETS:
        from .errors import OptionError
        raise OptionError(f"window preset {name!r}: use one of {', '.join([*CT_PRESETS, PERCENTILE_PRESET])}")
    return CT_PRESETS[name]


def to_gray(values: np.ndarray, window: Window) -> np.ndarray:
    """uint8 grey values of intensities through the window (below it black, above it white)."""
    width = max(float(window.width), MIN_WIDTH)
    scaled = (np.asarray(values, np.float32) - np.float32(window.low)) * np.float32(255.0 / width)
    return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)


def to_rgb(values: np.ndarray, window: Window) -> np.ndarray:
    """H×W×3 uint8 of a slice's intensities through the window."""
    gray = to_gray(values, window)
    return np.repeat(gray[..., None], 3, axis=2)


def dragged(window: Window, dx: float, dy: float, span: float) -> Window:
    """A window after a right-drag of (dx, dy) screen pixels, as radiology viewers do: right widens (more
    contrast left), down raises the level (the image darker); `span` sets how far a pixel moves (the data range)."""
    step = max(span, MIN_WIDTH) / 512.0
    return Window(max(window.width + dx * step, MIN_WIDTH), window.level + dy * step)
