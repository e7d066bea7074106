"""The canvas's pixel readout: GT class, prediction and probabilities under the pointer."""
from __future__ import annotations

import torch

from ..core.counts import as_threshold_vector

MAX_LISTED = 8        # classes whose probabilities a case's readout lists


def hover_text(viewer, x: int, y: int) -> str:
    """The readout for pixel (x, y) of the loaded image ("" outside it)."""
    loaded = viewer.loaded
    if loaded is None or x < 0 or y < 0 or y >= loaded.sample.shape[0] or x >= loaded.sample.shape[1]:
        return ""
    classes = viewer.classes
    label = int(loaded.sample.labels[y, x])
    names = classes.names
    where = voxel_text(viewer.slices, x, y) if viewer.slices.active else f"x {x}, y {y}"
    gt = "ignore" if label == classes.ignore_index else names[label] if label < len(names) else str(label)
    if loaded.sample.probs is None:
        pred = int(loaded.maps.pred_argmax[y, x])
        return f"{where} · GT {gt} · mask {names[pred] if pred >= 0 else 'none'}"
    p = loaded.sample.probs[:, y, x].float().cpu()
    p_gt = f" (p={float(p[label]):.3f})" if label < len(names) else ""
    text = f"{where} · GT {gt}{p_gt} · {predicted_text(viewer.scoring, p, names)}"
    if viewer.slices.active and len(names) <= MAX_LISTED:     # a case's readout: every class's probability
        text += " · p " + ", ".join(f"{n} {float(v):.3f}" for n, v in zip(names, p))     # as p= above
    return text


def predicted_text(scoring, p, names) -> str:
    """What the pixel is predicted as under these settings, as the overlay and the counts say: the argmax, or in
    threshold mode every class above its threshold (none: the top class and the threshold it did not pass)."""
    top = int(p.argmax())
    if scoring.argmax:
        return f"predicted {names[top]} (p={float(p[top]):.3f})"
    t = as_threshold_vector(scoring.effective_threshold(), len(names), p.device)
    order = torch.argsort(p, descending=True)
    above = order[(p > t)[order]].tolist()        # p > t: the rule of the counts and the overlay
    if not above:
        return f"predicted nothing (top {names[top]} p={float(p[top]):.3f} ≤ threshold {float(t[top]):g})"
    return "predicted " + " + ".join(f"{names[c]} (p={float(p[c]):.3f})" for c in above)


def voxel_text(nav, x: int, y: int) -> str:
    """A case's pixel: voxel (z, y, x), its position in mm and the image's intensity there."""
    z, yy, xx = nav.voxel(x, y)
    sz, sy, sx = nav.volume.spacing
    values = nav.volume.sample.image
    value = f" · intensity {values[z, yy, xx]:.0f}" if values is not None else ""
    return f"voxel ({z}, {yy}, {xx}) · ({z * sz:.1f}, {yy * sy:.1f}, {xx * sx:.1f}) mm{value}"
