"""The Review panel's team part: the connection, who else has the shown image open or just changed it, the team's
progress per reviewer and their agreement, and the shown image's history. It draws a SessionState; it never reads
a session itself."""
from __future__ import annotations

import datetime as dt
import html
import math
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy

from ..core.sessions import ChangeEvent
from .window_session import SessionState

HISTORY_LINES = 8
NOTICE_STYLE = "background: #fff3c4; color: #5a4500; padding: 3px; border-radius: 3px;"
OFFLINE_STYLE = "color: #b35900; font-weight: bold;"
ONLINE_STYLE = "color: #2a8a2a;"
READ_ONLY_STYLE = "color: #b03030;"


def ago(seconds: float) -> str:
    """'just now', '5 s ago', '3 min ago', '2 h ago' (another reviewer's clock may run ahead: never negative)."""
    s = max(0, int(seconds))
    if s < 2:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    return f"{s // 3600} h ago"


def change_text(event: ChangeEvent, now: float) -> str:
    """'changed by ann 5 s ago: needs fix' (with the note when the change set one)."""
    change, review = event.change, event.review
    what = review.status if change.status is not None or change.note is None else f"note “{review.note}”"
    if change.status is not None and change.note:
        what += f" — “{change.note}”"
    return f"changed by {change.reviewer} {ago(now - change.time)}: {what}"


def reviewers_text(state: SessionState) -> str:
    """'ann 12 · bob 9 (you)': images each reviewer has set a status on."""
    parts = []
    for c in sorted(state.reviewers, key=lambda c: (-c.images, c.reviewer)):
        parts.append(f"{c.reviewer} {c.images}" + (" (you)" if c.reviewer == state.reviewer else ""))
    return " · ".join(parts) or "no reviews yet"


def agreement_text(state: SessionState) -> str:
    """'ann–bob κ 0.71, 10 of 12 agree' for every pair of reviewers with images in common."""
    lines = []
    for p in state.agreements:
        kappa = "κ —" if math.isnan(p.kappa) else f"κ {p.kappa:.2f}"
        lines.append(f"{p.reviewer_a}–{p.reviewer_b} {kappa}, {p.agreed} of {p.images} agree")
    return "\n".join(lines)


def held_text(state: SessionState) -> str:
    """'ann: scene_003 · bob: scene_010': what the other reviewers have open now."""
    by_reviewer: dict[str, list[str]] = {}
    for image, who in sorted(state.held.items()):
        by_reviewer.setdefault(who, []).append(image)
    return " · ".join(f"{who}: {', '.join(images[:3])}" + ("…" if len(images) > 3 else "")
                      for who, images in sorted(by_reviewer.items())) or "no one else"


def history_html(state: SessionState) -> str:
    """The shown image's changes, newest first: time, who, what (both of two different statuses stay)."""
    rows = []
    for c in reversed(state.image_history[-HISTORY_LINES:]):
        when = dt.datetime.fromtimestamp(c.time).strftime("%H:%M:%S")
        what = []
        if c.status is not None:
            what.append(f"<b>{html.escape(c.status)}</b>")
        if c.note is not None:
            what.append(f"note “{html.escape(c.note[:80])}”" if c.note else "note cleared")
        waiting = " <i>(waiting)</i>" if c.seq == 0 else ""
        rows.append(f"<span style='color:gray'>{when}</span> {html.escape(c.reviewer)}: {', '.join(what)}{waiting}")
    return "<br>".join(rows) or "<span style='color:gray'>no changes yet</span>"


class ConnectionLabel(QLabel):
    """The status bar's "offline — n changes waiting" of a team session: there only while there is something to say."""

    def __init__(self):
        super().__init__("")
        self.setStyleSheet(OFFLINE_STYLE)
        self.hide()

    def show_text(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))


def wrapping_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
    return label


class TeamSection:
    """The Review panel's team rows (the controller places them in its form): the connection, the notice, the
    team's counts and agreement, who has what open — shown for a team session — and the image's history."""

    def __init__(self, form: QFormLayout):
        self.form = form
        self.connection = wrapping_label()
        self.notice = wrapping_label()
        self.notice.setStyleSheet(NOTICE_STYLE)
        self.reviewers = wrapping_label()
        self.agreement = wrapping_label()
        self.held = wrapping_label()
        self.history = wrapping_label()
        self.history.setToolTip("this image's changes, newest first: every reviewer's status stays in the history")
        self._event: ChangeEvent | None = None
        self._holder = ""
        self._ticker = QTimer()
        self._ticker.setInterval(1000)        # "5 s ago" keeps its age
        self._ticker.timeout.connect(self._show_notice)

    def _show_rows(self, team: bool) -> None:
        for widget in (self.connection, self.reviewers, self.agreement, self.held):
            self.form.setRowVisible(widget, team)

    def update(self, state: SessionState | None, image: str | None) -> None:
        """Draws the state for the image the window shows."""
        if state is None:
            self._show_rows(False)
            self.history.setText("")
            self._holder = ""
            self._show_notice()
            return
        self._show_rows(state.team)
        waiting = state.connection_text()
        self.connection.setText(waiting or ("online" if state.connection.online else state.connection.message))
        self.connection.setStyleSheet(OFFLINE_STYLE if waiting else ONLINE_STYLE)
        self.reviewers.setText(reviewers_text(state))
        self.agreement.setText(agreement_text(state) or "no image has two reviewers' statuses yet")
        self.held.setText(held_text(state))
        shown = state.image == image
        self.history.setText(history_html(state) if shown else "…")
        holder = state.holder if shown else None
        self._holder = f"{holder} has this image open too: a change here may repeat theirs" if holder else ""
        self._show_notice()

    # ---- another reviewer changed the shown image ----
    def changed_elsewhere(self, event: ChangeEvent) -> str:
        """Says so until the window shows another image; returns the text."""
        self._event = event
        self._ticker.start()
        return self._show_notice()

    def clear_notice(self) -> None:
        self._event = None
        self._ticker.stop()
        self._show_notice()

    def _show_notice(self) -> str:
        changed = change_text(self._event, time.time()) if self._event is not None else ""
        text = "\n".join(t for t in (changed, self._holder) if t)
        self.notice.setText(text)
        self.form.setRowVisible(self.notice, bool(text))
        return changed
