"""QA review in the window: statuses by single keys, notes, undo, next unreviewed; a SQLite file, or a team session
on PostgreSQL that several reviewers share at once.

A status key moves on (on by default) to the next unreviewed image in the list's order that no other reviewer has
open — the next such row once every image in the list is reviewed; Ctrl+→ goes to the next unreviewed one. The note
box saves on Enter (Shift+Enter: a new line). The session belongs to the GT + prediction source pair
(core.session_paths) unless one is given (--session, File ▸ Open dataset). Every call to the session runs on the
session's own thread (session_worker): the controller sends calls and draws the SessionState that comes back, so a
team server that is gone never stops the window. The image shown is leased (no one else is sent to it)."""
from __future__ import annotations

import getpass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..core.session_paths import session_path
from ..core.sessions import PgTarget, open_session, session_target
from .folders import start_folder, remember_folder
from .guard import guarded
from .review_panel import NoteEdit, ReviewPanel
from .session_worker import SessionWorker
from .team import READ_ONLY_STYLE
from .window_session import SessionReviews, SessionState, undone_text


class ReviewController(QObject):
    panel_wanted = Signal()                 # review mode or a note: the Review panel should be on screen
    reviews_changed = Signal(object, object)   # image name -> status, image name -> note (read-only mappings)
    progress_changed = Signal(str)          # "n of N reviewed" (with the reviewer's own count in a team)
    status_names_changed = Signal(list)     # the open session's statuses
    held_changed = Signal(dict)             # image name -> reviewer, for images open in other windows
    connection_changed = Signal(str)        # "offline — n changes waiting"; "" when there is nothing to say

    def __init__(self, viewer, services, parent: QObject | None = None):
        super().__init__(parent)
        self.viewer, self.services = viewer, services
        self.worker: SessionWorker | None = None
        self.target: Path | PgTarget | None = None   # the open session (str() masks a password)
        self.mode = False
        self.session_override: Path | PgTarget | None = None
        self._failed: Path | PgTarget | None = None
        self._shown: str | None = None      # the image the session was last told this window shows
        self._version: tuple | None = None
        self._saving = 0
        self._resuming: Callable[[int | None], None] | None = None   # the latest resume's, until answered
        self._build_panel()

    def _build_panel(self) -> None:
        qsettings = self.services.qsettings
        self.panel = panel = ReviewPanel(qsettings, NoteEdit())
        self.mode_label, self.file_label, self.progress_label = panel.mode_label, panel.file_label, panel.progress_label
        self.status_label, self.reviewer, self.note_box = panel.status_label, panel.reviewer, panel.note_box
        self.advance, self.retry, self.team = panel.advance, panel.retry, panel.team
        self.reviewer.editingFinished.connect(self._reviewer_changed)
        self.note_box.submitted.connect(self._note_submitted)
        self.note_box.cancelled.connect(self._note_cancelled)
        panel.undo_button.clicked.connect(lambda checked=False: self.undo())
        panel.next_button.clicked.connect(lambda checked=False: self.next_unreviewed())
        self.retry.clicked.connect(lambda: self._failed is not None and self._open(self._failed))

    # ---- the session ----
    @property
    def state(self) -> SessionState | None:
        """The session as its thread last read it (None: no session, or not open yet)."""
        return self.worker.state if self.worker is not None else None

    def idle(self) -> bool:
        """Every call sent to the session has been answered and drawn."""
        return self.worker is None or self.worker.idle()

    def open_for_dataset(self) -> None:
        self.close()
        ds = self.viewer.dataset
        self._open(self.session_override or session_path(ds.options))

    def use_session(self, target) -> bool:
        """Opens a session (a file path, a PostgreSQL URL or a target) for the open dataset, on the session thread;
        False when the value names no session (said in one message)."""
        try:
            target = session_target(target)
        except ValueError as exc:
            self.services.error(f"Review session failed: {exc}")
            return False
        self._open(target)
        return True

    def _open(self, target) -> None:
        self.close()
        self.target, self._failed = target, None
        self.retry.hide()
        names = list(self.viewer.dataset.names) if self.viewer.dataset is not None else []
        reviewer = self.reviewer.text().strip() or None
        mask = target.mask if isinstance(target, PgTarget) else str
        self.worker = worker = SessionWorker(lambda: open_session(target, reviewer=reviewer), names, mask)
        worker.state_changed.connect(lambda state: worker is self.worker and self._show_state(state))
        worker.others_changed.connect(lambda events: worker is self.worker and self._others_changed(events))
        worker.closed.connect(lambda why: worker is self.worker and self._session_closed(why))
        self._set_file_label(f"opening {target}…", "color: gray")
        self._shown = None
        self.on_image_changed()

    def resume_in(self, order: list[int], found_at: Callable[[int | None], None]) -> bool:
        """Where a reopened review goes on, in the list's order (dataset positions): the session's first unreviewed
        image that no one else has open (leased here), given to found_at; None when the session has no reviews and
        no one else in it, or cannot be used. False (found_at not called): there is no session to ask."""
        if self.worker is None or not order:
            return False
        names = [self.viewer.dataset.names[i] for i in order]
        self._resuming = found_at
        self.worker.call(lambda s: s.resume(names), lambda k: self._resume_answer(found_at, order, k),
                         lambda _why: self._resume_answer(found_at, order, None))
        return True

    def _resume_answer(self, found_at: Callable[[int | None], None], order: list[int], k: int | None) -> None:
        """Each answer to its own question (k: a position in that order); one a later question overtook is dropped."""
        if found_at is self._resuming:
            self._resuming = None
            found_at(order[k] if k is not None else None)

    def _set_file_label(self, text: str, style: str = "") -> None:
        self.panel.show_session(text, style, str(self.target) if self.target is not None else "")

    def _session_closed(self, why: str) -> None:
        """The session could not be opened, or stopped being usable: the window goes on without it."""
        target = self.target
        self.close()
        self._failed = target
        if self._resuming is not None:         # a resume still waiting gets no answer from it: the list's top
            self._resume_answer(self._resuming, [], None)
        if isinstance(target, PgTarget):
            self._set_file_label(f"not connected: {why}", READ_ONLY_STYLE)
            self.retry.show()
            self.services.error(f"Review session failed: {why}")
        else:
            self._set_file_label("no session (the file could not be used)", READ_ONLY_STYLE)
            self._offer_new_file(why)

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

    def close(self, wait_s: float = 0.0) -> None:
        """Closes the session on its thread (the image's lease is given up there); wait_s: how long to wait for
        that while the server answers (not at all while it is gone: a lease then runs out by itself)."""
        if self.worker is not None:
            online = self.state is not None and self.state.connection.online
            self.worker.stop(wait_s if online else 0.0)
            self.worker = None
            self.target = None
        self._version, self._saving, self._shown = None, 0, None
        self.team.clear_notice()
        self.team.update(None, None)
        self.progress_label.setText("")
        self.progress_changed.emit("")
        self.held_changed.emit({})
        self.connection_changed.emit("")

    def status_names(self) -> list[str]:
        return list(self.state.statuses) if self.state is not None else []

    def statuses(self) -> dict[str, str]:
        return dict(self.state.status_of) if self.state is not None else {}

    def review_of(self, image: str):
        """The image's current review as the window shows it (None: none yet)."""
        return self.state.reviews.get(image) if self.state is not None else None

    def _reviewer_changed(self) -> None:
        name = self.reviewer.text().strip()
        self.services.qsettings.setValue("reviewer", name)
        if name and self.worker is not None:
            self.worker.call(lambda s: s.set_reviewer(name), None,
                             lambda why: self.services.error(f"Reviewer name failed: {why}"))

    # ---- reviewing ----
    def toggle_mode(self) -> None:
        self.mode = not self.mode
        self.panel.show_mode(self.mode, ", ".join(f"{i + 1} {s}" for i, s in enumerate(self.status_names())))
        if self.mode:
            self.panel_wanted.emit()
        self.services.status("review mode " + ("on: number keys set the status" if self.mode else "off"), 5000)

    def _current_name(self) -> str | None:
        v = self.viewer
        return v.dataset.items[v.current].name if v.dataset is not None and v.current >= 0 else None

    def _refused(self) -> bool:
        """No session, or one this window may not change: says why, and nothing is sent."""
        if self.worker is None:
            self.services.status("no review session is open: nothing was changed", 8000)
            return True
        state = self.state
        if state is not None and state.read_only:
            self.services.status(f"read-only session — {state.read_only_reason}; nothing was changed", 8000)
            return True
        return False

    def set_status_number(self, n: int) -> None:
        names = self.status_names()
        if 1 <= n <= len(names) and self._set(status=names[n - 1]) and self.advance.isChecked():
            self._walk(fallback_to_next=True)

    def edit_note(self, text: str | None = None) -> None:
        """With text: saves it as the current image's note. Without: puts the keys in the note box."""
        if self.worker is None or self._current_name() is None:
            return
        if text is None:
            self.panel_wanted.emit()
            self.note_box.setFocus()
            where = self.viewer.slices.where()       # a 3-D case: the note names the slice shown
            if where and where not in self.note_box.toPlainText():
                before = self.note_box.toPlainText()
                self.note_box.setPlainText(f"{before}\n{where}: " if before else f"{where}: ")
                self.note_box.moveCursor(QTextCursor.End)
            else:
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

    def _set(self, status: str | None = None, note: str | None = None) -> bool:
        """Sends the change for the image shown now (it stays that image's, wherever the window moves meanwhile);
        the window shows it once the session thread has it saved."""
        name = self._current_name()
        if name is None or self._refused():
            return False
        reviewer = self.reviewer.text().strip() or getpass.getuser()
        self._saving += 1
        self._show_current()
        said = f"{name}: {status}" if status is not None else f"{name}: note {'saved' if note else 'removed'}"
        self.worker.call(lambda s: s.set_review(name, status, note, reviewer), lambda _r: self._saved(said),
                         self._failed_change)
        return True

    def _saved(self, said: str | None) -> None:
        """The change is in the session: the status bar says which (the view may already show the next image)."""
        self._saving = max(0, self._saving - 1)
        self._show_current()
        if said is not None:
            self.services.status(f"saved — {said}", 4000)

    def _failed_change(self, why: str) -> None:
        self._saving = max(0, self._saving - 1)
        self._show_current()
        self.services.error(f"Review change failed: {why}")

    def mark_needs_fix(self, note: str) -> bool:
        """The current image's status becomes the session's "needs fix" one, with the note (label doubt: L)."""
        status = next((st for st in self.status_names() if "fix" in st), None)
        if self.worker is None or status is None:
            self.services.error("Mark needs fix failed: no review session with a 'needs fix' status is open.")
            return False
        return self._set(status=status, note=note)

    def undo(self) -> None:
        if self._refused():
            return
        self._saving += 1
        self.worker.call(lambda session: session.undo_change(), self._undone, self._failed_change)

    def _undone(self, undone: tuple) -> None:
        """U's answer: the window goes to the image the change was on and says what it put back."""
        image, change = undone
        self._saved(None)
        if image is None:
            self.services.status("nothing to undo", 5000)
            return
        names = self.viewer.dataset.names if self.viewer.dataset is not None else []
        if image in names and names.index(image) != self.viewer.current:
            self.services.show_image(names.index(image))
        self.services.status(undone_text(change), 10000)

    def next_unreviewed(self) -> None:
        """The next image after the current one, in the list's order (wrapping), that has no status yet and that
        no other reviewer has open."""
        if self.worker is not None and self.viewer.dataset is not None:
            self._walk(fallback_to_next=False)

    def _walk(self, fallback_to_next: bool) -> None:
        v = self.viewer
        order = self.services.visible_order()
        if not order:
            return
        start = order.index(v.current) + 1 if v.current in order else 0
        names = [v.dataset.names[i] for i in order]
        current = v.current
        self.worker.call(lambda s: s.next_unreviewed(names, start, fallback_to_next),
                         lambda found: self._walked(order, found, current))

    def _walked(self, order: list[int], found: int | None, current: int) -> None:
        if found is None or order[found] == current:
            self.services.status("every other image in the list is reviewed or open elsewhere", 5000)
        elif self.viewer.current == current:      # the user has not gone elsewhere meanwhile
            self.services.show_image(order[found])

    # ---- what the window shows ----
    def on_image_changed(self) -> None:
        """The window shows another image (or the same one again): its lease is taken, its review drawn."""
        name = self._current_name()
        if self.worker is not None and name != self._shown:
            self._shown = name
            self.team.clear_notice()
            self.worker.call(lambda s: s.show(name), latest="show")
        self._show_current()

    def _show_state(self, state: SessionState) -> None:
        if self._version is None:
            self.status_names_changed.emit(list(state.statuses))
            self._set_file_label(state.where + (f" — read-only: {state.read_only_reason}" if state.read_only else ""),
                                 READ_ONLY_STYLE if state.read_only else "color: gray")
        if state.version != self._version:
            self._version = state.version
            self.reviews_changed.emit(state.status_of, state.note_of)
        self.progress_label.setText(state.progress_text())
        self.progress_changed.emit(state.progress_text())
        self.held_changed.emit(dict(state.held))
        self.connection_changed.emit(state.connection_text())
        self._show_current()

    def _show_current(self) -> None:
        name, state = self._current_name(), self.state
        self.team.update(state, name)
        if state is None:
            self.status_label.setText("—")
            return
        r = state.reviews.get(name) if name else None
        text = f"{r.status} · {r.reviewer}" if r else state.statuses[0]
        self.status_label.setText(text + (" · saving…" if self._saving else ""))
        if not self.note_box.hasFocus():
            self.note_box.setPlainText(r.note if r else "")

    def _others_changed(self, events) -> None:
        """Another reviewer (or window) changed images: the one shown here gets a notice."""
        name = self._current_name()
        mine = [e for e in events if e.change.image == name]
        if mine:
            self.services.status(self.team.changed_elsewhere(mine[-1]), 10000)

    def export_report(self, path: str | None = None) -> bool:
        if self.worker is None:
            self.services.error("Export QA report failed: no review session is open.")
            return False
        if path is None:
            qsettings = self.services.qsettings
            path, _ = QFileDialog.getSaveFileName(self.services.dialog_parent, "Export QA report",
                                                  str(start_folder(qsettings) / "qa_report.csv"), "CSV (*.csv)")
            remember_folder(qsettings, path)
        if not path:
            return False
        with self.services.writing_outputs("the QA report", path):   # refused now, before the session is read
            pass
        v = self.viewer
        names, per_image = v.loaded_per_image() or (None, None)
        beta, smooth = v.scoring.beta, v.scoring.smooth
        self.worker.call(lambda s: SessionReviews.of(s.store),
                         lambda reviews: self._write_report(path, reviews, names, per_image, beta, smooth),
                         lambda why: self.services.error(f"Export QA report failed: {why}"))
        return True

    def _write_report(self, path, reviews, names, per_image, beta, smooth) -> None:
        from ..core.qa_report import write_report

        def write():
            with self.services.writing_outputs("the QA report", path):   # the output gate: not over the data or session
                write_report(path, reviews, names, per_image, beta, smooth)
            self.services.status(f"wrote {path}")
        guarded(self.services.error, "Export QA report", write)()
