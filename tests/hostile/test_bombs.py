"""Decompression and shape bombs: refused before decoding, so peak memory stays far below 1 GB.

Peak RSS needs a fresh interpreter, so ONE subprocess runs every bomb in turn (ru_maxrss only grows: a bomb that got
through would show in its own line and every later one)."""
import json
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch

from hostile_kit import C, H, W, make_base, snapshot, assert_untouched
from test_class_files import png_bomb

LIMIT_MB = 1024

RUNNER = textwrap.dedent("""
    import contextlib, io, json, resource, sys
    from segviewer.cli import main
    for case, args in json.loads(sys.argv[1]):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(args)
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) through fork and exec
        peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
        print(json.dumps({"case": case, "rc": rc, "stderr": err.getvalue(), "peak_mb": peak}), flush=True)
""")


def npz_deflate_bomb(path, header_shape=(C, H, W), mb=400):
    """A valid small header, then `mb` MB of zeros: a few hundred KB on disk."""
    import io
    buf = io.BytesIO()
    np.save(buf, np.zeros(header_shape, np.float32) if np.prod(header_shape) < 10**6 else np.zeros(1, np.float32))
    header = buf.getvalue()
    if np.prod(header_shape) >= 10**6:   # claim the big shape in the header without building it
        text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(header_shape)}, }}".ljust(117) + "\n"
        header = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("logits.npy", "w", force_zip64=True) as m:
        m.write(header)
        zeros = bytes(2**22)
        for _ in range(mb // 4):
            m.write(zeros)


def npy_claims(path, shape):
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)}, }}".ljust(117) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode() + bytes(4096))


BOMBS = {
    "npz-deflate-400MB-behind-a-small-header": (".npz", lambda p: npz_deflate_bomb(p), "more data than its header"),
    "npz-header-claims-708-GiB": (".npz", lambda p: npz_deflate_bomb(p, (19, 100000, 100000), 8),
                                  "refused before decoding"),
    "npy-header-claims-708-GiB": (".npy", lambda p: npy_claims(p, (19, 100000, 100000)), "refused before decoding"),
    "pt-stride-0-expanded-68-G-values": (".pt", lambda p: torch.save(torch.zeros(1, 1, 1).expand(19, 60000, 60000), p),
                                         "refused before decoding"),
    "png-gt-400-M-pixels": (".npy", None, "decompression-bomb"),
}


@pytest.fixture(scope="module")
def bomb_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bombs")
    cases, before = [], {}
    for case, (ext, writer, _) in BOMBS.items():
        base = make_base(root / case, ext=ext)
        if writer is None:
            png_bomb(base["gt0"])
        else:
            writer(base["pred0"])
        before[case] = snapshot(root / case)
        cases.append((case, ["export", "--gt", str(base["gt"]), "--logits", str(base["pred"]),
                             "--classes", str(base["classes"]), "--out", str(root / case / "o.csv")]))
    proc = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(cases)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    runs = {r["case"]: r for r in map(json.loads, proc.stdout.splitlines())}
    return runs, before, root


@pytest.mark.parametrize("case", BOMBS)
def test_bomb_is_refused_with_bounded_memory(bomb_runs, case):
    runs, before, root = bomb_runs
    run = runs[case]
    assert run["rc"] == 2, run
    lines = run["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("segviewer: error: ") and "img0" in lines[0], lines
    assert BOMBS[case][2] in lines[0]
    assert run["peak_mb"] < LIMIT_MB, f"{case}: peak RSS {run['peak_mb']:.0f} MB"
    assert_untouched(before[case], snapshot(root / case))
