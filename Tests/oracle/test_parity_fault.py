"""`modelconv parity` finds an injected fault (issue 5), with onnx and onnxruntime as oracles.

The fault: a copy of fixtures/tiny-cnn.onnx with the weights of /block/conv1/Conv scaled by
1.01, made with the onnx package (not with modelconv). Parity must fail with exit 1 and the
per-layer report must name that Conv as the first divergence in both views; the unchanged
copy must pass with exit 0. The output metrics modelconv reports are checked against numpy
over onnxruntime's outputs of the two models on the same samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import ortcompare

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "tiny-cnn.onnx"
FAULTY_CONV = "/block/conv1/Conv"
RTOL, ATOL = 1e-4, 1e-5  # modelconv's documented float32 defaults (docs/parity.md)


def scaled_copy(dst: Path, node_name: str, scale: float) -> Path:
    """fixtures/tiny-cnn.onnx with the weight initializer of Conv `node_name` times `scale`."""
    m = onnx.load(str(FIXTURE))
    node = next(n for n in m.graph.node if n.name == node_name)
    for t in m.graph.initializer:
        if t.name == node.input[1]:
            t.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(t) * np.float32(scale)).astype(np.float32), t.name))
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return dst


def unchanged_copy(dst: Path) -> Path:
    onnx.save(onnx.load(str(FIXTURE)), str(dst))
    return dst


def write_samples(folder: Path, n: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """n samples as folder/sample_<k>.npz (uniform [0,1) float32, numpy default_rng(seed))."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    feeds = []
    for k in range(n):
        x = {"input": rng.random((1, 3, 32, 32), dtype=np.float32)}
        np.savez(folder / f"sample_{k}.npz", **x)
        feeds.append(x)
    return feeds


def parity(modelconv: Path, *args) -> tuple[int, str, str]:
    r = ortcompare.run_modelconv(modelconv, "parity", *args)
    return r.returncode, r.stdout, r.stderr


def test_fault_is_found_in_both_views(modelconv: Path, tmp_path: Path) -> None:
    faulty = scaled_copy(tmp_path / "faulty.onnx", FAULTY_CONV, 1.01)
    feeds = write_samples(tmp_path / "samples", 3)
    code, out, err = parity(modelconv, FIXTURE, faulty, "--inputs", tmp_path / "samples", "--per-layer",
                            "--report", tmp_path / "r.json")
    assert code == 1, f"expected exit 1 (parity fails), got {code}; stderr: {err}"
    assert "FAIL" in out
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["passed"] is False and rep["exit_code"] == 1
    assert rep["first_divergence"]["node"] == FAULTY_CONV
    for view in ("cumulative", "isolated"):
        assert rep["layers"][view]["first_divergence"]["node"] == FAULTY_CONV, view
    # Isolated: only the faulty Conv diverges; every layer before it is identical in both views.
    matches = rep["layers"]["matches"]
    iso_failed = [matches[l["match"]]["reference_node"] for l in rep["layers"]["isolated"]["layers"] if not l["passed"]]
    assert iso_failed == [FAULTY_CONV]
    first = rep["layers"]["cumulative"]["first_divergence"]["match"]
    for l in rep["layers"]["cumulative"]["layers"]:
        if l["match"] < first:
            assert l["metrics"]["max_abs"]["worst"] == 0.0, matches[l["match"]]

    # The output metrics against numpy over onnxruntime's outputs of the same two models.
    ref_sess, cand_sess = ortcompare.ort_session(FIXTURE), ortcompare.ort_session(faulty)
    assert [s["id"] for s in rep["per_sample"]] == [f"sample_{k}" for k in range(3)]
    for k, x in enumerate(feeds):
        r = ortcompare.ort_run(ref_sess, x)["probs"].astype(np.float64)
        c = ortcompare.ort_run(cand_sess, x)["probs"].astype(np.float64)
        got = rep["per_sample"][k]["outputs"]["probs"]
        d = c - r
        # Interpreter and onnxruntime round differently (~1e-7); the fault's error is ~1e-4.
        np.testing.assert_allclose(got["max_abs"], np.max(np.abs(d)), rtol=1e-2)
        np.testing.assert_allclose(got["mean_abs"], np.mean(np.abs(d)), rtol=1e-2)
        np.testing.assert_allclose(got["rmse"], np.sqrt(np.mean(d * d)), rtol=1e-2)
        np.testing.assert_allclose(got["snr_db"], 10 * np.log10(np.sum(r * r) / np.sum(d * d)), atol=0.1)
        np.testing.assert_allclose(got["cosine"], np.dot(r.ravel(), c.ravel()) / np.linalg.norm(r) / np.linalg.norm(c), atol=1e-9)
        assert got["passed"] == bool(np.allclose(c, r, rtol=RTOL, atol=ATOL)) == False  # noqa: E712
        assert got["shape"] == list(r.shape)


def test_unchanged_copy_passes(modelconv: Path, tmp_path: Path) -> None:
    copy = unchanged_copy(tmp_path / "copy.onnx")
    write_samples(tmp_path / "samples", 3)
    code, out, err = parity(modelconv, FIXTURE, copy, "--inputs", tmp_path / "samples", "--per-layer",
                            "--report", tmp_path / "r.json")
    assert code == 0, f"expected exit 0, got {code}; stdout: {out} stderr: {err}"
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["passed"] is True and rep["first_divergence"] is None
    assert all(l["passed"] for v in ("cumulative", "isolated") for l in rep["layers"][v]["layers"])
    assert out.splitlines()[-1].startswith("parity: PASS")


def test_random_samples_and_precision_default(modelconv: Path, tmp_path: Path) -> None:
    """--random N --seed S with --input-shape; the report records the float32 preset."""
    faulty = scaled_copy(tmp_path / "faulty.onnx", FAULTY_CONV, 1.01)
    code, out, err = parity(modelconv, FIXTURE, faulty, "--random", "2", "--seed", "5",
                            "--input-shape", "input=1x3x32x32", "--report", tmp_path / "r.json")
    assert code == 1, err
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["run"]["precision"] == "float32" and rep["run"]["precision_source"] == "detected"
    tol = rep["outputs"][0]["tolerance"]
    assert (tol["rtol"], tol["atol"], tol["max_fraction_outside"]) == (RTOL, ATOL, 0.0)
    assert rep["run"]["samples"] == {"source": "random", "path": None, "count": 2, "seed": "5",
                                     "input_shapes": {"input": [1, 3, 32, 32]}}
    # Without --per-layer the first divergence is the node producing the failing output.
    assert rep["first_divergence"]["view"] == "output"
    assert rep["first_divergence"]["node"] == "/head/Softmax"


def test_policy_loosens_and_golden_replaces_reference(modelconv: Path, tmp_path: Path) -> None:
    """A policy that allows the fault's error passes; golden outputs recorded by onnxruntime
    replace the reference model."""
    faulty = scaled_copy(tmp_path / "faulty.onnx", FAULTY_CONV, 1.01)
    feeds = write_samples(tmp_path / "samples", 2)
    (tmp_path / "policy.yaml").write_text("outputs:\n  probs:\n    rtol: 0.05\n    atol: 1e-3\n")
    code, out, err = parity(modelconv, FIXTURE, faulty, "--inputs", tmp_path / "samples",
                            "--policy", tmp_path / "policy.yaml")
    assert code == 0, out + err

    golden = tmp_path / "golden"
    golden.mkdir()
    sess = ortcompare.ort_session(FIXTURE)
    for k, x in enumerate(feeds):
        np.savez(golden / f"sample_{k}.npz", **ortcompare.ort_run(sess, x))
    copy = unchanged_copy(tmp_path / "copy.onnx")
    code, out, err = parity(modelconv, copy, "--golden", golden, "--inputs", tmp_path / "samples")
    assert code == 0, out + err  # the interpreter reproduces onnxruntime within rtol 1e-4, atol 1e-5
    code, out, err = parity(modelconv, faulty, "--golden", golden, "--inputs", tmp_path / "samples")
    assert code == 1, out + err
