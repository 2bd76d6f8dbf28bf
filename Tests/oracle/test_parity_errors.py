"""`modelconv parity` on bad input: one error line on stderr, exit 2, and no report file
(nor a temporary one) left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from test_parity_fault import FIXTURE, parity, unchanged_copy, write_samples

REPORTS = ("r.json", "r.xml", "r.html")


def report_args(d: Path) -> list:
    return ["--report", d / "out" / "r.json", "--junit", d / "out" / "r.xml", "--html", d / "out" / "r.html"]


def assert_refused(d: Path, code: int, out: str, err: str, *mentions: str) -> None:
    assert code == 2, f"expected exit 2, got {code}; stdout: {out!r} stderr: {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith("modelconv: error: ")
    for m in mentions:
        assert m in lines[0], f"{m!r} not in {lines[0]!r}"
    assert list((d / "out").iterdir()) == [], "files left in the report folder"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    write_samples(tmp_path / "samples", 2)
    unchanged_copy(tmp_path / "copy.onnx")
    return tmp_path


@pytest.mark.parametrize("text,key", [
    ("outputs:\n  probs:\n    rtoll: 1e-3\n", "outputs.probs.rtoll"),
    ("defaults:\n  atol: lots\n", "defaults.atol"),
    ("precision: float8\n", "precision"),
    ("tolerance:\n  rtol: 1\n", "tolerance"),
])
def test_malformed_policy_names_the_key(modelconv: Path, workdir: Path, text: str, key: str) -> None:
    (workdir / "policy.yaml").write_text(text)
    code, out, err = parity(modelconv, FIXTURE, workdir / "copy.onnx", "--inputs", workdir / "samples",
                            "--policy", workdir / "policy.yaml", *report_args(workdir))
    assert_refused(workdir, code, out, err, f"'{key}'", "policy.yaml")


def test_missing_inputs(modelconv: Path, workdir: Path) -> None:
    code, out, err = parity(modelconv, FIXTURE, workdir / "copy.onnx", "--inputs", workdir / "nowhere",
                            *report_args(workdir))
    assert_refused(workdir, code, out, err, "nowhere")
    # A sample without the model's input.
    (workdir / "bad").mkdir()
    np.savez(workdir / "bad" / "s0.npz", a=np.zeros((1, 3, 32, 32), np.float32), b=np.zeros(2, np.float32))
    code, out, err = parity(modelconv, FIXTURE, workdir / "copy.onnx", "--inputs", workdir / "bad",
                            *report_args(workdir))
    assert_refused(workdir, code, out, err, "'a' is not an input")
    # No samples at all.
    code, out, err = parity(modelconv, FIXTURE, workdir / "copy.onnx", *report_args(workdir))
    assert_refused(workdir, code, out, err, "--inputs")


def test_output_shape_mismatch(modelconv: Path, workdir: Path) -> None:
    """A candidate whose `probs` is [10] where the reference's is [1,10]."""
    m = onnx.load(str(FIXTURE))
    softmax = next(n for n in m.graph.node if n.op_type == "Softmax")
    softmax.output[0] = "probs_2d"
    m.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "flat_shape"))
    m.graph.node.append(helper.make_node("Reshape", ["probs_2d", "flat_shape"], ["probs"], name="flatten_probs"))
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, ["M"]))
    onnx.checker.check_model(m)
    onnx.save(m, str(workdir / "flat.onnx"))
    code, out, err = parity(modelconv, FIXTURE, workdir / "flat.onnx", "--inputs", workdir / "samples",
                            *report_args(workdir))
    assert_refused(workdir, code, out, err, "'probs'", "[1,10]", "[10]")


@pytest.mark.parametrize("args,mention", [
    (["--golden", "g.npz", "--inputs", "samples", "--per-layer"], "--per-layer"),
    (["--random", "2", "--inputs", "samples"], "--inputs"),
    (["--random", "2", "--precision", "float64"], "--precision"),
    (["--random", "2", "--shard", "3/3"], "--shard"),
    (["--random", "2"], "input="),  # tiny-cnn's batch dim is symbolic: --input-shape is needed
])
def test_usage_errors(modelconv: Path, workdir: Path, args: list, mention: str) -> None:
    args = [workdir / a if a in ("g.npz", "samples") else a for a in args]
    models = [workdir / "copy.onnx"] if "--golden" in map(str, args) else [FIXTURE, workdir / "copy.onnx"]
    code, out, err = parity(modelconv, *models, *args, *report_args(workdir))
    assert_refused(workdir, code, out, err, mention)
