"""Menus, keyboard shortcuts, recent datasets and the File ▸ Export actions of the main window."""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog

from ..core.dataset import DataOptions
from ..core.errors import LoadError
from ..core.export import write_per_class_csv, write_per_image_csv
from ..core.overlay import ALL_CLASSES
from .folders import remember_folder, start_folder
from .guard import guarded, message
from .keys import KeyRouter
from .open_dialog import OpenDatasetDialog
from .shortcuts import SHORTCUTS, HelpOverlay

MAX_RECENT = 8


def options_to_json(options: DataOptions) -> str:
    d = asdict(options)
    return json.dumps({k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()})


def options_from_json(text: str) -> DataOptions:
    d = json.loads(text)
    for k in ("gt_dir", "pred_dir", "images_dir"):
        d[k] = Path(d[k]) if d.get(k) else None
    d["strip_suffixes"] = tuple(d.get("strip_suffixes") or ())
    return DataOptions(**d)


class WindowActions:
    def __init__(self, window):
        self.w = window
        self.v = window.viewer
        self.help = None
        self._menus()
        self._shortcuts()

    # ---- menus ----
    def _menus(self) -> None:
        w = self.w
        file = w.menuBar().addMenu("&File")
        self._add(file, "Open dataset folder…", self.pick_folder, "Ctrl+O")
        self._add(file, "Open dataset (separate folders)…", self.open_dialog, "Ctrl+Shift+O")
        self.recent_menu = file.addMenu("Open recent")
        self._add(file, "Open demo dataset", self.open_demo)
        self._add(file, "Compare with model B…", w.insights.pick_compare)
        file.addSeparator()
        self._add(file, "Export per-class CSV…", self.export_per_class, "Ctrl+E")
        self._add(file, "Export per-image CSV…", self.export_per_image)
        self._add(file, "Export QA report…", lambda: w.review.export_report())
        self._add(file, "Export worst figures…", self.export_worst_figures)
        self._add(file, "Save view as PNG…", self.save_view, "Ctrl+S")
        file.addSeparator()
        self._add(file, "Quit", w.close, "Ctrl+Q")
        view = w.menuBar().addMenu("&View")
        self._add(view, "Fit image (F)", w.canvas.fit)
        self._add(view, "Image only (I)", self.image_only)
        self._add(view, "Contour / filled (O)", self.toggle_contour)
        self._add(view, "Side by side with the ground truth (S)", self.side_by_side)
        self._add(view, "Flicker ground truth ⇄ prediction (T)", self.flicker)
        self._add(view, "Label doubt heatmap (D)", w.insights.toggle_doubt_view)
        self._add(view, "Model A → B changes (V)", w.insights.toggle_compare_view)
        self._add(view, "Colour-blind safe colours", lambda: self.v.update_settings(
            palette="classic" if self.v.settings.palette != "classic" else "colour-blind safe"))
        view.addSeparator()
        w.layout_.fill_menu(view, self._add)
        help_menu = w.menuBar().addMenu("&Help")
        self._add(help_menu, "Keyboard shortcuts (?)", self.toggle_help)
        self.refresh_recent()

    def _add(self, menu, text, slot, shortcut: str | None = None) -> QAction:
        action = QAction(text, self.w)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        run = guarded(self.w.show_error, text.rstrip("…").split(" (")[0], slot)
        action.triggered.connect(lambda checked=False: run())
        menu.addAction(action)
        return action

    def _shortcuts(self) -> None:
        """Single keys go through the KeyRouter (they work wherever the focus is); keys with Ctrl/Alt are QShortcuts."""
        self.bound, single = {}, {}
        for keys, _text, name in SHORTCUTS:
            for key in keys:
                handler = self._handler(name, key)
                if handler is None:
                    continue
                run = guarded(self.w.show_error, f"Key {key}", handler)
                if "+" in key:
                    sc = QShortcut(QKeySequence(key), self.w)
                    sc.activated.connect(run)
                    self.bound[key] = sc
                else:
                    single[key] = run
        self.router = KeyRouter(self.w, single, self.w.canvas.view_widget.setFocus, (HelpOverlay,))
        for n in range(10):
            sc = QShortcut(QKeySequence(f"Alt+{n}"), self.w)
            sc.activated.connect(lambda n=n: self.select_class(n))

    def _handler(self, name: str, key: str):
        w, v = self.w, self.v
        s = lambda: v.settings  # noqa: E731
        table = {
            "next_image": lambda: w.image_list.step(+1), "previous_image": lambda: w.image_list.step(-1),
            "next_worst": lambda: self.walk_worst(+1), "previous_worst": lambda: self.walk_worst(-1),
            "all_classes": lambda: v.update_settings(class_id=ALL_CLASSES),
            "toggle_tp": lambda: v.update_settings(show_tp=not s().show_tp),
            "toggle_fp": lambda: v.update_settings(show_fp=not s().show_fp),
            "toggle_fn": lambda: v.update_settings(show_fn=not s().show_fn),
            "view_errors": lambda: v.update_settings(view="errors"), "view_gt": lambda: v.update_settings(view="gt"),
            "view_pred": lambda: v.update_settings(view="pred"), "fit": w.canvas.fit, "toggle_help": self.toggle_help,
            "clear_highlight": self.escape,
            "toggle_review": w.review.toggle_mode, "edit_note": w.review.edit_note, "undo_review": w.review.undo,
            "next_unreviewed": w.review.next_unreviewed, "image_only": self.image_only, "flicker": self.flicker,
            "side_by_side": self.side_by_side, "toggle_contour": self.toggle_contour,
            "view_doubt": w.insights.toggle_doubt_view, "view_compare": w.insights.toggle_compare_view,
            "mark_label_doubt": w.insights.mark_label_doubt,
            "toggle_background": lambda: v.update_settings(show_background=not s().show_background),
        }
        if name == "class_by_number":
            return lambda k=int(key): self.number_key(k)
        if name == "set_status":
            return None  # number keys are bound once, by class_by_number, and routed by review mode
        return table.get(name)

    def number_key(self, n: int) -> None:
        if self.w.review.mode and 1 <= n <= len(self.w.review.status_names()):
            self.w.review.set_status_number(n)
        else:
            self.select_class(n)

    def escape(self) -> None:
        """Esc: closes the help if it is open, else clears the confusion-cell highlight and the region box."""
        if self.help is not None and self.help.isVisible():
            self.help.hide()
        else:
            self.w.clear_highlight()

    def image_only(self) -> None:
        """I: the photo alone; again: back to the view it replaced."""
        view = self.v.settings.view
        if view == "image":
            self.v.update_settings(view=getattr(self, "_before_image", "errors"))
        else:
            self._before_image = view
            self.v.update_settings(view="image")

    def flicker(self) -> None:
        """T: ground-truth classes ⇄ predicted classes, same zoom."""
        self.v.update_settings(view="pred" if self.v.settings.view == "gt" else "gt")

    def side_by_side(self) -> None:
        on = self.v.settings.layout != "side by side"
        changes = {"layout": "side by side" if on else "single"}
        if on and self.v.settings.view == "gt":
            changes["view"] = "pred"       # the left pane already shows the ground truth
        self.v.update_settings(**changes)

    def toggle_contour(self) -> None:
        self.v.update_settings(style="contour" if self.v.settings.style == "filled" else "filled")

    def select_class(self, n: int) -> None:
        if self.v.dataset is not None and n < self.v.classes.num_classes:
            self.v.update_settings(class_id=n)

    def walk_worst(self, delta: int) -> None:
        self.w.image_list.sort_worst_first()
        self.w.image_list.step(delta)

    def toggle_help(self) -> None:
        if self.help is None:
            self.help = HelpOverlay(self.w)
        self.help.setVisible(not self.help.isVisible())

    # ---- opening ----
    def pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open a dataset folder (gt/, logits/ or masks/, images/)",
                                                  str(start_folder(self.w.qsettings)))
        if folder:
            remember_folder(self.w.qsettings, Path(folder).parent)
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> bool:
        from ..core.options import layout_from_folder
        try:
            options = layout_from_folder(folder).options()
        except LoadError as exc:
            self.w.show_error(message("Open dataset", exc))
            return False
        return self.w.open_options(options)

    def open_dialog(self) -> None:
        dialog = OpenDatasetDialog(self.w, self.w.qsettings)
        if dialog.exec():
            self.use_scheduler(dialog.scheduler_address())
            self.w.open_options(dialog.options())

    def use_scheduler(self, address: str | None) -> None:
        """The index of the datasets opened from now on is built on this Dask scheduler (None: in this process)."""
        from ..core.distributed import Cluster
        self.v.cluster = Cluster(scheduler=address) if address else None

    def open_demo(self) -> None:
        from ..core.options import default_demo_dir
        from ..core.demo import write_demo
        self.open_folder(write_demo(default_demo_dir()))

    def remember_recent(self, options: DataOptions) -> None:
        entry = options_to_json(options)
        recent = [e for e in self.w.qsettings.value("recent", [], type=list) if e != entry]
        self.w.qsettings.setValue("recent", [entry, *recent][:MAX_RECENT])
        self.refresh_recent()

    def refresh_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self.w.qsettings.value("recent", [], type=list):
            try:
                options = options_from_json(entry)
            except (ValueError, TypeError, KeyError):
                continue
            action = self.recent_menu.addAction(str(options.gt_dir.parent))
            action.setToolTip(f"GT {options.gt_dir} · predictions {options.pred_dir}")
            action.triggered.connect(lambda checked=False, o=options: self.w.open_options(o))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    # ---- output ----
    def _save_path(self, title: str, default: str, filters: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.w, title, str(start_folder(self.w.qsettings) / default), filters)
        remember_folder(self.w.qsettings, path)
        return path or None

    def _ready(self, value, what: str) -> bool:
        if value is None:
            self.w.show_error(f"Export failed: the {what} are still being computed; try again in a moment.")
        return value is not None

    def output_guard(self):
        """What the window's writes must not touch: the open dataset's files and folders, the review session and
        its companions. Every writer below checks its file through it (the CLI's gate)."""
        from ..core.outputs import OutputGuard
        guard = OutputGuard()
        if self.v.dataset is not None:
            guard.add_dataset(self.v.dataset)
        store = getattr(self.w.review, "store", None)
        return guard.add_session(store.target if store is not None else None)

    @contextmanager
    def writing_outputs(self, label: str, path):
        """One action's outputs: checked by the window's guard, renamed together when the action succeeds."""
        from ..core.output_run import run_scope
        with run_scope(own=True) as run:
            self.output_guard().check({label: path})
            yield run

    def export_per_class(self, path: str | None = None) -> bool:
        v = self.v
        if not self._ready(v.dataset_counts, "dataset-wide scores"):
            return False
        path = path or self._save_path("Export per-class CSV", "per_class.csv", "CSV (*.csv)")
        if not path:
            return False
        s = v.settings
        with self.writing_outputs("the export file", path):
            write_per_class_csv(path, v.classes, v.dataset_counts, v.dataset_soft, v.output_threshold(), s.beta,
                                s.smooth)
        self.w.statusBar().showMessage(f"wrote {path}", 8000)
        return True

    def export_per_image(self, path: str | None = None) -> bool:
        rows = self.v.loaded_per_image()
        if not self._ready(rows, "per-image scores"):
            return False
        path = path or self._save_path("Export per-image CSV", "per_image.csv", "CSV (*.csv)")
        if not path:
            return False
        with self.writing_outputs("the export file", path):
            write_per_image_csv(path, *rows[:1], self.v.classes, rows[1], self.v.settings.beta, self.v.settings.smooth)
        self.w.statusBar().showMessage(f"wrote {path}", 8000)
        return True

    def export_worst_figures(self, folder: str | None = None, n: int | None = None) -> bool:
        """The same figures as `export --figures`, for the N worst images at the window's settings, in the background."""
        from PySide6.QtWidgets import QInputDialog
        from ..core.dataset import DatasetCounts
        from ..core.figures import write_worst_figures
        v = self.v
        rows = v.loaded_per_image()
        if not self._ready(rows, "per-image scores"):
            return False
        if n is None:
            n, ok = QInputDialog.getInt(self.w, "Export worst figures", "How many of the worst images?", 10, 1, 10000)
            if not ok:
                return False
        folder = folder or QFileDialog.getExistingDirectory(self.w, "Folder for the figures",
                                                            str(start_folder(self.w.qsettings)))
        remember_folder(self.w.qsettings, folder)
        if not folder:
            return False
        result = DatasetCounts(rows[0], rows[1], rows[1], None)
        s, dataset, threshold = v.settings, v.dataset, v.output_threshold()
        guard = self.output_guard()
        guard.check({}, folders={"the figures folder": folder})
        v.background.submit("figures", lambda: write_worst_figures(dataset, result, folder, n, threshold, s.beta, s.smooth,
                                                                   label="the figures folder", guard=guard),
                            lambda files: self.w.statusBar().showMessage(f"wrote {len(files)} figures to {folder}", 8000),
                            lambda exc: self.w.show_error(message("Export worst figures", exc)))
        return True

    def save_view(self, path: str | None = None) -> bool:
        """The canvas as shown (both panes when side by side) with its legend and a caption: image and settings."""
        name = self.v.dataset.names[self.v.current] if self.v.dataset is not None and self.v.current >= 0 else "view"
        path = path or self._save_path("Save view as PNG", f"{name}.png", "PNG (*.png)")
        if not path:
            return False
        try:
            save_image(self.w.canvas.render_with_caption(view_caption(self.v)), path, "Save view", self.output_guard())
        except LoadError as exc:
            self.w.show_error(message("Save view", exc))
            return False
        self.w.statusBar().showMessage(f"wrote {path}", 8000)
        return True


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
    s, names = viewer.settings, viewer.classes.names
    cls = "all classes" if s.class_id == ALL_CLASSES else f"class {s.class_id}: {names[s.class_id]}"
    if viewer.is_hard:
        scoring = "annotator masks"
    elif s.argmax:
        scoring = "argmax"
    else:
        scoring = "per-class thresholds" if s.class_thresholds is not None else f"threshold {s.threshold:g}"
    band = f" · {'interior beyond' if s.interior else 'band'} {s.boundary} px" if s.boundary else ""
    panes = " (left: ground truth)" if s.layout == "side by side" else ""
    style = " · contours" if s.style == "contour" else ""
    return (f"{viewer.dataset.names[viewer.current]} · {s.view} view{panes}{style} · {cls} · {scoring} · "
            f"β {s.beta:g}{band} · {viewer.dataset.options.gt_dir.parent.name}")
