"""Typed errors for bad input: every one names the file and the problem."""
from __future__ import annotations

from pathlib import Path


class LoadError(Exception):
    """A file (or folder) that cannot be used, with the reason in plain words."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)
