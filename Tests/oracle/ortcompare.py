"""Helpers for modelconv's oracle tests.

The code under test is the built ``modelconv`` binary. The oracles are independent of it:

* ``onnx`` (the Python package) parses models, runs ``onnx.checker`` and decodes tensors;
* ``onnxruntime`` (ORT) runs the original and the exported model on the same inputs.

"Bit-identical" below means: same Python structure (array / list / dict / None), same dtype,
same shape, and every element has the same bit pattern, except that any NaN equals any NaN
(NaN payloads are not compared). So +0.0 and -0.0 differ, and so do 1.0 and 1.0000001.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import dataclasses
import os
import re
import struct
import subprocess
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTDATA_ROOT = Path(os.environ.get("MODELCONV_TESTDATA", "/usr/share/libonnx-testdata/data"))
TESTDATA_SUITES = ("node", "pytorch-converted", "pytorch-operator", "simple")
CACHE_ROOT = Path(os.environ.get("MODELCONV_CACHE", Path.home() / ".cache" / "modelconv"))
MODELS_DIR = CACHE_ROOT / "models"

# Seconds one modelconv invocation may take before it counts as hung.
CLI_TIMEOUT = float(os.environ.get("MODELCONV_ORACLE_TIMEOUT", "120"))

# ORT prints kernel-creation failures on stderr at ERROR severity; 4 = FATAL only.
ort.set_default_logger_severity(4)


# --------------------------------------------------------------------------------------------
# The binary under test


def modelconv_path() -> Path:
    """The modelconv binary: $MODELCONV, or .build/debug/modelconv. Relative paths are taken
    relative to the repository root (that is where scripts run from)."""
    p = Path(os.environ.get("MODELCONV", ".build/debug/modelconv"))
    return p if p.is_absolute() else REPO_ROOT / p


def run_modelconv(binary: Path, *args: str | os.PathLike, timeout: float = CLI_TIMEOUT
                  ) -> subprocess.CompletedProcess:
    """Run ``binary args...`` and capture stdout/stderr as text (never raises on exit codes;
    a hang raises subprocess.TimeoutExpired)."""
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True,
                          errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)


def describe_exit(r: subprocess.CompletedProcess) -> str:
    """One line describing how a modelconv run ended, for failure messages."""
    how = f"killed by signal {-r.returncode}" if r.returncode < 0 else f"exited {r.returncode}"
    return f"{how}; stderr: {first_line(r.stderr) or '<empty>'}"


def first_line(text: str | BaseException) -> str:
    """First non-empty line of a message, stripped."""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


# --------------------------------------------------------------------------------------------
# onnxruntime


def ort_session(model: Path | bytes) -> ort.InferenceSession:
    """A CPU session with one thread and sequential execution, so that a run is deterministic
    and two sessions of the same graph compute in the same order."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 4
    src = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def _is_ml_dtype(v: Any) -> bool:
    """True for arrays of ml_dtypes types (bfloat16, float8*, ...), which ORT's plain numpy
    path does not accept."""
    return isinstance(v, np.ndarray) and v.dtype.type.__module__.startswith("ml_dtypes")


def _ort_type_lacks_numpy(t: str) -> bool:
    """ORT tensor types whose .numpy() fails ("No corresponding Numpy type")."""
    return any(k in t for k in ("bfloat16", "float8", "float4", "int4", "int2"))


def _to_ortvalue(v: np.ndarray) -> ort.OrtValue:
    if _is_ml_dtype(v):
        bits = np.ascontiguousarray(v).view(np.dtype(f"u{v.dtype.itemsize}"))
        return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
            bits, onnx_element_type=helper.np_dtype_to_tensor_dtype(v.dtype))
    return ort.OrtValue.ortvalue_from_numpy(v)


def _from_ortvalue(v: ort.OrtValue) -> Any:
    try:
        return v.numpy()
    except Exception:  # noqa: BLE001 - no numpy type: copy the tensor's bytes out
        if not v.is_tensor():
            raise
        dtype = helper.tensor_dtype_to_np_dtype(v.element_type())
        raw = ctypes.string_at(v.data_ptr(), v.tensor_size_in_bytes())
        return np.frombuffer(raw, dtype=dtype).reshape(v.shape()).copy()


def ort_run(sess: ort.InferenceSession, feeds: dict[str, Any]) -> dict[str, Any]:
    """Run all outputs; returns {output name: value}.

    Tensors of types numpy lacks (bfloat16, float8...) go through OrtValue and come back as
    ml_dtypes arrays holding ORT's exact bits."""
    names = [o.name for o in sess.get_outputs()]
    if not (any(map(_is_ml_dtype, feeds.values()))
            or any(_ort_type_lacks_numpy(o.type) for o in sess.get_outputs())):
        return dict(zip(names, sess.run(names, feeds)))
    ort_feeds = {k: _to_ortvalue(v) for k, v in feeds.items()}
    return dict(zip(names, map(_from_ortvalue, sess.run_with_ort_values(names, ort_feeds))))


def _parse_value(data: bytes, type_proto: onnx.TypeProto | None) -> Any:
    """Decode one input_K.pb according to the graph input's type (tensor, sequence, map or
    optional), as the ONNX backend test runner does.

    Older test data (onnx 1.12) stores bfloat16 inputs as UINT16 tensors holding the bf16
    bits; such an array is reinterpreted as bfloat16 when the graph input says BFLOAT16."""
    kind = type_proto.WhichOneof("value") if type_proto is not None else "tensor_type"
    if kind == "tensor_type":
        p = onnx.TensorProto()
        p.ParseFromString(data)
        a = numpy_helper.to_array(p)
        if (type_proto is not None and type_proto.tensor_type.elem_type == onnx.TensorProto.BFLOAT16
                and p.data_type == onnx.TensorProto.UINT16):
            a = a.view(helper.tensor_dtype_to_np_dtype(onnx.TensorProto.BFLOAT16))
        return a
    if kind == "sequence_type":
        p = onnx.SequenceProto()
        p.ParseFromString(data)
        return numpy_helper.to_list(p)
    if kind == "map_type":
        p = onnx.MapProto()
        p.ParseFromString(data)
        return numpy_helper.to_dict(p)
    if kind == "optional_type":
        p = onnx.OptionalProto()
        p.ParseFromString(data)
        return numpy_helper.to_optional(p)
    raise ValueError(f"unsupported input type {kind}")


def load_test_data_sets(case_dir: Path, model: onnx.ModelProto, sess: ort.InferenceSession
                        ) -> list[tuple[str, dict[str, Any]]]:
    """[(data set name, feeds)] for every test_data_set_N of a backend test case.

    input_K.pb feeds the K-th input that ORT asks for (graph inputs that are not
    initializers, in graph order), which is how onnxruntime's ONNX backend maps them."""
    types = {vi.name: vi.type for vi in model.graph.input}
    inputs = [i.name for i in sess.get_inputs()]
    sets = []
    for d in sorted(case_dir.glob("test_data_set_*"), key=lambda p: int(p.name.rsplit("_", 1)[1])):
        files = sorted(d.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
        feeds = {}
        for k, f in enumerate(files):
            if k >= len(inputs):
                raise ValueError(f"{d.name}: {f.name} has no matching model input")
            feeds[inputs[k]] = _parse_value(f.read_bytes(), types.get(inputs[k]))
        sets.append((d.name, feeds))
    return sets


# --------------------------------------------------------------------------------------------
# Bit-identical comparison of values (ORT outputs, tensors)


def _first_bad_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0]) if mask.ndim else ()


def diff_arrays(a: np.ndarray, b: np.ndarray, where: str) -> str | None:
    """None if a and b are bit-identical (NaN == NaN), else a one-line description of the
    first difference."""
    if a.dtype != b.dtype:
        return f"{where}: dtype {a.dtype} != {b.dtype}"
    if a.shape != b.shape:
        return f"{where}: shape {a.shape} != {b.shape}"
    if a.dtype.kind == "c":  # complex: compare the real and imaginary planes as floats
        return diff_arrays(a.real, b.real, f"{where}.real") or diff_arrays(a.imag, b.imag, f"{where}.imag")
    if a.dtype.kind in "OUS":  # strings (ORT returns object arrays of str)
        bad = a != b
    else:
        try:
            na, nb = np.isnan(a), np.isnan(b)
        except TypeError:  # not a float type: ints, bools
            na = nb = np.zeros(a.shape, dtype=bool)
        uint = np.dtype(f"u{a.dtype.itemsize}")
        # (ascontiguousarray turns 0-d arrays into 1-d ones: reshape back.)
        ab = np.ascontiguousarray(a).view(uint).reshape(a.shape)
        bb = np.ascontiguousarray(b).view(uint).reshape(b.shape)
        # Differ when exactly one side is NaN, or neither is NaN and the bits differ.
        bad = (na != nb) | (~na & ~nb & (ab != bb))
    if not np.any(bad):
        return None
    idx = _first_bad_index(np.asarray(bad))
    n = int(np.count_nonzero(bad))
    return f"{where}: {n} of {a.size} elements differ; first at {list(idx)}: {a[idx]!r} != {b[idx]!r}"


def diff_values(a: Any, b: Any, where: str,
                arrays: Callable[[np.ndarray, np.ndarray, str], str | None] | None = None) -> str | None:
    """Recursive comparison of ORT values: ndarray, list (sequence), dict (map), None (empty
    optional). Arrays are compared by `arrays` (default: bit-identical, diff_arrays)."""
    arrays = arrays or diff_arrays
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"{where}: {type(a).__name__} != {type(b).__name__}"
        return arrays(a, b, where)
    if type(a) is not type(b):
        return f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: sequence length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            if d := diff_values(x, y, f"{where}[{i}]", arrays):
                return d
        return None
    if isinstance(a, dict):
        if sorted(a) != sorted(b):
            return f"{where}: map keys differ"
        for k in sorted(a):
            if d := diff_values(a[k], b[k], f"{where}[{k!r}]", arrays):
                return d
        return None
    if a is None:
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def diff_outputs(a: dict[str, Any], b: dict[str, Any], where: str) -> str | None:
    """Compare two ORT results ({name: value}) including the output names and their order."""
    if list(a) != list(b):
        return f"{where}: output names {list(a)} != {list(b)}"
    for name in a:
        if d := diff_values(a[name], b[name], f"{where} output {name!r}"):
            return d
    return None


# --------------------------------------------------------------------------------------------
# Structural comparison of two models (cheap, independent of ORT)


def _domain(d: str) -> str:
    """'' and 'ai.onnx' name the same default domain."""
    return "" if d == "ai.onnx" else d


def diff_tensors(a: onnx.TensorProto, b: onnx.TensorProto, where: str, *, names: bool = True
                 ) -> str | None:
    """Same name (if names), data_type, dims and decoded bytes. External data must already
    be loaded (onnx.load does that)."""
    if names and a.name != b.name:
        return f"{where}: name {a.name!r} != {b.name!r}"
    if a.data_type != b.data_type:
        return (f"{where}: data_type {onnx.TensorProto.DataType.Name(a.data_type)} != "
                f"{onnx.TensorProto.DataType.Name(b.data_type)}")
    if list(a.dims) != list(b.dims):
        return f"{where}: dims {list(a.dims)} != {list(b.dims)}"
    x, y = numpy_helper.to_array(a), numpy_helper.to_array(b)
    if x.dtype.kind in "OUS":
        return None if np.array_equal(x, y) else f"{where}: string contents differ"
    if x.dtype != y.dtype or x.tobytes() != y.tobytes():  # exact bytes, NaN payloads included
        return diff_arrays(x, y, where) or f"{where}: bytes differ (NaN payloads)"
    return None


def diff_sparse(a: onnx.SparseTensorProto, b: onnx.SparseTensorProto, where: str) -> str | None:
    if list(a.dims) != list(b.dims):
        return f"{where}: dims {list(a.dims)} != {list(b.dims)}"
    return (diff_tensors(a.values, b.values, f"{where}.values")
            or diff_tensors(a.indices, b.indices, f"{where}.indices"))


def _diff_attr_value(x: Any, y: Any, where: str) -> str | None:
    if type(x) is not type(y):
        return f"{where}: {type(x).__name__} != {type(y).__name__}"
    if isinstance(x, list):
        if len(x) != len(y):
            return f"{where}: length {len(x)} != {len(y)}"
        for i, (p, q) in enumerate(zip(x, y)):
            if d := _diff_attr_value(p, q, f"{where}[{i}]"):
                return d
        return None
    if isinstance(x, float):  # bitwise, as float32 is what the proto stores
        return None if struct.pack("<f", x) == struct.pack("<f", y) else f"{where}: {x!r} != {y!r}"
    if isinstance(x, onnx.TensorProto):
        return diff_tensors(x, y, where)
    if isinstance(x, onnx.SparseTensorProto):
        return diff_sparse(x, y, where)
    if isinstance(x, onnx.GraphProto):
        return diff_graphs(x, y, where)
    return None if x == y else f"{where}: {x!r} != {y!r}"  # int, bytes, TypeProto


def diff_attributes(a: Sequence[onnx.AttributeProto], b: Sequence[onnx.AttributeProto],
                    where: str) -> str | None:
    """Same attribute names (order-insensitive) with equal typed values."""
    am, bm = {x.name: x for x in a}, {x.name: x for x in b}
    if sorted(am) != sorted(bm):
        return f"{where}: attributes {sorted(am)} != {sorted(bm)}"
    for name in sorted(am):
        x, y = am[name], bm[name]
        w = f"{where} attribute {name!r}"
        # Old models may leave `type` unset; compare it only when both sides state it.
        if x.type and y.type and x.type != y.type:
            return f"{w}: type {x.type} != {y.type}"
        if x.ref_attr_name != y.ref_attr_name:
            return f"{w}: ref_attr_name {x.ref_attr_name!r} != {y.ref_attr_name!r}"
        if x.ref_attr_name:
            continue
        if d := _diff_attr_value(helper.get_attribute_value(x), helper.get_attribute_value(y), w):
            return d
    return None


def diff_nodes(a: Sequence[onnx.NodeProto], b: Sequence[onnx.NodeProto], where: str) -> str | None:
    """Same nodes in the same order: name, op_type, domain, inputs, outputs, attributes."""
    if len(a) != len(b):
        return f"{where}: {len(a)} nodes != {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        w = f"{where} node #{i} {x.name or x.op_type!r}"
        for field in ("name", "op_type"):
            if getattr(x, field) != getattr(y, field):
                return f"{w}: {field} {getattr(x, field)!r} != {getattr(y, field)!r}"
        if _domain(x.domain) != _domain(y.domain):
            return f"{w}: domain {x.domain!r} != {y.domain!r}"
        if list(x.input) != list(y.input):
            return f"{w}: inputs {list(x.input)} != {list(y.input)}"
        if list(x.output) != list(y.output):
            return f"{w}: outputs {list(x.output)} != {list(y.output)}"
        if d := diff_attributes(x.attribute, y.attribute, w):
            return d
    return None


def _diff_value_infos(a: Sequence[onnx.ValueInfoProto], b: Sequence[onnx.ValueInfoProto],
                      where: str) -> str | None:
    if [v.name for v in a] != [v.name for v in b]:
        return f"{where}: names {[v.name for v in a]} != {[v.name for v in b]}"
    for x, y in zip(a, b):
        if x.type != y.type:
            return (f"{where} {x.name!r}: type "
                    f"{helper.printable_type(x.type)!r} != {helper.printable_type(y.type)!r}")
    return None


def diff_graphs(a: onnx.GraphProto, b: onnx.GraphProto, where: str = "graph") -> str | None:
    """First structural difference between two graphs, or None.

    Compared: inputs and outputs (names in order, full types), initializers (as a set keyed
    by name: data_type, dims, decoded bytes), sparse initializers, nodes in order (recursing
    into subgraph attributes). Not compared: value_info, doc strings, graph name."""
    if d := _diff_value_infos(a.input, b.input, f"{where} inputs"):
        return d
    if d := _diff_value_infos(a.output, b.output, f"{where} outputs"):
        return d
    ai, bi = {t.name: t for t in a.initializer}, {t.name: t for t in b.initializer}
    if sorted(ai) != sorted(bi):
        only_a, only_b = sorted(set(ai) - set(bi)), sorted(set(bi) - set(ai))
        return f"{where}: initializers only in original {only_a[:5]}, only in exported {only_b[:5]}"
    for name in sorted(ai):
        if d := diff_tensors(ai[name], bi[name], f"{where} initializer {name!r}"):
            return d
    if len(a.sparse_initializer) != len(b.sparse_initializer):
        return f"{where}: {len(a.sparse_initializer)} sparse initializers != {len(b.sparse_initializer)}"
    for i, (x, y) in enumerate(zip(a.sparse_initializer, b.sparse_initializer)):
        if d := diff_sparse(x, y, f"{where} sparse initializer #{i}"):
            return d
    return diff_nodes(a.node, b.node, where)


def _opsets(m: onnx.ModelProto | onnx.FunctionProto) -> list[tuple[str, int]]:
    return sorted((_domain(o.domain), o.version) for o in m.opset_import)


def diff_models(a: onnx.ModelProto, b: onnx.ModelProto) -> str | None:
    """First structural difference between an original and an exported model, or None.
    Opset imports are compared as a set; model-local functions in order."""
    if _opsets(a) != _opsets(b):
        return f"opset imports {_opsets(a)} != {_opsets(b)}"
    if d := diff_graphs(a.graph, b.graph):
        return d
    if len(a.functions) != len(b.functions):
        return f"{len(a.functions)} functions != {len(b.functions)}"
    for x, y in zip(a.functions, b.functions):
        w = f"function {x.domain}.{x.name}"
        if (x.name, _domain(x.domain)) != (y.name, _domain(y.domain)):
            return f"{w}: exported as {y.domain}.{y.name}"
        for field in ("input", "output", "attribute"):  # formal names, in order
            if list(getattr(x, field)) != list(getattr(y, field)):
                return f"{w}: {field} {list(getattr(x, field))} != {list(getattr(y, field))}"
        if d := diff_attributes(x.attribute_proto, y.attribute_proto, f"{w} default"):
            return d
        if _opsets(x) != _opsets(y):
            return f"{w}: opset imports {_opsets(x)} != {_opsets(y)}"
        if d := diff_nodes(x.node, y.node, w):
            return d
    return None


# --------------------------------------------------------------------------------------------
# Round trip of one libonnx-testdata case


@dataclasses.dataclass
class CaseResult:
    case: str          # "<suite>/<case>"
    status: str        # "passed", "excluded" (ORT cannot serve as oracle), "failed"
    reason: str = ""   # why excluded / failed (one line)
    seconds: float = 0.0


def normalize_reason(reason: str) -> str:
    """Make exclusion reasons groupable: drop per-case file paths."""
    return re.sub(r"(/[^\s:'\"]+)+/model\.onnx", "<model.onnx>", reason)


def roundtrip_case(binary: Path, case_dir: Path, work: Path) -> CaseResult:
    """_roundtrip_case, with an unexpected exception in the oracle code reported as that
    case's failure (so one odd case cannot hide the results of the others)."""
    try:
        return _roundtrip_case(binary, case_dir, work)
    except Exception as e:  # noqa: BLE001
        where = traceback.extract_tb(e.__traceback__)[-1]
        return CaseResult(f"{case_dir.parent.name}/{case_dir.name}", "failed",
                          f"oracle harness error: {type(e).__name__}: {first_line(e)} "
                          f"({Path(where.filename).name}:{where.lineno})")


def _roundtrip_case(binary: Path, case_dir: Path, work: Path) -> CaseResult:
    """Convert one case with modelconv and check the result against the oracles.

    Order: convert (must exit 0) -> onnx.checker on the export -> structural diff ->
    ORT on original and export with bit-identical outputs on every test_data_set.
    A case is *excluded* only when ORT cannot load or run the ORIGINAL model, or when ORT is
    not deterministic on it (two fresh sessions of the original disagree); the cheap checks
    before ORT still apply to excluded cases."""
    name = f"{case_dir.parent.name}/{case_dir.name}"
    t0 = time.perf_counter()

    def done(status: str, reason: str = "") -> CaseResult:
        return CaseResult(name, status, reason, time.perf_counter() - t0)

    src = case_dir / "model.onnx"
    out = work / "out.onnx"
    work.mkdir(parents=True, exist_ok=True)
    try:
        r = run_modelconv(binary, "convert", "--pipeline", "none", src, "-o", out)
    except subprocess.TimeoutExpired:
        return done("failed", f"convert timed out after {CLI_TIMEOUT:.0f} s")
    if r.returncode != 0:
        return done("failed", f"convert {describe_exit(r)}")

    original = onnx.load(str(src))
    try:
        exported = onnx.load(str(out))
    except Exception as e:  # noqa: BLE001 - any parse error is the finding
        return done("failed", f"onnx cannot load the exported model: {first_line(e)}")
    try:
        onnx.checker.check_model(exported)
    except Exception as e:  # noqa: BLE001
        try:
            onnx.checker.check_model(original)
        except Exception:  # noqa: BLE001 - the original fails too: not our defect
            pass
        else:
            return done("failed", f"onnx.checker rejects the exported model: {first_line(e)}")
    if d := diff_models(original, exported):
        return done("failed", f"structure: {d}")

    try:
        sess_o = ort_session(src)
    except Exception as e:  # noqa: BLE001
        return done("excluded", f"onnxruntime cannot load the original: {first_line(e)}")
    try:
        data_sets = load_test_data_sets(case_dir, original, sess_o)
    except Exception as e:  # noqa: BLE001
        return done("excluded", f"test data unreadable: {first_line(e)}")
    if not data_sets:  # nothing to run: the ORT comparison would be vacuous
        return done("excluded", "no test_data_set_N folder")
    expected = []
    for ds, feeds in data_sets:
        try:
            expected.append(ort_run(sess_o, feeds))
        except Exception as e:  # noqa: BLE001
            return done("excluded", f"onnxruntime cannot run the original: {first_line(e)}")
    try:
        sess_e = ort_session(out)
    except Exception as e:  # noqa: BLE001
        return done("failed", f"onnxruntime cannot load the exported model: {first_line(e)}")
    for (ds, feeds), want in zip(data_sets, expected):
        try:
            got = ort_run(sess_e, feeds)
        except Exception as e:  # noqa: BLE001
            return done("failed", f"onnxruntime cannot run the exported model on {ds}: {first_line(e)}")
        if d := diff_outputs(want, got, ds):
            # Is ORT itself deterministic here? A fresh session of the original decides.
            again = ort_run(ort_session(src), feeds)
            if d2 := diff_outputs(want, again, ds):
                return done("excluded", f"onnxruntime is not deterministic on the original: {d2}")
            return done("failed", f"outputs differ: {d}")
    return done("passed")


def cases_of_suite(suite: str) -> list[Path]:
    """Case folders of one libonnx-testdata suite, sorted by name."""
    root = TESTDATA_ROOT / suite
    return sorted(p for p in root.iterdir() if (p / "model.onnx").is_file())


def run_parallel(fn: Callable[[Path], CaseResult], items: Iterable[Path], jobs: int
                 ) -> list[CaseResult]:
    """Map fn over items with a pool of `jobs` threads (subprocesses and ORT release the GIL);
    results come back in input order."""
    items = list(items)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(fn, items))


# --------------------------------------------------------------------------------------------
# Models built by the tests themselves


def make_conv_model(seed: int = 0) -> onnx.ModelProto:
    """A small float32 CNN, X[1,3,16,16] -> Conv(8,3x3,pad 1)+bias -> Relu -> Conv(4,3x3) -> Y,
    with weights drawn from np.random.default_rng(seed); opset 17."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((8, 3, 3, 3), dtype=np.float32)
    b1 = rng.standard_normal(8, dtype=np.float32)
    w2 = rng.standard_normal((4, 8, 3, 3), dtype=np.float32)
    inits = [numpy_helper.from_array(w1, "conv1.weight"), numpy_helper.from_array(b1, "conv1.bias"),
             numpy_helper.from_array(w2, "conv2.weight")]
    nodes = [
        helper.make_node("Conv", ["X", "conv1.weight", "conv1.bias"], ["h1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["h1"], ["h2"], name="relu1"),
        helper.make_node("Conv", ["h2", "conv2.weight"], ["Y"], name="conv2", kernel_shape=[3, 3]),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [1, 4, 14, 14])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="modelconv-oracle")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def external_locations(model_path: Path) -> list[str]:
    """The external-data `location` of every tensor in the model (graph and subgraphs)."""
    m = onnx.load(str(model_path), load_external_data=False)
    locs = []
    for t in onnx.external_data_helper._get_all_tensors(m):  # noqa: SLF001 - walks subgraphs
        if onnx.external_data_helper.uses_external_data(t):
            locs += [e.value for e in t.external_data if e.key == "location"]
    return locs
