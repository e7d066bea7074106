"""segviewer: inspect semantic-segmentation models. The public API, imported lazily (importing segviewer is cheap).

    import segviewer
    ins = segviewer.open(gt="d/gt", logits="d/logits", images="d/images", classes="d/classes.json")
    ins.scoring = segviewer.Scoring(threshold=0.4, beta=2.0)
    ins.dataset_scores()
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["open", "Scoring", "Inspector", "Evaluator", "save_logits", "show", "LoadError", "OptionError"]

_LAZY = {
    "open": ("segviewer.api", "open"),
    "show": ("segviewer.api", "show"),
    "Scoring": ("segviewer.core.scoring", "Scoring"),
    "Inspector": ("segviewer.core.inspector", "Inspector"),
    "Evaluator": ("segviewer.core.evaluator", "Evaluator"),
    "save_logits": ("segviewer.core.evaluator", "save_logits"),
    "LoadError": ("segviewer.core.errors", "LoadError"),
    "OptionError": ("segviewer.core.errors", "OptionError"),
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'segviewer' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
