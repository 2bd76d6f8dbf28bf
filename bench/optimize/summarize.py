"""Turn bench/optimize/run's measurements into markdown tables (stdout).

    $PY bench/optimize/summarize.py RAW.tsv MODELS.tsv

RAW.tsv rows: tool  model  repetition  wall_seconds  max_rss_kib  exit_code
MODELS.tsv rows: model  input_path  compare_json (compare.py's output for that model)

Times are medians over the repetitions; peak RSS is the largest over them. "size" is the
input model's file size (initializers included), the denominator of the issue's RSS goal.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import sys
from collections import defaultdict

MIB = 1024 * 1024
TOOLS = ("onnxsim", "onnxslim", "modelconv")


def main() -> None:
    raw_path, models_path = sys.argv[1], sys.argv[2]
    wall: dict[tuple[str, str], list[float]] = defaultdict(list)
    rss: dict[tuple[str, str], list[int]] = defaultdict(list)
    failed: dict[tuple[str, str], int] = defaultdict(int)
    with open(raw_path, newline="") as f:
        for tool, model, _rep, seconds, rss_kib, rc in csv.reader(f, delimiter="\t"):
            wall[tool, model].append(float(seconds))
            rss[tool, model].append(int(rss_kib or 0) * 1024)
            if rc != "0":
                failed[tool, model] += 1
    models = []
    with open(models_path, newline="") as f:
        for name, path, compare in csv.reader(f, delimiter="\t"):
            with open(compare) as c:
                models.append((name, os.path.getsize(path), json.load(c)))

    def t(tool: str, m: str) -> float:
        return statistics.median(wall[tool, m])

    def nodes(r: dict, tool: str) -> int | None:
        return r[tool].get("nodes") if "error" not in r[tool] else None

    print("| model | size MB | nodes in | onnxsim | onnxslim | modelconv | vs best peer | onnxsim s | onnxslim s "
          "| modelconv s | mc / sim time | mc / slim time | peak RSS MiB sim / slim / mc | RSS / size sim / slim / mc "
          "| max abs diff sim / slim / mc |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    goals = []
    for name, size, r in models:
        counts = {tool: nodes(r, tool) for tool in TOOLS}
        peers = [c for tool, c in counts.items() if tool != "modelconv" and c is not None]
        best = min(peers) if peers else None
        mc = counts["modelconv"]
        delta = "–" if best is None or mc is None else f"{mc - best:+d}"

        def cell(tool: str) -> str:
            c = counts[tool]
            return "failed" if c is None or failed[tool, name] else str(c)

        diffs = " / ".join(f"{r[tool]['max_abs_diff']:.2g}" + ("" if r[tool]["allclose"] else " ✗")
                           if "max_abs_diff" in r[tool] else "–" for tool in TOOLS)
        peak = {tool: max(rss[tool, name]) for tool in TOOLS}
        print(f"| {name} | {size / 1e6:.1f} | {r['original']['nodes']} | {cell('onnxsim')} | {cell('onnxslim')} "
              f"| {cell('modelconv')} | {delta} | {t('onnxsim', name):.2f} | {t('onnxslim', name):.2f} "
              f"| {t('modelconv', name):.3f} | {t('modelconv', name) / t('onnxsim', name):.3f} "
              f"| {t('modelconv', name) / t('onnxslim', name):.3f} "
              f"| {' / '.join(f'{peak[x] / MIB:.0f}' for x in TOOLS)} "
              f"| {' / '.join(f'{peak[x] / size:.2f}' for x in TOOLS)} | {diffs} |")
        speedup = t("onnxsim", name) / t("modelconv", name)
        ratio = peak["modelconv"] / size
        goals.append((name, mc, best, speedup, ratio, r))

    print()
    print("Goals (issue 4): no more nodes than the better peer; at least 10x faster than onnxsim; "
          "peak RSS at most 1.2x the model's size.")
    print()
    print("| model | nodes <= best peer | >= 10x faster than onnxsim | RSS <= 1.2x size |")
    print("|---|---|---|---|")
    for name, mc, best, speedup, ratio, _ in goals:
        n = "–" if mc is None or best is None else ("yes" if mc <= best else f"no: {mc} vs {best} (+{mc - best})")
        s = f"yes ({speedup:.0f}x)" if speedup >= 10 else f"no ({speedup:.1f}x)"
        m = f"yes ({ratio:.2f}x)" if ratio <= 1.2 else f"no ({ratio:.2f}x)"
        print(f"| {name} | {n} | {s} | {m} |")

    missed = [(name, mc, best, r) for name, mc, best, _, _, r in goals if mc is not None and best is not None and mc > best]
    if missed:
        print()
        print("Op histogram, modelconv minus the better peer, where modelconv has more nodes:")
        print()
        for name, mc, best, r in missed:
            peer = min((tool for tool in ("onnxsim", "onnxslim") if r[tool].get("nodes") == best))
            ours, theirs = r["modelconv"]["ops"], r[peer]["ops"]
            diff = {op: ours.get(op, 0) - theirs.get(op, 0) for op in set(ours) | set(theirs)}
            parts = [f"{op} {d:+d}" for op, d in sorted(diff.items(), key=lambda kv: (-abs(kv[1]), kv[0])) if d]
            print(f"- {name} (vs {peer}): {', '.join(parts)}")


if __name__ == "__main__":
    main()
