"""Typed errors for bad input: every one names the file and the problem, on one line, in plain words.

Also the few checks every reader of a user-given path shares: a path must be a regular file before it is opened
(a FIFO or a device would block or misbehave), and an OSError is told in words (read-only, disk full, a folder ...).
"""
from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

MAX_MESSAGE = 300
# advice that would make a reader unpickle (run) a file's content: never passed on to the user
UNSAFE_ADVICE = re.compile(r"weights_only|allow_pickle|safe_globals|pickle\.load|arbitrary code|trusted source|"
                           r"file an issue|check the documentation|weights only load failed", re.IGNORECASE)


def valid_utf8(text: object) -> str:
    """Text that can be written as UTF-8: invalid bytes of a file name (surrogate escapes) become U+FFFD."""
    text = str(text)
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:   # a lone surrogate that is no escaped byte (e.g. from JSON "\\ud800"): one U+FFFD each
        return re.sub("[\ud800-\udfff]", "\ufffd", text)
    return data.decode("utf-8", "replace")


def printable(text: object) -> str:
    """valid_utf8 and control characters as spaces: safe to print on one line."""
    return re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", " ", valid_utf8(text))


def one_line(text: object) -> str:
    return re.sub(r"\s+", " ", printable(text)).strip()


def plain(text: object, limit: int = MAX_MESSAGE) -> str:
    """A library's error message as whole sentences on one line, without advice to load unsafely."""
    sentences = re.split(r"(?<=[.!?])\s+|\s*\n+\s*", printable(text).strip())
    kept: list[str] = []
    for sentence in sentences:
        sentence = one_line(sentence)
        if not sentence or UNSAFE_ADVICE.search(sentence):
            continue
        if kept and len(" ".join(kept)) + len(sentence) > limit:
            break
        kept.append(sentence)
    out = " ".join(kept)
    if len(out) > limit:   # a single sentence longer than the limit: cut at a word and say so
        out = out[:limit].rsplit(" ", 1)[0] + " (message shortened)"
    return out


class LoadError(Exception):
    """A file (or folder) that cannot be used, with the reason in plain words."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = Path(path) if path is not None else None
        self.reason = one_line(reason)
        where = printable(self.path) if self.path is not None else None
        super().__init__(f"{where}: {self.reason}" if where is not None else self.reason)

    def __reduce__(self):
        # pickled as (path, reason): a Dask worker's error arrives at the client as the same LoadError
        return (type(self), (self.path, self.reason))


class OverBudget(LoadError):
    """A file refused by the read gate's memory budget before decoding (a reader that can read it a part at a
    time may then do that instead)."""


class OptionError(ValueError):
    """A bad argument (an option, a keyword, a setting): not a file's fault. One line, like LoadError."""

    def __init__(self, reason: str):
        self.path = None
        self.reason = one_line(reason)
        super().__init__(self.reason)

    def __reduce__(self):
        return (type(self), (self.reason,))


class ClosedError(OptionError):
    """A call to an Inspector (or one of its parts) after close()."""

    def __init__(self, what: str = "this Inspector"):
        super().__init__(f"{what} is closed: open the dataset again (segviewer.open) to use it")

    def __reduce__(self):
        return (type(self), ())


def os_reason(exc: OSError, writing: bool = True) -> str:
    """What an OSError means for the user, in words (no errno numbers, no tracebacks)."""
    code = exc.errno
    words = {
        errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied" + (" (the file or its folder is read-only)" if writing else ""),
        errno.EPERM: "operation not permitted", errno.EISDIR: "is a folder, not a file",
        errno.ENOTDIR: "a part of the path is a file, not a folder", errno.ENOENT: "does not exist",
        errno.ENAMETOOLONG: "the name is too long", errno.ELOOP: "too many levels of symbolic links",
        errno.EEXIST: "already exists", errno.EIO: "input/output error (failing disk?)",
        errno.ENXIO: "not a regular file (a device or socket)", errno.ETXTBSY: "the file is busy",
    }
    return words.get(code, one_line(exc.strerror or exc))


def regular_file(path: str | Path, what: str = "file") -> os.stat_result:
    """The stat of path if it is a regular file (symlinks followed); otherwise a LoadError, without opening it."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise LoadError(path, f"{what} {os_reason(exc, writing=False)}") from None
    problem = not_a_file(st)
    if problem:
        raise LoadError(path, f"{what} {problem}; refused without opening it")
    return st


def not_a_file(st: os.stat_result) -> str | None:
    """Why this stat is no regular file, or None when it is one."""
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a FIFO, device or socket)"
    return None


def file_in_the_way(path: str | Path) -> Path | None:
    """The nearest existing ancestor of path when it is not a folder (so path can never be created there)."""
    for parent in Path(path).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def dangling_link(path: str | Path) -> tuple[Path, str] | None:
    """The first part of path, from the top (a folder above it, or path itself), that is a symbolic link to nothing,
    with where it points; None when there is none. Writing there would create the link's target, wherever it
    points, so every writer refuses such a path (lstat, never followed)."""
    path = Path(path)
    for part in (*reversed(path.parents), path):
        if os.path.islink(part) and not os.path.exists(part):
            return part, link_target(part)
    return None


def link_target(link: str | Path) -> str:
    """Where a symbolic link points, as written in it (for messages); '?' when it cannot be read."""
    try:
        return os.readlink(link)
    except OSError:
        return "?"


def names_a_folder(text: str | Path) -> bool:
    """Whether a path given as text names a folder by its form alone: it ends with a separator, `.` or `..`
    (a Path already dropped a trailing separator, so this looks at the text as given)."""
    if not isinstance(text, str):
        return False
    seps = (os.sep, os.altsep) if os.altsep else (os.sep,)
    return text.endswith(seps) or os.path.basename(text) in (".", "..")


def all_failed(path: str | Path | None, failures: list, shown: int = 3) -> LoadError:
    """The error for a run in which every file failed: the count and the first few reasons."""
    reasons = "; ".join(str(f) for f in failures[:shown])
    more = f"; and {len(failures) - shown} more" if len(failures) > shown else ""
    return LoadError(path, f"no image could be loaded ({len(failures)} failed): {reasons}{more}" if failures
                     else "no image could be loaded")
