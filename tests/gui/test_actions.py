"""One table of menus, actions and keys: everything in it is bound, everything bound is in it, and the help (?)
generated from it lists every key and mouse action."""
from PySide6.QtGui import QAction, QShortcut

from segviewer.gui.shortcuts import ACTIONS, MOUSE, SINGLE_KEY_NOTE, help_rows, key_text


def test_every_table_entry_has_a_handler_and_every_handler_an_entry(window):
    handlers = window.actions_.handlers()
    named = {a.name for a in ACTIONS} - {"recent", "panels"}          # two submenus the window fills itself
    assert named == set(handlers)


def test_every_key_in_the_table_is_bound_and_every_binding_is_in_the_table(window):
    bound = window.actions_.bound
    keys = {k for a in ACTIONS for k in a.keys}
    assert set(bound) == keys
    shortcuts = {s.key().toString() for s in window.findChildren(QShortcut)}
    menu_keys = {k.toString() for a in window.findChildren(QAction) for k in a.shortcuts()}
    with_modifiers = {k for k in keys if "+" in k}
    assert with_modifiers == shortcuts | menu_keys
    single = {k for k in keys if "+" not in k}
    assert single == set(window.actions_.router.actions)


def test_the_help_lists_every_key_and_mouse_action(qtbot, window):
    window.actions_.toggle_help()
    text = window.actions_.help.text.toPlainText()       # the table's rows, a cell per line
    for action in ACTIONS:
        if action.keys:
            assert f"\n{key_text(action.keys)}\n{action.help}\n" in text, action.name
    for what, does in MOUSE:
        assert f"\n{what}\n{does}\n" in text
    assert SINGLE_KEY_NOTE in text
    assert len(help_rows()) == sum(1 for a in ACTIONS if a.keys) + 1     # and the Enter / Esc of a text field


def test_menus_come_from_the_table_in_its_order(window):
    from segviewer.gui.shortcuts import menu_text
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["&File", "&View", "&Help"]
    for title, menu in menus.items():
        texts = [a.text() for a in menu.actions() if not a.isSeparator()]
        wanted = [menu_text(a) for a in ACTIONS if a.menu == title[1:] and a.name != "panels"]
        assert [t for t in texts if t in wanted] == wanted
    assert "Fit image (F)" in [a.text() for a in menus["&View"].actions()]
