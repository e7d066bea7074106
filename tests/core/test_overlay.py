import numpy as np
import pytest
import torch

from segviewer.core.counts import count_hard, count_threshold, prepare_target
from segviewer.core.overlay import (ALL_CLASSES, FN, FP, IGNORE, IGNORE_HATCH, TN, TP, class_lut, code_counts,
                                    error_lut, hard_codes, prepare_maps, threshold_codes)


def setup(seed=0, c=4, h=16, w=20):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(c, h, w, generator=g) * 2, 0)
    labels = torch.randint(0, c, (h, w), generator=g)
    labels[:2] = 255
    return probs, labels


def test_known_pixels():
    probs = torch.tensor([[[0.7, 0.2, 0.6, 0.1]], [[0.3, 0.8, 0.4, 0.9]]]).float()  # 2 classes, 1x4
    labels = torch.tensor([[0, 0, 1, 255]])
    maps = prepare_maps(labels, 255, probs.clone(), None)
    codes = threshold_codes(maps, probs, 0, 0.5)
    assert codes[0, :3].tolist() == [TP, FN, FP] and codes[0, 3] in (IGNORE, IGNORE_HATCH)
    all_codes = threshold_codes(maps, probs, ALL_CLASSES, 0.5)
    # px0 gt0 p0=.7 -> TP; px1 gt0 p0=.2 but class 1 at .8 -> FP; px2 gt1 p1=.4, other .6 -> FP
    assert all_codes[0, :3].tolist() == [TP, FP, FP]
    assert threshold_codes(maps, probs, ALL_CLASSES, 0.75)[0, :3].tolist() == [FN, FP, FN]


def test_codes_agree_with_counts_for_every_class_and_threshold():
    probs, labels = setup()
    target = prepare_target(labels, 4, 255)
    maps = prepare_maps(labels, 255, probs.clone(), None)
    assert torch.equal(probs, setup()[0])  # prepare_maps restores what it masks in place
    for t in (0.1, 0.3, 0.5):
        counts = count_threshold(probs, target, t)
        for c in range(4):
            n = code_counts(threshold_codes(maps, probs, c, t))
            assert (n["tp"], n["fp"], n["fn"]) == (int(counts.tp[c]), int(counts.fp[c]), int(counts.fn[c]))
            assert n["ignore"] == 40
    assert torch.equal(maps.pred_argmax, probs.argmax(0))
    hard = count_hard(maps.pred_argmax, target)
    for c in range(4):
        n = code_counts(hard_codes(maps, maps.pred_argmax, c))
        assert (n["tp"], n["fp"], n["fn"]) == (int(hard.tp[c]), int(hard.fp[c]), int(hard.fn[c]))
    n = code_counts(hard_codes(maps, maps.pred_argmax, ALL_CLASSES))
    assert n["tp"] == int(hard.tp.sum()) and n["fp"] + n["fn"] == int(hard.fn.sum()) and n["tn"] == 0


def test_per_class_thresholds_all_classes():
    probs, labels = setup(1)
    maps = prepare_maps(labels, 255, probs.clone(), None)
    thr = torch.tensor([0.2, 0.5, 0.5, 0.5])
    codes = threshold_codes(maps, probs, ALL_CLASSES, thr)
    y, x = 5, 7
    g = int(labels[y, x])
    others = [c for c in range(4) if c != g and probs[c, y, x] > thr[c]]
    expected = TP if probs[g, y, x] > thr[g] else (FP if others else FN)
    assert codes[y, x] == expected


def test_luts():
    lut = error_lut("classic", show=(True, False, True), opacity=0.5)
    assert lut[TN, 3] == 0 and lut[FP, 3] == 0 and tuple(lut[TP, :3]) == (0, 200, 0) and lut[TP, 3] == int(128 * 0.45) and lut[FN, 3] == 128
    assert lut[IGNORE, 3] > 0 and tuple(lut[FN, :3]) == (40, 90, 255)
    cb = error_lut("colour-blind safe")
    assert tuple(cb[TP, :3]) == (0, 158, 115)
    cl = class_lut(np.array([[1, 2, 3], [4, 5, 6]], np.uint8))
    assert tuple(cl[1, :3]) == (4, 5, 6) and cl[255, 3] == 0 and cl[2, 3] > 0


@pytest.mark.parametrize("interior", [False, True])
def test_a_figure_shows_the_band_the_window_shows(tmp_path, interior):
    """export --figures with --boundary painted errors over the whole image while its scores counted the band only;
    the figure's pixels are now the window's canvas pixels (a correct background pixel left unpainted, as the
    window's errors view leaves it by default)."""
    import segviewer
    from helpers import make_dataset
    from segviewer.core.figures import overlay_rgba
    from segviewer.core.overlay import OUTSIDE, error_lut
    rng = np.random.default_rng(4)
    gt = np.zeros((12, 14), np.int64)
    gt[3:9, 4:11] = 1
    gt[0, 0] = 255
    root = make_dataset(tmp_path / "d", [rng.normal(size=(2, 12, 14)).astype(np.float32)], [gt])
    scoring = segviewer.Scoring(threshold=0.4, boundary=2, interior=interior)
    with segviewer.open(gt=root / "gt", logits=root / "logits", scoring=scoring) as ins:
        loaded = ins.load(0)
        canvas = loaded.overlay(ins.scoring).codes
        figure = overlay_rgba(loaded.sample, ins.classes, ins.scoring)
    assert (canvas == OUTSIDE).any() and (canvas != OUTSIDE).any()
    np.testing.assert_array_equal(figure, error_lut()[canvas])
