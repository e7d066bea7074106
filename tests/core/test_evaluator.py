"""segviewer.Evaluator against `segviewer export` on the same tensors saved to disk, against torchmetrics, and
its index against the window's; save_logits; sync() over two gloo ranks."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import run_cli, save_label

import segviewer
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.errors import LoadError, OptionError
from segviewer.core.passes import index_pass
from segviewer.core.probs import to_probabilities

C = 4
IGNORE = 255
# (logit size, target size) per batch: smaller logits are resized, equal ones are not
BATCHES = [((6, 8), (12, 16)), ((10, 12), (10, 12))]


def random_batches(seed=0, ignore_share=0.1):
    g = torch.Generator().manual_seed(seed)
    out = []
    for b, (logit_size, size) in enumerate(BATCHES):
        logits = torch.randn(2, C, *logit_size, generator=g) * 2
        target = torch.randint(0, C - 1, (2, *size), generator=g)   # class C-1 stays absent from the GT
        target[torch.rand(2, *size, generator=g) < ignore_share] = IGNORE
        out.append((logits, target, [f"img{b}{i}" for i in range(2)]))
    return out


def write_to_disk(root: Path, batches, half=False) -> Path:
    for logits, target, names in batches:
        for lg, tg, name in zip(logits, target, names):
            save_label(root / "gt" / f"{name}.png", tg.numpy())
            if not half:
                (root / "logits").mkdir(parents=True, exist_ok=True)
                np.save(root / "logits" / f"{name}.npy", lg.numpy())
    return root


def evaluate(batches, **kwargs):
    ev = segviewer.Evaluator(ignore_index=IGNORE, **kwargs)
    for logits, target, names in batches:
        ev.update(logits, target, names=names)
    return ev


MODES = {"threshold": ({"threshold": 0.5}, ["--threshold", "0.5"]),
         "argmax": ({"argmax": True}, ["--argmax"]),
         "per-class": ({"threshold": [0.3, 0.55, 0.7, 0.45]}, ["--threshold", "0.3,0.55,0.7,0.45"]),
         "off-grid": ({"threshold": 0.43219}, ["--threshold", "0.43219"])}


@pytest.mark.parametrize("keep_index", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_csvs_equal_the_exports_on_the_same_tensors(tmp_path, mode, keep_index):
    batches = random_batches()
    root = write_to_disk(tmp_path / "d", batches)
    kwargs, flags = MODES[mode]
    ev = evaluate(batches, beta=2.0, keep_index=keep_index, **kwargs)
    ev.to_csv(tmp_path / "ev.csv", per_image=tmp_path / "ev_images.csv")
    r = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--ignore-index", IGNORE, "--beta", 2,
                "--out", tmp_path / "ex.csv", "--per-image", tmp_path / "ex_images.csv", "--device", "cpu", *flags)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ev.csv").read_text() == (tmp_path / "ex.csv").read_text()
    assert (tmp_path / "ev_images.csv").read_text() == (tmp_path / "ex_images.csv").read_text()
    frame = ev.compute()
    assert list(frame.columns) == list(segviewer.core.export.PER_CLASS_COLUMNS)
    assert np.isnan(frame.fbeta[C - 1]) == (frame.tp[C - 1] + frame.fp[C - 1] == 0)
    per_image = ev.per_image()
    assert list(per_image.columns) == list(segviewer.core.export.PER_IMAGE_COLUMNS) and len(per_image) == 4 * C
    assert per_image.groupby("class_id").tp.sum().tolist() == frame.tp.tolist()


def test_label_map_classes_equal_the_export(tmp_path):
    """Raw Cityscapes labelIds in the target go through the preset's label_map, as the loader maps the PNGs."""
    g = torch.Generator().manual_seed(6)
    batches = [(torch.randn(2, 19, 4, 6, generator=g), torch.randint(0, 34, (2, 8, 12), generator=g), ["a", "b"])]
    root = write_to_disk(tmp_path / "d", batches)
    ev = segviewer.Evaluator(classes="cityscapes-labelids")
    ev.update(*batches[0])
    ev.to_csv(tmp_path / "ev.csv")
    r = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--classes", "cityscapes-labelids",
                "--out", tmp_path / "ex.csv", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ev.csv").read_text() == (tmp_path / "ex.csv").read_text()
    assert ev.compute().gt_pixels.sum() < 2 * 8 * 12   # unmapped ids became ignore


def probabilities(batches):
    """The reference formula's probabilities [N,C,H,W] per batch (resize, then softmax)."""
    return [torch.stack([to_probabilities(lg, tuple(tg.shape[-2:])) for lg, tg in zip(logits, target)])
            for logits, target, _ in batches]


def torchmetrics_argmax(batches):
    """tp, fp, fn per class from torchmetrics' multiclass stat scores (argmax of the probabilities)."""
    from torchmetrics.classification import MulticlassStatScores
    metric = MulticlassStatScores(num_classes=C, average=None, ignore_index=IGNORE)
    for probs, (_, target, _) in zip(probabilities(batches), batches):
        metric.update(probs, target)
    return metric.compute()[:, [0, 1, 3]].T


def torchmetrics_threshold(batches, threshold):
    """tp, fp, fn per class from torchmetrics' multilabel stat scores (one-vs-rest, p > threshold of the class)."""
    from torchmetrics.classification import MultilabelStatScores
    thresholds = [threshold] * C if np.ndim(threshold) == 0 else threshold
    stats = []
    for c in range(C):
        metric = MultilabelStatScores(num_labels=C, threshold=thresholds[c], average=None, ignore_index=-1)
        for probs, (_, target, _) in zip(probabilities(batches), batches):
            onehot = torch.nn.functional.one_hot(target.clamp(max=C - 1), C).permute(0, 3, 1, 2)
            metric.update(probs, torch.where((target == IGNORE)[:, None], -1, onehot))
        stats.append(metric.compute()[c])
    return torch.stack(stats)[:, [0, 1, 3]].T


@pytest.mark.parametrize("mode", ["threshold", "argmax", "per-class"])
def test_counts_equal_torchmetrics(mode):
    batches = random_batches(seed=3)
    kwargs, _ = MODES[mode]
    frame = evaluate(batches, **kwargs).compute()
    tp, fp, fn = torchmetrics_argmax(batches) if mode == "argmax" else torchmetrics_threshold(batches,
                                                                                              kwargs["threshold"])
    assert frame.tp.tolist() == tp.tolist() and frame.fp.tolist() == fp.tolist() and frame.fn.tolist() == fn.tolist()


def test_other_ignore_index_and_no_ignore_pixels():
    batches = random_batches(seed=5, ignore_share=0.0)
    ev = segviewer.Evaluator(ignore_index=2, argmax=True)
    for logits, target, names in batches:
        ev.update(logits, target, names=names)
    tp = fp = fn = 0
    for probs, (_, target, _) in zip(probabilities(batches), batches):
        pred, valid = probs.argmax(1), target != 2
        hit = (pred == target) & valid
        tp = tp + torch.bincount(target[hit], minlength=C)
        fp = fp + torch.bincount(pred[valid], minlength=C) - torch.bincount(target[hit], minlength=C)
        fn = fn + torch.bincount(target[valid], minlength=C) - torch.bincount(target[hit], minlength=C)
    frame = ev.compute()
    assert frame.tp.tolist() == tp.tolist() and frame.fp.tolist() == fp.tolist() and frame.fn.tolist() == fn.tolist()
    assert frame.gt_pixels[2] == 0


def test_index_equals_the_windows(tmp_path):
    batches = random_batches(seed=1)
    root = write_to_disk(tmp_path / "d", batches)
    window = index_pass(Dataset(DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", ignore_index=IGNORE,
                                            device="cpu")), steps=100, path=tmp_path / "index-k.npz", key="k")
    full = evaluate(batches, per_image_index=True, steps=100).index()
    for key, value in window.to_arrays().items():
        assert np.array_equal(value, full.to_arrays()[key]), key
    for t in (0.0, 0.37, 0.5, 1.0):        # the window's from its store on disk, the Evaluator's in memory
        assert all(np.array_equal(getattr(window.image_counts(t), k), getattr(full.image_counts(t), k))
                   for k in ("tp", "fp", "fn")), t
    light = evaluate(batches, steps=100).index()
    assert light.images is None
    for key in ("pos_hist", "pred_hist", "gt_count", "argmax_tp", "argmax_fp", "soft_tp", "confusion", "names"):
        assert np.array_equal(getattr(window, key), getattr(light, key)), key
    best = evaluate(batches, steps=100, beta=0.5).best_thresholds()
    from segviewer.core.sweep import best_thresholds
    expected = best_thresholds(window.curves(), 100, 0.5, 1e-5)
    assert np.allclose(best.threshold, expected.threshold, equal_nan=True)
    assert np.allclose(best.fbeta, expected.fbeta, equal_nan=True)


def test_save_logits_writes_float16_the_export_reads(tmp_path):
    batches = random_batches(seed=2)
    root = write_to_disk(tmp_path / "d", batches, half=True)
    ev = evaluate(batches, save_logits_to=root / "logits")
    saved = np.load(root / "logits" / "img00.npy", allow_pickle=False)
    assert saved.dtype == np.float16 and saved.shape == (C, 6, 8)
    assert np.array_equal(saved, batches[0][0][0].half().numpy())
    assert len(ev.names) == 4


def near_ties(seed: int):
    """Batches whose logits sit near 300, where float16 keeps steps of 0.25, with the label's class ahead by about
    log 3: its probability is near 0.5 and the most probable class near a tie, so rounding changes decisions."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for logits, target, names in random_batches(seed):
        lg = 300 + torch.randn(logits.shape, generator=g) * 0.3
        small = torch.nn.functional.interpolate(target[:, None].float(), size=lg.shape[-2:], mode="nearest")
        label = small[:, 0].long().clamp(max=C - 1)
        lg.scatter_add_(1, label[:, None], torch.full_like(lg[:, :1], 1.1))
        out.append((lg, target, names))
    return out


@pytest.mark.parametrize("mode", ["threshold", "argmax"])
def test_evaluator_scores_exactly_what_it_saves(tmp_path, mode):
    kwargs, args = MODES[mode]
    batches = near_ties(seed=5)
    root = write_to_disk(tmp_path / "d", batches, half=True)
    ev = evaluate(batches, save_logits_to=root / "logits", **kwargs)
    ev.to_csv(tmp_path / "ev.csv", per_image=tmp_path / "ev_pi.csv")
    r = run_cli("export", "--gt", root / "gt", "--logits", root / "logits", "--ignore-index", IGNORE, *args,
                "--out", tmp_path / "ex.csv", "--per-image", tmp_path / "ex_pi.csv", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ev.csv").read_bytes() == (tmp_path / "ex.csv").read_bytes()
    assert (tmp_path / "ev_pi.csv").read_bytes() == (tmp_path / "ex_pi.csv").read_bytes()
    # the rounding matters on this data: the float32 logits themselves count differently
    unsaved = evaluate(batches, **kwargs).compute()
    assert unsaved[["tp", "fp", "fn"]].to_numpy().tolist() != ev.compute()[["tp", "fp", "fn"]].to_numpy().tolist()


def test_classes_as_a_count_or_names():
    batches = random_batches(seed=3)
    by_count = evaluate(batches, classes=C)
    assert by_count.classes.names == tuple(f"class {i}" for i in range(C))
    by_names = evaluate(batches, classes=["road", "car", "sky", "tree"])
    assert list(by_names.compute()["class_name"]) == ["road", "car", "sky", "tree"]
    automatic = evaluate(batches).compute()
    for frame in (by_count.compute(), by_names.compute()):
        assert frame["tp"].tolist() == automatic["tp"].tolist() and frame["fn"].tolist() == automatic["fn"].tolist()
    with pytest.raises(OptionError, match="wrong number of classes"):
        evaluate(batches, classes=5)
    for bad, match in ((0, "class count"), (True, "class count, a list"), ([], "classes=: class file lists no"),
                       (["a", None], "classes=: class name None is not text"), (3.5, "class count, a list")):
        with pytest.raises(OptionError, match=match):
            segviewer.Evaluator(classes=bad)
    with pytest.raises(OptionError, match="disagree"):
        segviewer.Evaluator(classes=4, num_classes=5)


def test_save_logits_one_image_and_bad_input(tmp_path):
    path, = segviewer.save_logits(tmp_path, "sub/a", torch.zeros(1, 3, 2, 2))
    assert path == tmp_path / "sub" / "a.npy" and np.load(path).shape == (3, 2, 2)
    with pytest.raises(OptionError, match="float16"):
        segviewer.save_logits(tmp_path, "b", torch.full((3, 2, 2), 1e6))
    with pytest.raises(OptionError, match="'..'"):
        segviewer.save_logits(tmp_path, "../c", torch.zeros(3, 2, 2))
    with pytest.raises(OptionError, match="name"):
        segviewer.save_logits(tmp_path, ["a", "b"], torch.zeros(3, 3, 2, 2))


def test_bad_input_is_an_option_error(tmp_path):
    ev = segviewer.Evaluator(classes="voc")
    with pytest.raises(OptionError, match="21"):
        ev.update(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
    ev = segviewer.Evaluator(num_classes=4)
    with pytest.raises(OptionError, match=r"\[7\]"):
        ev.update(torch.zeros(1, 4, 2, 2), torch.full((1, 2, 2), 7))
    with pytest.raises(OptionError, match="NaN"):
        ev.update(torch.full((1, 4, 2, 2), float("nan")), torch.zeros(1, 2, 2, dtype=torch.long))
    with pytest.raises(OptionError, match="names"):
        segviewer.Evaluator(save_logits_to=tmp_path).update(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2).long())
    with pytest.raises(OptionError, match="update"):
        segviewer.Evaluator().compute()
    with pytest.raises(OptionError, match="keep_index"):
        ev = segviewer.Evaluator(keep_index=False)
        ev.update(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
        ev.best_thresholds()
    with pytest.raises(OptionError, match="thresholds"):
        segviewer.Evaluator(classes="voc", threshold=[0.5, 0.5])


def test_reset_forgets_images():
    batches = random_batches()
    ev = evaluate(batches)
    before = ev.compute()
    ev.reset()
    for logits, target, names in batches:
        ev.update(logits, target, names=names)
    assert ev.compute().equals(before)


SYNC_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, torch, torch.distributed as dist, torch.multiprocessing as mp
    sys.path.insert(0, {tests!r})
    from core.test_evaluator import random_batches, evaluate

    def work(rank, init):
        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
        batches = random_batches(seed=4)
        ev = evaluate(batches[rank::2], per_image_index=True, steps=50, threshold=0.3)
        ev.sync()
        counts_only = evaluate(batches[rank::2], keep_index=False, threshold=0.3).sync()
        if rank == 0:
            ev.to_csv({out!r} + "/synced.csv", per_image={out!r} + "/synced_images.csv")
            np.savez({out!r} + "/synced.npz", **ev.index().to_arrays())
            counts_only.to_csv({out!r} + "/counts_only.csv", per_image={out!r} + "/counts_only_images.csv")
        dist.destroy_process_group()

    if __name__ == "__main__":
        # fork: the two ranks start without importing torch again
        mp.start_processes(work, args=("file://" + {out!r} + "/rendezvous",), nprocs=2, start_method="fork")
""")


def assert_same_per_class(path_a, path_b):
    a, b = pd.read_csv(path_a), pd.read_csv(path_b)
    np.testing.assert_allclose(a.pop("soft_dice"), b.pop("soft_dice"), rtol=1e-7)
    assert a.equals(b)


def test_sync_over_two_gloo_ranks_equals_one_process(tmp_path):
    tests = str(Path(__file__).parents[1])
    script = tmp_path / "sync.py"
    script.write_text(SYNC_SCRIPT.format(tests=tests, out=str(tmp_path)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    single = evaluate(random_batches(seed=4), per_image_index=True, steps=50, threshold=0.3)
    single.to_csv(tmp_path / "single.csv", per_image=tmp_path / "single_images.csv")
    # soft Dice sums probabilities, and torch's vectorised and scalar exp differ in the last float32 bit, which a
    # process with another thread count (the forked ranks) reaches on other pixels: equal to ~1e-9, not bitwise
    assert_same_per_class(tmp_path / "synced.csv", tmp_path / "single.csv")
    assert (tmp_path / "synced_images.csv").read_text() == (tmp_path / "single_images.csv").read_text()
    counts_only = evaluate(random_batches(seed=4), keep_index=False, threshold=0.3)
    counts_only.to_csv(tmp_path / "alone.csv", per_image=tmp_path / "alone_images.csv")
    assert_same_per_class(tmp_path / "counts_only.csv", tmp_path / "alone.csv")
    assert (tmp_path / "counts_only_images.csv").read_text() == (tmp_path / "alone_images.csv").read_text()
    with np.load(tmp_path / "synced.npz", allow_pickle=False) as synced:
        for key, value in single.index().to_arrays().items():
            if key.startswith("soft_"):   # probability sums: see soft_dice above
                np.testing.assert_allclose(synced[key], value, rtol=1e-7)
            else:
                assert np.array_equal(synced[key], value), key
