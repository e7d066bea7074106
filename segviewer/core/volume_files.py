"""Volume files read with bounded memory: a header first (nothing decoded), then exactly the bytes it declares.

NIfTI-1/2 (.nii, .nii.gz), NRRD (.nrrd with raw, gzip or bzip2 data in the same file), NumPy .npy and .npz.
Headers are read with a size cap. Data is read, never memory-mapped (a file changed underneath a map crashes the
process with SIGBUS), into one buffer of the declared size, once that size fits the caller's budget; a compressed
stream is decompressed only up to the declared size, and more data than the header declares is refused without
decompressing the rest. Arrays keep the file's C order: NIfTI and NRRD store x fastest, so their axes come out
reversed, (z, y, x) or (C, z, y, x), as SimpleITK and nnU-Net hold them. Every problem is a LoadError naming the
file, in words; nibabel's own warnings are kept off the terminal.
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import logging
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import numpy as np

from .errors import LoadError, os_reason, plain, regular_file
from .logit_files import _npz_member
from .logit_files import _read_header as read_npy_header
from .orientation import Orientation, from_matrix, nrrd_orientation

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".npy", ".npz")
CHUNK = 2**18                   # numpy's own read size: a compressed stream's temporaries stay small
MAX_DATA_OFFSET = 64 * 2**20     # NIfTI extensions before the data: megabytes at most, never gigabytes
NRRD_HEADER_LIMIT = 2**16
GZIP_MAGIC = b"\x1f\x8b"
MM_PER_UNIT = {"meter": 1000.0, "mm": 1.0, "micron": 1e-3, "unknown": 1.0}

Format = Literal["nifti", "nrrd", "npy", "npz"]
Compression = Literal["none", "gzip", "bzip2", "zip"]

_QUIET = logging.getLogger("segviewer.nibabel")
_QUIET.propagate = False
_QUIET.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class VolumeHeader:
    """What a volume file declares. shape is the array's C-order shape: (z, y, x), (C, z, y, x), or (y, x) for a
    2-D file; singleton axes beyond the third spatial one are dropped (they do not change the layout)."""
    path: Path
    format: Format
    shape: tuple[int, ...]
    dtype: np.dtype                  # as stored, byte order included
    spacing: tuple[float, ...] | None  # mm per spatial axis in `shape` order; None: the file has none (.npy, .npz)
    compression: Compression
    file_offset: int                 # where the data (or its compressed stream) starts in the file
    stream_offset: int = 0           # bytes to skip in the decompressed stream before the data
    scale: tuple[float, float] | None = None   # NIfTI scl_slope, scl_inter where they change values
    member: str | None = None        # the .npz member holding the data
    fortran: bool = False            # a .npy saved in Fortran order
    orientation: Orientation | None = None   # where the spatial axes point (None: the file says nothing)

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize

    @property
    def seekable(self) -> bool:
        """Whether slices can be read by offset (uncompressed, C order)."""
        return self.compression == "none" and not self.fortran


def volume_suffix(path: str | Path) -> str | None:
    name = Path(path).name.lower()
    return next((s for s in VOLUME_SUFFIXES if name.endswith(s)), None)


def read_header(path: str | Path) -> VolumeHeader:
    """The header of any supported volume file; nothing of the data is decoded."""
    path = Path(path)
    suffix = volume_suffix(path)
    if suffix is None:
        raise LoadError(path, f"unsupported volume format (use {', '.join(VOLUME_SUFFIXES)})")
    regular_file(path, "volume file")
    try:
        header = {".nii": _nifti_header, ".nii.gz": _nifti_header, ".nrrd": _nrrd_header, ".npy": _npy_header,
                  ".npz": _npz_header}[suffix](path)
        _check_numbers(path, header.dtype)
        return header
    except LoadError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise LoadError(path, f"corrupt or truncated file ({plain(exc) or type(exc).__name__})") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read: {os_reason(exc, writing=False)}") from None


def _check_numbers(path: Path, dtype: np.dtype) -> None:
    """Plain numbers only: an object array is a pickle, and raw bytes must never become pointers."""
    if dtype.hasobject:
        raise LoadError(path, "holds pickled Python objects (refused; never unpickled)")
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
        raise LoadError(path, f"holds {dtype} values, not plain numbers")


def check_declared_size(header: VolumeHeader, max_elements: int, need: str) -> None:
    """The one budget check of every volume reader, before anything is decoded: the declared size against what
    the run can need (`need` says what sets the limit), then through the read gate's memory budget
    (budgets.admit_decode): the decoded array and, where it is converted, its float32 copy."""
    if any(d <= 0 for d in header.shape):
        raise LoadError(header.path, f"declares an empty or negative dimension: shape {header.shape}")
    if header.count > max_elements:
        raise LoadError(header.path, f"declares {header.count:,} values (shape {header.shape}), more than {need} "
                                     f"can need (at most {max_elements:,}); refused before decoding")
    from .budgets import admit_decode
    converted = header.dtype.kind == "f" and (header.dtype != np.dtype(np.float32) or header.scale is not None)
    admit_decode(header.path, header.shape, what=f"a {header.format} volume",
                 element_bytes=header.dtype.itemsize + (4 if converted else 0))


def read_data(header: VolumeHeader, max_elements: int, need: str) -> np.ndarray:
    """The whole array in header.shape and the stored dtype, after the budget check."""
    check_declared_size(header, max_elements, need)
    path = header.path
    if header.compression == "none" and regular_file(path).st_size < header.file_offset + header.nbytes:
        raise LoadError(path, f"corrupt or truncated: the header declares {header.nbytes:,} data bytes after byte "
                              f"{header.file_offset:,}, the file is shorter")
    try:
        out = np.empty(header.count, dtype=header.dtype)
    except MemoryError:
        raise LoadError(path, f"{header.nbytes / 2**30:.1f} GiB do not fit in the memory available") from None
    with _data_stream(header) as stream:
        _fill(stream, memoryview(out).cast("B"), header)
        if header.compression != "none" and stream.read(1):
            raise LoadError(path, f"holds more data than its header declares (shape {header.shape}); refused "
                                  "without decompressing the rest (a decompression bomb?)")
    return out.reshape(header.shape, order="F" if header.fortran else "C")


def read_slab(header: VolumeHeader, start: int, stop: int) -> np.ndarray:
    """Slices start..stop-1 of the third axis from the end (z), leading axes (channels) kept: (..., stop - start,
    y, x). An uncompressed file is read by offset (a volume larger than memory, a slab at a time); a compressed
    stream is decompressed up to the slab and no further (a case's first look: one slice of a .nii.gz image)."""
    if header.fortran:
        raise LoadError(header.path, "is in Fortran order: it can be read only whole")
    *lead, depth, rows, cols = header.shape
    if not 0 <= start < stop <= depth:
        raise LoadError(header.path, f"slices {start}..{stop - 1} lie outside its {depth} slices")
    plane = rows * cols * header.dtype.itemsize
    out = np.empty((math.prod(lead), stop - start, rows, cols), dtype=header.dtype)
    if header.seekable:
        try:
            with open(header.path, "rb") as fh:
                for block, buf in enumerate(out):
                    fh.seek(header.file_offset + (block * depth + start) * plane)
                    _fill(fh, memoryview(buf.reshape(-1)).cast("B"), header)
        except OSError as exc:
            raise LoadError(header.path, f"cannot read: {os_reason(exc, writing=False)}") from None
    else:
        with _data_stream(header) as stream:
            at = 0
            for block, buf in enumerate(out):
                wanted = (block * depth + start) * plane
                _skip(stream, wanted - at, header)
                _fill(stream, memoryview(buf.reshape(-1)).cast("B"), header)
                at = wanted + buf.nbytes
    return out.reshape(*lead, stop - start, rows, cols)


# ---- reading the data ----
@contextlib.contextmanager
def _data_stream(header: VolumeHeader) -> Iterator:
    """A stream positioned at the first data byte (decompressing as it is read)."""
    path = header.path
    try:
        with open(path, "rb") as raw:
            if header.compression == "zip":
                with zipfile.ZipFile(raw) as archive, archive.open(header.member) as member:
                    _skip(member, header.stream_offset, header)
                    yield member
                return
            raw.seek(header.file_offset)
            if header.compression == "none":
                yield raw
                return
            opened = gzip.GzipFile(fileobj=raw, mode="rb") if header.compression == "gzip" else bz2.BZ2File(raw)
            with opened as stream:
                _skip(stream, header.stream_offset, header)
                yield stream
    except LoadError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        # bz2 raises OSError("Invalid data stream") and ValueError; gzip BadGzipFile (an OSError) and EOFError
        raise LoadError(path, f"corrupt or truncated compressed data ({plain(exc) or type(exc).__name__})") from None
    except OSError as exc:
        raise LoadError(path, f"cannot read: {os_reason(exc, writing=False)}") from None


def _skip(stream, count: int, header: VolumeHeader) -> None:
    while count > 0:
        got = len(stream.read(min(count, CHUNK)))
        if not got:
            raise LoadError(header.path, "truncated: the data starts after the end of the file")
        count -= got


def _fill(stream, view: memoryview, header: VolumeHeader) -> None:
    done, total = 0, len(view)
    while done < total:
        got = stream.readinto(view[done:done + CHUNK])
        if not got:
            raise LoadError(header.path, f"corrupt or truncated: {done:,} data bytes, the header declares {total:,}")
        done += got


# ---- headers ----
def _nifti_header(path: Path) -> VolumeHeader:
    import nibabel as nib
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        block = stream.read(nib.Nifti2Header.template_dtype.itemsize)
    size = _nifti_header_size(path, block)
    kind = nib.Nifti1Header if size == 348 else nib.Nifti2Header
    if len(block) < size:
        raise LoadError(path, f"truncated NIfTI header ({len(block)} of {size} bytes)")
    try:
        hdr = kind(block[:size], check=False)
        magic = bytes(hdr["magic"]).rstrip(b"\0")
        dims = [int(d) for d in hdr["dim"]]
        pixdim = np.abs(np.asarray(hdr["pixdim"], np.float64))
        hdr.check_fix(logger=_QUIET, error_level=40)
        dtype = hdr.get_data_dtype()
        slope, inter = hdr.get_slope_inter()
        unit = hdr.get_xyzt_units()[0]
        affine = hdr.get_best_affine()[:3, :3]
    except Exception as exc:  # noqa: BLE001 - nibabel raises HeaderDataError, ValueError, KeyError... for bad bytes
        raise LoadError(path, f"broken NIfTI header ({plain(exc, 160) or type(exc).__name__})") from None
    if magic in (b"ni1", b"ni2"):
        raise LoadError(path, "is the header of a .hdr/.img pair; save a single .nii or .nii.gz file")
    if not 1 <= dims[0] <= 7 or any(d < 1 for d in dims[1:dims[0] + 1]):
        raise LoadError(path, f"broken NIfTI header: dimensions {dims[:dims[0] + 1] if 0 <= dims[0] <= 7 else dims}")
    file_dims = dims[1:dims[0] + 1]
    spatial = file_dims[:3]
    spacing = pixdim[1:len(spatial) + 1]
    if not np.all(np.isfinite(spacing) & (spacing > 0)):
        shown = ", ".join(f"{_float32_value(v):g}" for v in spacing[::-1])
        raise LoadError(path, f"broken NIfTI header: voxel spacing ({shown}) is not positive")
    raw_offset = float(hdr["vox_offset"])
    if not math.isfinite(raw_offset) or not 0 <= raw_offset <= MAX_DATA_OFFSET:
        raise LoadError(path, f"broken NIfTI header: the data would start at byte {raw_offset:,.0f}")
    offset = int(raw_offset)
    extra = [d for d in file_dims[3:] if d != 1]
    shape = tuple(reversed(extra)) + tuple(reversed(spatial))
    mm = MM_PER_UNIT.get(unit, 1.0)
    scaled = slope is not None and (slope != 1.0 or (inter or 0.0) != 0.0)
    spacing_mm = tuple(_float32_value(s * mm) for s in spacing[::-1])
    return VolumeHeader(path, "nifti", shape, np.dtype(dtype), spacing_mm, "gzip" if compressed else "none",
                        0 if compressed else offset, offset if compressed else 0,
                        (float(slope), float(inter or 0.0)) if scaled else None,
                        orientation=from_matrix(path, affine, "affine") if len(spatial) == 3 else None)


def _float32_value(value: float) -> float:
    """A float32 header field as the decimal it was written from (2.5, 0.8), not 0.800000011920929 (also after a
    unit conversion: 700 µm is 0.7 mm, not 0.7000000000000001)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _nifti_header_size(path: Path, block: bytes) -> int:
    if len(block) < 4:
        raise LoadError(path, "not a NIfTI file (empty or truncated header)")
    for order in ("little", "big"):
        size = int.from_bytes(block[:4], order)
        if size in (348, 540):
            return size
    raise LoadError(path, "broken NIfTI header: not a NIfTI-1 or NIfTI-2 header (its size field is wrong)")


def _nrrd_header(path: Path) -> VolumeHeader:
    import nrrd
    with open(path, "rb") as fh:
        raw = fh.read(NRRD_HEADER_LIMIT)
    end, gap = _nrrd_header_end(path, raw)
    try:
        lines = raw[:end].decode("ascii", "replace").splitlines()
        header = nrrd.read_header(lines)
        dtype = nrrd.reader._determine_datatype(header)
        sizes = [int(s) for s in header["sizes"]]
    except Exception as exc:  # noqa: BLE001 - pynrrd raises NRRDError, KeyError, ValueError for bad headers
        raise LoadError(path, f"broken NRRD header ({plain(exc, 160) or type(exc).__name__})") from None
    if "data file" in header or "datafile" in header:
        raise LoadError(path, "keeps its data in a separate file (a detached header); save one .nrrd file")
    if int(header.get("line skip", 0) or 0) or int(header.get("byte skip", 0) or 0):
        raise LoadError(path, "uses 'line skip' or 'byte skip'; save it without")
    encoding = str(header["encoding"]).lower()
    compression = {"raw": "none", "gzip": "gzip", "gz": "gzip", "bzip2": "bzip2", "bz2": "bzip2"}.get(encoding)
    if compression is None:
        raise LoadError(path, f"NRRD encoding {encoding!r} is not supported (use raw or gzip)")
    return VolumeHeader(path, "nrrd", tuple(reversed(sizes)), dtype, _nrrd_spacing(path, header, len(sizes)),
                        compression, end + gap, orientation=nrrd_orientation(path, header))


def _nrrd_header_end(path: Path, raw: bytes) -> tuple[int, int]:
    if not raw.startswith(b"NRRD"):
        raise LoadError(path, "not an NRRD file (no NRRD magic line)")
    ends = [(raw.find(sep), len(sep)) for sep in (b"\n\n", b"\r\n\r\n")]
    ends = [e for e in ends if e[0] >= 0]
    if not ends:
        raise LoadError(path, "broken NRRD header: no blank line ends it" + (
            f" within {NRRD_HEADER_LIMIT // 1024} KiB" if len(raw) >= NRRD_HEADER_LIMIT else " (truncated)"))
    return min(ends)


def _nrrd_spacing(path: Path, header: dict, ndim: int) -> tuple[float, ...] | None:
    """mm per axis in C order (z, y, x): the lengths of the space directions, else the spacings field."""
    directions = header.get("space directions")
    if directions is not None:
        rows = [np.asarray(r, np.float64) for r in directions]
        values = [float(np.linalg.norm(r)) for r in rows if np.all(np.isfinite(r))]
    elif header.get("spacings") is not None:
        values = [float(s) for s in header["spacings"] if math.isfinite(float(s))]
    else:
        return None
    if not values or any(v <= 0 for v in values):
        raise LoadError(path, f"broken NRRD header: voxel spacing {tuple(values)} is not positive")
    return tuple(reversed(values))


def _npy_header(path: Path) -> VolumeHeader:
    with open(path, "rb") as fh:
        shape, dtype, fortran = read_npy_header(fh, path)
        offset = fh.tell()
    return VolumeHeader(path, "npy", tuple(int(d) for d in shape), dtype, None, "none", offset, fortran=fortran)


def _npz_header(path: Path) -> VolumeHeader:
    with open(path, "rb") as fh, zipfile.ZipFile(fh) as archive:
        info = _npz_member(path, archive)
        with archive.open(info) as member:
            shape, dtype, fortran = read_npy_header(member, path)
            offset = member.tell()
    return VolumeHeader(path, "npz", tuple(int(d) for d in shape), dtype, None, "zip", 0, offset,
                        member=info.filename, fortran=fortran)


def npz_member_name(header: VolumeHeader) -> str | None:
    """The array name of an .npz member ('probabilities', 'logits', ...)."""
    return header.member[:-4] if header.member else None
