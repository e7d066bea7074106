"""The blocked CPU pass (bin lookup table, histograms, argmax, confusion) against independent references:
torch.bucketize for the bins, numpy for the histograms, torch.max for the argmax, to the last count."""
import numpy as np
import pytest
import torch

from segviewer.core import histogram_cpu as H
from segviewer.core.counts import argmax_map, confusion_matrix, prepare_target
from segviewer.core.index import grid_values, image_pass
from segviewer.core.probs import ProbsBuffer, to_probabilities


def reference_bins(x: np.ndarray, steps: int) -> np.ndarray:
    """#{k : g_k < x} by binary search over the float32 grid (torch.bucketize, right=False)."""
    return torch.bucketize(torch.from_numpy(x), grid_values(steps), right=False).numpy()


def hard_values(steps: int) -> np.ndarray:
    """Every grid value with its four float32 neighbours on each side, the edges, tiny and out-of-range values."""
    grid = grid_values(steps).numpy()
    near = [grid]
    up, down = grid.copy(), grid.copy()
    for _ in range(4):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        near += [up, down]
    specials = np.array([0.0, -0.0, -1e-30, -0.5, -np.inf, 1e-45, 1e-38, 1e-20, 1e-7, 1.0, 1.0000001, 1.5, 2.0,
                         3e38, np.inf], np.float32)
    rng = np.random.default_rng(steps)
    randoms = [rng.random(20000, dtype=np.float32), rng.random(5000, dtype=np.float32) ** 8]
    return np.concatenate(near + [specials] + randoms).astype(np.float32)


@pytest.mark.parametrize("steps", [1, 2, 3, 7, 10, 99, 100, 255, 999, 1000, 1024, 2000, 3000])
def test_table_bins_equal_a_binary_search_at_and_around_every_grid_value(steps):
    table = H.bin_table(steps)
    assert table is not None
    x = hard_values(steps)
    assert np.array_equal(H.bin_block(x, table), reference_bins(x, steps))


def test_very_fine_grids_have_no_table_and_the_index_falls_back_exactly():
    assert H.bin_table(100_000) is None
    probs, target = random_case(3, 17, 23, seed=4)
    grid = grid_values(100_000)
    pos, pred, argmax, confusion = image_pass(probs, target, grid)
    ref_pos, ref_pred = reference_histograms(probs, target, 100_000)
    assert np.array_equal(pos, ref_pos) and np.array_equal(pred, ref_pred)
    assert torch.equal(argmax, probs.max(0).indices)


def random_case(c, h, w, seed, ignore_share=0.1, ties=True):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(c, h, w, generator=g) * 3, 0)
    if ties:   # exact ties (the first class must win) and values exactly on the default grid
        probs[:, 0, : min(w, 5)] = 1.0 / c
        probs[:, 1, :] = torch.round(probs[:, 1, :] * 10) / 10
    labels = torch.randint(0, c, (h, w), generator=g)
    labels[torch.rand(h, w, generator=g) < ignore_share] = 255
    return probs, prepare_target(labels, c, 255)


def reference_histograms(probs, target, steps):
    """numpy: every valid pixel's bin counted per class, and at its GT class."""
    bins = reference_bins(probs.numpy().reshape(probs.shape[0], -1), steps)
    valid = target.valid.flatten().numpy()
    labels = target.labels.flatten().numpy()
    nb = steps + 2
    pred = np.stack([np.bincount(row[valid], minlength=nb) for row in bins])
    gt_bins = bins[labels, np.arange(labels.size)]
    pos = np.stack([np.bincount(gt_bins[valid & (labels == k)], minlength=nb) for k in range(len(bins))])
    return pos, pred


@pytest.mark.parametrize("c, h, w, ignore_share", [(1, 7, 9, 0.0), (2, 40, 50, 0.1), (19, 64, 96, 0.02),
                                                   (5, 300, 500, 0.3), (300, 6, 7, 0.1), (4, 9, 9, 1.0)])
@pytest.mark.parametrize("workers", [1, 2])
def test_one_blocked_pass_equals_the_separate_references(monkeypatch, c, h, w, ignore_share, workers):
    monkeypatch.setattr(H, "BLOCK_PIXELS", 4096)    # several blocks and a short last one, even for small images
    monkeypatch.setattr(H, "_workers", lambda: workers)
    probs, target = random_case(c, h, w, seed=c + h, ignore_share=ignore_share)
    pos, pred, argmax, confusion = image_pass(probs, target, grid_values(1000))
    ref_pos, ref_pred = reference_histograms(probs, target, 1000)
    assert np.array_equal(pos, ref_pos) and np.array_equal(pred, ref_pred)
    assert torch.equal(argmax, probs.max(0).indices)
    assert torch.equal(confusion, confusion_matrix(argmax_map(probs), target))
    assert pos.sum() == target.gt_count.sum() and pred.sum() == c * int(target.valid.sum())


def test_blocks_from_several_calling_threads_do_not_mix(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor
    monkeypatch.setattr(H, "BLOCK_PIXELS", 1024)
    cases = [random_case(6, 50, 70, seed=s) for s in range(6)]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda case: image_pass(*case, grid_values(1000)), cases))
    for (probs, target), (pos, pred, argmax, _) in zip(cases, results):
        ref_pos, ref_pred = reference_histograms(probs, target, 1000)
        assert np.array_equal(pos, ref_pos) and np.array_equal(pred, ref_pred)
        assert torch.equal(argmax, probs.max(0).indices)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "none"])
@pytest.mark.parametrize("size", [(13, 17), (40, 30)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_probabilities_into_a_kept_buffer_are_the_same_values(activation, size, dtype):
    logits = (torch.randn(5, 13, 17, generator=torch.Generator().manual_seed(1)) * 4).to(dtype)
    keep = logits.clone()
    buffer = ProbsBuffer()
    for _ in range(2):
        got = to_probabilities(logits, size, activation, buffer=buffer)
        assert torch.equal(got, to_probabilities(keep, size, activation)) and torch.equal(logits, keep)
    if activation != "none" or dtype == torch.float16:
        assert got.data_ptr() == buffer.tensor.data_ptr()      # no fresh C×H×W output per image
    other = to_probabilities(logits[:3], size, activation, buffer=buffer)   # a new shape: a new buffer
    assert torch.equal(other, to_probabilities(keep[:3], size, activation))
    strided = logits.transpose(1, 2).contiguous().transpose(1, 2)          # channels-last-like: no buffer
    assert torch.equal(to_probabilities(strided, size, activation, buffer=buffer),
                       to_probabilities(keep, size, activation))


def test_a_buffer_made_under_inference_mode_is_replaced_outside_it():
    logits = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(2))
    buffer = ProbsBuffer()
    with torch.inference_mode():                  # Lightning's validation loop runs in this mode
        to_probabilities(logits, (8, 8), buffer=buffer)
        to_probabilities(logits, (16, 16), buffer=buffer)
    for size in ((8, 8), (16, 16)):
        assert torch.equal(to_probabilities(logits, size, buffer=buffer), to_probabilities(logits, size))


def _pass_in_child(case, queue):
    queue.put(image_pass(*case, grid_values(1000))[0].sum())


def test_a_forked_child_gets_its_own_pool(monkeypatch):
    import multiprocessing
    monkeypatch.setattr(H, "BLOCK_PIXELS", 1024)
    monkeypatch.setattr(H, "_workers", lambda: 2)
    case = random_case(4, 60, 80, seed=9)          # made here: torch's own OpenMP pool may not survive a fork
    expected = image_pass(*case, grid_values(1000))[0].sum()     # the parent's pool now has threads
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_pass_in_child, args=(case, queue))
    child.start()
    child.join(30)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0 and queue.get(timeout=5) == expected


def test_an_empty_image_counts_nothing():
    labels = np.zeros(0, np.int64)
    done = H.blocked_image_pass(torch.zeros(3, 0, 4), labels, None, H.bin_table(100))
    assert done.pos.shape == done.pred.shape == (3, 102) and not done.pos.any() and not done.pred.any()
    assert done.confusion.shape == (3, 4) and not done.confusion.any() and done.argmax.shape == (0,)


def test_an_error_in_any_block_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(H, "BLOCK_PIXELS", 256)
    monkeypatch.setattr(H, "_workers", lambda: 3)
    real = H._block_counts

    def failing(flat, labels, argmax, block, *rest):
        if block[0] == 256 * 5:
            raise MemoryError("block 5")
        return real(flat, labels, argmax, block, *rest)
    monkeypatch.setattr(H, "_block_counts", failing)
    with pytest.raises(MemoryError, match="block 5"):
        image_pass(*random_case(3, 40, 40, seed=1), grid_values(100))
    probs, target = random_case(3, 40, 40, seed=1)
    monkeypatch.setattr(H, "_block_counts", real)     # the pool still works after a failed pass
    assert np.array_equal(image_pass(probs, target, grid_values(100))[1], reference_histograms(probs, target, 100)[1])


def test_bincount_in_pieces_equals_numpys():
    keys = np.random.default_rng(3).integers(0, 2004, 3 * H.SERIAL_PIECE + 11).astype(np.int32)
    for n in (0, 5, H.SERIAL_PIECE, H.SERIAL_PIECE + 1, len(keys)):
        assert np.array_equal(H._bincount_in_pieces(keys[:n], 2004), np.bincount(keys[:n], minlength=2004))
