"""What every command prints the same way: progress on stderr, pairing problems, skipped files."""
from __future__ import annotations

import sys


def progress_bar(total: int, desc: str):
    """A tqdm bar on stderr when it is a terminal; silent otherwise."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def report_problems(dataset) -> None:
    from ..core.errors import one_line
    for line in dataset.pairing.problems():
        print(f"segviewer: warning: {one_line(line)}", file=sys.stderr)   # invalid UTF-8 names: U+FFFD


def report_failures(failures) -> None:
    from ..core.errors import one_line
    for exc in failures:
        print(f"segviewer: skipped {one_line(exc)}", file=sys.stderr)
