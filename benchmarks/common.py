"""Shared helpers for the benchmark scripts: synthetic data, timing, peak memory."""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def already_made(root: Path, stamp_name: str, *folders: str) -> Path | None:
    """The stamp file when the data was made before (None), else its path, with the folders created."""
    stamp = root / stamp_name
    if stamp.exists():
        return None
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    return stamp


def make_synthetic(root: Path, n_images: int, c: int, h: int, w: int, seed: int = 0) -> Path:
    """n_images pairs of float16 C×H×W logits and PNG label maps with a few ignore pixels (reused if present)."""
    stamp = already_made(root, f"synthetic_{n_images}_{c}_{h}_{w}_{seed}.ok", "gt", "logits")
    if stamp is None:
        return root
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        gt = (np.arange(w)[None, :] * c // w + np.arange(h)[:, None] * 3 // h) % c
        gt = gt.astype(np.uint8)
        gt[rng.random((h, w)) < 0.01] = 255
        logits = rng.standard_normal((c, h, w), dtype=np.float32).astype(np.float16)
        logits[np.minimum(gt, c - 1), np.arange(h)[:, None], np.arange(w)[None, :]] += np.float16(2.5)
        Image.fromarray(gt).save(root / "gt" / f"img{i:04d}.png")
        np.save(root / "logits" / f"img{i:04d}.npy", logits)
    stamp.touch()
    return root


def setup_worker() -> None:
    """What `segviewer` does at start-up, so a worker's memory and time are the program's."""
    from segviewer.core.memory import bound_heap_growth
    bound_heap_growth()


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM where there is /proc: Linux carries ru_maxrss over from the parent through
    fork and exec, so a worker started by a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_ms(fn, repeats: int = 15, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def machine() -> str:
    import os
    import platform
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads){gpu}"


def run_worker(script: str, *args: object) -> dict:
    """Runs `python script --worker ...` in its own process (so its peak memory is its own); its last line is JSON."""
    cmd = [sys.executable, script, *map(str, args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def data_root(args, name: str) -> Path:
    """--data when given (made if missing), else a fresh temporary folder named for the benchmark."""
    import tempfile
    if args.data is None:
        return Path(tempfile.mkdtemp(prefix=f"segviewer_{name}_"))
    args.data.mkdir(parents=True, exist_ok=True)
    return args.data


def data_parser(images: int, height: int, width: int, classes: int = 19):
    """The argument parser every benchmark starts from: how much synthetic data, of which shape."""
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=images)
    p.add_argument("--classes", type=int, default=classes)
    p.add_argument("--height", type=int, default=height)
    p.add_argument("--width", type=int, default=width)
    return p
