"""Safe outputs: never write over a file the run reads or another output of the same run; write beside and rename.

Every output path is resolved (symlinks followed) and checked before any work is done: a path that is an input of
the run (ground truth, predictions, images, class file, session, index cache), another output of the run, a folder,
a device or FIFO, or a path under a file, is refused with one line. Files are written to a temporary file in the
target's folder and renamed into place, so a run that fails leaves the old file as it was.
"""
from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import LoadError, file_in_the_way, os_reason, regular_file

PLOT_EXTS = (".png", ".pdf", ".svg", ".svgz", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
SESSION_COMPANIONS = ("", "-wal", "-shm", "-journal")


def resolved(path: str | Path) -> Path:
    return Path(os.path.realpath(os.fspath(path)))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class OutputGuard:
    """What a run reads; check() refuses outputs that would overwrite any of it."""

    def __init__(self) -> None:
        self.inputs: list[tuple[Path, str]] = []            # (file, what it is)
        self.data_folders: list[tuple[Path, tuple[str, ...], str]] = []   # scanned folder, its extensions, what
        self.private: list[Path] = []                       # segviewer's own folders (index cache)

    def add_file(self, path: str | Path | None, what: str) -> "OutputGuard":
        if path is not None:
            self.inputs.append((Path(path), what))
        return self

    def add_session(self, path: str | Path | None) -> "OutputGuard":
        if path is not None:
            for suffix in SESSION_COMPANIONS:
                self.add_file(f"{path}{suffix}", "the QA session")
        return self

    def add_dataset(self, dataset) -> "OutputGuard":
        from .io import IMAGE_EXTS, LABEL_EXTS, LOGIT_EXTS
        from .options import beside_dataset_folder
        opts = dataset.options
        pred_exts = LABEL_EXTS if dataset.is_hard else LOGIT_EXTS
        for folder, exts, what in ((opts.gt_dir, LABEL_EXTS, "ground truth"), (opts.pred_dir, pred_exts, "predictions"),
                                   (opts.images_dir, IMAGE_EXTS, "images")):
            if folder is not None:
                self.data_folders.append((resolved(folder), exts, what))
        for item in dataset.items:
            self.add_file(item.gt, "ground truth").add_file(item.pred, "predictions").add_file(item.image, "images")
        if opts.classes and Path(opts.classes).suffix.lower() in (".json", ".toml"):
            self.add_file(opts.classes, "the class file")
        self.private.append(resolved(beside_dataset_folder(opts.gt_dir)))
        self.private.extend(_user_state_folders())
        return self

    def _input_ids(self) -> dict[tuple[int, int], tuple[Path, str]]:
        ids = {}
        for path, what in self.inputs:
            try:
                st = os.stat(path)
            except OSError:
                continue
            ids[(st.st_dev, st.st_ino)] = (path, what)
        return ids

    def check(self, files: dict[str, str | Path | None], folders: dict[str, str | Path | None] | None = None,
              formats: dict[str, tuple[str, ...]] | None = None) -> None:
        """Refuses (LoadError, nothing written) any output file or folder that is unsafe; labels name the options."""
        files = {k: Path(v) for k, v in files.items() if v is not None}
        folders = {k: Path(v) for k, v in (folders or {}).items() if v is not None}
        ids = None
        seen: dict[Path, str] = {}
        for label, path in files.items():
            target = resolved(path)
            if target in seen:
                raise LoadError(path, f"{label} and {seen[target]} are the same file; give each output its own path")
            seen[target] = label
            exts = (formats or {}).get(label)
            if exts and path.suffix.lower() not in exts:
                raise LoadError(path, f"{label}: unknown file type {path.suffix or '(none)'!r} "
                                      f"(use one of {', '.join(exts)})")
            st = _existing(path, target, label)
            if st is not None:
                ids = self._input_ids() if ids is None else ids
                hit = ids.get((st.st_dev, st.st_ino))
                if hit is not None:
                    raise LoadError(path, f"{label} would overwrite an input of this run ({hit[1]}); refused, "
                                          "choose another file")
            self._check_place(path, target, label, file=True)
        for label, path in folders.items():
            target = resolved(path)
            if target.exists() and not target.is_dir():
                raise LoadError(path, f"{label} must be a folder, but it is a file")
            _check_parents(path, target, label)
            self._check_place(path, target, label, file=False)
            for other, flabel in seen.items():
                if _inside(other, target) and other.suffix.lower() == ".png":
                    raise LoadError(path, f"{flabel} lies in the {label} folder and could be overwritten by a figure")

    def _check_place(self, path: Path, target: Path, label: str, file: bool) -> None:
        for folder in self.private:
            if _inside(target, folder):
                raise LoadError(path, f"{label} lies inside segviewer's cache folder {folder}; choose another place")
        for folder, exts, what in self.data_folders:
            if _inside(target, folder) and (not file or target.suffix.lower() in exts):
                raise LoadError(path, f"{label} lies inside the {what} folder, where it would be read as part of "
                                      "the dataset; choose another place")


def _user_state_folders() -> list[Path]:
    try:
        from platformdirs import user_cache_dir, user_data_dir
    except ImportError:   # pragma: no cover
        return []
    from .sessions.journal import journal_folder
    return [resolved(Path(user_cache_dir("segviewer")) / "index"), resolved(Path(user_data_dir("segviewer")) / "sessions"),
            resolved(journal_folder())]


def _existing(path: Path, target: Path, label: str) -> os.stat_result | None:
    """The stat of an existing output (which must be a regular file), None when it does not exist yet."""
    if not os.path.exists(target):
        _check_parents(path, target, label)
        return None
    return regular_file(path, label)


def _check_parents(path: Path, target: Path, label: str) -> None:
    """The nearest existing ancestor must be a folder (the rest is created when writing)."""
    blocker = file_in_the_way(target)
    if blocker is not None:
        raise LoadError(path, f"{label}: {blocker} is a file, not a folder")


def _new_file_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside the target (same extension); renamed over the target when the body succeeds.

    Any OSError (read-only, disk full, a folder in the way ...) becomes a LoadError naming the target; on any failure
    the temporary file is removed and the target is left as it was.
    """
    path = Path(path)
    target = resolved(path)
    if target.is_dir():
        raise LoadError(path, "is a folder, not a file; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise LoadError(path, f"cannot write: {os_reason(exc)}") from None
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        raise LoadError(path, f"cannot write: {os_reason(exc)}; the old file (if any) is unchanged") from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass

