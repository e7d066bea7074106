"""Where a QA session lives: one per ground-truth + prediction source pair.

A review judges a pair (annotator B's masks against the GT is not the model's logits against the GT), so two runs
on the same folder with different prediction sources never share statuses or notes. The file sits in
`.segviewer/` beside the dataset (or the user data folder when that is read-only) and is named
`session-<gt folder>-<prediction folder>-<kind>-<hash>.sqlite`; the hash tells apart folders of the same names.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from .options import DataOptions, state_folder


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def session_name(gt_dir: str | Path, pred_dir: str | Path, pred_kind: str) -> str:
    """The session file's name for this GT + prediction source pair."""
    gt, pred = Path(gt_dir).resolve(), Path(pred_dir).resolve()
    digest = hashlib.sha1(f"{gt}\0{pred}\0{pred_kind}".encode()).hexdigest()[:8]
    return f"session-{_slug(gt.name)}-{_slug(pred.name)}-{_slug(pred_kind)}-{digest}.sqlite"


def session_path(options: DataOptions) -> Path:
    """The default session file of a dataset opened with these options."""
    folder = state_folder(options.gt_dir, "sessions")
    return folder / session_name(options.gt_dir, options.pred_dir, options.pred_kind)


def default_session_path(gt_dir: str | Path) -> Path:
    """.segviewer/session.sqlite beside the dataset, or the user data folder when that is read-only."""
    return state_folder(gt_dir, "sessions") / "session.sqlite"
