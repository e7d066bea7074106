"""Loading and pairing, and every kind of bad input: a clear LoadError naming the file."""
import os
import pickle

import numpy as np
from pathlib import Path
import pytest
import torch
from PIL import Image

from helpers import make_dataset, save_label
from segviewer.core.classes import load_class_file, load_preset, preset_names, resolve_classes
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.passes import counts_pass
from segviewer.core.scoring import Scoring
from segviewer.core.errors import LoadError, OptionError
from segviewer.core.io import load_image, load_label_map, load_logits, pair_dataset


def options(root, **kw):
    return DataOptions(gt_dir=root / "gt", pred_dir=root / "logits", **kw)


def small(root, n=2, c=3, h=6, w=8, seed=0):
    rng = np.random.default_rng(seed)
    return make_dataset(root, [rng.normal(size=(c, h, w)).astype(np.float32) for _ in range(n)],
                        [rng.integers(0, c, (h, w)) for _ in range(n)])


def test_pairs_cityscapes_names_recursively(tmp_path):
    save_label(tmp_path / "gt" / "frankfurt" / "frankfurt_000000_000294_gtFine_labelIds.png", np.zeros((4, 4)))
    save_label(tmp_path / "gt" / "lindau" / "lindau_000001_000019_gtFine_labelIds.png", np.zeros((4, 4)))
    save_label(tmp_path / "gt" / "orphan_gtFine_labelIds.png", np.zeros((4, 4)))
    (tmp_path / "pred" / "frankfurt").mkdir(parents=True)
    np.save(tmp_path / "pred" / "frankfurt" / "frankfurt_000000_000294_leftImg8bit.npy", np.zeros((2, 4, 4), np.float32))
    np.save(tmp_path / "pred" / "lindau_000001_000019_leftImg8bit.npy", np.zeros((2, 4, 4), np.float32))
    np.save(tmp_path / "pred" / "stray.npy", np.zeros((2, 4, 4), np.float32))
    pairing = pair_dataset(tmp_path / "gt", tmp_path / "pred")
    assert [i.name for i in pairing.items] == ["frankfurt_000000_000294", "lindau_000001_000019"]
    assert pairing.unpaired == {"ground-truth": ["orphan"], "prediction": ["stray"]}
    assert any("orphan" in line for line in pairing.problems())


def test_logit_formats_load_the_same(tmp_path):
    arr = np.random.default_rng(0).normal(size=(3, 5, 7)).astype(np.float16)
    np.save(tmp_path / "a.npy", arr)
    np.savez(tmp_path / "b.npz", logits=arr)
    torch.save(torch.from_numpy(arr), tmp_path / "c.pt")
    torch.save({"logits": torch.from_numpy(arr)}, tmp_path / "d.pth")
    for name in ("a.npy", "b.npz", "c.pt", "d.pth"):
        assert torch.equal(load_logits(tmp_path / name), torch.from_numpy(arr).float()), name


class Payload:
    def __reduce__(self):
        return (os.mkdir, (str(MARKER),))


MARKER = None


def test_pickled_pt_is_refused_and_never_runs(tmp_path):
    global MARKER
    MARKER = tmp_path / "payload_ran"
    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump(Payload(), fh)
    torch.save({"x": Payload()}, tmp_path / "evil2.pt")
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(LoadError) as err:
            load_logits(tmp_path / name)
        assert name in str(err.value) and "refused" in str(err.value)
    assert not MARKER.exists()


def test_object_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LoadError, match="obj.npy: .*pickle"):
        load_logits(tmp_path / "obj.npy")


def test_truncated_npy_and_corrupt_png(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((3, 64, 64), np.float32))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="t.npy: corrupt or truncated"):
        load_logits(tmp_path / "t.npy")
    save_label(tmp_path / "g.png", np.random.default_rng(0).integers(0, 3, (64, 64)))
    png = (tmp_path / "g.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "garbage.png").write_bytes(b"not a png at all")
    with pytest.raises(LoadError, match="trunc.png: corrupt or truncated"):
        load_label_map(tmp_path / "trunc.png")
    with pytest.raises(LoadError, match="garbage.png: label map is not a PNG file"):
        load_label_map(tmp_path / "garbage.png")


def test_nan_logits_and_bad_shapes(tmp_path):
    arr = np.zeros((3, 4, 4), np.float32)
    arr[1, 2, 2] = np.nan
    np.save(tmp_path / "nan.npy", arr)
    with pytest.raises(LoadError, match="nan.npy: logits contain NaN or Inf"):
        load_logits(tmp_path / "nan.npy")
    arr[1, 2, 2] = np.inf
    np.save(tmp_path / "inf.npy", arr.astype(np.float16))
    with pytest.raises(LoadError, match="inf.npy: logits contain NaN or Inf"):
        load_logits(tmp_path / "inf.npy")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4), np.float32))
    with pytest.raises(LoadError, match="C×H×W"):
        load_logits(tmp_path / "flat.npy")
    np.save(tmp_path / "int.npy", np.zeros((2, 4, 4), np.int32))
    with pytest.raises(LoadError, match="float"):
        load_logits(tmp_path / "int.npy")


def test_wrong_class_count_and_bad_labels_are_skipped_and_named(tmp_path):
    root = small(tmp_path, n=3)
    np.save(root / "logits" / "img1.npy", np.zeros((5, 6, 8), np.float32))
    save_label(root / "gt" / "img2.png", np.full((6, 8), 7))
    ds = Dataset(options(root, classes=None, num_classes=3))
    failures = []
    result = counts_pass(ds, Scoring(), on_error=failures.append)
    assert result.loaded_rows()[0] == ["img0"] and result.loaded.tolist() == [True, False, False]
    reasons = {f.path.name: f.reason for f in failures}
    assert "wrong number of classes" in reasons["img1.npy"]
    assert "[7]" in reasons["img2.png"]
    with pytest.raises(LoadError, match="img1.npy"):
        counts_pass(ds, Scoring(), strict=True)


def test_image_size_mismatch_and_rgb_label(tmp_path):
    root = small(tmp_path, n=1)
    (root / "images").mkdir()
    Image.new("RGB", (9, 6)).save(root / "images" / "img0.jpg")
    ds = Dataset(options(root, images_dir=root / "images"))
    with pytest.raises(LoadError, match="img0.jpg: image is 9×6 but its ground truth img0.png is 8×6"):
        ds.load(0)
    Image.new("RGB", (8, 6)).save(root / "gt" / "img0.png")
    with pytest.raises(LoadError, match="single-channel"):
        Dataset(options(root, num_classes=3)).load(0)


def test_empty_folder_and_no_pairs(tmp_path):
    (tmp_path / "gt").mkdir()
    (tmp_path / "logits").mkdir()
    with pytest.raises(LoadError, match="no ground-truth label maps"):
        pair_dataset(tmp_path / "gt", tmp_path / "logits")
    save_label(tmp_path / "gt" / "a.png", np.zeros((2, 2)))
    np.save(tmp_path / "logits" / "b.npy", np.zeros((2, 2, 2), np.float32))
    with pytest.raises(LoadError, match="no file pairs"):
        pair_dataset(tmp_path / "gt", tmp_path / "logits")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    save_label(tmp_path / "big.png", np.zeros((100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(LoadError, match="big.png: .*decompression-bomb"):
        load_label_map(tmp_path / "big.png")


def test_label_modes_and_images(tmp_path):
    labels = np.array([[0, 1], [2, 255]])
    Image.fromarray(labels.astype(np.uint16)).save(tmp_path / "l16.png")
    p = Image.fromarray(labels.astype(np.uint8), mode="L").convert("P")
    p.save(tmp_path / "p.png")
    assert load_label_map(tmp_path / "l16.png").tolist() == labels.tolist()
    assert load_label_map(tmp_path / "p.png").tolist() == labels.tolist()
    Image.fromarray(np.array([[0, 1000], [2000, 4000]], np.uint16)).save(tmp_path / "i16.png")
    img = load_image(tmp_path / "i16.png")
    assert img.shape == (2, 2, 3) and img.dtype == np.uint8 and img[1, 1, 0] == 255 and img[0, 0, 0] == 0


def test_presets_and_class_files(tmp_path):
    assert {"voc", "cityscapes", "cityscapes-labelids"} <= set(preset_names())
    voc = load_preset("voc")
    assert voc.num_classes == 21 and voc.names[15] == "person" and voc.colors[1] == (128, 0, 0)
    cs = load_preset("cityscapes")
    assert cs.num_classes == 19 and cs.names[0] == "road" and cs.colors[13] == (0, 0, 142)
    lut = load_preset("cityscapes-labelids").lookup_table()
    assert lut[7] == 0 and lut[26] == 13 and lut[0] == 255
    (tmp_path / "c.toml").write_text('ignore_index = 0\nnames = ["bg", "fg"]\ncolors = [[0, 0, 0], "#ff0000"]\n')
    spec = load_class_file(tmp_path / "c.toml")
    assert spec.names == ("bg", "fg") and spec.colors[1] == (255, 0, 0) and spec.ignore_index == 0
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(LoadError, match="bad.json: not valid JSON"):
        load_class_file(tmp_path / "bad.json")
    with pytest.raises(OptionError, match="unknown class preset"):
        resolve_classes("nosuch")
    generic = resolve_classes(None, 4)
    assert generic.names[3] == "class 3" and len(set(generic.colors)) == 4


def test_masks_as_predictions(tmp_path):
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    mask = np.array([[0, 1, 1], [255, 2, 2]])
    save_label(tmp_path / "gt" / "a.png", gt)
    save_label(tmp_path / "masks" / "a.png", mask)
    ds = Dataset(DataOptions(gt_dir=tmp_path / "gt", pred_dir=tmp_path / "masks", pred_kind="masks"))
    assert ds.classes.num_classes == 3
    counts = counts_pass(ds, Scoring()).total
    # class 0: tp1 fn1; class 1: tp1 fp1 fn1 (mask's 255 predicts nothing); class 2: tp1
    assert counts.tp.tolist() == [1, 1, 1] and counts.fp.tolist() == [0, 1, 0] and counts.fn.tolist() == [1, 1, 0]


def _rglob_reference(root, exts, strip):
    """find_files as it was written with pathlib (sorted rglob, stat per file): the listing must match it."""
    from segviewer.core.io import pair_key
    found, duplicates = {}, []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in exts or not path.is_file() or path.name.startswith("."):
            continue
        if ".segviewer" in path.relative_to(root).parts:
            continue
        key = pair_key(path, strip)
        if key in found:
            duplicates.append(key)
        else:
            found[key] = path
    return found, duplicates


def test_listing_equals_sorted_rglob_on_a_tricky_tree(tmp_path):
    from segviewer.core.io import LABEL_EXTS, find_files
    root = tmp_path / "gt"
    names = ["b/a_gt.png", "a.png", "a_gt.PNG", "b.png/x.png", "b-c/z.png", "b/c/d/deep.png", ".hidden.png",
             ".segviewer/cached.png", "x/.segviewer/y.png", "dot./q.png", "q..png", "r.txt", "b/a_gtFine_labelIds.png",
             "Z.png", "é.png", "b_/a.png"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"listed, never read")
    (root / "dangling.png").symlink_to(tmp_path / "missing.png")
    (root / "linked.png").symlink_to(root / "Z.png")
    (root / "linked_folder").symlink_to(root / "b", target_is_directory=True)   # not entered, as rglob does
    strip = ("_gtFine_labelIds", "_gt")
    found, duplicates = find_files(root, LABEL_EXTS, strip)
    reference, reference_duplicates = _rglob_reference(root, LABEL_EXTS, strip)
    assert {k: Path(v) for k, v in found.items()} == reference and duplicates == reference_duplicates
    assert found["a"] == str(root / "a.png") and duplicates == ["a"] * 4 and "cached" not in found
