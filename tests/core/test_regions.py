"""Error regions and boundary bands on hand-built cases."""
import numpy as np
import torch

from segviewer.core.counts import count_threshold, prepare_target
from segviewer.core.regions import boundary_band, error_regions, restrict_target


def test_known_missed_object_and_hallucination():
    class_map = np.zeros((20, 30), np.int64)
    class_map[2:6, 3:9] = 2            # an object of class 2 the model missed entirely
    fn = np.zeros_like(class_map, bool)
    fn[2:6, 3:9] = True
    fn[15, 25] = True                  # a one-pixel speck
    regions = error_regions(fn, class_map, "missed", min_area=1)
    assert regions[0].class_id == 2 and regions[0].area == 24 and regions[0].bbox == (3, 2, 9, 6)
    assert regions[1].area == 1 and regions[1].class_id == 0
    assert len(error_regions(fn, class_map, "missed", min_area=2)) == 1


def test_component_spanning_two_classes_is_split():
    class_map = np.zeros((10, 10), np.int64)
    class_map[:, 5:] = 1
    mask = np.zeros((10, 10), bool)
    mask[4:6, 2:8] = True
    regions = error_regions(mask, class_map, "hallucinated")
    assert sorted((r.class_id, r.area, r.bbox) for r in regions) == [(0, 6, (2, 4, 5, 6)), (1, 6, (5, 4, 8, 6))]


def test_boundary_band_and_restricted_counts():
    labels = np.zeros((10, 10), np.int64)
    labels[:, 5:] = 1
    labels[0, 0] = 255
    band = boundary_band(labels, 2, 255)
    # columns 3..6 lie within 2 px (chessboard) of the 4|5 edge
    assert band[5].tolist() == [False, False, False, True, True, True, True, False, False, False]
    edge = boundary_band(labels, 1, 255)
    assert not edge[0, 0] and edge[0, 1] and edge[1, 0] and not edge[1, 1]   # the ignore pixel borders, is no edge
    probs = torch.zeros(2, 10, 10)
    probs[0] = 1.0                                   # predicts class 0 everywhere
    probs[1] = 0.0
    target = prepare_target(torch.from_numpy(labels), 2, 255)
    inner = restrict_target(target, torch.from_numpy(band))
    c = count_threshold(probs, inner, 0.5)
    # class 0 next to the ignore pixel at (0, 0) has an edge there: (0, 1) and (1, 0), 7 scored pixels within 2 px
    assert band[:3, :3].tolist() == [[True, True, True], [True, True, True], [True, True, False]]
    assert c.tp.tolist() == [27, 0] and c.fp.tolist() == [20, 0] and c.fn.tolist() == [0, 20]
    outer = restrict_target(target, ~torch.from_numpy(band))
    assert count_threshold(probs, outer, 0.5).tp.tolist() == [22, 0]   # 49 scored class-0 pixels minus 27 in the band
