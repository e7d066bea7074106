"""The window as a daily tool (issue 14): layout at laptop and desktop sizes, keys wherever the focus is, the photo
first, list updates in place during a drag, dialogs and exports."""
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QDockWidget

from helpers import settle
from segviewer.core.overlay import ALL_CLASSES, BACKGROUND_TP, TP, contour, error_lut
from segviewer.core.session_paths import session_path
from segviewer.gui.image_list_model import NAME

SIZES = [(1024, 700), (1920, 1080)]


def open_demo(qtbot, window, root):
    assert window.actions_.open_folder(root)
    settle(qtbot, window)


def global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def visible_docks(window):
    """The panels on screen (a tab behind another in the side bar is not)."""
    return [d for d in window.findChildren(QDockWidget) if d.isVisible() and not d.visibleRegion().isEmpty()]


@pytest.mark.parametrize("size", SIZES)
def test_docks_never_overlap_and_every_setting_is_reachable(qtbot, window, demo_copy, size):
    window.resize(*size)
    open_demo(qtbot, window, demo_copy)
    qtbot.wait(50)
    docks = visible_docks(window)
    wide = size[0] >= 1280        # below: Images, Settings and Review are tabs of one side bar
    assert {d.objectName() for d in docks} == ({"Images", "Settings", "Review", "Scores"} if wide
                                                else {"Images", "Scores"})
    rects = [global_rect(d) for d in docks] + [global_rect(window.canvas)]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b), (a, b)
    for d in docks:
        assert d.width() >= d.widget().minimumWidth() and d.height() > 100
    for dock, panel in ((window.review_dock, window.review.panel), (window.settings_dock, window.controls)):
        window.layout_.show_panel(dock)            # inside their scroll areas: never squeezed
        qtbot.wait(20)
        assert panel.height() >= panel.minimumSizeHint().height() and panel.width() >= panel.minimumSizeHint().width()
    area = window.settings_dock.widget()
    found = window.controls.findChildren(QComboBox) + window.controls.findChildren(QAbstractSpinBox)
    controls = [w for w in found if w.isVisibleTo(window)]
    assert window.controls.layout_combo in controls and window.controls.threshold_spin in controls
    for control in controls:
        area.ensureWidgetVisible(control)
        QApplication.processEvents()
        viewport = global_rect(area.viewport())
        assert viewport.contains(global_rect(control).center()), control
    # the list shows the name and the score it is sorted by, without scrolling
    window.layout_.show_panel(window.images_dock)
    qtbot.wait(20)
    lst = window.image_list
    header = lst.view.horizontalHeader()
    column = lst.model.sort_column
    assert column == 1
    right = header.sectionViewportPosition(column) + header.sectionSize(column)
    assert right <= lst.view.viewport().width() and header.sectionSize(NAME) >= 90


def test_review_mode_changes_no_geometry(qtbot, window, demo_copy):
    window.resize(1024, 700)
    open_demo(qtbot, window, demo_copy)
    qtbot.wait(50)
    before = sorted((r.x(), r.y(), r.width(), r.height()) for r in
                    [global_rect(d) for d in visible_docks(window)] + [global_rect(window.canvas)])
    qtbot.keyClick(window, Qt.Key_R)
    qtbot.wait(50)
    assert window.review.mode
    assert not window.review_dock.visibleRegion().isEmpty()      # its tab in front: the keys are shown there
    after = sorted((r.x(), r.y(), r.width(), r.height()) for r in
                   [global_rect(d) for d in visible_docks(window)] + [global_rect(window.canvas)])
    assert after == before


def test_view_menu_toggles_panels_resets_and_remembers_the_layout(qtbot, qsettings):
    from segviewer.gui.main_window import MainWindow
    window = MainWindow(settings=qsettings, remember_layout=True)
    qtbot.addWidget(window)
    window.show()
    texts = [a.text() for a in window.menuBar().actions()[1].menu().actions()]
    for panel in ("Images panel", "Settings panel", "Review panel", "Scores panel", "Reset layout"):
        assert panel in texts
    window.images_dock.toggleViewAction().trigger()
    assert not window.images_dock.isVisible()
    window.close()
    again = MainWindow(settings=qsettings, remember_layout=True)
    qtbot.addWidget(again)
    again.show()
    assert not again.images_dock.isVisible()        # remembered
    again.layout_.reset_to_default()
    qtbot.wait(20)
    assert all(d.isVisible() for d in (again.images_dock, again.settings_dock, again.review_dock,
                                       again.scores_dock))
    again.close()


def test_keys_work_wherever_the_focus_is_except_while_typing(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    v, lst, c = window.viewer, window.image_list, window.controls
    for combo in (lst.gt_filter, lst.pred_filter, lst.status_filter, c.view_combo, c.mode, c.palette_combo):
        combo.setFocus()
        before = combo.currentIndex()
        qtbot.keyClick(combo, Qt.Key_2)
        assert v.settings.class_id == 2, combo
        assert combo.currentIndex() == before
        qtbot.keyClick(combo, Qt.Key_A)
        assert v.settings.class_id == ALL_CLASSES
    lst.gt_filter.showPopup()                       # an open filter popup
    popup = QApplication.activePopupWidget()
    target = popup.focusWidget() if popup is not None and popup.focusWidget() else lst.gt_filter.view()
    qtbot.keyClick(target, Qt.Key_4)
    assert v.settings.class_id == 4 and lst.gt_filter.currentIndex() == 0
    lst.gt_filter.hidePopup()
    qtbot.keyClick(window, Qt.Key_A)
    for spin in (c.threshold_spin, c.beta_spin, c.smooth_spin, c.boundary_spin):
        spin.setFocus()
        tp = v.settings.show_tp
        qtbot.keyClick(spin, Qt.Key_Z)              # a letter in a number field is a shortcut
        assert v.settings.show_tp is not tp, spin
    # typing a digit into the threshold field types it; Enter gives the keys back to the canvas
    spin = c.threshold_spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "0.3")
    assert v.settings.class_id == ALL_CLASSES
    qtbot.keyClick(spin.lineEdit(), Qt.Key_Return)
    qtbot.wait(20)
    assert v.scoring.threshold == pytest.approx(0.3)
    assert window.focusWidget() is window.canvas.view_widget
    # in the name filter every printable key is text
    lst.search.setFocus()
    qtbot.keyClicks(lst.search, "s1")
    assert lst.search.text() == "s1" and v.settings.class_id == ALL_CLASSES and v.settings.view == "errors"
    qtbot.keyClick(lst.search, Qt.Key_Escape)
    qtbot.wait(20)
    assert window.focusWidget() is window.canvas.view_widget


def test_review_digit_in_a_slider_or_list_sets_the_status(qtbot, window, demo_copy):
    window.review.session_override = demo_copy / "qa.sqlite"
    open_demo(qtbot, window, demo_copy)
    qtbot.keyClick(window, Qt.Key_R)
    window.review.advance.setChecked(False)
    name = window.viewer.dataset.names[window.viewer.current]
    for widget, status in ((window.controls.threshold_slider, "needs fix"), (window.image_list.view, "ambiguous")):
        widget.setFocus()
        qtbot.keyClick(widget, Qt.Key_3 if status == "needs fix" else Qt.Key_5)
        settle(qtbot, window)
        assert window.review.review_of(name).status == status


def test_background_is_context_not_painted_but_counted(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    v = window.viewer
    assert v.settings.class_id == ALL_CLASSES and v.settings.view == "errors"
    codes = window.canvas.overlay_item.image
    sample = v.loaded.sample
    pred = sample.probs.argmax(0).numpy()
    bg_correct = (sample.labels == 0) & (sample.probs[0].numpy() > 0.5) & (sample.probs[1:].numpy() <= 0.5).all(0)
    assert bg_correct.sum() > 1000
    assert np.all(codes[bg_correct] == BACKGROUND_TP)
    lut = window.canvas.overlay_item.lut
    assert lut[BACKGROUND_TP, 3] == 0 and lut[TP, 3] > 0
    fg_correct = (sample.labels > 0) & (sample.labels != 255) & (pred == sample.labels)
    assert np.any(codes[fg_correct] == TP)
    image = v.image_counts
    assert v.overlay.legend["tp"] + v.overlay.legend["extra"] == int(image.tp.sum())   # still counted
    assert v.overlay.legend["background"] == int(bg_correct.sum())
    qtbot.keyClick(window, Qt.Key_B)
    assert np.array_equal(window.canvas.overlay_item.lut[BACKGROUND_TP], window.canvas.overlay_item.lut[TP])
    assert np.array_equal(error_lut(background=True)[BACKGROUND_TP], error_lut(background=True)[TP])


def test_image_only_contour_side_by_side_and_flicker(qtbot, window, demo_copy, qtlog):
    open_demo(qtbot, window, demo_copy)
    v, canvas = window.viewer, window.canvas
    qtbot.keyClick(window, Qt.Key_I)
    settle(qtbot, window)
    assert v.settings.view == "image" and not canvas.overlay_item.image.any()
    qtbot.keyClick(window, Qt.Key_I)
    settle(qtbot, window)
    assert v.settings.view == "errors"
    qtbot.keyClick(window, Qt.Key_O)
    assert v.settings.style == "contour"
    assert np.array_equal(canvas.overlay_item.image, contour(v.overlay.codes))
    assert (canvas.overlay_item.image > 0).sum() < (v.overlay.codes > 0).sum()
    qtbot.keyClick(window, Qt.Key_S)
    settle(qtbot, window)
    assert canvas.side_by_side and canvas.gt_overlay_item.image is not None
    canvas.viewbox.setRange(xRange=(10, 60), yRange=(10, 40), padding=0)
    QApplication.processEvents()
    assert np.allclose(canvas.gt_box.viewRange(), canvas.viewbox.viewRange())   # linked zoom and pan
    qtbot.keyClick(window, Qt.Key_T)
    assert v.settings.view == "gt"
    qtbot.keyClick(window, Qt.Key_T)
    assert v.settings.view == "pred"
    qtbot.keyClick(window, Qt.Key_S)                    # back to one pane, and again: the pane leaves the scene once
    qtbot.keyClick(window, Qt.Key_S)
    qtbot.keyClick(window, Qt.Key_S)
    assert not canvas.side_by_side and canvas.gt_box.scene() is None
    assert [r.message for r in qtlog.records if "QGraphicsScene" in r.message] == []


def test_list_updates_rows_in_place_and_holds_its_order_during_a_drag(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    lst, v = window.image_list, window.viewer
    resets = []
    lst.model.modelReset.connect(lambda: resets.append(1))
    order = lst.visible_order()
    lst.hold_order(True)                      # what pressing a slider does
    for t in (0.2, 0.05, 0.9):
        v.update_settings(threshold=t)
        settle(qtbot, window)
        expected = v.image_list_scores()["mean_fbeta"]
        shown = [lst.model.value(r, 1) for r in range(len(order))]
        np.testing.assert_allclose(shown, expected)          # every step's numbers, in place
        assert lst.visible_order() == order                   # the order does not move under the cursor
    lst.hold_order(False)                     # release: sorted worst first again
    means = v.image_list_scores()["mean_fbeta"][lst.visible_order()]
    assert np.all(np.diff(means[~np.isnan(means)]) >= 0)
    assert not resets


def test_slider_press_holds_the_list(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    window.controls.threshold_slider.sliderPressed.emit()
    assert window.image_list._held
    window.controls.threshold_slider.sliderReleased.emit()
    assert not window.image_list._held


def test_masks_and_logits_runs_get_different_sessions(qtbot, window, demo_copy):
    from segviewer.core.options import layout_from_folder
    logits = layout_from_folder(demo_copy).options()
    masks = layout_from_folder(demo_copy, prefer="masks").options()
    assert session_path(logits) != session_path(masks)
    assert session_path(logits) == session_path(layout_from_folder(demo_copy).options())
    assert session_path(logits).parent == demo_copy.resolve() / ".segviewer"
    assert window.open_options(masks)
    settle(qtbot, window)
    window.review.set_status_number(3)
    settle(qtbot, window)
    masks_store = window.review.target
    assert len(window.review.statuses()) == 1
    assert window.open_options(logits)
    settle(qtbot, window)
    assert window.review.statuses() == {}          # the model's session knows nothing of annotator B's review
    assert masks_store != window.review.target


def test_open_dialog_checks_fields_at_once_and_finds_classes_beside_masks(qtbot, window, demo_copy):
    from segviewer.gui.open_dialog import OpenDatasetDialog
    dialog = OpenDatasetDialog(window, window.qsettings)
    qtbot.addWidget(dialog)
    dialog._open_if_valid()
    assert "choose the ground truth folder" in dialog.problem.text() and not dialog.result()
    dialog.gt.setText(str(demo_copy / "gt"))
    dialog.pred.setText(str(demo_copy / "nope"))
    dialog._open_if_valid()
    assert "is not a folder" in dialog.problem.text()
    dialog.pred.setText(str(demo_copy / "masks"))
    dialog.masks_radio.setChecked(True)
    assert dialog.problems() == []
    options = dialog.options()
    assert options.pred_kind == "masks" and options.images_dir == demo_copy / "images"
    assert options.classes == str(demo_copy / "classes.json")


def test_reset_resets_the_threshold(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    window.controls.threshold_slider.setValue(300)
    window.controls.best_button.click()
    window.controls.reset_button.click()
    s = window.viewer.scoring
    assert s.threshold == 0.5 and not s.per_class and window.viewer.engine.scoring is s


def test_readout_clears_on_switch_and_save_view_has_a_caption(qtbot, window, demo_copy, tmp_path):
    open_demo(qtbot, window, demo_copy)
    window.canvas.hovered.emit(5, 5)
    assert window.canvas.readout.text().startswith("x 5, y 5")
    qtbot.keyClick(window, Qt.Key_Right)
    settle(qtbot, window)
    assert window.canvas.readout.text() == ""
    name = window.viewer.dataset.names[window.viewer.current]
    from segviewer.gui.window_exports import view_caption
    caption = view_caption(window.viewer)
    assert caption.startswith(name) and "threshold 0.5" in caption and "all classes" in caption
    assert window.exports.save_view(str(tmp_path / "view.png"), scale=0)      # as on screen
    saved = Image.open(tmp_path / "view.png")
    assert saved.size[0] == window.canvas.view_widget.width()
    assert saved.size[1] > window.canvas.view_widget.height()


def test_help_lists_mouse_actions(qtbot, window):
    qtbot.keyClick(window, Qt.Key_Question, Qt.ShiftModifier)
    assert window.actions_.help.isVisible()
    text = window.actions_.help.text.toPlainText()
    assert "wheel" in text and "left drag" in text and "Ctrl+Right" in text
    qtbot.keyClick(window.actions_.help, Qt.Key_Escape)
    assert not window.actions_.help.isVisible()


def test_screenshot_image_is_kept_not_replaced_by_the_top_of_the_list(qtbot, window, demo_copy):
    from segviewer.gui.app import Launch, apply_initial_settings
    assert window.actions_.open_folder(demo_copy)
    names = window.viewer.dataset.names
    apply_initial_settings(window, Launch(image=names[0]))      # asked for before the list is sorted
    settle(qtbot, window)
    assert window.viewer.current == 0 and window.image_list.visible_order()[0] != 0


def test_keys_on_the_class_selector_are_shortcuts_and_the_canvas_has_the_keys_at_start(qtbot, window, demo_copy):
    assert window.focusWidget() is window.canvas.view_widget
    open_demo(qtbot, window, demo_copy)
    window.layout_.show_panel(window.settings_dock)
    combo = window.controls.class_combo          # a plain combo: nothing can be typed into it
    assert not combo.isEditable()
    combo.setFocus()
    qtbot.keyClicks(combo, "3")
    assert window.viewer.settings.class_id == 3 and combo.currentText() == "3: square"
    qtbot.keyClicks(combo, "ja")                 # A: all classes, J: next image; nothing is typed
    qtbot.keyClick(combo, Qt.Key_Escape)
    assert window.viewer.settings.class_id == ALL_CLASSES and combo.currentText() == "All classes"


def test_panels_keep_their_share_of_the_window(qtbot, window):
    window.resize(1500, 920)
    qtbot.wait(150)
    share = window.images_dock.width() / window.width(), window.scores_dock.height() / window.height()
    for size in ((1024, 700), (3000, 1900), (1500, 920)):
        window.resize(*size)
        qtbot.wait(150)
    assert window.images_dock.width() / window.width() == pytest.approx(share[0], abs=0.02)
    assert window.scores_dock.height() / window.height() == pytest.approx(share[1], abs=0.02)
    window.resize(1024, 700)
    qtbot.wait(150)
    assert window.class_table.view.viewport().height() >= 3 * 20      # a few class rows, not one and a half
