# shellcheck shell=bash
# Sourced (not executed) by modelconv's scripts:
#
#     source "$(dirname "$0")/lib/python-env.sh"          # from scripts/
#
# After sourcing:
#   PY              the venv's python, with scripts/requirements-oracle.txt installed
#   MODELCONV_CACHE the cache root (default ~/.cache/modelconv); nothing in it belongs in git
#   need_apt PKG... installs missing Debian packages (as root), or prints the command and exits 2
#
# Cost when the venv is already up to date: one `cmp` and one python start (~20 ms). The venv
# is (re)installed only when its stamp file (a copy of the requirements file it was installed
# from) differs from the current requirements file, or when its python no longer runs.
# Concurrent callers are serialised with flock on ${MODELCONV_CACHE}/venv.lock.
#
# Environment:
#   MODELCONV_CACHE  cache root, default $HOME/.cache/modelconv
#   PYTHON3          interpreter used to create the venv, default python3

MODELCONV_CACHE="${MODELCONV_CACHE:-$HOME/.cache/modelconv}"
export MODELCONV_CACHE

# Repository root, derived from this file's location (scripts/lib/python-env.sh).
MODELCONV_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# shellcheck source=SCRIPTDIR/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

# _modelconv_make_venv DIR: create a venv at DIR. On Debian, `python3 -m venv` fails until
# python3-venv (ensurepip) is installed; install it through need_apt and try once more.
_modelconv_make_venv() {
    local dir="$1" py="${PYTHON3:-python3}"
    if ! command -v "$py" >/dev/null 2>&1; then
        need_apt python3
    fi
    if "$py" -m venv "$dir" >&2; then
        return 0
    fi
    rm -rf -- "$dir"
    echo "python-env: '$py -m venv' failed; installing python3-venv" >&2
    need_apt python3-venv
    "$py" -m venv "$dir" >&2
}

_modelconv_python_env() {
    local venv="$MODELCONV_CACHE/venv"
    local req="$MODELCONV_REPO/scripts/requirements-oracle.txt"
    local stamp="$venv/.modelconv-requirements.stamp"
    local lockfd

    mkdir -p "$MODELCONV_CACHE"
    # Fast path without the lock: stamp matches and python runs.
    if cmp -s "$req" "$stamp" && "$venv/bin/python" -c '' 2>/dev/null; then
        return 0
    fi

    exec {lockfd}>"$MODELCONV_CACHE/venv.lock"
    flock -w 900 "$lockfd"
    # Re-check under the lock: another process may have finished the install meanwhile.
    if ! { cmp -s "$req" "$stamp" && "$venv/bin/python" -c '' 2>/dev/null; }; then
        if [ -e "$venv" ] && ! "$venv/bin/python" -c '' 2>/dev/null; then
            # A venv whose interpreter vanished (e.g. the base python was removed): rebuild it.
            # Only delete something that is recognisably a venv.
            if [ -f "$venv/pyvenv.cfg" ]; then
                echo "python-env: $venv is broken; recreating it" >&2
                rm -rf -- "$venv"
            else
                echo "error: $venv exists but is not a venv; move it away" >&2
                exit 2
            fi
        fi
        [ -e "$venv/bin/python" ] || _modelconv_make_venv "$venv"
        echo "python-env: installing $req into $venv" >&2
        rm -f -- "$stamp"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-input -r "$req" >&2
        cp -- "$req" "$stamp"
    fi
    exec {lockfd}>&-
}

_modelconv_python_env
PY="$MODELCONV_CACHE/venv/bin/python"
export PY
