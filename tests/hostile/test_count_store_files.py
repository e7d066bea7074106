"""Hostile count stores and builds: whatever sits under the store's or the build's names (a FIFO, a device, a
foreign header, a header that lies about its size, a manifest that lies, a pickled part), segviewer never blocks,
never crashes, never trusts it: the store is refused and built again, the build starts over or redoes the part."""
import json
import os

import numpy as np
import pytest

from helpers import run_cli
from hostile_kit import make_base
from segviewer.core.count_store import HEADER_BYTES, MAGIC, Bounds, CountStore, StoreDamaged, StoreLayout
from segviewer.core.count_store_build import StoreBuild
from segviewer.core.dataset import DataOptions, Dataset
from segviewer.core.index_cache import cache_path
from segviewer.core.index_files import build_folder, store_path
from segviewer.core.inspector import Inspector

C, STEPS = 3, 1000


def built(tmp_path):
    base = make_base(tmp_path / "data", n=3)
    options = DataOptions(gt_dir=base["gt"], pred_dir=base["pred"], classes=str(base["classes"]))
    with Inspector(Dataset(options)) as ins:
        ins.index()
    path = store_path(cache_path(Dataset(options), STEPS)[0])
    return options, path, path.read_bytes()


def header(**fields) -> bytes:
    text = json.dumps({"version": 1, "key": "k", "images": 3, "classes": C, "steps": STEPS, "dtype": "<u1",
                       **fields}).encode()
    return (MAGIC + len(text).to_bytes(4, "little") + text).ljust(HEADER_BYTES, b"\0")


def bounds():
    return Bounds(np.zeros((3, C), np.int64), np.zeros((C, STEPS + 1), np.int64), np.zeros((C, STEPS + 1), np.int64))


@pytest.mark.parametrize("head, reason", [
    (b"", "not a segviewer"), (b"\x93NUMPY" + b"\0" * 5000, "not a segviewer"),
    ((MAGIC + (10**9).to_bytes(4, "little") + b"{}").ljust(HEADER_BYTES, b"\0"), "damaged header"),
    ((MAGIC + (5).to_bytes(4, "little") + b"\xff\xfe{[}").ljust(HEADER_BYTES, b"\0"), "damaged header"),
    (header(version=2), "another version"), (header(version=True), "another version"),
    (header(dtype="<f8"), "damaged header"),
    (header(images=-1), "damaged header"), (header(images=True), "damaged header"),
    (header(steps="1000"), "damaged header"), (header(extra=1), "damaged header"),
    (MAGIC + (2).to_bytes(4, "little") + b"[]" + b"\0" * 5000, "damaged header"),
    (header(images=10**15), "other files"),                  # a size this index does not have: never allocated
    (header(), "truncated or padded"),
])
def test_a_foreign_or_lying_header_is_refused(tmp_path, head, reason):
    path = tmp_path / "counts.bin"
    path.write_bytes(head)
    with pytest.raises(StoreDamaged, match=reason):
        CountStore.open(path, "k", 3, C, STEPS, bounds())


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "dangling"])
def test_no_regular_file_under_the_stores_name_is_opened(tmp_path, kind):
    path = tmp_path / "counts.bin"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(tmp_path / "missing")
    with pytest.raises(StoreDamaged):        # refused at once: a FIFO would block a plain open
        CountStore.open(path, "k", 3, C, STEPS, bounds())


@pytest.mark.parametrize("damage", ["fifo", "zeros", "ones", "other key"])
def test_the_engine_builds_again_over_a_hostile_store(tmp_path, damage):
    options, path, good = built(tmp_path)
    path.unlink()
    if damage == "fifo":
        os.mkfifo(path)
    elif damage == "zeros":                                 # a right header and size, counts all zero
        path.write_bytes(good[:HEADER_BYTES] + bytes(len(good) - HEADER_BYTES))
    elif damage == "ones":                                  # every count 255: more than the images have
        path.write_bytes(good[:HEADER_BYTES] + b"\xff" * (len(good) - HEADER_BYTES))
    else:
        path.write_bytes(StoreLayout.parse(good).widened("<u1").__class__(
            "x" * 64, 3, C, STEPS, "<u1").header() + good[HEADER_BYTES:])
    with Inspector(Dataset(options)) as ins:
        index = ins.index()
        if damage in ("fifo", "other key"):
            assert not ins.index_from_cache                  # refused when opened (a FIFO never opened): rebuilt
        from segviewer.core.passes import counts_pass
        direct = counts_pass(Dataset(options), ins.scoring)
        one = ins.image_scores(1)                            # one image's read first: its row is checked too
        assert one["tp"].astype(int).tolist()[:C] == direct.per_image.tp[1].tolist()
        counts = ins.dataset_counts()                        # rows that do not add up: counted on the pixels
        assert counts.per_image.tp.tolist() == direct.per_image.tp.tolist() and index.names == direct.names
    with Inspector(Dataset(options)) as ins:
        ins.index()
        ins.dataset_counts()
        assert path.is_file() and path.read_bytes() == good


def test_a_lying_build_manifest_starts_the_build_over(tmp_path):
    base = make_base(tmp_path / "data", n=3)
    layout = StoreLayout("k", 3, C, STEPS, "<u1")
    folder = tmp_path / "build"
    StoreBuild(folder, layout, 2).start().close()
    manifest = json.loads((folder / "manifest.json").read_text())
    for lie in ({"done": [0, 1, 99, -5]}, {"chunk_size": 0}, {"layout": {**manifest["layout"], "dtype": "<f8"}},
                {"layout": {**manifest["layout"], "images": 4}}, {"version": "1"}, {"done": "all"}):
        (folder / "manifest.json").write_text(json.dumps({**manifest, **lie}))
        resumed = StoreBuild(folder, layout, 2).start()
        assert resumed.pending() == [0, 1], lie              # nothing it claims is taken: no part was written
        resumed.close()
    (folder / "part-000000.npz").write_bytes(b"\x80\x04 a pickle, never loaded")
    (folder / "manifest.json").write_text(json.dumps({**manifest, "done": [0]}))
    assert StoreBuild(folder, layout, 2).start().pending() == [0, 1]
    assert base["gt"].is_dir()


def test_a_fifo_as_the_partial_store_is_replaced_not_opened(tmp_path):
    base = make_base(tmp_path / "data", n=2)
    options = DataOptions(gt_dir=base["gt"], pred_dir=base["pred"], classes=str(base["classes"]))
    build = build_folder(cache_path(Dataset(options), STEPS)[0])
    build.mkdir(parents=True)
    os.mkfifo(build / "counts.partial")
    (build / "manifest.json").write_text("{}")
    result = run_cli("index", base["root"], "--classes", base["classes"])
    assert result.returncode == 0, result.stderr
