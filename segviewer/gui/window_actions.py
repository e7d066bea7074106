"""The main window's menus, actions and keys, bound from the one table in shortcuts.py; recent datasets; opening."""
from __future__ import annotations

import json
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Callable

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog

from ..core.dataset import DataOptions
from ..core.errors import LoadError
from ..core.overlay import ALL_CLASSES
from .folders import remember_folder, start_folder
from .guard import guarded, message
from .keys import KeyRouter
from .open_dialog import OpenDatasetDialog
from .shortcuts import ACTIONS, DIGITS, HelpOverlay, is_single, menu_text

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
        self.bound: dict[str, object] = {}     # key -> its QShortcut or QAction (single keys: the KeyRouter's)
        self.entries: dict[str, QAction] = {}  # action name -> its menu entry
        handlers = self.handlers()
        self._menus(handlers)
        self._keys(handlers)
        self.v.dataset_opened.connect(self._volume_entries)
        self._volume_entries()

    def _volume_entries(self) -> None:
        """The View menu's plane and intensity-window entries are greyed out where there are no 3-D cases."""
        volumes = bool(self.v.dataset is not None and self.v.dataset.volumes)
        for name in self.volume_handlers():
            if name in self.entries:
                self.entries[name].setEnabled(volumes)

    def handlers(self) -> dict:
        """What every name in the table does."""
        w, v = self.w, self.v
        s = lambda: v.settings  # noqa: E731
        return {
            "pick_folder": self.pick_folder, "open_dialog": self.open_dialog, "open_demo": self.open_demo,
            "pick_compare": w.insights.pick_compare, "export_per_class": w.exports.export_per_class,
            "export_per_image": w.exports.export_per_image, "export_report": w.review.export_report,
            "export_worst_figures": w.exports.export_worst_figures, "save_view": w.exports.save_view, "quit": w.close,
            "fit": w.canvas.fit, "image_only": self.image_only, "toggle_contour": self.toggle_contour,
            "side_by_side": self.side_by_side, "flicker": self.flicker,
            "view_doubt": lambda: self.looked(w.insights.toggle_doubt_view),
            "view_compare": lambda: self.looked(w.insights.toggle_compare_view), "toggle_help": self.toggle_help,
            "toggle_palette": lambda: v.update_settings(
                palette="classic" if s().palette != "classic" else "colour-blind safe"),
            "toggle_panels": w.layout_.toggle_panels,
            "next_image": lambda: w.image_list.step(+1), "previous_image": lambda: w.image_list.step(-1),
            "next_worst": lambda: self.walk_worst(+1), "previous_worst": lambda: self.walk_worst(-1),
            "all_classes": lambda: v.update_settings(class_id=ALL_CLASSES),
            "class_by_number": self.number_key, "select_class": self.select_class,
            "toggle_tp": lambda: v.update_settings(show_tp=not s().show_tp),
            "toggle_fp": lambda: v.update_settings(show_fp=not s().show_fp),
            "toggle_fn": lambda: v.update_settings(show_fn=not s().show_fn),
            "view_errors": lambda: v.update_settings(view="errors"), "view_gt": lambda: v.update_settings(view="gt"),
            "view_pred": lambda: v.update_settings(view="pred"),
            "toggle_background": lambda: v.update_settings(show_background=not s().show_background),
            "clear_highlight": self.escape, "toggle_review": w.review.toggle_mode, "edit_note": w.review.edit_note,
            "undo_review": w.review.undo, "mark_label_doubt": w.insights.mark_label_doubt,
            "next_unreviewed": w.review.next_unreviewed,
            **self.volume_handlers(),
        }

    def looked(self, toggle: Callable[[], None]) -> None:
        """A view the user asked for ranks the list without moving the image on screen."""
        self.w.first_image.user_looked()
        toggle()

    def volume_handlers(self) -> dict:
        """A 3-D case's slices and intensity window (nothing happens on a 2-D image)."""
        nav, level = self.v.slices, self.w.volume_view.level
        return {"axial": lambda: nav.set_axis(0), "coronal": lambda: nav.set_axis(1),
                "sagittal": lambda: nav.set_axis(2), "cycle_plane": nav.cycle_axis, "cycle_window": level.cycle,
                "next_slice": lambda: nav.step(+1), "previous_slice": lambda: nav.step(-1),
                "next_worst_slice": lambda: nav.next_worst(+1), "previous_worst_slice": lambda: nav.next_worst(-1)}

    # ---- menus: the table's entries in its order ----
    def _menus(self, handlers: dict) -> None:
        menus = {}
        for action in ACTIONS:
            if action.menu is None:
                continue
            if action.menu not in menus:
                menus[action.menu] = self.w.menuBar().addMenu(f"&{action.menu}")
            menu = menus[action.menu]
            if action.separator:
                menu.addSeparator()
            if action.name == "recent":
                self.recent_menu = menu.addMenu(action.text)
            elif action.name == "panels":
                self.w.layout_.fill_menu(menu, self._add)
            else:
                self.entries[action.name] = self._add(menu, menu_text(action), handlers[action.name],
                                                      [k for k in action.keys if not is_single(k)])
        self.refresh_recent()

    def _add(self, menu, text, slot, shortcuts=()) -> QAction:
        action = QAction(text, self.w)
        if shortcuts:
            action.setShortcuts([QKeySequence(k) for k in shortcuts])
            self.bound.update({k: action for k in shortcuts})
        run = guarded(self.w.show_error, text.rstrip("…").split(" (")[0], slot)
        action.triggered.connect(lambda checked=False: run())
        menu.addAction(action)
        return action

    # ---- keys that are no menu entry's ----
    def _keys(self, handlers: dict) -> None:
        """Single keys go through the KeyRouter (they work wherever the focus is); keys with Ctrl/Alt are QShortcuts."""
        single = {}
        for action in ACTIONS:
            for key in action.keys:
                if action.menu is not None and not is_single(key):
                    continue            # its menu entry's shortcut
                handler = handlers[action.name]
                if key in DIGITS or key.startswith("Alt+"):
                    handler = partial(handler, int(key[-1]))
                run = guarded(self.w.show_error, f"Key {key}", handler)
                if is_single(key):
                    single[key] = run
                else:
                    shortcut = QShortcut(QKeySequence(key), self.w)
                    shortcut.activated.connect(run)
                    self.bound[key] = shortcut
        self.router = KeyRouter(self.w, single, self.w.canvas.view_widget.setFocus, (HelpOverlay,))
        self.bound.update({key: self.router for key in single})

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
        """] and [ walk the list worst first: a list sorted by another column is sorted back, and says so."""
        model = self.w.image_list.model
        before = (model.sort_column, model.sort_order)
        self.w.image_list.sort_worst_first()
        if (model.sort_column, model.sort_order) != before and before[0] >= 0:
            self.w.services.status("the list is sorted worst first (mean Fβ) again for ] and [")
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
        dialog = OpenDatasetDialog(self.w, self.w.qsettings, self.w.review.session_override)
        if dialog.exec():
            self.use_scheduler(dialog.scheduler_address())
            self.w.review.session_override = dialog.session_target()
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
