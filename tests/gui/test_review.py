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
    settle(qtbot, window)                         # saved on the session's thread
    assert ReviewStore(session).review(first).status == "accepted"
    assert window.viewer.current == order[1]      # and on to the next image in the list's order
    second = current_name(window)
    window.review.edit_note("boundary OK, tiny FP at the top")
    settle(qtbot, window)
    assert ReviewStore(session).review(second).note == "boundary OK, tiny FP at the top"
    qtbot.keyClick(window, Qt.Key_U)               # undo the note
    settle(qtbot, window)
    undone = ReviewStore(session).review(second)
    assert (undone.status, undone.note) == ("unreviewed", "")   # undo is a change of its own: back to no note
    window.review.advance.setChecked(False)        # the setting: stay on the image
    qtbot.keyClick(window, Qt.Key_3)              # needs fix
    settle(qtbot, window)
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
    assert window.image_list.model.rowCount() == 1
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
    qtbot.waitUntil(box.hasFocus, timeout=3000)          # N puts the keys in the note box
    qtbot.keyClicks(box, "two")
    qtbot.keyClick(box, Qt.Key_Return, Qt.ShiftModifier)
    qtbot.keyClicks(box, "lines")
    qtbot.keyClick(box, Qt.Key_Return)
    settle(qtbot, window)
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
    assert window.review.worker is None and window.viewer.loaded is not None


def test_another_window_on_the_same_file_shows_its_changes_within_a_second(qtbot, window, demo_copy, qsettings):
    from segviewer.gui.main_window import MainWindow
    session = demo_copy / "qa.sqlite"
    other = MainWindow(settings=qsettings)
    qtbot.addWidget(other)
    other.show()
    for w in (window, other):
        w.review.session_override = session
        assert w.actions_.open_folder(demo_copy)
        settle(qtbot, w)
    name = current_name(window)
    qtbot.keyClick(window, Qt.Key_R)
    qtbot.keyClick(window, Qt.Key_5)
    qtbot.waitUntil(lambda: other.image_list.model.statuses.get(name) == "ambiguous", timeout=1000)
    assert other.reviewed_label.text() == "1 of 12 reviewed"        # one reviewer: no "(mine: …)"
    assert other.review.state.team is False and not other.review.team.reviewers.isVisible()
    other.close()


def open_with_one_review(qtbot, window, demo_copy) -> None:
    """The demo with a session in which scene_005 is accepted, opened and resumed."""
    session = demo_copy / "qa.sqlite"
    with ReviewStore(session) as store:
        store.set_review("scene_005", "accepted")
    window.review.session_override = session
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: window.review.idle() and not window.first_image.pending, timeout=20000)


def test_resume_waits_for_the_sorted_list_and_goes_to_its_first_unreviewed_image(qtbot, window, demo_copy):
    """The session answers before the dataset's scores sort the list: the review goes on at the first unreviewed
    image in the list's order (worst first), not at the dataset's first."""
    open_with_one_review(qtbot, window, demo_copy)
    settle(qtbot, window)
    order = names_of(window, window.image_list.visible_order())
    assert order[0] != "scene_000"
    assert current_name(window) == next(n for n in order if n != "scene_005")




def test_two_resume_questions_each_get_their_own_answer(qtbot, window, demo_copy):
    """The list sorted, then re-ranked (--compare), before the session answered: the first answer (in the first
    order) is dropped, the second one is given in the second order to the second question."""
    open_with_one_review(qtbot, window, demo_copy)
    calls, got = [], []
    window.review.worker.call = lambda work, done, failed: calls.append(done)     # the session answers later
    first, second = [0, 1, 2, 3], [3, 2, 1, 0]
    assert window.review.resume_in(first, lambda i: got.append(("first", i)))
    assert window.review.resume_in(second, lambda i: got.append(("second", i)))
    calls[0](0)                        # the first question's answer: its order's first image
    calls[1](1)
    assert got == [("second", 2)]
