"""Pick the torch device: CUDA, then MPS, then CPU."""
from __future__ import annotations

import torch

from . import validate
from .errors import OptionError


def resolve_device(name="auto") -> torch.device:
    """'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device: one that exists on
    this machine, or an OptionError saying which is missing."""
    name = validate.device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise OptionError(f"device {name!r}: this torch build sees no CUDA GPU (use cpu or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise OptionError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                              f"numbered from 0")
    if device.type == "mps" and not _mps_available():
        raise OptionError(f"device {name!r}: MPS is not available on this machine (use cpu or auto)")
    return device


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return device.type.upper()
