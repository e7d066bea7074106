"""show_inspector: the window on an Inspector's dataset and Scoring, without blocking where a Qt loop runs."""
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
