"""Pick the torch device: CUDA, then MPS, then CPU."""
from __future__ import annotations

import torch

from .errors import OptionError

from .options import DEVICE_CHOICES


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise OptionError("--device cuda: this torch build sees no CUDA GPU")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise OptionError("--device mps: MPS is not available on this machine")
    if name not in DEVICE_CHOICES:
        raise OptionError(f"unknown device {name!r} (use {', '.join(DEVICE_CHOICES)})")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return device.type.upper()
