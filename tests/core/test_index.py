"""The probability index: exact counts at every grid threshold, merging, caching."""
import numpy as np
import pytest
import torch

from segviewer.core.counts import count_threshold, prepare_target, soft_counts
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.passes import counts_pass, index_pass
from segviewer.core.scoring import Scoring
from segviewer.core.index import grid_values
from segviewer.core.index_build import IndexBuilder
from segviewer.core.index_cache import cache_path, load_cached, load_or_build


def random_images(n, c=4, h=20, w=24, seed=0, on_grid=False, steps=50):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        probs = torch.softmax(torch.randn(c, h, w, generator=g) * 2, 0)
        if on_grid:  # put many values exactly on grid points (and their float32 neighbours)
            k = torch.randint(0, steps + 1, (c, h, w), generator=g)
            exact = grid_values(steps)[k]
            pick = torch.rand(c, h, w, generator=g)
            probs = torch.where(pick < 0.4, exact, probs)
            probs = torch.where((pick > 0.4) & (pick < 0.5), torch.nextafter(exact, torch.tensor(2.0)), probs)
            probs = torch.where((pick > 0.5) & (pick < 0.6), torch.nextafter(exact, torch.tensor(-1.0)), probs)
        labels = torch.randint(0, c, (h, w), generator=g)
        labels[torch.rand(h, w, generator=g) < 0.1] = 255
        out.append((probs, prepare_target(labels, c, 255)))
    return out


def build(images, steps):
    b = IndexBuilder(images[0][0].shape[0], steps, keep_image_counts=True)
    for i, (p, t) in enumerate(images):
        b.add(f"img{i}", t, p, soft_counts(p, t))
    return b.finish()


@pytest.mark.parametrize("on_grid", [False, True])
def test_index_counts_equal_direct_counts_at_every_grid_threshold(on_grid):
    steps = 50
    images = random_images(3, on_grid=on_grid, steps=steps)
    index = build(images, steps)
    curves = index.curves()
    for k in range(steps + 1):
        t = float(grid_values(steps)[k])
        direct = [count_threshold(p, tg, t) for p, tg in images]
        total_tp = sum(d.tp for d in direct)
        total_fp = sum(d.fp for d in direct)
        ds = index.dataset_counts(k / steps)
        assert ds.tp.tolist() == total_tp.tolist() and ds.fp.tolist() == total_fp.tolist(), k
        assert curves.tp[:, k].tolist() == total_tp.tolist()
        per_image = index.image_counts(k / steps)
        for i, d in enumerate(direct):
            assert per_image.tp[i].tolist() == d.tp.tolist() and per_image.fn[i].tolist() == d.fn.tolist()


def test_per_class_thresholds_and_off_grid():
    steps = 20
    images = random_images(2, steps=steps)
    index = build(images, steps)
    thr = [0.1, 0.35, 0.5, 0.95]
    got = index.dataset_counts(thr)
    want = sum(count_threshold(p, t, torch.tensor(thr)).tp for p, t in images)
    assert got.tp.tolist() == want.tolist()
    with pytest.raises(ValueError):
        index.dataset_counts(0.123)


def test_merging_two_halves_equals_the_whole():
    images = random_images(4, seed=3)
    whole = build(images, 30)
    first = build(images[:2], 30)
    second = IndexBuilder(4, 30)
    for i, (p, t) in enumerate(images[2:], 2):
        second.add(f"img{i}", t, p, soft_counts(p, t))
    merged = first.merge(second.finish())
    for name, value in whole.to_arrays().items():
        assert np.array_equal(value, merged.to_arrays()[name]), name
    with pytest.raises(ValueError):
        first.merge(first)


def test_dataset_index_matches_evaluate_and_caches(demo_dir, tmp_path):
    import shutil
    root = tmp_path / "d"
    shutil.copytree(demo_dir, root)
    ds = Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", classes=str(root / "classes.json")))
    calls = []
    index, cached = load_or_build(ds, 100, lambda path, key: calls.append(1) or index_pass(ds, path=path, key=key,
                                                                                          steps=100))
    assert not cached and calls == [1]
    direct = counts_pass(ds, Scoring(threshold=0.37))
    assert index.dataset_counts(0.37).tp.tolist() == direct.total.tp.tolist()
    assert index.dataset_counts(0.37).fp.tolist() == direct.total.fp.tolist()
    arg = counts_pass(ds, Scoring(argmax=True))
    assert index.argmax_counts().tp.tolist() == arg.per_image.tp.tolist()
    again, cached = load_or_build(ds, 100, lambda path, key: pytest.fail("should come from cache"))
    assert cached and again.names == index.names
    assert again.image_counts(0.37).tp.tolist() == direct.per_image.tp.tolist()
    path, key = cache_path(ds, 100)
    assert path.parent == root / ".segviewer"
    with np.load(path, allow_pickle=False) as arrays:
        fields = {name: arrays[name] for name in arrays.files}
    for name, wrong in (("names", np.array("x")), ("steps", np.array([100, 100]))):   # right key, wrong shapes
        np.savez(path, **{**fields, name: wrong})
        assert load_cached(path, key) is None
    path.write_bytes(b"damaged")
    assert load_cached(path, key) is None
    _, cached = load_or_build(ds, 100, lambda path, key: index_pass(ds, path=path, key=key, steps=100))
    assert not cached
    # a changed file changes the key
    import os
    gt0 = ds.items[0].gt
    os.utime(gt0, ns=(gt0.stat().st_atime_ns, gt0.stat().st_mtime_ns + 10**9))
    assert cache_path(ds, 100)[1] != key


def test_read_only_dataset_uses_user_cache(demo_dir, tmp_path, monkeypatch):
    from segviewer.core import index_cache, options
    monkeypatch.setattr(options, "writable_folder", lambda folder: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ds = Dataset(DataOptions(gt_dir=demo_dir / "gt", pred_dir=demo_dir / "logits"))
    assert str(index_cache.cache_folder(ds)).startswith(str(tmp_path / "cache"))


def test_heap_bound_is_set_on_linux():
    import sys
    from segviewer.core.memory import bound_heap_growth
    assert bound_heap_growth() is sys.platform.startswith("linux")


def test_dataset_key_is_the_same_however_the_stats_are_batched(demo_dir, monkeypatch):
    from segviewer.core import index_cache
    ds = Dataset(DataOptions(gt_dir=demo_dir / "gt", pred_dir=demo_dir / "logits"))
    one_batch = index_cache.dataset_key(ds, 100)
    monkeypatch.setattr(index_cache, "STAT_BATCH", 1)       # every file its own batch, on the threads
    assert index_cache.dataset_key(ds, 100) == one_batch
    assert index_cache.dataset_key(ds, 99) != one_batch
