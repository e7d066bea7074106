"""Every pass on a local Dask cluster (2 single-threaded worker processes, one for the whole module) equals one
process exactly: the same index arrays, the same CSV bytes, the same skipped files; a killed worker changes
nothing."""
import os
import shutil
import signal
import time

import numpy as np
import pytest

from helpers import make_dataset, run_cli

distributed = pytest.importorskip("distributed")

from segviewer.core import distributed as dist  # noqa: E402
from segviewer.core.dataset import Dataset  # noqa: E402
from segviewer.core.errors import LoadError  # noqa: E402
from segviewer.core.index_build import index_images  # noqa: E402
from segviewer.core.index_cache import cache_folder, cache_path, save_cached  # noqa: E402
from segviewer.core.options import DataOptions  # noqa: E402
from segviewer.core.passes import counts_pass, index_pass  # noqa: E402
from segviewer.core.scoring import Scoring  # noqa: E402

C = 4


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        c.wait_for_workers(2)
        yield c


def random_dataset(root, n, h=12, w=16, seed=0):
    rng = np.random.default_rng(seed)
    gts, logits = [], []
    for _ in range(n):
        gt = rng.integers(0, C, (h, w))
        gt[rng.random((h, w)) < 0.1] = 255                       # ignore pixels
        lg = rng.standard_normal((C, h, w)).astype(np.float16)
        lg[np.minimum(gt, C - 1), np.arange(h)[:, None], np.arange(w)] += 1.5
        gts.append(gt)
        logits.append(lg)
    return make_dataset(root, logits, gts)


def open_dataset(root):
    return Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", device="cpu"))


def corrupt(root, *names):
    """img<k>.npy becomes garbage, img<k>.png a truncated PNG."""
    for name in names:
        path = root / ("logits" if name.endswith(".npy") else "gt") / name
        path.write_bytes(b"not a file of this kind" if name.endswith(".npy") else path.read_bytes()[:40])


def assert_same_index(a, b):
    arrays_a, arrays_b = a.to_arrays(), b.to_arrays()
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        assert arrays_a[key].dtype == arrays_b[key].dtype, key
        assert np.array_equal(arrays_a[key], arrays_b[key]), key


def test_chunks_cover_the_dataset_in_order():
    chunks = dist.chunk_ranges(100, 2)
    assert [i for c in chunks for i in c] == list(range(100)) and len(chunks) == 8
    assert dist.chunk_ranges(10_000, 2)[0] == range(0, dist.MAX_CHUNK)
    assert dist.chunk_ranges(0, 3) == []


def test_index_equals_one_process(client, tmp_path):
    ds = open_dataset(random_dataset(tmp_path, 13))
    local = index_pass(ds, None, steps=40)
    done = []
    on_cluster = index_pass(ds, None, client, steps=40, progress=lambda d, t: done.append((d, t)))
    assert_same_index(on_cluster, local)
    assert on_cluster.names == ds.names
    assert done == [(i, 13) for i in range(1, 14)]      # one tick per image, as the chunks come back


def test_the_count_store_from_workers_equals_one_process_byte_for_byte(client, tmp_path, monkeypatch):
    """Workers return their images' counts; the client writes each chunk when all its tasks are back (chunks of
    5 images here, tasks of 2: a chunk waits for tasks that finish in any order); the files are the same."""
    from segviewer.core import count_store_build
    monkeypatch.setattr(count_store_build, "CHUNK_BYTES", 5 * C * 31 * 2)
    ds = open_dataset(random_dataset(tmp_path / "d", 13))
    corrupt(tmp_path / "d", "img7.npy")
    local = index_pass(ds, None, steps=30, path=tmp_path / "one" / "index-k.npz", key="k")
    on_cluster = index_pass(ds, None, client, steps=30, path=tmp_path / "dask" / "index-k.npz", key="k")
    assert (tmp_path / "one" / "counts-k.bin").read_bytes() == (tmp_path / "dask" / "counts-k.bin").read_bytes()
    assert_same_index(on_cluster, local)
    for t in (0.0, 0.5, 0.9):
        for k in ("tp", "fp", "fn"):
            assert np.array_equal(getattr(on_cluster.image_counts(t), k), getattr(local.image_counts(t), k))


def test_export_and_sweep_csv_bytes_equal_one_process(client, tmp_path):
    root = random_dataset(tmp_path / "data", 11, seed=1)
    data = ("--gt", root / "gt", "--logits", root / "logits")
    there = ("--scheduler", client.scheduler.address)
    for mode in (("--threshold", "0.3"), ("--argmax",), ("--threshold", "0.2,0.4,0.6,0.8", "--boundary", "2")):
        outputs = []
        for where, extra in (("local", ()), ("dask", there)):
            out, per_image = tmp_path / f"{where}.csv", tmp_path / f"{where}_pi.csv"
            res = run_cli("export", *data, *mode, "--out", out, "--per-image", per_image, *extra)
            assert res.returncode == 0, res.stderr
            outputs.append((out.read_bytes(), per_image.read_bytes()))
        assert outputs[0] == outputs[1], mode
    sweeps = []
    for where, extra in (("local", ()), ("dask", there)):
        shutil.rmtree(cache_folder(open_dataset(root)), ignore_errors=True)   # both build, neither reads a cache
        res = run_cli("sweep", *data, "--steps", "25", "--out", tmp_path / f"s_{where}.csv",
                      "--best", tmp_path / f"b_{where}.csv", *extra)
        assert res.returncode == 0 and "cached" not in res.stderr, res.stderr
        sweeps.append(((tmp_path / f"s_{where}.csv").read_bytes(), (tmp_path / f"b_{where}.csv").read_bytes()))
    assert sweeps[0] == sweeps[1]


def test_index_command_builds_the_cache_the_window_reads(client, tmp_path):
    root = random_dataset(tmp_path, 6, seed=2)
    res = run_cli("index", root, "--scheduler", client.scheduler.address)
    assert res.returncode == 0, res.stderr
    ds = open_dataset(root)
    path, key = cache_path(ds, 1000)
    assert str(path) in res.stdout and path.is_file()
    from segviewer.core.index_cache import load_cached
    from segviewer.core.index_files import store_path
    local = index_pass(ds, None, steps=1000, path=tmp_path / "one" / path.name, key=key)
    assert_same_index(load_cached(path, key), local)
    assert store_path(path).read_bytes() == store_path(tmp_path / "one" / path.name).read_bytes()   # the same store
    again = run_cli("index", root)
    assert again.returncode == 0 and "up to date" in again.stderr


def test_corrupt_files_reported_as_in_one_process_and_skipped(client, tmp_path):
    root = random_dataset(tmp_path / "data", 12, seed=3)
    corrupt(root, "img3.npy", "img4.png", "img5.npy")   # 4 and 5 form a whole chunk of failures
    ds = open_dataset(root)
    local_failures, dask_failures = [], []
    local = index_pass(ds, None, steps=30, on_error=local_failures.append)
    on_cluster = index_pass(ds, None, client, steps=30, on_error=dask_failures.append)
    assert [str(e) for e in dask_failures] == [str(e) for e in local_failures] and len(local_failures) == 3
    assert "img3.npy" in str(local_failures[0]) and "img4.png" in str(local_failures[1])
    assert_same_index(on_cluster, local)
    local_failures, dask_failures = [], []
    counts_local = counts_pass(ds, Scoring(threshold=0.5), on_error=local_failures.append)
    counts_dask = counts_pass(ds, Scoring(threshold=0.5), client, on_error=dask_failures.append)
    assert [str(e) for e in dask_failures] == [str(e) for e in local_failures]
    assert counts_dask.names == counts_local.names and counts_dask.loaded.tolist() == counts_local.loaded.tolist()
    for key in ("tp", "fp", "fn"):
        assert np.array_equal(getattr(counts_dask.per_image, key), getattr(counts_local.per_image, key))
        assert np.array_equal(getattr(counts_dask.soft_per_image, key), getattr(counts_local.soft_per_image, key))
    banded = Scoring(threshold=0.3, boundary=1)
    confusion_local = counts_pass(ds, banded, with_confusion=True)
    confusion_dask = counts_pass(ds, banded, client, with_confusion=True)
    assert np.array_equal(confusion_dask.confusion_per_image, confusion_local.confusion_per_image)
    assert np.array_equal(confusion_dask.confusion, confusion_local.confusion)
    res = [run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--out", tmp_path / f"{i}.csv", *extra)
           for i, extra in enumerate(((), ("--scheduler", client.scheduler.address)))]
    skipped = [line for line in res[0].stderr.splitlines() if line.startswith("segviewer: skipped")]
    assert len(skipped) == 3 and skipped == [line for line in res[1].stderr.splitlines() if "skipped" in line]
    with pytest.raises(LoadError) as strict_local:
        index_pass(ds, None, steps=30, strict=True)
    with pytest.raises(LoadError) as strict_dask:
        index_pass(ds, None, client, steps=30, strict=True)
    assert str(strict_dask.value) == str(strict_local.value)


def test_ctrl_c_cancels_the_tasks_and_keeps_the_previous_cache(client, tmp_path):
    ds = open_dataset(random_dataset(tmp_path, 16, seed=4))
    path, key = cache_path(ds, 20)
    save_cached(path, key, index_images(ds, 20, [0, 1]))
    before = path.read_bytes()

    def interrupt(done, total):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        index_pass(ds, None, client, steps=20, progress=interrupt)
    assert path.read_bytes() == before and not list(path.parent.glob("*.tmp*"))
    left = lambda dask_scheduler: len(dask_scheduler.tasks)  # noqa: E731
    deadline = time.monotonic() + 10
    while client.run_on_scheduler(left) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.run_on_scheduler(left) == 0


def test_relative_paths_reach_workers_started_elsewhere(client, tmp_path, monkeypatch):
    root = random_dataset(tmp_path / "data", 5, seed=6)
    corrupt(root, "img1.npy")
    monkeypatch.chdir(tmp_path)          # the workers' folder is not this one
    res = [run_cli("export", "--gt", "data/gt", "--logits", "data/logits", "--out", f"{i}.csv", *extra)
           for i, extra in enumerate(((), ("--scheduler", client.scheduler.address)))]
    assert res[0].returncode == res[1].returncode == 0, res[1].stderr
    assert (tmp_path / "0.csv").read_bytes() == (tmp_path / "1.csv").read_bytes()
    skipped = [[line for line in r.stderr.splitlines() if "skipped" in line] for r in res]
    assert skipped[0] == skipped[1] and skipped[0][0].startswith("segviewer: skipped data/logits/img1.npy: ")


def test_a_killed_worker_changes_nothing(client, tmp_path):
    ds = open_dataset(random_dataset(tmp_path, 40, h=48, w=64, seed=5))
    local = index_pass(ds, None, steps=100)
    pids = list(client.run(os.getpid).values())
    killed = []

    def kill_one(done, total):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(done)
    on_cluster = index_pass(ds, None, client, steps=100, progress=kill_one)
    assert killed and killed[0] < 40
    assert_same_index(on_cluster, local)


def test_calibration_label_issues_and_compare_bytes_equal_one_process(client, tmp_path):
    root = random_dataset(tmp_path / "data", 9, seed=5)
    model_b = random_dataset(tmp_path / "b", 9, seed=7) / "logits"
    corrupt(root, "img4.npy")
    data = ("--gt", root / "gt", "--logits", root / "logits")
    there = ("--scheduler", client.scheduler.address)
    runs = {}
    for where, extra in (("local", ()), ("dask", there)):
        cal = run_cli("calibration", *data, "--bins", "7", "--out", tmp_path / f"c_{where}.csv",
                      "--bins-out", tmp_path / f"cb_{where}.csv", *extra)
        lab = run_cli("label-issues", *data, "--min-confidence", "0.5", "--out", tmp_path / f"l_{where}.csv",
                      "--regions", tmp_path / f"r_{where}.csv", *extra)
        cmp = run_cli("compare", *data, "--threshold", "0.3", "--compare", model_b, "--compare-argmax",
                      "--out", tmp_path / f"p_{where}.csv", "--per-image", tmp_path / f"pi_{where}.csv", *extra)
        assert cal.returncode == lab.returncode == cmp.returncode == 0, cal.stderr + lab.stderr + cmp.stderr
        runs[where] = (cal.stderr, lab.stderr, cmp.stderr)
    assert runs["local"] == runs["dask"] and "img4" in runs["local"][0] and "img4" in runs["local"][2]
    for name in ("c", "cb", "l", "r", "p", "pi"):
        assert (tmp_path / f"{name}_local.csv").read_bytes() == (tmp_path / f"{name}_dask.csv").read_bytes(), name


def test_boundary_metrics_equal_one_process(client, tmp_path):
    from segviewer.core.passes import boundary_pass
    ds = open_dataset(random_dataset(tmp_path, 7, seed=8))
    for scoring in (Scoring(threshold=0.4), Scoring(argmax=True)):
        local = boundary_pass(ds, scoring, width=1, tolerance=1.0)
        there = boundary_pass(ds, scoring, client, width=1, tolerance=1.0)
        assert there.names == local.names == ds.names
        for key in ("intersection", "union", "hd95", "nsd"):
            assert np.array_equal(getattr(there.per_image, key), getattr(local.per_image, key), equal_nan=True), key


def test_workers_option_starts_its_own_cluster_and_equals_one_process(tmp_path):
    root = random_dataset(tmp_path / "data", 5, seed=9)
    data = ("--gt", root / "gt", "--logits", root / "logits", "--threshold", "0.35")
    for where, extra in (("local", ()), ("dask", ("--workers", "2"))):
        res = run_cli("export", *data, "--out", tmp_path / f"{where}.csv", "--per-image", tmp_path / f"{where}_pi.csv",
                      "--boundary-metrics", *extra)
        assert res.returncode == 0, res.stderr
    for name in ("", "_pi"):
        assert (tmp_path / f"local{name}.csv").read_bytes() == (tmp_path / f"dask{name}.csv").read_bytes()


def test_odd_sized_images_equal_one_process_to_the_bit(client, tmp_path):
    """torch splits an image's pixels between its threads and computes the values at a split's edges on the scalar
    path, so probabilities depend on the thread count (these 25×21 images: 20-57 values differ in their last bit
    between 1 thread and 2, 3, 4, 6, 8 or 16). The workers (1 thread each, as Dask starts them) compute on the
    client's count: soft Dice, calibration and label scores are the same bytes as one process's. (Setting this
    process's thread count here would break forked children in later tests: torch's pool does not survive a fork.)"""
    import torch
    if torch.get_num_threads() == 1:
        pytest.skip("one torch thread here: one process computes as a single-threaded worker does")
    root = random_dataset(tmp_path / "data", 4, h=25, w=21, seed=11)
    data = ("--gt", root / "gt", "--logits", root / "logits")
    for where, extra in (("local", ()), ("dask", ("--scheduler", client.scheduler.address))):
        runs = [run_cli("export", *data, "--out", tmp_path / f"e_{where}.csv", *extra),
                run_cli("calibration", *data, "--bins", "7", "--out", tmp_path / f"c_{where}.csv", *extra),
                run_cli("label-issues", *data, "--out", tmp_path / f"l_{where}.csv", *extra)]
        assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    for name in ("e", "c", "l"):
        assert (tmp_path / f"{name}_local.csv").read_bytes() == (tmp_path / f"{name}_dask.csv").read_bytes(), name
