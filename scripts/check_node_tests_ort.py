"""Run every generated ONNX node test case with onnxruntime and tally pass/fail/error by kind.

Usage (with the venv's python, e.g. after `source scripts/lib/python-env.sh`):

    "$PY" scripts/check_node_tests_ort.py "$(scripts/gen-node-tests)" [--results FILE] [-v]

DIR is the folder printed by scripts/gen-node-tests (it holds manifest.tsv and node/<case>/).
Why: it checks that the files on disk load and mean what onnx meant (a peer runtime computes
the expected outputs from them), and it gives a baseline for modelconv: what onnxruntime
passes.

Each case runs on a CPU session with one thread. Its test_data_set_N/input_K.pb feed the graph
inputs in order and output_K.pb are compared as onnx's backend runner does
(Runner.assert_similar_outputs: same count, shape and dtype; strings equal; numbers within
rtol 1e-3 / atol 1e-7, NaN equal to NaN; bfloat16 with rtol at least 2**-6).
  pass   every output matches
  fail   onnxruntime ran it but an output differs
  error  onnxruntime refused the model or failed to run it
Prints one tally line per kind and a total; exit status 0 (it reports, it does not judge).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

RTOL, ATOL = 1e-3, 1e-7  # onnx.backend.test.case.node.expect's tolerance for every node case
# ORT element types that numpy has; other tensors (bfloat16, float8, int4...) go by OrtValue.
NUMPY_ORT_TYPES = {"float", "double", "float16", "bool", "string", "int8", "int16", "int32",
                   "int64", "uint8", "uint16", "uint32", "uint64"}


def load_value(path: Path, type_proto: onnx.TypeProto) -> Any:
    """Decode one .pb by the graph's type, as onnx's Runner._load_proto does."""
    data = path.read_bytes()
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return numpy_helper.to_array(onnx.TensorProto.FromString(data))
    if kind == "sequence_type":
        return numpy_helper.to_list(onnx.SequenceProto.FromString(data))
    if kind == "optional_type":
        return numpy_helper.to_optional(onnx.OptionalProto.FromString(data))
    if kind == "map_type":
        return numpy_helper.to_dict(onnx.MapProto.FromString(data))
    raise ValueError(f"{path.name}: unsupported graph type {kind}")


def is_ml_dtype(v: Any) -> bool:
    """Arrays of ml_dtypes types (bfloat16, float8*, int4...), which ORT's numpy path rejects."""
    return isinstance(v, np.ndarray) and v.dtype.type.__module__.startswith("ml_dtypes")


def to_ortvalue(v: Any) -> ort.OrtValue:
    """An OrtValue holding v's ONNX bytes (from_array packs 4-bit and 2-bit types as ONNX and
    ORT store them)."""
    if not is_ml_dtype(v):
        return ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v))
    t = numpy_helper.from_array(v)
    ov = ort.OrtValue.ortvalue_from_shape_and_type(list(v.shape), t.data_type)
    ctypes.memmove(ov.data_ptr(), t.raw_data, len(t.raw_data))
    return ov


def from_ortvalue(ov: ort.OrtValue) -> Any:
    """Back to numpy; tensors numpy lacks become ml_dtypes arrays holding ORT's exact bits."""
    if not ov.is_tensor() or not is_ml_dtype(np.empty(0, helper.tensor_dtype_to_np_dtype(ov.element_type()))):
        return ov.numpy()
    # Decode the bytes as ONNX does: ov.numpy() raises for most of these types and returns
    # plain uint8 for float8e4m3fn (onnxruntime 1.32).
    t = onnx.TensorProto(dims=ov.shape(), data_type=ov.element_type())
    t.raw_data = ctypes.string_at(ov.data_ptr(), ov.tensor_size_in_bytes())
    return numpy_helper.to_array(t)


def run(sess: ort.InferenceSession, feeds: dict[str, Any]) -> list[Any]:
    outs = sess.get_outputs()
    exotic = any(o.type.startswith("tensor(") and o.type[7:-1] not in NUMPY_ORT_TYPES for o in outs)
    if not exotic and not any(map(is_ml_dtype, feeds.values())):
        return sess.run(None, feeds)
    ort_feeds = {k: to_ortvalue(v) for k, v in feeds.items()}
    return [from_ortvalue(v) for v in sess.run_with_ort_values([o.name for o in outs], ort_feeds)]


def mismatch(ref: Any, out: Any, where: str) -> str | None:
    """None when out matches ref as onnx's Runner.assert_similar_outputs requires, else why."""
    if ref is None or out is None:  # an empty optional
        return None if ref is None and out is None else f"{where}: expected {ref!r:.40}, got {out!r:.40}"
    if isinstance(ref, (list, tuple)):
        if not isinstance(out, (list, tuple)):
            return f"{where}: expected a sequence, got {type(out).__name__}"
        if len(out) != len(ref):
            return f"{where}: sequence length {len(out)}, expected {len(ref)}"
        for j, (r, o) in enumerate(zip(ref, out)):
            if why := mismatch(r, o, f"{where}[{j}]"):
                return why
        return None
    out = np.asarray(out)
    if out.shape != ref.shape:
        return f"{where}: shape {out.shape}, expected {ref.shape}"
    if ref.dtype == object:
        return None if np.array_equal(out, ref) else f"{where}: strings differ"
    if out.dtype != ref.dtype:
        return f"{where}: dtype {out.dtype}, expected {ref.dtype}"
    rtol = RTOL
    if is_ml_dtype(ref):  # numpy cannot compare these: widen, as the runner does for bfloat16
        if ref.dtype.name == "bfloat16":
            rtol = max(RTOL, 2**-6)
        wide = np.float32 if "float" in ref.dtype.name else np.int32
        ref, out = ref.astype(wide), out.astype(wide)
    try:
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=ATOL)
    except AssertionError as e:
        lines = [s.strip() for s in str(e).splitlines() if s.strip()]
        return f"{where}: " + "; ".join(lines[1:4])
    return None


def check_case(case_dir: Path) -> tuple[str, str]:
    """(status, reason) of one case."""
    model = onnx.load(case_dir / "model.onnx")
    graph = model.graph
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 4  # errors come back as exceptions; keep stderr quiet
    try:
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        return "error", f"load: {first_line(e)}"
    for data_dir in sorted(case_dir.glob("test_data_set_*")):
        n_in = len(list(data_dir.glob("input_*.pb")))
        n_out = len(list(data_dir.glob("output_*.pb")))
        feeds = {graph.input[k].name: load_value(data_dir / f"input_{k}.pb", graph.input[k].type)
                 for k in range(n_in)}
        refs = [load_value(data_dir / f"output_{k}.pb", graph.output[k].type) for k in range(n_out)]
        try:
            outs = run(sess, feeds)
        except Exception as e:  # noqa: BLE001
            return "error", f"run: {first_line(e)}"
        if len(outs) != len(refs):
            return "fail", f"{data_dir.name}: {len(outs)} outputs, expected {len(refs)}"
        for k, (ref, out) in enumerate(zip(refs, outs)):
            if why := mismatch(ref, out, f"{data_dir.name}/output_{k}"):
                return "fail", why
    return "pass", ""


def first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="folder printed by scripts/gen-node-tests")
    ap.add_argument("--results", type=Path, help="write case<TAB>kind<TAB>status<TAB>reason here")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each case that does not pass")
    args = ap.parse_args()

    manifest = args.dir / "manifest.tsv"
    if not manifest.is_file():
        ap.error(f"{manifest} not found (give the folder printed by scripts/gen-node-tests)")
    cases = [line.split("\t") for line in manifest.read_text().splitlines() if not line.startswith("#")]

    t0 = time.monotonic()
    tally: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    rows = []
    for name, _ops, _opset, kind, _tensor_io in cases:
        status, reason = check_case(args.dir / "node" / name)
        tally[kind][status] += 1
        rows.append(f"{name}\t{kind}\t{status}\t{reason}")
        if args.verbose and status != "pass":
            print(f"{status:5} {name}: {reason}", file=sys.stderr)
    if args.results:
        args.results.write_text("".join(r + "\n" for r in rows))

    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}: {len(cases)} cases "
          f"in {time.monotonic() - t0:.0f} s")
    total: collections.Counter = collections.Counter()
    for kind in sorted(tally):
        c = tally[kind]
        total.update(c)
        print(f"{kind:18} {sum(c.values()):5} cases: {c['pass']:5} pass {c['fail']:4} fail {c['error']:4} error")
    print(f"{'total':18} {sum(total.values()):5} cases: {total['pass']:5} pass {total['fail']:4} fail "
          f"{total['error']:4} error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
