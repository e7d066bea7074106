"""Where a case's array axes point in the patient, and how its axial, coronal and sagittal slices are drawn.

A header's voxel-to-world matrix (NIfTI's affine, NRRD's space directions) is reduced to the patient axis each
array axis runs closest to and which way its index grows (nibabel's io_orientation: a one-to-one assignment that
also settles oblique scans). The planes are named per case from it: axial slices are taken across the array axis
closest to superior-inferior, coronal across anterior-posterior, sagittal across left-right. A slice is drawn in
the radiological convention of ITK-SNAP and 3D Slicer: axial with anterior at the top and the patient's right on
the screen's left, coronal with superior at the top and right on the left, sagittal with superior at the top and
anterior on the left — by a transpose and flips of the 2-D slice only (the voxels and their counts never change).
An array without orientation (.npy, .npz) is taken as (z, y, x) with ITK's identity direction (LPS: x toward the
patient's left, y toward posterior, z toward superior), which draws it exactly as array order always did.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LoadError

AXIS_NAMES = ("axial", "coronal", "sagittal")
RAS = "RAS"
NEGATIVE = "LPI"
_ACROSS = (2, 1, 0)      # per plane: the world axis (0 R-L, 1 A-P, 2 S-I) its slices are taken across
_ROWS = (1, 2, 2)        # per plane: the world axis of the drawn rows (axial A-P, coronal and sagittal S-I)
_COLS = (0, 0, 1)        # per plane: the world axis of the drawn columns (axial and coronal R-L, sagittal A-P)
NRRD_SPACES = {          # NRRD space -> signs that turn its coordinates into RAS
    "right-anterior-superior": (1, 1, 1), "ras": (1, 1, 1),
    "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1),
    "left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1),
}


@dataclass(frozen=True)
class SliceView:
    """How one plane's slice of a case is drawn: the array axis it is taken across, the array axes drawn as rows
    and columns, and whether each is drawn reversed. Rows and columns increase down and right on the screen."""
    plane: int
    across: int
    rows: int
    cols: int
    flip_rows: bool
    flip_cols: bool

    def apply(self, a):
        """The 2-D slice (numpy or torch; any leading axes kept) in array order -> as drawn."""
        if a is None:
            return None
        if isinstance(a, np.ndarray):
            out = np.swapaxes(a, -1, -2) if self.rows > self.cols else a
            flips = tuple(ax for ax, f in ((-2, self.flip_rows), (-1, self.flip_cols)) if f)
            return np.ascontiguousarray(np.flip(out, flips) if flips else out)
        out = a.transpose(-1, -2) if self.rows > self.cols else a
        flips = [ax for ax, f in ((-2, self.flip_rows), (-1, self.flip_cols)) if f]
        return (out.flip(flips) if flips else out).contiguous()

    def voxel(self, index: int, row: int, col: int, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(z, y, x) array index of the drawn pixel (row, col) of slice `index`."""
        voxel = [0, 0, 0]
        voxel[self.across] = index
        voxel[self.rows] = shape[self.rows] - 1 - row if self.flip_rows else row
        voxel[self.cols] = shape[self.cols] - 1 - col if self.flip_cols else col
        return tuple(voxel)  # type: ignore[return-value]

    def drawn(self, voxel, shape: tuple[int, int, int]) -> tuple[int, int]:
        """(row, col) where the voxel (z, y, x) is drawn on its slice: voxel()'s inverse."""
        row, col = voxel[self.rows], voxel[self.cols]
        return (shape[self.rows] - 1 - row if self.flip_rows else row,
                shape[self.cols] - 1 - col if self.flip_cols else col)


@dataclass(frozen=True)
class Orientation:
    """Per array axis (z, y, x): the world axis it runs along (0 R-L, 1 A-P, 2 S-I) and +1 when its index grows
    toward R, A or S (-1: toward L, P or I). known False: the file has none (array order, taken as LPS)."""
    world: tuple[int, int, int]
    sign: tuple[int, int, int]
    known: bool = True

    @property
    def codes(self) -> str:
        """The direction each of the file's (x, y, z) axes grows toward, as nibabel's aff2axcodes says it: 'RAS'."""
        return "".join((RAS if s > 0 else NEGATIVE)[w] for w, s in zip(self.world[::-1], self.sign[::-1]))

    def describe(self) -> str:
        return self.codes if self.known else "orientation unknown (array order)"

    def axis(self, plane: int) -> int:
        """The array axis the plane's slices are taken across."""
        return self.world.index(_ACROSS[plane])

    def plane_across(self, axis: int) -> int:
        """The plane whose slices are taken across the array axis."""
        return _ACROSS.index(self.world[axis])

    def view(self, plane: int) -> SliceView:
        across = self.axis(plane)
        first, second = (a for a in range(3) if a != across)
        rows, cols = (first, second) if self.world[first] == _ROWS[plane] else (second, first)
        # drawn in the radiological convention: every displayed index grows toward L, P or I
        return SliceView(plane, across, rows, cols, self.sign[rows] > 0, self.sign[cols] > 0)


ARRAY_ORDER = Orientation((2, 1, 0), (1, -1, -1), known=False)


def from_matrix(path: Path, matrix: np.ndarray, what: str) -> Orientation:
    """The orientation of a 3×3 voxel-to-RAS matrix whose columns are the file's (x, y, z) axes; a matrix that
    maps no volume (non-finite, a zero column, singular) is a LoadError naming the file."""
    from nibabel.orientations import io_orientation
    m = np.asarray(matrix, np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise LoadError(path, f"broken header: its {what} is not finite")
    norms = np.linalg.norm(m, axis=0)
    if np.any(norms == 0):
        raise LoadError(path, f"broken header: its {what} gives axis {'xyz'[int(np.argmin(norms))]} no direction")
    if abs(np.linalg.det(m / norms)) < 1e-6:
        raise LoadError(path, f"broken header: its {what} is singular (two axes point the same way)")
    ornt = io_orientation(np.vstack([np.hstack([m, np.zeros((3, 1))]), [0, 0, 0, 1]]))
    world = tuple(int(w) for w in ornt[::-1, 0])
    sign = tuple(int(s) for s in ornt[::-1, 1])
    return Orientation(world, sign)  # type: ignore[arg-type]


def nrrd_orientation(path: Path, header: dict) -> Orientation | None:
    """From an NRRD header's space and space directions (None without an anatomical space)."""
    space = str(header.get("space", "")).lower()
    directions = header.get("space directions")
    if space not in NRRD_SPACES or directions is None:
        return None
    rows = [np.asarray(r, np.float64) for r in directions if r is not None and np.size(r) == 3]
    rows = [r for r in rows if not np.all(np.isnan(r))]           # a vector axis's 'none'
    if len(rows) < 3:          # a 2-D file: refused as such by whoever reads it
        return None
    return from_matrix(path, np.stack(rows[:3], axis=1) * np.asarray(NRRD_SPACES[space])[:, None],
                       "space directions matrix")
