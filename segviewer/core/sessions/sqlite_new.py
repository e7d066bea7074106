"""A new session file: written whole under a temporary name beside it, then linked into place.

The first change and segviewer's tables are committed into a file of this call's own (O_EXCL, never through a
link) and only then given the session's name with a hard link, which fails when the name exists. So no other
process ever sees a half-made session: it finds no file, or a whole one. When another process made the session
first, this call's file is dropped and its change goes into theirs like any change. A refused first change (a full
disk, a read-only folder, a bad value) removes this call's file, the journal SQLite made beside it and the folders
made for it; a file under the session's name is never removed, whoever made it.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from ..errors import os_reason
from ..output_run import clean_stale, temp_path
from .model import SessionError
from .sqlite_files import COMPANIONS

CLAIM_S = 60.0        # an empty session file younger than this may be another maker's claim (no hard links)
NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


class NewSessionFile:
    def __init__(self, path: Path):
        self.path = path
        _no_companion_left(path)
        self.folders = _make_folders(path)
        clean_stale(path.parent)       # a killed maker's (this host's whose process is gone, any host's after a day)
        self.temp = temp_path(path, "session")     # the output gate's kind of temporary: swept as its are
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            os.close(os.open(self.temp, flags, 0o666))
        except OSError as exc:
            self._remove_folders()
            raise SessionError(path, f"cannot create the session file: {os_reason(exc)}; nothing was changed") \
                from None

    def place(self) -> bool:
        """The written file under the session's name (call it with every connection to it closed); False when
        another process made the session meanwhile (this call's file is then removed)."""
        try:
            os.link(self.temp, self.path, follow_symlinks=False)
        except FileExistsError:
            self.remove()
            return False
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                self.remove()
                raise SessionError(self.path, f"cannot create the session file: {os_reason(exc)}; nothing was "
                                              "changed") from None
            return self._claim_then_rename()
        _unlink(self.temp)
        return True

    def _claim_then_rename(self) -> bool:
        """A file system without hard links (vfat, some SMB shares): the name is claimed first (an empty file, made
        exclusively), then the written file renamed over it. A second maker finds the name taken and is refused:
        it may not fill the claimed file, which the rename would then throw away with its change. An empty file
        that has sat there a while is no claim but someone's: False, as when another process made the session."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            os.close(os.open(self.path, flags, 0o666))
        except OSError as exc:
            self.remove()
            if isinstance(exc, FileExistsError) and _settled_empty(self.path):
                return False
            reason = ("another process is making this session at this moment (this file system has no hard links, "
                      "so they cannot be told apart); try again" if isinstance(exc, FileExistsError)
                      else os_reason(exc))
            raise SessionError(self.path, f"cannot create the session file: {reason}; nothing was changed") from None
        os.replace(self.temp, self.path)
        return True

    def remove(self) -> None:
        """This call's file and what SQLite made beside it, and the folders made for it; never raises."""
        for leftover in (self.temp, *(Path(f"{self.temp}{s}") for s in COMPANIONS)):
            _unlink(leftover)
        self._remove_folders()

    def _remove_folders(self) -> None:
        for folder in self.folders:     # deepest first; only while empty
            try:
                folder.rmdir()
            except OSError:
                break
        self.folders = []


def _no_companion_left(path: Path) -> None:
    """A -journal or -wal beside a session that is not there yet belongs to another file: SQLite would roll it
    into the new session (a hot journal) the first time it opens it."""
    for suffix in COMPANIONS:
        companion = Path(f"{path}{suffix}")
        if os.path.lexists(companion) and not os.path.lexists(path):
            raise SessionError(path, f"its {suffix[1:]} file {companion.name} is there without the session (left by "
                                     "another file?); SQLite would read it into the new session: move it away first; "
                                     "nothing was changed")


def _settled_empty(path: Path, age_s: float = CLAIM_S) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_size == 0 and time.time() - st.st_mtime > age_s


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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
