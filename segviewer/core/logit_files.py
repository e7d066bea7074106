"""Reading logit files with bounded memory: the declared shape and dtype are checked before anything is decoded.

A file may declare at most `max_elements` values (the dataset passes classes × GT pixels × a small factor); .npz
members are read with a size cap; .pt files must be torch.save zip files with uncompressed members, and their tensors
must be dense, real-valued floats that fit the budget before they are made contiguous (a stride-0 "expanded" tensor
of a few bytes can ask for gigabytes). Nothing is ever unpickled: np.load(allow_pickle=False),
torch.load(weights_only=True). Every problem is a LoadError naming the file, in words.
"""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import reads
from .errors import LoadError, os_reason, plain, regular_file

RESIZE_FACTOR = 4               # logits may have up to 4× the GT's pixels (2× per side); low resolution is fine
DEFAULT_MAX_ELEMENTS = 2**28    # without a known GT: 1 GiB of float32
MAX_CLASSES = 65_536
HEADER_LIMIT = 10_000           # bytes of a .npy header (NumPy's own safe default)
TORCH_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
NPY_MAGIC = b"\x93NUMPY"


def all_finite(values: np.ndarray | torch.Tensor) -> bool:
    """No NaN or Inf in a numpy array or a tensor."""
    # a float32 sum is ~20x cheaper than isfinite() and is finite whenever every value is (bar overflow, rechecked)
    if np.isfinite(float(values.sum())):
        return True
    return bool((torch.isfinite if isinstance(values, torch.Tensor) else np.isfinite)(values).all())


def logits_budget(num_classes: int, size: tuple[int, int]) -> int:
    """How many values a logit file for a GT of this size may declare."""
    return max(1, int(num_classes)) * max(1, int(size[0]) * int(size[1])) * RESIZE_FACTOR


def read_logit_array(path: Path, max_elements: int, decode: bool = True):
    """The file's array (numpy, read into memory for .npy, or a torch tensor), checked against the budget.

    decode=False returns only the declared shape (read from a header, or from a memory-mapped tensor).
    """
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".pt", ".pth"):
        raise LoadError(path, f"unsupported logit format {suffix!r} (use .npy, .npz, .pt or .pth)")
    st = regular_file(path, "logit file")
    if suffix == ".npy":
        return _load_npy(path, st, max_elements, decode)
    if suffix == ".npz":
        return _load_npz(path, max_elements, decode)
    tensor = _load_torch(path, st, max_elements)
    return tensor if decode else tuple(tensor.shape)


def check_declared(path: Path, shape: tuple, dtype, max_elements: int) -> None:
    """Shape C×H×W (or 1×C×H×W) of positive sizes, a real float dtype in native byte order, within the budget."""
    _check_dtype(path, dtype)
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[0] != 1):
        raise LoadError(path, f"logits must have shape C×H×W, got {tuple(shape)}")
    if any(int(d) <= 0 for d in shape):
        raise LoadError(path, f"logits have an empty or negative dimension: shape {tuple(shape)}")
    count = 1
    for d in shape:
        count *= int(d)
    if count > max_elements:
        raise LoadError(path, f"declares {count:,} values (shape {tuple(int(d) for d in shape)}), more than its "
                              f"ground truth can need (at most {max_elements:,}: classes × GT pixels × "
                              f"{RESIZE_FACTOR}); refused before decoding")


def _check_dtype(path: Path, dtype) -> None:
    if isinstance(dtype, torch.dtype):
        if dtype not in TORCH_FLOATS:
            raise LoadError(path, f"logits must be float16/float32, got {dtype}")
        return
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise LoadError(path, "holds pickled Python objects (refused; never unpickled)")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise LoadError(path, f"holds a structured array ({dtype}); save plain float logits")
    if dtype.kind in "USV":
        raise LoadError(path, f"holds text or raw bytes ({dtype}), not numbers")
    if dtype.kind in "mM":
        raise LoadError(path, f"holds dates or times ({dtype}), not logits")
    if dtype.kind != "f":
        raise LoadError(path, f"logits must be float16/float32, got {dtype}")
    if dtype.itemsize > 8:
        raise LoadError(path, f"holds extended-precision floats ({dtype}, {dtype.itemsize * 8} bit); save float32")
    if not dtype.isnative:
        raise LoadError(path, f"holds {'big' if dtype.byteorder == '>' else 'non-native'}-endian floats ({dtype.str}); "
                              "save them in the machine's byte order")


def _read_header(fh, path: Path) -> tuple[tuple, np.dtype, bool]:
    """(shape, dtype, fortran_order) of a .npy stream positioned at its start; nothing else is read."""
    start = fh.read(len(NPY_MAGIC))
    if start != NPY_MAGIC:
        if start[:1] == b"\x80" and start[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            raise LoadError(path, "holds a Python pickle, not a NumPy array (refused; never unpickled)")
        raise LoadError(path, "not a NumPy .npy array (no NumPy header); corrupt or another format")
    version = fh.read(2)
    if len(version) != 2 or version[0] not in (1, 2, 3):
        raise LoadError(path, f"unsupported .npy format version {tuple(version)}")
    read = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = read(fh, max_header_size=HEADER_LIMIT)
    except (ValueError, TypeError, SyntaxError, EOFError, OverflowError) as exc:
        # numpy's message may quote the header's parse tree (an object's address): its first line, no reprs
        reason = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>", "an expression", plain(exc) or type(exc).__name__)
        raise LoadError(path, f"corrupt .npy header ({reason})") from None
    return tuple(shape), np.dtype(dtype), bool(fortran)


def _load_npy(path: Path, st: os.stat_result, max_elements: int, decode: bool):
    try:
        with reads.open_regular(path, "logit file") as fh:
            shape, dtype, fortran = _read_header(fh, path)
            offset = fh.tell()
            check_declared(path, shape, dtype, max_elements)
            needed = offset + int(np.prod(shape)) * dtype.itemsize
            if st.st_size < needed:
                raise LoadError(path, f"corrupt or truncated .npy: {st.st_size:,} bytes, the header declares {needed:,}")
            if not decode:
                return shape
            # read, not memory-mapped: a file truncated while it is read is an error, not a SIGBUS
            # float16 straight into float32 (exact), piece by piece: no second full-size buffer
            into = np.float32 if dtype == np.float16 else None
            return reads.read_array(path, fh, offset, shape, dtype, fortran, out_dtype=into)
    except OSError as exc:
        raise LoadError(path, f"cannot read: {os_reason(exc, writing=False)}") from None


def _npz_member(path: Path, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    members = [i for i in archive.infolist() if not i.is_dir()]
    arrays = {i.filename[:-4]: i for i in members if i.filename.endswith(".npy")}
    if not arrays:
        raw = ", ".join(i.filename for i in members[:3])
        raise LoadError(path, ".npz archive holds no arrays" + (f" (only raw members: {raw})" if raw else " (empty)"))
    if "logits" not in arrays and len(arrays) > 1:
        raise LoadError(path, f".npz holds several arrays {sorted(arrays)[:6]}; name the logits 'logits'")
    info = arrays.get("logits") or next(iter(arrays.values()))
    if info.flag_bits & 0x1:
        raise LoadError(path, f"member {info.filename!r} is encrypted; refused")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise LoadError(path, f"member {info.filename!r} uses an unsupported compression method "
                              f"({info.compress_type}); use np.savez or np.savez_compressed")
    return info


def _load_npz(path: Path, max_elements: int, decode: bool):
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
            info = _npz_member(path, archive)
            with archive.open(info) as member:
                shape, dtype, fortran = _read_header(member, path)
                check_declared(path, shape, dtype, max_elements)
                if not decode:
                    return shape
                size = int(np.prod(shape)) * dtype.itemsize
                data = member.read(size)      # a size cap: a deflate bomb stops here
                if len(data) < size:
                    raise LoadError(path, f"corrupt or truncated .npz member {info.filename!r}")
                if member.read(1):
                    raise LoadError(path, f".npz member {info.filename!r} holds more data than its header declares")
    except LoadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise LoadError(path, f"corrupt .npz archive ({plain(exc) or type(exc).__name__})") from None
    except NotImplementedError as exc:
        raise LoadError(path, f".npz uses an unsupported zip feature ({plain(exc)})") from None
    except RuntimeError as exc:   # zipfile: encrypted, password required
        raise LoadError(path, f".npz cannot be read ({plain(exc)})") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read .npz: {os_reason(exc, writing=False)}") from None
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


MAX_PICKLE = 2**20      # a tensor file's pickle: a few hundred bytes per tensor


def _check_torch_zip(path: Path, st: os.stat_result, max_elements: int) -> None:
    """A torch.save zip whose members are stored uncompressed: its storages cannot be bigger than the file."""
    limit = max_elements * 8 + 2**20
    if st.st_size > limit:
        raise LoadError(path, f"file is {st.st_size / 2**20:.1f} MiB, more than logits for its ground truth can "
                              f"need ({limit / 2**20:.1f} MiB); refused before decoding")
    try:
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
            infos = archive.infolist()
            pickles = [archive.read(info) for info in infos if _small_plain_pickle(info)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        raise LoadError(path, "not a torch.save zip file (older torch formats and other files are refused; "
                              "nothing was unpickled)") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read: {os_reason(exc, writing=False)}") from None
    for info in infos:
        if info.flag_bits & 0x1:
            raise LoadError(path, f"member {info.filename!r} is encrypted; refused")
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > st.st_size:
            raise LoadError(path, f"member {info.filename!r} is compressed (torch.save writes uncompressed files); "
                                  "refused")
    # a quantized tensor, told by the rebuild function its pickle names (read as bytes, never unpickled): torch
    # would print its deprecation warnings while decoding one that is then refused anyway
    if any(b"_rebuild_qtensor" in pickle for pickle in pickles):
        raise LoadError(path, "holds a quantized tensor; logits must be float16/float32")


def _small_plain_pickle(info: zipfile.ZipInfo) -> bool:
    return (info.filename.endswith("data.pkl") and info.file_size <= MAX_PICKLE and not info.flag_bits & 0x1
            and info.compress_type == zipfile.ZIP_STORED)


def _load_torch(path: Path, st: os.stat_result, max_elements: int) -> torch.Tensor:
    _check_torch_zip(path, st, max_elements)
    try:
        # read, not memory-mapped (a file truncated under a mapping kills the process with SIGBUS); the file's
        # size was bounded above, and its members are stored uncompressed, so this reads at most that much
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except FileNotFoundError:
        raise LoadError(path, "file does not exist") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        reason = plain(exc, 200) or type(exc).__name__
        raise LoadError(path, f"not a plain tensor file (refused to unpickle objects): {reason}") from None
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        obj = tensors.get("logits", next(iter(tensors.values())) if len(tensors) == 1 else None)
    if not isinstance(obj, torch.Tensor):
        raise LoadError(path, "file holds no single tensor (or a dict with key 'logits')")
    if obj.layout != torch.strided:
        raise LoadError(path, f"holds a sparse tensor ({obj.layout}); save a dense tensor")
    if obj.is_meta:
        raise LoadError(path, "holds a meta tensor (a shape without data)")
    if obj.is_quantized or obj.is_complex():
        raise LoadError(path, f"logits must be float16/float32, got {obj.dtype}")
    check_declared(path, tuple(obj.shape), obj.dtype, max_elements)
    return obj.detach()

