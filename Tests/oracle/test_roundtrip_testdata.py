"""Round trip of every libonnx-testdata model through `modelconv convert`.

One test per suite (not one per case: ~1,070 cases would drown the output). Each case must
convert (exit 0), pass onnx.checker, match the original structurally (ortcompare.diff_models)
and give bit-identical onnxruntime outputs on every test_data_set. A failing suite lists
each failing case with its reason; cases onnxruntime cannot run are excluded with ORT's
reason and tallied in the terminal summary (see conftest.py).
"""

from __future__ import annotations

import shutil
import time

import pytest

from ortcompare import (TESTDATA_ROOT, TESTDATA_SUITES, describe_exit, roundtrip_case,
                        run_modelconv, run_parallel, cases_of_suite)


@pytest.mark.slow
@pytest.mark.parametrize("suite", TESTDATA_SUITES)
def test_roundtrip_testdata(suite, modelconv, tmp_path, jobs, roundtrip_report):
    if not (TESTDATA_ROOT / suite).is_dir():
        pytest.skip(f"{TESTDATA_ROOT / suite} missing (apt-get install libonnx-testdata)")
    cases = cases_of_suite(suite)
    assert cases, f"no cases found under {TESTDATA_ROOT / suite}"

    t0 = time.perf_counter()
    results = run_parallel(lambda c: roundtrip_case(modelconv, c, tmp_path / c.name), cases, jobs)
    roundtrip_report(suite, results, time.perf_counter() - t0)

    # Keep the work folders of failing cases only (for inspection), not ~1,000 passing ones.
    for r in results:
        if r.status != "failed":
            shutil.rmtree(tmp_path / r.case.split("/", 1)[1], ignore_errors=True)

    failed = [r for r in results if r.status == "failed"]
    if failed:
        lines = "\n".join(f"  {r.case}: {r.reason}" for r in failed)
        pytest.fail(f"{len(failed)} of {len(results)} '{suite}' cases fail the round trip "
                    f"(work folders kept under {tmp_path}):\n{lines}", pytrace=False)


# A handful of cases covering subgraphs (If, Loop, Scan), sequences, optionals, strings,
# bfloat16, RNNs, constants and a pytorch export.
DETERMINISM_CASES = (
    "node/test_conv_with_strides_padding",
    "node/test_if_seq",
    "node/test_if_opt",
    "node/test_loop11",
    "node/test_scan9_sum",
    "node/test_lstm_defaults",
    "node/test_constant",
    "node/test_cast_FLOAT_to_STRING",
    "node/test_cast_FLOAT_to_BFLOAT16",
    "pytorch-converted/test_ConvTranspose2d",
    "simple/test_sequence_model1",
)


@pytest.mark.parametrize("case", DETERMINISM_CASES)
def test_convert_is_deterministic(case, modelconv, tmp_path):
    """Converting the same model twice (into different folders, with the default pass
    pipeline) gives byte-identical files."""
    src = TESTDATA_ROOT / case / "model.onnx"
    if not src.is_file():
        pytest.skip(f"{src} missing (apt-get install libonnx-testdata)")
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run / "model.onnx"
        out.parent.mkdir()
        r = run_modelconv(modelconv, "convert", src, "-o", out)
        assert r.returncode == 0, f"convert {describe_exit(r)}"
        outs.append(out.read_bytes())
    assert outs[0] == outs[1], f"{case}: two conversions differ ({len(outs[0])} vs {len(outs[1])} bytes)"
