"""One large 3-D case as the window meets it: 512×512×300 voxels, 5 classes (a CT of 0.8×0.8×2.5 mm), its logits an
uncompressed .npy of 1.5 GB, labels and image .nii.gz. Each figure is measured in a process of its own (its peak
memory is its own), on what the window's jobs run:

- window: the real MainWindow offscreen, from the process's start to the case's first slice drawn;
- case open: engine.slices.preview (labels read whole, the prediction by offset, the image decompressed up to the
  slice) + the slice with the most foreground + its overlay + its intensities: what the window shows first;
  then the whole case (engine.load: every orientation, the whole image) as the window reads it meanwhile;
- slice step: the next axial slice of the loaded case, its overlay and its counts (PgDn);
- threshold step: one 512×512 slice's overlay and counts, the case's and the dataset's counts from the index (one
  histogram row per case): what one slider step recomputes;
- memory: the peak RSS of the process that opened the case, loaded it whole and stepped, against the case's
  float32 probability array.

The case is made once (about a minute) under --data (default /tmp/segviewer_volume_case), outside the repository.
usage: python benchmarks/bench_volume_case.py [--shape 300x512x512] [--classes 5] [--data DIR]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import already_made, machine, peak_rss_mib, run_worker, setup_worker  # noqa: E402

SPACING = (2.5, 0.8, 0.8)


def make_case(root: Path, shape: tuple[int, int, int], classes: int) -> Path:
    """Ellipsoid organs in mm, CT-like intensities, logits that mostly agree with smooth errors (seeded)."""
    stamp = already_made(root, f"case_{'x'.join(map(str, shape))}_{classes}.ok", "labelsTr", "imagesTr",
                         "predictionsTr")
    if stamp is None:
        return root
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from helpers import write_nifti
    from scipy import ndimage
    rng = np.random.default_rng(0)
    z, y, x = ((np.arange(n, dtype=np.float32) - n / 2) * s for n, s in zip(shape, SPACING))
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]

    def ellipsoid(c, r):
        return ((z - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((x - c[2]) / r[2]) ** 2 <= 1
    body = ellipsoid((0, 0, 0), (1e4, 170, 190))
    labels = np.zeros(shape, np.uint8)
    organs = (((0, -30, -70), (250, 90, 80)), ((10, 60, 90), (80, 40, 30)), ((10, 60, -95), (80, 40, 30)))
    for c, (centre, radii) in enumerate(organs[:classes - 2], start=1):
        labels[ellipsoid(centre, radii) & body] = c
    labels[ellipsoid((20, -40, -60), (30, 20, 20)) & (labels == 1)] = classes - 1
    write_nifti(root / "labelsTr" / "case.nii.gz", labels, SPACING)
    hu = np.where(body, 40, -1000).astype(np.int16) + rng.integers(-20, 20, shape, dtype=np.int16)
    hu[labels > 0] += 30
    write_nifti(root / "imagesTr" / "case_0000.nii.gz", hu, SPACING)
    del hu
    logits = np.empty((classes, *shape), np.float32)
    coarse = tuple(-(-n // f) for n, f in zip(shape, (10, 16, 16)))
    for c in range(classes):
        noise = ndimage.zoom(rng.standard_normal(coarse).astype(np.float32), (10, 16, 16), order=1)
        logits[c] = 4.0 * (labels == c) + 1.5 * noise[:shape[0], :shape[1], :shape[2]]
    np.save(root / "predictionsTr" / "case.npy", logits)
    names = ["background", "liver", "kidney right", "kidney left", "tumour"][:classes - 1] + ["tumour"]
    (root / "dataset.json").write_text(json.dumps({"labels": {n: i for i, n in enumerate(names)},
                                                   "channel_names": {"0": "CT"}}))
    stamp.touch()
    return root


def worker(root: Path) -> dict:
    """Everything in one process, in the window's order."""
    setup_worker()
    import segviewer
    from segviewer.core.scoring import Scoring
    from segviewer.gui.slices import foreground_slice      # the window's choice of the first slice
    out = {}
    ins = segviewer.open(folder=root)
    t0 = time.perf_counter()
    first = ins.slices.preview(0)
    k = foreground_slice(first.sample.labels, 0, ins.classes.ignore_index)
    image = first.slice(0, k)
    image.overlay(ins.scoring)
    first.intensities(0, k)
    out["first_slice_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    case = ins.load(0)
    out["whole_case_s"] = time.perf_counter() - t0
    out["probs_mib"] = case.sample.probs.numel() * 4 / 2**20
    steps = []
    for j in range(1, 21):
        t0 = time.perf_counter()
        sl = case.slice(0, min(k + j, case.shape[0] - 1))
        sl.overlay(ins.scoring)
        sl.counts(ins.scoring)
        steps.append((time.perf_counter() - t0) * 1000)
    out["slice_step_ms"] = statistics.median(steps)
    t0 = time.perf_counter()
    ins.index(rebuild=True)         # the window's index pass beside the loaded case (no cache from a last run)
    out["index_s"] = time.perf_counter() - t0
    image = case.slice(0, k)
    thresholds = [round(0.3 + 0.01 * j, 2) for j in range(30)]
    for t in thresholds[:3]:                           # warm-up: the slice's maps, the caches
        image.overlay(Scoring(threshold=t))
    times = []
    for t in thresholds:
        s = Scoring(threshold=t)
        t0 = time.perf_counter()
        image.overlay(s)
        image.counts(s)
        assert ins.indexed_image_counts(0, s) is not None and ins.indexed_dataset_counts(s) is not None
        times.append((time.perf_counter() - t0) * 1000)
    out["threshold_step_ms"] = statistics.median(times)
    out["threshold_step_max_ms"] = max(times)
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def window_worker(root: Path, started: float) -> dict:
    """The real window, offscreen: from the process's start (the parent's clock) to the case's first slice drawn
    (its overlay applied), as a user who runs `segviewer DIR` waits for it."""
    import os
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    setup_worker()
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from segviewer.gui.main_window import MainWindow
    window = MainWindow(remember_layout=False)
    window.show()
    app.processEvents()
    shown = time.time() - started
    window.actions_.open_folder(root)
    v = window.viewer
    while not (v.loaded is not None and v.overlay is not None and v.slices.active) and time.time() - started < 120:
        app.processEvents()
        time.sleep(0.002)
    out = {"window_shown_s": shown, "window_first_slice_s": time.time() - started}
    window.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shape", default="300x512x512")
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--data", type=Path, default=Path("/tmp/segviewer_volume_case"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", action="store_true")
    p.add_argument("--started", type=float, default=0.0, help="(the window worker: its parent's clock at launch)")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(window_worker(args.data, args.started) if args.started else worker(args.data)))
        return
    shape = tuple(int(s) for s in args.shape.split("x"))
    t0 = time.perf_counter()
    make_case(args.data, shape, args.classes)
    print(f"{machine()}\none case of {args.shape} voxels, {args.classes} classes, {SPACING} mm (made in "
          f"{time.perf_counter() - t0:.0f} s, {args.data})")
    runs = [run_worker(__file__, "--worker", "--data", args.data) for _ in range(args.repeats)]
    for run in runs:
        run.update(run_worker(__file__, "--worker", "--data", args.data, "--started", time.time()))
    for key, unit in (("window_shown_s", "s"), ("window_first_slice_s", "s"), ("first_slice_s", "s"), ("whole_case_s", "s"), ("slice_step_ms", "ms"), ("index_s", "s"),
                      ("threshold_step_ms", "ms"), ("threshold_step_max_ms", "ms"), ("peak_rss_mib", "MiB")):
        values = [r[key] for r in runs]
        print(f"{key:22s} median {statistics.median(values):8.2f} {unit}  (runs: "
              + ", ".join(f"{v:.2f}" for v in values) + ")")
    probs = runs[0]["probs_mib"]
    peak = statistics.median(r["peak_rss_mib"] for r in runs)
    print(f"peak RSS / the case's probabilities ({probs:.0f} MiB): {peak / probs:.2f}")


if __name__ == "__main__":
    main()
