# Shared set-up for run.sh and test.sh, and for the scripts in bench/ and
# slurm/ (sourced, not run): install the Debian packages that are missing,
# then configure and build into $BUILD.
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

PC_BUILD_PACKAGES=(gcc libc6-dev meson ninja-build pkg-config libfftw3-dev libgsl-dev libjansson-dev libhdf5-dev)
# python3-dev: the Python module (python/) and its test suite.
PC_TEST_PACKAGES=(python3 python3-numpy python3-scipy python3-h5py python3-dev)
# bench/python_bench.py's optional peers, each installed if it can be.
PC_PYBENCH_PACKAGES=(python3-opencv python3-torch)
# tests/fuzz/run.sh (scripts/test.sh): clang with libFuzzer and its
# sanitizer runtimes.
PC_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

# Shared set-up for bench/bench.sh and bench/bench_fft.sh, called from the script's own
# shell (not a subshell: it sets the globals below, changes directory and
# sets an EXIT trap) before it has changed directory.
# Usage: pc_bench_setup NAME OUT [extra packages...]
# Makes OUT absolute (relative to the caller's directory; empty: the default
# bench-results/NAME.json) in $out, cds to the top of the tree, installs
# what is missing and builds into build/, then makes a private temp dir
# $work (removed on exit) with an empty $work/parconv for the JSON reports
# and copies the binary just built to $bin in it. It does not create the
# directory of $out: the caller does, once it has checked its settings.
pc_bench_setup() {
    local name=$1
    out=$2
    shift 2
    case $out in
    '') ;;
    /*) ;;
    *) out=$PWD/$out ;;
    esac
    cd "$(dirname "$0")/.." || return
    [ -n "$out" ] || out=$PWD/bench-results/$name.json

    pc_install "${PC_BUILD_PACKAGES[@]}" "${PC_TEST_PACKAGES[@]}" "$@"
    pc_build build

    work=$(mktemp -d "${TMPDIR:-/tmp}/parconv-${name//_/-}.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/parconv"
    # A private copy of the binary just built, so that every run measures
    # the same program even if build/ is rebuilt meanwhile (procs workers
    # re-execute /proc/self/exe, so the copy is self-contained).
    bin=$work/parconv-bin
    cp build/tools/parconv "$bin"
}

# The scripts that take "[--out DIR] [parconv options...]": sets out to
# --out DIR (made absolute), else to the default given, and pc_shift to how
# many arguments the caller should shift away.
pc_out_arg() {
    local name=$1 default=$2
    shift 2
    out=$default
    pc_shift=0
    if [ "${1:-}" = --out ]; then
        [ $# -ge 2 ] || { echo "$name: --out needs a directory" >&2; exit 2; }
        out=$2
        pc_shift=2
    fi
    case $out in
    '' | /*) ;;
    *) out=$PWD/$out ;;
    esac
}
