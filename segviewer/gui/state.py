"""What the user has chosen in the window; plain data, no Qt, so a worker can take a snapshot.

The scoring settings are the engine's own Scoring objects (frozen): the window holds the engine's current one and
follows the engine's events, so there is no second copy of any of its fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from ..core.overlay import ALL_CLASSES
from ..core.scoring import Scoring

VIEWS = ("errors", "gt", "pred", "image", "doubt", "compare")
STYLES = ("filled", "contour")
LAYOUTS = ("single", "side by side")
SCORING_FIELDS = frozenset(f.name for f in fields(Scoring))
COMPARE_PREFIX = "compare_"


@dataclass(frozen=True)
class ViewSettings:
    scoring: Scoring = field(default_factory=Scoring)           # the engine's `scoring`
    compare_scoring: Scoring = field(default_factory=Scoring)   # the engine's `compare_scoring` (model B's)
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

    def with_(self, **changes) -> "ViewSettings":
        return replace(self, **changes)


def split_changes(changes: dict) -> tuple[dict, dict, dict]:
    """(Scoring fields, model B's Scoring fields without the compare_ prefix, the view's own settings)."""
    def for_b(name: str) -> bool:
        return name.startswith(COMPARE_PREFIX) and name[len(COMPARE_PREFIX):] in SCORING_FIELDS
    scoring = {k: v for k, v in changes.items() if k in SCORING_FIELDS}
    compare = {k[len(COMPARE_PREFIX):]: v for k, v in changes.items() if for_b(k)}
    view = {k: v for k, v in changes.items() if k not in SCORING_FIELDS and not for_b(k)}
    return scoring, compare, view


def changed_scoring(old: Scoring, new: Scoring, prefix: str = "") -> set[str]:
    return {prefix + f for f in SCORING_FIELDS if getattr(old, f) != getattr(new, f)}
