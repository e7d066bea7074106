"""Model A vs model B at the pixel level (issue #11). Filled in by the compare work."""
from __future__ import annotations


class CompareMixin:
    """Inspector methods for a second prediction source."""

    def attach_compare(self, pred_dir, kind=None):
        raise NotImplementedError("model A vs model B is not built yet")
