"""The read gate: a label map's pixels × classes are admitted by the memory budget before decoding; every format's
signature must match its extension (a JPEG is no lossless label map); arrays are read, not memory-mapped; class
files are measured before parsing; size-like options are checked against the budget together, naming the option."""
import io
import json
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from helpers import run_cli
from hostile_kit import C, H, W, data_args, make_base, refused, write_logits
from segviewer.core import budgets, reads
from segviewer.core.errors import LoadError, OptionError


def png_declaring(path, width, height):
    """A valid PNG header declaring width × height grey pixels, with almost no data behind it (never decoded)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def test_a_label_map_too_large_for_the_budget_is_refused_before_decoding(tmp_path):
    base = make_base(tmp_path / "data")
    png_declaring(base["gt0"], 9000, 9000)           # 81 megapixels under Pillow's bomb limit, a few hundred bytes
    write_logits(base["pred0"], np.zeros((C, 2, 2), np.float32))
    started = time.monotonic()
    line = refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv", "--memory-budget", "2G"],
                   "img0.png", "9000×9000", "--memory-budget")
    assert time.monotonic() - started < 5 and "3 classes" in line


def test_the_budget_is_the_machines_share_unless_given(monkeypatch):
    monkeypatch.delenv(budgets.BUDGET_ENV, raising=False)
    assert budgets.memory_budget() == max(2**30, budgets.physical_memory() // 8)
    monkeypatch.setenv(budgets.BUDGET_ENV, "1.5G")
    assert budgets.memory_budget() == int(1.5 * 2**30)
    assert budgets.image_need(81_000_000, 3) == 81_000_000 * (24 + 27)    # the 81-MP case: 4.1 GB
    with pytest.raises(OptionError, match="--memory-budget"):
        budgets.parse_size("lots")


@pytest.mark.parametrize("size", ["0", "-5G", "12Q", "1e30"])
def test_a_bad_memory_budget_is_one_line(tmp_path, size):
    base = make_base(tmp_path / "data")
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv", f"--memory-budget={size}"],
            "--memory-budget")


def jpeg_bytes(labels):
    buf = io.BytesIO()
    Image.fromarray(labels).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def test_a_jpeg_named_png_is_no_label_map(tmp_path):
    base = make_base(tmp_path / "data")
    base["gt0"].write_bytes(jpeg_bytes(np.random.default_rng(1).integers(0, C, (H, W)).astype(np.uint8)))
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "o.csv"], "img0.png", "JPEG")


def test_a_jpeg_named_png_as_annotator_mask_is_refused_too(tmp_path):
    base = make_base(tmp_path / "data", masks=True)
    base["pred0"].write_bytes(jpeg_bytes(np.zeros((H, W), np.uint8)))
    refused(tmp_path, ["export", *data_args(base, "--masks"), "--out", tmp_path / "o.csv"], "img0.png", "JPEG")


def test_a_png_named_jpg_among_the_images_is_that_images_failure(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    (base["root"] / "images").mkdir()
    Image.new("RGB", (W, H)).save(base["root"] / "images" / "img0.jpg", format="PNG")
    Image.new("RGB", (W, H)).save(base["root"] / "images" / "img1.jpg", format="JPEG")
    result = run_cli("export", *data_args(base), "--images", base["root"] / "images", "--out", tmp_path / "o.csv",
                     "--figures", tmp_path / "figs", "--worst", "2")
    assert result.returncode == 0 and result.stderr.count("skipped") == 1
    assert "img0.jpg" in result.stderr and "its content is PNG" in result.stderr


@pytest.mark.parametrize("head", [b"", b"GIF89a" + bytes(20), b"%PDF-1.7" + bytes(20), b"\x80\x04\x95" + bytes(20)])
def test_other_contents_under_a_png_name_are_named(tmp_path, head):
    path = tmp_path / "x.png"
    path.write_bytes(head)
    with pytest.raises(LoadError) as err:
        reads.check_signature(path, "label map")
    assert "x.png" in str(err.value) and ("empty" if not head else "label map") in str(err.value)


def test_a_logit_file_truncated_while_it_is_read_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "l.npy"
    np.save(path, np.ones((C, 64, 64), np.float32))
    with reads.open_regular(path) as fh:
        fh.read(128)
        with open(path, "r+b") as other:             # another program shortens the file under the reader
            other.truncate(1000)
        with pytest.raises(LoadError, match="truncated"):
            reads.read_array(path, fh, 128, (C, 64, 64), np.dtype(np.float32))


def test_logit_files_are_read_into_memory_not_mapped(tmp_path):
    """The array a .npy gives is the process's own (no mapping of the file is left to break)."""
    from segviewer.core.logit_files import read_logit_array
    path = tmp_path / "l.npy"
    np.save(path, np.arange(C * H * W, dtype=np.float32).reshape(C, H, W))
    array = read_logit_array(path, 10**6)
    assert type(array) is np.ndarray and array.flags.owndata and array.base is None
    path.write_bytes(b"")                              # the file is gone: the array is not
    assert float(array.sum()) == float(np.arange(C * H * W).sum())


CLASS_FILES = {
    "toml-20-part-dotted-key": (".toml", "names = ['a']\n" + ".".join(["k"] * 20) + " = 1\n", "dotted parts"),
    "toml-20-part-table-header": (".toml", "names = ['a']\n[" + ".".join(["t"] * 20) + "]\nx = 1\n", "dotted parts"),
    "toml-inline-tables-40-deep": (".toml", "names = ['a']\nx = " + "{a = " * 40 + "1" + "}" * 40 + "\n",
                                   "nested too deeply"),
    "json-arrays-40-deep": (".json", '{"names": ["a"], "x": ' + "[" * 40 + "]" * 40 + "}", "nested too deeply"),
    "json-1.2-million-values": (".json", '{"names": ["a"], "x": [' + "0," * 1_200_000 + "0]}", "values"),
}


@pytest.mark.parametrize("ext,text,reason", CLASS_FILES.values(), ids=CLASS_FILES.keys())
def test_a_class_file_is_measured_before_it_is_parsed(tmp_path, ext, text, reason):
    base = make_base(tmp_path / "data")
    classes = tmp_path / f"c{ext}"
    classes.write_text(text)
    started = time.monotonic()
    refused(tmp_path, ["export", "--gt", base["gt"], "--logits", base["pred"], "--classes", classes,
                       "--out", tmp_path / "o.csv"], f"c{ext}", reason)
    assert time.monotonic() - started < 5


def test_dots_inside_strings_and_comments_are_not_key_parts():
    text = ('# a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r\nnames = ["a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r"]\n'
            'x = 1.5\n"quoted.key.with.many.dots.a.b.c.d.e.f.g.h.i.j.k" = 2\n')
    reads.check_structure("c.toml", text, "TOML")      # no error: one part each


def classes_json(path, n):
    path.write_text(json.dumps({"names": [f"c{i}" for i in range(n)]}))


def test_steps_times_classes_beyond_the_budget_names_steps(tmp_path):
    base = make_base(tmp_path / "data")
    write_logits(base["pred0"], np.zeros((3000, H, W), np.float32))
    classes_json(base["classes"], 3000)
    line = refused(tmp_path, ["sweep", *data_args(base), "--out", tmp_path / "s.csv", "--steps", "20000",
                              "--memory-budget", "1G"], "--steps", "lower --steps")
    assert "3,000 classes" in line


def test_bins_times_classes_beyond_the_budget_names_bins(tmp_path):
    base = make_base(tmp_path / "data")
    write_logits(base["pred0"], np.zeros((5000, H, W), np.float32))
    classes_json(base["classes"], 5000)
    refused(tmp_path, ["calibration", *data_args(base), "--out", tmp_path / "c.csv", "--bins", "10000",
                       "--memory-budget", "1G"], "--bins", "5,001 rows")


def test_many_class_names_on_a_one_pixel_ground_truth_name_the_class_count(tmp_path, monkeypatch):
    """The memory gate answers before the index's disk check: CI once ran this on a disk with 798 MiB free and
    the refusal named the disk, not --classes."""
    import segviewer.core.count_store_build as store_build
    monkeypatch.setattr(store_build, "disk_free", lambda folder: 1 << 20)
    base = make_base(tmp_path / "data")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(base["gt0"])
    write_logits(base["pred0"], np.zeros((20_000, 1, 1), np.float32))
    classes_json(base["classes"], 20_000)
    refused(tmp_path, ["sweep", *data_args(base), "--out", tmp_path / "s.csv", "--memory-budget", "2G"],
            "20,000×20,001 confusion matrix", "--classes")


def test_every_images_counts_of_many_classes_are_admitted_before_a_pass(tmp_path):
    """40 one-pixel masks against 40,000 classes: each file fits, but the export's rows (tp, fp, fn and the soft
    terms of every image and class, 73 MiB) were allocated without asking the budget."""
    base = make_base(tmp_path / "data", n=40, masks=True)
    for i in range(40):
        for kind in ("gt", "pred"):
            Image.fromarray(np.zeros((1, 1), np.uint8)).save(base[kind] / f"img{i}.png")
    classes_json(base["classes"], 40_000)
    line = refused(tmp_path, ["export", *data_args(base, "--masks"), "--out", tmp_path / "o.csv",
                              "--memory-budget", "64M"], "40 images × 40,000 classes", "--classes")
    assert "73.2 MiB" in line


def test_a_boundary_width_past_the_image_costs_what_the_image_side_does(tmp_path):
    base = make_base(tmp_path / "data")
    rows = {}
    for width in ("8", "1000000000000"):
        out = tmp_path / f"o{width[:2]}.csv"
        result = run_cli("export", *data_args(base), "--out", out, "--boundary-metrics", "--boundary-width", width)
        assert result.returncode == 0, result.stderr
        rows[width] = [r["boundary_iou"] for r in __import__("csv").DictReader(open(out))]
    assert rows["8"] == rows["1000000000000"]


def test_a_boundary_band_past_the_image_is_the_whole_image(tmp_path):
    base = make_base(tmp_path / "data")
    outs = {}
    for k in ("8", "1000000000"):
        out = tmp_path / f"b{k[:2]}.csv"
        assert run_cli("export", *data_args(base), "--out", out, "--boundary", k).returncode == 0
        outs[k] = out.read_text()
    assert outs["8"] == outs["1000000000"]


def test_a_model_input_size_beyond_the_budget_is_refused_before_any_image(tmp_path):
    """--input-size 40000x40000 tried to allocate 19 GB for the first image (a MemoryError, or the OOM killer)."""
    import torch

    class Identity(torch.nn.Module):
        def forward(self, x):
            return x
    base = make_base(tmp_path / "data")
    images = tmp_path / "data" / "images"
    images.mkdir()
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(images / "img0.png")
    torch.jit.script(Identity()).save(str(tmp_path / "m.pt"))
    line = refused(tmp_path, ["export", "--gt", base["gt"], "--images", images, "--model", tmp_path / "m.pt",
                              "--input-size", "40000x40000", "--memory-budget", "1G", "--out", tmp_path / "o.csv"],
                   "--input-size 40000x40000", "lower --input-size")
    assert "model's input needs about 53.6 GiB" in line
