"""Every option and keyword checked at the door: one function per kind of value, each an OptionError naming the
option, its value and what it may be. The CLI's argparse types, the API's keywords, Scoring and the Evaluator
use the same bounds (no torch here: the CLI's --help stays fast).

Bounds: beta in (0, 1e6] (β² then stays far from float64's overflow in every score), smooth in [0, 1e6],
thresholds in [0, 1], steps 1..100,000, calibration bins 1..10,000, classes 1..65,536, label ids -1..65,535.
"""
from __future__ import annotations

import math
import numbers
from typing import Literal

from .errors import OptionError

MAX_BETA = 1e6
MAX_SMOOTH = 1e6
MAX_STEPS = 100_000
MAX_BINS = 10_000
MAX_CLASSES = 65_536
LABEL_ID_RANGE = (-1, 65_535)
# "auto": softmax, except on an array that says it holds probabilities (an nnU-Net `probabilities` member): none
ACTIVATIONS = ("auto", "softmax", "sigmoid", "none")
Activation = Literal["auto", "softmax", "sigmoid", "none"]
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
PRED_KINDS = ("logits", "masks")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def real(name: str, value: object, low: float | None = None, high: float | None = None,
         low_open: bool = False) -> float:
    """A finite real number within [low, high] (low excluded when low_open)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)) and not hasattr(value, "__float__"):
        raise OptionError(f"{name} {_shown(value)}: not a number")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise OptionError(f"{name} {_shown(value)}: not a number") from None
    if not math.isfinite(number):
        raise OptionError(f"{name} {_shown(value)}: must be a finite number")
    if low is not None and (number <= low if low_open else number < low):
        raise OptionError(f"{name} {_shown(value)}: must be {'greater than' if low_open else 'at least'} {low:g}"
                          + (f" (and at most {high:g})" if high is not None else ""))
    if high is not None and number > high:
        raise OptionError(f"{name} {_shown(value)}: must be at most {high:g}")
    return number


def whole(name: str, value: object, low: int, high: int) -> int:
    """A whole number within [low, high] (a float that is whole, like 5.0, is accepted)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, numbers.Real)):
        raise OptionError(f"{name} {_shown(value)}: must be a whole number from {low:,} to {high:,}")
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if not math.isfinite(float(value)) or not float(value).is_integer():
            raise OptionError(f"{name} {_shown(value)}: must be a whole number from {low:,} to {high:,}")
    number = int(value)
    if not low <= number <= high:
        raise OptionError(f"{name} {_shown(value)}: must be a whole number from {low:,} to {high:,}")
    return number


def flag(name: str, value: object) -> bool:
    """True or False (numpy's bool too), never a truthy string or number."""
    if type(value).__name__ == "bool_":
        value = bool(value)
    if not isinstance(value, bool):
        raise OptionError(f"{name} {_shown(value)}: True or False")
    return value


def choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise OptionError(f"{name} {_shown(value)}: use one of {', '.join(choices)}")
    return value


def beta(value: object, name: str = "beta") -> float:
    return real(name, value, 0.0, MAX_BETA, low_open=True)


def smooth(value: object, name: str = "smooth") -> float:
    return real(name, value, 0.0, MAX_SMOOTH)


def threshold(value: object, name: str = "threshold") -> float:
    return real(name, value, 0.0, 1.0)


def steps(value: object, name: str = "steps") -> int:
    return whole(name, value, 1, MAX_STEPS)


def bins(value: object, name: str = "bins") -> int:
    return whole(name, value, 1, MAX_BINS)


def class_id(value: object, num_classes: int, name: str = "class_id", every: int | None = -1) -> int:
    """A class id 0..num_classes-1, or `every` (-1: all classes / the top label) where a call takes it."""
    low = every if every is not None else 0
    try:
        return whole(name, value, low, num_classes - 1)
    except OptionError:
        also = f" (or {every}: all classes)" if every is not None else ""
        raise OptionError(f"{name} {_shown(value)}: no such class; give 0..{num_classes - 1}{also}") from None


def activation(value: object, name: str = "activation") -> str:
    return choice(name, value, ACTIVATIONS)


def device_name(value: object, name: str = "device") -> str:
    """'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (whether it exists is core.device's check, with torch)."""
    text = str(value) if not isinstance(value, str) and type(value).__name__ == "device" else value
    if isinstance(text, str):
        kind, _, index = text.partition(":")
        if kind in DEVICE_NAMES and (not index or kind == "cuda" and index.isdigit()):
            return text
    raise OptionError(f"{name} {_shown(value)}: use auto, cpu, cuda, cuda:N or mps")
