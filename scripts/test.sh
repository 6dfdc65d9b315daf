#!/usr/bin/env bash
# Installs what is missing (Debian), builds, and runs every test suite
# twice: in the release build, and in a build with AddressSanitizer and
# UndefinedBehaviorSanitizer; then fuzzes the .npy reader for 60 s
# (tests/fuzz/run.sh) and runs the strategies test for the threads strategy
# under ThreadSanitizer, each counted as one test. Ends with the line
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
pc_install "${PC_BUILD_PACKAGES[@]}" "${PC_TEST_PACKAGES[@]}" || exit 1

passed=0 failed=0 skipped=0
# Adds one build's meson test summary to the totals.
tally() {
    local log=$1/meson-logs/testlog.json n
    if [ ! -f "$log" ]; then
        failed=$((failed + 1))
        return
    fi
    n=$(grep -c '"result": "OK"' "$log"); passed=$((passed + n))
    n=$(grep -c '"result": "SKIP"' "$log"); skipped=$((skipped + n))
    n=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log"); failed=$((failed + n))
}

run_suite() {
    local build=$1
    shift
    if ! pc_build "$build" "$@"; then
        pc_log "build $build failed"
        failed=$((failed + 1))
        return
    fi
    rm -f "$build/meson-logs/testlog.json"
    meson test -C "$build" --print-errorlogs --num-processes 2 "${suite_args[@]}"
    tally "$build"
}

suite_args=()
run_suite build
# Leaks are reported too; the sanitizers stop the program at the first error.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The fault-injection suites (signals, disk full, a real Slurm) exercise the
# same code as the release run does and take minutes under the sanitizers:
# they run once, above.
suite_args=(--no-suite robust --no-suite slurm)
run_suite build-sanitize -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
    -Db_lundef=false

# One more test: passes if the command exits 0.
run_one() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        pc_log "$name failed"
        failed=$((failed + 1))
    fi
}

fuzz() {
    pc_install "${PC_FUZZ_PACKAGES[@]}" || return 1
    tests/fuzz/run.sh 60
}
run_one fuzz-npy fuzz

# Only the threads strategy (and serial, the reference): libgomp is not
# instrumented, so the omp strategy gives false reports. GCC instruments the
# resolvers of target_clones functions (pc_hash), which the dynamic loader
# runs before TSan is set up, so the program would crash at start; without
# the function entry/exit hooks they stay plain (reports then show one frame
# per access instead of a stack).
tsan() {
    pc_build build-tsan -Db_sanitize=thread -Dbuildtype=debugoptimized \
        -Dc_args=--param=tsan-instrument-func-entry-exit=0 || return 1
    TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}halt_on_error=1 \
        meson test -C build-tsan --print-errorlogs strategies --test-args threads
}
run_one tsan-threads tsan

line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
