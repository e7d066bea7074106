"""What an output may replace, by kind (the output gate's rule, core.outputs): an existing file is replaced only by
an output of its own kind.

A CSV table (every CSV goes through csv_text.write_rows) is never named like a file of another format — `.json`,
`.toml`, `.yaml`, `.nii.gz`, `.png`, `.npy`, `.sqlite` ... — so a dataset's own files (classes.json, classes.toml,
nnU-Net's dataset.json, the demo's demo.json) are never a table's target, existing or not. It replaces an existing
file only when that file is empty or reads as a table segviewer writes: UTF-8 text whose first line is a header
of at least two columns, the first a lower-case name (class_id, image, case, reviewer ...). Any other output (a
plot, a screenshot, a figure, the demo's files) never replaces a file of another known binary format (a PNG over a
NumPy array).
"""
from __future__ import annotations

import codecs
import csv
import re
from pathlib import Path

from .errors import LoadError

TABLE_HEAD_BYTES = 4096              # a header line longer than this is read only this far
_FIRST_COLUMN = re.compile(r"[a-z][a-z0-9_]*")
# extensions a table never takes: what segviewer reads or writes besides tables, and other structured files
OTHER_FORMATS = frozenset({
    ".json", ".toml", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".npy", ".npz", ".pt",
    ".pth", ".ts", ".torchscript", ".jit", ".pkl", ".pickle", ".nii", ".gz", ".nrrd", ".nhdr", ".mha", ".mhd",
    ".pdf", ".svg", ".svgz", ".eps", ".ps", ".sqlite", ".sqlite3", ".db",
    ".yaml", ".yml", ".xml", ".ini", ".cfg", ".conf", ".py", ".ipynb", ".md", ".rst", ".html", ".htm", ".sh",
    ".zip", ".tar", ".bz2", ".xz", ".zst", ".h5", ".hdf5", ".mat", ".onnx", ".safetensors", ".ckpt"})


def check_table_name(path: Path, label: str) -> None:
    """A CSV table's name must not say another format (LoadError naming the option)."""
    suffix = path.suffix.lower()
    if suffix in OTHER_FORMATS:
        raise LoadError(path, f"{label} writes a CSV table, and {suffix} is another kind of file's extension; "
                              "refused, choose a name ending in .csv")


def check_replaced(path: Path, head: bytes, label: str, table: bool) -> None:
    """An existing file (whose first bytes are head) may be replaced by this output only when it is of the same
    kind; LoadError otherwise."""
    from .reads import detect, matches_extension
    found = detect(head)
    if found is not None and (table or not matches_extension(path, head)):
        shown = found if found.startswith(("a ", "an ")) else f"a {found} file"
        raise LoadError(path, f"{label} is {shown}, not the {path.suffix or 'text'} file this writes; refused, "
                              "choose another file")
    if table and not reads_as_table(path):
        raise LoadError(path, f"{label} is not a CSV table segviewer writes (its first line is no header such as "
                              "class_id,class_name,...); refused, choose another file")


def reads_as_table(path: Path) -> bool:
    """True for an empty file or one whose first line is a header like those segviewer's CSVs start with."""
    from .reads import read_head
    head = read_head(path, TABLE_HEAD_BYTES)
    if not head:
        return True
    line = head.split(b"\n", 1)[0].removesuffix(b"\r")
    if b"\0" in line:
        return False
    try:   # a line cut at TABLE_HEAD_BYTES may end inside a character: that part is not judged
        text = codecs.getincrementaldecoder("utf-8")().decode(line, final=b"\n" in head)
    except UnicodeDecodeError:
        return False
    fields = next(csv.reader([text.removeprefix("\ufeff")]), [])
    return len(fields) >= 2 and _FIRST_COLUMN.fullmatch(fields[0]) is not None
