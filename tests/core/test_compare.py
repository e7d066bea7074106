"""Model A vs model B: hand-built fixed / broken / both-wrong cases, random cases against a pixel loop, tables."""
import numpy as np
import pytest
import torch

from helpers import make_dataset, save_label
from segviewer.core.compare import rank_by_delta
from segviewer.core.compare_pixels import (BOTH_WRONG, BROKEN, FIXED, SAME, compare_codes, compare_lut,
                                           image_changes, pixel_changes, prediction_of)
from segviewer.core.counts import hard_map_from_labels, prepare_target
from segviewer.core.overlay import ALL_CLASSES, IGNORE, IGNORE_HATCH, prepare_maps
from segviewer.core.scoring import Scoring

THR = Scoring(threshold=0.5)
ARGMAX = Scoring(argmax=True)


def setup(labels, c, probs_a=None, probs_b=None, mask_a=None, mask_b=None, sa=THR, sb=THR):
    labels = torch.as_tensor(labels, dtype=torch.int64)
    target = prepare_target(labels, c, 255)
    preds, maps = [], None
    for probs, mask, s in ((probs_a, mask_a, sa), (probs_b, mask_b, sb)):
        probs = None if probs is None else torch.as_tensor(probs, dtype=torch.float32)
        pred_map = None if mask is None else hard_map_from_labels(torch.as_tensor(mask), c, 255)
        m = prepare_maps(labels, 255, probs, pred_map)
        maps = maps or m
        preds.append(prediction_of(probs, pred_map, s, m))
    return target, maps, preds[0], preds[1]


def column(*values):
    return np.array(values, np.float32).reshape(-1, 1, len(values[0]))


def test_hand_built_threshold_mode():
    # 2 classes, 4 pixels with GT 0 0 1 1; class-1 probabilities (class 0 = 1 - p), threshold 0.5
    # A predicts class 1 at pixels 1, 2; B at pixels 2, 3  -> class 1 errors: A {1, 3}, B {}: fixed 2
    pa = np.array([0.2, 0.8, 0.9, 0.3], np.float32)
    pb = np.array([0.1, 0.4, 0.9, 0.7], np.float32)
    target, maps, a, b = setup([[0, 0, 1, 1]], 2, np.stack([1 - pa, pa]).reshape(2, 1, 4),
                               np.stack([1 - pb, pb]).reshape(2, 1, 4))
    ch = image_changes(a, b, target)
    assert ch.fixed.tolist() == [2, 2] and ch.broken.tolist() == [0, 0] and ch.both_wrong.tolist() == [0, 0]
    # B with a higher threshold for class 1 (0.8): B predicts 1 only at pixel 2 -> class 1 error at 3 under both;
    # class 0 (1 - p > 0.5) is still right everywhere under B, wrong at pixels 1 and 3 under A
    b_high = prediction_of(torch.as_tensor(np.stack([1 - pb, pb]).reshape(2, 1, 4)), None,
                           Scoring(threshold=(0.5, 0.8)), None)
    ch = image_changes(a, b_high, target)
    assert ch.fixed.tolist() == [2, 1] and ch.both_wrong.tolist() == [0, 1] and ch.broken.tolist() == [0, 0]
    assert compare_codes(a, b, maps, 1).tolist() == [[SAME, FIXED, SAME, FIXED]]


def test_hand_built_threshold_multi_label_and_all_classes():
    # 3 classes, one pixel of GT 0 where A predicts classes 0 and 2 (an extra), B only class 0
    probs_a = np.array([0.6, 0.0, 0.6], np.float32).reshape(3, 1, 1)
    probs_b = np.array([0.9, 0.05, 0.05], np.float32).reshape(3, 1, 1)
    target, maps, a, b = setup([[0]], 3, probs_a, probs_b)
    ch = image_changes(a, b, target)
    assert ch.fixed.tolist() == [0, 0, 1] and ch.broken.tolist() == [0, 0, 0]
    px = pixel_changes(a, b, target)
    assert (px.fixed, px.broken, px.both_wrong) == (1, 0, 0)
    assert compare_codes(a, b, maps, ALL_CLASSES).tolist() == [[FIXED]]    # A not right (an extra), B right
    assert compare_codes(b, a, maps, ALL_CLASSES).tolist() == [[BROKEN]]


def test_hand_built_argmax_mode_and_ignore():
    # GT 0 1 2 255; A argmax 0 2 1 0, B argmax 1 2 2 1
    def onehot(ids):
        return np.eye(3, dtype=np.float32)[ids].T.reshape(3, 1, 4) * 0.8 + 0.2 / 3 * 0
    target, maps, a, b = setup([[0, 1, 2, 255]], 3, onehot([0, 2, 1, 0]), onehot([1, 2, 2, 1]), sa=ARGMAX, sb=ARGMAX)
    ch = image_changes(a, b, target)
    # pixel 0: A right, B says 1 -> class 0 broken, class 1 broken
    # pixel 1: GT 1, both say 2 -> class 1 both wrong, class 2 both wrong
    # pixel 2: GT 2, A says 1, B right -> class 2 fixed, class 1 fixed
    assert ch.fixed.tolist() == [0, 1, 1] and ch.broken.tolist() == [1, 1, 0]
    assert ch.both_wrong.tolist() == [0, 1, 1]
    # each pixel once by the all-classes rule (the per-class changes count pixels 0-2 under two classes each)
    px = pixel_changes(a, b, target)
    assert (px.fixed, px.broken, px.both_wrong) == (1, 1, 1)
    codes = compare_codes(a, b, maps, ALL_CLASSES)
    assert codes[0, :3].tolist() == [BROKEN, BOTH_WRONG, FIXED] and codes[0, 3] in (IGNORE, IGNORE_HATCH)
    assert compare_codes(a, b, maps, 1)[0, :3].tolist() == [BROKEN, BOTH_WRONG, FIXED]


def test_hand_built_masks_mode():
    # masks: 255 in a mask predicts nothing. GT 0 0 1 1 ; A 0 255 1 0 ; B 1 0 1 1
    target, maps, a, b = setup([[0, 0, 1, 1]], 2, mask_a=np.array([[0, 255, 1, 0]]),
                               mask_b=np.array([[1, 0, 1, 1]]), sa=ARGMAX, sb=ARGMAX)
    ch = image_changes(a, b, target)
    # class 0: pixel 0 broken (B: FN), pixel 1 fixed (A: FN), pixel 3 fixed (A: FP)
    # class 1: pixel 0 broken (B: FP), pixel 3 fixed (A: FN)
    assert ch.fixed.tolist() == [2, 1] and ch.broken.tolist() == [1, 1] and ch.both_wrong.tolist() == [0, 0]


def direct_changes(labels, pred_a, pred_b, c):
    """Pixel by pixel, class by class, from boolean 'predicted' stacks [C, H, W]."""
    fixed, broken, both = np.zeros(c, int), np.zeros(c, int), np.zeros(c, int)
    codes_all = {}
    for y in range(labels.shape[0]):
        for x in range(labels.shape[1]):
            g = labels[y, x]
            if g == 255:
                continue
            for k in range(c):
                ea, eb = pred_a[k, y, x] != (g == k), pred_b[k, y, x] != (g == k)
                fixed[k] += ea and not eb
                broken[k] += eb and not ea
                both[k] += ea and eb
            right_a = pred_a[g, y, x] and pred_a[:, y, x].sum() == 1
            right_b = pred_b[g, y, x] and pred_b[:, y, x].sum() == 1
            codes_all[(y, x)] = int(not right_a) + 2 * int(not right_b)
    return fixed, broken, both, codes_all


def stack_of(pred, c):
    if pred.hard:
        return np.stack([(pred.pred_map == k).numpy() for k in range(c)])
    return (pred.probs > pred.threshold.view(-1, 1, 1)).numpy()


@pytest.mark.parametrize("modes", [("thr", "thr"), ("thr", "argmax"), ("argmax", "argmax"), ("mask", "thr"),
                                   ("mask", "mask"), ("perclass", "argmax")])
def test_random_against_a_pixel_loop(modes):
    rng = np.random.default_rng(len(modes[0]) * 7 + len(modes[1]))
    c, h, w = 4, 9, 11
    labels = rng.integers(0, c, (h, w))
    labels[rng.random((h, w)) < 0.15] = 255
    kwargs = {}
    for side, mode in zip("ab", modes):
        s = {"thr": Scoring(threshold=0.3), "argmax": ARGMAX, "mask": ARGMAX,
             "perclass": Scoring(threshold=(0.2, 0.4, 0.3, 0.5))}[mode]
        kwargs[f"s{side}"] = s
        if mode == "mask":
            m = rng.integers(0, c, (h, w))
            m[rng.random((h, w)) < 0.1] = 255
            kwargs[f"mask_{side}"] = m
        else:
            kwargs[f"probs_{side}"] = torch.softmax(torch.from_numpy(rng.normal(size=(c, h, w)) * 1.5), 0).numpy()
    target, maps, a, b = setup(labels, c, **kwargs)
    fixed, broken, both, codes_all = direct_changes(labels, stack_of(a, c), stack_of(b, c), c)
    ch = image_changes(a, b, target)
    assert (ch.fixed.tolist(), ch.broken.tolist(), ch.both_wrong.tolist()) == (fixed.tolist(), broken.tolist(),
                                                                               both.tolist())
    codes = compare_codes(a, b, maps, ALL_CLASSES)
    assert all(codes[y, x] == v for (y, x), v in codes_all.items())
    px = pixel_changes(a, b, target)
    assert [px.fixed, px.broken, px.both_wrong] == [sum(v == code for v in codes_all.values())
                                                    for code in (FIXED, BROKEN, BOTH_WRONG)]
    assert np.isin(codes[labels == 255], (IGNORE, IGNORE_HATCH)).all()
    for k in range(c):
        per_class = compare_codes(a, b, maps, k)
        counted = [np.count_nonzero(per_class == code) for code in (FIXED, BROKEN, BOTH_WRONG)]
        assert counted == [fixed[k], broken[k], both[k]]


def test_lut_colours_differ_and_ranking():
    lut = compare_lut()
    colours = {tuple(lut[code, :3]) for code in (FIXED, BROKEN, BOTH_WRONG)}
    assert len(colours) == 3 and lut[SAME, 3] == 0 and lut[BOTH_WRONG, 3] < lut[FIXED, 3]
    assert compare_lut(show=(True, False, True))[BROKEN, 3] == 0
    delta = np.array([0.1, -0.3, np.nan, 0.2, -0.1])
    assert rank_by_delta(delta, "breaks").tolist() == [1, 4, 0, 3, 2]
    assert rank_by_delta(delta, "fixes").tolist() == [3, 0, 4, 1, 2]


# ---- the engine ----
@pytest.fixture()
def two_models(tmp_path):
    rng = np.random.default_rng(11)
    c = 3
    gts = [rng.integers(0, c, (10, 12)).astype(np.uint8) for _ in range(4)]
    gts[0][0] = 255
    logits_a = [rng.normal(size=(c, 10, 12)).astype(np.float32) * 2 for _ in range(4)]
    root = make_dataset(tmp_path / "a", logits_a, gts)
    (tmp_path / "b").mkdir()
    for i in range(3):     # model B lacks img3
        np.save(tmp_path / "b" / f"img{i}.npy", rng.normal(size=(c, 10, 12)).astype(np.float32) * 2)
        save_label(tmp_path / "bm" / f"img{i}.png", rng.integers(0, c, (10, 12)))
    return root, tmp_path / "b", tmp_path / "bm"


def test_inspector_tables_match_each_model_alone(two_models):
    import segviewer
    root, b_dir, _ = two_models
    ins = segviewer.open(gt=root / "gt", logits=root / "logits", compare=b_dir, scoring=Scoring(threshold=0.4, beta=2))
    ins.compare_scoring = Scoring(argmax=True)
    scores = ins.compare.table()
    assert list(scores.columns) == ["class_id", "class_name", "gt_pixels", "fbeta_a", "fbeta_b", "delta_fbeta",
                                    "iou_a", "iou_b", "delta_iou", "fixed", "broken", "both_wrong"]
    # model A over the images both have, scored alone; model B alone with argmax and the shared beta
    alone_a = segviewer.open(gt=root / "gt", logits=root / "logits", scoring=Scoring(threshold=0.4, beta=2))
    parts = [alone_a.image_counts(i) for i in range(3)]
    counts_a = parts[0] + parts[1] + parts[2]
    assert scores["fbeta_a"].to_numpy() == pytest.approx(alone_a.scores(counts_a).fbeta.numpy())
    alone_b = segviewer.open(gt=root / "gt", logits=b_dir, scoring=Scoring(argmax=True, beta=2))
    assert scores["fbeta_b"].to_numpy() == pytest.approx(alone_b.dataset_scores()["fbeta"].to_numpy())
    assert scores["delta_iou"].to_numpy() == pytest.approx((scores["iou_b"] - scores["iou_a"]).to_numpy())
    changes = [ins.compare.image(i).changes for i in range(3)]
    assert scores["fixed"].tolist() == sum(ch.fixed for ch in changes).tolist()
    assert scores["both_wrong"].tolist() == sum(ch.both_wrong for ch in changes).tolist()
    images = ins.compare.images()
    assert list(images.columns) == ["image", "mean_fbeta_a", "mean_fbeta_b", "delta_mean_fbeta", "fixed", "broken"]
    assert images["image"].tolist() == ["img0", "img1", "img2"]      # img3: no prediction from B
    legends = [ins.compare.overlay(i, -1).legend for i in range(3)]        # the all-classes compare view
    assert images["fixed"].tolist() == [lg["fixed"] for lg in legends]
    assert images["broken"].tolist() == [lg["broken"] for lg in legends]
    pixels = [ins.compare.image(i).pixels for i in range(3)]
    assert [lg["both wrong"] for lg in legends] == [px.both_wrong for px in pixels]
    assert images["fixed"].tolist() == [px.fixed for px in pixels]
    deltas = ins.compare.deltas()
    assert deltas["failed"].tolist() == [False, False, False, True]
    assert deltas["delta"][:3] == pytest.approx(images["delta_mean_fbeta"].to_numpy())
    for k in range(3):
        legend = ins.compare.overlay("img1", k).legend
        assert [legend["fixed"], legend["broken"], legend["both wrong"]] == [
            changes[1].fixed[k], changes[1].broken[k], changes[1].both_wrong[k]]
    assert 3 in ins.compare.dataset().failures


def test_masks_as_model_b_and_detection(two_models):
    import segviewer
    from segviewer.core.compare import detect_kind
    from segviewer.core.errors import LoadError
    root, b_dir, bm_dir = two_models
    assert detect_kind(bm_dir)[1] == "masks" and detect_kind(b_dir)[1] == "logits"
    ins = segviewer.open(gt=root / "gt", logits=root / "logits", compare=bm_dir)
    assert ins.compare.model.is_hard and ins.compare.scoring_b().argmax
    ch = ins.compare.image(0).changes
    assert ins.compare.table()["fixed"][0] >= ch.fixed[0]
    with pytest.raises(LoadError, match="model B has no prediction"):
        ins.compare.overlay(3)
    with pytest.raises(LoadError):
        segviewer.open(gt=root / "gt", logits=root / "logits", compare=root / "gt" / "missing")


def test_boundary_band_restricts_counts_and_codes(two_models):
    import segviewer
    from segviewer.core.overlay import OUTSIDE
    root, b_dir, _ = two_models
    ins = segviewer.open(gt=root / "gt", logits=root / "logits", compare=b_dir,
                         scoring=Scoring(threshold=0.4, boundary=1))
    counts_a, counts_b, ch, px = ins.compare.image(1)
    band = ins.load(1).scored(ins.scoring).numpy()
    assert int((counts_a.tp + counts_a.fn).sum()) == int(band.sum())         # img1 has no ignore pixels
    codes = ins.compare.overlay(1, 2).codes
    assert (codes[~band] == OUTSIDE).all()
    assert [np.count_nonzero(codes == k) for k in (FIXED, BROKEN, BOTH_WRONG)] == [ch.fixed[2], ch.broken[2],
                                                                                ch.both_wrong[2]]
    legend = ins.compare.overlay(1, -1).legend
    assert [legend["fixed"], legend["broken"], legend["both wrong"]] == [px.fixed, px.broken, px.both_wrong]
    assert ins.compare.images()["fixed"][1] == px.fixed
    row = ins.compare.table().iloc[2]
    assert row["fixed"] == sum(ins.compare.image(i).changes.fixed[2] for i in range(3))
