"""QA review in the window: statuses by single keys, notes, undo, next unreviewed; stored at once in SQLite.

A status key can move on to the next image in the list's order (on by default); Ctrl+→ goes to the next
unreviewed image as the list shows them; the note box saves on Enter (Shift+Enter: a new line). The session
belongs to the GT + prediction source pair (core.session_paths). The controller reads the view-model and asks the
window's services (messages, navigation); what the window shows of the reviews comes from its signals."""
from __future__ import annotations

import getpass
import html
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit,
                               QPushButton, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget)

from ..core.session import ReviewStore, SessionError
from ..core.session_paths import session_path
from .folders import start_folder, remember_folder

REFRESH_MS = 5000   # another window's changes appear within this
ADVANCE_KEY = "review/advance"


class NoteEdit(QPlainTextEdit):
    """The note box: Enter saves, Shift+Enter starts a new line, Esc gives up the edit."""
    submitted = Signal(str)
    cancelled = Signal()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self.submitted.emit(self.toPlainText())
        elif event.key() == Qt.Key_Escape:
            self.cancelled.emit()
        elif event.key() in (Qt.Key_Return, Qt.Key_Enter):
            self.insertPlainText("\n")
        else:
            super().keyPressEvent(event)


class ReviewController(QObject):
    panel_wanted = Signal()                 # review mode or a note: the Review panel should be on screen
    reviews_changed = Signal(dict, dict)    # image name -> status, image name -> note
    progress_changed = Signal(str)          # "n of N reviewed"

    def __init__(self, viewer, services, parent: QObject | None = None):
        super().__init__(parent)
        self.viewer, self.services = viewer, services
        self.store: ReviewStore | None = None
        self.mode = False
        self.session_override: Path | None = None
        self.resumed = False
        self._cache: dict = {}
        self._build_panel()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    def _build_panel(self) -> None:
        """The Review panel (the window docks it): every label wraps, so no text change moves the layout."""
        self.panel = QWidget()
        outer = QVBoxLayout(self.panel)
        outer.setContentsMargins(4, 4, 4, 4)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)
        self.mode_label = QLabel("off — press R to review with single keys")
        self.file_label = QLabel("no session")
        self.progress_label = QLabel("")
        self.status_label = QLabel("—")
        for label in (self.mode_label, self.file_label, self.status_label, self.progress_label):
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        qsettings = self.services.qsettings
        self.reviewer = QLineEdit(qsettings.value("reviewer", getpass.getuser()))
        self.reviewer.editingFinished.connect(lambda: qsettings.setValue("reviewer", self.reviewer.text()))
        self.note_box = NoteEdit()
        self.note_box.setPlaceholderText("N: write a note · Enter saves · Shift+Enter new line · Esc cancels")
        self.note_box.setFixedHeight(3 * self.note_box.fontMetrics().height() + 12)
        self.note_box.submitted.connect(self._note_submitted)
        self.note_box.cancelled.connect(self._note_cancelled)
        self.advance = QCheckBox("a status key moves to the next image")
        self.advance.setChecked(qsettings.value(ADVANCE_KEY, True, type=bool))
        self.advance.toggled.connect(lambda on: qsettings.setValue(ADVANCE_KEY, on))
        buttons = QHBoxLayout()
        for text, slot, tip in (("Undo (U)", self.undo, "undo the last review change"),
                                ("Next unreviewed", self.next_unreviewed, "Ctrl+→, in the list's order")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda checked=False, s=slot: s())
            buttons.addWidget(b)
        form.addRow("review mode", self.mode_label)
        form.addRow("progress", self.progress_label)
        form.addRow("status", self.status_label)
        form.addRow("note", self.note_box)
        form.addRow(self.advance)
        form.addRow(buttons)
        form.addRow("reviewer", self.reviewer)
        form.addRow("session", self.file_label)

    # ---- the session file ----
    def open_for_dataset(self) -> None:
        self.close()
        self.resumed = False
        ds = self.viewer.dataset
        path = self.session_override or session_path(ds.options)
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
        name = Path(path).name if isinstance(path, Path) else str(path)   # a team session: its masked URL
        self.file_label.setText(f"<span style='color:gray'>{html.escape(name)}</span>")
        self.file_label.setToolTip(str(path))
        self.timer.start()
        self.refresh()
        return True

    def _offer_new_file(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Warning, "Review session", message + "\n\nStart a new session file instead?",
                          QMessageBox.Yes | QMessageBox.No, self.services.dialog_parent)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: box.buttonRole(b) == QMessageBox.YesRole and self._pick_new_file())
        box.open()
        self.services.report(message)

    def _pick_new_file(self) -> None:
        qsettings = self.services.qsettings
        path, _ = QFileDialog.getSaveFileName(self.services.dialog_parent, "New review session",
                                              str(start_folder(qsettings) / "session.sqlite"), "Session (*.sqlite)")
        if path:
            remember_folder(qsettings, path)
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
        if self.mode:
            self.panel_wanted.emit()
        self.mode_label.setStyleSheet("color: #2a8a2a; font-weight: bold;" if self.mode else "")
        self.services.status("review mode " + ("on: number keys set the status" if self.mode else "off"), 5000)

    def _current_name(self) -> str | None:
        v = self.viewer
        return v.dataset.items[v.current].name if v.dataset is not None and v.current >= 0 else None

    def set_status_number(self, n: int) -> None:
        names = self.status_names()
        if self.store is not None and 1 <= n <= len(names):
            self._set(status=names[n - 1])
            if self.advance.isChecked():
                self.services.step_image(+1)

    def edit_note(self, text: str | None = None) -> None:
        """With text: saves it as the current image's note. Without: puts the keys in the note box."""
        name = self._current_name()
        if self.store is None or name is None:
            return
        if text is None:
            self.panel_wanted.emit()
            self.note_box.setFocus()
            self.note_box.selectAll()
            return
        self._set(note=text)

    def _note_submitted(self, text: str) -> None:
        self.edit_note(text)
        self.services.focus_canvas()

    def _note_cancelled(self) -> None:
        """Esc: the edit is given up; the box shows the saved note again."""
        self.services.focus_canvas()
        self.on_image_changed()

    def _set(self, **fields) -> None:
        name = self._current_name()
        if name is None:
            return
        self.store.set_review(name, reviewer=self.reviewer.text() or getpass.getuser(), **fields)
        self.refresh()

    def mark_needs_fix(self, note: str) -> bool:
        """The current image's status becomes the session's "needs fix" one, with the note (label doubt: L)."""
        status = next((st for st in self.status_names() if "fix" in st), None)
        if self.store is None or status is None:
            self.services.error("Mark needs fix failed: no review session with a 'needs fix' status is open.")
            return False
        self._set(status=status, note=note)
        return True

    def undo(self) -> None:
        """U: reverts this reviewer's last change, shows that image and says what was undone."""
        if self.store is None:
            return
        image = self.store.undo()
        if image is None:
            self.services.status("nothing to undo", 5000)
            return
        self.refresh()
        names = self.viewer.dataset.names if self.viewer.dataset is not None else []
        if image in names:
            self.services.show_image(names.index(image))
        self.services.status(undo_text(self.store.last_change), 10000)

    def next_unreviewed(self) -> None:
        """The next image after the current one, in the list's order (wrapping), that has no status yet."""
        v = self.viewer
        if self.store is None or v.dataset is None:
            return
        order = self.services.visible_order()
        start = order.index(v.current) + 1 if v.current in order else 0
        names = v.dataset.names
        for i in order[start:] + order[:start]:
            r = self._cache.get(names[i])
            if (r is None or r.status == "unreviewed") and i != v.current:
                self.services.show_image(i)
                return
        self.services.status("every image in the list is reviewed", 5000)

    def _resume(self) -> None:
        """A session with reviews resumes: the window then opens at resume_target() of the sorted list."""
        self.resumed = self.store is not None and bool(self.store.reviews())

    def resume_target(self, order: list[int]) -> int | None:
        """The first unreviewed image in the list's order (dataset positions), None when all are reviewed."""
        if self.store is None or not order:
            return None
        names = self.viewer.dataset.names
        k = self.store.first_unreviewed([names[i] for i in order])
        return order[k] if k is not None else None

    def refresh(self) -> None:
        """Re-reads the store (another window may have written) and shows the current image's review."""
        if self.store is None:
            return
        self._cache = self.store.reviews()
        self.on_image_changed()
        self.reviews_changed.emit(self.statuses(), {k: r.note for k, r in self._cache.items()})
        self.show_progress()

    def show_progress(self) -> None:
        """"n of N reviewed", in the panel and the status bar, always."""
        ds = self.viewer.dataset
        if ds is None:
            return
        n = sum(1 for name in ds.names if (r := self._cache.get(name)) is not None and r.status != "unreviewed")
        text = f"{n} of {len(ds.names)} reviewed"
        self.progress_label.setText(text)
        self.progress_changed.emit(text)

    def on_image_changed(self) -> None:
        name = self._current_name()
        r = self._cache.get(name) if name else None
        self.status_label.setText(f"{r.status} · {r.reviewer}" if r else (self.status_names() or ["—"])[0])
        if not self.note_box.hasFocus():
            self.note_box.setPlainText(r.note if r else "")


    def export_report(self, path: str | None = None) -> bool:
        from ..core.qa_report import write_report
        if self.store is None:
            self.services.error("Export QA report failed: no review session is open.")
            return False
        if path is None:
            qsettings = self.services.qsettings
            path, _ = QFileDialog.getSaveFileName(self.services.dialog_parent, "Export QA report",
                                                  str(start_folder(qsettings) / "qa_report.csv"), "CSV (*.csv)")
            remember_folder(qsettings, path)
        if not path:
            return False
        v = self.viewer
        names, per_image = v.loaded_per_image() or (None, None)
        with self.services.writing_outputs("the QA report", path):   # the output gate: not over the data or session
            write_report(path, self.store, names, per_image, v.scoring.beta, v.scoring.smooth)
        self.services.status(f"wrote {path}")
        return True


def undo_text(change) -> str:
    """What an undo put back, from the change that reverted it (its prev_* fields hold what was undone)."""
    parts = []
    if change.status is not None:
        parts.append(f"status {change.prev_status or '—'} → {change.status}")
    if change.note is not None:
        parts.append("note " + (f"back to “{change.note[:40]}”" if change.note else "removed"))
    return f"undone on {change.image}: " + ", ".join(parts)
