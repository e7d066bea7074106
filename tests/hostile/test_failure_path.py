"""One failure path: a bad file among good ones is that image's failure (named, skipped, the rest goes on), whatever
raised; when every file fails, the one error line gives the first reasons. Invalid UTF-8 names are written with
replacement characters."""
import csv
import os

import numpy as np
import pytest
import torch

from helpers import run_cli
from hostile_kit import C, H, W, data_args, make_base, refused
from segviewer.core.dataset import Dataset
from segviewer.core.passes import counts_pass
from segviewer.core.scoring import Scoring
from segviewer.core.errors import LoadError
from segviewer.core.options import DataOptions

BAD = {
    "big-endian.npy": lambda p: np.save(p, np.zeros((C, H, W), ">f4")),
    "negative.npy": lambda p: p.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
                                            b"'shape': (3, -8, 8), }" + b" " * 55 + b"\n"),
    "sparse.pt": lambda p: torch.save(torch.zeros(C, H, W).to_sparse(), p),
    "meta.pt": lambda p: torch.save(torch.empty(C, H, W, device="meta"), p),
}


@pytest.mark.parametrize("kind", BAD)
def test_bad_file_among_good_ones_is_skipped_by_name(tmp_path, kind):
    ext = os.path.splitext(kind)[1]
    base = make_base(tmp_path / "data", n=3, ext=ext)
    bad = base["pred"] / f"img1{ext}"
    BAD[kind](bad)
    out = tmp_path / "o.csv"
    result = run_cli("export", *data_args(base), "--out", out, "--per-image", tmp_path / "pi.csv")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("segviewer: skipped") == 1 and f"img1{ext}" in result.stderr
    images = {row["image"] for row in csv.DictReader(open(tmp_path / "pi.csv"))}
    assert images == {"img0", "img2"}


@pytest.mark.parametrize("wrap", ["requires_grad", "parameter", "float16-expanded", "fortran-npy"])
def test_unusual_but_valid_tensors_load_as_plain_float32(tmp_path, wrap):
    values = np.random.default_rng(7).normal(size=(C, H, W)).astype(np.float32)
    ext = ".npy" if wrap == "fortran-npy" else ".pt"
    base = make_base(tmp_path / "data", ext=ext)
    tensor = torch.from_numpy(values)
    if wrap == "requires_grad":
        torch.save(tensor.clone().requires_grad_(True), base["pred0"])
    elif wrap == "parameter":
        torch.save({"logits": torch.nn.Parameter(tensor.clone())}, base["pred0"])
    elif wrap == "float16-expanded":
        values = np.broadcast_to(values[:, :1, :].astype(np.float16), (C, H, W)).astype(np.float32)
        torch.save(torch.from_numpy(values[:, :1, :]).half().expand(C, H, W), base["pred0"])
    else:
        np.save(base["pred0"], np.asfortranarray(values))
    ds = Dataset(DataOptions(gt_dir=base["gt"], pred_dir=base["pred"], classes=str(base["classes"])))
    from segviewer.core.io import load_logits
    loaded = load_logits(base["pred0"], 10_000)
    assert loaded.dtype == torch.float32 and loaded.is_contiguous() and not loaded.requires_grad
    assert loaded.untyped_storage().nbytes() == C * H * W * 4
    assert torch.equal(loaded, torch.from_numpy(values))
    assert counts_pass(ds, Scoring()).loaded_rows()[0] == ["img0"]


def test_any_exception_while_loading_is_that_images_failure(tmp_path, monkeypatch):
    base = make_base(tmp_path / "data", n=2)
    ds = Dataset(DataOptions(gt_dir=base["gt"], pred_dir=base["pred"], classes=str(base["classes"])))
    import segviewer.core.dataset as dataset_module
    real = dataset_module.to_probabilities
    calls = []

    def surprise(logits, *args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise IndexError("a library's surprise")
        return real(logits, *args, **kw)
    monkeypatch.setattr(dataset_module, "to_probabilities", surprise)
    failures = []
    result = counts_pass(ds, Scoring(), on_error=failures.append)
    assert result.loaded_rows()[0] == ["img1"]
    assert failures[0].path.name == "img0.npy" and "IndexError: a library's surprise" in str(failures[0])


def test_when_every_file_fails_the_first_reasons_are_shown(tmp_path):
    base = make_base(tmp_path / "data", n=5)
    for i in range(5):
        np.save(base["pred"] / f"img{i}.npy", np.zeros((7, H, W), np.float32))
    line = refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv"],
                   "(5 failed)", "img0.npy: wrong number of classes: 7 channels", "img2.npy", "and 2 more")
    assert "img3.npy" not in line
    line = refused(tmp_path, ["sweep", *data_args(base), "--out", tmp_path / "s.csv", "--steps", "10"],
                   "(5 failed)", "7 channels")


def test_bad_first_logits_without_class_file_is_skipped(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    (base["pred"] / "img0.npy").write_bytes(b"garbage")
    result = run_cli("export", "--gt", base["gt"], "--logits", base["pred"], "--out", tmp_path / "o.csv")
    assert result.returncode == 0 and "skipped" in result.stderr and "img0.npy" in result.stderr
    with pytest.raises(LoadError, match="img0.npy: not a NumPy"):
        counts_pass(Dataset(DataOptions(gt_dir=base["gt"], pred_dir=base["pred"])), Scoring(), strict=True)


def test_bad_image_with_figures_is_skipped(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    (base["root"] / "images").mkdir()
    for i in range(2):
        (base["root"] / "images" / f"img{i}.png").write_bytes(b"not an image")
    result = run_cli("export", *data_args(base), "--images", base["root"] / "images", "--out", tmp_path / "o.csv",
                     "--figures", tmp_path / "figs", "--worst", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("skipped") == 2 and "not an image" in result.stderr
    assert len(list((tmp_path / "figs").glob("*.png"))) == 2


def test_invalid_utf8_names_are_written_with_replacement_characters(tmp_path):
    base = make_base(tmp_path / "data", n=1)
    raw = os.fsencode(base["gt"]) + b"/bad\xffname.png"
    os.rename(base["gt0"], raw)
    os.rename(base["pred0"], os.fsencode(base["pred"]) + b"/bad\xffname.npy")
    result = run_cli("export", *data_args(base), "--out", tmp_path / "o.csv", "--per-image", tmp_path / "pi.csv")
    assert result.returncode == 0, result.stderr
    assert "bad\ufffdname" in (tmp_path / "pi.csv").read_text(encoding="utf-8")
    np.save(os.fsdecode(os.fsencode(base["pred"]) + b"/bad\xffname.npy"), np.zeros((7, H, W), np.float32))
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o2.csv"], "bad\ufffdname.npy")
    session = tmp_path / "s.sqlite"
    note = os.fsdecode(b"caf\xe9")
    assert run_cli("qa-set", "--session", session, "--image", "bad\udcffname", "--status", "accepted",
                   "--note", note).returncode == 0
    assert run_cli("qa-report", "--session", session, "--out", tmp_path / "r.csv").returncode == 0
    report = (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert "bad\ufffdname" in report and "caf\ufffd" in report


def test_inferred_class_count_is_bounded(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    for i in range(2):
        np.save(base["pred"] / f"img{i}.npy", np.zeros((5000, 1, 1), np.float32))
    refused(tmp_path, ["export", "--gt", base["gt"], "--logits", base["pred"], "--out", tmp_path / "o.csv"],
            "img0.npy: 5,000 channels", "img1.npy", "need --classes or --num-classes")


def test_a_file_where_a_folder_belongs(tmp_path):
    base = make_base(tmp_path / "data")
    refused(tmp_path, ["export", "--gt", base["classes"], "--logits", base["pred"], "--out", tmp_path / "o.csv"],
            "classes.json: is not a folder")
