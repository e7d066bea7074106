"""show_inspector: the window on an Inspector's dataset and Scoring, without blocking where a Qt loop runs."""
import numpy as np
import pytest

import segviewer
from helpers import settle

from core.test_model_source import TinySeg, make_images
from segviewer.gui.show import show_inspector


def test_show_opens_the_inspectors_dataset_and_scoring(qtbot, tmp_path):
    root = make_images(tmp_path / "d")
    ins = segviewer.open(gt=root / "gt", images=root / "images", model=TinySeg(), device="cpu",
                         scoring=segviewer.Scoring(threshold=(0.3, 0.4, 0.6), beta=2.0))
    window = show_inspector(ins, block=False)
    qtbot.addWidget(window)
    settle(qtbot, window)
    viewer = window.viewer
    assert viewer.engine is ins                      # one engine for the script and the window
    assert viewer.dataset.names == ins.names
    shown = viewer.dataset_scores()
    expected = ins.dataset_scores()
    assert shown.fbeta.tolist() == pytest.approx(expected["fbeta"].tolist(), nan_ok=True)
    assert viewer.settings.scoring is ins.scoring and ins.scoring.threshold == (0.3, 0.4, 0.6)
    assert viewer.scoring.beta == 2.0
    window.close()


def test_notebook_and_window_share_one_scoring_both_ways(qtbot, demo_copy):
    import threading
    from PySide6.QtWidgets import QApplication
    from test_consistency import DATASET_FBETA, IMAGE_FBETA, table_column
    ins = segviewer.open(folder=demo_copy, compare=demo_copy / "logits")
    window = show_inspector(ins, block=False)
    qtbot.addWidget(window)
    settle(qtbot, window)
    controls, v = window.controls, window.viewer
    # the notebook sets the engine's settings: the slider and the numbers follow at once (same thread)
    ins.scoring = segviewer.Scoring(threshold=0.3, beta=2.0)
    assert controls.threshold_slider.value() == 300 and controls.beta_spin.value() == 2.0
    assert v.scoring is ins.scoring
    settle(qtbot, window)
    with segviewer.open(folder=demo_copy, scoring=ins.scoring) as alone:
        np.testing.assert_allclose(table_column(window, DATASET_FBETA), alone.dataset_scores()["fbeta"], equal_nan=True)
        np.testing.assert_allclose(table_column(window, IMAGE_FBETA), alone.image_scores(v.current)["fbeta"],
                                   equal_nan=True)
    # the window sets them: ins.scoring is what the slider says
    controls.threshold_slider.setValue(420)
    assert ins.scoring.threshold == 0.42 and ins.scoring.beta == 2.0 and v.scoring is ins.scoring
    window.insights.compare_panel.threshold.setValue(0.65)
    assert ins.compare_scoring.threshold == 0.65
    # from another thread: marshalled to the window's, which follows within one turn of its event loop
    setter = threading.Thread(target=lambda: setattr(ins, "scoring", segviewer.Scoring(argmax=True, beta=0.5)))
    setter.start()
    setter.join()
    assert controls.mode.currentText() == "threshold"            # not yet: the event waits for the GUI thread
    QApplication.processEvents()
    assert controls.mode.currentText() == "argmax" and controls.beta_spin.value() == 0.5
    ins.compare_scoring = segviewer.Scoring(threshold=0.15)
    assert window.insights.compare_panel.threshold.value() == pytest.approx(0.15)
    settle(qtbot, window)
    with segviewer.open(folder=demo_copy, scoring=ins.scoring) as alone:
        np.testing.assert_allclose(table_column(window, DATASET_FBETA), alone.dataset_scores()["fbeta"], equal_nan=True)
    window.close()
    ins.scoring = segviewer.Scoring(threshold=0.2)                # the window is gone; the engine carries on
    assert ins.dataset_scores() is not None and not ins.closed
    ins.close()


def test_a_script_that_closes_its_engine_leaves_the_window_empty_and_running(qtbot, demo_copy):
    ins = segviewer.open(folder=demo_copy)
    window = show_inspector(ins, block=False)
    qtbot.addWidget(window)
    settle(qtbot, window)
    assert window.class_table.model.rows
    ins.close()                                  # e.g. the end of a `with segviewer.open(...) as ins:` block
    assert window.viewer.engine is None and window.viewer.is_settled()
    assert window.class_table.model.rows == [] and window.image_list.model.rowCount() == 0
    assert "closed by the script" in window.last_error and window.isVisible()
    window.close()
