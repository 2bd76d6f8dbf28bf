#!/usr/bin/env python3
"""Writes the fixtures of ModelTensorIOTests into Fixtures/ beside this script.

NumPy (and onnx, for the .pb files) is the oracle: every array is written by numpy's own
writers, and manifest.json records what numpy says each file holds: its dtype name (which
is also modelconv's DType name), its shape, and the hex of its C-order little-endian bytes.
For arrays whose canonical form (little-endian, C order) modelconv can write, it also records
the header numpy writes for that form (`header_hex`), so a test can check that modelconv's
.npy output is byte-identical to numpy's.

Deterministic: fixed seeds and fixed zip timestamps, so running it again rewrites the same
bytes. Keep the arrays tiny: the whole folder is committed (it stays under ~30 KB).

    source scripts/lib/python-env.sh && "$PY" Tests/ModelTensorIOTests/make-fixtures.py
"""
import io
import json
import os
import struct
import zipfile
import zlib

import ml_dtypes
import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Fixtures")
TESTDATA = "/usr/share/libonnx-testdata/data/node"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

manifest = {"npy": {}, "npz": {}, "pb": {}, "refused": {}}


def canonical(a):
    """The little-endian, C-order copy of `a` (what modelconv stores and writes)."""
    a = np.asarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.asarray(a, order="C")  # not ascontiguousarray: it turns 0-d arrays into 1-d


def describe(a):
    """dtype / shape / bytes as numpy sees them, plus numpy's header for the canonical form."""
    c = canonical(a)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, c, version=None)
    raw = buf.getvalue()
    header = raw[: len(raw) - c.nbytes]
    return {
        "dtype": c.dtype.name,
        "shape": list(c.shape),
        "hex": c.tobytes().hex(),
        "header_hex": header.hex(),
    }


def save(name, a, version=None):
    with open(os.path.join(OUT, name), "wb") as f:
        np.lib.format.write_array(f, np.asanyarray(a), version=version)
    manifest["npy"][name] = describe(a)


def write_raw(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    rng = np.random.default_rng(20240611)

    # One file per dtype modelconv maps to numpy, shape (2, 3).
    floats = np.array([[0.0, -0.0, 1.5], [np.inf, -np.inf, np.nan]])
    save("float16.npy", (floats + rng.standard_normal((2, 3))).astype(np.float16))
    save("float32.npy", (floats + rng.standard_normal((2, 3))).astype(np.float32))
    save("float64.npy", floats * rng.standard_normal((2, 3)))
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        info = np.iinfo(t)
        a = rng.integers(info.min, info.max, size=(2, 3), dtype=t, endpoint=True)
        a[0, 0], a[0, 1] = info.min, info.max
        save(np.dtype(t).name + ".npy", a)
    save("bool.npy", rng.integers(0, 2, size=(2, 3)).astype(bool))
    save("complex64.npy", (rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))).astype(np.complex64))
    save("complex128.npy", rng.standard_normal((3,)) + 1j * rng.standard_normal((3,)))

    # Scalars, empty arrays, higher rank.
    save("scalar_float32.npy", np.float32(3.25))
    save("scalar_int64.npy", np.array(-7, dtype=np.int64))
    save("empty_float32.npy", np.zeros((0, 3), dtype=np.float32))
    save("empty_int8.npy", np.zeros((2, 0, 4), dtype=np.int8))
    save("rank4_int16.npy", rng.integers(-1000, 1000, size=(1, 2, 3, 2), dtype=np.int16))

    # Big-endian data (converted to little-endian on read).
    save("be_float32.npy", rng.standard_normal((2, 3)).astype(">f4"))
    save("be_int16.npy", rng.integers(-30000, 30000, size=(4,)).astype(">i2"))
    save("be_complex128.npy", (rng.standard_normal((2,)) + 1j * rng.standard_normal((2,))).astype(">c16"))
    # numpy writes '|' for 1-byte types; '>' and '<' on them mean the same bytes.
    d = np.array([-1, 2, 127], dtype=np.int8)
    hdr = b"{'descr': '>i1', 'fortran_order': False, 'shape': (3,), }"
    hdr += b" " * (64 - (10 + len(hdr) + 1) % 64) + b"\n"
    write_raw("be_marker_int8.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + d.tobytes())
    manifest["npy"]["be_marker_int8.npy"] = describe(d)

    # Header versions 2.0 and 3.0.
    save("v2_float32.npy", rng.standard_normal((3, 2)).astype(np.float32), version=(2, 0))
    save("v3_int32.npy", rng.integers(-5, 5, size=(2, 2), dtype=np.int32), version=(3, 0))

    # Hand-written headers numpy still reads: Python 2's `3L`, double quotes, other key
    # order, a 16-byte aligned header that leaves the data at an odd offset (copied, not
    # borrowed), '=' byte order.
    a = np.array([1, -2, 3], dtype="<i4")
    hdr = b"{'descr': '<i4', 'fortran_order': False, 'shape': (3L,), }"
    hdr += b" " * ((16 - (10 + len(hdr) + 1) % 16) % 16) + b"\n"
    write_raw("py2_int32.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + a.tobytes())
    manifest["npy"]["py2_int32.npy"] = {k: v for k, v in describe(a).items()}
    b = np.array([[7, 8]], dtype="<u2")
    hdr = b'{"shape": (1, 2), "fortran_order": False, "descr": "=u2"}\n'  # 10 + 58 = 68: even
    hdr = b" " + hdr  # 69: odd data offset
    write_raw("odd_offset_uint16.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b.tobytes())
    manifest["npy"]["odd_offset_uint16.npy"] = describe(b)
    # Older numpy: no growth padding and 16-byte alignment.
    c = np.array([0.5, 0.25], dtype="<f8")
    hdr = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    hdr += b" " * (16 - (10 + len(hdr) + 1) % 16) + b"\n"
    write_raw("old_align16_float64.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + c.tobytes())
    manifest["npy"]["old_align16_float64.npy"] = describe(c)

    # Refused: each with what the error must mention.
    def refuse(name, data, why):
        write_raw(name, data)
        manifest["refused"][name] = why

    f = io.BytesIO()
    np.save(f, np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    refuse("fortran_float32.npy", f.getvalue(), "fortran")
    f = io.BytesIO()
    np.save(f, np.array([1, "a", None], dtype=object), allow_pickle=True)
    refuse("object.npy", f.getvalue(), "object")
    f = io.BytesIO()
    np.save(f, np.array([1.0, 2.0], dtype=ml_dtypes.bfloat16))
    refuse("bfloat16_v2.npy", f.getvalue(), "bfloat16")
    refuse("unicode.npy", npy_bytes(np.array(["ab", "c"])), "string")
    refuse("structured.npy", npy_bytes(np.zeros(2, dtype=[("x", "<i4"), ("y", "<f4")])), "structured")
    refuse("longdouble.npy", npy_bytes(np.zeros(2, dtype=np.longdouble)), "<f16")
    good = npy_bytes(np.arange(6, dtype=np.float32))
    refuse("truncated.npy", good[:-5], "needs 24 bytes")
    refuse("header_past_eof.npy", good[:8] + struct.pack("<H", 4000) + good[10:100], "past the end")
    refuse("bad_magic.npy", b"\x93NUMPX" + good[6:], "magic")
    refuse("negative_shape.npy", good.replace(b"(6,), ", b"(-6,),"), "negative")
    refuse("unparsable.npy", good.replace(b"'shape': (6,)", b"'shape': (6,(("), "header")
    refuse("trailing.npy", good + b"\0\0\0\0", "extra")

    # .npz: np.savez (stored members) and np.savez_compressed (deflated).
    arrays = {
        "x": rng.standard_normal((2, 3)).astype(np.float32),
        "step": np.array(42, dtype=np.int64),
        "mask": np.array([True, False, True]),
        "none": np.zeros((0,), dtype=np.uint8),
        "/encoder/y": np.arange(4, dtype=np.int16),  # '/' in a key, as in ONNX value names: allowed
    }
    np.savez(os.path.join(OUT, "savez.npz"), **arrays)
    np.savez_compressed(os.path.join(OUT, "savez_compressed.npz"), **arrays)
    for name in ("savez.npz", "savez_compressed.npz"):
        manifest["npz"][name] = {"order": list(arrays), "members": {k: describe(v) for k, v in arrays.items()}}

    # Hostile .npz files, crafted with zipfile.
    def zip_with(name, members, compress=zipfile.ZIP_STORED):
        path = os.path.join(OUT, name)
        with zipfile.ZipFile(path, "w") as z:
            for mname, data in members:
                info = zipfile.ZipInfo(mname, date_time=ZIP_DATE)
                info.compress_type = compress
                z.writestr(info, data)
        return path

    small = npy_bytes(np.arange(4, dtype=np.float32))
    zip_with("dotdot.npz", [("ok.npy", small), ("../evil.npy", small)])
    manifest["refused"]["dotdot.npz"] = "../evil"
    zip_with("duplicate.npz", [("a.npy", small), ("a.npy", small)])
    manifest["refused"]["duplicate.npz"] = "twice"
    zip_with("not_npy.npz", [("notes.txt", b"hello")])
    manifest["refused"]["not_npy.npz"] = "notes.txt"
    refuse("not_a_zip.npz", b"PK\x03\x04 this is not a zip file at all", "zip")

    # Declared sizes past the 4 GiB default cap: two members that each claim ~3.75 GiB.
    # Only the central directory and local headers are patched; nothing that large exists.
    path = zip_with("declared_huge.npz", [("a.npy", small), ("b.npy", small)])
    data = bytearray(open(path, "rb").read())
    huge = struct.pack("<I", 0xF0000000)
    for sig, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = data.find(sig)
        while i >= 0:
            data[i + field : i + field + 4] = huge
            if sig == b"PK\x03\x04":
                data[i + 18 : i + 22] = huge  # stored: compressed size = uncompressed size
            else:
                data[i + 20 : i + 24] = huge
            i = data.find(sig, i + 4)
    write_raw("declared_huge.npz", bytes(data))
    manifest["refused"]["declared_huge.npz"] = "b.npy"

    # A zip bomb in miniature: the member inflates to far more than it declares (and than its
    # npy header needs). Deflate 64 KiB of trailing zeros; declare only the npy's own size.
    payload = small + b"\0" * 65536
    path = zip_with("inflates_past_declared.npz", [("a.npy", payload)], compress=zipfile.ZIP_DEFLATED)
    data = bytearray(open(path, "rb").read())
    declared = struct.pack("<I", len(small))
    i = data.find(b"PK\x03\x04")
    data[i + 22 : i + 26] = declared
    i = data.find(b"PK\x01\x02")
    data[i + 24 : i + 28] = declared
    write_raw("inflates_past_declared.npz", bytes(data))
    manifest["refused"]["inflates_past_declared.npz"] = "inflates to more than"

    # A member whose declared size disagrees with the shape its npy header gives.
    mismatch = npy_bytes(np.arange(4, dtype=np.float32)).replace(b"(4,)", b"(5,)")
    zip_with("shape_mismatch.npz", [("m.npy", mismatch)], compress=zipfile.ZIP_DEFLATED)
    manifest["refused"]["shape_mismatch.npz"] = "m.npy"
    assert zlib  # (deflate comes from zipfile's own zlib)

    # ONNX TensorProto .pb files: typed fields, raw data, bfloat16, strings.
    def pb(name, tensor):
        write_raw(name, tensor.SerializeToString())
        entry = {"name": tensor.name, "data_type": tensor.data_type, "shape": list(tensor.dims)}
        if tensor.data_type == onnx.TensorProto.STRING:
            entry["strings_hex"] = [s.hex() for s in tensor.string_data]
        else:
            arr = numpy_helper.to_array(tensor)
            entry["hex"] = canonical(arr).tobytes().hex()
        manifest["pb"][name] = entry

    pb("typed_float32.pb", helper.make_tensor("t_f32", onnx.TensorProto.FLOAT, [2, 2], [1.0, -2.5, 3.0, 1e-3]))
    pb("typed_int64.pb", helper.make_tensor("t_i64", onnx.TensorProto.INT64, [3], [-(2**40), 0, 7]))
    pb("typed_float16.pb", helper.make_tensor("t_f16", onnx.TensorProto.FLOAT16, [2], np.array([0.5, -8.0], np.float16)))
    pb("bfloat16.pb", helper.make_tensor("t_bf16", onnx.TensorProto.BFLOAT16, [2], [1.0, -2.0]))
    pb("raw_uint16.pb", numpy_helper.from_array(np.array([[1, 65535]], dtype=np.uint16), name="t_u16"))
    pb("noname_int8.pb", numpy_helper.from_array(np.array([-3, 4], dtype=np.int8)))
    pb("strings.pb", helper.make_tensor("t_str", onnx.TensorProto.STRING, [2], [b"ab", b"\xc3\xa9"]))
    write_raw("sequence.pb", numpy_helper.from_list([np.array([1.0], np.float32)], name="seq").SerializeToString())
    manifest["refused"]["sequence.pb"] = "not a TensorProto"
    write_raw("optional.pb", numpy_helper.from_optional(np.array([1, 2], np.int64), name="opt").SerializeToString())
    manifest["refused"]["optional.pb"] = "not a TensorProto"

    # The ONNX backend test data, as onnx reads it.
    for test in ("test_abs", "test_cast_FLOAT_to_FLOAT16"):
        for f in ("input_0.pb", "output_0.pb"):
            p = os.path.join(TESTDATA, test, "test_data_set_0", f)
            if not os.path.exists(p):
                continue
            t = onnx.load_tensor(p)
            arr = numpy_helper.to_array(t)
            manifest["pb"][p] = {
                "name": t.name,
                "data_type": t.data_type,
                "shape": list(arr.shape),
                "hex": canonical(arr).tobytes().hex(),
            }

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
