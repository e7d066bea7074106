"""The whole path in the real window (offscreen): from a threshold step until every panel shows the new settings.

For N images (19 classes, 256×512 by default) it opens the dataset in a MainWindow, waits until it is settled, then
moves the threshold in 10 steps as a slider drag does and records, per step, when the overlay, the class table,
the dataset-wide scores and the image list first hold numbers for the new threshold ("step settled"), and when the
window has been repainted with them ("painted"; "paint alone": that repaint's own time; "GUI CPU": the window
thread's CPU time for the whole step, which other processes on a shared machine do not inflate); then the drag's
release, which re-sorts and re-filters the list
("sort on release", painted). Medians over the steps. Opening is measured cold (index built) and cached (index
read from the cache), each in its own process, whose peak memory (VmHWM) is reported.
Targets: step settled <= 50 ms at 800 images (issue #14); at 100,000 images (issue #21) step settled and painted
<= 50 ms each, sort on release <= 100 ms, cached open: first image <= 2 s, scored list <= 3 s, memory < 1.5 GB;
issue #22: painted <= 16.7 ms at 800 images (60 frames a second), <= 33 ms at 10,000, at 1024x700 and 1920x1080.

usage: python benchmarks/bench_window.py [--images 50 200 800] [--height 256] [--width 512] [--classes 19]
                                         [--data FOLDER]   (the synthetic data is made once there and reused)
                                         [--size 1500x920]  (the window's size: 1024x700 a laptop)
e.g.   python benchmarks/bench_window.py --images 10000 100000 --height 32 --width 64 --data /scratch/segviewer
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, machine, make_synthetic, peak_rss_mib, run_worker, setup_worker  # noqa: E402

STEPS = [0.41, 0.43, 0.45, 0.47, 0.49, 0.51, 0.53, 0.55, 0.57, 0.59]


class Probe:
    """First time each panel shows numbers for the current settings after a step."""

    def __init__(self, window):
        self.w, self.t0, self.seen = window, 0.0, {}
        v = window.viewer
        v.overlay_ready.connect(lambda _codes: self.mark("overlay"))
        v.image_scores_ready.connect(lambda: v.image_counts is not None and self.mark("image table"))
        v.dataset_scores_ready.connect(lambda: v.dataset_counts is not None and self.mark("dataset scores"))
        refresh = window.image_list.refresh

        def list_refresh(*args, **kwargs):
            refresh(*args, **kwargs)
            if window.image_list.scores is not None and window.viewer.image_list_scores() is not None:
                self.mark("image list")
        window.image_list.refresh = list_refresh

    def start(self) -> None:
        self.t0, self.seen = time.perf_counter(), {}

    def mark(self, panel: str) -> None:
        self.seen.setdefault(panel, (time.perf_counter() - self.t0) * 1000)


def wait(app, until, timeout=3600.0) -> float:
    t0 = time.perf_counter()
    while not until():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the window did not settle")
        time.sleep(0.0005)
    return time.perf_counter() - t0


def open_and_measure(app, root: Path, settings_file: Path, size=(1500, 920)) -> tuple[object, dict]:
    from PySide6.QtCore import QSettings
    from segviewer.core.options import layout_from_folder
    from segviewer.gui.main_window import MainWindow
    window = MainWindow(settings=QSettings(str(settings_file), QSettings.IniFormat))
    window.resize(*size)
    window.show()
    probe = Probe(window)
    probe.start()
    window.open_options(layout_from_folder(root).options())
    wait(app, lambda: "overlay" in probe.seen)
    first = probe.seen["overlay"]
    wait(app, lambda: window.viewer.is_settled() and "image list" in probe.seen)
    return window, {"first overlay ms": first, "settled ms": (time.perf_counter() - probe.t0) * 1000,
                    "probe": probe}


def steps(app, window, probe) -> dict:
    """A drag over STEPS, then its release: medians per panel, settled and painted; the release's re-sort."""
    v = window.viewer
    per_panel: dict[str, list[float]] = {}
    settled, painted, paint, cpu = [], [], [], []
    window.controls.drag_changed.emit(True)
    for t in STEPS:
        probe.start()
        cpu0 = time.thread_time()
        v.update_settings(threshold=t)
        wait(app, lambda: v.is_settled() and "image list" in probe.seen and "overlay" in probe.seen)
        settled.append((time.perf_counter() - probe.t0) * 1000)
        app.processEvents()        # the repaint that puts those numbers on screen
        painted.append((time.perf_counter() - probe.t0) * 1000)
        paint.append(painted[-1] - settled[-1])
        cpu.append((time.thread_time() - cpu0) * 1000)
        for panel, ms in probe.seen.items():
            per_panel.setdefault(panel, []).append(ms)
    out = {panel: statistics.median(values) for panel, values in per_panel.items()}
    out["step settled"] = statistics.median(settled)
    out["painted"] = statistics.median(painted)
    out["paint alone"] = statistics.median(paint)
    out["GUI CPU"] = statistics.median(cpu)
    t0 = time.perf_counter()
    window.controls.drag_changed.emit(False)     # the list re-sorts (and re-filters) once, on release
    app.processEvents()
    out["sort on release"] = (time.perf_counter() - t0) * 1000
    return out


def worker(args) -> None:
    """One window in this process: cold (the index built) with the steps, or cached (the index read)."""
    setup_worker()
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])
    root, n = args.data, args.images[0]
    size = tuple(int(v) for v in args.size.split("x"))
    window, opened = open_and_measure(app, root, root.parent / f"{args.worker}{n}.ini", size)
    result = {"open ms": opened["settled ms"], "first image ms": opened["first overlay ms"]}
    if args.worker == "cached":
        result.update(steps(app, window, opened["probe"]))
    window.close()
    app.processEvents()
    result["peak MiB"] = peak_rss_mib()
    if args.worker == "cached":
        result.update(open_parts(root))
    print(json.dumps(result))


def open_parts(root: Path) -> dict:
    """What a cached open costs, part by part (after the window's run: the folders' listings are warm)."""
    from segviewer.core.dataset import Dataset
    from segviewer.core.index_cache import cache_path, load_cached
    from segviewer.core.io import pair_dataset
    from segviewer.core.options import layout_from_folder
    options = layout_from_folder(root).options()
    t0 = time.perf_counter()
    pair_dataset(options.gt_dir, options.pred_dir, options.pred_kind, options.images_dir, options.strip_suffixes)
    t1 = time.perf_counter()
    dataset = Dataset(options)
    t2 = time.perf_counter()
    path, key = cache_path(dataset, 1000)
    t3 = time.perf_counter()
    index = load_cached(path, key, dataset.names)
    t4 = time.perf_counter()
    index.close()
    return {"pair s": t1 - t0, "key s": t3 - t2, "index read s": t4 - t3}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, nargs="+", default=[50, 200, 800])
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--data", type=Path, help="folder for the synthetic datasets (made once, reused between runs)")
    p.add_argument("--cached-runs", type=int, default=1,
                   help="cached opens per size, one line each (the first after a build may find the index's files "
                        "out of the page cache)")
    p.add_argument("--size", default="1500x920", help="the window's size, WxH (1024x700: a laptop)")
    p.add_argument("--worker", choices=["cold", "cached"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)
    base = data_root(args, "window")
    print(f"machine: {machine()}")
    print(f"data: {base} ({shutil.disk_usage(base).total / 1e9:.0f} GB disk, {_disk_name(base)})")
    print(f"{args.classes} classes, {args.height}×{args.width} float16 logits; medians over {len(STEPS)} threshold "
          f"steps of one drag; window {args.size}; each open in its own process")
    print(f"{'images':>7} | {'open, index built':>17} | {'open, cached (first image)':>26} | {'overlay':>7} | "
          f"{'image table':>11} | {'dataset':>7} | {'image list':>10} | {'step settled':>12} | {'painted':>8} | "
          f"{'paint alone':>11} | {'GUI CPU':>7} | {'sort on release':>15} | {'peak (built / cached)':>21}")
    for n in args.images:
        root = make_synthetic(base / f"n{n}", n, args.classes, args.height, args.width)
        shutil.rmtree(root / ".segviewer", ignore_errors=True)
        script = str(Path(__file__))
        cold = run_worker(script, "--worker", "cold", "--images", n, "--data", root, "--size", args.size)
        for _ in range(args.cached_runs):
            warm = run_worker(script, "--worker", "cached", "--images", n, "--data", root, "--size", args.size)
            print(f"{n:>7} | {cold['open ms'] / 1000:16.1f}s | {warm['open ms'] / 1000:9.1f}s "
                  f"(first image {warm['first image ms'] / 1000:.1f}s) | {warm.get('overlay', float('nan')):5.1f}ms | "
                  f"{warm.get('image table', float('nan')):9.1f}ms | {warm.get('dataset scores', float('nan')):5.1f}ms "
                  f"| {warm.get('image list', float('nan')):8.1f}ms | {warm['step settled']:10.1f}ms | "
                  f"{warm['painted']:6.1f}ms | {warm['paint alone']:9.1f}ms | {warm['GUI CPU']:5.1f}ms | "
                  f"{warm['sort on release']:13.1f}ms | "
                  f"{cold['peak MiB']:7.0f} / {warm['peak MiB']:.0f} MiB", flush=True)
            print(f"{'':>7}   pair_dataset {warm['pair s']:.2f} s, cache key {warm['key s']:.2f} s, "
                  f"index read {warm['index read s']:.2f} s", flush=True)


def _disk_name(folder: Path) -> str:
    """The block device under the folder, as /proc/mounts names it (Linux), else 'disk'."""
    try:
        mounts = [line.split()[:2] for line in open("/proc/mounts")]
    except OSError:
        return "disk"
    best = max((m for m in mounts if str(folder.resolve()).startswith(m[1])), key=lambda m: len(m[1]),
               default=("disk", "/"))
    return f"{best[0]} mounted at {best[1]}"


if __name__ == "__main__":
    main()
