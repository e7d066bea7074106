"""What every command prints the same way: progress on stderr, pairing problems, skipped files."""
from __future__ import annotations

import sys


def progress_bar(total: int, desc: str):
    """A tqdm bar on stderr when it is a terminal; silent otherwise."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def report_problems(dataset) -> None:
    for line in dataset.pairing.problems():
        print(f"segviewer: warning: {line}", file=sys.stderr)


def report_failures(failures) -> None:
    for exc in failures:
        print(f"segviewer: skipped {exc}", file=sys.stderr)
