"""The boundary band on VOC-style data: ignore pixels outline every object, and the object's edge is there."""
import numpy as np

import segviewer
from helpers import make_dataset


def test_the_band_scores_an_object_outlined_with_ignore(tmp_path):
    """VOC-style: every object outlined with ignore; its edge is there, so the band scores it (it used to be "—")."""
    gt = np.zeros((32, 32), np.uint8)
    gt[6:26, 6:26] = 255                      # a 2-px ignore outline ...
    gt[8:24, 8:24] = 1                        # ... around a 16x16 square
    logits = np.zeros((2, 32, 32), np.float32)
    logits[0] = 4.0
    logits[:, 10:24, 8:24] = [[[0.0]], [[4.0]]]   # the model misses the square's top two rows
    make_dataset(tmp_path / "voc", [logits], [gt])
    with segviewer.open(folder=tmp_path / "voc", num_classes=2, scoring=segviewer.Scoring(boundary=2)) as ins:
        table = ins.dataset_scores()
    # band 2: the square's outer two rings, 16² - 12² = 112 px, 32 of them (rows 8-9) missed; outside the outline
    # the class-0 pixels 4-adjacent to it (rows/cols 5 and 26) and their 8-neighbours: the 24x24 - 20x20 frame
    # less its four corners = 172 px, all right; the missed rows are class 0's false positives
    assert table["tp"].tolist()[:2] == [172, 80]
    assert table["fn"].tolist()[:2] == [0, 32] and table["fp"].tolist()[:2] == [32, 0]
