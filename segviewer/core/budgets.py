"""The memory budget of a run, and what each decoder and each size-like option needs of it: the arithmetic in
one place, so a new decoder or option asks here before it allocates.

The budget is `SEGVIEWER_MEMORY_BUDGET` (bytes, or e.g. `6G`, `512M`; the CLI's `--memory-budget` sets it, and
local Dask workers inherit it), else an eighth of the machine's memory (at least 1 GiB): a run holds one image
in flight besides its own state, and the window keeps a few loaded images, so one image's share is what can be
promised without swapping. Nothing here allocates.

Two kinds of check:
- per file, before decoding (`admit_decode`): the array a file declares, times what the run builds from each of
  its elements (probabilities per class, masks), must fit; a LoadError names the file, its size and the option;
- per run, at the door (`check_index`, `check_calibration`): the state a pass keeps (histograms per class and
  grid step, confusion matrices, bins) must fit; an OptionError names the option that drives it.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import LoadError, OptionError, OverBudget

BUDGET_ENV = "SEGVIEWER_MEMORY_BUDGET"
BUDGET_OPTION = "--memory-budget"
DEFAULT_FRACTION = 8            # an eighth of the machine's memory
MIN_BUDGET = 2**30
# what one image costs per pixel while it is scored (measured on the export's path: int64 labels and their
# target and masks; per class the float32 logits after resizing, the float32 probabilities and a bool map)
BYTES_PER_PIXEL = 24
BYTES_PER_PIXEL_CLASS = 9
_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*")
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """'6G', '512M', '1.5GiB', '4000000000' -> bytes (binary units); OptionError when it is no size."""
    match = _SIZE.fullmatch(str(text))
    value = float(match[1]) * _UNITS[match[2].lower()] if match else -1.0
    if not match or not 2**20 <= value <= 2**60:
        raise OptionError(f"{BUDGET_OPTION} {text!r}: give a size from 1M to 1024P, e.g. 6G or 512M")
    return int(value)


def format_size(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):   # pragma: no cover - not POSIX
        return 8 * 2**30


def memory_budget() -> int:
    """Bytes a run may use for one image plus its own state (see the module's docstring)."""
    text = os.environ.get(BUDGET_ENV)
    if text:
        return parse_size(text)
    return max(MIN_BUDGET, physical_memory() // DEFAULT_FRACTION)


@contextmanager
def memory_budget_set(text: str | None) -> Iterator[None]:
    """The CLI's --memory-budget for one command: checked, then kept in the environment while it runs (so local
    worker processes see it too), and the environment put back afterwards (in-process callers run many)."""
    if text is None:
        yield
        return
    value, old = str(parse_size(text)), os.environ.get(BUDGET_ENV)
    os.environ[BUDGET_ENV] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(BUDGET_ENV, None)
        else:
            os.environ[BUDGET_ENV] = old


def _over(need: int, budget: int) -> str:
    return f"needs about {format_size(need)}, more than the memory budget of {format_size(budget)}"


# ---- per file, before decoding ----
def image_need(pixels: int, classes: int = 0) -> int:
    return int(pixels) * (BYTES_PER_PIXEL + BYTES_PER_PIXEL_CLASS * max(0, int(classes)))


def admit_decode(path: str | Path, shape: tuple[int, ...], *, classes: int = 0, what: str = "label map",
                 budget: int | None = None, element_bytes: int | None = None) -> None:
    """Call before decoding a file that declares an array of `shape` ((H, W) or (Z, Y, X)): refuses it (LoadError
    naming the file) when the run's work on it, `classes` values per element, cannot fit the memory budget.
    element_bytes: what the run holds per declared element instead (a volume, whose passes work a slab at a time,
    holds the decoded array itself: its bytes per element and a float32 copy where it converts)."""
    elements = 1
    for d in shape:
        elements *= max(0, int(d))
    need = image_need(elements, classes) if element_bytes is None else elements * int(element_bytes)
    budget = memory_budget() if budget is None else budget
    if need > budget:
        dims = "×".join(str(int(d)) for d in shape)
        per = f" with {classes:,} classes" if classes else ""
        raise OverBudget(path, f"{what} of {dims} ({elements:,} pixels){per} {_over(need, budget)}; refused before "
                              f"decoding (raise {BUDGET_OPTION} or {BUDGET_ENV} if this machine has the memory)")


# ---- per run, at the door ----
def check_needs(what: str, parts: list[tuple[int, str, str]], budget: int | None = None) -> None:
    """parts: (bytes, what drives them, the change that lowers them). OptionError naming the largest part's option
    when the parts together exceed the budget."""
    budget = memory_budget() if budget is None else budget
    total = sum(need for need, _, _ in parts)
    if total <= budget:
        return
    _, cause, advice = max(parts, key=lambda part: part[0])
    raise OptionError(f"{what} {_over(total, budget)} ({cause}); {advice}, or raise {BUDGET_OPTION} if this "
                      "machine has the memory")


def check_index(classes: int, steps: int, images: int, budget: int | None = None) -> None:
    """Before an index pass: its histograms (classes × steps) and confusion matrices (classes² per image)."""
    from .count_store_build import CHUNK_BYTES
    c, n, i = int(classes), int(steps), max(1, int(images))
    histograms = 2 * c * (n + 2) * 8 * 3                          # the dataset's, one image's, their sums
    per_image = CHUNK_BYTES + c * (n + 1) * 2 * 8                 # a chunk's counts at every threshold (the rest: disk)
    confusion = c * (c + 1) * (12 + 4 * i) + i * c * 8 * 7        # one image's (int64 + int32), every image's
    check_needs("the index", [
        (histograms + per_image, f"{c:,} classes × {n + 1:,} thresholds", f"lower --steps (now {n:,})"),
        (confusion, f"a {c:,}×{c + 1:,} confusion matrix per image",
         "use fewer classes (--classes or --num-classes)")], budget)


FEWER_CLASSES = "use fewer classes (--classes or --num-classes) or split the dataset"


def counts_need(classes: int, images: int, confusion: bool = False) -> int:
    """Every image's tp / fp / fn (int64) and soft counts (float64) at one setting, as a pass or the index gives
    them (DatasetCounts), and with confusion=True every image's [C, C+1] int32 matrix."""
    c, i = int(classes), max(1, int(images))
    return i * c * 6 * 8 + (i * c * (c + 1) * 4 if confusion else 0)


def check_counts(classes: int, images: int, confusion: bool = False, budget: int | None = None) -> None:
    """Before a counts pass: its per-image rows (and confusion matrices) within the memory budget."""
    c, i = int(classes), max(1, int(images))
    check_needs("counting every image", [(counts_need(c, i, confusion), f"{i:,} images × {c:,} classes"
                                + (f" with a {c:,}×{c + 1:,} confusion matrix each" if confusion else ""),
                                FEWER_CLASSES)], budget)


def check_calibration(classes: int, bins: int, budget: int | None = None) -> None:
    """Before a calibration pass: (classes + 1) × bins of counts, sums and positives, and one image's keys."""
    c, b = int(classes), int(bins)
    check_needs("calibration", [((c + 1) * b * 8 * 3 * 2, f"{c + 1:,} rows × {b:,} bins", f"lower --bins (now {b:,})")],
                budget)
