"""A new session file: made by its first change, and gone again when that change is refused.

The file is created here (O_EXCL, never through a link) before SQLite opens it, so a read-only folder or a full
disk is told in words, and the call knows which files are its own: when the first change is refused (a full disk,
a lock, a bad value), the file, the -wal / -shm / -journal SQLite made beside it and the folders made for it are
removed. A file that existed before the call is never removed.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import os_reason
from .model import SessionError
from .sqlite_files import COMPANIONS


class NewSessionFile:
    """made: this call created the file (else another process did, just now, or an empty file was there)."""

    def __init__(self, path: Path):
        self.path = path
        self.companions = [Path(f"{path}{s}") for s in COMPANIONS if not os.path.lexists(f"{path}{s}")]
        self.folders = _make_folders(path)
        self.made, self._id = False, None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            return
        except OSError as exc:
            self._remove_folders()
            raise SessionError(path, f"cannot create the session file: {os_reason(exc)}; nothing was changed") \
                from None
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        self.made, self._id = True, (st.st_dev, st.st_ino)

    def remove(self) -> None:
        """Removes what this call made (call it with every connection to the file closed); never raises."""
        if not self.made:
            return
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._id:   # not a file another process put there since
                os.unlink(self.path)
        except OSError:
            pass
        for companion in self.companions:
            try:
                if os.path.isfile(companion) and not os.path.islink(companion):
                    os.unlink(companion)
            except OSError:
                pass
        self._remove_folders()
        self.made = False

    def _remove_folders(self) -> None:
        for folder in self.folders:     # deepest first; only while empty
            try:
                folder.rmdir()
            except OSError:
                break
        self.folders = []


def _make_folders(path: Path) -> list[Path]:
    """The missing folders above path, made now; returned deepest first."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for folder in missing:
            try:
                folder.rmdir()
            except OSError:
                pass
        raise SessionError(path, f"cannot create the session's folder: {os_reason(exc)}") from None
    return missing
