"""Write a copy of an ONNX model whose named inputs have fixed dims.

    $PY bench/optimize/make_static.py IN OUT NAME=1x3x640x640 [NAME=...]

bench/optimize/run gives every optimizer the same static model, so that none of them needs
its own input-shape option (onnxsim --overwrite-input-shape, onnxslim --input-shapes,
modelconv --input-shape) and they all fold the same shape arithmetic.
"""

import sys

import onnx


def main() -> None:
    src, dst, *specs = sys.argv[1:]
    model = onnx.load(src)
    shapes = {}
    for spec in specs:
        name, dims = spec.split("=")
        shapes[name] = [int(d) for d in dims.split("x")]
    for value in model.graph.input:
        if value.name not in shapes:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(shapes[value.name]):
            sys.exit(f"{src}: input {value.name} has rank {len(dims)}, got {shapes.pop(value.name)}")
        for d, n in zip(dims, shapes.pop(value.name)):
            d.Clear()
            d.dim_value = n
    if shapes:
        sys.exit(f"{src}: no inputs named {', '.join(shapes)}")
    onnx.save(model, dst)


if __name__ == "__main__":
    main()
