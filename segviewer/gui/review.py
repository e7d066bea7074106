"""QA review in the window: statuses by single keys, notes, undo, next unreviewed; stored at once in SQLite."""
from __future__ import annotations

import getpass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFormLayout, QInputDialog, QLabel, QLineEdit, QMessageBox,
                               QPushButton, QHBoxLayout, QWidget)

from ..core.session import ReviewStore, SessionError, default_session_path

REFRESH_MS = 5000   # another window's changes appear within this


class ReviewController:
    def __init__(self, window):
        self.w = window
        self.store: ReviewStore | None = None
        self.mode = False
        self.session_override: Path | None = None
        self._cache: dict = {}
        self._build_dock()
        self.timer = QTimer(window)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    def _build_dock(self) -> None:
        panel = QWidget()
        form = QFormLayout(panel)
        self.mode_label = QLabel("off — press R to review with single keys")
        self.file_label = QLabel("no session")
        self.file_label.setWordWrap(True)
        self.status_label = QLabel("—")
        self.note_label = QLabel("")
        self.note_label.setWordWrap(True)
        self.reviewer = QLineEdit(self.w.qsettings.value("reviewer", getpass.getuser()))
        self.reviewer.editingFinished.connect(lambda: self.w.qsettings.setValue("reviewer", self.reviewer.text()))
        buttons = QHBoxLayout()
        for text, slot in (("Note (N)", self.edit_note), ("Undo (U)", self.undo),
                           ("Next unreviewed", self.next_unreviewed)):
            b = QPushButton(text)
            b.clicked.connect(lambda checked=False, s=slot: s())
            buttons.addWidget(b)
        form.addRow("review mode", self.mode_label)
        form.addRow("session", self.file_label)
        form.addRow("reviewer", self.reviewer)
        form.addRow("status", self.status_label)
        form.addRow("note", self.note_label)
        form.addRow(buttons)
        self.dock = QDockWidget("Review", self.w)
        self.dock.setObjectName("Review")
        self.dock.setWidget(panel)
        self.dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.w.addDockWidget(Qt.RightDockWidgetArea, self.dock)

    # ---- the session file ----
    def open_for_dataset(self) -> None:
        self.close()
        ds = self.w.viewer.dataset
        path = self.session_override or default_session_path(ds.options.gt_dir)
        if self.use_session(path):
            self._resume()

    def use_session(self, path: Path) -> bool:
        self.close()
        try:
            self.store = ReviewStore(path)
        except SessionError as exc:
            self.store = None
            self.file_label.setText("no session (the file could not be used)")
            self._offer_new_file(str(exc))
            return False
        self.file_label.setText(str(path))
        self.file_label.setToolTip(str(path))
        self.timer.start()
        self.refresh()
        return True

    def _offer_new_file(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Warning, "Review session", message + "\n\nStart a new session file instead?",
                          QMessageBox.Yes | QMessageBox.No, self.w)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: box.buttonRole(b) == QMessageBox.YesRole and self._pick_new_file())
        box.open()
        self.w.last_error = message
        self.w.statusBar().showMessage(message, 15000)

    def _pick_new_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.w, "New review session", "session.sqlite", "Session (*.sqlite)")
        if path:
            self.session_override = Path(path)
            self.use_session(Path(path))

    def close(self) -> None:
        self.timer.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    def status_names(self) -> list[str]:
        return self.store.statuses if self.store else []

    def statuses(self) -> dict[str, str]:
        return {k: r.status for k, r in self._cache.items()}

    # ---- reviewing ----
    def toggle_mode(self) -> None:
        self.mode = not self.mode
        keys = ", ".join(f"{i + 1} {s}" for i, s in enumerate(self.status_names()))
        self.mode_label.setText(f"ON — {keys}; N note, U undo" if self.mode else "off — press R to review")
        self.mode_label.setStyleSheet("color: #2a8a2a; font-weight: bold;" if self.mode else "")
        self.w.statusBar().showMessage("review mode " + ("on: number keys set the status" if self.mode else "off"), 5000)

    def _current_name(self) -> str | None:
        v = self.w.viewer
        return v.dataset.items[v.current].name if v.dataset is not None and v.current >= 0 else None

    def set_status_number(self, n: int) -> None:
        names = self.status_names()
        if self.store is not None and 1 <= n <= len(names):
            self._set(status=names[n - 1])

    def edit_note(self, text: str | None = None) -> None:
        name = self._current_name()
        if self.store is None or name is None:
            return
        if text is None:
            old = self._cache.get(name)
            text, ok = QInputDialog.getMultiLineText(self.w, "Note", f"Note for {name}:", old.note if old else "")
            if not ok:
                return
        self._set(note=text)

    def _set(self, **fields) -> None:
        name = self._current_name()
        if name is None:
            return
        self.store.set_review(name, reviewer=self.reviewer.text() or getpass.getuser(), **fields)
        self.refresh()

    def undo(self) -> None:
        if self.store is not None and self.store.undo() is not None:
            self.refresh()

    def next_unreviewed(self) -> None:
        v = self.w.viewer
        if self.store is None or v.dataset is None:
            return
        i = self.store.first_unreviewed(v.dataset.names, v.current + 1)
        if i is None:
            self.w.statusBar().showMessage("every image is reviewed", 5000)
        else:
            v.select_image(i)

    def _resume(self) -> None:
        v = self.w.viewer
        if self.store is not None and self.store.reviews():
            i = self.store.first_unreviewed(v.dataset.names)
            if i is not None and i != v.current:
                v.select_image(i)

    def refresh(self) -> None:
        """Re-reads the store (another window may have written) and shows the current image's review."""
        if self.store is None:
            return
        self._cache = self.store.reviews()
        self.on_image_changed()
        self.w.image_list.refresh(statuses=self.statuses())

    def on_image_changed(self) -> None:
        name = self._current_name()
        r = self._cache.get(name) if name else None
        self.status_label.setText(f"{r.status} · {r.reviewer}" if r else (self.status_names() or ["—"])[0])
        self.note_label.setText(r.note if r else "")

    def export_report(self, path: str | None = None) -> bool:
        from ..core.qa_report import write_report
        if self.store is None:
            self.w.show_error("Export QA report failed: no review session is open.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.w, "Export QA report", "qa_report.csv", "CSV (*.csv)")
        if not path:
            return False
        v = self.w.viewer
        names, per_image = v.loaded_per_image() or (None, None)
        write_report(path, self.store, names, per_image, v.settings.beta, v.settings.smooth)
        self.w.statusBar().showMessage(f"wrote {path}", 8000)
        return True
