"""Keeps a long streaming run's memory flat."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 * 2**20


def bound_heap_growth() -> bool:
    """glibc raises its mmap threshold after each large free, so image-sized buffers end up in a heap that only
    grows (measured: +3 MB per 19×256×512 image); a fixed threshold hands them back to the OS. No-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False
