"""The canvas's pixel readout: GT class, prediction and probabilities under the pointer."""
from __future__ import annotations


def hover_text(viewer, x: int, y: int) -> str:
    """The readout for pixel (x, y) of the loaded image ("" outside it)."""
    loaded, classes = viewer.loaded, viewer.classes
    if loaded is None or x < 0 or y < 0 or y >= loaded.sample.shape[0] or x >= loaded.sample.shape[1]:
        return ""
    label = int(loaded.sample.labels[y, x])
    names = classes.names
    gt = "ignore" if label == classes.ignore_index else names[label] if label < len(names) else str(label)
    if loaded.sample.probs is None:
        pred = int(loaded.maps.pred_argmax[y, x])
        return f"x {x}, y {y} · GT {gt} · mask {names[pred] if pred >= 0 else 'none'}"
    p = loaded.sample.probs[:, y, x].float().cpu()
    top = int(p.argmax())
    p_gt = f" (p={float(p[label]):.3f})" if label < len(names) else ""
    return f"x {x}, y {y} · GT {gt}{p_gt} · predicted {names[top]} (p={float(p[top]):.3f})"
