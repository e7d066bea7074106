"""The keyboard review flow in the window, backed by the SQLite session."""
from PySide6.QtCore import Qt

from helpers import settle
from segviewer.core.session import ReviewStore


def current_name(window):
    return window.viewer.dataset.items[window.viewer.current].name


def names_of(window, order):
    return [window.viewer.dataset.names[i] for i in order]


def test_keyboard_review_flow_and_resume(qtbot, window, demo_copy, qsettings):
    session = demo_copy / "qa.sqlite"
    window.review.session_override = session
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    order = window.image_list.visible_order()
    assert window.viewer.current == order[0]      # the first image shown is the top of the sorted list
    first = current_name(window)
    qtbot.keyClick(window, Qt.Key_R)
    assert window.review.mode
    qtbot.keyClick(window, Qt.Key_2)              # 2 = accepted, not class 2, in review mode
    assert window.viewer.settings.class_id == -1
    assert ReviewStore(session).review(first).status == "accepted"
    settle(qtbot, window)
    assert window.viewer.current == order[1]      # and on to the next image in the list's order
    second = current_name(window)
    window.review.edit_note("boundary OK, tiny FP at the top")
    assert ReviewStore(session).review(second).note == "boundary OK, tiny FP at the top"
    qtbot.keyClick(window, Qt.Key_U)               # undo the note
    undone = ReviewStore(session).review(second)
    assert undone is None or undone.note == ""
    window.review.advance.setChecked(False)        # the setting: stay on the image
    qtbot.keyClick(window, Qt.Key_3)              # needs fix
    assert ReviewStore(session).review(second).status == "needs fix"
    assert current_name(window) == second
    assert window.reviewed_label.text() == "2 of 12 reviewed"
    qtbot.keyClick(window, Qt.Key_Right, Qt.ControlModifier)   # next unreviewed, as the list is sorted
    settle(qtbot, window)
    assert window.viewer.current == order[2]
    qtbot.keyClick(window, Qt.Key_3, Qt.AltModifier)  # classes stay reachable with Alt
    assert window.viewer.settings.class_id == 3
    # the list shows and filters by status
    window.image_list.status_filter.setCurrentIndex(window.image_list.status_filter.findData("needs fix"))
    assert window.image_list.proxy.rowCount() == 1
    assert "2 of 12 reviewed" in window.image_list.summary.text()
    window.close()

    from segviewer.gui.main_window import MainWindow
    again = MainWindow(settings=qsettings)
    qtbot.addWidget(again)
    again.review.session_override = session
    again.show()
    again.actions_.open_folder(demo_copy)
    settle(qtbot, again)
    assert again.image_list.visible_order() == order
    assert again.viewer.current == order[2]       # resumes at the first unreviewed image in the list's order
    again.close()


def test_ctrl_right_follows_the_sorted_list_and_wraps(qtbot, window, demo_copy):
    window.review.session_override = demo_copy / "qa.sqlite"
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    lst = window.image_list
    lst.view.sortByColumn(0, Qt.DescendingOrder)   # by name, Z to A
    order = lst.visible_order()
    assert names_of(window, order) == sorted(window.viewer.dataset.names, reverse=True)
    lst.select(order[-2])
    window.viewer.select_image(order[-2])
    settle(qtbot, window)
    for expected in (order[-1], order[0], order[1]):
        qtbot.keyClick(window, Qt.Key_Right, Qt.ControlModifier)
        settle(qtbot, window)
        assert window.viewer.current == expected


def test_note_box_enter_saves_shift_enter_breaks_the_line(qtbot, window, demo_copy):
    session = demo_copy / "qa.sqlite"
    window.review.session_override = session
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    name = current_name(window)
    qtbot.keyClick(window, Qt.Key_N)
    box = window.review.note_box
    assert box.hasFocus() or window.review.note_box is box
    box.setFocus()
    qtbot.keyClicks(box, "two")
    qtbot.keyClick(box, Qt.Key_Return, Qt.ShiftModifier)
    qtbot.keyClicks(box, "lines")
    qtbot.keyClick(box, Qt.Key_Return)
    assert ReviewStore(session).review(name).note == "two\nlines"
    assert window.viewer.settings.class_id == -1   # typing in the note box sent no shortcut


def test_damaged_session_file_keeps_window_alive(qtbot, window, demo_copy):
    bad = demo_copy / "bad.sqlite"
    bad.write_bytes(b"definitely not sqlite")
    window.review.session_override = bad
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    assert "not a segviewer session file" in window.last_error
    assert bad.read_bytes() == b"definitely not sqlite"
    assert window.review.store is None and window.viewer.loaded is not None
