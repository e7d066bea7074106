"""The per-image count store: exact at every grid threshold, resumable, the same bytes however it is chunked,
never trusted when damaged, refused when the disk is too small."""
import numpy as np
import pytest
import torch

from segviewer.core.count_store import Bounds, CountStore, StoreDamaged, StoreLayout, narrowest_dtype
from segviewer.core.count_store_build import ChunkCounts, StoreBuild, narrowed
from segviewer.core.counts import count_threshold
from segviewer.core.errors import LoadError
from segviewer.core.index import counts_above, grid_values, image_histograms
from tests.core.test_index import random_images

STEPS, C = 20, 4


def image_counts(images):
    """Per image: [C, N+1] tp and predicted above each grid value, from the index's own histograms."""
    grid = grid_values(STEPS)
    out = []
    for probs, target in images:
        pos, pred = (h.numpy() for h in image_histograms(probs, target, grid))
        out.append((counts_above(pos)[:, :STEPS + 1], counts_above(pred)[:, :STEPS + 1]))
    return out


def bounds_of(images, counts):
    gt = np.stack([t.gt_count.numpy() for _, t in images])
    return Bounds(gt, sum(tp for tp, _ in counts), sum(pred for _, pred in counts))


def build_store(folder, counts, chunk_size, order=None, stop_after=None, key="k" * 64, **kw):
    layout = StoreLayout(key, len(counts), C, STEPS, "<u1")
    build = StoreBuild(folder, layout, chunk_size, **kw).start()
    for n, j in enumerate(order or build.pending()):
        if stop_after is not None and n == stop_after:
            build.close()
            return build
        chunk = build.chunks[j]
        block = ChunkCounts(StoreLayout("", len(chunk), C, STEPS, "<u1"), len(chunk))
        for jj, i in enumerate(chunk):
            block.fill(jj, *counts[i])
        build.write(j, narrowed(block.array), {"rows": np.arange(chunk.start, chunk.stop)})
    return build


@pytest.fixture
def images():
    return random_images(7, c=C, h=9, w=10, steps=STEPS)


def test_counts_equal_direct_counts_at_every_threshold_and_per_class(images, tmp_path):
    counts = image_counts(images)
    build = build_store(tmp_path / "b", counts, chunk_size=3)
    build.commit(tmp_path / "counts.bin")
    store = CountStore.open(tmp_path / "counts.bin", "k" * 64, 7, C, STEPS, bounds_of(images, counts))
    assert store.layout.dtype == "<u1"
    for k in range(STEPS + 1):
        tp, fp, fn = (a.T for a in store.counts(np.full(C, k)))
        for i, (probs, target) in enumerate(images):
            direct = count_threshold(probs, target, float(grid_values(STEPS)[k]))
            assert [tp[i].tolist(), fp[i].tolist(), fn[i].tolist()] == [direct.tp.tolist(), direct.fp.tolist(),
                                                                         direct.fn.tolist()], k
    ks = np.array([3, 3, 17, 0])
    tp, fp, fn = (a.T for a in store.counts(ks))
    direct = count_threshold(images[5][0], images[5][1], torch.tensor([float(grid_values(STEPS)[k]) for k in ks]))
    assert [tp[5].tolist(), fp[5].tolist(), fn[5].tolist()] == [direct.tp.tolist(), direct.fp.tolist(),
                                                                 direct.fn.tolist()]
    one = store.image_counts(5, ks)
    assert [a.tolist() for a in one] == [tp[5].tolist(), fp[5].tolist(), fn[5].tolist()]
    store.close()


def test_chunking_order_and_resume_give_the_same_bytes(images, tmp_path):
    counts = image_counts(images)
    build_store(tmp_path / "a", counts, chunk_size=3).commit(tmp_path / "a.bin")
    build_store(tmp_path / "b", counts, chunk_size=2, order=[3, 1, 0, 2]).commit(tmp_path / "b.bin")
    interrupted = build_store(tmp_path / "c", counts, chunk_size=3, stop_after=2)
    assert interrupted.done == {0, 1}
    resumed = StoreBuild(tmp_path / "c", StoreLayout("k" * 64, 7, C, STEPS, "<u1"), chunk_size=5).start()
    assert resumed.chunk_size == 3 and resumed.pending() == [2] and resumed.done_images() == 6
    build_store(tmp_path / "c", counts, chunk_size=5).commit(tmp_path / "c.bin")
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes() == (tmp_path / "c.bin").read_bytes()
    assert not (tmp_path / "c").exists()


def test_a_chunk_needing_a_wider_type_widens_what_is_written(tmp_path):
    rng = np.random.default_rng(1)
    counts = []
    for pixels in (200, 250, 40_000, 70_000):          # uint8, uint8, uint16, uint32
        pred = np.sort(rng.integers(0, pixels, (C, STEPS + 1)), axis=1)[:, ::-1].copy()
        counts.append((pred // 2, pred))
    gt = np.stack([np.full(C, p) for p in (200, 250, 40_000, 70_000)])
    bounds = Bounds(gt, sum(tp for tp, _ in counts), sum(pred for _, pred in counts))
    build_store(tmp_path / "w", counts, chunk_size=1).commit(tmp_path / "w.bin")
    build_store(tmp_path / "x", counts, chunk_size=4).commit(tmp_path / "x.bin")
    assert (tmp_path / "w.bin").read_bytes() == (tmp_path / "x.bin").read_bytes()
    store = CountStore.open(tmp_path / "w.bin", "k" * 64, 4, C, STEPS, bounds)
    assert store.layout.dtype == "<u4" == narrowest_dtype(70_000)
    for k in (0, 7, STEPS):
        tp, fp, fn = (a.T for a in store.counts(np.full(C, k)))
        assert (tp + fp).tolist() == [p[:, k].tolist() for _, p in counts]
        assert tp.tolist() == [t[:, k].tolist() for t, _ in counts] and (tp + fn).tolist() == gt.tolist()


def test_damaged_stores_are_never_used(images, tmp_path):
    counts = image_counts(images)
    bounds = bounds_of(images, counts)
    path = tmp_path / "counts.bin"
    build_store(tmp_path / "b", counts, chunk_size=4).commit(path)
    good = path.read_bytes()
    layout = StoreLayout.parse(good)

    def opened():
        return CountStore.open(path, "k" * 64, 7, C, STEPS, bounds)
    path.write_bytes(good[:-1])
    with pytest.raises(StoreDamaged, match="truncated"):
        opened()
    path.write_bytes(b"PK\x03\x04" + good[4:])
    with pytest.raises(StoreDamaged, match="not a segviewer"):
        opened()
    path.write_bytes(good)
    with pytest.raises(StoreDamaged, match="other files"):
        CountStore.open(path, "j" * 64, 7, C, STEPS, bounds)
    # one count changed: the row no longer adds up to the index's histograms (or exceeds its image)
    damaged = bytearray(good)
    damaged[layout.offset(10, 2, 3)] ^= 1
    path.write_bytes(bytes(damaged))
    store = opened()
    with pytest.raises(StoreDamaged):
        store.counts(np.full(C, 10))
    assert store.counts(np.full(C, 9))[0].shape == (C, 7)     # the other rows are still checked and fine
    # shortened while open: a short read is an error, never a crash (no memory map)
    path.write_bytes(good)
    store = opened()
    with open(path, "r+b") as fh:
        fh.truncate(layout.offset(5))
    with pytest.raises(StoreDamaged, match="shorter"):
        store.counts(np.full(C, 12))
    store.close()


def test_a_damaged_build_folder_starts_over(images, tmp_path):
    counts = image_counts(images)
    build_store(tmp_path / "b", counts, chunk_size=3, stop_after=2)
    (tmp_path / "b" / "part-000001.npz").write_bytes(b"garbage")
    resumed = StoreBuild(tmp_path / "b", StoreLayout("k" * 64, 7, C, STEPS, "<u1"), 3).start()
    assert resumed.pending() == [1, 2]                      # the damaged part is redone, chunk 0 kept
    resumed.close()
    (tmp_path / "b" / "manifest.json").write_text("{not json")
    fresh = StoreBuild(tmp_path / "b", StoreLayout("k" * 64, 7, C, STEPS, "<u1"), 3).start()
    assert fresh.pending() == [0, 1, 2] and sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "counts.partial", "manifest.json"]
    fresh.close()


def test_a_disk_too_small_is_refused_before_anything_is_written(images, tmp_path):
    layout = StoreLayout("k" * 64, 100_000, 19, 1000, "<u2")
    with pytest.raises(LoadError) as err:
        StoreBuild(tmp_path / "b", layout, 400, extra_bytes=10**6, free_space=lambda folder: 2 * 10**9).start()
    message = str(err.value)
    assert str(tmp_path) in message and "7.1 GiB" in message and "1.9 GiB are free" in message
    assert "\n" not in message and not (tmp_path / "b" / "counts.partial").exists()
