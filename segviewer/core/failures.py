"""The engine's one record of the images that could not be loaded: image position -> the one-line reason.

Every pass reports a bad file as a LoadError naming it; the log finds the image that file belongs to (its
ground truth, prediction or photo), so a failure is written in one place and read by every face: the window's
list and canvas, the tables' "failed" rows, the command line's `segviewer: skipped FILE: reason` lines.
"""
from __future__ import annotations

import threading
from typing import Iterable, Iterator, Mapping

from .errors import LoadError, one_line


class FailureLog(Mapping[int, str]):
    def __init__(self, items):
        self._items = items
        self._reasons: dict[int, str] = {}
        self._owners: dict[str, list[int]] | None = None
        self._lock = threading.Lock()

    def _positions_of(self, path) -> list[int]:
        if self._owners is None:     # built on the first failure: most runs never need it
            owners: dict[str, list[int]] = {}
            for i, item in enumerate(self._items):
                for p in (item.gt, item.pred, item.image):
                    if p is not None:
                        owners.setdefault(str(p), []).append(i)
            self._owners = owners
        return self._owners.get(str(path), []) if path is not None else []

    def record(self, error: LoadError) -> list[int]:
        """The failure of the images that read this file; returns their positions."""
        positions = self._positions_of(error.path)
        with self._lock:
            for i in positions:
                self._reasons[i] = str(error)
        return positions

    def record_all(self, errors: Iterable[LoadError]) -> None:
        for error in errors:
            self.record(error)

    def record_at(self, position: int, reason: str) -> None:
        with self._lock:
            self._reasons[int(position)] = one_line(reason)

    def forget(self, position: int) -> None:
        """The image loaded after all (a file fixed meanwhile)."""
        with self._lock:
            self._reasons.pop(int(position), None)

    def clear(self) -> None:
        with self._lock:
            self._reasons.clear()

    def reasons(self) -> list[str]:
        """Every reason in dataset order (the command line's `skipped` lines)."""
        with self._lock:
            return [self._reasons[i] for i in sorted(self._reasons)]

    def __getitem__(self, position: int) -> str:
        return self._reasons[position]

    def __iter__(self) -> Iterator[int]:
        with self._lock:
            return iter(sorted(self._reasons))

    def __len__(self) -> int:
        return len(self._reasons)

    def __repr__(self) -> str:
        return f"<FailureLog {len(self)} failed: {dict(self)}>"
