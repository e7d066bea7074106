"""Malformed class files and label maps: exit 2, one line naming the file and the field, nothing modified."""
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from hostile_kit import data_args, make_base, refused


def json_doc(doc):
    return lambda p: p.write_text(json.dumps(doc))


def text(body: str, encoding: str = "utf-8"):
    return lambda p: p.write_bytes(body.encode(encoding))


NAMES = ["a", "b", "c"]

CLASS_CASES = {
    "nested-1000-deep": (".json", text('{"names": ' + "[" * 1000 + "]" * 1000 + "}"), "nested too deeply"),
    "nested-100000-deep": (".json", text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "latin-1-bytes": (".json", text('{"names": ["caf\u00e9", "b", "c"]}', "latin-1"), "not UTF-8"),
    "ignore-index-text": (".json", json_doc({"names": NAMES, "ignore_index": "x"}), "ignore_index 'x'"),
    "ignore-index-1e400": (".json", text('{"names": ["a", "b", "c"], "ignore_index": 1e400}'), "ignore_index inf"),
    "ignore-index-true": (".json", json_doc({"names": NAMES, "ignore_index": True}), "ignore_index True"),
    "ignore-index-fraction": (".json", json_doc({"names": NAMES, "ignore_index": 3.5}), "ignore_index 3.5"),
    "ignore-index-70000": (".json", json_doc({"names": NAMES, "ignore_index": 70000}), "ignore_index 70000"),
    "ignore-index-list": (".json", json_doc({"names": NAMES, "ignore_index": [255]}), "ignore_index [255]"),
    "label-map-key-70000": (".json", json_doc({"names": NAMES, "label_map": {"70000": 0}}), "label_map key 70000"),
    "label-map-key-road": (".json", json_doc({"names": NAMES, "label_map": {"road": 0}}), "label_map key 'road'"),
    "label-map-key-negative": (".json", json_doc({"names": NAMES, "label_map": {"-3": 0}}), "label_map key -3"),
    "label-map-value-text": (".json", json_doc({"names": NAMES, "label_map": {"7": "x"}}), "label_map value for 7"),
    "label-map-value-no-class": (".json", json_doc({"names": NAMES, "label_map": {"7": 99}}), "neither a class id"),
    "label-map-is-a-list": (".json", json_doc({"names": NAMES, "label_map": [[7, 0]]}), "'label_map' must map"),
    "colour-zzzzzz": (".json", json_doc({"names": NAMES, "colors": ["#zzzzzz", "#000000", "#000000"]}),
                      "bad colour '#zzzzzz'"),
    "colour-short-hex": (".json", json_doc({"names": NAMES, "colors": ["#fff", None, None]}), "bad colour '#fff'"),
    "colour-300": (".json", json_doc({"classes": [{"name": "a", "color": [300, 0, 0]}]}), "bad colour [300, 0, 0]"),
    "colour-two-values": (".json", json_doc({"classes": [{"name": "a", "color": [1, 2]}]}), "bad colour [1, 2]"),
    "colour-true": (".json", json_doc({"classes": [{"name": "a", "color": True}]}), "bad colour True"),
    "colour-bools": (".json", json_doc({"classes": [{"name": "a", "color": [True, False, True]}]}), "bad colour"),
    "names-a-string": (".json", json_doc({"names": "abc"}), "'names' must be a list"),
    "names-holds-a-dict": (".json", json_doc({"names": ["a", {"x": 1}, "c"]}), "class name {'x': 1} is not text"),
    "colors-a-number": (".json", json_doc({"names": NAMES, "colors": 5}), "'colors' must be a list"),
    "no-classes": (".json", json_doc({"names": []}), "lists no classes"),
    "count-mismatch": (".json", json_doc({"names": NAMES, "colors": ["#000000"]}), "3 names but 1 colours"),
    "top-level-list": (".json", json_doc(["a", "b"]), "must hold a table"),
    "empty-file": (".json", text(""), "not valid JSON"),
    "invalid-json": (".json", text("{names: [a, b]"), "not valid JSON"),
    "nan-literal": (".json", text('{"names": ["a", "b", "c"], "ignore_index": NaN}'), "NaN is not a number"),
    "entries-without-name": (".json", json_doc({"classes": [{"color": [0, 0, 0]}]}), "entries with a 'name'"),
    "neither-key": (".json", json_doc({"labels": NAMES}), "needs 'classes' or 'names'"),
    "70000-classes": (".json", json_doc({"names": [str(i) for i in range(70000)]}), "at most 65,536"),
    "larger-than-16-MiB": (".json", text('{"names": ["a", "b", "c"], "pad": "' + "x" * (17 * 2**20) + '"}'),
                           "larger than 16 MiB"),
    "invalid-toml": (".toml", text("names = [\n"), "not valid TOML"),
    "toml-ignore-text": (".toml", text('names = ["a", "b", "c"]\nignore_index = "x"\n'), "ignore_index 'x'"),
    "toml-nested-deep": (".toml", text("x = " + "[" * 5000 + "]" * 5000 + "\nnames = ['a']\n"), "TOML"),
}


@pytest.mark.parametrize("suffix,writer,reason", CLASS_CASES.values(), ids=CLASS_CASES.keys())
def test_malformed_class_file_is_refused_in_one_line(tmp_path, suffix, writer, reason):
    base = make_base(tmp_path / "data")
    path = tmp_path / f"classes{suffix}"
    writer(path)
    args = ["export", *data_args(base)[:-1], path, "--out", tmp_path / "out.csv"]
    refused(tmp_path, args, path.name, reason)


def special_class_file(kind: str, path):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "symlink-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dangling-symlink":
        path.symlink_to(path.parent / "nowhere.json")


@pytest.mark.parametrize("kind,reason", [("fifo", "not a regular file"), ("folder", "is a folder"),
                                         ("symlink-to-dev-zero", "not a regular file"),
                                         ("dangling-symlink", "does not exist"), ("missing", "does not exist")])
def test_class_file_that_is_not_a_file_is_refused_without_blocking(tmp_path, kind, reason):
    base = make_base(tmp_path / "data")
    path = tmp_path / "classes.json"
    special_class_file(kind, path)
    refused(tmp_path, ["export", *data_args(base)[:-1], path, "--out", tmp_path / "out.csv"], "classes.json", reason)


@pytest.mark.parametrize("kind,reason", [("fifo", "not a regular file"), ("folder", "is a folder"),
                                         ("symlink-to-dev-zero", "not a regular file"),
                                         ("dangling-symlink", "does not exist")])
def test_a_dataset_folders_class_file_that_is_not_a_file_is_refused_not_skipped(tmp_path, kind, reason):
    """Skipped, the run went on with "class 0", "class 1"... and the real names were lost without a word."""
    base = make_base(tmp_path / "data")
    base["classes"].unlink()
    special_class_file(kind, base["classes"])
    refused(tmp_path, ["export", base["root"], "--out", tmp_path / "out.csv"], str(base["classes"]), reason)


def test_class_file_with_unknown_extension_is_named(tmp_path):
    base = make_base(tmp_path / "data")
    (tmp_path / "classes.yaml").write_text("names: [a]")
    refused(tmp_path, ["export", *data_args(base)[:-1], tmp_path / "classes.yaml", "--out", tmp_path / "o.csv"],
            "classes.yaml", ".json or .toml")


def label_png(mode_array):
    return lambda p: Image.fromarray(mode_array).save(p)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(p):
    """A PNG header of 1-bit 20000×20000 pixels with a small deflate stream: decoded, 400 million pixels."""
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0)
    idat = zlib.compress(bytes(2501) * 2000, 9)
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


GT_CASES = {
    "random-bytes": (lambda p: p.write_bytes(np.random.default_rng(4).bytes(200)), "not an image"),
    "empty-file": (lambda p: p.write_bytes(b""), "not an image"),
    "truncated-png": (lambda p: (label_png(np.zeros((64, 64), np.uint8))(p), p.write_bytes(p.read_bytes()[:60])),
                      "corrupt or truncated"),
    "rgb": (label_png(np.zeros((8, 8, 3), np.uint8)), "single-channel"),
    "labels-out-of-range": (label_png(np.full((8, 8), 7, np.uint8)), "label values [7]"),
    "png-bomb": (png_bomb, "decompression-bomb"),
    "fifo-replaces-gt": (lambda p: (p.unlink(), os.mkfifo(p)), "ground-truth"),
}


@pytest.mark.parametrize("writer,reason", GT_CASES.values(), ids=GT_CASES.keys())
def test_hostile_ground_truth_is_refused_in_one_line(tmp_path, writer, reason):
    base = make_base(tmp_path / "data")
    writer(base["gt0"])
    name = "gt" if "fifo" in reason or reason == "ground-truth" else "img0.png"
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "out.csv"], name)


MASK_CASES = {
    "first-gt-empty": ("gt0", lambda p: p.write_bytes(b""), "img0.png"),
    "first-gt-bomb": ("gt0", png_bomb, "decompression-bomb"),
    "mask-random-bytes": ("pred0", lambda p: p.write_bytes(b"\x89PNG garbage"), "img0.png"),
    "mask-rgb": ("pred0", label_png(np.zeros((8, 8, 3), np.uint8)), "single-channel"),
    "label-60000-would-be-60001-classes": ("gt0", lambda p: [label_png(np.full((8, 8), 60000, np.uint16))(q) for q in
                                                             (p, p.parent.parent / "masks" / p.name)], "need --classes"),
}


@pytest.mark.parametrize("which,writer,reason", MASK_CASES.values(), ids=MASK_CASES.keys())
def test_masks_without_class_file_and_a_bad_first_file(tmp_path, which, writer, reason):
    base = make_base(tmp_path / "data", masks=True)
    writer(base[which])
    args = ["export", "--gt", base["gt"], "--masks", base["pred"], "--out", tmp_path / "out.csv"]
    refused(tmp_path, args, "img0.png", reason)
