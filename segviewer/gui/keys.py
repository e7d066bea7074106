"""Single-key shortcuts that act wherever the focus is, except while typing in a text or number field.

Qt gives a key to the focused widget first: a combo box's search, an open filter popup, a slider or a spin box
would eat the window's keys. One application event filter sees every key press of the window (and its popups)
before any widget does and decides:
- in a text field (line edit, note box, an editable combo's search), every printable and editing key is typing;
- in a number field (spin box), digits, sign, decimal point and editing keys are typing, letters are shortcuts;
- anywhere else a shortcut key runs its action (closing an open combo popup first).
Enter and Esc in a field finish with it and give the focus back to the canvas.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDialog, QLineEdit, QPlainTextEdit,
                               QTextEdit, QWidget)

KEY_NAMES = {Qt.Key_Right: "Right", Qt.Key_Left: "Left", Qt.Key_Escape: "Esc", Qt.Key_PageUp: "PgUp",
             Qt.Key_PageDown: "PgDown"}
EDITING_KEYS = {Qt.Key_Left, Qt.Key_Right, Qt.Key_Home, Qt.Key_End, Qt.Key_Backspace, Qt.Key_Delete, Qt.Key_Up,
                Qt.Key_Down, Qt.Key_PageUp, Qt.Key_PageDown}
NUMBER_CHARS = set("0123456789.,-+")
FINISH_KEYS = {Qt.Key_Return, Qt.Key_Enter, Qt.Key_Escape}


def key_name(event) -> str | None:
    """The SHORTCUTS spelling of a key press without Ctrl/Alt/Meta ("R", "3", "?", "Right", "Esc"), else None."""
    if event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
        return None
    if event.key() in KEY_NAMES:
        return KEY_NAMES[event.key()]
    text = event.text()
    return text.upper() if len(text) == 1 and text.isprintable() and not text.isspace() else None


def field_kind(widget: QWidget | None) -> str | None:
    """"number" for a spin box (or its line edit), "text" for an editable text widget, else None."""
    for w in (widget, widget.parentWidget() if widget is not None else None):
        if isinstance(w, QAbstractSpinBox):
            return "number" if not w.isReadOnly() else None
    if isinstance(widget, QLineEdit):
        return "text" if not widget.isReadOnly() else None
    if isinstance(widget, QComboBox) and widget.isEditable():   # it hands its keys to its line edit
        return "text"
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return "text" if not widget.isReadOnly() else None
    return None


def served_field(widget: QWidget) -> QWidget | None:
    """The text field a popup serves (a completer's list is a child of its line edit, in a window of its own)."""
    w = widget.parentWidget() if widget.isWindow() or not field_kind(widget) else None
    while w is not None:
        if field_kind(w) is not None:
            return w
        if isinstance(w, QComboBox):     # a searchable combo's lists serve its text; a plain one's are shortcuts
            return w.lineEdit() if w.isEditable() else None
        w = w.parentWidget()
    return None


def is_typing(kind: str | None, event) -> bool:
    if kind is None or event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
        return False
    if event.key() in EDITING_KEYS:
        return True
    text = event.text()
    if kind == "number":
        return len(text) == 1 and text in NUMBER_CHARS
    return bool(text) and text.isprintable()


class KeyRouter(QObject):
    def __init__(self, window: QWidget, actions: dict[str, Callable[[], None]], give_back: Callable[[], None],
                 allowed_dialogs: tuple[type, ...] = ()):
        super().__init__(window)
        self.w = window
        self.actions = actions
        self.give_back = give_back
        self.allowed_dialogs = allowed_dialogs
        QApplication.instance().installEventFilter(self)
        window.destroyed.connect(self._uninstall)

    def _uninstall(self, *_args) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _mine(self, widget: QWidget) -> bool:
        """The widget is part of this window (or of one of its popups), not of a dialog such as a message box."""
        w = widget
        while w is not None:
            if w is self.w:
                return True
            if isinstance(w, QDialog) and not isinstance(w, self.allowed_dialogs):
                return False
            w = w.parentWidget()
        return False

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.KeyPress or not isinstance(obj, QWidget):
            return False
        try:
            if not self._mine(obj):
                return False
        except RuntimeError:      # a widget being deleted
            return False
        return self.route(obj, event)

    def route(self, obj: QWidget, event) -> bool:
        focus = QApplication.focusWidget()
        if focus is not None and focus is not obj and (obj.isAncestorOf(focus) or self._typing_into(focus)):
            # a key the focused widget passed on to its parents, or one a completer popup sees before the text
            # field it serves: decide as for the focused widget
            obj = focus
        obj = served_field(obj) or obj
        kind = field_kind(obj)
        if kind is not None and event.key() in FINISH_KEYS and not event.modifiers() & Qt.ShiftModifier:
            QTimer.singleShot(0, self.give_back)      # the field commits (or ignores) the key first
            return False
        if is_typing(kind, event):
            return False
        action = self.actions.get(key_name(event) or "")
        if action is None:
            return False
        self._close_popup(obj)
        action()
        return True

    def _typing_into(self, widget: QWidget) -> bool:
        return field_kind(widget) is not None and self._mine(widget)

    @staticmethod
    def _close_popup(widget: QWidget) -> None:
        w = widget
        while w is not None:
            if isinstance(w, QComboBox):
                w.hidePopup()
                return
            w = w.parentWidget()
