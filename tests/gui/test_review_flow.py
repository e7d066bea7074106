"""Review in the window as a daily user meets it: resume at the worst unreviewed image (also with --compare), U goes
to the image it undid and says what, Esc in the note box gives the edit up."""
from PySide6.QtCore import Qt

from helpers import settle
from segviewer.core.session import ReviewStore


def open_demo(qtbot, window, folder, compare=None):
    window.review.session_override = folder / "qa.sqlite"
    assert window.actions_.open_folder(folder)
    if compare is not None:
        assert window.insights.open_compare(compare)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: not window.first_image.pending, timeout=20000)
    settle(qtbot, window)


def reopen(qtbot, qsettings, folder, compare=None):
    from segviewer.gui.main_window import MainWindow
    window = MainWindow(settings=qsettings)
    qtbot.addWidget(window)
    window.show()
    open_demo(qtbot, window, folder, compare)
    return window


def test_resume_opens_at_the_worst_unreviewed_image_in_every_mode(qtbot, window, demo_copy, qsettings):
    open_demo(qtbot, window, demo_copy)
    names = window.viewer.dataset.names
    worst_first = window.image_list.visible_order()
    assert window.viewer.current == worst_first[0]          # no review yet: the top of the list
    window.close()
    store = ReviewStore(demo_copy / "qa.sqlite")
    for i in worst_first[:3]:                               # the three worst reviewed, as a reviewer does
        store.set_review(names[i], status="accepted")
    store.close()

    again = reopen(qtbot, qsettings, demo_copy)
    assert again.image_list.visible_order() == worst_first
    assert again.viewer.current == worst_first[3]           # not the first unreviewed by file name
    assert "4 of 12 in the list" in again.canvas.title.text()
    again.close()

    with_b = reopen(qtbot, qsettings, demo_copy, compare=demo_copy / "masks")
    ranked = with_b.image_list.visible_order()             # ranked by ΔFβ (what B breaks first)
    assert ranked != worst_first
    reviewed = {names[i] for i in worst_first[:3]}
    expected = next(i for i in ranked if names[i] not in reviewed)
    assert with_b.viewer.current == expected
    with_b.close()


def test_undo_goes_to_the_image_it_undid_and_says_what(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    order = window.image_list.visible_order()
    names = window.viewer.dataset.names
    qtbot.keyClick(window, Qt.Key_R)
    qtbot.keyClick(window, Qt.Key_2)                        # accepted, and on to the next image
    settle(qtbot, window)
    assert window.viewer.current == order[1]
    assert window.statusBar().currentMessage() == f"saved — {names[order[0]]}: accepted"   # which, where
    qtbot.keyClick(window, Qt.Key_Right)
    settle(qtbot, window)
    window.review.edit_note("tiny FP at the top")           # a note on the third image
    settle(qtbot, window)
    assert window.statusBar().currentMessage() == f"saved — {names[order[2]]}: note saved"
    qtbot.keyClick(window, Qt.Key_U)                        # undoes the note: stays here
    settle(qtbot, window)
    assert window.viewer.current == order[2]
    assert window.statusBar().currentMessage() == f"undone on {names[order[2]]}: note removed"
    qtbot.keyClick(window, Qt.Key_U)                        # undoes the first image's status: goes there
    settle(qtbot, window)
    assert window.viewer.current == order[0]
    assert window.statusBar().currentMessage() == f"undone on {names[order[0]]}: status accepted → unreviewed"
    assert ReviewStore(demo_copy / "qa.sqlite").review(names[order[0]]).status == "unreviewed"
    qtbot.keyClick(window, Qt.Key_U)
    settle(qtbot, window)
    assert window.statusBar().currentMessage() == "nothing to undo"


def test_esc_in_the_note_box_cancels_and_restores_the_note(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    name = window.viewer.dataset.names[window.viewer.current]
    window.review.edit_note("kept")
    settle(qtbot, window)                                   # saved on the session's thread
    box = window.review.note_box
    window.review.edit_note()                               # N: the keys go to the note box
    qtbot.waitUntil(box.hasFocus)
    qtbot.keyClicks(box, " and more")
    qtbot.keyClick(box, Qt.Key_Escape)
    assert box.toPlainText() == "kept"
    assert not box.hasFocus()
    assert ReviewStore(demo_copy / "qa.sqlite").review(name).note == "kept"
