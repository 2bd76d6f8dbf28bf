"""Time onnxruntime on one model: the peer of `modelconv run --repeat N`.

    $PY bench/run/ort_run.py MODEL SHAPE THREADS REPEAT

SHAPE is the first input's shape, e.g. 1x3x224x224 (seeded uniform [0,1) float32, as
`modelconv run --random --seed 0` makes it: the values differ, the work does not).
Prints the median and min latency of REPEAT runs after one warm-up run, in milliseconds.
Graph optimizations are at onnxruntime's default (all), as users run it.
"""

import sys
import time

import numpy as np
import onnxruntime as ort


def main() -> None:
    model, shape, threads, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    first = sess.get_inputs()[0]
    feeds = {first.name: np.random.default_rng(0).random([int(d) for d in shape.split("x")], dtype=np.float32)}
    sess.run(None, feeds)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"latency: median {times[len(times) // 2] * 1000:.3f} ms, min {times[0] * 1000:.3f} ms over {repeat} runs, {threads} threads")


if __name__ == "__main__":
    main()
