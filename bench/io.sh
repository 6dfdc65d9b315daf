#!/usr/bin/env bash
# A batch job's whole time: `parconv -o DIR` of the default workload
# (1000x1000 matrix, 100 kernels of 10x10, f64, full: 100 planes of
# 1009x1009 as .npy, about 815 MB), whole-process wall time measured from
# this script, against the floors of writing the same bytes on the same disk:
#   * dd if=/dev/zero of=FILE bs=1M conv=fsync of the same number of bytes
#     (one file, one fsync: the issue's yardstick);
#   * the same number of files of the same sizes, each written from memory
#     and fsynced by one process (what parconv must do at least to leave each
#     plane durable on its own);
#   * dd oflag=direct bs=8M conv=fsync of the same bytes (one file: the
#     disk's rate with direct I/O, as parconv's writer uses it).
# The four are run alternately, ROUNDS times (the order rotated each
# round), each into a fresh directory next to the build (not tmpfs: checked)
# that is removed right after. Prints the target line with best-of and
# median figures, and the JSON report's write times of parconv's runs.
# It reports timings and never asserts them: shared machines are noisy.
#
# Usage: bench/io.sh [ROUNDS]                                        [4]
# Environment:
#   IO_DIR       where the files go             [build/io-bench in the tree]
#   PARCONV_BIN  the parconv to measure         [build/tools/parconv, built]
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
cd "$(dirname "$0")/.."
rounds=${1:-4}
case $rounds in
'' | *[!0-9]* | 0)
    echo "io.sh: ROUNDS must be a positive integer" >&2
    exit 2
    ;;
esac
if [ -z "${PARCONV_BIN:-}" ]; then
    pc_install "${PC_BUILD_PACKAGES[@]}" python3
    pc_build build
fi
bin=${PARCONV_BIN:-$PWD/build/tools/parconv}
dir=${IO_DIR:-$PWD/build/io-bench}
mkdir -p "$dir"
fs=$(stat -f -c %T "$dir")
case $fs in
tmpfs | ramfs)
    echo "io.sh: $dir is on $fs, not a disk; set IO_DIR" >&2
    exit 2
    ;;
esac
trap 'rm -rf "$dir/run" "$dir/dd.bin" "$dir/files"' EXIT

# The default workload, spelled out so the benchmark stays pinned to it.
workload=(--size 1000x1000 --count 100 --ksize 10x10 --range 0:100 --seed 42
          --dtype f64 --mode full -S omp)
now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
# Removes a run's data and lets the disk settle before the next one: with
# `-o discard` ext4 trims freed blocks at its next journal commit, which
# the next run's first fsync would otherwise wait for.
clear_out() {
    rm -rf "$@"
    sync
}

# Sizes of parconv's files, from a first run (not timed): the floors write
# exactly as many bytes in as many files.
rm -rf "$dir/run"
"$bin" "${workload[@]}" -o "$dir/run" -q
mapfile -t sizes < <(find "$dir/run" -name 'conv_*.npy' -printf '%s\n')
nfiles=${#sizes[@]}
bytes=0
for s in "${sizes[@]}"; do bytes=$((bytes + s)); done
clear_out "$dir/run"
pc_log "io.sh: $nfiles files, $bytes bytes, in $dir ($fs); $rounds rounds"

t_parconv=() t_dd=() t_files=() t_ddd=()
run_parconv() {
    local t0 t1
    rm -rf "$dir/run"
    t0=$(now)
    "$bin" "${workload[@]}" -o "$dir/run" -q --json "$dir/report-$1.json"
    t1=$(now)
    clear_out "$dir/run"
    t_parconv+=("$(echo "$t1 - $t0" | bc -l)")
}
# Exactly $bytes as one file, one fsync, with dd's further operands:
# blocks of 1 MiB through the cache (the target's yardstick, into t_dd),
# or of 8 MiB with direct I/O, the disk's rate as parconv's writer uses it
# (dd writes the last partial block through the cache, as parconv does;
# into t_ddd).
run_dd() {
    local -n into=$1
    shift
    local t0 t1
    t0=$(now)
    dd if=/dev/zero of="$dir/dd.bin" count="$bytes" iflag=count_bytes \
        conv=fsync status=none "$@"
    t1=$(now)
    clear_out "$dir/dd.bin"
    into+=("$(echo "$t1 - $t0" | bc -l)")
}
run_files() {
    local t
    rm -rf "$dir/files"
    mkdir "$dir/files"
    # One process: the time of the writes and fsyncs, from its own clock.
    t=$(python3 - "$dir/files" "${sizes[@]}" <<'EOF'
import os, sys, time
d, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
buf = bytearray(max(sizes))
for i in range(0, len(buf), 4096):
    buf[i] = 1  # touched: no page of it is the shared zero page
t0 = time.perf_counter()
for i, n in enumerate(sizes):
    fd = os.open(os.path.join(d, f"f{i:05d}"), os.O_WRONLY | os.O_CREAT, 0o644)
    view = memoryview(buf)[:n]
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
    os.close(fd)
print(time.perf_counter() - t0)
EOF
)
    clear_out "$dir/files"
    t_files+=("$t")
}

for ((r = 1; r <= rounds; r++)); do
    case $((r % 3)) in
    1) run_parconv "$r"; run_dd t_dd bs=1M; run_files; run_dd t_ddd bs=8M oflag=direct ;;
    2) run_dd t_dd bs=1M; run_files; run_dd t_ddd bs=8M oflag=direct; run_parconv "$r" ;;
    0) run_files; run_dd t_ddd bs=8M oflag=direct; run_parconv "$r"; run_dd t_dd bs=1M ;;
    esac
    pc_log "round $r: parconv ${t_parconv[-1]} s, dd ${t_dd[-1]} s, files ${t_files[-1]} s, dd direct ${t_ddd[-1]} s"
done

python3 - "$dir" "$rounds" "$nfiles" "${t_parconv[*]}" "${t_dd[*]}" "${t_files[*]}" "${t_ddd[*]}" <<'EOF'
import json, statistics, sys
d, rounds, nfiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pc, dd, fl, dio = ([float(x) for x in a.split()] for a in sys.argv[4:8])
med = statistics.median
ratio = min(pc) / min(dd)
print(f"target -o default workload <= 1.15x dd conv=fsync: parconv {min(pc):.3f} s, "
      f"dd {min(dd):.3f} s = {ratio:.2f}x (best of {rounds}; median "
      f"{med(pc):.3f} s / {med(dd):.3f} s = {med(pc) / med(dd):.2f}x, per-round "
      f"ratios {' '.join(f'{p / q:.2f}' for p, q in zip(pc, dd))}) "
      f"{'MET' if ratio <= 1.15 else 'NOT MET'}")
print(f"floor of {nfiles} files of the same sizes, each written and fsynced: "
      f"{min(fl):.3f} s best, {med(fl):.3f} s median; parconv = "
      f"{min(pc) / min(fl):.2f}x best, {med(pc) / med(fl):.2f}x median")
print(f"the same bytes with direct I/O (dd oflag=direct bs=8M conv=fsync, one "
      f"file): {min(dio):.3f} s best, {med(dio):.3f} s median; parconv = "
      f"{min(pc) / min(dio):.2f}x best, {med(pc) / med(dio):.2f}x median")
rep = [json.load(open(f"{d}/report-{r}.json")) for r in range(1, rounds + 1)]
best = min(range(rounds), key=lambda i: pc[i])
for name, key in (("wall (report)", "wall_seconds"), ("set-up", "setup_seconds"),
                  ("writing", "write_seconds"),
                  ("writing not overlapped", "write_wait_seconds")):
    v = [x.get(key, float("nan")) for x in rep]
    print(f"  {name:24s} {v[best]:.3f} s in the best run, median {med(v):.3f} s")
print(f"  writer threads {rep[best].get('writer_threads')}, batch "
      f"{rep[best]['batch_kernels']} kernels, compute (omp) "
      f"{rep[best]['runs'][0]['seconds']:.3f} s in the best run")
EOF
rm -f "$dir"/report-*.json
