"""Scoring: the frozen settings that decide every count and score, and the keys that say what they change."""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Sequence

from . import validate
from .errors import OptionError
from .options import DEFAULT_BETA, DEFAULT_SMOOTH

MAX_BOUNDARY = 65_535      # a band wider than any label map is the whole image


class Mode(str, Enum):
    THRESHOLD = "threshold"   # pred_c = p_c > t_c
    ARGMAX = "argmax"         # pred = argmax_c p_c (hard masks are always this)


@dataclass(frozen=True)
class Scoring:
    """How pixels become predictions and counts become scores.

    threshold: one value, or one per class; argmax=True ignores it. boundary=K > 0 scores only pixels within
    K px of a GT edge (interior=True: only the pixels beyond that band). beta and smooth touch scores, not counts.
    """
    threshold: float | tuple[float, ...] = 0.5
    argmax: bool = False
    beta: float = DEFAULT_BETA
    smooth: float = DEFAULT_SMOOTH
    boundary: int = 0
    interior: bool = False

    def __post_init__(self):
        try:
            self._validate()
        except (TypeError, ValueError) as exc:   # None, text, an array of the wrong kind ...: the user's input
            if isinstance(exc, OptionError):
                raise
            raise OptionError(f"Scoring: {exc}") from None

    def _validate(self) -> None:
        t = self.threshold
        if hasattr(t, "tolist"):      # a numpy array or a tensor (e.g. Best.threshold)
            t = t.tolist()
            object.__setattr__(self, "threshold", t)
        if isinstance(t, Sequence) and not isinstance(t, str):
            if not t:
                raise OptionError("threshold []: give one value, or one per class")
            values = tuple(validate.threshold(v) for v in t)
        else:
            values = (validate.threshold(t),)
        object.__setattr__(self, "threshold", values if len(values) > 1 or not _is_scalar(t) else values[0])
        object.__setattr__(self, "beta", validate.beta(self.beta))
        object.__setattr__(self, "smooth", validate.smooth(self.smooth))
        object.__setattr__(self, "boundary", validate.whole("boundary", self.boundary, 0, MAX_BOUNDARY))
        if not isinstance(self.argmax, bool) or not isinstance(self.interior, bool):
            raise OptionError(f"argmax {self.argmax!r} / interior {self.interior!r}: True or False")
        if self.interior and not self.boundary:
            raise OptionError("interior needs a boundary band (boundary > 0)")

    @property
    def mode(self) -> Mode:
        return Mode.ARGMAX if self.argmax else Mode.THRESHOLD

    @property
    def per_class(self) -> bool:
        return isinstance(self.threshold, tuple)

    def effective_threshold(self):
        """What the counting functions take: a float, or a list of one float per class."""
        return list(self.threshold) if self.per_class else self.threshold

    def for_dataset(self, hard: bool) -> "Scoring":
        """Hard masks predict by themselves: the mode is argmax, whatever was asked."""
        return replace(self, argmax=True) if hard and not self.argmax else self

    def check_classes(self, num_classes: int) -> None:
        if self.per_class and len(self.threshold) != num_classes:
            raise OptionError(f"{len(self.threshold)} thresholds for {num_classes} classes")

    # ---- keys: a result computed for one snapshot is valid while its key still matches ----
    def prediction_key(self) -> tuple:
        """What decides which pixels are predicted."""
        return (Mode.ARGMAX,) if self.argmax else (Mode.THRESHOLD, self.threshold)

    def count_key(self) -> tuple:
        """What decides tp / fp / fn."""
        return (*self.prediction_key(), self.boundary, self.interior if self.boundary else False)

    def score_key(self) -> tuple:
        """What decides every score."""
        return (*self.count_key(), self.beta, self.smooth)

    def with_(self, **changes) -> "Scoring":
        return replace(self, **changes)


def checked_scoring(value, name: str = "scoring") -> Scoring:
    """value itself when it is a Scoring; an OptionError naming `name` otherwise."""
    if not isinstance(value, Scoring):
        raise OptionError(f"{name} {value!r}: must be a segviewer.Scoring")
    return value


def _is_scalar(value) -> bool:
    return not (isinstance(value, Sequence) and not isinstance(value, str))
