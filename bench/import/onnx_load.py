"""Time `onnx.load(PATH)` inside one Python process and print the seconds on stdout.

    $PY bench/import/onnx_load.py PATH

Only the onnx.load call is timed (time.perf_counter); interpreter start-up and `import onnx`
are outside the measurement. The loaded model is kept alive until after the measurement, so
a peak-RSS reading of this process (/usr/bin/time -v) includes the whole parsed model.
"""

import sys
import time

import onnx


def main() -> None:
    path = sys.argv[1]
    t0 = time.perf_counter()
    model = onnx.load(path)
    seconds = time.perf_counter() - t0
    print(f"{seconds:.6f}")
    del model


if __name__ == "__main__":
    main()
