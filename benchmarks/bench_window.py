"""The whole path in the real window (offscreen): from a threshold step until every panel shows the new settings.

For N images (19 classes, 256×512 by default) it opens the dataset in a MainWindow, waits until it is settled, then
moves the threshold in 10 steps as a slider drag does (held: the list's rows update in place, the order waits for
the release) and records, per step, when the overlay, the class table, the dataset-wide scores and the image list
first hold numbers for the new threshold ("step settled"), when the window has been repainted with them
("repainted"; "paint alone": that repaint's own time) and the window thread's CPU time for the whole step ("GUI
thread CPU": what other processes on a shared machine do not inflate). Medians over the steps. Opening is measured
cold (index built) and warm (index read from the cache). Targets: step settled <= 50 ms at 800 images (issue #14);
repainted <= 16.7 ms at 800 images (60 frames a second) and <= 33 ms at 10,000 (issue #22).
usage: python benchmarks/bench_window.py [--images 50 200 800] [--height 256] [--width 512] [--classes 19]
                                         [--data FOLDER] [--size 1024x700]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))
from common import data_root, machine, make_synthetic, setup_worker  # noqa: E402

STEPS = [0.41, 0.43, 0.45, 0.47, 0.49, 0.51, 0.53, 0.55, 0.57, 0.59]


class Probe:
    """First time each panel shows numbers for the current settings after a step."""

    def __init__(self, window):
        self.w, self.t0, self.seen = window, 0.0, {}
        v = window.viewer
        v.overlay_ready.connect(lambda _codes: self.mark("overlay"))
        v.dataset_scores_ready.connect(lambda: v.dataset_counts is not None and self.mark("dataset scores"))
        update_scores = window.class_table.update_scores

        def table_update(names, colors, scopes, *args, **kwargs):   # the class table drawn with the image's numbers
            update_scores(names, colors, scopes, *args, **kwargs)
            if scopes[0][0] is not None:
                self.mark("image table")
        window.class_table.update_scores = table_update
        refresh = window.image_list.refresh

        def list_refresh(*args, **kwargs):
            refresh(*args, **kwargs)
            if window.image_list.scores is not None:      # numbers for these settings (None while computed)
                self.mark("image list")
        window.image_list.refresh = list_refresh

    def start(self) -> None:
        self.t0, self.seen = time.perf_counter(), {}

    def mark(self, panel: str) -> None:
        self.seen.setdefault(panel, (time.perf_counter() - self.t0) * 1000)


def wait(app, until, timeout=600.0) -> float:
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
    """The steps of one slider drag (held: the list updates in place and re-sorts on release)."""
    v = window.viewer
    per_panel: dict[str, list[float]] = {}
    settled, painted, paint, cpu = [], [], [], []
    window.controls.drag_changed.emit(True)
    for t in STEPS:
        probe.start()
        cpu0 = time.thread_time()
        v.update_settings(threshold=t)
        wait(app, lambda: (v.is_settled() and "image list" in probe.seen and "overlay" in probe.seen
                           and "image table" in probe.seen))
        settled.append((time.perf_counter() - probe.t0) * 1000)
        app.processEvents()        # the repaint that puts those numbers on screen
        painted.append((time.perf_counter() - probe.t0) * 1000)
        paint.append(painted[-1] - settled[-1])
        cpu.append((time.thread_time() - cpu0) * 1000)
        for panel, ms in probe.seen.items():
            per_panel.setdefault(panel, []).append(ms)
    window.controls.drag_changed.emit(False)
    app.processEvents()
    out = {panel: statistics.median(values) for panel, values in per_panel.items()}
    out["step settled"] = statistics.median(settled)
    out["painted"] = statistics.median(painted)
    out["paint"] = statistics.median(paint)
    out["gui cpu"] = statistics.median(cpu)
    return out


def main() -> None:
    setup_worker()
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, nargs="+", default=[50, 200, 800])
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--data", type=Path, help="folder for the synthetic datasets (reused between runs)")
    p.add_argument("--size", default="1500x920", help="the window's size, WxH (1024x700: a laptop)")
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])
    base = data_root(args, "window")
    print(f"machine: {machine()}")
    print(f"{args.classes} classes, {args.height}×{args.width}, window {args.size}; medians over {len(STEPS)} "
          "threshold steps of one drag")
    print(f"{'images':>6} | {'open cold':>9} | {'open, cached index':>18} | {'overlay':>7} | {'image table':>11} | "
          f"{'dataset':>7} | {'image list':>10} | {'step settled':>12} | {'repainted':>9} | {'paint alone':>11} | "
          f"{'GUI thread CPU':>14}")
    for n in args.images:
        root = make_synthetic(base / f"n{n}", n, args.classes, args.height, args.width)
        for cache in root.glob(".segviewer"):
            import shutil
            shutil.rmtree(cache)
        window, cold = open_and_measure(app, root, base / f"cold{n}.ini", size)
        result = steps(app, window, cold["probe"])
        window.close()
        window2, warm = open_and_measure(app, root, base / f"warm{n}.ini", size)
        window2.close()
        app.processEvents()
        print(f"{n:>6} | {cold['settled ms'] / 1000:8.1f}s | {warm['settled ms'] / 1000:7.1f}s "
              f"(first image {warm['first overlay ms'] / 1000:.1f}s) | "
              f"{result.get('overlay', float('nan')):5.1f}ms | {result.get('image table', float('nan')):9.1f}ms | "
              f"{result.get('dataset scores', float('nan')):5.1f}ms | {result.get('image list', float('nan')):8.1f}ms | "
              f"{result['step settled']:10.1f}ms | {result['painted']:7.1f}ms | {result['paint']:9.1f}ms | "
              f"{result['gui cpu']:12.1f}ms", flush=True)


if __name__ == "__main__":
    main()
