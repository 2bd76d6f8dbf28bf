"""Round trip of real models: the PaddleOCR models from scripts/fetch-models, and a small CNN
saved with external data by the test itself.

Inputs are seeded (np.random.default_rng(0), float32 uniform in [0, 1)); onnxruntime's
outputs for the original and the exported model must be bit-identical (see ortcompare).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest

from ortcompare import (MODELS_DIR, describe_exit, diff_models, diff_outputs, external_locations,
                        make_conv_model, ort_run, ort_session, run_modelconv)

# File name in ${MODELCONV_CACHE}/models -> input shape (NCHW) the model is used with.
REAL_MODELS = {
    "ch_PP-OCRv4_det_infer.onnx": (1, 3, 640, 640),
    "ch_ppocr_mobile_v2.0_cls_infer.onnx": (1, 3, 48, 192),
    "ch_PP-OCRv4_rec_infer.onnx": (1, 3, 48, 320),
}


def seeded_input(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).random(shape, dtype=np.float32)


def real_model(name: str) -> Path:
    p = MODELS_DIR / name
    if not p.is_file():
        pytest.skip(f"{p} missing: run scripts/fetch-models")
    return p


def convert(modelconv: Path, src: Path, out: Path, *flags: str) -> None:
    """modelconv convert SRC -o OUT [flags]; creates OUT's folder; asserts exit 0."""
    out.parent.mkdir(parents=True, exist_ok=True)
    r = run_modelconv(modelconv, "convert", "--pipeline", "none", src, "-o", out, *flags)
    assert r.returncode == 0, f"convert {src.name} {' '.join(flags)}: {describe_exit(r)}"


def assert_same_model(src: Path, out: Path) -> None:
    """onnx.checker accepts the export, and its structure equals the original's."""
    exported = onnx.load(str(out))
    onnx.checker.check_model(exported)
    d = diff_models(onnx.load(str(src)), exported)
    assert d is None, f"{out.name}: {d}"


def assert_same_outputs(src: Path, out: Path, feeds: dict[str, np.ndarray]) -> None:
    want = ort_run(ort_session(src), feeds)
    got = ort_run(ort_session(out), feeds)
    d = diff_outputs(want, got, "seeded input")
    assert d is None, f"{out.name}: {d}"


@pytest.mark.parametrize("name", sorted(REAL_MODELS))
def test_real_model_roundtrip(name, modelconv, tmp_path):
    src = real_model(name)
    out = tmp_path / "out" / name
    convert(modelconv, src, out)
    assert_same_model(src, out)
    input_name = ort_session(src).get_inputs()[0].name
    assert_same_outputs(src, out, {input_name: seeded_input(REAL_MODELS[name])})


@pytest.mark.parametrize("name", sorted(REAL_MODELS))
def test_real_model_convert_is_deterministic(name, modelconv, tmp_path):
    src = real_model(name)
    a, b = tmp_path / "a" / name, tmp_path / "b" / name
    convert(modelconv, src, a)
    convert(modelconv, src, b)
    assert a.read_bytes() == b.read_bytes(), f"{name}: two conversions differ"


# --------------------------------------------------------------------------------------------
# A model whose weights live in an external file


@pytest.fixture
def external_model(tmp_path) -> Path:
    """in/model.onnx with every initializer in in/weights.bin (one file, size_threshold=0)."""
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "model.onnx"
    onnx.save_model(make_conv_model(), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    # Precondition: the original really uses external data for its weights.
    assert set(external_locations(path)) == {"weights.bin"}
    return path


def conv_feeds() -> dict[str, np.ndarray]:
    return {"X": seeded_input((1, 3, 16, 16))}


def test_external_data_default_output_is_self_contained(external_model, modelconv, tmp_path):
    """Without --external-data the output holds every tensor inline, so it loads on its own
    from a folder that has no weights file."""
    out = tmp_path / "out" / "model.onnx"
    convert(modelconv, external_model, out)
    assert external_locations(out) == [], "default output still references external data"
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]
    assert_same_model(external_model, out)
    assert_same_outputs(external_model, out, conv_feeds())


def test_external_data_flag_writes_weights_beside_model(external_model, modelconv, tmp_path):
    """With --external-data the output references external data in plain file names next to
    it (no folder parts, nothing absolute), and onnxruntime loads it from there."""
    out = tmp_path / "out" / "model.onnx"
    convert(modelconv, external_model, out, "--external-data")
    locations = external_locations(out)
    assert locations, "--external-data output has no external tensors"
    for loc in set(locations):
        assert not os.path.isabs(loc) and Path(loc).name == loc, f"location {loc!r} is not a bare file name"
        assert (out.parent / loc).is_file(), f"{loc} is not beside {out.name}"
    assert_same_model(external_model, out)
    assert_same_outputs(external_model, out, conv_feeds())


@pytest.mark.parametrize("flags", [(), ("--external-data",)], ids=["inline", "external-data"])
def test_external_data_convert_is_deterministic(external_model, modelconv, tmp_path, flags):
    """Two conversions into different folders give byte-identical folders."""
    trees = []
    for run in ("a", "b"):
        out = tmp_path / run / "model.onnx"
        convert(modelconv, external_model, out, *flags)
        trees.append({p.name: p.read_bytes() for p in sorted(out.parent.iterdir())})
    assert trees[0].keys() == trees[1].keys(), f"file sets differ: {list(trees[0])} vs {list(trees[1])}"
    for name in trees[0]:
        assert trees[0][name] == trees[1][name], f"{name} differs between two conversions"
