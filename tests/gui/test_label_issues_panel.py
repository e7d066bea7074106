"""The Label doubt tab: suspect regions and label scores equal the engine's; one click marks the image."""
import numpy as np
from PySide6.QtCore import Qt

from helpers import settle
from segviewer.gui.label_issues_panel import LabelIssuesController, LabelIssuesPanel


def test_label_doubt_tab_equals_the_engine_and_marks_needs_fix(qtbot, window, demo_copy):
    panel = LabelIssuesPanel()
    qtbot.addWidget(panel)
    controller = LabelIssuesController(window.viewer, window.services, panel)
    controller.needs_fix.connect(window.review.mark_needs_fix)
    controller.active = True
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    controller.refresh()
    qtbot.waitUntil(lambda: controller.scores is not None, timeout=30000)
    want = v.engine.label_issues.scores()
    np.testing.assert_allclose(controller.scores.label_score, want.label_score)
    shown = {r[0].value: r[1].value for r in panel.images.rows}
    assert shown[v.engine.names[0]] == want.label_score[0]
    worst = int(np.nanargmin(want.label_score))
    v.select_image(worst)
    settle(qtbot, window)
    qtbot.waitUntil(lambda: controller.current_regions() and v.current == worst, timeout=30000)
    regions = v.engine.label_issues.regions(worst)
    assert panel.regions.keys == regions
    assert regions     # the demo's worst image has a mislabelled object
    window.review.toggle_mode()
    panel.mark.click()
    settle(qtbot, window)                        # saved on the session's thread
    review = window.review.review_of(v.engine.names[worst])
    names = v.classes.names
    assert "fix" in review.status
    assert review.note.startswith(f"label doubt: {names[regions[0].gt_class]} looks like "
                                  f"{names[regions[0].predicted_class]}")


def test_doubt_view_and_list_ranking_from_the_window(qtbot, window, demo_copy):
    from segviewer.gui.image_list_model import LABEL
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    window.insights.toggle_doubt_view()
    qtbot.waitUntil(lambda: window.insights.labels.scores is not None, timeout=60000)
    settle(qtbot, window)
    assert v.settings.view == "doubt" and "label doubt" in window.canvas.legend.text()
    assert np.array_equal(v.overlay.codes, v.engine.label_issues.doubt(v.current))
    scores = v.engine.label_issues.scores().label_score
    np.testing.assert_allclose([r[LABEL].value for r in window.image_list.model.rows], scores)
    assert window.image_list.visible_order()[0] == int(np.nanargmin(scores))     # most doubtful first
    window.insights.toggle_doubt_view()
    assert v.settings.view == "errors"
    settle(qtbot, window)                       # the errors view: the list worst first again, and the title with it
    lst = window.image_list
    assert (lst.model.sort_column, lst.model.sort_order) == (1, Qt.AscendingOrder)
    assert window.canvas.title.text().count(f"{lst.visible_order().index(v.current) + 1} of 12 in the list") == 1


def test_l_key_in_review_mode_marks_the_largest_suspect_region(qtbot, window, demo_copy):
    from PySide6.QtCore import Qt
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v = window.viewer
    window.show_image(1)                          # the demo's mislabelled disc
    settle(qtbot, window)
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_L)
    settle(qtbot, window)
    assert window.review.review_of(v.engine.names[1]) is None
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_R)
    qtbot.keyClick(window.canvas.view_widget, Qt.Key_L)
    settle(qtbot, window)
    review = window.review.review_of(v.engine.names[1])
    largest = v.engine.label_issues.regions(1)[0]
    assert "fix" in review.status and f"({largest.pixels} px" in review.note


def test_opening_the_label_doubt_tab_ranks_the_list_and_keeps_the_image(qtbot, window, demo_copy):
    """The image on screen was picked by the window (the list's worst): a click on the tab is a look, not a request
    to move, so the ranking re-orders the list around it."""
    from segviewer.gui.image_list_model import LABEL
    assert window.actions_.open_folder(demo_copy)
    settle(qtbot, window)
    v, lst = window.viewer, window.image_list
    shown = v.current
    bar = window.bottom_tabs.tabBar()
    tab = next(k for k in range(bar.count()) if bar.tabText(k) == "Label doubt")
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(tab).center())
    qtbot.waitUntil(lambda: lst.model.sort_column == LABEL, timeout=60000)
    settle(qtbot, window)
    scores = v.engine.label_issues.scores().label_score
    assert lst.visible_order()[0] == int(np.nanargmin(scores)) != shown      # ranked, most doubtful first
    assert v.current == shown
