"""Hostile logit files (.npy, .npz, .pt): each one alone in a dataset -> exit 2, one line naming it and why,
nothing modified. A bad file among good ones is skipped (see test_failure_path.py)."""
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from hostile_kit import C, H, W, data_args, make_base, refused

GOOD = np.zeros((C, H, W), np.float32)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def npy_with_header(path: Path, header: str, data: bytes = b"", version: int = 1) -> None:
    text = header.encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    body = text + b" " * pad + b"\n"
    size = struct.pack("<H", len(body)) if version == 1 else struct.pack("<I", len(body))
    path.write_bytes(b"\x93NUMPY" + bytes([version, 0]) + size + body + data)


def npy_array(array):
    return lambda p: np.save(p, array, allow_pickle=True)


def npy_header(descr: str, shape: str, data: bytes = b""):
    return lambda p: npy_with_header(p, f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}", data)


def truncated(writer, keep: float = 0.5):
    def write(p):
        writer(p)
        data = p.read_bytes()
        p.write_bytes(data[: int(len(data) * keep)])
    return write


def raw_bytes(data: bytes):
    return lambda p: p.write_bytes(data)


NPY_CASES = {
    "random-bytes": (raw_bytes(np.random.default_rng(1).bytes(300)), "no NumPy header"),
    "empty-file": (raw_bytes(b""), "no NumPy header"),
    "pickle-file": (raw_bytes(pickle.dumps({"a": 1}, protocol=4)), "pickle"),
    "object-array": (npy_array(np.array([{"a": 1}, None], dtype=object)), "pickled Python objects"),
    "truncated-data": (truncated(npy_array(GOOD)), "truncated"),
    "truncated-header": (truncated(npy_array(GOOD), 0.05), "header"),
    "big-endian": (npy_array(GOOD.astype(">f4")), "big-endian"),
    "longdouble": (npy_header("<f16", "(3, 8, 8)", bytes(16 * 192)), "extended-precision"),
    "structured": (npy_array(np.zeros((3, 8, 8), dtype=[("a", "<f4"), ("b", "<i4")])), "structured"),
    "unicode-strings": (npy_array(np.full((3, 8, 8), "x", dtype="<U3")), "text"),
    "byte-strings": (npy_array(np.full((3, 8, 8), b"x", dtype="S2")), "text"),
    "datetime": (npy_array(np.zeros((3, 8, 8), dtype="datetime64[s]")), "dates"),
    "timedelta": (npy_array(np.zeros((3, 8, 8), dtype="timedelta64[s]")), "dates"),
    "complex": (npy_array(np.zeros((3, 8, 8), np.complex64)), "float16/float32"),
    "int32": (npy_array(np.zeros((3, 8, 8), np.int32)), "float16/float32"),
    "bool": (npy_array(np.zeros((3, 8, 8), bool)), "float16/float32"),
    "zero-height": (npy_array(np.zeros((3, 0, 8), np.float32)), "empty or negative"),
    "zero-classes": (npy_array(np.zeros((0, 8, 8), np.float32)), "empty or negative"),
    "negative-shape": (npy_header("<f4", "(3, -8, 8)"), "empty or negative"),
    "flat-2d": (npy_array(np.zeros((8, 8), np.float32)), "C×H×W"),
    "5d": (npy_array(np.zeros((1, 1, 3, 8, 8), np.float32)), "C×H×W"),
    "batch-of-2": (npy_array(np.zeros((2, 3, 8, 8), np.float32)), "C×H×W"),
    "huge-header": (lambda p: npy_with_header(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 8, 8), "
                                                 f"'x': '{'y' * 20000}', }}", version=2), "header"),
    "header-not-literal": (lambda p: npy_with_header(p, "__import__('os').getcwd()"), "header"),
    "shape-an-expression": (npy_header("<f4", f"({C} * 1, {H}, {W})"), "corrupt .npy header"),
    "bad-version": (lambda p: p.write_bytes(b"\x93NUMPY\x09\x00" + bytes(100)), "version"),
    "declares-708-GiB": (npy_header("<f4", "(19, 100000, 100000)"), "refused before decoding"),
    "nan": (npy_array(np.full((3, 8, 8), np.nan, np.float32)), "NaN"),
    "inf-float16": (npy_array(np.full((3, 8, 8), np.inf, np.float16)), "Inf"),
    "wrong-class-count": (npy_array(np.zeros((5, 8, 8), np.float32)), "wrong number of classes"),
}


def npz_members(*members, compression=zipfile.ZIP_STORED):
    """members: (name, bytes) written as they are (bypassing numpy)."""
    def write(p):
        with zipfile.ZipFile(p, "w", compression) as z:
            for name, data in members:
                z.writestr(name, data)
    return write


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def patched(writer, patch):
    def write(p):
        writer(p)
        p.write_bytes(patch(bytearray(p.read_bytes())))
    return write


def set_zip_field(data: bytearray, local_offset: int, central_offset: int, value: int) -> bytearray:
    """Sets a 2-byte field of every local (PK\\3\\4) and central (PK\\1\\2) header."""
    for sig, off in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = 0
        while (start := data.find(sig, start)) != -1:
            data[start + off:start + off + 2] = struct.pack("<H", value)
            start += 4
    return data


def deflate_bomb(p: Path) -> None:
    """A 3×8×8 header followed by 200 MB of zeros, deflated to a few hundred KB."""
    header = npy_bytes(GOOD)
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z, z.open("logits.npy", "w", force_zip64=True) as m:
        m.write(header)
        chunk = bytes(2**22)
        for _ in range(50):
            m.write(chunk)


NPZ_CASES = {
    "random-bytes": (raw_bytes(np.random.default_rng(2).bytes(500)), "corrupt .npz"),
    "empty-archive": (npz_members(), "no arrays"),
    "raw-member": (npz_members(("logits", b"\x00" * 768)), "raw members"),
    "several-arrays": (npz_members(("a.npy", npy_bytes(GOOD)), ("b.npy", npy_bytes(GOOD))), "several arrays"),
    "encrypted": (patched(npz_members(("logits.npy", npy_bytes(GOOD))), lambda d: set_zip_field(d, 6, 8, 1)),
                  "encrypted"),
    "unknown-compression": (patched(npz_members(("logits.npy", npy_bytes(GOOD))), lambda d: set_zip_field(d, 8, 10, 99)),
                            "compression"),
    "bzip2-member": (npz_members(("logits.npy", npy_bytes(GOOD)), compression=zipfile.ZIP_BZIP2), "compression"),
    "object-array": (npz_members(("logits.npy", npy_bytes(np.array([{}], dtype=object)))), "pickled Python objects"),
    "pickle-member": (npz_members(("logits.npy", pickle.dumps([1, 2]))), "pickle"),
    "big-endian": (npz_members(("logits.npy", npy_bytes(GOOD.astype(">f4")))), "big-endian"),
    "truncated-archive": (truncated(lambda p: np.savez(p, logits=GOOD)), "corrupt .npz"),
    "truncated-member": (npz_members(("logits.npy", npy_bytes(GOOD)[:-100])), "truncated"),
    "member-longer-than-header": (npz_members(("logits.npy", npy_bytes(GOOD) + bytes(4096))), "more data"),
    "huge-member-header": (npz_members(("logits.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**20) + b"{" * 2**20)),
                           "header"),
    "declares-708-GiB": (npz_members(("logits.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + b"{'descr': "
                                      b"'<f4', 'fortran_order': False, 'shape': (19, 100000, 100000), }".ljust(117)
                                      + b"\n")), "refused before decoding"),
    "deflate-bomb": (deflate_bomb, "more data"),
    "crc-mismatch": (patched(npz_members(("logits.npy", npy_bytes(np.ones((C, H, W), np.float32)))),
                             lambda d: d.replace(b"\x00\x00\x80\x3f", b"\x00\x00\x80\x40", 1)), "corrupt .npz"),
}


def torch_save(obj, **kw):
    return lambda p: torch.save(obj, p, **kw)


class Payload:
    def __reduce__(self):
        return (os.mkdir, (str(Path(os.environ.get("SEGVIEWER_TEST_MARKER", "/nonexistent")) / "ran"),))


def deflated_pt(p: Path) -> None:
    buf = io.BytesIO()
    torch.save(torch.zeros(C, H, W), buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))


def lying_storage(numel: int, offset: int):
    """A torch.save file whose pickle declares a storage of `numel` floats and a view at `offset` (the record holds
    only 192 floats)."""
    def write(p):
        buf = io.BytesIO()
        torch.save(torch.zeros(C, H, W), buf)
        with zipfile.ZipFile(buf) as src, zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith("data.pkl"):
                    at = data.index(b"K\xc0tq")          # BININT1 192: the storage's numel
                    data = (data[:at] + b"J" + struct.pack("<i", numel) + data[at + 2:at + 6] + b"J"
                            + struct.pack("<i", offset) + data[at + 8:])   # BININT1 0 after BINPERSID: the offset
                dst.writestr(info.filename, data)
    return write


PT_CASES = {
    "storage-offset-beyond-the-file": (lying_storage(2**30, 10**8), "refused to unpickle"),
    "pickle-payload": (torch_save({"x": Payload()}), "refused to unpickle"),
    "plain-pickle": (raw_bytes(pickle.dumps([1, 2, 3])), "not a torch.save zip file"),
    "legacy-format": (torch_save(torch.zeros(C, H, W), _use_new_zipfile_serialization=False), "not a torch.save zip"),
    "random-bytes": (raw_bytes(np.random.default_rng(3).bytes(400)), "not a torch.save zip file"),
    "empty-file": (raw_bytes(b""), "not a torch.save zip file"),
    "sparse-coo": (torch_save(torch.zeros(C, H, W).to_sparse()), "sparse"),
    "sparse-csr": (lambda p: torch.save(torch.zeros(H, W).to_sparse_csr(), p), "sparse"),
    "meta": (torch_save(torch.empty(C, H, W, device="meta")), "meta"),
    "expanded-stride-0": (torch_save(torch.zeros(1, 1, 1).expand(19, 60000, 60000)), "refused before decoding"),
    "int64": (torch_save(torch.zeros(C, H, W, dtype=torch.int64)), "float16/float32"),
    "complex": (torch_save(torch.zeros(C, H, W, dtype=torch.complex64)), "float16/float32"),
    "quantized": (lambda p: torch.save(torch.quantize_per_tensor(torch.zeros(C, H, W), 0.1, 0, torch.qint8), p),
                  "holds a quantized tensor; logits must be float16/float32"),
    "float8": (torch_save(torch.zeros(C, H, W).to(torch.float8_e4m3fn)), "float16/float32"),
    "bool": (torch_save(torch.zeros(C, H, W, dtype=torch.bool)), "float16/float32"),
    "dict-of-two": (torch_save({"a": torch.zeros(C, H, W), "b": torch.zeros(C, H, W)}), "no single tensor"),
    "a-string": (torch_save("hello"), "no single tensor"),
    "list-of-tensors": (torch_save([torch.zeros(C, H, W)]), "no single tensor"),
    "flat-2d": (torch_save(torch.zeros(H, W)), "C×H×W"),
    "zero-width": (torch_save(torch.zeros(C, H, 0)), "empty or negative"),
    "nan": (torch_save(torch.full((C, H, W), float("nan"))), "NaN"),
    "deflated-members": (deflated_pt, "compressed"),
    "truncated": (truncated(torch_save(torch.zeros(C, H, W))), "not a torch.save zip file"),
    "larger-than-needed": (torch_save({"logits": torch.zeros(C, H, W), "junk": torch.zeros(2**19)}), "more than logits"),
}

CASES = ([(".npy", k, *v) for k, v in NPY_CASES.items()] + [(".npz", k, *v) for k, v in NPZ_CASES.items()]
         + [(".pt", k, *v) for k, v in PT_CASES.items()])


@pytest.mark.parametrize("ext,case,writer,reason", CASES, ids=[f"{e[1:]}-{k}" for e, k, *_ in CASES])
def test_hostile_logit_file_is_refused_in_one_line(tmp_path, monkeypatch, ext, case, writer, reason):
    base = make_base(tmp_path / "data", ext=ext)
    monkeypatch.setenv("SEGVIEWER_TEST_MARKER", str(tmp_path))
    writer(base["pred0"])
    line = refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "out.csv"], "img0" + ext, reason)
    assert "no image could be loaded (1 failed)" in line and " object at 0x" not in line
    assert not (tmp_path / "ran").exists()   # a pickled payload never runs


def test_a_quantized_tensor_is_refused_before_torch_decodes_it(tmp_path, recwarn):
    """Decoding one printed torch's deprecation warnings on stderr beside the one line."""
    base = make_base(tmp_path / "data", ext=".pt")
    PT_CASES["quantized"][0](base["pred0"])
    recwarn.clear()
    refused(tmp_path, ["export", *data_args(base), "--out", tmp_path / "out.csv", "--strict"], "img0.pt",
            "holds a quantized tensor")
    assert [str(w.message)[:60] for w in recwarn] == []
