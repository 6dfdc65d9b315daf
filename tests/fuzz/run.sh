#!/usr/bin/env bash
# Fuzzes the .npy reader for SECONDS seconds with libFuzzer, ASan and UBSan.
#
# Usage: tests/fuzz/run.sh SECONDS [libFuzzer flags...]
#
# Builds tests/fuzz/fuzz_npy.c with the reader's sources into build-fuzz/,
# copies the seed corpus (tests/fuzz/corpus) into a scratch directory under
# build-fuzz/ and runs the fuzzer there. Exits 0 if nothing was found (the
# scratch directory is then removed); otherwise prints the crash report and
# the path of the input that caused it, keeps the scratch directory, and
# exits 1. Needs clang and its runtime (Debian: clang, libclang-rt-14-dev).
# Reproduce a finding with: build-fuzz/fuzz_npy PATH_OF_THE_INPUT
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
    echo "usage: tests/fuzz/run.sh SECONDS [libFuzzer flags...]" >&2
    exit 2
fi
seconds=$1
shift

out=build-fuzz
cc=${FUZZ_CC:-clang}
mkdir -p "$out"
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi
# The reader and what it calls: pc_error (error.c), pc_matrix_alloc and
# pc_bank_alloc (arrays.c).
if ! "$cc" -std=c11 -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -D_GNU_SOURCE -Iinclude -Isrc \
        tests/fuzz/fuzz_npy.c src/npy.c src/error.c src/arrays.c -lm \
        -o "$out/fuzz_npy"; then
    echo "fuzz: building $out/fuzz_npy failed" >&2
    exit 1
fi

scratch=$(mktemp -d "$out/run.XXXXXX") || exit 1
mkdir -p "$scratch/corpus" "$scratch/artifacts"
cp tests/fuzz/corpus/* "$scratch/corpus/"
log=$scratch/fuzz.log

# Stop at the first error of any sanitizer; report leaks (the defaults, but
# the caller's environment may say otherwise).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1

echo "fuzz: fuzz_npy for ${seconds}s (log: $log)"
"$out/fuzz_npy" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$scratch/artifacts/" "$@" \
    "$scratch/corpus" >"$log" 2>&1
status=$?

# The last status line: "#N DONE cov: C ft: F corp: K/SIZE ...".
grep -E '^#[0-9]+' "$log" | tail -n 1 | sed 's/^/fuzz: /'
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
    "$log" | sed 's/^/fuzz: /'

found=$(find "$scratch/artifacts" -type f ! -name 'slow-unit-*' | sort)
if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz: FAILED (libFuzzer exit status $status); the end of the log:"
    tail -n 80 "$log"
    if [ -n "$found" ]; then
        echo "fuzz: input(s) that failed (reproduce with $out/fuzz_npy FILE):"
        printf '  %s\n' $found
    else
        echo "fuzz: no crash input was saved; see $log"
    fi
    exit 1
fi
rm -rf "$scratch"
echo "fuzz: no findings"
exit 0
