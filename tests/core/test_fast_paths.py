"""The faster CPU paths give the same values to the bit: the running argmax, class-block threshold counts and the
in-place softmax against torch's own reductions and an independent numpy count."""
import numpy as np
import pytest
import torch

from segviewer.core import counts as K
from segviewer.core.probs import activate, to_probabilities


def random_probs(c, h=9, w=11, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(torch.randn(c, h, w, generator=g) * 3, 0)
    p[:, 0, :4] = 1.0 / c                      # exact ties: the first class must win
    if c > 2:
        p[2, 1, 1] = p[1, 1, 1] = p[:, 1, 1].max() + 1   # a tie between two non-first classes
    return p


@pytest.mark.parametrize("c", [1, 2, 5, 19])
def test_argmax_map_equals_torch_max_and_keeps_the_first_on_ties(c):
    p = random_probs(c, seed=c)
    out = K.argmax_map(p)
    assert out.dtype == torch.int64 and out.shape == p.shape[1:]
    assert torch.equal(out, p.max(0).indices)
    assert torch.equal(out, torch.from_numpy(p.numpy().argmax(0)))   # numpy: first maximum, documented
    if c > 2:
        assert out[0, 0] == 0 and out[1, 1] == 1


def test_threshold_counts_in_class_blocks_equal_numpy(monkeypatch):
    monkeypatch.setattr(K, "MASK_BLOCK_BYTES", 2 * 9 * 11)   # two classes per block, and a short last block
    c = 7
    p = random_probs(c, seed=3)
    labels = torch.randint(0, c, (9, 11), generator=torch.Generator().manual_seed(1))
    labels[0, 5:] = 255
    target = K.prepare_target(labels, c, 255)
    thr = torch.linspace(0.05, 0.6, c)
    got = K.count_threshold(p, target, thr)
    pn, ln, tn = p.numpy(), labels.numpy(), thr.numpy()
    valid = ln != 255
    pred = (pn > tn[:, None, None]) & valid
    gt = np.stack([(ln == k) & valid for k in range(c)])
    assert got.tp.tolist() == (pred & gt).sum((1, 2)).tolist()
    assert got.fp.tolist() == (pred & ~gt).sum((1, 2)).tolist()
    assert got.fn.tolist() == (~pred & gt).sum((1, 2)).tolist()


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "none"])
@pytest.mark.parametrize("c", [1, 3, 19])
def test_in_place_activation_is_bit_identical(activation, c):
    logits = torch.randn(c, 13, 17, generator=torch.Generator().manual_seed(c)) * 5
    expected = activate(logits.clone(), activation)
    buffer = logits.clone()
    out = activate(buffer, activation, in_place=True)
    assert torch.equal(out, expected)
    if activation != "none":
        assert out.data_ptr() == buffer.data_ptr()       # no second C×H×W buffer


def test_to_probabilities_leaves_the_callers_logits_alone_unless_told():
    logits = torch.randn(4, 6, 8, generator=torch.Generator().manual_seed(0))
    keep = logits.clone()
    expected = torch.softmax(keep, 0)
    assert torch.equal(to_probabilities(logits, (6, 8)), expected) and torch.equal(logits, keep)
    assert torch.equal(to_probabilities(logits.half(), (6, 8)), torch.softmax(keep.half().float(), 0))
    assert torch.equal(to_probabilities(logits, (6, 8), overwrite=True), expected)
    before = keep.clone()
    resized = to_probabilities(keep, (12, 16))
    big = torch.nn.functional.interpolate(before[None], size=(12, 16), mode="bilinear", align_corners=True)[0]
    assert torch.equal(resized, torch.softmax(big, 0)) and torch.equal(keep, before)


def test_counts_with_a_spare_bin_equal_selected_pixels_to_the_bit():
    c = 6
    p = random_probs(c, 20, 30, seed=7)
    labels = torch.randint(0, c, (20, 30), generator=torch.Generator().manual_seed(2))
    labels[torch.rand(20, 30, generator=torch.Generator().manual_seed(3)) < 0.2] = 255
    target = K.prepare_target(labels, c, 255)
    valid = labels != 255
    assert torch.equal(target.gt_count, torch.bincount(labels[valid], minlength=c))
    p_gt = p.gather(0, target.labels[None])[0]
    soft = K.soft_counts(p, target)
    assert torch.equal(soft.tp, torch.bincount(labels[valid], weights=p_gt[valid].double(), minlength=c))
    pred = torch.where(p.max(0).values > 0.4, p.max(0).indices, torch.tensor(K.NO_PREDICTION))
    hard = K.count_hard(pred, target)
    kept = valid & (pred >= 0)
    assert torch.equal(hard.tp + hard.fp, torch.bincount(pred[kept], minlength=c))
    assert torch.equal(hard.tp, torch.bincount(labels[kept & (pred == labels)], minlength=c))
