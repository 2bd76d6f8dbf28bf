"""Turn bench/import/run's raw measurements into a markdown table (stdout).

    $PY bench/import/summarize.py RAW.tsv MODEL_PATH

RAW.tsv rows (tab-separated, written by bench/import/run):
    tool  repetition  start_epoch_s  end_epoch_s  max_rss_kib  self_reported_s(or empty)
tools: onnx_load (bench/import/onnx_load.py), modelconv (modelconv inspect --json),
       python_import_onnx (python -c 'import onnx', the interpreter baseline).
"""

from __future__ import annotations

import csv
import os
import statistics
import sys
from collections import defaultdict

MIB = 1024 * 1024


def main() -> None:
    raw_path, model = sys.argv[1], sys.argv[2]
    size = os.path.getsize(model)
    wall: dict[str, list[float]] = defaultdict(list)      # whole-process wall seconds
    rss: dict[str, list[int]] = defaultdict(list)         # peak RSS, bytes
    inner: dict[str, list[float]] = defaultdict(list)     # in-process / self-reported seconds
    with open(raw_path, newline="") as f:
        for tool, _rep, start, end, rss_kib, reported in csv.reader(f, delimiter="\t"):
            wall[tool].append(float(end) - float(start))
            rss[tool].append(int(rss_kib) * 1024)
            if reported:
                inner[tool].append(float(reported))

    base = statistics.median(inner["onnx_load"])  # the reference: onnx.load in-process

    def row(name: str, times: list[float], rss_bytes: list[int] | None, ratio: bool = True) -> str:
        med, lo = statistics.median(times), min(times)
        if rss_bytes:
            peak = max(rss_bytes)
            mem = f"{peak / MIB:.1f} | {peak / size:.2f}"
        else:
            mem = "– | –"
        return f"| {name} | {med:.4f} | {lo:.4f} | {mem} | {f'{med / base:.2f}' if ratio else '–'} |"

    n = len(inner["onnx_load"])
    print(f"Model: `{os.path.basename(model)}`, {size / 1e6:.1f} MB ({size} bytes); "
          f"{n} alternating repetitions each, after one warm-up run each (page cache warm).")
    print()
    print("| tool | median wall s | min wall s | peak RSS MiB | RSS / file size | time / onnx.load |")
    print("|---|---|---|---|---|---|")
    print(row("onnx.load (in-process, perf_counter)", inner["onnx_load"], rss["onnx_load"]))
    print(row("python onnx_load.py (whole process)", wall["onnx_load"], rss["onnx_load"]))
    if inner["modelconv"]:
        print(row("modelconv import_seconds (self-reported)", inner["modelconv"], None))
    print(row("modelconv inspect --json (whole process)", wall["modelconv"], rss["modelconv"]))
    print(row("python -c 'import onnx' (baseline)", wall["python_import_onnx"], rss["python_import_onnx"],
              ratio=False))
    if wall["modelconv_convert"]:
        print()
        print("Full read and write (every weight byte touched): `onnx.save(onnx.load(m))` vs "
              "`modelconv convert m -o out`.")
        print()
        rt = statistics.median(inner["onnx_roundtrip"])
        print("| tool | median wall s | min wall s | peak RSS MiB | RSS / file size | time / onnx load+save |")
        print("|---|---|---|---|---|---|")
        for name, times, mem in [("onnx load+save (in-process)", inner["onnx_roundtrip"], rss["onnx_roundtrip"]),
                                 ("python onnx_roundtrip.py (whole process)", wall["onnx_roundtrip"], rss["onnx_roundtrip"]),
                                 ("modelconv convert (whole process)", wall["modelconv_convert"], rss["modelconv_convert"])]:
            med, lo, peak = statistics.median(times), min(times), max(mem)
            print(f"| {name} | {med:.4f} | {lo:.4f} | {peak / MIB:.1f} | {peak / size:.2f} | {med / rt:.2f} |")
    print()
    base_rss = max(rss["python_import_onnx"])
    extra = max(rss["onnx_load"]) - base_rss
    print(f"Peak RSS is of the whole process. The Python interpreter with onnx imported alone "
          f"peaks at {base_rss / MIB:.1f} MiB; onnx.load adds {extra / MIB:.1f} MiB on top "
          f"({extra / size:.2f} x file size). 'time / onnx.load' divides each median by the "
          f"in-process onnx.load median ({base:.4f} s).")
    if not inner["modelconv"]:
        print("modelconv's JSON had no `import_seconds` field, so only its whole-process "
              "wall time (process start, import, JSON output) is shown.")


if __name__ == "__main__":
    main()
