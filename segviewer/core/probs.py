"""Logits to probabilities: resize on the logit level when either side differs, then the activation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .options import ACTIVATIONS


def resize_logits(logits: torch.Tensor, size: tuple[int, int], align_corners: bool = True) -> torch.Tensor:
    # the reference resizes only when both sides differ; a mismatch on either side must be resized too
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits[None], size=size, mode="bilinear", align_corners=align_corners)[0]


def activate(logits: torch.Tensor, activation: str = "softmax") -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(logits, dim=0)
    if activation == "sigmoid":
        return torch.sigmoid(logits)
    if activation == "none":
        return logits
    raise ValueError(f"unknown activation {activation!r} (use {', '.join(ACTIVATIONS)})")


def to_probabilities(logits: torch.Tensor, size: tuple[int, int], activation: str = "softmax",
                     align_corners: bool = True, device: torch.device | str = "cpu") -> torch.Tensor:
    """C×H×W float32 probabilities on the device, at the ground truth's size."""
    logits = logits.to(device=device, non_blocking=True).float()
    return activate(resize_logits(logits, size, align_corners), activation).contiguous()
