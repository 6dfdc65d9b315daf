#!/usr/bin/env bash
# The scaling study: installs what is missing (Debian), builds, runs
#   parconv sweep threads --runs 5 --method direct
#   parconv sweep threads --runs 5 --method fft
# (omp and procs with 1..T workers, T = --max [online CPUs], the median of
# the runs each) twice each, to see how well a measurement repeats: prints
# the two runs' efficiencies side by side and the relative difference of
# their seconds, and plots the first runs with bench/plot_scaling.py.
# Writes, in OUT:
#   threads_direct_run1.csv, threads_direct_run1.json   one row per strategy
#   threads_direct_run2.csv, threads_direct_run2.json   and worker count
#   threads_fft_run1.csv, ... threads_fft_run2.json     (the same for fft)
#   scaling.png   speedup vs workers of the first runs, with the ideal y = x
#
# Usage: bench/scaling.sh [--out DIR] [parconv sweep threads options...]
#   OUT is --out DIR, else $SCALING_OUT, else scaling-results/ in the
#   repository (with a .gitignore of its own that keeps it out of git); it
#   is created if missing. The other arguments go to both `parconv sweep
#   threads` runs; --runs given there replaces the default 5, e.g.
#   bench/scaling.sh -n 2000 -k 64 --max 8
#   bench/scaling.sh --out /tmp/scal --dtype f32 --runs 9
# The method is the script's (both are run) and it names the CSV and JSON
# itself: --method, --csv and --json are refused.
# It reports timings and never asserts them: shared machines are noisy.
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
pc_out_arg scaling.sh "${SCALING_OUT:-}" "$@"
shift "$pc_shift"
cd "$(dirname "$0")/.."
default_out=
if [ -z "$out" ]; then
    out=$PWD/scaling-results
    default_out=1
fi


# parconv refuses an option given twice, so --runs 5 is added only when the
# arguments do not set it; what the script sets itself is refused.
runs=(--runs 5)
for a in "$@"; do
    case $a in
    --runs | --runs=*) runs=() ;;
    --csv | --csv=* | --json | --json=*)
        pc_log "scaling.sh writes the CSV and JSON to OUT itself; use --out DIR"
        exit 2
        ;;
    --method | --method=*)
        pc_log "scaling.sh runs both --method direct and --method fft itself"
        exit 2
        ;;
    --out | --out=*)
        pc_log "scaling.sh: --out DIR must come first"
        exit 2
        ;;
    esac
done

pc_install "${PC_BUILD_PACKAGES[@]}" python3-matplotlib
pc_build build

mkdir -p "$out"
# The default OUT is inside the repository: keep it out of git.
if [ -n "$default_out" ] && [ ! -e "$out/.gitignore" ]; then
    printf '# bench/scaling.sh output, not tracked\n*\n' >"$out/.gitignore"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/parconv-scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A private copy of the binary just built, so that every run measures the
# same program even if build/ is rebuilt meanwhile (procs workers re-execute
# /proc/self/exe, so the copy is self-contained).
bin=$work/parconv-bin
cp build/tools/parconv "$bin"

methods=(direct fft)
# Run 1 of both methods, then run 2 of both: the two runs of a method are
# apart in time, so the comparison sees slow drifts of the machine's load.
for rep in 1 2; do
    for m in "${methods[@]}"; do
        base=$out/threads_${m}_run$rep
        args=(sweep threads "${runs[@]}" --method "$m" --csv "$base.csv"
            --json "$base.json" "$@")
        echo
        echo "== $m, run $rep =="
        pc_log "parconv ${args[*]}"
        "$bin" "${args[@]}"
    done
done

# The two runs side by side: efficiency of each, and how far run 2's
# seconds are from run 1's, (run2 - run1) / run1.
compare() {
    awk -F, -v m="$1" '
        FNR == 1 { next }
        NR == FNR { key[FNR] = $1 "," $2; s1[FNR] = $3; e1[FNR] = $5; n1 = FNR; next }
        {
            if (!(FNR in key) || key[FNR] != $1 "," $2) {
                printf "scaling.sh: %s: the two runs have different rows\n", m > "/dev/stderr"
                bad = 1
                exit 1
            }
            s2[FNR] = $3; e2[FNR] = $5; n2 = FNR
        }
        END {
            if (bad) exit 1
            if (n1 != n2) {
                printf "scaling.sh: %s: the two runs have %d and %d rows\n", m, n1 - 1, n2 - 1 > "/dev/stderr"
                exit 1
            }
            printf "\n%s: run 1 against run 2\n", m
            printf "%-8s %7s %10s %10s %10s %10s %9s\n", "strategy", "workers",
                "eff run1", "eff run2", "s run1", "s run2", "s diff"
            worst = 0
            for (i = 2; i <= n1; i++) {
                split(key[i], k, ",")
                d = (s2[i] - s1[i]) / s1[i]
                if ((d < 0 ? -d : d) > worst) { worst = d < 0 ? -d : d; wk = k[1] " x" k[2] }
                printf "%-8s %7s %9.1f%% %9.1f%% %10.5f %10.5f %+8.1f%%\n", k[1], k[2],
                    100 * e1[i], 100 * e2[i], s1[i], s2[i], 100 * d
            }
            printf "largest difference of the seconds: %.1f%% (%s)\n", 100 * worst, wk
        }' "$out/threads_$1_run1.csv" "$out/threads_$1_run2.csv"
}
for m in "${methods[@]}"; do
    compare "$m"
done

jsons=()
for m in "${methods[@]}"; do
    jsons+=("$out/threads_${m}_run1.json")
done
/usr/bin/python3 bench/plot_scaling.py "${jsons[@]}" -o "$out/scaling.png" >/dev/null

echo
echo "tables: $out/threads_{direct,fft}_run{1,2}.csv"
echo "JSON:   $out/threads_{direct,fft}_run{1,2}.json"
echo "plot:   $out/scaling.png"
