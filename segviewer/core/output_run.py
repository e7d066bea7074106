"""One run's outputs, all or nothing: every file is written to a temporary file beside its target and the whole
set is renamed into place only when the run succeeds; on any failure every temporary file is removed and every
target is left as it was.

Temporary files carry a recognisable name, `.segviewer-tmp-<host>-<pid>-<token>-<name>`, so the next run that
writes into the same folder removes those a killed run (kill -9, power loss) left behind. Each file is checked
by the run's OutputGuards (core.outputs) before its temporary file is made, so a file added to a folder output
(a figure) gets the same check as `--out`.

    with run_scope() as run:            # the CLI opens one per command; the window one per action
        with atomic_output("o.csv") as tmp:
            write(tmp)                  # renamed when the scope commits
        run.commit()
"""
from __future__ import annotations

import contextvars
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import LoadError, os_reason

TEMP_PREFIX = ".segviewer-tmp-"
STALE_AFTER_S = 24 * 3600          # another host's temporary file is removed after a day
NAME_MAX = 255                     # bytes of one file name on every common file system
TEMP_NAME_KEEP = 80                # bytes of the target's name kept in its temporary file's name
_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-")
_current: contextvars.ContextVar["OutputRun | None"] = contextvars.ContextVar("segviewer_output_run", default=None)


def resolved(path: str | Path) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """name itself when its UTF-8 form fits `limit` bytes; else shortened, with a hash of the whole name before the
    extension so that two long names stay apart (`<start>~<hash8><suffix>`)."""
    data = name.encode("utf-8", "surrogateescape")
    if len(data) <= limit:
        return name
    suffix = Path(name).suffix if len(Path(name).suffix.encode("utf-8", "surrogateescape")) <= 16 else ""
    digest = hashlib.sha1(data).hexdigest()[:8]
    room = limit - len(suffix.encode("utf-8", "surrogateescape")) - len(digest) - 1
    stem = data[:room].decode("utf-8", "ignore")     # never half a character
    return f"{stem}~{digest}{suffix}"


def temp_path(target: Path, kind: str = "new") -> Path:
    """A fresh temporary name beside target, with target's extension (writers pick the format from it)."""
    suffix = target.suffix if len(target.suffix) <= 16 else ""
    keep = fit_name(target.name, TEMP_NAME_KEEP)
    name = f"{TEMP_PREFIX}{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}-{kind}-{keep}{suffix}"
    return target.parent / name


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale(folder: Path) -> list[Path]:
    """Removes the temporary files a killed run left in folder: this host's whose process is gone, and any host's
    older than a day. Returns what was removed; never raises."""
    removed = []
    host, now = _host_tag(), time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            mine = match["host"] == host
            if (mine and int(match["pid"]) != os.getpid() and not _alive(int(match["pid"]))) or \
                    (not mine and now - st.st_mtime > STALE_AFTER_S):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _new_file_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


class OutputRun:
    """The files one run writes. check() registers guards (core.outputs.OutputGuard); writing(path) yields a
    temporary path, checked by every registered guard first; commit() renames all of them, discard() removes all."""

    def __init__(self, private: bool = False) -> None:
        self.private = private                              # segviewer's own files (the index cache)
        self.guards: list = []
        self.pending: list[tuple[Path, Path, str]] = []     # (temporary, target, label)
        self.targets: dict[Path, str] = {}                  # resolved target -> label: no file written twice
        self.made_folders: list[Path] = []                  # created by this run, removed again when discarded
        self.cleaned: set[Path] = set()
        self.closed = False

    # ---- checks ----
    def add_guard(self, guard) -> None:
        if all(g is not guard for g in self.guards):
            self.guards.append(guard)

    def check_file(self, path: str | Path, label: str, table: bool = False) -> Path:
        """The resolved target of one more output file, after every guard's check (LoadError when unsafe);
        table: a CSV table (core.output_kinds)."""
        from .outputs import OutputGuard
        for guard in self.guards or [OutputGuard(private_ok=self.private)]:
            guard.check_file(label, path, table)
        path = Path(path)
        target = resolved(path)
        other = self.targets.get(target)
        if other is not None:
            raise LoadError(path, f"{label} and {other} are the same file; give each output its own path")
        return target

    # ---- writing ----
    @contextmanager
    def writing(self, path: str | Path, label: str = "output", table: bool = False) -> Iterator[Path]:
        """A temporary path for path's content; on success of the body it waits for commit(), on failure it is
        removed (an OSError becomes a LoadError naming path)."""
        if self.closed:
            raise RuntimeError("this output run is already committed or discarded")
        target = self.check_file(path, label, table)
        path = Path(path)
        tmp = self._temp_for(path, target)
        try:
            yield tmp
            if not tmp.is_file():   # a writer that wrote elsewhere (e.g. a format that appends an extension)
                raise LoadError(path, "the writer produced no file; nothing was written")
        except BaseException as exc:
            _unlink(tmp)
            if isinstance(exc, OSError):
                raise LoadError(path, f"cannot write: {os_reason(exc)}; the old file (if any) is unchanged") from None
            raise
        self.pending.append((tmp, target, label))
        self.targets[target] = label

    def _temp_for(self, path: Path, target: Path) -> Path:
        if target.is_dir():
            raise LoadError(path, "is a folder, not a file; give a file name")
        if len(target.name.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise LoadError(path, f"the file name is longer than {NAME_MAX} bytes; choose a shorter name")
        self._make_folder(path, target.parent)
        if target.parent not in self.cleaned:
            self.cleaned.add(target.parent)
            clean_stale(target.parent)
        tmp = temp_path(target)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
            os.close(fd)
        except OSError as exc:
            raise LoadError(path, f"cannot write: {os_reason(exc)}") from None
        return tmp

    def _make_folder(self, path: Path, folder: Path) -> None:
        missing = []
        for parent in (folder, *folder.parents):
            if parent.exists():
                break
            missing.append(parent)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LoadError(path, f"cannot create the folder {folder}: {os_reason(exc)}") from None
        self.made_folders.extend(missing)   # deepest first: removed in this order when discarded

    # ---- the end ----
    def commit(self) -> list[Path]:
        """Renames every temporary file over its target; if a rename fails, the targets renamed so far get their
        old content back (kept as hard links until then) and the error names the file."""
        self.closed = True
        done: list[tuple[Path, Path | None]] = []   # (target, backup of its old content or None)
        try:
            for tmp, target, label in self.pending:
                os.chmod(tmp, _new_file_mode(target))
                backup = _backup(target)
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    _unlink(backup) if backup else None
                    raise LoadError(target, f"{label}: cannot write: {os_reason(exc)}; every output of this run "
                                            "is unchanged") from None
                done.append((target, backup))
        except BaseException:
            for target, backup in reversed(done):
                _restore(target, backup)
            self._remove_temps()
            raise
        for _, backup in done:
            _unlink(backup) if backup else None
        self.made_folders.clear()
        written = [target for _, target, _ in self.pending]
        self.pending.clear()
        return written

    def discard(self) -> None:
        """Removes every temporary file and the folders this run created (when still empty)."""
        self.closed = True
        self._remove_temps()
        for folder in self.made_folders:
            try:
                folder.rmdir()
            except OSError:
                pass
        self.made_folders.clear()

    def _remove_temps(self) -> None:
        for tmp, _, _ in self.pending:
            _unlink(tmp)
        self.pending.clear()


def _unlink(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def _backup(target: Path) -> Path | None:
    """A hard link to target's current content (None when there is none, or links are not supported)."""
    if not os.path.isfile(target):
        return None
    backup = temp_path(target, "old")
    try:
        os.link(target, backup)
    except OSError:
        return None
    return backup


def _restore(target: Path, backup: Path | None) -> None:
    try:
        if backup is not None:
            os.replace(backup, target)
        else:
            os.unlink(target)
    except OSError:
        pass


def current_run() -> OutputRun | None:
    return _current.get()


@contextmanager
def run_scope(own: bool = False, commit: bool = True, private: bool = False) -> Iterator[OutputRun]:
    """The run every atomic_output inside joins. Nested scopes join the outer one unless own=True. When the body
    returns, the run commits (commit=False: only an explicit run.commit() does); when it raises, it is discarded."""
    outer = _current.get()
    if outer is not None and not own:
        yield outer
        return
    run = OutputRun(private)
    token = _current.set(run)
    try:
        yield run
        if commit and not run.closed:
            run.commit()
    finally:
        _current.reset(token)
        if not run.closed or run.pending:
            run.discard()


@contextmanager
def atomic_output(path: str | Path, label: str = "output", table: bool = False) -> Iterator[Path]:
    """A temporary path for one output file, checked by the current run's guards; renamed when the run commits
    (at once when no run is open). Any failure removes it and leaves the target as it was. table: a CSV table
    (which replaces only a table, core.output_kinds)."""
    with run_scope() as run, run.writing(path, label, table) as tmp:
        yield tmp


@contextmanager
def private_output(path: str | Path) -> Iterator[Path]:
    """atomic_output for segviewer's own files (the index cache): a run of its own, renamed at once, in a folder the
    guards keep users' outputs out of."""
    with run_scope(own=True, private=True) as run, run.writing(path, "cache file") as tmp:
        yield tmp
