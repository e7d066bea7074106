"""The window on a laptop and a desktop (issue 22): the image gets the room, every control and text shows whole,
the help is reachable, the list and the title never say stale things, and the smaller promises of a daily tool."""
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QApplication, QComboBox, QLabel, QSlider, QStyle,
                               QStyleOptionComboBox)

from helpers import open_at, settle
from segviewer.core.overlay import ALL_CLASSES
from segviewer.gui.image_list_model import LABEL, NAME
from segviewer.gui.layout import initial_size

SIZES = [(1024, 700), (1920, 1080)]


def global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def text_room(combo: QComboBox) -> int:
    """The width a combo box has for its text (its edit field, as the style lays it out)."""
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    return combo.style().subControlRect(QStyle.CC_ComboBox, option, QStyle.SC_ComboBoxEditField, combo).width()


def assert_combos_whole(combos) -> None:
    for combo in combos:
        assert combo.fontMetrics().horizontalAdvance(combo.currentText()) <= text_room(combo), combo.currentText()


@pytest.mark.parametrize("size", SIZES)
def test_the_image_gets_the_room_and_every_list_table_and_combo_shows_what_it_holds(qtbot, window, demo_copy, size):
    open_at(qtbot, window, demo_copy, size)
    canvas = window.canvas
    assert canvas.width() * canvas.height() >= 0.45 * size[0] * size[1]
    assert window.geometry().size() == QSize(*size)
    table = window.class_table.view                               # all 7 demo classes, no scrolling
    assert table.viewport().height() >= 7 * table.rowHeight(0)
    lst = window.image_list
    assert lst.view.viewport().height() >= 12 * lst.view.rowHeight(0)
    assert_combos_whole([lst.gt_filter, lst.pred_filter, lst.status_filter])
    lst.pred_filter.setCurrentIndex(lst.pred_filter.findData(3))   # "pred has 3: square"
    assert_combos_whole([lst.pred_filter])
    window.layout_.show_panel(window.settings_dock)
    qtbot.wait(20)
    assert_combos_whole([c for c in window.controls.findChildren(QComboBox) if c.isVisibleTo(window)])
    tabs = window.bottom_tabs
    for k in range(tabs.count()):          # every Scores tab's controls too (laid out with the tab behind)
        page = tabs.widget(k)
        assert_combos_whole([c for c in page.findChildren(QComboBox) if c.isVisibleTo(page)])
    assert_summary_whole(window.class_table.summary, "image", "dataset")
    assert window.class_table.summary.text() == window.class_table.summary.toolTip()   # room for every score


def assert_summary_whole(summary, *scopes) -> None:
    """The Scores panel's title line shows whole, with every scope's F-beta."""
    shown = summary.text()
    assert 0 < summary.text_width(shown) <= summary.contentsRect().width()
    assert all(f"{scope} F1 <b>" in shown for scope in scopes), shown


@pytest.mark.parametrize("size", SIZES)
def test_a_3d_case_s_four_scopes_fit_the_scores_title(qtbot, window, demo3d_dir, tmp_path, size):
    """slice, case, dataset pooled and case mean: at 1024 px the line drops P and R before it would be cut."""
    import shutil
    open_at(qtbot, window, shutil.copytree(demo3d_dir, tmp_path / "demo3d"), size)
    summary = window.class_table.summary
    assert_summary_whole(summary, "slice", "case", "dataset pooled", "dataset case mean")
    assert " · P " in summary.toolTip()
    room, texts = summary.contentsRect().width(), summary._texts
    assert all(summary.text_width(t) > room for t in texts[:texts.index(summary.text())])   # the most detailed
    if size[0] < 1280:
        assert " · P " not in summary.text()


def test_the_first_window_fits_the_screen_it_opens_on():
    assert initial_size(QSize(1024, 700)) == (1024, 700)
    assert initial_size(QSize(1366, 768)) == (1366, 768)
    assert initial_size(QSize(1920, 1080)) == (1500, 920)


@pytest.mark.parametrize("size", SIZES)
def test_no_settings_control_is_clipped_after_apply_best_thresholds(qtbot, window, demo_copy, size):
    open_at(qtbot, window, demo_copy, size)
    window.layout_.show_panel(window.settings_dock)
    window.controls.best_button.click()
    settle(qtbot, window)
    qtbot.wait(50)
    assert window.viewer.scoring.per_class and window.controls.per_class_label.isVisible()
    area = window.settings_dock.widget()
    assert window.controls.width() <= area.viewport().width()      # nothing wider than the panel: no side scroll
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QLabel)
    controls = [w for kind in kinds for w in window.controls.findChildren(kind)
                if w.isVisibleTo(window) and w.parentWidget().isVisibleTo(window)]
    assert window.controls.reset_button in controls and window.controls.interior_box in controls
    for control in controls:
        area.ensureWidgetVisible(control)
        QApplication.processEvents()
        viewport, rect = global_rect(area.viewport()), global_rect(control)
        assert viewport.left() <= rect.left() and rect.right() <= viewport.right(), control
        assert viewport.top() <= rect.top() and rect.bottom() <= viewport.bottom(), control


@pytest.mark.parametrize("size", SIZES)
def test_the_help_fits_the_window_and_scrolls_to_its_last_line(qtbot, window, size):
    window.resize(*size)
    qtbot.keyClick(window, Qt.Key_Question, Qt.ShiftModifier)
    help_ = window.actions_.help
    qtbot.waitUntil(help_.isVisible)
    assert window.frameGeometry().contains(help_.frameGeometry())
    assert help_.height() <= size[1] - 40
    text = help_.text
    bar = text.verticalScrollBar()
    assert bar.maximum() + text.viewport().height() >= text.document().size().height() - 1
    qtbot.keyClick(help_, Qt.Key_End)                 # the keys the window does not use scroll it
    assert bar.value() == bar.maximum()
    last = text.document().find("drop a folder")      # a mouse row and the note at the end are reachable
    assert not last.isNull()
    text.setTextCursor(text.document().find("Enter or Esc gives the keys back"))
    text.ensureCursorVisible()
    assert text.viewport().rect().contains(text.cursorRect().center())


def test_the_title_and_the_list_follow_sorting_and_filters(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    lst, v = window.image_list, window.viewer
    current = v.current
    lst.view.sortByColumn(NAME, Qt.AscendingOrder)        # by name: the title says where the image is now
    row = lst.visible_order().index(current)
    assert f"{row + 1} of 12 in the list" in window.canvas.title.text()
    header = lst.view.horizontalHeader()                  # the score beside the name stays in view
    right = header.sectionViewportPosition(1) + header.sectionSize(1)
    assert header.visualIndex(1) == 2 and right <= lst.view.viewport().width()
    lst.search.setText("no image has this name")
    assert "the filter shows no image" in window.canvas.title.text() and "0 of 12 images" in lst.summary.text()
    lst.search.clear()                                    # back: the image's row is selected again
    assert lst.view.currentIndex().isValid() and lst.view.selectionModel().isRowSelected(
        lst.view.currentIndex().row())
    assert lst.visible_order()[lst.view.currentIndex().row()] == current
    assert f"of 12 in the list" in window.canvas.title.text()


def test_a_ranked_column_is_whole_beside_the_name(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    lst = window.image_list
    lst.show_column(LABEL, np.linspace(-0.123, 0.9, 12), True)
    header = lst.view.horizontalHeader()
    assert header.visualIndex(LABEL) == 2
    right = header.sectionViewportPosition(LABEL) + header.sectionSize(LABEL)
    assert right <= lst.view.viewport().width()
    metrics = lst.view.fontMetrics()
    assert header.sectionSize(LABEL) >= metrics.horizontalAdvance("label score") + 20   # the header and its arrow
    assert header.sectionSize(LABEL) >= metrics.horizontalAdvance("-0.123") + 8


def test_fp_and_fn_headers_say_which_class_they_follow(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    model = window.image_list.model
    headers = lambda: [model.headerData(c, Qt.Horizontal) for c in (2, 4, 5)]  # noqa: E731
    assert headers() == ["class Fβ (all)", "Σ FP px", "Σ FN px"]
    window.viewer.update_settings(class_id=3)
    assert headers() == ["Fβ class 3", "FP px (3)", "FN px (3)"]
    assert "now class 3: square" in model.headerData(4, Qt.Horizontal, Qt.ToolTipRole)


def test_typing_a_threshold_applies_it_once_on_enter(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    seen = []
    window.viewer.engine.events.scoring.connect(lambda event: seen.append(event.new.threshold))
    window.layout_.show_panel(window.settings_dock)
    spin = window.controls.threshold_spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "0.3")
    assert seen == [] and window.viewer.scoring.threshold == 0.5        # not 0, not 0.3 yet
    qtbot.keyClick(spin, Qt.Key_Return)
    assert seen == [0.3] and window.viewer.scoring.threshold == 0.3
    spin.stepBy(1)                                  # an arrow step lands on the grid: 0.301, not 0.30100000000000005
    assert seen == [0.3, 0.301]


def test_beta_reads_the_same_in_the_field_the_summary_and_the_caption(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    window.controls.beta_slider.setValue(80)          # 10 ** 0.8 = 6.3096...
    settle(qtbot, window)
    assert window.viewer.scoring.beta == 6.31 and window.controls.beta_spin.text() == "6.31"
    assert "image F6.31 " in window.class_table.summary.text()
    from segviewer.gui.window_exports import view_caption
    assert " β 6.31 · " in view_caption(window.viewer)


EXTREMES = [dict(threshold=0.123456789, beta=1e6, smooth=1e6, boundary=65535),
            dict(threshold=1e-7, beta=1e-9, smooth=1e-9, boundary=1),
            dict(threshold=0.99999, beta=6.3096, smooth=0.0, boundary=0)]
SHOWN = [("0.123456789", "1000000", "1000000", "65535 px band"),
         ("0.0000001", "0.000000001", "0.000000001", "1 px band"),
         ("0.99999", "6.3096", "0", "off (all pixels)")]


@pytest.mark.parametrize("values, shown", list(zip(EXTREMES, SHOWN)))
def test_number_fields_show_and_keep_exactly_what_the_engine_holds(qtbot, window, demo_copy, values, shown):
    from segviewer.core.scoring import Scoring
    open_at(qtbot, window, demo_copy, (1024, 700))
    window.layout_.show_panel(window.settings_dock)
    engine = window.viewer.engine
    engine.scoring = Scoring(**values)                    # a script's settings, at the ends of the engine's range
    settle(qtbot, window)
    c = window.controls
    spins = (c.threshold_spin, c.beta_spin, c.smooth_spin, c.boundary_spin)
    assert tuple(spin.text() for spin in spins) == shown
    for spin in spins:                                    # Enter, then away: nothing is written back
        spin.setFocus()
        qtbot.keyClick(spin, Qt.Key_Return)
        window.canvas.view_widget.setFocus()
    settle(qtbot, window)
    assert engine.scoring == Scoring(**values)


def test_a_cheap_pixel_count_comes_with_the_step_and_the_table_never_says_computing(qtbot, window, demo_copy,
                                                                                    monkeypatch):
    monkeypatch.setattr("segviewer.gui.viewer.SYNC_OVERLAY_MS", 1e9)   # "cheap" whatever the machine's load
    open_at(qtbot, window, demo_copy, (1024, 700))
    v = window.viewer
    v.update_settings(boundary=8)             # a band: the index cannot answer, the image's pixels are counted
    settle(qtbot, window)
    drawn = []
    update = window.class_table.update_scores
    window.class_table.update_scores = lambda *a, **k: (drawn.append(a[2][0][0] is not None), update(*a, **k))
    v.update_settings(threshold=0.37)
    assert v.image_counts is not None          # counted within the step, not on a worker's later turn
    settle(qtbot, window)
    assert drawn[0] and all(drawn)             # drawn with the image's numbers from the first ("computing…" never)


def test_a_region_zoom_does_not_carry_to_the_next_image(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    box = window.canvas.viewbox
    fitted = box.viewRange()
    window.canvas.zoom_to(10, 10, 30, 30)              # a click on an error region
    assert box.viewRange() != fitted
    qtbot.keyClick(window, Qt.Key_Right)
    settle(qtbot, window)
    np.testing.assert_allclose(box.viewRange(), fitted)


def test_a_failed_image_shows_its_photo_its_ground_truth_and_why(qtbot, window, demo_copy):
    (demo_copy / "logits" / "scene_005.npy").write_bytes(b"\x93NUMPY broken")
    open_at(qtbot, window, demo_copy, (1024, 700))
    v = window.viewer
    bad = v.dataset.names.index("scene_005")
    window.show_image(bad)
    qtbot.waitUntil(lambda: window.canvas.overlay_item.image is not None and window.failed_image.showing(),
                    timeout=20000)
    settle(qtbot, window)
    assert "scene_005.npy" in window.canvas.banner.text()
    photo = np.asarray(Image.open(demo_copy / "images" / "scene_005.png").convert("RGB"))
    labels = np.asarray(Image.open(demo_copy / "gt" / "scene_005.png"))
    assert np.array_equal(window.canvas.image_item.image, photo)
    codes = window.canvas.overlay_item.image
    assert np.array_equal(codes[labels < 7], labels[labels < 7]) and (codes[labels == 255] == 7).all()
    assert "image not loaded" in window.class_table.summary.text() and "computing" not in \
        window.class_table.summary.text().split("│")[0]
    assert window.canvas.legend.text().startswith("what could be read")


def test_masks_say_why_there_are_no_curves_and_argmax_moves_the_markers(qtbot, window, demo_copy):
    from segviewer.core.options import layout_from_folder
    from segviewer.gui.curves import NO_PROBABILITIES
    window.open_options(layout_from_folder(demo_copy, prefer="masks").options())
    settle(qtbot, window)
    assert window.curves.note.text() == NO_PROBABILITIES and window.curves.note.isVisibleTo(window.curves)
    window.actions_.open_folder(demo_copy)           # logits: curves, then argmax mode
    settle(qtbot, window)
    window.viewer.update_settings(class_id=ALL_CLASSES, argmax=True)
    settle(qtbot, window)
    on_f, on_pr, _brushes = window.curves._marker_items
    assert not window.curves.threshold_line.isVisible() and not on_f.isVisible()
    scores = window.viewer.dataset_scores()
    classes = [c for c, *_ in window.curves._markers]
    x, y = on_pr.getData()
    np.testing.assert_allclose(x, scores.recall.numpy()[classes])
    np.testing.assert_allclose(y, scores.precision.numpy()[classes])


def test_save_view_at_the_images_own_resolution_with_legend_and_caption(qtbot, window, demo_copy, tmp_path):
    open_at(qtbot, window, demo_copy, (1024, 700))
    h, w = window.canvas.image_shape
    assert window.exports.save_view(str(tmp_path / "one.png"), scale=1)
    one = Image.open(tmp_path / "one.png")
    assert one.size[0] == w and one.size[1] > h + 20                 # the legend and caption below the image
    pane = np.asarray(one.convert("RGB"))[:h]
    photo = np.asarray(Image.open(demo_copy / "images" / window.viewer.dataset.items[window.viewer.current].image
                                  .name).convert("RGB"))
    codes = window.canvas.overlay_item.image
    clear = window.canvas.overlay_item.lut[codes][..., 3] == 0           # where nothing is painted: the photo itself
    assert np.abs(pane[clear].astype(int) - photo[clear]).max() <= 1
    assert window.exports.save_view(str(tmp_path / "two.png"), scale=2)
    assert Image.open(tmp_path / "two.png").size[0] == 2 * w
    window.viewer.update_settings(layout="side by side")
    settle(qtbot, window)
    assert window.exports.save_view(str(tmp_path / "both.png"), scale=1)
    assert Image.open(tmp_path / "both.png").size[0] == 2 * w + 8


def test_h_hides_the_panels_and_brings_them_back(qtbot, window):
    window.resize(1024, 700)
    qtbot.wait(50)
    shown = [d for d in window.layout_.docks if d.isVisible()]
    qtbot.keyClick(window, Qt.Key_H)
    assert not any(d.isVisible() for d in window.layout_.docks)
    qtbot.keyClick(window, Qt.Key_H)
    assert [d for d in window.layout_.docks if d.isVisible()] == shown


def test_the_window_command_shows_the_photos_beside_the_gt(demo_dir):
    from segviewer.cli import build_gui_parser
    from segviewer.cli.options import data_options_from_args
    from segviewer.cli.window import with_photos
    args = build_gui_parser().parse_args(["--gt", str(demo_dir / "gt"), "--masks", str(demo_dir / "masks"),
                                          "--classes", str(demo_dir / "classes.json")])
    assert data_options_from_args(args).images_dir is None
    assert with_photos(data_options_from_args(args)).images_dir == demo_dir / "images"
    bare = build_gui_parser().parse_args(["--gt", str(demo_dir / "gt"), "--masks", str(demo_dir / "masks")])
    assert data_options_from_args(bare).classes is None                  # the class names beside it too
    assert with_photos(data_options_from_args(bare)).classes == str(demo_dir / "classes.json")
    counted = build_gui_parser().parse_args(["--gt", str(demo_dir / "gt"), "--masks", str(demo_dir / "masks"),
                                             "--num-classes", "7"])
    assert with_photos(data_options_from_args(counted)).classes is None  # a class count given: no file added


def test_a_painted_cell_shows_its_own_roles_not_its_neighbours(qtbot, window, demo_copy):
    """Cells are painted from one multiData call each; a role a cell does not have is cleared, not left over from
    the cell painted before it (the swatch's colour behind the class name, a number's alignment on a name)."""
    open_at(qtbot, window, demo_copy, (1024, 700))
    view = window.class_table.view
    image = view.viewport().grab().toImage()
    x = view.horizontalHeader().sectionViewportPosition(1) + 2
    names = {image.pixelColor(x, view.rowViewportPosition(r) + 2).name() for r in range(7)}
    swatches = {image.pixelColor(2, view.rowViewportPosition(r) + 2).name() for r in range(7)}
    assert len(names) == 1 and len(swatches) == 7 and not names & swatches
    lst = window.image_list.view
    picture = lst.viewport().grab().toImage()
    row, left = lst.rowViewportPosition(1), lst.horizontalHeader().sectionViewportPosition(NAME)
    inked = [x for x in range(left, left + lst.horizontalHeader().sectionSize(NAME))
             if any(picture.pixelColor(x, row + y).lightness() < 128 for y in range(4, 14))]
    assert inked and inked[0] - left < 12                   # the name starts at the left of its cell
