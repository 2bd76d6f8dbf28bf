"""Issue 5's last acceptance line: parity of an optimized model against its original passes
under the default float32 policy on the real models.

`modelconv optimize` writes the optimized model; `modelconv parity` must exit 0 on seeded
samples. The models are those of test_run_real_models.py (committed fixtures always; the
cached real models when scripts/fetch-models and scripts/export-torchvision have made them).
onnxruntime confirms independently that the two files agree on the same samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

import ortcompare
from test_run_real_models import MODELS


@pytest.mark.slow
@pytest.mark.parametrize("name,path,shape,source", MODELS)
def test_optimized_model_keeps_parity(modelconv: Path, tmp_path: Path, name: str, path: Path,
                                      shape: tuple[int, ...] | None, source: str) -> None:
    if not path.is_file():
        pytest.skip(f"{path} missing: run {source}")
    optimized = tmp_path / "optimized.onnx"
    r = ortcompare.run_modelconv(modelconv, "optimize", path, "-o", optimized, timeout=900)
    assert r.returncode == 0, f"optimize failed: {ortcompare.describe_exit(r)}"

    model = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    first = next(i for i in model.graph.input if i.name not in inits)
    shape_args = [] if shape is None else ["--input-shape", f"{first.name}={'x'.join(map(str, shape))}"]
    r = ortcompare.run_modelconv(modelconv, "parity", path, optimized, "--random", "1", "--seed", "0",
                                 *shape_args, "--report", tmp_path / "parity.json", timeout=1800)
    assert r.returncode == 0, f"parity {ortcompare.describe_exit(r)}\n{r.stdout}"
    report = json.loads((tmp_path / "parity.json").read_text())
    assert report["passed"] and report["run"]["precision"] == "float32"

    # The oracle: onnxruntime on both files, same seeded input. ORT optimizes each file its
    # own way, so its two results differ by float32 rounding at the output's scale (seen:
    # 3e-5 on a resnet50 logit, largest logit ~15): atol is 1e-5 per unit of max |output|.
    rng = np.random.default_rng(0)
    dims = list(shape) if shape is not None else [d.dim_value for d in first.type.tensor_type.shape.dim]
    x = {first.name: rng.random(dims, dtype=np.float32)}
    a = ortcompare.ort_run(ortcompare.ort_session(path), x)
    b = ortcompare.ort_run(ortcompare.ort_session(optimized), x)
    for k in a:
        scale = max(1.0, float(np.max(np.abs(a[k]))))
        np.testing.assert_allclose(b[k], a[k], rtol=1e-4, atol=1e-5 * scale, err_msg=f"{name}/{k} (onnxruntime)")
