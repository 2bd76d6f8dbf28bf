"""Per-layer Conv latency: modelconv against onnxruntime on single-Conv models.

    $PY bench/conv/layers.py MODELCONV [REPEAT] [ROUNDS]

Writes one float32 Conv model per ResNet-50 layer shape (plus PP-OCRv4 det's largest and
MobileNetV2's narrowest), seeded weights and bias, into a temporary folder, then times each
with both tools single-threaded, alternating for ROUNDS rounds (REPEAT runs each, one
process per tool and round). Prints a markdown table: each tool's fastest run over all
rounds and their ratio (the least noisy estimate on a shared machine), and GFLOP/s.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# (name, in channels, out channels, input size, kernel, stride)
LAYERS = [
    ("resnet50 stem 7x7/2", 3, 64, 224, 7, 2),
    ("resnet50 1x1 64->64 @56", 64, 64, 56, 1, 1),
    ("resnet50 3x3 64 @56", 64, 64, 56, 3, 1),
    ("resnet50 1x1 64->256 @56", 64, 256, 56, 1, 1),
    ("resnet50 1x1 256->64 @56", 256, 64, 56, 1, 1),
    ("resnet50 3x3 128/2 @56", 128, 128, 56, 3, 2),
    ("resnet50 3x3 128 @28", 128, 128, 28, 3, 1),
    ("resnet50 1x1 512->128 @28", 512, 128, 28, 1, 1),
    ("resnet50 1x1 128->512 @28", 128, 512, 28, 1, 1),
    ("resnet50 3x3 256 @14", 256, 256, 14, 3, 1),
    ("resnet50 1x1 1024->256 @14", 1024, 256, 14, 1, 1),
    ("resnet50 1x1 256->1024 @14", 256, 1024, 14, 1, 1),
    ("resnet50 3x3 512 @7", 512, 512, 7, 3, 1),
    ("resnet50 1x1 2048->512 @7", 2048, 512, 7, 1, 1),
    ("resnet50 1x1 512->2048 @7", 512, 2048, 7, 1, 1),
    ("ppocr det 3x3 96->24 @160", 96, 24, 160, 3, 1),
    ("mobilenet_v2 1x1 16->96 @112", 16, 96, 112, 1, 1),
]


def conv_model(path, cin, cout, size, k, s):
    rng = np.random.default_rng(cin * 1000 + cout + k)
    w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    p = k // 2
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[p] * 4, strides=[s, s])
    out = (size + 2 * p - k) // s + 1
    g = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, out, out])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return 2.0 * cout * out * out * cin * k * k


def ort_fastest(path, size, cin, repeat):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, cin, size, size), dtype=np.float32)
    sess.run(None, {"x": x})
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def modelconv_fastest(binary, path, repeat):
    out = subprocess.run([binary, "run", path, "--random", "--seed", "0", "--threads", "1", "--repeat", str(repeat)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"min ([0-9.]+) ms", out).group(1))


def main():
    binary = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    print("| layer | onnxruntime ms | modelconv ms | ratio | modelconv GFLOP/s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cin, cout, size, k, s in LAYERS:
            path = os.path.join(tmp, "conv.onnx")
            flops = conv_model(path, cin, cout, size, k, s)
            o = m = float("inf")
            for _ in range(rounds):
                o = min(o, ort_fastest(path, size, cin, repeat))
                m = min(m, modelconv_fastest(binary, path, repeat))
            print(f"| {name} | {o:.3f} | {m:.3f} | {m / o:.2f} | {flops / m * 1e-6:.0f} |")


if __name__ == "__main__":
    main()
