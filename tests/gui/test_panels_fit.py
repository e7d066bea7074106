"""The Scores tabs, the side panels and the canvas legend at a laptop's 1024×700 and a desktop's 1920×1080: every
axis, name and share shows, the spare height goes where it is used, and nothing resizes while the numbers change."""
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QApplication

from helpers import open_at, settle
from segviewer.gui.curves import SWATCH

SIZES = [(1024, 700), (1920, 1080)]
DEMO_CLASSES = ["background", "disc", "ellipse", "square", "triangle", "bar", "dot"]


def inside(item, plot) -> bool:
    """A plot's axis (its own area, ticks and their text) or label lies wholly within the plot's widget, not cut off
    by the panel's edge."""
    if hasattr(item, "document"):             # a label: its text, without the text document's blank margin
        margin = item.document().documentMargin()
        own = item.boundingRect().adjusted(margin, margin, -margin, -margin)
    else:
        own = QRectF(0, 0, item.width(), item.height())
    shown = plot.mapFromScene(item.mapRectToScene(own)).boundingRect()
    return QRectF(plot.viewport().rect()).contains(QRectF(shown))


def show_tab(qtbot, window, tab) -> None:
    window.bottom_tabs.setCurrentWidget(tab)
    qtbot.wait(100)


@pytest.mark.parametrize("size", SIZES)
def test_curves_show_whole_name_their_metric_and_scope_and_a_dark_legend(qtbot, window, demo_copy, size):
    open_at(qtbot, window, demo_copy, size)
    qtbot.waitUntil(lambda: window.viewer.index is not None, timeout=60000)
    curves = window.curves
    show_tab(qtbot, window, curves)
    for plot in (curves.vs_threshold, curves.pr):
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert inside(axis, plot) and inside(axis.label, plot), (size, side)
    assert curves.vs_threshold.getAxis("bottom").labelText == "threshold"
    assert curves.vs_threshold.getAxis("left").labelText == "dataset F1"
    assert curves.pr.getAxis("left").labelText == "dataset precision"
    legend = curves.legend
    assert [legend.item(k).text() for k in range(legend.count())] == DEMO_CLASSES
    for k in range(legend.count()):           # every entry whole on screen, its swatch in its class's colour
        assert legend.viewport().rect().contains(legend.visualItemRect(legend.item(k))), DEMO_CLASSES[k]
        swatch = legend.item(k).icon().pixmap(SWATCH).toImage()
        assert swatch.pixelColor(SWATCH.width() // 2, SWATCH.height() // 2) == QColor(*window.viewer.classes.colors[k])
    image = legend.grab().toImage()           # the names' text is dark on the light plot background
    triangle = legend.visualItemRect(legend.item(4)).adjusted(SWATCH.width() + 6, 0, 0, 0)
    darkest = min(image.pixelColor(x, y).lightness() for x in range(triangle.left(), triangle.right())
                  for y in range(triangle.top(), triangle.bottom()))
    assert darkest < 80

    window.viewer.update_settings(class_id=2, beta=2.0)
    qtbot.waitUntil(lambda: legend.count() == 3)
    assert [legend.item(k).text() for k in range(3)] == ["F2 ellipse", "precision", "recall"]
    label, axis = curves.vs_threshold.getAxis("left").labelText, curves.vs_threshold.getAxis("left")
    assert label in ("dataset F2 · P · R", "dataset F2/P/R")     # the longer where the axis has room for it
    assert QFontMetrics(axis.label.font()).horizontalAdvance(label) <= axis.height()
    assert inside(axis.label, curves.vs_threshold)


def test_a_3d_dataset_s_curves_say_they_are_pooled(qtbot, window, demo3d_dir, tmp_path):
    import shutil
    open_at(qtbot, window, shutil.copytree(demo3d_dir, tmp_path / "demo3d"), (1920, 1080))
    qtbot.waitUntil(lambda: window.viewer.index is not None, timeout=60000)
    show_tab(qtbot, window, window.curves)
    assert window.curves.vs_threshold.getAxis("left").labelText == "dataset pooled F1"
    assert window.curves.pr.getAxis("bottom").labelText == "dataset pooled recall"


def test_confusion_names_both_axes_writes_every_share_and_tells_each_cell_on_hover(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))
    panel = window.confusion
    show_tab(qtbot, window, panel)
    qtbot.waitUntil(lambda: panel.matrix is not None, timeout=30000)
    qtbot.wait(50)
    matrix = window.analysis.dataset_confusion
    assert panel.matrix.shape == (7, 8)
    ticks = [text for _pos, text in panel.plot.getAxis("bottom")._tickLevels[0]]
    for tick, name in zip(ticks, DEMO_CLASSES + ["none"]):      # names, elided where the cell is narrow
        assert tick == name or (tick.endswith("…") and name.startswith(tick[:-1]) and len(tick) > 3), tick
    assert [text for _pos, text in panel.plot.getAxis("left")._tickLevels[0]] == DEMO_CLASSES
    box = panel.plot.getViewBox().boundingRect()
    cell_w, cell_h = box.width() / 8, box.height() / 7
    assert cell_h < 16                        # a laptop's short cells: the shares in a smaller type
    shares = {(round(label.pos().y() - 0.5), round(label.pos().x() - 0.5)): label for label in panel.labels}
    rows = matrix.sum(1)
    for g, j in zip(*np.nonzero(matrix)):
        label, share = shares[g, j], matrix[g, j] / rows[g]
        assert label.isVisible() and label.toPlainText() == (f"{100 * share:.0f}%" if share >= 0.01 else "<1%")
        metrics = QFontMetrics(label.textItem.font())
        assert metrics.height() <= cell_h + 1 and metrics.horizontalAdvance(label.toPlainText()) <= cell_w

    view = panel.plot.getViewBox()
    scene = view.mapViewToScene(QPointF(2.5, 1.5))          # GT disc, predicted ellipse
    qtbot.mouseMove(panel.plot.viewport(), panel.plot.mapFromScene(scene))
    qtbot.waitUntil(lambda: panel.image.toolTip() != "")
    expected = f"GT disc → predicted ellipse: {int(matrix[1, 2]):,} px ({100 * matrix[1, 2] / rows[1]:.1f}% of disc)"
    assert panel.image.toolTip() == expected == panel.readout.text()


def column_blank(window) -> int:
    """Pixels of the Settings panel's viewport below its controls."""
    return window.settings_dock.widget().viewport().height() - window.controls.sizeHint().height()


@pytest.mark.parametrize("size", [(1920, 1080), (1500, 920)])
def test_settings_take_what_they_need_and_review_the_rest(qtbot, window, demo_copy, size):
    window.review.session_override = demo_copy / "qa.sqlite"
    open_at(qtbot, window, demo_copy, size)
    window.review.advance.setChecked(False)
    qtbot.keyClick(window, Qt.Key_R)
    for key in (Qt.Key_2, Qt.Key_3, Qt.Key_4, Qt.Key_5, Qt.Key_2, Qt.Key_3):     # six changes in the history
        qtbot.keyClick(window, key)
        settle(qtbot, window)
    qtbot.wait(100)
    settings, review = window.settings_dock, window.review_dock
    assert window.settings_dock.widget().verticalScrollBar().maximum() == 0     # every control shows
    assert 0 <= column_blank(window) <= 4
    assert review.y() > settings.y() and review.x() == settings.x()
    if size == (1920, 1080):                  # room for the whole Review panel: its history and session path
        assert review.widget().verticalScrollBar().maximum() == 0
    before = settings.height(), review.height()
    window.resize(size[0], size[1] + 120)     # a window resize changes Review's height, not Settings'
    qtbot.wait(150)
    assert settings.height() == before[0] and review.height() == before[1] + 120


def test_a_laptop_window_maximised_on_a_monitor_fits_settings_too(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1024, 700))           # the side bar's tabs, then the wide arrangement
    window.resize(1920, 1080)
    qtbot.wait(200)
    assert window.settings_dock.widget().verticalScrollBar().maximum() == 0
    assert 0 <= column_blank(window) <= 4
    assert window.review_dock.y() > window.settings_dock.y()


def test_a_dragged_settings_height_stays_through_window_resizes(qtbot, window, demo_copy):
    open_at(qtbot, window, demo_copy, (1920, 1080))
    settings = window.settings_dock
    edge = QPoint(settings.x() + settings.width() // 2, settings.geometry().bottom() + 2)   # the separator
    before = settings.height()
    qtbot.mousePress(window, Qt.LeftButton, pos=edge)
    qtbot.mouseMove(window, edge + QPoint(0, 60))
    qtbot.wait(50)                            # the window moves its separator on a timer
    qtbot.mouseRelease(window, Qt.LeftButton, pos=edge + QPoint(0, 60))
    qtbot.wait(50)
    dragged = settings.height()
    assert dragged == before + 60
    window.resize(1920, 1000)
    qtbot.wait(150)
    assert settings.height() == dragged


@pytest.mark.parametrize("size", SIZES)
def test_the_legend_keeps_its_height_while_a_threshold_drag_changes_its_numbers(qtbot, window, demo_copy, size):
    open_at(qtbot, window, demo_copy, size)
    legend, view = window.canvas.legend, window.canvas.view_widget
    heights = set()
    for threshold in (0.116, 0.5, 0.9, 1.0, 0.0, 0.3):     # 1.0: no correct pixel, its note goes; 0.0: Σ FP grows
        window.viewer.update_settings(threshold=threshold)
        settle(qtbot, window)
        QApplication.processEvents()
        assert f"missed&nbsp;{window.viewer.overlay.legend['fn']:,}&nbsp;px" in legend.text()   # this step's
        heights.add((legend.height(), view.height()))
    assert len(heights) == 1, heights
    assert legend.height() >= legend.heightForWidth(legend.width())     # and the text is never cut


def test_the_image_keeps_its_size_when_the_class_or_view_changes_the_legend(qtbot, window, demo_copy):
    """All classes' errors take two legend lines at 1024×700, one class's or the class colours one: the image grew
    and shrank by 18 px under the pointer."""
    open_at(qtbot, window, demo_copy, (1024, 700))
    view, sizes = window.canvas.view_widget, set()
    for change in ({"class_id": 2}, {"class_id": -1}, {"view": "gt"}, {"view": "errors"}, {"class_id": 5}):
        window.viewer.update_settings(**change)
        settle(qtbot, window)
        QApplication.processEvents()
        sizes.add((view.width(), view.height()))
    assert len(sizes) == 1, sizes


@pytest.mark.parametrize("size", SIZES)
def test_the_reliability_diagram_shows_0_to_1_on_a_laptop(qtbot, window, demo_copy, size):
    """At 1024×700 the diagram had ~45 px beside the pixels-per-bin histogram: one '0.5' tick, bars clipped."""
    open_at(qtbot, window, demo_copy, size)
    panel = window.insights.calibration_panel
    show_tab(qtbot, window, panel)
    qtbot.waitUntil(lambda: panel.shown is not None, timeout=30000)
    QApplication.processEvents()
    short = size == (1024, 700)
    assert panel.histogram.isHidden() == short and panel.diagram.getAxis("bottom").label.isVisible() == short
    assert panel.diagram.getAxis("left").height() >= 80       # room for the 0, 0.5 and 1 ticks it is given
    assert inside(panel.diagram.getAxis("bottom"), panel.diagram)
