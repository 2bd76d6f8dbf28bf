# shellcheck shell=bash
# Sourced (not executed) by modelconv's PyTorch-based scripts (scripts/export-torchvision;
# fixtures/make-torch-fixtures.py is run with its $TORCH_PY):
#
#     source "$(dirname "$0")/lib/torch-env.sh"          # from scripts/
#
# After sourcing:
#   TORCH_PY        python of a SEPARATE venv, ${MODELCONV_CACHE}/torch-venv, holding the pinned
#                   CPU build of torch + torchvision, onnx and onnxruntime (no NVIDIA packages)
#   MODELCONV_CACHE the cache root (default ~/.cache/modelconv); nothing in it belongs in git
#
# Where torch comes from. PyPI has no CPU-only torch for Linux x86_64: its torch wheel (2.15.0:
# 539 MB) is the CUDA build and pulls ~20 nvidia-*/cuda-*/triton wheels. Installing it with
# --no-deps does NOT work: libtorch.so, libtorch_cpu.so and libtorch_global_deps.so have
# DT_NEEDED entries on libcudart, libcublas(Lt), libcudnn, libcupti, ..., so `import torch`
# fails ("libcublasLt.so.*[0-9] not found"). The CPU build (torch-2.13.0+cpu, 190 MB wheel,
# ~750 MB installed) is not on PyPI; this project's machine image ships it in /opt/wheels (pip's
# find-links there). So:
#   - default: torch 2.13.0+cpu from $MODELCONV_TORCH_WHEELS (default /opt/wheels), checked
#     against the sha256 pinned below; everything else from PyPI, all pinned, --no-deps.
#     ~1.2 GB installed, ~1 minute.
#   - MODELCONV_TORCH_CUDA=1: the PyPI CUDA build torch==2.13.0 with its NVIDIA dependencies (for a
#     machine without the CPU wheel): 4.9 GB installed, ~2.5 minutes. Its exports were checked
#     byte-identical to the CPU mode's (producer_version is "2.13.0" in both); only the manifest's
#     torch_version column differs ("2.13.0" vs "2.13.0+cpu").
#   Without the CPU wheel and without MODELCONV_TORCH_CUDA=1 this exits 2 with a message.
#
# torchvision 0.28.0 (the release paired with torch 2.13) exists on PyPI only as a CUDA build: its
# compiled ops (torchvision/_C.so, needing libtorch_cuda.so) do not load with the CPU torch. The
# models do not need them; scripts/export_torchvision.py registers the two op schemas that
# `import torchvision` otherwise trips over (see torchvision_import_shim there).
#
# The exporter used is torch.onnx.export(..., dynamo=False) (TorchScript-based), which needs onnx
# only: onnxscript is not installed (it is needed only for dynamo=True).
#
# Cost when the venv is up to date: one string compare and one python start. The venv is
# (re)installed when its stamp (the pin list + mode below) differs or its python no longer runs.
# Concurrent callers are serialised with flock on ${MODELCONV_CACHE}/torch-venv.lock.
#
# Environment:
#   MODELCONV_CACHE        cache root, default $HOME/.cache/modelconv
#   MODELCONV_TORCH_WHEELS folder holding torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
#   MODELCONV_TORCH_CUDA   1: use PyPI's CUDA torch==2.13.0 (+ nvidia wheels) instead
#   PYTHON3                interpreter used to create the venv (must be CPython 3.11), default python3

MODELCONV_CACHE="${MODELCONV_CACHE:-$HOME/.cache/modelconv}"
export MODELCONV_CACHE

# shellcheck source=SCRIPTDIR/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

_MODELCONV_TORCH_CPU_WHEEL="torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
_MODELCONV_TORCH_CPU_SHA256="6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b"

# Every version pinned; installed with --no-deps in CPU mode, so this list is the whole venv.
# onnx/onnxruntime/numpy/protobuf match scripts/requirements-oracle.txt.
_MODELCONV_TORCH_PINS='torchvision==0.28.0
onnx==1.23.2
onnxruntime==1.32.0
numpy==2.4.6
pillow==13.0.0
filelock==4.3.1
typing_extensions==4.16.0
setuptools==84.2.1
sympy==1.14.0
mpmath==1.3.0
networkx==3.6.1
Jinja2==3.1.6
MarkupSafe==3.0.4
fsspec==2026.9.0
protobuf==7.36.2
ml_dtypes==0.6.0
flatbuffers==25.12.19
packaging==26.4'

_modelconv_torch_env() {
    local venv="$MODELCONV_CACHE/torch-venv"
    local stamp="$venv/.modelconv-torch.stamp"
    local wheels="${MODELCONV_TORCH_WHEELS:-/opt/wheels}"
    local mode torch_req want lockfd py="${PYTHON3:-python3}"

    if [ "${MODELCONV_TORCH_CUDA:-0}" = 1 ]; then
        mode=cuda torch_req="torch===2.13.0"  # ===: not the local 2.13.0+cpu
    else
        mode=cpu torch_req="torch==2.13.0+cpu"
    fi
    want="mode=$mode
$torch_req
$_MODELCONV_TORCH_PINS"

    mkdir -p "$MODELCONV_CACHE"
    # Fast path without the lock.
    if [ -f "$stamp" ] && [ "$(cat -- "$stamp")" = "$want" ] && "$venv/bin/python" -c '' 2>/dev/null; then
        return 0
    fi

    exec {lockfd}>"$MODELCONV_CACHE/torch-venv.lock"
    flock -w 1800 "$lockfd"
    if ! { [ -f "$stamp" ] && [ "$(cat -- "$stamp")" = "$want" ] && "$venv/bin/python" -c '' 2>/dev/null; }; then
        local wheel="$wheels/$_MODELCONV_TORCH_CPU_WHEEL" torch_arg
        if [ "$mode" = cpu ]; then
            if [ ! -f "$wheel" ]; then
                echo "error: $wheel not found. PyPI has no CPU-only torch for Linux x86_64." >&2
                echo "       Point MODELCONV_TORCH_WHEELS at a folder holding it, or set" >&2
                echo "       MODELCONV_TORCH_CUDA=1 to install PyPI's CUDA build (several GB)." >&2
                exit 2
            fi
            if [ "$(sha256sum -- "$wheel" | cut -d' ' -f1)" != "$_MODELCONV_TORCH_CPU_SHA256" ]; then
                echo "error: $wheel: sha256 is not the pinned $_MODELCONV_TORCH_CPU_SHA256" >&2
                exit 1
            fi
            torch_arg="$wheel"
        else
            torch_arg="$torch_req"
        fi

        # Start from a fresh venv so that nothing from an earlier pin list or mode lingers.
        if [ -e "$venv" ]; then
            if [ -f "$venv/pyvenv.cfg" ]; then
                rm -rf -- "$venv"
            else
                echo "error: $venv exists but is not a venv; move it away" >&2
                exit 2
            fi
        fi
        command -v "$py" >/dev/null 2>&1 || need_apt python3
        if ! "$py" -m venv "$venv" >&2; then
            rm -rf -- "$venv"
            echo "torch-env: '$py -m venv' failed; installing python3-venv" >&2
            need_apt python3-venv
            "$py" -m venv "$venv" >&2
        fi
        if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
            echo "error: the pinned wheels are for CPython 3.11; set PYTHON3 to a python3.11" >&2
            rm -rf -- "$venv"
            exit 2
        fi

        echo "torch-env: installing torch ($mode) into $venv" >&2
        local -a pins
        mapfile -t pins <<<"$_MODELCONV_TORCH_PINS"
        if [ "$mode" = cpu ]; then
            # --no-deps: the list is complete, and nothing may pull in nvidia-* wheels.
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
                --only-binary=:all: --no-deps "$torch_arg" "${pins[@]}" >&2
        else
            # torch's own metadata pins its nvidia-*/cuda-*/triton dependencies exactly.
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
                --only-binary=:all: "$torch_arg" "${pins[@]}" >&2
        fi
        "$venv/bin/python" -m pip check --disable-pip-version-check >&2
        printf '%s' "$want" >"$stamp"
    fi
    exec {lockfd}>&-
}

_modelconv_torch_env
TORCH_PY="$MODELCONV_CACHE/torch-venv/bin/python"
export TORCH_PY
