"""pytest configuration for modelconv's oracle tests (Tests/oracle).

Run through scripts/oracle-tests, or directly with the venv from scripts/lib/python-env.sh:

    MODELCONV=.build/debug/modelconv $PY -m pytest Tests/oracle

Environment:
    MODELCONV               binary under test (default .build/debug/modelconv, relative to
                            the repository root); every test skips when it is missing
    MODELCONV_CACHE         cache root holding models/ from scripts/fetch-models
    MODELCONV_TESTDATA      libonnx-testdata's data folder (default /usr/share/libonnx-testdata/data)
    MODELCONV_ORACLE_JOBS   round-trip worker threads (default 2)
    MODELCONV_ORACLE_TIMEOUT  seconds one modelconv run may take (default 120)

The libonnx-testdata round trip records its tally here and prints it in the terminal
summary, so that it shows even with output capture on.
"""

from __future__ import annotations

import collections
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ortcompare  # noqa: E402

_ROUNDTRIP = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: long-running test (runs by default; deselect with -m 'not slow')")
    config.stash[_ROUNDTRIP] = {"suites": [], "exclusions_file": None}


@pytest.fixture(scope="session")
def modelconv() -> Path:
    """Path of the modelconv binary under test; skips the test when it is not built."""
    p = ortcompare.modelconv_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.skip(f"modelconv binary not found at {p} (build it, or set MODELCONV)")
    return p


@pytest.fixture(scope="session")
def jobs() -> int:
    """Worker threads for the testdata round trip."""
    return max(1, int(os.environ.get("MODELCONV_ORACLE_JOBS", "2")))


@pytest.fixture(scope="session")
def roundtrip_report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Collector for the testdata round trip: call it with (suite, results, seconds).

    Appends each suite's exclusions, with reasons, to roundtrip-testdata-exclusions.txt in
    pytest's base temp dir; the totals are printed by pytest_terminal_summary."""
    state = request.config.stash[_ROUNDTRIP]
    path = tmp_path_factory.getbasetemp() / "roundtrip-testdata-exclusions.txt"
    state["exclusions_file"] = path

    def record(suite: str, results: list[ortcompare.CaseResult], seconds: float) -> None:
        state["suites"].append((suite, results, seconds))
        with path.open("a", encoding="utf-8") as f:
            for r in results:
                if r.status == "excluded":
                    f.write(f"{r.case}\t{r.reason}\n")

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state = config.stash[_ROUNDTRIP]
    if not state["suites"]:
        return
    tr = terminalreporter
    tr.section("modelconv round trip over libonnx-testdata")
    total = collections.Counter()
    reasons = collections.Counter()
    seconds = 0.0
    for suite, results, secs in state["suites"]:
        c = collections.Counter(r.status for r in results)
        total.update(c)
        total["total"] += len(results)
        seconds += secs
        tr.write_line(f"  {suite:18} {c['passed']:4} passed / {len(results):4} total, "
                      f"{c['excluded']:3} excluded, {c['failed']:4} failed  ({secs:.1f} s)")
        reasons.update(ortcompare.normalize_reason(r.reason) for r in results
                       if r.status == "excluded")
    tr.write_line(f"roundtrip testdata: {total['passed']} passed / {total['total']} total, "
                  f"{total['excluded']} excluded, {total['failed']} failed ({seconds:.1f} s)")
    if reasons:
        tr.write_line(f"exclusions by reason (cases listed in {state['exclusions_file']}):")
        for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            tr.write_line(f"  {n:4}  {reason[:200]}")
