"""`modelconv check` at the CLI level.

Exit codes, as `modelconv check --help` states them: 0 = valid; 1 = problems found (one
line per problem, naming the node); 2 = unreadable input (one error line on stderr).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ortcompare import describe_exit, make_conv_model, run_modelconv


def undefined_input_model() -> onnx.ModelProto:
    """node_uses_ghost reads `ghost`, which no graph input, initializer or node defines."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["h"], name="relu_ok"),
         helper.make_node("Add", ["h", "ghost"], ["y"], name="node_uses_ghost")], "undefined_input",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_check_accepts_valid_model(modelconv, tmp_path):
    path = tmp_path / "cnn.onnx"
    path.write_bytes(make_conv_model().SerializeToString())
    r = run_modelconv(modelconv, "check", path)
    assert r.returncode == 0, f"check on a valid model: {describe_exit(r)}"


def test_check_reports_undefined_node_input(modelconv, tmp_path):
    model = undefined_input_model()
    # Oracle: onnx's own checker rejects the model.
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model)
    path = tmp_path / "undefined_input.onnx"
    path.write_bytes(model.SerializeToString())
    r = run_modelconv(modelconv, "check", path)
    assert r.returncode == 1, f"check on a model with an undefined input: {describe_exit(r)}"
    assert "node_uses_ghost" in r.stdout + r.stderr, \
        f"output does not name the node: stdout={r.stdout!r} stderr={r.stderr!r}"


def test_check_rejects_unreadable_input(modelconv, tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(1).bytes(1024))
    r = run_modelconv(modelconv, "check", path)
    assert r.returncode == 2, f"check on random bytes: {describe_exit(r)}"
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "noise.onnx" in lines[0], f"stderr: {r.stderr!r}"


def test_check_missing_file(modelconv, tmp_path):
    path: Path = tmp_path / "does-not-exist.onnx"
    r = run_modelconv(modelconv, "check", path)
    assert r.returncode == 2, f"check on a missing file: {describe_exit(r)}"
    assert "does-not-exist.onnx" in r.stderr, f"stderr: {r.stderr!r}"
