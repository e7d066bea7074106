"""Shared pieces of the hostile-input corpus: a tiny dataset, checksums of a tree, and the refusal assertions."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
from pathlib import Path

import numpy as np
from PIL import Image

from helpers import run_cli

C, H, W = 3, 8, 8
# new entries a refused run may leave: segviewer's own cache folder and SQLite's companions of a session
ALLOWED_NEW = (".segviewer",)


def make_base(root: Path, n: int = 1, ext: str = ".npy", masks: bool = False) -> dict[str, Path]:
    """gt/, logits/ (or masks/), classes.json: n pairs of 8×8 images with 3 classes, all valid."""
    rng = np.random.default_rng(0)
    (root / "gt").mkdir(parents=True, exist_ok=True)
    pred_dir = root / ("masks" if masks else "logits")
    pred_dir.mkdir(exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, C, (H, W)).astype(np.uint8)).save(root / "gt" / f"img{i}.png")
        if masks:
            Image.fromarray(rng.integers(0, C, (H, W)).astype(np.uint8)).save(pred_dir / f"img{i}.png")
        else:
            write_logits(pred_dir / f"img{i}{ext}", rng.normal(size=(C, H, W)).astype(np.float32))
    classes = root / "classes.json"
    classes.write_text(json.dumps({"ignore_index": 255, "names": ["a", "b", "c"]}))
    return {"root": root, "gt": root / "gt", "pred": pred_dir, "classes": classes,
            "gt0": root / "gt" / "img0.png", "pred0": pred_dir / f"img0{'.png' if masks else ext}"}


def write_logits(path: Path, array: np.ndarray) -> None:
    if path.suffix == ".npy":
        np.save(path, array)
    elif path.suffix == ".npz":
        np.savez(path, logits=array)
    else:
        import torch
        torch.save(torch.from_numpy(array), path)


def data_args(base: dict, kind: str = "--logits") -> list[str]:
    return ["--gt", base["gt"], kind, base["pred"], "--classes", base["classes"]]


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 (regular files) or the kind of entry; never opens a FIFO or a device."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir" if stat.S_ISDIR(mode) else "link" if stat.S_ISLNK(mode) else "special"
    return out


def assert_untouched(before: dict[str, str], after: dict[str, str]) -> None:
    changed = [k for k in before if after.get(k) != before[k]]
    assert not changed, f"modified or removed: {changed}"
    new = [k for k in after if k not in before and not set(k.split(os.sep)) & set(ALLOWED_NEW)]
    assert not new, f"new files left behind: {new}"


def assert_one_line(result, *names: str) -> str:
    """Exit 2, and stderr is exactly one line 'segviewer: error: ...' naming every given name."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("segviewer: error: "), line
    for name in names:
        assert str(name) in line, (name, line)
    for unsafe in ("weights_only", "allow_pickle", "Traceback"):
        assert unsafe not in line, line
    return line


@contextlib.contextmanager
def deadline(seconds: int = 20):
    """Fails instead of hanging (a blocking open of a FIFO would wait forever)."""
    def expired(*_):
        raise TimeoutError(f"no answer within {seconds} s: something blocked")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refused(root: Path, args: list, *names: str) -> str:
    """Runs the CLI on a hostile setup: exit 2, one line naming `names`, and nothing under root modified."""
    before = snapshot(root)
    with deadline():
        result = run_cli(*args)
    line = assert_one_line(result, *names)
    assert_untouched(before, snapshot(root))
    return line


def make_session(path) -> None:
    """A real session file on disk (a session file is made by its first change)."""
    from segviewer.core.session import ReviewStore
    store = ReviewStore(path)
    try:
        store.set_review("made-by-the-test", "accepted")
    finally:
        store.close()
