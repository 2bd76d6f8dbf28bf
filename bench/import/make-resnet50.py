"""Write torchvision's ResNet-50 as an ONNX model, without torch, for the import benchmark.

    $PY bench/import/make-resnet50.py [--out PATH]

The graph is what `torch.onnx.export(torchvision.models.resnet50(), ..., opset_version=17)`
produces in eval mode: every BatchNormalization is folded into the preceding Conv (so each
Conv has a bias), then Relu / MaxPool / Add, GlobalAveragePool, Flatten and Gemm, with
torch-style node names (/layer1/layer1.0/conv1/Conv). Weights are random, not trained:
He-normal conv weights and small normal biases from np.random.default_rng(0), drawn in a
fixed order, so the file is byte-for-byte reproducible with the pinned numpy/onnx/protobuf
(scripts/requirements-oracle.txt). 25,530,472 parameters, ~102 MB, one file (no external data).

Default output: ${MODELCONV_CACHE:-~/.cache/modelconv}/bench/resnet50.onnx. Skipped when the
file exists with the pinned sha256. Prints the path on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# sha256 of the file this script writes. It changes only if the generator, numpy's
# Generator streams, or onnx/protobuf serialisation change; then regenerate and update it.
PINNED_SHA256 = "cfa51272a25d2cec1265a0fe0092aeba4a1ce66f1ca8bf6c951acac788b3f423"

# (blocks, bottleneck width, first stride) of torchvision's resnet50: layers [3, 4, 6, 3].
LAYERS = ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2))
EXPANSION = 4
NUM_CLASSES = 1000


class Builder:
    """Accumulates nodes and initializers; draws weights from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.params = 0

    def param(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        self.params += array.size
        return name

    def conv(self, x: str, scope: str, cin: int, cout: int, k: int, stride: int = 1,
             pad: int = 0) -> str:
        """Conv with folded-BN bias. scope is the torch module path, e.g. layer1.0.conv1."""
        fan_in = cin * k * k
        w = self.rng.standard_normal((cout, cin, k, k), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        b = self.rng.standard_normal(cout, dtype=np.float32) * np.float32(0.01)
        y = f"/{scope_path(scope)}/Conv_output_0"
        self.nodes.append(helper.make_node(
            "Conv", [x, self.param(f"{scope}.weight", w), self.param(f"{scope}.bias", b)], [y],
            name=f"/{scope_path(scope)}/Conv", dilations=[1, 1], group=1,
            kernel_shape=[k, k], pads=[pad] * 4, strides=[stride, stride]))
        return y

    def op(self, op_type: str, inputs: list[str], scope: str, **attrs) -> str:
        """A parameter-free node named like torch does: /<scope path>/<OpType>."""
        prefix = f"/{scope_path(scope)}/" if scope else "/"
        y = f"{prefix}{op_type}_output_0"
        self.nodes.append(helper.make_node(op_type, inputs, [y], name=f"{prefix}{op_type}", **attrs))
        return y


def scope_path(scope: str) -> str:
    """torch's node-name path for a module: a Sequential index becomes its own segment
    joined to its parent's name. layer1.0.conv1 -> layer1/layer1.0/conv1,
    layer1.0.downsample.0 -> layer1/layer1.0/downsample/downsample.0."""
    parts = scope.split(".")
    return "/".join(f"{parts[i - 1]}.{p}" if p.isdigit() and i else p for i, p in enumerate(parts))


def bottleneck(b: Builder, x: str, scope: str, cin: int, width: int, stride: int) -> str:
    """torchvision Bottleneck (v1.5: stride on the 3x3 conv)."""
    cout = width * EXPANSION
    h = b.conv(x, f"{scope}.conv1", cin, width, 1)
    h = b.op("Relu", [h], f"{scope}.relu")
    h = b.conv(h, f"{scope}.conv2", width, width, 3, stride, 1)
    h = b.op("Relu", [h], f"{scope}.relu_1")
    h = b.conv(h, f"{scope}.conv3", width, cout, 1)
    identity = x
    if stride != 1 or cin != cout:
        identity = b.conv(x, f"{scope}.downsample.0", cin, cout, 1, stride)
    y = b.op("Add", [h, identity], scope)
    return b.op("Relu", [y], f"{scope}.relu_2")


def build_resnet50(seed: int = 0) -> onnx.ModelProto:
    b = Builder(seed)
    x = b.conv("input", "conv1", 3, 64, 7, 2, 3)
    x = b.op("Relu", [x], "relu")
    x = b.op("MaxPool", [x], "maxpool", ceil_mode=0, dilations=[1, 1], kernel_shape=[3, 3],
             pads=[1, 1, 1, 1], strides=[2, 2])
    cin = 64
    for li, (blocks, width, stride) in enumerate(LAYERS, start=1):
        for bi in range(blocks):
            x = bottleneck(b, x, f"layer{li}.{bi}", cin, width, stride if bi == 0 else 1)
            cin = width * EXPANSION
    x = b.op("GlobalAveragePool", [x], "avgpool")
    x = b.op("Flatten", [x], "", axis=1)
    bound = 1.0 / np.sqrt(cin)  # torch's nn.Linear init range
    w = b.rng.uniform(-bound, bound, (NUM_CLASSES, cin)).astype(np.float32)
    bias = b.rng.uniform(-bound, bound, NUM_CLASSES).astype(np.float32)
    b.nodes.append(helper.make_node(
        "Gemm", [x, b.param("fc.weight", w), b.param("fc.bias", bias)], ["output"],
        name="/fc/Gemm", alpha=1.0, beta=1.0, transB=1))

    graph = helper.make_graph(
        b.nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, NUM_CLASSES])],
        initializer=b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="modelconv-bench", producer_version="1",
                              doc_string="torchvision resnet50 architecture, BN folded, "
                                         "random weights (numpy default_rng(0))")
    model.ir_version = 8  # what torch.onnx.export writes for opset 17
    # torchvision's resnet50 has 25,557,032 parameters, 53,120 of them BN weight+bias over
    # 26,560 BN channels; folding replaces those with one conv bias per channel.
    assert b.params == 25_557_032 - 53_120 + 26_560, b.params
    return model


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> int:
    cache = Path(os.environ.get("MODELCONV_CACHE", Path.home() / ".cache" / "modelconv"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=cache / "bench" / "resnet50.onnx")
    args = ap.parse_args()
    out: Path = args.out

    if out.is_file() and sha256(out) == PINNED_SHA256:
        print(out)
        return 0
    model = build_resnet50(seed=0)
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    digest = sha256(tmp)
    if digest != PINNED_SHA256:
        tmp.unlink()
        print(f"error: {out.name}: generated sha256 {digest} is not the pinned {PINNED_SHA256} "
              "(numpy/onnx/protobuf versions differ from scripts/requirements-oracle.txt?)",
              file=sys.stderr)
        return 1
    os.replace(tmp, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
