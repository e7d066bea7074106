"""What the user has chosen in the window; plain data, no Qt, so a worker can take a snapshot."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.overlay import ALL_CLASSES
from ..core.scores import DEFAULT_BETA, DEFAULT_SMOOTH
from ..core.scoring import Scoring

VIEWS = ("errors", "gt", "pred", "image", "doubt", "compare")
STYLES = ("filled", "contour")
LAYOUTS = ("single", "side by side")


@dataclass(frozen=True)
class ViewSettings:
    threshold: float = 0.5
    class_thresholds: tuple[float, ...] | None = None   # set by "Apply best thresholds"
    beta: float = DEFAULT_BETA
    smooth: float = DEFAULT_SMOOTH
    argmax: bool = False
    class_id: int = ALL_CLASSES
    view: str = "errors"
    show_tp: bool = True
    show_fp: bool = True
    show_fn: bool = True
    opacity: float = 0.6
    palette: str = "classic"
    style: str = "filled"      # or "contour": outlines of the regions only
    show_background: bool = False   # all-classes errors view: paint correct background pixels too
    layout: str = "single"     # or "side by side": GT classes beside the view, zoom and pan linked
    boundary: int = 0          # >0: score only pixels within this many px of a GT boundary
    interior: bool = False     # with boundary > 0: score the pixels beyond the band instead
    compare_threshold: float = 0.5   # model B's own threshold (beta, smooth and the band are shared)
    compare_argmax: bool = False

    def effective_threshold(self):
        """What the core takes: a scalar, or one threshold per class."""
        return list(self.class_thresholds) if self.class_thresholds is not None else self.threshold

    def scoring(self) -> Scoring:
        """The engine's settings; the window's interior box counts only while a band is set."""
        threshold = self.class_thresholds if self.class_thresholds is not None else self.threshold
        return Scoring(threshold=threshold, argmax=self.argmax, beta=self.beta, smooth=self.smooth,
                       boundary=self.boundary, interior=self.interior and self.boundary > 0)

    def compare_scoring(self) -> Scoring:
        """Model B's own threshold / argmax (the engine takes beta, smoothing and the band from model A's)."""
        return Scoring(threshold=self.compare_threshold, argmax=self.compare_argmax)

    def with_(self, **changes) -> "ViewSettings":
        return replace(self, **changes)
