"""Issue 4: `modelconv optimize` (the `default` pipeline) keeps the outputs of every
libonnx-testdata model within rtol 1e-4, atol 1e-5 of the original, in onnxruntime and in
modelconv's interpreter.

One test per suite. For each case: optimize must exit 0; onnxruntime runs the original and
the optimized file on every test_data_set (float outputs within tolerance, NaN where NaN,
other outputs equal); modelconv runs both on test_data_set_0 and the same comparison holds.
A case is excluded from the onnxruntime check when onnxruntime cannot load or run the
original, and from the interpreter check when modelconv cannot run the original (the
conformance suite lists those); exclusions are counted in the failure message only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from ortcompare import (TESTDATA_ROOT, TESTDATA_SUITES, CaseResult, cases_of_suite, describe_exit, diff_arrays,
                        diff_values, first_line, load_test_data_sets, ort_run, ort_session, run_modelconv,
                        run_parallel)

RTOL, ATOL = 1e-4, 1e-5


def close_arrays(a: np.ndarray, b: np.ndarray, where: str) -> str | None:
    """Float arrays within RTOL/ATOL (NaN where NaN); other arrays bit-identical."""
    # ml_dtypes' bfloat16 / float8 / float4 arrays are not kind "f" but convert exactly.
    def floaty(t: np.ndarray) -> bool:
        return t.dtype.kind == "f" or t.dtype.name.startswith(("bfloat16", "float8", "float4"))
    if not (floaty(a) and floaty(b)):
        return diff_arrays(a, b, where)
    if a.shape != b.shape:
        return f"{where}: shape {a.shape} != {b.shape}"
    def wide(t: np.ndarray) -> np.ndarray:
        return (t if t.dtype.kind == "f" else t.astype(np.float32)).astype(np.float64)
    x, y = wide(a), wide(b)
    bad = ~np.isclose(x, y, rtol=RTOL, atol=ATOL, equal_nan=True)
    if bad.any():
        i = np.unravel_index(np.argmax(bad), a.shape)
        return f"{where}: {int(bad.sum())} of {a.size} elements differ, e.g. at {i}: {x[i]} vs {y[i]}"
    return None


def diff_close(a: Any, b: Any, where: str) -> str | None:
    """ORT or interpreter values (arrays, sequences, maps) equal up to the float tolerance."""
    return diff_values(a, b, where, close_arrays)


def optimize_case(binary: Path, case_dir: Path, work: Path) -> CaseResult:
    name = f"{case_dir.parent.name}/{case_dir.name}"
    src, out = case_dir / "model.onnx", work / "optimized.onnx"
    work.mkdir(parents=True, exist_ok=True)
    r = run_modelconv(binary, "optimize", src, "-o", out)
    if r.returncode != 0:
        return CaseResult(name, "failed", f"optimize {describe_exit(r)}")
    notes = []
    # onnxruntime on both files.
    try:
        sess_o = ort_session(src)
        data_sets = load_test_data_sets(case_dir, onnx.load(str(src)), sess_o)
        expected = [ort_run(sess_o, feeds) for _, feeds in data_sets]
    except Exception as e:  # noqa: BLE001 - ORT cannot serve as the oracle here
        notes.append(f"onnxruntime: {first_line(e)}")
        data_sets = []
    if data_sets:
        try:
            sess_e = ort_session(out)
        except Exception as e:  # noqa: BLE001
            return CaseResult(name, "failed", f"onnxruntime cannot load the optimized model: {first_line(e)}")
        for (ds, feeds), want in zip(data_sets, expected):
            try:
                got = ort_run(sess_e, feeds)
            except Exception as e:  # noqa: BLE001
                return CaseResult(name, "failed", f"onnxruntime cannot run the optimized model on {ds}: {first_line(e)}")
            for k in want:
                if d := diff_close(want[k], got.get(k), f"onnxruntime {ds} output {k!r}"):
                    return CaseResult(name, "failed", d)
    # The interpreter on both files.
    inputs = case_dir / "test_data_set_0"
    if inputs.is_dir():
        a, b = work / "original.npz", work / "optimized.npz"
        ra = run_modelconv(binary, "run", src, "--inputs", inputs, "-o", a)
        if ra.returncode != 0:
            notes.append("interpreter: cannot run the original")
        else:
            rb = run_modelconv(binary, "run", out, "--inputs", inputs, "-o", b)
            if rb.returncode != 0:
                return CaseResult(name, "failed", f"run on the optimized model {describe_exit(rb)}")
            with np.load(a) as want, np.load(b) as got:
                for k in want.files:
                    if k not in got.files:
                        return CaseResult(name, "failed", f"interpreter: output {k!r} missing after optimize")
                    if d := diff_close(want[k], got[k], f"interpreter output {k!r}"):
                        return CaseResult(name, "failed", d)
    if len(notes) == 2 or (notes and not inputs.is_dir()):
        return CaseResult(name, "excluded", "; ".join(notes))
    return CaseResult(name, "passed", "; ".join(notes))


@pytest.mark.slow
@pytest.mark.parametrize("suite", TESTDATA_SUITES)
def test_optimize_keeps_outputs(suite, modelconv, tmp_path, jobs):
    if not (TESTDATA_ROOT / suite).is_dir():
        pytest.skip(f"{TESTDATA_ROOT / suite} missing (apt-get install libonnx-testdata)")
    cases = cases_of_suite(suite)
    assert cases, f"no cases found under {TESTDATA_ROOT / suite}"

    def one(c: Path) -> CaseResult:
        try:
            return optimize_case(modelconv, c, tmp_path / c.name)
        except Exception as e:  # noqa: BLE001 - one odd case must not hide the others
            return CaseResult(f"{suite}/{c.name}", "failed", f"oracle harness error: {type(e).__name__}: {first_line(e)}")

    results = run_parallel(one, cases, jobs)
    failed = [r for r in results if r.status == "failed"]
    excluded = [r for r in results if r.status == "excluded"]
    if failed:
        lines = "\n".join(f"  {r.case}: {r.reason}" for r in failed)
        pytest.fail(f"{len(failed)} of {len(results)} '{suite}' cases change their outputs under optimize "
                    f"({len(excluded)} excluded: neither oracle runs the original):\n{lines}", pytrace=False)
