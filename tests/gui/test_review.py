"""The keyboard review flow in the window, backed by the SQLite session."""
from PySide6.QtCore import Qt

from helpers import settle
from segviewer.core.session import ReviewStore


def current_name(window):
    return window.viewer.dataset.items[window.viewer.current].name


def test_keyboard_review_flow_and_resume(qtbot, window, demo_copy, qsettings):
    session = demo_copy / "qa.sqlite"
    window.review.session_override = session
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    first = current_name(window)
    qtbot.keyClick(window, Qt.Key_R)
    assert window.review.mode
    qtbot.keyClick(window, Qt.Key_2)              # 2 = accepted, not class 2, in review mode
    assert window.viewer.settings.class_id == -1
    assert ReviewStore(session).review(first).status == "accepted"
    window.review.edit_note("boundary OK, tiny FP at the top")
    assert ReviewStore(session).review(first).note == "boundary OK, tiny FP at the top"
    qtbot.keyClick(window, Qt.Key_U)               # undo the note
    assert ReviewStore(session).review(first).note == ""
    qtbot.keyClick(window, Qt.Key_Right, Qt.ControlModifier)
    settle(qtbot, window)
    second = current_name(window)
    assert second != first
    qtbot.keyClick(window, Qt.Key_3)              # needs fix
    assert ReviewStore(session).review(second).status == "needs fix"
    qtbot.keyClick(window, Qt.Key_3, Qt.AltModifier)  # classes stay reachable with Alt
    assert window.viewer.settings.class_id == 3
    # the list shows and filters by status
    window.image_list.status_filter.setCurrentIndex(window.image_list.status_filter.findData("needs fix"))
    assert window.image_list.proxy.rowCount() == 1
    window.close()

    from segviewer.gui.main_window import MainWindow
    again = MainWindow(settings=qsettings)
    qtbot.addWidget(again)
    again.review.session_override = session
    again.show()
    again.actions_.open_folder(demo_copy)
    settle(qtbot, again)
    names = again.viewer.dataset.names
    expected = next(i for i, n in enumerate(names) if n not in (first, second))
    assert again.viewer.current == expected       # resumes at the first unreviewed image
    again.close()


def test_damaged_session_file_keeps_window_alive(qtbot, window, demo_copy):
    bad = demo_copy / "bad.sqlite"
    bad.write_bytes(b"definitely not sqlite")
    window.review.session_override = bad
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    assert "not a segviewer session file" in window.last_error
    assert bad.read_bytes() == b"definitely not sqlite"
    assert window.review.store is None and window.viewer.loaded is not None
