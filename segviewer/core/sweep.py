"""Scores over the whole threshold grid, and each class's best threshold for a beta."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .classes import ClassSpec
from .counts import Counts
from .export import fmt_number, safe_text, write_rows
from .index import ProbabilityIndex
from .scores import fbeta_score, precision_score, recall_score

SWEEP_COLUMNS = ("class_id", "class_name", "threshold", "tp", "fp", "fn", "precision", "recall", "fbeta")
BEST_COLUMNS = ("class_id", "class_name", "threshold", "precision", "recall", "fbeta")


@dataclass
class Best:
    step: np.ndarray        # [C] grid step of each class's best threshold
    threshold: np.ndarray   # [C] float
    precision: np.ndarray   # [C] at that step (NaN for a class with no GT pixel that predicts none there)
    recall: np.ndarray
    fbeta: np.ndarray


def best_steps(curves: Counts, f: np.ndarray) -> np.ndarray:
    """[C] the best grid step of each class: the lowest of maximum F-beta f ([C, N+1]). A class with no GT pixel
    scores ~0 wherever it is predicted and is error-free (absent) only where it is not: its best step is the
    lowest at which it predicts the fewest pixels: none (threshold 1 predicts nothing, probabilities are in [0, 1])."""
    no_gt = (curves.tp[:, 0] + curves.fn[:, 0]).numpy() == 0    # tp + fn = GT pixels, the same at every step
    predicted = (curves.tp + curves.fp).numpy()
    return np.where(no_gt, np.argmin(predicted, axis=1), np.argmax(np.nan_to_num(f, nan=-1.0), axis=1))


def best_thresholds(curves: Counts, steps: int, beta: float, smooth: float) -> Best:
    """Per class, the grid threshold of maximum F-beta (the lowest such threshold on ties); for a class with no GT
    pixel, the lowest grid threshold at which it predicts nothing, its scores absent (NaN) there."""
    f = fbeta_score(curves, beta, smooth).numpy()          # [C, N+1]
    k = best_steps(curves, f)
    rows = np.arange(f.shape[0])
    return Best(k, k / steps, precision_score(curves).numpy()[rows, k], recall_score(curves).numpy()[rows, k],
                f[rows, k])


def sweep_rows(classes: ClassSpec, curves: Counts, steps: int, beta: float, smooth: float):
    p, r, f = (s.numpy() for s in (precision_score(curves), recall_score(curves), fbeta_score(curves, beta, smooth)))
    for c, name in enumerate(classes.names):
        for k in range(steps + 1):
            yield [c, safe_text(name), fmt_number(k / steps), int(curves.tp[c, k]), int(curves.fp[c, k]),
                   int(curves.fn[c, k]), fmt_number(p[c, k]), fmt_number(r[c, k]), fmt_number(f[c, k])]


def best_rows(classes: ClassSpec, best: Best):
    for c, name in enumerate(classes.names):
        yield [c, safe_text(name), *(fmt_number(getattr(best, k)[c]) for k in ("threshold", "precision", "recall", "fbeta"))]


def write_sweep(path, classes: ClassSpec, index: ProbabilityIndex, beta: float, smooth: float) -> None:
    write_rows(path, SWEEP_COLUMNS, sweep_rows(classes, index.curves(), index.steps, beta, smooth))


def write_best(path, classes: ClassSpec, best: Best) -> None:
    write_rows(path, BEST_COLUMNS, best_rows(classes, best))


def plot_best(path, classes: ClassSpec, best: Best, beta: float, label: str = "--plot") -> None:
    """Per-class bar chart of precision, recall and F-beta at each class's best threshold (headless, names drawn
    literally, saved through the output gate)."""
    from .plots import drawing, literal, save_figure
    with drawing() as plt:
        n = classes.num_classes
        x = np.arange(n)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * n + 2), 4.2), dpi=120)
        for offset, key, text in ((-0.27, "precision", "precision"), (0.0, "recall", "recall"),
                                  (0.27, "fbeta", f"F{beta:g} at best threshold")):
            ax.bar(x + offset, np.nan_to_num(getattr(best, key)), width=0.27, label=text)
        for i in range(n):
            if not np.isnan(best.fbeta[i]):
                ax.text(i + 0.27, best.fbeta[i] + 0.02, f"{best.fbeta[i]:.2f}", ha="center", fontsize=7, rotation=90)
            else:
                ax.text(i, 0.02, "absent", ha="center", fontsize=7, rotation=90, color="grey")
        ax.set_xticks(x, [literal(nm) for nm in classes.names], rotation=45, ha="right")
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("score")
        ax.set_title(f"Per-class scores at the best threshold (mean F{beta:g} = {np.nanmean(best.fbeta):.3f})")
        ax.legend(loc="upper right", fontsize=8, ncols=3)
        fig.tight_layout()
        save_figure(fig, path, label)
