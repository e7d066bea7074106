"""The engine's analyses, each an object the Inspector holds: ins.compare, ins.calibration, ins.label_issues,
ins.boundary, ins.slices. Each declares its state and its bounded caches in __init__ (core.parts.base.Part)."""
from .base import Part, refuse_after_close
from .boundary import Boundary
from .calibration import Calibration
from .compare import Compare
from .label_issues import LabelIssues
from .slices import Slices

__all__ = ["Part", "refuse_after_close", "Boundary", "Calibration", "Compare", "LabelIssues", "Slices"]
