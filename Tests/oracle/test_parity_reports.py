"""`modelconv parity` reports: shards merge into the single run (byte for byte but `timing`),
the HTML report renders in headless Chromium (Debian's `chromium`) with its SVG charts, and
the JUnit XML reads with junitparser (one testcase per output, failures where parity fails).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from test_parity_fault import FAULTY_CONV, FIXTURE, parity, scaled_copy, unchanged_copy

REPO = Path(__file__).resolve().parents[2]
RANDOM = ("--random", "7", "--seed", "11", "--input-shape", "input=1x3x32x32")


def without_timing(text: str) -> str:
    """The report text up to its last key, `timing` (keys are sorted; timing is one line)."""
    head, sep, _ = text.partition('\n  "timing": ')
    assert sep, "no timing key"
    return head


def test_three_shards_merge_into_the_single_run(modelconv: Path, tmp_path: Path) -> None:
    faulty = scaled_copy(tmp_path / "faulty.onnx", FAULTY_CONV, 1.01)
    code, _, err = parity(modelconv, FIXTURE, faulty, *RANDOM, "--per-layer", "--report", tmp_path / "single.json")
    assert code == 1, err
    for i in range(3):
        code, out, err = parity(modelconv, FIXTURE, faulty, *RANDOM, "--per-layer", "--shard", f"{i}/3",
                                "--report", tmp_path / f"shard{i}.json")
        assert code == 1, err
        assert f"shard {i}/3 of 7" in out
        part = json.loads((tmp_path / f"shard{i}.json").read_text())
        assert [s["index"] for s in part["per_sample"]] == list(range(i, 7, 3))
    r = subprocess.run([str(modelconv), "parity", "merge", tmp_path / "shard2.json", tmp_path / "shard0.json",
                        tmp_path / "shard1.json", "--report", tmp_path / "merged.json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    single = (tmp_path / "single.json").read_text()
    merged = (tmp_path / "merged.json").read_text()
    assert without_timing(merged) == without_timing(single)
    a, b = json.loads(single), json.loads(merged)
    a.pop("timing"), b.pop("timing")
    assert a == b
    assert b["run"]["shard"] is None and len(b["per_sample"]) == 7

    # Two of three shards: refused with exit 2, naming what is missing; no report written.
    r = subprocess.run([str(modelconv), "parity", "merge", tmp_path / "shard0.json", tmp_path / "shard1.json",
                        "--report", tmp_path / "partial.json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "shard missing" in r.stderr
    assert not (tmp_path / "partial.json").exists()


def chromium() -> str:
    """The chromium binary; installs Debian's package through scripts/lib/apt.sh's need_apt
    when missing, or skips with the reason."""
    if shutil.which("chromium"):
        return "chromium"
    r = subprocess.run(["bash", "-c", f"source '{REPO}/scripts/lib/apt.sh' && need_apt chromium"],
                       capture_output=True, text=True, timeout=1200)
    if r.returncode != 0 or not shutil.which("chromium"):
        pytest.skip(f"Debian's chromium is not installed and could not be installed: {r.stderr.strip()[-300:]}")
    return "chromium"


def test_html_renders_with_svg_charts(modelconv: Path, tmp_path: Path) -> None:
    faulty = scaled_copy(tmp_path / "faulty.onnx", FAULTY_CONV, 1.01)
    code, _, err = parity(modelconv, FIXTURE, faulty, "--random", "2", "--input-shape", "input=1x3x32x32",
                          "--per-layer", "--html", tmp_path / "r.html")
    assert code == 1, err
    page = (tmp_path / "r.html").read_text()
    # Self-contained: no scripts, no external resources.
    assert "<script" not in page.lower()
    for attr in ("src=", "href="):
        assert attr not in page.lower(), attr
    browser = chromium()
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                        (tmp_path / "r.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-500:]
    dom = r.stdout
    assert "<svg" in dom, "no SVG in the rendered DOM"
    # The rendered DOM is well-formed enough for an HTML-tolerant read of the SVG parts.
    start = dom.index('<svg class="chart layer-chart"')
    layer_svg = ET.fromstring(dom[start:dom.index("</svg>", start) + len("</svg>")])
    ns = "{http://www.w3.org/2000/svg}"
    polylines = layer_svg.findall(f"{ns}polyline")
    assert {p.get("class") for p in polylines} == {"series cumulative", "series isolated"}
    assert all(len(p.get("points").split()) == 17 for p in polylines)  # 17 matched layers
    assert layer_svg.find(f"{ns}line[@class='first-divergence']") is not None
    assert FAULTY_CONV in "".join(layer_svg.itertext())
    start = dom.index('<svg class="chart histogram"')
    hist_svg = ET.fromstring(dom[start:dom.index("</svg>", start) + len("</svg>")])
    bins = hist_svg.findall(f"{ns}rect[@class='bin']")
    assert len(bins) == 18
    assert sum(float(b.get("height")) for b in bins) > 0


def test_junit_reads_with_a_junit_parser(modelconv: Path, tmp_path: Path) -> None:
    faulty = scaled_copy(tmp_path / "faulty.onnx", FAULTY_CONV, 1.01)
    copy = unchanged_copy(tmp_path / "copy.onnx")
    for model, expect_fail in ((faulty, True), (copy, False)):
        out = tmp_path / f"{model.stem}.xml"
        code, _, err = parity(modelconv, FIXTURE, model, "--random", "2", "--input-shape", "input=1x3x32x32",
                              "--per-layer", "--junit", out)
        assert code == (1 if expect_fail else 0), err
        xml = JUnitXml.fromfile(str(out))
        suites = list(xml)
        assert len(suites) == 1
        cases = list(suites[0])
        assert [c.name for c in cases] == ["probs"]  # one testcase per output
        assert cases[0].classname == f"parity.{model.stem}"
        failures = [r for r in cases[0].result if isinstance(r, Failure)]
        assert bool(failures) == expect_fail
        assert suites[0].tests == 1 and suites[0].failures == (1 if expect_fail else 0)
        if expect_fail:
            assert "fraction_outside" in failures[0].message
            assert FAULTY_CONV in failures[0].text
