#!/bin/sh
# Direct convolution against the FMA ceiling (issue #13): the default
# workload (1000x1000, 100 kernels of 10x10, mode full), f64 and f32, -S
# serial and -S omp, each run's GFLOP/s as a share of the higher of two
# ceilings measured in the same rounds: bench/ceiling.c's assembly loop
# and `parconv peak`'s C loop (the one the report's %peak uses). The four
# are run alternately, ROUNDS times, so a busy moment hits them alike.
#
# Usage: bench/direct.sh [BUILD_DIR [ROUNDS]]     (defaults: build 4)
# Prints one target line per dtype (serial, one core) with the best and the
# median share over the rounds, MET or NOT MET, then the omp runs' shares
# (against T x the one-core ceiling or the run's own T-thread ceiling,
# whichever is higher). x86-64 with GCC or clang; python3 reads the JSON.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
rounds=${2:-4}
parconv="$build/tools/parconv"
[ -x "$parconv" ] || { echo "direct.sh: no $parconv (build first)" >&2; exit 2; }
case $rounds in ''|*[!0-9]*|0) echo "direct.sh: ROUNDS must be a positive integer" >&2; exit 2;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
${CC:-cc} -O2 -o "$tmp/ceiling" "$here/ceiling.c"

r=1
while [ "$r" -le "$rounds" ]; do
    "$tmp/ceiling" 10 > "$tmp/ceiling.$r"
    for dt in f64 f32; do
        "$parconv" peak -t 1 --dtype "$dt" > "$tmp/peak.$dt.$r"
        "$parconv" --dtype "$dt" -S serial,omp -q --json "$tmp/run.$dt.$r"
    done
    r=$((r + 1))
done

python3 - "$tmp" "$rounds" <<'EOF'
import json, re, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
target = {"f64": 90.0, "f32": 85.0}
for dt in ("f64", "f32"):
    share = {"serial": [], "omp": []}
    ceils, sums = [], set()
    for r in range(1, rounds + 1):
        run = json.load(open(f"{tmp}/run.{dt}.{r}"))
        isa = run["workload"]["isa"]
        reg = "zmm" if isa == "avx512" else "ymm"
        asm = 0.0
        for line in open(f"{tmp}/ceiling.{r}"):
            if line.startswith(f"{reg} {dt} "):
                asm = float(line.split()[-1])
        if isa == "generic":
            asm = 0.0  # the assembly loops are not the generic kernels' ceiling
        m = re.search(r"1 core\s+([\d.]+)", open(f"{tmp}/peak.{dt}.{r}").read())
        c = max(asm, float(m.group(1)) if m else 0.0)
        ceils.append((asm, c))
        for x in run["runs"]:
            sums.add(x["checksum"])
            if x["strategy"] == "serial":
                share["serial"].append(100 * x["gflops"] / c)
            else:
                own = x.get("peak_gflops") or 0.0
                share["omp"].append(100 * x["gflops"] / max(own, x["workers"] * c))
    s = share["serial"]
    best, med = max(s), statistics.median(s)
    asm_best = max(a for a, _ in ceils)
    c_best = max(c for _, c in ceils)
    print(f"target {dt} direct >= {target[dt]:.0f}% of FMA ceiling: {best:.1f}% "
          f"(best of {rounds}; median {med:.1f}%) {'MET' if best >= target[dt] else 'NOT MET'}")
    print(f"  {dt} ceiling {c_best:.1f} GFLOP/s per core (asm loop {asm_best:.1f}); "
          f"omp {max(share['omp']):.1f}% best, {statistics.median(share['omp']):.1f}% median; "
          f"checksum {' '.join(sorted(sums))}")
EOF
