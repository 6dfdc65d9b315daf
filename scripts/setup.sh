# Shared set-up for run.sh and test.sh (sourced, not run): install the
# Debian packages that are missing, then configure and build into $BUILD.
# Usage: pc_setup BUILD_DIR [extra packages...] [-- meson options...]

pc_log() { printf '[parconv] %s\n' "$*" >&2; }

pc_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            pc_log "missing packages ${missing[*]}, and not root and no sudo to install them"
            return 1
        fi
    fi
    pc_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2 &&
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

pc_build() {
    local build=$1
    shift
    if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" "$@" >&2 || return 1
    fi
    ninja -C "$build" >&2
}

PC_BUILD_PACKAGES=(gcc libc6-dev meson ninja-build pkg-config libfftw3-dev libgsl-dev)
PC_TEST_PACKAGES=(python3 python3-numpy python3-scipy)
