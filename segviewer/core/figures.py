"""Report figures: the worst images with their TP/FP/FN overlay, a legend and their scores (headless)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .counts import Counts
from .errors import LoadError
from .overlay import (ALL_CLASSES, FN, FP, PALETTES, TP, background_classes, error_lut, hard_codes, mark_background,
                      prepare_maps, restrict_codes, threshold_codes)
from .scores import compute_scores, nanmean
from .scoring import Mode, Scoring

RANKINGS = ("mean_fbeta", "mean_iou", "fp", "fn")


def rank_worst(counts: Counts, beta: float, smooth: float, by: str = "mean_fbeta") -> list[int]:
    """Image rows, worst first: lowest mean F-beta / IoU, or most FP / FN pixels. Images with no score go last."""
    if by in ("fp", "fn"):
        values = -getattr(counts, by).sum(1).double().numpy()
    else:
        scores = compute_scores(counts, beta, smooth)
        values = nanmean(scores.fbeta if by == "mean_fbeta" else scores.iou).numpy()
    values = np.where(np.isnan(values), np.inf, values)
    return [int(i) for i in np.argsort(values, kind="stable")]


def overlay_rgba(sample, classes, scoring: Scoring, palette: str = "classic", opacity: float = 0.6) -> np.ndarray:
    """The all-classes errors over the pixels the scores count: outside a boundary band (or inside it, for the
    interior) dimmed as the window dims them, so the picture shows what the figure's numbers count."""
    from .regions import boundary_band
    labels = sample.target.labels.new_tensor(sample.labels)
    maps = prepare_maps(labels, classes.ignore_index, sample.probs, sample.pred_map)
    if sample.probs is None or scoring.mode is Mode.ARGMAX:
        codes = hard_codes(maps, maps.pred_argmax, ALL_CLASSES)
    else:
        codes = threshold_codes(maps, sample.probs, ALL_CLASSES, scoring.effective_threshold())
    # as the window's errors view: correct background left unpainted (a CT slice is mostly background)
    codes = mark_background(codes, np.isin(sample.labels, list(background_classes(classes.names))))
    if scoring.boundary:
        band = boundary_band(sample.labels, scoring.boundary, classes.ignore_index)
        codes = restrict_codes(codes, ~band if scoring.interior else band, maps.ignore.cpu().numpy())
    return error_lut(palette, opacity=opacity)[codes]


def draw_figure(path: Path, image: np.ndarray | None, rgba: np.ndarray, title: str, lines: list[str],
                palette: str = "classic", label: str = "--figures") -> None:
    """One figure, drawn headless with its text shown literally, saved through the output gate."""
    from matplotlib.patches import Patch
    from .plots import drawing, literal, save_figure
    with drawing() as plt:
        h, w = rgba.shape[:2]
        fig = plt.figure(figsize=(9, 9 * 0.7 * h / w / 0.82 + 0.4), dpi=110)
        ax = fig.add_axes([0.01, 0.1, 0.7, 0.82])
        ax.imshow(image if image is not None else np.full((h, w, 3), 70, np.uint8))
        ax.imshow(rgba)
        ax.set_axis_off()
        ax.set_title(literal(title), fontsize=11, loc="left")
        colors = PALETTES[palette]
        handles = [Patch(color=np.array(colors[c]) / 255, label=n) for c, n in ((TP, "TP"), (FP, "FP"), (FN, "FN"))]
        handles.append(Patch(color=(0.6, 0.6, 0.6), label="ignore"))
        fig.legend(handles=handles, loc="lower left", ncols=4, fontsize=9, frameon=False, bbox_to_anchor=(0.01, 0.02))
        fig.text(0.73, 0.9, literal("\n".join(lines)), fontsize=8, va="top", family="monospace")
        save_figure(fig, path, label)


def score_lines(classes, counts: Counts, row: int, beta: float, smooth: float) -> list[str]:
    one = Counts(counts.tp[row], counts.fp[row], counts.fn[row])
    s = compute_scores(one, beta, smooth)
    lines = [f"{'class':<12} F{beta:<4g} IoU", "-" * 24]
    for c, name in enumerate(classes.names):
        f, iou = float(s.fbeta[c]), float(s.iou[c])
        if not math.isnan(f):
            lines.append(f"{name[:12]:<12} {f:5.3f} {iou:5.3f}")
    lines += ["-" * 24, f"{'mean':<12} {float(nanmean(s.fbeta)):5.3f} {float(nanmean(s.iou)):5.3f}"]
    return lines


def figure_path(folder: Path, rank: int, name: str) -> Path:
    """rank-name.png in folder, the name shortened (with a hash) when the file name would be too long."""
    from .outputs import folder_file_name
    return folder_file_name(folder, f"{rank:03d}-{name}.png")


def write_worst_figures(dataset, result, folder, n: int, scoring: Scoring, by: str = "mean_fbeta", on_error=None,
                        label: str = "--figures", guard=None) -> list[Path]:
    """One PNG per worst image (rank-name.png) among the images of `result` (a DatasetCounts) that loaded; returns
    the files written. Every file is checked by the output gate (the run's guards, and `guard`) before the first is
    drawn. A bad image file is reported (on_error) and its figure drawn without it."""
    from .output_run import run_scope
    folder = Path(folder)
    names, counts = result.loaded_rows()
    rows = rank_worst(counts, scoring.beta, scoring.smooth, by)[:n]
    index_of = {name: i for i, name in enumerate(dataset.names)}
    paths = [figure_path(folder, rank, names[row]) for rank, row in enumerate(rows, 1)]
    with run_scope() as run:
        if guard is not None:
            run.add_guard(guard)
        for path in paths:
            run.check_file(path, label)
        for rank, (row, path) in enumerate(zip(rows, paths), 1):
            _draw_worst(dataset, names[row], counts, row, index_of[names[row]], rank, path, scoring, on_error, label)
    return paths


def _draw_worst(dataset, name, counts, row, position, rank, path, scoring, on_error, label) -> None:
    try:
        sample = dataset.load(position)
    except LoadError as exc:
        if on_error is not None:
            on_error(exc)
        sample = dataset.load(position, with_image=False)
    beta, smooth = scoring.beta, scoring.smooth
    mean = float(nanmean(compute_scores(Counts(counts.tp[row], counts.fp[row], counts.fn[row]), beta, smooth).fbeta))
    mode = "argmax" if scoring.mode is Mode.ARGMAX else f"threshold {scoring.effective_threshold()}"
    if scoring.boundary:
        mode += f", {'interior beyond' if scoring.interior else 'band'} {scoring.boundary} px"
    image, where = sample.image, ""
    if sample.is_volume:
        sample, image, where = worst_slice(sample, scoring)
    draw_figure(path, image, overlay_rgba(sample, dataset.classes, scoring),
                f"#{rank} {name}{where}: mean F{beta:g} {mean:.3f} ({mode})",
                score_lines(dataset.classes, counts, row, beta, smooth), label=label)


def worst_slice(volume, scoring: Scoring):
    """A case's figure: its worst axial slice (by mean F-beta over the classes present there; the middle slice
    when no class is anywhere) as a 2-D sample, its image through the default window, and the words saying which."""
    from .intensity import default_window, to_rgb
    from .volume_metrics import worst_slices
    view = volume.orientation.view(0)
    ranked = worst_slices(volume.slice_counts(scoring, view.across), scoring.beta, scoring.smooth)
    z = int(ranked[0]) if len(ranked) else volume.shape[view.across] // 2
    values = view.apply(volume.image_slice(view.across, z))
    image = None if values is None else to_rgb(values, default_window(volume.image))
    return volume.slice(view, z), image, f" (axial slice {z}, {z * volume.spacing[view.across]:g} mm)"
