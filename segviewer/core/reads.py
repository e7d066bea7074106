"""The read gate: how every decoder opens a file. Regular files only (a FIFO or device is refused before it could
block), opened without following the kernel into a wait; the content must carry its extension's signature (a JPEG
named `.png` is no lossless label map); arrays are read into memory, never memory-mapped (a file truncated under a
mapping kills the process with SIGBUS); text documents (class files) are measured before they are parsed (nesting
depth, dotted-key parts, values), because parsers' cost grows faster than the file. The memory a decoded array
may take is core.budgets' question; every decoder asks both modules before it decodes.

For a new decoder:
    fh = open_regular(path, "volume")                      # refuses FIFOs, devices, folders
    check_signature(path, "volume", fh)                    # the extension's magic bytes, or a LoadError
    budgets.admit_decode(path, shape, classes=c, what="volume")   # the declared shape, before decoding
    array = read_array(path, fh, offset, shape, dtype)     # read, not mapped
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import LoadError, os_reason, regular_file

ZIP = (b"PK\x03\x04", b"PK\x05\x06")
TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# extension -> (format name, the signatures its content may start with)
SIGNATURES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".png": ("PNG", (b"\x89PNG\r\n\x1a\n",)), ".jpg": ("JPEG", (b"\xff\xd8\xff",)), ".jpeg": ("JPEG", (b"\xff\xd8\xff",)),
    ".tif": ("TIFF", TIFF), ".tiff": ("TIFF", TIFF), ".bmp": ("BMP", (b"BM",)), ".webp": ("WEBP", (b"RIFF",)),
    ".npy": ("NumPy", (b"\x93NUMPY",)), ".npz": ("NumPy zip", ZIP), ".pt": ("torch.save zip", ZIP),
    ".pth": ("torch.save zip", ZIP), ".gz": ("gzip", (b"\x1f\x8b",)), ".pdf": ("PDF", (b"%PDF",)),
    ".svgz": ("gzip", (b"\x1f\x8b",)),
}
_KNOWN = [("PNG", b"\x89PNG"), ("JPEG", b"\xff\xd8\xff"), ("GIF", b"GIF8"), ("BMP", b"BM"), ("TIFF", b"II*\x00"),
          ("TIFF", b"MM\x00*"), ("WEBP", b"RIFF"), ("a NumPy array", b"\x93NUMPY"), ("a zip archive", b"PK\x03\x04"),
          ("a Python pickle", b"\x80"), ("gzip", b"\x1f\x8b"), ("an SQLite database", b"SQLite format 3\x00"),
          ("PDF", b"%PDF"), ("JPEG 2000", b"\x00\x00\x00\x0cjP  "), ("QOI", b"qoif")]
HEAD_BYTES = 16


def open_regular(path: str | Path, what: str = "file") -> BinaryIO:
    """A binary file object for a regular file; a FIFO, device, socket or folder is refused without blocking."""
    path = Path(path)
    regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise LoadError(path, f"cannot read {what}: {os_reason(exc, writing=False)}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):   # swapped for a FIFO between the check and the open
        os.close(fd)
        raise LoadError(path, f"{what} is not a regular file; refused")
    return os.fdopen(fd, "rb")


def read_bounded(path: str | Path, limit: int, what: str = "file") -> bytes:
    """A regular file's bytes, at most limit of them (a larger file is refused); never blocks on a FIFO."""
    path = Path(path)
    try:
        with open_regular(path, what) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise LoadError(path, f"cannot read {what}: {os_reason(exc, writing=False)}") from None
    if len(data) > limit:
        raise LoadError(path, f"{what} is larger than {limit // 2**20 or limit} {'MiB' if limit >= 2**20 else 'bytes'}"
                              "; refused")
    return data


def head(fh: BinaryIO, n: int = HEAD_BYTES) -> bytes:
    """The first n bytes of an open file; its position is put back."""
    where = fh.tell()
    fh.seek(0)
    data = fh.read(n)
    fh.seek(where)
    return data


def detect(data: bytes) -> str | None:
    """A format's name from the first bytes, for messages."""
    for name, magic in _KNOWN:
        if data.startswith(magic) and (name != "WEBP" or data[8:12] == b"WEBP"):
            return name
    return None


def matches_extension(path: str | Path, data: bytes) -> bool:
    """Whether data starts as path's extension says (True for extensions without a signature)."""
    expected = SIGNATURES.get(Path(path).suffix.lower())
    if expected is None or not expected[1]:
        return True
    name, magics = expected
    return any(data.startswith(m) for m in magics) and (name != "WEBP" or data[8:12] == b"WEBP")


def read_head(path: str | Path, n: int = HEAD_BYTES) -> bytes:
    """The first n bytes of a regular file; b"" when it cannot be read (never raises, never blocks)."""
    try:
        with open_regular(path) as fh:
            return fh.read(n)
    except (LoadError, OSError):
        return b""


def check_signature(path: str | Path, what: str, fh: BinaryIO | None = None) -> None:
    """The content must be what the extension says (`.png` a PNG, `.npy` a NumPy array ...): LoadError otherwise,
    naming what the file really is when that is known. Extensions without a signature are not checked."""
    path = Path(path)
    expected = SIGNATURES.get(path.suffix.lower())
    if expected is None or not expected[1]:
        return
    try:
        if fh is None:
            with open_regular(path, what) as own:
                data = own.read(HEAD_BYTES)
        else:
            data = head(fh)
    except OSError as exc:
        raise LoadError(path, f"cannot read {what}: {os_reason(exc, writing=False)}") from None
    name = expected[0]
    if matches_extension(path, data):
        return
    if not data:
        raise LoadError(path, f"{what} is empty (0 bytes)")
    actual = detect(data)
    if actual is None:
        raise LoadError(path, f"{what} is not a {name} file as its extension says (not an image of that format, "
                              "or corrupt)")
    raise LoadError(path, f"{what} is named {path.suffix} but its content is {actual}; refused (convert it, or "
                          "give it the extension of its format)")


def read_array(path: str | Path, fh: BinaryIO, offset: int, shape: tuple[int, ...], dtype: np.dtype,
               fortran: bool = False, out_dtype: np.dtype | None = None) -> np.ndarray:
    """count × dtype bytes from offset into a new array (read, not mapped: a file shortened meanwhile is an error
    naming it, never a crash). out_dtype: converted piece by piece into an array of that type (no second
    full-size buffer, e.g. float16 logits straight into float32)."""
    count = 1
    for d in shape:
        count *= int(d)
    dtype = np.dtype(dtype)
    out = np.empty(count, dtype=out_dtype or dtype)
    same = out.dtype == dtype
    step = count if same else max(1, PIECE // dtype.itemsize)
    piece = None if same else np.empty(min(count, step), dtype)
    try:
        fh.seek(offset)
        for start in range(0, count, step):
            n = min(step, count - start)
            target = out[start:start + n] if same else piece[:n]
            got = read_fully(fh, memoryview(target).cast("B"))
            if got < n * dtype.itemsize:
                raise LoadError(path, f"truncated: {offset + start * dtype.itemsize + got:,} bytes where its header "
                                      f"declares {offset + count * dtype.itemsize:,} (changed while it was read?)")
            if not same:
                out[start:start + n] = piece[:n]
    except OSError as exc:
        raise LoadError(path, f"cannot read: {os_reason(exc, writing=False)}") from None
    if fortran:
        return out.reshape(shape, order="F")
    out.shape = shape      # in place: the array stays its own buffer (the caller may use it without a copy)
    return out


PIECE = 4 * 2**20


def read_fully(fh: BinaryIO, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = fh.readinto(view[got:])
        if not n:
            break
        got += n
    return got


# ---- text documents (class files): measured before parsing ----
MAX_DEPTH = 32            # nested arrays / tables
MAX_KEY_PARTS = 16        # a.b.c = ... (TOML dotted keys, table headers)
MAX_VALUES = 1_000_000    # values and keys in the whole document (65,536 classes need ~400,000)

_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')
_TOML_TOKENS = re.compile(r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|'
                          r'[\[\]{},=.\n]|[^\s\[\]{},=."\'#]+', re.DOTALL)


def check_structure(path: str | Path, text: str, kind: str, what: str = "class file") -> None:
    """Refuses (LoadError) a JSON or TOML document nested deeper than MAX_DEPTH, with a key of more than
    MAX_KEY_PARTS dotted parts, or with more than MAX_VALUES values, before any parser sees it."""
    depth, deepest, values, parts = 0, 0, 0, 1
    what = f"{kind} {what}"
    if kind == "JSON":
        for m in _JSON_TOKENS.finditer(text):
            t = m.group()
            if t in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif t in "]}":
                depth -= 1
            values += 1
            _limits(path, what, deepest, values, 1)
        return
    key_mode, header, stack = True, False, []
    for m in _TOML_TOKENS.finditer(text):
        t = m.group()
        if t.startswith("#"):
            continue
        values += 1
        if key_mode:
            if t == ".":
                parts += 1
            elif t == "[" and not stack and parts == 1 and not header:
                header = True          # [table] or [[array of tables]]
            elif t == "]" and header:
                header, parts = False, 1
            elif t == "=":
                key_mode, parts = False, 1
            elif t == "}" and stack:   # an empty inline table
                stack.pop()
                key_mode, parts = False, 1
            elif t == "\n" and not stack:
                header, parts = False, 1
            _limits(path, what, len(stack) + 1, values, parts)
            continue
        if t in "[{":
            stack.append(t)
            key_mode = t == "{"
        elif t in "]}" and stack:
            stack.pop()
        elif t == "," and stack and stack[-1] == "{":
            key_mode = True
        elif t == "\n" and not stack:
            key_mode = True
        _limits(path, what, len(stack) + 1, values, 1)


def _limits(path, what: str, depth: int, values: int, parts: int) -> None:
    if depth > MAX_DEPTH:
        raise LoadError(path, f"{what} is nested too deeply (more than {MAX_DEPTH} levels); refused before parsing")
    if parts > MAX_KEY_PARTS:
        raise LoadError(path, f"{what} has a key of more than {MAX_KEY_PARTS} dotted parts; refused before parsing")
    if values > MAX_VALUES:
        raise LoadError(path, f"{what} holds more than {MAX_VALUES:,} values; refused before parsing")
