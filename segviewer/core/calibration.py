"""Per-class and top-label calibration from the index (issue #11). Filled in by the calibration work."""
from __future__ import annotations


class CalibrationMixin:
    """Inspector methods for calibration."""
