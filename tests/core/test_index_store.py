"""The index with every image's counts at every grid threshold on disk (issue #21): with chunks far smaller than the
dataset (the memory budget shrunk as at 100,000 images), the engine's per-image numbers are a direct count's at
grid and off-grid thresholds, at 0.5 and per class; an interrupted build resumes to the same files; a damaged
store is never used but rebuilt; a disk too small is refused with one line."""
import numpy as np
import pytest

from helpers import make_dataset, run_cli
from segviewer.core import count_store_build
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.index_cache import cache_path
from segviewer.core.index_files import store_path
from segviewer.core.inspector import Inspector
from segviewer.core.passes import counts_pass, index_pass
from segviewer.core.scoring import Scoring

C, STEPS = 4, 1000


def random_dataset(root, n=9, h=10, w=12, seed=0):
    rng = np.random.default_rng(seed)
    gts, logits = [], []
    for i in range(n):
        gt = rng.integers(0, C, (h, w))
        gt[rng.random((h, w)) < 0.1] = 255
        if i == 4:
            gt[:] = np.where(gt == 255, 255, 1)           # one class only: the other classes absent from its GT
        lg = rng.standard_normal((C, h, w)).astype(np.float32) * 2
        lg[np.minimum(gt, C - 1), np.arange(h)[:, None], np.arange(w)] += 1.0
        gts.append(gt)
        logits.append(lg)
    root = make_dataset(root, logits, gts)
    (root / "logits" / "img6.npy").write_bytes(b"not an array")     # one image fails: a zero row, not loaded
    return root


def open_dataset(root):
    return Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", device="cpu"))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of two images: a budget as small, for these images, as 64 MB is for 100,000 of 19 classes."""
    monkeypatch.setattr(count_store_build, "CHUNK_BYTES", 2 * C * (STEPS + 1) * 2)


def assert_same_counts(a, b, what):
    for k in ("tp", "fp", "fn"):
        assert np.array_equal(getattr(a, k).numpy(), getattr(b, k).numpy()), (what, k)


@pytest.mark.parametrize("threshold", [0.5, 0.413, 0.0, 1.0, 0.4137, (0.25, 0.5, 0.731, 0.9)])
def test_every_images_counts_equal_a_direct_count(tmp_path, small_chunks, threshold):
    ds = open_dataset(random_dataset(tmp_path / "d"))
    scoring = Scoring(threshold=threshold)
    direct = counts_pass(ds, scoring)
    with Inspector(ds, scoring) as ins:
        index = ins.index()
        assert index.images is not None and len(list((tmp_path / "d").rglob("counts-*.bin"))) == 1
        counts = ins.dataset_counts()
        assert counts.loaded.tolist() == direct.loaded.tolist() == [i != 6 for i in range(9)]
        assert_same_counts(counts.per_image, direct.per_image, "per image")
        assert_same_counts(counts.total, direct.total, "total")
        for i in (0, 4, 8):
            assert_same_counts(ins.image_counts(i), ins.load(i).counts(scoring), f"image {i}")
        listed, expected = ins.images(), ins.image_list(direct)
        for column in ("mean_fbeta", "mean_iou", "fp", "fn"):
            assert np.array_equal(listed[column].to_numpy(), expected[column], equal_nan=True), column
        some = np.array([8, 0, 6, 4])             # the rows a list shows, made from the store's row alone
        shown = ins.image_list(ins.dataset_counts(), 1).rows(some)
        every = ins.image_list(direct, 1)
        assert all(np.array_equal(shown[k], every[k][some], equal_nan=True) for k in every.keys())
        assert np.array_equal(ins.image_list(counts).present("pred_present", 2), every["pred_present"][:, 2])


def test_an_interrupted_build_resumes_to_the_same_files(tmp_path, small_chunks):
    ds = open_dataset(random_dataset(tmp_path / "d"))
    whole = index_pass(ds, steps=STEPS, path=tmp_path / "a" / "index-k.npz", key="k")
    seen = []

    def stop_after_five():
        return len(seen) >= 5
    with pytest.raises(InterruptedError):
        index_pass(ds, steps=STEPS, path=tmp_path / "b" / "index-k.npz", key="k",
                   progress=lambda done, total: seen.append(done), cancelled=stop_after_five)
    assert not (tmp_path / "b" / "counts-k.bin").exists()      # no half-built store under the finished name
    reported = []
    resumed = index_pass(ds, steps=STEPS, path=tmp_path / "b" / "index-k.npz", key="k",
                         progress=lambda done, total: reported.append(done))
    assert reported[0] == 4 and reported[-1] == 9               # two chunks of two kept, the rest done now
    assert (tmp_path / "a" / "counts-k.bin").read_bytes() == (tmp_path / "b" / "counts-k.bin").read_bytes()
    for name, value in whole.to_arrays().items():
        assert np.array_equal(value, resumed.to_arrays()[name]), name
    assert not (tmp_path / "b" / "build-k").exists()


def test_a_second_build_of_the_same_files_waits_for_the_first_and_reads_it(tmp_path, small_chunks):
    """The window opened while `segviewer index` builds the same index: the second build starts mid-way through the
    first (which sleeps there so they overlap), waits for it, then reads its files; both equal one build alone."""
    import threading
    import time
    root = random_dataset(tmp_path / "d")
    second: dict = {}

    def build_second():
        with Inspector(open_dataset(root)) as ins:
            second["index"], second["cached"] = ins.index(), ins.index_from_cache

    thread = threading.Thread(target=build_second)

    def progress(done, total):
        if done == 4 and not thread.is_alive() and "index" not in second:
            thread.start()
            time.sleep(0.5)
    with Inspector(open_dataset(root)) as ins:
        first = ins.index(progress=progress)
        thread.join(60)
        assert not thread.is_alive() and second["cached"] and not ins.index_from_cache
        for name, value in first.to_arrays().items():
            assert np.array_equal(value, second["index"].to_arrays()[name]), name
        direct = counts_pass(open_dataset(root), ins.scoring)
        assert_same_counts(ins.dataset_counts().per_image, direct.per_image, "per image")
    assert len(list(root.rglob("counts-*.bin"))) == 1 and not list(root.rglob("build-*"))


def test_a_damaged_or_truncated_store_is_rebuilt(tmp_path):
    root = random_dataset(tmp_path / "d")
    ds = open_dataset(root)
    path = store_path(cache_path(ds, STEPS)[0])
    with Inspector(ds) as ins:
        ins.index()
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])                    # truncated: the next engine builds it again
    with Inspector(open_dataset(root)) as ins:
        ins.index()
        assert not ins.index_from_cache and path.read_bytes() == good
    with Inspector(open_dataset(root)) as ins:
        assert ins.index() is not None and ins.index_from_cache
        assert ins.built_index.confusion is None                 # read when first asked for, and checked then
        argmax = Scoring(argmax=True)
        assert np.array_equal(ins.per_image_confusion(argmax),
                              counts_pass(open_dataset(root), argmax, with_confusion=True).confusion_per_image)
        from segviewer.core.count_store import StoreLayout
        layout = StoreLayout.parse(good)
        with open(path, "r+b") as fh:                           # damaged under an open engine: one count off
            fh.seek(layout.offset(413, 1, 2))
            fh.write(bytes([good[layout.offset(413, 1, 2)] ^ 4]))
        scoring = Scoring(threshold=0.413)
        counts = ins.dataset_counts(scoring)                    # counted on the pixels instead, never the bad row
        assert_same_counts(counts.per_image, counts_pass(open_dataset(root), scoring).per_image, "fallback")
        assert not path.exists() and ins.built_index is None
        ins.index()
        assert not ins.index_from_cache and path.read_bytes() == good


def test_a_disk_too_small_is_refused_with_one_line(tmp_path, monkeypatch):
    root = random_dataset(tmp_path / "d")
    monkeypatch.setattr(count_store_build, "disk_free", lambda folder: 10_000)
    result = run_cli("index", root)
    folder = cache_path(open_dataset(root), STEPS)[0].parent
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    needs = 1001 * C * 9 * 2 + 4096 + 2 * 9 * (C * (7 * 8 + (C + 1) * 4) + 100)   # uint8 counts, the index
    assert result.stderr == (f"segviewer: error: {folder}: not enough disk space for the index of 9 images: it needs "
                             f"{needs / 1024:.1f} KiB, 9.8 KiB are free here\n")
    assert not list(folder.rglob("counts*"))
    monkeypatch.undo()
    assert run_cli("index", root).returncode == 0


def test_a_newer_index_replaces_the_older_of_the_same_folders(tmp_path):
    import os
    root = random_dataset(tmp_path / "d")
    with Inspector(open_dataset(root)) as ins:
        ins.index()
    folder = cache_path(open_dataset(root), STEPS)[0].parent
    before = sorted(p.name for p in folder.iterdir())
    gt0 = root / "gt" / "img0.png"
    os.utime(gt0, ns=(gt0.stat().st_atime_ns, gt0.stat().st_mtime_ns + 10**9))      # a file changed: a new key
    with Inspector(open_dataset(root), steps=100) as ins:                           # another grid: kept apart
        ins.index()
    with Inspector(open_dataset(root)) as ins:
        ins.index()
        assert not ins.index_from_cache
    after = sorted(p.name for p in folder.iterdir() if "-" in p.name)
    assert len(after) == 4 and not set(before) & set(after)      # index + store at 1000 steps and at 100
