"""Node counts, op histograms and onnxruntime differences of optimized models.

    $PY bench/optimize/compare.py ORIGINAL TOOL=OPTIMIZED [TOOL=OPTIMIZED ...]

Prints one JSON object: {"original": {"nodes": N, "ops": {...}}, "TOOL": {"nodes": N, "ops":
{...}, "max_abs_diff": D, "allclose": bool, "error": "..."}}. Every model runs in onnxruntime
(CPU, one thread) on the same input, uniform [0, 1) from numpy's default_rng(0); the
difference is the largest |optimized - original| over all outputs, and allclose uses
rtol 1e-4, atol 1e-5 (the issue's tolerance).
"""

import collections
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


def histogram(path: str) -> tuple[int, dict[str, int]]:
    model = onnx.load(path, load_external_data=False)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    return len(model.graph.node), dict(sorted(ops.items()))


def run(path: str, feeds: dict | None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    if feeds is None:
        rng = np.random.default_rng(0)
        feeds = {}
        for i in session.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            feeds[i.name] = rng.random(shape, dtype=np.float32)
    return session.run(None, feeds), feeds


def main() -> None:
    original, *pairs = sys.argv[1:]
    nodes, ops = histogram(original)
    result = {"original": {"nodes": nodes, "ops": ops}}
    reference, feeds = run(original, None)
    for pair in pairs:
        tool, path = pair.split("=", 1)
        entry: dict = {}
        try:
            entry["nodes"], entry["ops"] = histogram(path)
            outputs, _ = run(path, feeds)
            entry["max_abs_diff"] = max(float(np.abs(a - b).max()) for a, b in zip(reference, outputs))
            entry["allclose"] = all(np.allclose(b, a, rtol=1e-4, atol=1e-5) for a, b in zip(reference, outputs))
        except Exception as e:  # a tool that wrote no model or one ORT rejects: report, don't stop
            entry["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        result[tool] = entry
    print(json.dumps(result))


if __name__ == "__main__":
    main()
