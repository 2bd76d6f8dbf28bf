"""Time `onnx.save(onnx.load(SRC), DST)` inside one Python process; print the seconds.

    $PY bench/import/onnx_roundtrip.py SRC DST

The peer of `modelconv convert SRC -o DST`: both read every weight and write it out again,
so this comparison, unlike the import-only one, touches all of the model's bytes.
"""

import sys
import time

import onnx


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    onnx.save(onnx.load(src), dst)
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    main()
