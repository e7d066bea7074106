"""The Calibration tab shows the engine's reliability diagram for the selected class, dataset-wide or per image."""
import numpy as np

from helpers import open_with_tab, settle
from segviewer.core.calibration import TOP_LABEL
from segviewer.gui.calibration_panel import CalibrationController, CalibrationPanel


def open_with_panel(qtbot, window, demo_copy):
    return open_with_tab(qtbot, window, demo_copy, CalibrationPanel, CalibrationController, window.viewer)


def test_dataset_and_image_reliability_equal_the_engine(qtbot, window, demo_copy):
    panel, controller = open_with_panel(qtbot, window, demo_copy)
    v = window.viewer
    controller.refresh()
    qtbot.waitUntil(lambda: panel.shown is not None, timeout=30000)
    want = v.engine.calibration.reliability(TOP_LABEL, 15)
    assert np.array_equal(panel.shown.pixels, want.pixels)
    assert "top label · dataset" in panel.summary.text() and f"{want.ece:.4f}" in panel.summary.text()
    v.update_settings(class_id=2)
    panel.scope.setCurrentText("image")
    qtbot.waitUntil(lambda: panel.shown is not None and panel.shown.class_id == 2
                    and v.jobs.is_current("calibration"), timeout=30000)
    want = v.engine.calibration.reliability(2, 15, image=v.current)
    np.testing.assert_array_equal(panel.shown.pixels, want.pixels)
    np.testing.assert_allclose(panel.shown.frequency, want.frequency, equal_nan=True)
    panel.bins.setValue(5)
    qtbot.waitUntil(lambda: len(panel.shown.pixels) == 5, timeout=30000)


def test_masks_get_a_plain_message(qtbot, window, demo_copy):
    from segviewer.core.options import layout_from_folder
    panel = CalibrationPanel()
    qtbot.addWidget(panel)
    controller = CalibrationController(window.viewer, panel)
    controller.active = True
    assert window.open_options(layout_from_folder(demo_copy, prefer="masks").options())
    settle(qtbot, window)
    controller.refresh()
    assert "needs logits" in panel.summary.text()
