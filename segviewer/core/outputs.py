"""The output gate: every file segviewer writes is checked here before anything is written, and written through
core.output_run (a temporary file beside it, all of a run's files renamed together at the end).

A guard knows what the run reads: its files (by resolved path and by inode/device, so symlinks and hard links are
caught), its data folders (where a new file of a data type would be read as data), segviewer's own cache folders,
and its QA sessions with their SQLite companions (`-wal`, `-shm`, `-journal`) whether they exist yet or not. An
output is refused with one line naming the option when it would overwrite any of that, when it is another output
of the run, when it is a folder (or named like one: `out/`), a FIFO, a device or lies under a file, when it is a
symbolic link or a folder above it is a link to nothing (nothing is ever written or created through a link),
when it would replace a file of another kind (core.output_kinds: a CSV never over a class file, a PNG only over a
PNG), when it is itself an SQLite database, or when it is named like a companion of an existing SQLite database
(SQLite would take it for the database's own journal and discard it, or apply it).

    guard = OutputGuard().add_dataset(dataset).add_session(session)
    guard.check({"--out": out, "--per-image": per_image}, folders={"--figures": figures})
    with atomic_output(out, "--out") as tmp: ...     # each file is checked again, by the guards of the run
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import LoadError, dangling_link, file_in_the_way, link_target, names_a_folder, regular_file
from .output_kinds import check_replaced, check_table_name
from .output_run import (NAME_MAX, atomic_output, current_run, fit_name, is_temp_name, private_output,  # noqa: F401
                         resolved, run_scope)

PLOT_EXTS = (".png", ".pdf", ".svg", ".svgz", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")
SCREENSHOT_EXTS = (".png", ".jpg", ".jpeg", ".bmp")
SESSION_COMPANIONS = ("", "-wal", "-shm", "-journal")
JOURNAL_SUFFIXES = SESSION_COMPANIONS[1:]
SQLITE_HEADER = b"SQLite format 3\x00"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


class OutputGuard:
    """What a run reads; check() refuses outputs that would overwrite any of it, and registers the guard with the
    open output run so that every file written later (a figure in a folder) passes the same checks."""

    def __init__(self, private_ok: bool = False) -> None:
        self.inputs: list[tuple[Path, str]] = []            # (file, what it is)
        self.data_folders: list[tuple[Path, tuple[str, ...], str]] = []   # scanned folder, its extensions, what
        self.private: list[Path] = []                       # segviewer's own folders (index cache, sessions)
        self.private_ok = private_ok                        # a writer of segviewer's own files (the index cache)
        self.formats: dict[str, tuple[str, ...]] = {}       # option -> the extensions its files may have
        self._ids: dict[tuple[int, int], tuple[Path, str]] | None = None
        self._paths: dict[Path, str] | None = None

    # ---- what the run reads ----
    def add_file(self, path: str | Path | None, what: str) -> "OutputGuard":
        if path is not None:
            self.inputs.append((Path(path), what))
            self._ids = self._paths = None
        return self

    def add_session(self, path: str | Path | None) -> "OutputGuard":
        """A QA session and its companions, also those that do not exist yet (SQLite makes them when it writes).
        A team session on PostgreSQL (a URL) has no file here."""
        if path is not None and not isinstance(path, Path):
            from .sessions.target import session_target
            path = session_target(path)
        if isinstance(path, Path):
            for suffix in SESSION_COMPANIONS:
                self.add_file(f"{path}{suffix}", "the QA session" if not suffix else f"the QA session's {suffix[1:]}")
        return self

    def add_dataset(self, dataset) -> "OutputGuard":
        for item in dataset.items:
            self.add_file(item.gt, "ground truth").add_file(item.pred, "predictions").add_file(item.image, "images")
        return self.add_options(dataset.options, hard=dataset.is_hard)

    def add_options(self, opts, hard: bool | None = None) -> "OutputGuard":
        """A dataset's folders and class file, before (or without) listing its files."""
        from .io import IMAGE_EXTS, LABEL_EXTS, LOGIT_EXTS
        from .options import beside_dataset_folder
        hard = opts.pred_kind == "masks" if hard is None else hard
        pred_exts = LABEL_EXTS if hard else LOGIT_EXTS
        for folder, exts, what in ((opts.gt_dir, LABEL_EXTS, "ground truth"), (opts.pred_dir, pred_exts, "predictions"),
                                   (opts.images_dir, IMAGE_EXTS, "images")):
            if folder is not None:
                self.data_folders.append((resolved(folder), exts, what))
        if opts.classes and Path(opts.classes).suffix.lower() in (".json", ".toml"):
            self.add_file(opts.classes, "the class file")
        self.private.append(resolved(beside_dataset_folder(opts.gt_dir)))
        self.private.extend(_user_state_folders())
        return self

    def _input_paths(self) -> dict[Path, str]:
        if self._paths is None:
            self._paths = {resolved(path): what for path, what in reversed(self.inputs)}
        return self._paths

    def _input_ids(self) -> dict[tuple[int, int], tuple[Path, str]]:
        if self._ids is None:
            self._ids = {}
            for path, what in self.inputs:
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                self._ids.setdefault((st.st_dev, st.st_ino), (path, what))
        return self._ids

    # ---- the checks ----
    def check(self, files: dict[str, str | Path | None], folders: dict[str, str | Path | None] | None = None,
              formats: dict[str, tuple[str, ...]] | None = None) -> "OutputGuard":
        """Refuses (LoadError, nothing written) any output file or folder that is unsafe; labels name the options.
        A file is a CSV table unless `formats` lists the extensions its option writes (a plot, a screenshot).
        Registers this guard with the open output run (core.output_run), whose writes it then checks too."""
        self.formats.update({k: v for k, v in (formats or {}).items() if k is not None})
        for label, value in files.items():
            if value is not None:
                self.check_file(label, value, table=label not in self.formats)
        files = {k: Path(v) for k, v in files.items() if v is not None}
        folders = {k: Path(v) for k, v in (folders or {}).items() if v is not None}
        seen: dict[Path, str] = {}
        for label, path in files.items():
            target = resolved(path)
            if target in seen:
                raise LoadError(path, f"{label} and {seen[target]} are the same file; give each output its own path")
            seen[target] = label
        for label, path in folders.items():
            self.check_folder(label, path)
            target = resolved(path)
            for other, flabel in seen.items():
                if _inside(other, target) and other.suffix.lower() == ".png":
                    raise LoadError(path, f"{flabel} lies in the {label} folder and could be overwritten by a figure")
        run = current_run()
        if run is not None:
            run.add_guard(self)
        return self

    def check_file(self, label: str, path: str | Path, table: bool = False) -> None:
        """One output file: its type, what it is now (a regular file of the same kind that no input shares), where
        it lies. table: a CSV table (core.output_kinds); else its kind is what its extension says."""
        if names_a_folder(path):
            raise LoadError(path, f"{label} ends with {path[-1]!r}, so it names a folder; give a file name")
        path = Path(path)
        target = resolved(path)
        exts = self.formats.get(label)
        if exts and path.suffix.lower() not in exts:
            raise LoadError(path, f"{label}: unknown file type {path.suffix or '(none)'!r} (use one of {', '.join(exts)}); "
                                  "refused")
        if is_temp_name(target.name):
            raise LoadError(path, f"{label}: names starting with {target.name[:15]!r} are segviewer's temporary files")
        if len(target.name.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise LoadError(path, f"{label}: the file name is longer than {NAME_MAX} bytes; choose a shorter name")
        hit = self._input_paths().get(target)
        if hit is not None:
            raise LoadError(path, f"{label} would overwrite an input of this run ({hit}); refused, choose another file")
        _check_links(path, label)
        exists = os.path.lexists(target)
        if exists:
            st = regular_file(path, label)
            found = self._input_ids().get((st.st_dev, st.st_ino))
            if found is not None:
                raise LoadError(path, f"{label} would overwrite an input of this run ({found[1]}); refused, "
                                      "choose another file")
        else:
            _check_parents(path, target, label)
        database = _journal_of(target)
        if database is not None:
            raise LoadError(path, f"{label} is named like a companion of the SQLite database {database.name} (a QA "
                                  "session?), which SQLite would take for its own journal; refused, choose another name")
        self._check_place(path, target, label, file=True)
        if table:
            check_table_name(path, label)
        if exists:
            _check_kind(path, target, label, table)

    def check_folder(self, label: str, path: str | Path) -> None:
        path = Path(path)
        _check_dangling(path, label)
        target = resolved(path)
        if target.exists() and not target.is_dir():
            raise LoadError(path, f"{label} must be a folder, but it is a file")
        _check_parents(path, target, label)
        self._check_place(path, target, label, file=False)

    def _check_place(self, path: Path, target: Path, label: str, file: bool) -> None:
        if not self.private_ok:
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


def _check_dangling(path: Path, label: str) -> None:
    """No folder is ever created through a link: a link to nothing above (or as) an output is refused."""
    dangling = dangling_link(path)
    if dangling is not None:
        link, points_to = dangling
        raise LoadError(path, f"{label}: {link} is a symbolic link to {points_to}, which does not exist; segviewer "
                              "never writes through a link, give a real folder")


def _check_links(path: Path, label: str) -> None:
    """An output file is never a symbolic link (replacing what it points to, or creating it, wherever that is)."""
    _check_dangling(path.parent, label)
    if os.path.islink(path):
        raise LoadError(path, f"{label} is a symbolic link (to {link_target(path)}); segviewer never writes "
                              "through a link, give the file's own path")


def _check_parents(path: Path, target: Path, label: str) -> None:
    """The nearest existing ancestor must be a folder (the rest is created when writing)."""
    blocker = file_in_the_way(target)
    if blocker is not None:
        raise LoadError(path, f"{label}: {blocker} is a file, not a folder")


def _is_sqlite(path: Path) -> bool:
    from .reads import read_head
    return read_head(path).startswith(SQLITE_HEADER)


def _check_kind(path: Path, target: Path, label: str, table: bool) -> None:
    """An existing file is replaced only by a file of its own kind (core.output_kinds), whatever the run reads (a
    run without a dataset does not know the dataset's files)."""
    from .reads import read_head
    head = read_head(target)
    if head.startswith(SQLITE_HEADER):
        raise LoadError(path, f"{label} is an SQLite database (a QA session?); refused, choose another file")
    check_replaced(path, head, label, table)


def _journal_of(target: Path) -> Path | None:
    """The SQLite database whose companion target would be (`X-wal` beside an existing database X), or None."""
    for suffix in JOURNAL_SUFFIXES:
        if target.name.endswith(suffix) and len(target.name) > len(suffix):
            database = target.with_name(target.name[: -len(suffix)])
            if os.path.isfile(database) and _is_sqlite(database):
                return database
    return None


def folder_file_name(folder: str | Path, name: str) -> Path:
    """A file in folder named `name`, shortened (with a hash) to what one file name may hold."""
    return Path(folder) / fit_name(name)
