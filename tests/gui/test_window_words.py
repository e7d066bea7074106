"""What the window says about the settings it shows: the Scores line and the title name the chosen class, argmax
says nothing of thresholds it does not use, and the readout names the pixel under the pointer."""
import numpy as np
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtWidgets import QApplication

import segviewer
from helpers import settle


def open_demo(qtbot, window, root):
    assert window.actions_.open_folder(root)
    settle(qtbot, window)


def test_the_readout_follows_the_pixel_under_a_still_pointer(qtbot, window, demo_copy):
    """A zoom, side by side or hidden panels move the image under a pointer that stays: the readout names the
    pixel now under it, not the one it was over."""
    from PySide6.QtGui import QCursor
    open_demo(qtbot, window, demo_copy)
    canvas, view = window.canvas, window.canvas.view_widget
    centre = view.rect().center()
    QCursor.setPos(view.mapToGlobal(centre))
    canvas.view_widget.scene().sigMouseMoved.emit(view.mapToScene(centre))

    def under_pointer() -> str:
        point = canvas.viewbox.mapSceneToView(view.mapToScene(centre))
        return f"x {int(np.floor(point.x()))}, y {int(np.floor(point.y()))}"
    before = under_pointer()
    assert canvas.readout.text().startswith(before + " ")
    canvas.viewbox.setRange(xRange=(0, 40), yRange=(0, 30), padding=0)
    QApplication.processEvents()
    assert under_pointer() != before and canvas.readout.text().startswith(under_pointer() + " ")
    window.viewer.update_settings(threshold=1.0)         # nothing passes: the readout says so, as the overlay does
    settle(qtbot, window)
    assert canvas.readout.text().startswith(under_pointer() + " ") and " · predicted nothing (top " in \
        canvas.readout.text() and canvas.readout.text().endswith("≤ threshold 1)")
    window.viewer.update_settings(threshold=0.5)
    settle(qtbot, window)
    assert "predicted nothing" not in canvas.readout.text()
    QApplication.sendEvent(view.viewport(), QEvent(QEvent.Leave))      # the pointer went to another panel
    assert canvas.readout.text() == ""
    QCursor.setPos(view.mapToGlobal(centre))
    canvas.view_widget.scene().sigMouseMoved.emit(view.mapToScene(centre))
    QCursor.setPos(view.mapToGlobal(view.rect().bottomRight()) + QPoint(50, 50))    # off the image
    canvas.viewbox.setRange(xRange=(0, 80), yRange=(0, 60), padding=0)
    QApplication.processEvents()
    assert canvas.readout.text() == "" and not canvas.readout.isVisible()


def test_one_class_chosen_the_scores_line_and_the_title_are_that_class_s(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    v = window.viewer
    with segviewer.open(folder=demo_copy) as ins:
        image, dataset = ins.scores(ins.image_counts(v.current)), ins.scores(ins.dataset_counts().total)
    assert window.class_table.summary.text().startswith("<span style='color:gray'>mean</span>")
    assert f"image F1 <b>{float(np.nanmean(image.fbeta.numpy())):.3f}</b>" in window.class_table.summary.text()
    v.update_settings(class_id=2)
    settle(qtbot, window)
    shown, title = window.class_table.summary.text(), window.canvas.title.text()
    assert shown.startswith("<b>2: ellipse</b>:")
    assert f"image F1 <b>{float(image.fbeta[2]):.3f}</b>" in shown and f"IoU {float(image.iou[2]):.3f}" in shown
    assert f"dataset F1 <b>{float(dataset.fbeta[2]):.3f}</b>" in shown
    assert title.endswith("errors of 2: ellipse</span>"), title


def test_argmax_says_nothing_of_per_class_thresholds_it_does_not_use(qtbot, window, demo_copy):
    open_demo(qtbot, window, demo_copy)
    assert not any(window.actions_.entries[name].isEnabled() for name in ("axial", "coronal", "cycle_window"))
    c = window.controls
    c.best_button.click()
    assert window.viewer.scoring.per_class and not c.per_class_label.isHidden()
    c.mode.setCurrentText("argmax")
    assert window.viewer.scoring.argmax and window.viewer.scoring.per_class      # kept for the way back
    assert c.per_class_label.isHidden() and not c.best_button.isEnabled() and not c.threshold_slider.isEnabled()
    c.mode.setCurrentText("threshold")
    assert not c.per_class_label.isHidden() and c.best_button.isEnabled()


def test_a_readout_that_fits_the_view_is_one_line(qtbot, window, demo_copy):
    """Word wrap let the label pick a narrow 'nice' width: a 400-px line broke in two over a 740-px view."""
    open_demo(qtbot, window, demo_copy)
    readout, view = window.canvas.readout, window.canvas.view_widget
    text = "x 98, y 132 · GT background (p=0.000) · predicted bar (p=0.998)"
    readout.setText(text)
    assert readout.fontMetrics().horizontalAdvance(text) < view.width()
    assert readout.height() < 2 * readout.fontMetrics().height() and readout.width() <= view.width()
    readout.setText(text * 4)                           # longer than the view: wrapped inside it
    assert readout.width() == view.width() and readout.height() > 2 * readout.fontMetrics().height()
    readout.setText("x 1, y 2")
    assert readout.width() < view.width() // 4
