"""Logits to probabilities: resize on the logit level when either side differs, then the activation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .options import ACTIVATIONS


def resize_logits(logits: torch.Tensor, size: tuple[int, int], align_corners: bool = True,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """out: a C×H×W float32 buffer to resize into (the kernel F.interpolate calls, so the same values)."""
    # the reference resizes only when both sides differ; a mismatch on either side must be resized too
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    if out is not None and logits.dtype == out.dtype and logits.device == out.device:
        return torch._C._nn.upsample_bilinear2d(logits[None], list(size), align_corners, None, None,
                                                out=out[None])[0]
    return F.interpolate(logits[None], size=size, mode="bilinear", align_corners=align_corners)[0]


def activate(logits: torch.Tensor, activation: str = "softmax", in_place: bool = False) -> torch.Tensor:
    """in_place: the probabilities overwrite the logits (CPU float32 only; the same values to the bit)."""
    in_place = in_place and logits.device.type == "cpu" and logits.dtype == torch.float32 and logits.is_contiguous()
    if activation == "softmax":
        # torch's softmax kernel reads each value before it writes it: run into the logits' own buffer, it saves
        # a C×H×W allocation, which on CPU is mostly page faults (~19,000 for 150×256×512)
        return torch.ops.aten._softmax.out(logits, 0, False, out=logits) if in_place else torch.softmax(logits, dim=0)
    if activation == "sigmoid":
        return torch.sigmoid_(logits) if in_place else torch.sigmoid(logits)
    if activation == "none":
        return logits
    raise ValueError(f"unknown activation {activation!r} (use {', '.join(ACTIVATIONS)})")


def to_probabilities(logits: torch.Tensor, size: tuple[int, int], activation: str = "softmax",
                     align_corners: bool = True, device: torch.device | str = "cpu",
                     overwrite: bool = False, buffer: "ProbsBuffer | None" = None) -> torch.Tensor:
    """C×H×W float32 probabilities on the device, at the ground truth's size.

    overwrite=True: the caller gives up `logits`, whose buffer may then hold the probabilities. A copy made here
    (another device or dtype, a resize) is always reused that way. buffer: where the probabilities go when the
    logits stay the caller's (a loop over images then allocates nothing; the result is valid until its next use)."""
    given = logits
    logits = logits.to(device=device, non_blocking=True)
    out = buffer.get(logits.shape[0], size, logits.device) if buffer is not None else None
    if out is not None and logits.dtype != torch.float32 and tuple(logits.shape[-2:]) == tuple(size):
        logits = out.copy_(logits)          # the conversion .float() makes (float16 from AMP), into the kept buffer
    else:
        logits = resize_logits(logits.float(), size, align_corners, out)
    owned = overwrite or logits.data_ptr() != given.data_ptr()
    if out is not None and not owned and activation in ("softmax", "sigmoid") and logits.is_contiguous():
        # a fresh C×H×W output is mostly page faults: the same kernel into a kept buffer is ~2.5x faster on CPU
        if activation == "sigmoid":
            return torch.sigmoid(logits, out=out)
        return torch.ops.aten._softmax.out(logits, 0, False, out=out)
    return activate(logits, activation, in_place=owned).contiguous()


class ProbsBuffer:
    """One reusable C×H×W float32 tensor for to_probabilities, reallocated only when the shape changes."""

    def __init__(self):
        self.tensor: torch.Tensor | None = None

    def get(self, classes: int, size: tuple[int, int], device: torch.device) -> torch.Tensor:
        shape = (classes, *size)
        if self.tensor is None or tuple(self.tensor.shape) != shape or self.tensor.device != device:
            self.tensor = torch.empty(shape, dtype=torch.float32, device=device)
        return self.tensor
