"""`modelconv run` on real models against onnxruntime (the oracle).

Issue 3's acceptance: PP-OCRv4 det (1x3x640x640) and ppocr mobile cls, torchvision ResNet-50
and MobileNetV2 (seeded exports from scripts/export-torchvision) match onnxruntime within
rtol 1e-4, atol 1e-5 on seeded inputs; so do the other torchvision exports (EfficientNet-B0,
ConvNeXt-T, Swin-T). Models that are not in the cache are skipped with the command that
fetches or makes them. The committed fixtures always run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest

import ortcompare

RTOL, ATOL = 1e-4, 1e-5
REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("MODELCONV_CACHE", Path.home() / ".cache" / "modelconv"))

# (id, path, input shape for the first input, how to get it)
MODELS = [
    pytest.param("tiny-cnn", REPO / "fixtures" / "tiny-cnn.onnx", (1, 3, 32, 32), "committed", id="tiny-cnn"),
    pytest.param("tiny-mobilenet", REPO / "fixtures" / "tiny-mobilenet.onnx", None, "committed", id="tiny-mobilenet"),
    pytest.param("ppocr-det", CACHE / "models" / "ch_PP-OCRv4_det_infer.onnx", (1, 3, 640, 640), "scripts/fetch-models", id="ppocr-det"),
    pytest.param("ppocr-cls", CACHE / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx", (1, 3, 48, 192), "scripts/fetch-models", id="ppocr-cls"),
    # The export calibrates BatchNorm statistics and damps ResNet's residual branches
    # (scripts/export_torchvision.py): logits within +-1, modelconv vs onnxruntime ~2e-6.
    pytest.param("resnet50", CACHE / "models" / "torchvision" / "resnet50.onnx", (1, 3, 224, 224), "scripts/export-torchvision", id="resnet50"),
    pytest.param("mobilenet_v2", CACHE / "models" / "torchvision" / "mobilenet_v2.onnx", (1, 3, 224, 224), "scripts/export-torchvision", id="mobilenet_v2"),
    pytest.param("efficientnet_b0", CACHE / "models" / "torchvision" / "efficientnet_b0.onnx", (1, 3, 224, 224), "scripts/export-torchvision", id="efficientnet_b0"),
    pytest.param("convnext_tiny", CACHE / "models" / "torchvision" / "convnext_tiny.onnx", (1, 3, 224, 224), "scripts/export-torchvision", id="convnext_tiny"),
    pytest.param("swin_t", CACHE / "models" / "torchvision" / "swin_t.onnx", (1, 3, 224, 224), "scripts/export-torchvision", id="swin_t"),
]


def seeded_inputs(model: onnx.ModelProto, shape: tuple[int, ...] | None) -> dict[str, np.ndarray]:
    """Uniform [0, 1) float32 inputs from numpy's default_rng(0), one per graph input."""
    rng = np.random.default_rng(0)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for k, vi in enumerate(i for i in model.graph.input if i.name not in inits):
        dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        if k == 0 and shape is not None:
            dims = list(shape)
        assert all(d is not None for d in dims), f"{vi.name}: dynamic dims {dims}, give a shape"
        feeds[vi.name] = rng.random(dims, dtype=np.float32)
    return feeds


@pytest.mark.slow
@pytest.mark.parametrize("name,path,shape,source", MODELS)
def test_run_matches_onnxruntime(modelconv: Path, tmp_path: Path, name: str, path: Path,
                                 shape: tuple[int, ...] | None, source: str) -> None:
    if not path.is_file():
        pytest.skip(f"{path} missing: run {source}")
    model = onnx.load(str(path), load_external_data=False)
    feeds = seeded_inputs(model, shape)
    np.savez(tmp_path / "in.npz", **feeds)
    r = ortcompare.run_modelconv(modelconv, "run", path, "--inputs", tmp_path / "in.npz",
                                 "-o", tmp_path / "out.npz", timeout=900)
    assert r.returncode == 0, f"modelconv run failed: {ortcompare.describe_exit(r)}"
    expected = ortcompare.ort_run(ortcompare.ort_session(path), feeds)
    got = np.load(tmp_path / "out.npz")
    for out_name, want in expected.items():
        assert out_name in got, f"output {out_name} missing from modelconv's npz"
        have = got[out_name]
        assert have.dtype == want.dtype and have.shape == want.shape, \
            f"{out_name}: {have.dtype}{have.shape} vs onnxruntime {want.dtype}{want.shape}"
        bad = ~np.isclose(have, want, rtol=RTOL, atol=ATOL)
        if bad.any():
            i = np.unravel_index(np.argmax(np.abs(have - want) - ATOL - RTOL * np.abs(want)), want.shape)
            pytest.fail(f"{name}/{out_name}: {int(bad.sum())} of {want.size} elements differ beyond rtol {RTOL}, "
                        f"atol {ATOL}; worst at {i}: modelconv {have[i]!r}, onnxruntime {want[i]!r}")
