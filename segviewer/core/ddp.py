"""torch.distributed helpers for the Evaluator: gather every rank's rows, sum every rank's totals (no pickling)."""
from __future__ import annotations

import numpy as np
import torch


def world_size() -> int:
    """The number of ranks, 1 outside an initialised process group."""
    import torch.distributed as dist
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if world_size() > 1 else 0


def _comm_device() -> torch.device:
    """NCCL moves CUDA tensors only; gloo (and the rest) CPU tensors."""
    import torch.distributed as dist
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(array: np.ndarray) -> np.ndarray:
    """The element-wise sum of the same-shaped array over every rank."""
    import torch.distributed as dist
    t = torch.from_numpy(np.ascontiguousarray(array)).to(_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def all_reduce_max(value: int) -> int:
    import torch.distributed as dist
    t = torch.tensor([int(value)], dtype=torch.int64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def all_gather_rows(array: np.ndarray) -> list[np.ndarray]:
    """Every rank's array, in rank order; the first axis may differ in length between ranks (padded in transit)."""
    import torch.distributed as dist
    device, world = _comm_device(), world_size()
    t = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    size = torch.tensor([t.shape[0]], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    longest = max(int(s) for s in sizes)
    padded = torch.zeros((longest, *t.shape[1:]), dtype=t.dtype, device=device)
    padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return [p[: int(s)].cpu().numpy() for p, s in zip(parts, sizes)]


def all_gather_concat(array: np.ndarray) -> np.ndarray:
    """Every rank's rows concatenated in rank order."""
    return np.concatenate(all_gather_rows(array))


def all_gather_names(names: list[str]) -> list[str]:
    """Every rank's names in rank order, sent as UTF-8 bytes (each name ends with a NUL)."""
    encoded = b"".join(n.encode("utf-8", "surrogatepass") + b"\0" for n in names)
    parts = all_gather_rows(np.frombuffer(encoded, dtype=np.uint8).copy())
    out: list[str] = []
    for part in parts:
        out.extend(n.decode("utf-8", "surrogatepass") for n in part.tobytes().split(b"\0")[:-1])
    return out
