#!/usr/bin/env bash
# Installs what is missing (Debian), builds, and runs every test suite
# twice: in the release build, and in a build with AddressSanitizer and
# UndefinedBehaviorSanitizer. Ends with the line "N passed, N failed".
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
    meson test -C "$build" --print-errorlogs --num-processes 2
    tally "$build"
}

run_suite build
# Leaks are reported too; the sanitizers stop the program at the first error.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite build-sanitize -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
    -Db_lundef=false

line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
