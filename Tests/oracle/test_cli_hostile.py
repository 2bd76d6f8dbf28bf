"""Hostile input at the CLI level (complements the Swift unit tests).

For every case `modelconv convert IN -o OUT` must
  * exit 2,
  * print exactly one non-empty line on stderr that names the file, tensor or node at fault,
  * leave no OUT and no temporary file: OUT's folder (empty before) is empty afterwards.

Each hostile model is a small valid model with one defect, built here with onnx.helper or
raw protobuf bytes (onnx.save refuses some of them). The control tests convert the same
models without the defect and must succeed, so a CLI that rejects everything fails them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ortcompare import MODELS_DIR, describe_exit, make_conv_model, run_modelconv

# The weight tensor of the base model: float32 [2, 3], 24 bytes.
W_DIMS = [2, 3]
W_BYTES = np.arange(6, dtype="<f4").tobytes()


def add_model(w: TensorProto) -> onnx.ModelProto:
    """y = Add(x, w) with x, y float32 [2, 3]; w is the initializer given."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", w.name], ["y"], name="add_w")], "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, W_DIMS)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, W_DIMS)],
        initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def external_tensor(name: str, location: str, *, offset: int | None = None,
                    length: int | None = None, dims: list[int] = W_DIMS) -> TensorProto:
    """A float32 tensor whose data is external at `location` (relative to the model's folder)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims,
                    data_location=TensorProto.EXTERNAL)
    entries = {"location": location}
    if offset is not None:
        entries["offset"] = str(offset)
    if length is not None:
        entries["length"] = str(length)
    for k, v in entries.items():
        t.external_data.add(key=k, value=v)
    return t


def raw_tensor(name: str, raw: bytes, dims: list[int]) -> TensorProto:
    return TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims, raw_data=raw)


def write(path: Path, model: onnx.ModelProto | bytes) -> Path:
    """Write serialized bytes directly (onnx.save would validate or rewrite some cases)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


# --------------------------------------------------------------------------------------------
# Raw protobuf encoding, for nesting deeper than the python protobuf runtime allows (its
# decoder stops at depth 100, and onnx.helper round-trips subgraphs through it).


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def nested_if_model(depth: int) -> bytes:
    """A model whose graph holds If nodes nested `depth` deep through then_branch. Every If
    is named if_depth_<k> (k = 1 outermost); the innermost then_branch and every else_branch
    is a one-node Identity graph over the outer-scope value x."""
    def leaf(k: int) -> onnx.GraphProto:
        return helper.make_graph([helper.make_node("Identity", ["x"], [f"y{k}"], name=f"leaf_{k}")],
                                 f"leaf_{k}", [], [helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, [1])])

    # Field numbers from onnx.proto: GraphProto.node = 1, NodeProto.attribute = 5,
    # AttributeProto.g = 6, ModelProto.graph = 7.
    graph = leaf(depth + 1).SerializeToString()
    for k in range(depth, 0, -1):
        then_attr = helper.make_attribute("then_branch", onnx.GraphProto()).SerializeToString()
        # make_attribute writes an empty `g`; protobuf merges repeated occurrences of a
        # message field, so appending the subgraph's bytes as a second `g` sets it.
        then_attr += _field(6, graph)
        node = helper.make_node("If", ["c"], [f"y{k}"], name=f"if_depth_{k}",
                                else_branch=leaf(k)).SerializeToString() + _field(5, then_attr)
        inputs = ([helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                   helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])] if k == 1 else [])
        shell = helper.make_graph([], f"g{k}", inputs,
                                  [helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, [1])])
        graph = shell.SerializeToString() + _field(1, node)
    model = helper.make_model(helper.make_graph([], "x", [], []),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.ClearField("graph")
    return model.SerializeToString() + _field(7, graph)


# --------------------------------------------------------------------------------------------
# The cases


@dataclasses.dataclass
class Hostile:
    build: Callable[[Path], Path]  # (work folder) -> model path; may create files around it
    names: tuple[str, ...]         # stderr must contain at least one of these


def _truncated_real(d: Path) -> Path:
    src = MODELS_DIR / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    if not src.is_file():
        pytest.skip(f"{src} missing: run scripts/fetch-models")
    data = src.read_bytes()
    return write(d / "in" / "truncated.onnx", data[: len(data) // 2])


def _truncated_conv(d: Path) -> Path:
    data = make_conv_model().SerializeToString()
    return write(d / "in" / "truncated_cnn.onnx", data[: len(data) // 2])


def _random_bytes(d: Path) -> Path:
    return write(d / "in" / "random.onnx", np.random.default_rng(0).bytes(4096))


def _ext(name: str, location: str, **kw) -> Callable[[Path], Path]:
    """External-data case: in/model.onnx, with in/w.bin (valid data) and ../outside.bin
    (valid data outside the model folder) present so that only the location is at fault."""
    def build(d: Path) -> Path:
        (d / "in").mkdir(parents=True)
        (d / "in" / "w.bin").write_bytes(W_BYTES)
        (d / "outside.bin").write_bytes(W_BYTES)
        return write(d / "in" / "model.onnx", add_model(external_tensor(name, location, **kw)))
    return build


def _ext_symlink_file(d: Path) -> Path:
    path = _ext("w_symlink", "link.bin")(d)
    (d / "in" / "link.bin").symlink_to(d / "outside.bin")
    return path


def _ext_symlink_dir(d: Path) -> Path:
    path = _ext("w_symlink_dir", "linkdir/w.bin")(d)
    (d / "elsewhere").mkdir()
    (d / "elsewhere" / "w.bin").write_bytes(W_BYTES)
    (d / "in" / "linkdir").symlink_to(d / "elsewhere", target_is_directory=True)
    return path


def _ext_sub_dotdot(d: Path) -> Path:
    path = _ext("w_sub_dotdot", "sub/../../outside.bin")(d)
    (d / "in" / "sub").mkdir()
    return path


def cycle_model() -> onnx.ModelProto:
    """node_A consumes node_B's output and node_B consumes node_A's."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "b_out"], ["a_out"], name="node_A"),
         helper.make_node("Relu", ["a_out"], ["b_out"], name="node_B")], "cycle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, W_DIMS)],
        [helper.make_tensor_value_info("a_out", TensorProto.FLOAT, W_DIMS)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


HOSTILE = {
    "truncated-real-model": Hostile(_truncated_real, ("truncated.onnx",)),
    "truncated-small-cnn": Hostile(_truncated_conv, ("truncated_cnn.onnx",)),
    "random-bytes": Hostile(_random_bytes, ("random.onnx",)),
    "external-absolute": Hostile(_ext("w_abs", "/etc/passwd"), ("w_abs",)),
    "external-dotdot": Hostile(_ext("w_dotdot", "../outside.bin"), ("w_dotdot",)),
    "external-sub-dotdot": Hostile(_ext_sub_dotdot, ("w_sub_dotdot",)),
    "external-symlink-file": Hostile(_ext_symlink_file, ("w_symlink",)),
    "external-symlink-dir": Hostile(_ext_symlink_dir, ("w_symlink_dir",)),
    "external-missing-file": Hostile(_ext("w_missing", "missing.bin"), ("w_missing",)),
    "external-past-end": Hostile(_ext("w_past_end", "w.bin", offset=16, length=24), ("w_past_end",)),
    "raw-size-mismatch": Hostile(
        lambda d: write(d / "in" / "model.onnx", add_model(raw_tensor("w_bad_raw", W_BYTES[:20], W_DIMS))),
        ("w_bad_raw",)),
    "dims-overflow-int64": Hostile(
        lambda d: write(d / "in" / "model.onnx", add_model(raw_tensor("w_overflow", W_BYTES, [2**62, 8]))),
        ("w_overflow",)),
    "graph-cycle": Hostile(lambda d: write(d / "in" / "cycle.onnx", cycle_model()),
                           ("node_A", "node_B")),
    "if-nested-200-deep": Hostile(lambda d: write(d / "in" / "deep.onnx", nested_if_model(200)),
                                  ("if_depth_",)),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_convert_rejects_hostile_input(case, modelconv, tmp_path):
    spec = HOSTILE[case]
    model = spec.build(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "model.onnx"

    r = run_modelconv(modelconv, "convert", model, "-o", out)

    assert r.returncode == 2, f"{case}: expected exit 2, {describe_exit(r)}"
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"{case}: stderr must be one non-empty line, got {r.stderr!r}"
    assert any(n in lines[0] for n in spec.names), f"{case}: stderr does not name {spec.names}: {lines[0]!r}"
    assert not out.exists(), f"{case}: {out.name} was written despite the error"
    left = sorted(p.name for p in out_dir.iterdir())
    assert left == [], f"{case}: files left in the output folder: {left}"


def test_hostile_builders_against_onnx():
    """Oracle checks of the builders above, with the onnx package: the byte-level cases do
    not parse, the cycle fails onnx.checker, and the raw nested-If encoding is a valid model
    (checked at a depth the python protobuf runtime can still decode)."""
    data = make_conv_model().SerializeToString()
    for bad in (data[: len(data) // 2], np.random.default_rng(0).bytes(4096)):
        with pytest.raises(Exception):
            onnx.load_model_from_string(bad)
    with pytest.raises(onnx.checker.ValidationError, match="topologically sorted"):
        onnx.checker.check_model(cycle_model())
    shallow = onnx.load_model_from_string(nested_if_model(3))
    onnx.checker.check_model(shallow)
    g, names = shallow.graph, []
    while g.node and g.node[0].op_type == "If":
        names.append(g.node[0].name)
        g = next(a.g for a in g.node[0].attribute if a.name == "then_branch")
    assert names == ["if_depth_1", "if_depth_2", "if_depth_3"]


# --------------------------------------------------------------------------------------------
# Controls: the same models without their defect convert fine.

CONTROLS = {
    "raw-initializer": lambda d: write(d / "in" / "model.onnx", add_model(raw_tensor("w_ok", W_BYTES, W_DIMS))),
    "external-in-folder": _ext("w_ok", "w.bin"),
    "external-offset-length": _ext("w_ok", "w.bin", offset=0, length=24),
    "if-nested-3-deep": lambda d: write(d / "in" / "deep.onnx", nested_if_model(3)),
}


@pytest.mark.parametrize("case", sorted(CONTROLS))
def test_convert_accepts_control(case, modelconv, tmp_path):
    model = CONTROLS[case](tmp_path)
    out = tmp_path / "out" / "model.onnx"
    out.parent.mkdir()
    r = run_modelconv(modelconv, "convert", model, "-o", out)
    assert r.returncode == 0, f"{case}: {describe_exit(r)}"
    onnx.checker.check_model(onnx.load(str(out)))
