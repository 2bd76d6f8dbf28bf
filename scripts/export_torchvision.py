#!/usr/bin/env python3
"""Export seeded torchvision models to ONNX (run through scripts/export-torchvision, which
provides the torch venv of scripts/lib/torch-env.sh).

For each model NAME, into OUT (default ${MODELCONV_CACHE}/models/torchvision):

  NAME.onnx               do_constant_folding=False: BatchNormalization, Identity, Constant,
                          Shape/Gather/... chains left for modelconv's optimizer
  NAME-folded.onnx        do_constant_folding=True: what users usually ship (BN folded into Conv)
  NAME.input.npy          np.random.default_rng(0).random((1,3,224,224), float32)
  NAME.torch_output.npy   PyTorch's output for that input
  NAME.ort_output.npy     onnxruntime's output of NAME.onnx (1 thread, sequential)
  NAME-folded.ort_output.npy
  manifest.tsv            name, file, sha256, size, params, opset, torch version (one row a file)

Weights: torch.manual_seed(0) before building each model (weights=None), then
randomize_norms(): every BatchNorm's running_mean/running_var and every norm layer's weight/bias
(and ConvNeXt's layer_scale, 1e-6 at init, which would make its blocks numerically invisible) get
seeded, non-trivial values, so that folding them is not a no-op.
fixtures/make-torch-fixtures.py imports this module for the same seeding and import shim (it calls
randomize_norms only, so its fixtures do not depend on the calibration below).

BatchNorm calibration (resnet50, mobilenet_v2, efficientnet_b0; convnext_tiny and swin_t have no
BatchNorm and are untouched): calibrate_batchnorm() then replaces every BatchNorm's running
statistics by their cumulative average (momentum=None) over CALIB_BATCHES batches of CALIB_BATCH
uniform [0, 1) 3x224x224 inputs from torch.Generator().manual_seed(CALIB_SEED), the distribution
of NAME.input.npy, under torch.no_grad(). Only the BatchNorm modules are in train mode meanwhile:
dropout and EfficientNet's stochastic depth stay off, so the statistics are those of the exported
(eval) graph and no global RNG is drawn. Each BatchNorm's momentum is restored afterwards (ONNX
BatchNormalization's momentum attribute is exported from it). Then model.eval().
Why: with randomize_norms' arbitrary statistics ResNet-50's activations grow block by block and its
logits reach ~290, where float32 rounding (~5e-5 absolute) alone exceeds the oracle tests'
atol 1e-5. Trained networks have calibrated statistics and activations of order 1; calibrated,
the logits of all five models stay within about +-2 (printed as "logits [min, max]" per model).

Residual damping (ResNet only), before the calibration: damp_residual_branches() multiplies the
last BatchNorm's weight/bias of every residual branch by RESIDUAL_GAMMA (0.3), as in trained ResNets
(torchvision's zero_init_residual is the limit 0). Calibration alone bounds the logits but not the
rounding: a random ResNet-50 amplifies float32 rounding block by block (relative error vs float64
1.5e-5 after layer1, 8e-4 after layer4; 4e-5 absolute on logits of +-1.9, still beyond atol 1e-5
between two float32 implementations). Damped, its float32-vs-float64 logit error is 1.5e-6.

Export: torch.onnx.export(dynamo=False) (the TorchScript exporter), opset 17, input 1x3x224x224
named "input", output "output", fixed shapes. Torch runs single-threaded.

Idempotent: a model whose files exist with the sha256 recorded in the manifest is skipped.
--verify DIR exports into DIR instead and compares the sha256s with the manifest (determinism).
"""
import argparse
import collections
import csv
import hashlib
import importlib.util
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

OPSET = 17
SHAPE = (1, 3, 224, 224)
MODELS = ["resnet50", "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "swin_t"]
MANIFEST_FIELDS = ["name", "file", "sha256", "size", "params", "opset", "torch_version"]

_shim_lib = None  # keeps the Library fragment below alive


def torchvision_import_shim():
    """Make `import torchvision` work when its compiled ops cannot load.

    PyPI's torchvision 0.28.0 is a CUDA build: torchvision/_C.so needs libtorch_cuda.so, which the
    CPU torch lacks. torchvision handles a missing _C everywhere but in _meta_registrations.py,
    which calls torch.library.register_fake("torchvision::nms"/"qnms") unconditionally and so
    fails with "operator torchvision::nms does not exist". Defining those two schemas (no
    kernels: calling them still fails) lets the import through; the models never use them.
    """
    global _shim_lib
    spec = importlib.util.find_spec("torchvision")
    so = os.path.join(os.path.dirname(spec.origin), "_C.so")
    try:
        torch.ops.load_library(so)
        return
    except OSError:
        pass
    _shim_lib = torch.library.Library("torchvision", "FRAGMENT")
    _shim_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _shim_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


torchvision_import_shim()
import torchvision  # noqa: E402


def randomize_norms(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give every BatchNorm seeded running_mean/running_var, every BatchNorm/LayerNorm/GroupNorm a
    seeded weight/bias, and ConvNeXt's layer_scale (1e-6 at init, which would make its blocks
    numerically invisible) seeded values in [0.1, 0.5), so that folding them is not a no-op."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                c = mod.num_features
                mod.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(c, generator=g))
            if isinstance(mod, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm,
                                torch.nn.GroupNorm)) and getattr(mod, "weight", None) is not None:
                n = mod.weight.numel()
                mod.weight.copy_((1 + 0.1 * torch.randn(n, generator=g)).view_as(mod.weight))
                mod.bias.copy_((0.1 * torch.randn(n, generator=g)).view_as(mod.bias))
            ls = getattr(mod, "layer_scale", None)  # torchvision.models.convnext.CNBlock
            if isinstance(ls, torch.nn.Parameter):
                ls.copy_(0.1 + 0.4 * torch.rand(ls.shape, generator=g))
    return model


RESIDUAL_GAMMA = 0.3
CALIB_SEED, CALIB_BATCHES, CALIB_BATCH = 2, 4, 8


def damp_residual_branches(model: torch.nn.Module, factor: float = RESIDUAL_GAMMA) -> torch.nn.Module:
    """Multiply the weight and bias of the last BatchNorm of every ResNet residual branch
    (Bottleneck.bn3, BasicBlock.bn2) by `factor`, as training leaves them (torchvision's
    zero_init_residual is the limit factor=0). Without it a random ResNet-50 amplifies float32
    rounding block by block (relative error vs float64 ~2e-5 at the logits, x25 less at 0.3).
    Other architectures are unchanged."""
    from torchvision.models.resnet import BasicBlock, Bottleneck
    with torch.no_grad():
        for mod in model.modules():
            bn = mod.bn3 if isinstance(mod, Bottleneck) else mod.bn2 if isinstance(mod, BasicBlock) else None
            if bn is not None:
                bn.weight.mul_(factor)
                bn.bias.mul_(factor)
    return model


def calibrate_batchnorm(model: torch.nn.Module, seed: int = CALIB_SEED, batches: int = CALIB_BATCHES,
                        batch: int = CALIB_BATCH) -> torch.nn.Module:
    """Set every BatchNorm's running_mean/running_var to the cumulative average (momentum=None)
    of its batch statistics over `batches` batches of `batch` uniform [0, 1) 3x224x224 inputs
    from torch.Generator().manual_seed(seed). Only the BatchNorm modules run in train mode
    (dropout, stochastic depth stay off); their momentum is restored afterwards. Deterministic
    when torch runs single-threaded. Returns the model in eval mode; without BatchNorm, unchanged."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    model.eval()
    if not bns:
        return model
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()  # mean 0, var 1, num_batches_tracked 0: the first batch replaces them
        bn.momentum = None
        bn.train()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(batches):
            model(torch.rand((batch, *SHAPE[1:]), generator=g))
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    return model.eval()


def seeded_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    return calibrate_batchnorm(damp_residual_branches(randomize_norms(model)))


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: str) -> dict:
    rows = {}
    if os.path.exists(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                rows[row["file"]] = row
    return rows


def write_manifest(path: str, rows: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        for key in sorted(rows):
            w.writerow({k: rows[key][k] for k in MANIFEST_FIELDS})
    os.replace(tmp, path)


def ort_run(path: str, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 4
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def save_npy(path: str, a: np.ndarray) -> None:
    tmp = path + ".tmp.npy"
    np.save(tmp, a)
    os.replace(tmp, path)


def export(model, x: torch.Tensor, path: str, fold: bool) -> None:
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=os.path.dirname(path))
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # legacy-exporter DeprecationWarning, TracerWarnings
            torch.onnx.export(model, (x,), tmp, dynamo=False, opset_version=OPSET,
                              do_constant_folding=fold, input_names=["input"],
                              output_names=["output"])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def op_histogram(path: str) -> tuple[int, list]:
    g = onnx.load(path, load_external_data=False).graph
    hist = collections.Counter(n.op_type for n in g.node)
    return len(g.node), hist.most_common()


def main() -> int:
    cache = os.environ.get("MODELCONV_CACHE", os.path.expanduser("~/.cache/modelconv"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=MODELS, help=f"default: {' '.join(MODELS)}")
    ap.add_argument("--out", default=os.path.join(cache, "models", "torchvision"))
    ap.add_argument("--force", action="store_true", help="re-export even when up to date")
    ap.add_argument("--verify", metavar="DIR",
                    help="export into DIR (no npy files) and compare sha256 with --out's manifest")
    ap.add_argument("--stats", action="store_true", help="print node count and op histogram")
    args = ap.parse_args()
    for m in args.models:
        if m not in MODELS:
            ap.error(f"unknown model {m!r}; known: {' '.join(MODELS)}")

    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.tsv")
    manifest = read_manifest(manifest_path)
    x_np = np.random.default_rng(0).random(SHAPE, dtype=np.float32)
    x = torch.from_numpy(x_np)
    failures = 0

    if args.verify:
        os.makedirs(args.verify, exist_ok=True)
        for name in args.models:
            model = seeded_model(name)
            for fold, fname in ((False, f"{name}.onnx"), (True, f"{name}-folded.onnx")):
                path = os.path.join(args.verify, fname)
                export(model, x, path, fold)
                got, want = sha256(path), manifest.get(fname, {}).get("sha256")
                same = "same" if got == want else ("NO MANIFEST ROW" if want is None else "DIFFERENT")
                failures += got != want
                print(f"{fname:28s} {got}  {same}", flush=True)
        return 1 if failures else 0

    for name in args.models:
        files = {False: f"{name}.onnx", True: f"{name}-folded.onnx"}
        npys = [f"{name}.input.npy", f"{name}.torch_output.npy", f"{name}.ort_output.npy",
                f"{name}-folded.ort_output.npy"]
        up_to_date = all(
            os.path.exists(os.path.join(args.out, f)) and manifest.get(f, {}).get("sha256") == sha256(os.path.join(args.out, f))
            for f in files.values()) and all(os.path.exists(os.path.join(args.out, f)) for f in npys)
        if up_to_date and not args.force:
            print(f"{name}: up to date", flush=True)
        else:
            t0 = time.monotonic()
            model = seeded_model(name)
            params = sum(p.numel() for p in model.parameters())
            with torch.no_grad():
                y_torch = model(x).numpy()
            save_npy(os.path.join(args.out, npys[0]), x_np)
            save_npy(os.path.join(args.out, npys[1]), y_torch)
            for fold, fname in files.items():
                path = os.path.join(args.out, fname)
                export(model, x, path, fold)
                y_ort = ort_run(path, x_np)
                save_npy(os.path.join(args.out, npys[3 if fold else 2]), y_ort)
                manifest[fname] = {"name": name + ("-folded" if fold else ""), "file": fname,
                                   "sha256": sha256(path), "size": os.path.getsize(path),
                                   "params": params, "opset": OPSET, "torch_version": torch.__version__}
                write_manifest(manifest_path, manifest)
            print(f"{name}: exported in {time.monotonic() - t0:.1f} s", flush=True)

        y_torch = np.load(os.path.join(args.out, npys[1]))
        print(f"  logits [{float(y_torch.min()):.3g}, {float(y_torch.max()):.3g}]", flush=True)
        for fold, fname in files.items():
            y_ort = np.load(os.path.join(args.out, npys[3 if fold else 2]))
            diff = float(np.max(np.abs(y_torch.astype(np.float64) - y_ort)))
            scale = float(np.max(np.abs(y_torch)))
            row = manifest[fname]
            print(f"  {fname:28s} {int(row['size']):>10d} B  params {row['params']:>9}  "
                  f"max|torch-ort| {diff:.3e}  (max|out| {scale:.3e})", flush=True)
            if not np.isfinite(diff) or diff > 1e-3 * max(1.0, scale):
                print(f"  error: {fname}: torch and onnxruntime disagree", file=sys.stderr)
                failures += 1
            if args.stats:
                count, hist = op_histogram(os.path.join(args.out, fname))
                top = ", ".join(f"{op} {n}" for op, n in hist[:8])
                print(f"    {count} nodes, {len(hist)} op types: {top}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
