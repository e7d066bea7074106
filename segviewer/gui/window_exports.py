"""File ▸ Export and Save view: the CLI's CSVs and figures from the numbers the window shows, every file through the
CLI's output gate (never over a file of the open dataset or the review session, all of an action's files or none)."""
from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtWidgets import QFileDialog

from ..core.errors import LoadError, OptionError
from ..core.export import write_per_class_csv, write_per_image_csv
from ..core.overlay import ALL_CLASSES
from .folders import remember_folder, start_folder
from .guard import message
from .table_model import beta_text
from .view_image import render_view, scale_choices

SCALE_KEY = "save_view/scale"


class WindowExports:
    def __init__(self, viewer, services, canvas, session_target):
        self.v, self.services, self.canvas = viewer, services, canvas
        self.session_target = session_target     # () -> the open review session's target, or None

    def output_guard(self):
        """What the window's writes must not touch: the open dataset's files and folders, the review session and
        its companions. Every writer below checks its file through it (the CLI's gate)."""
        from ..core.outputs import OutputGuard
        guard = OutputGuard()
        if self.v.dataset is not None:
            guard.add_dataset(self.v.dataset)
        return guard.add_session(self.session_target())

    @contextmanager
    def writing_outputs(self, label: str, path):
        """One action's outputs: checked by the window's guard, renamed together when the action succeeds."""
        from ..core.output_run import run_scope
        with run_scope(own=True) as run:
            self.output_guard().check({label: path})
            yield run

    def _save_path(self, title: str, default: str, filters: str) -> str | None:
        qsettings = self.services.qsettings
        path, _ = QFileDialog.getSaveFileName(self.services.dialog_parent, title,
                                              str(start_folder(qsettings) / default), filters)
        remember_folder(qsettings, path)
        return path or None

    def _ready(self, value, what: str) -> bool:
        if value is None:
            self.services.error(f"Export failed: the {what} are still being computed; try again in a moment.")
        return value is not None

    def export_per_class(self, path: str | None = None) -> bool:
        v = self.v
        if not self._ready(v.dataset_counts, "dataset-wide scores"):
            return False
        path = path or self._save_path("Export per-class CSV", "per_class.csv", "CSV (*.csv)")
        if not path:
            return False
        with self.writing_outputs("the export file", path):
            write_per_class_csv(path, v.classes, v.dataset_counts, v.dataset_soft, v.scoring)
        self.services.status(f"wrote {path}")
        return True

    def export_per_image(self, path: str | None = None) -> bool:
        rows = self.v.loaded_per_image()
        if not self._ready(rows, "per-image scores"):
            return False
        path = path or self._save_path("Export per-image CSV", "per_image.csv", "CSV (*.csv)")
        if not path:
            return False
        with self.writing_outputs("the export file", path):
            write_per_image_csv(path, rows[0], self.v.classes, rows[1], self.v.scoring)
        self.services.status(f"wrote {path}")
        return True

    def export_worst_figures(self, folder: str | None = None, n: int | None = None) -> bool:
        """The same figures as `export --figures`, for the N worst images at the window's settings, in the background."""
        from PySide6.QtWidgets import QInputDialog
        from ..core.figures import write_worst_figures
        v = self.v
        result = v.dataset_result
        if not self._ready(result, "per-image scores"):
            return False
        if n is None:
            n, ok = QInputDialog.getInt(self.services.dialog_parent, "Export worst figures",
                                        "How many of the worst images?", 10, 1, 10000)
            if not ok:
                return False
        qsettings = self.services.qsettings
        folder = folder or QFileDialog.getExistingDirectory(self.services.dialog_parent, "Folder for the figures",
                                                            str(start_folder(qsettings)))
        remember_folder(qsettings, folder)
        if not folder:
            return False
        dataset, scoring = v.dataset, v.scoring
        guard = self.output_guard()
        guard.check({}, folders={"the figures folder": folder})
        v.background.submit("figures", lambda: write_worst_figures(dataset, result, folder, n, scoring,
                                                                   label="the figures folder", guard=guard),
                            lambda files: self.services.status(f"wrote {len(files)} figures to {folder}"),
                            lambda exc: self.services.error(message("Export worst figures", exc)))
        return True

    def save_view(self, path: str | None = None, scale: int | None = None) -> bool:
        """The image panes (both when side by side) at the image's own resolution or a multiple of it (or as on
        screen), with the legend and a caption: image and settings. From the menu the scale is asked first."""
        v = self.v
        if scale is None:
            scale = 1 if path is not None else self._ask_scale()
            if scale is None:
                return False
        name = v.dataset.names[v.current] if v.dataset is not None and v.current >= 0 else "view"
        path = path or self._save_path("Save view as PNG", f"{name}.png", "PNG (*.png)")
        if not path:
            return False
        try:
            save_image(render_view(self.canvas, view_caption(v), scale), path, "Save view", self.output_guard())
        except (LoadError, OptionError) as exc:
            self.services.error(message("Save view", exc))
            return False
        self.services.status(f"wrote {path}")
        return True

    def _ask_scale(self) -> int | None:
        """The size of the saved view (the last choice first), None when the user cancels."""
        from PySide6.QtWidgets import QInputDialog
        choices = scale_choices(self.canvas.image_shape, self.canvas.side_by_side, self.canvas.aspect)
        labels = [label for label, _k in choices]
        last = self.services.qsettings.value(SCALE_KEY, 1, type=int)
        start = next((i for i, (_label, k) in enumerate(choices) if k == last), 0)
        label, ok = QInputDialog.getItem(self.services.dialog_parent, "Save view", "Size of the saved image:", labels,
                                         start, False)
        if not ok:
            return None
        scale = dict(choices)[label]
        self.services.qsettings.setValue(SCALE_KEY, scale)
        return scale

def save_image(image, path, label: str, guard) -> None:
    """A QImage or QPixmap saved through the output gate (format from the extension); LoadError when unsafe or
    when Qt cannot write it."""
    from ..core.output_run import atomic_output, run_scope
    from ..core.outputs import SCREENSHOT_EXTS
    with run_scope(own=True):
        guard.check({label: path}, formats={label: SCREENSHOT_EXTS})
        with atomic_output(path, label) as tmp:
            if not image.save(str(tmp)):
                raise LoadError(path, f"{label}: Qt could not write this image")


def view_caption(viewer) -> str:
    """What the saved view shows, in words: image, view, class and the scoring settings."""
    if viewer.dataset is None or viewer.current < 0:
        return "segviewer"
    s, sc, names = viewer.settings, viewer.scoring, viewer.classes.names
    cls = "all classes" if s.class_id == ALL_CLASSES else f"class {s.class_id}: {names[s.class_id]}"
    if viewer.is_hard:
        scoring = "annotator masks"
    elif sc.argmax:
        scoring = "argmax"
    else:
        scoring = "per-class thresholds" if sc.per_class else f"threshold {sc.threshold:g}"
    band = f" · {'interior beyond' if sc.interior else 'band'} {sc.boundary} px" if sc.boundary else ""
    panes = " (left: ground truth)" if s.layout == "side by side" else ""
    style = " · contours" if s.style == "contour" else ""
    return (f"{viewer.dataset.names[viewer.current]} · {s.view} view{panes}{style} · {cls} · {scoring} · "
            f"β {beta_text(sc.beta)}{band} · {viewer.dataset.options.gt_dir.parent.name}")
