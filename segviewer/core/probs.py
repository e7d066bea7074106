"""Logits to probabilities: resize on the logit level when either side differs, then the activation."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import OptionError
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


def resolve_activation(activation: str, holds_probabilities: bool = False) -> str:
    """What "auto" means for one array: none when the file says it holds probabilities (an nnU-Net
    `probabilities` member), softmax otherwise (logits); any other choice is the user's and stands."""
    if activation != "auto":
        return activation
    return "none" if holds_probabilities else "softmax"


def activate(logits: torch.Tensor, activation: str = "softmax", in_place: bool = False) -> torch.Tensor:
    """in_place: the probabilities overwrite the logits (CPU float32 only; the same values to the bit)."""
    activation = resolve_activation(activation)
    in_place = in_place and logits.device.type == "cpu" and logits.dtype == torch.float32 and logits.is_contiguous()
    if activation == "softmax":
        # torch's softmax kernel reads each value before it writes it: run into the logits' own buffer, it saves
        # a C×H×W allocation, which on CPU is mostly page faults (~19,000 for 150×256×512)
        return torch.ops.aten._softmax.out(logits, 0, False, out=logits) if in_place else torch.softmax(logits, dim=0)
    if activation == "sigmoid":
        return torch.sigmoid_(logits) if in_place else torch.sigmoid(logits)
    if activation == "none":
        return logits
    raise OptionError(f"unknown activation {activation!r} (use {', '.join(ACTIVATIONS)})")


def outside_unit_range(probs: torch.Tensor) -> str | None:
    """With activation 'none' the values are used as probabilities: why they are not (values outside [0, 1])."""
    lo, hi = (float(v) for v in torch.aminmax(probs))
    if lo >= 0.0 and hi <= 1.0:
        return None
    return (f"activation 'none' takes the values as probabilities, but they range from {lo:.3g} to {hi:.3g}; "
            "raw logits need --activation softmax (or sigmoid)")


def to_probabilities(logits: torch.Tensor, size: tuple[int, int], activation: str = "softmax",
                     align_corners: bool = True, device: torch.device | str = "cpu",
                     overwrite: bool = False, buffer: "ProbsBuffer | None" = None) -> torch.Tensor:
    """C×H×W float32 probabilities on the device, at the ground truth's size.

    overwrite=True: the caller gives up `logits`, whose buffer may then hold the probabilities. A copy made here
    (another device or dtype, a resize) is always reused that way. buffer: where the probabilities go when the
    logits stay the caller's, on the CPU (a loop over images then allocates nothing; the result is valid until
    the buffer's next use). Every path gives the same values to the bit."""
    activation = resolve_activation(activation)
    given = logits
    logits = logits.to(device=device, non_blocking=True)
    if buffer is not None and not overwrite and _buffer_helps(logits, size, activation):
        return _probabilities_into(buffer.get(logits.shape[0], size), logits, size, activation, align_corners)
    logits = resize_logits(logits.float(), size, align_corners)
    owned = overwrite or logits.data_ptr() != given.data_ptr()
    return activate(logits, activation, in_place=owned).contiguous()


def _buffer_helps(logits: torch.Tensor, size: tuple[int, int], activation: str) -> bool:
    # CPU only: a fresh C×H×W output there is mostly page faults, while CUDA's caching allocator reuses memory
    # (and a kept buffer would need stream care); contiguous only, so the kernels see the same layout as before
    if logits.device.type != "cpu" or not logits.is_contiguous():
        return False
    return activation != "none" or logits.dtype != torch.float32 or tuple(logits.shape[-2:]) != tuple(size)


def _probabilities_into(out: torch.Tensor, logits: torch.Tensor, size, activation: str, align_corners: bool):
    if tuple(logits.shape[-2:]) != tuple(size):
        return activate(resize_logits(logits.float(), size, align_corners, out), activation, in_place=True)
    if logits.dtype != torch.float32:
        return activate(out.copy_(logits), activation, in_place=True)   # the conversion .float() makes
    if activation == "sigmoid":
        return torch.sigmoid(logits, out=out)
    return torch.ops.aten._softmax.out(logits, 0, False, out=out)      # the kernel torch.softmax runs


class ProbsBuffer:
    """One reusable C×H×W float32 CPU tensor for to_probabilities, reallocated when the shape changes."""

    def __init__(self):
        self.tensor: torch.Tensor | None = None

    def get(self, classes: int, size: tuple[int, int]) -> torch.Tensor:
        shape = (classes, *size)
        t = self.tensor
        # one made under torch.inference_mode() cannot be written outside it (Lightning validates in that mode)
        if t is None or tuple(t.shape) != shape or t.is_inference() != torch.is_inference_mode_enabled():
            self.tensor = torch.empty(shape, dtype=torch.float32)
        return self.tensor
