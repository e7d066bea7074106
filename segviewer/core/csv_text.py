"""CSV cells and files, without torch: every CSV segviewer writes goes through here (and the QA commands stay light)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterable, Sequence

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Neutralises a text cell a spreadsheet would run as a formula."""
    return "'" + value if value and value.startswith(FORMULA_PREFIXES) else value


def fmt_number(value: float) -> str:
    """Empty for absent (NaN), else full precision without float noise."""
    value = float(value)
    return "" if math.isnan(value) else f"{value:.12g}"


def write_rows(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A CSV written beside the target and renamed into place (a failure leaves the old file); text cells with
    invalid UTF-8 get replacement characters. OSError -> LoadError naming the path."""
    from .errors import valid_utf8
    from .outputs import atomic_output
    with atomic_output(path, table=True) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([valid_utf8(v) if isinstance(v, str) else v for v in row] for row in rows)
