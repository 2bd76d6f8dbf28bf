# shellcheck shell=bash
# Sourced by modelconv's scripts. Defines:
#   need_apt PKG...   installs the Debian packages among PKG that are missing (as root:
#                     apt-get update once, then apt-get install -y); otherwise prints the
#                     exact command to run and exits 2.
#   MODELCONV_BUILD_PACKAGES  what building and running modelconv needs besides Swift 6
#                             (libopenblas0: the BLAS the kernels open at run time).

MODELCONV_BUILD_PACKAGES="libprotobuf-c-dev libonnx-dev libprotobuf-dev pkg-config libopenblas0"

# need_apt PKG...: install the Debian packages among PKG that dpkg does not report as installed.
# As root: `apt-get update` (once per shell) then `apt-get install -y`. Otherwise: print the
# exact command to run and exit 2, so that nothing half-works without the package.
_MODELCONV_APT_UPDATED=0
need_apt() {
    local pkg missing=()
    for pkg in "$@"; do
        # `dpkg -s` succeeds for removed-but-configured packages too; require "install ok installed".
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$pkg")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: missing Debian packages: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
    if [ "$_MODELCONV_APT_UPDATED" -eq 0 ]; then
        echo "apt: apt-get update" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        _MODELCONV_APT_UPDATED=1
    fi
    echo "apt: apt-get install -y ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}


# need_swift: Swift 6 must be on PATH (the Quick start assumes it; it is not a Debian package).
need_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: swift not found on PATH; install Swift 6 (https://www.swift.org/install/linux/)" >&2
        exit 2
    fi
    local v
    v="$(swift --version 2>&1 | sed -n 's/.*Swift version \([0-9]*\).*/\1/p' | head -1)"
    if [ -z "$v" ] || [ "$v" -lt 6 ]; then
        echo "error: Swift 6 or newer is needed, found: $(swift --version 2>&1 | head -1)" >&2
        exit 2
    fi
}
