"""Likely label errors from the logits (issue #12). Filled in by the label-issues work."""
from __future__ import annotations


class LabelIssuesMixin:
    """Inspector methods for likely label errors."""
