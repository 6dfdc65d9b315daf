#!/usr/bin/env bash
# The crossover study: installs what is missing (Debian), builds, runs
#   parconv sweep ksize --from 3 --to 65 --step 2 --runs 5 (direct and FFT
#   per kernel size, timed in turn, best of the runs, and what --method
#   auto chose: the loss is its method's time over the better one's)
# SWEEPS times (3), and prints, per kernel size, auto's time against the
# better of direct and FFT in each sweep and the loss, then the target line
#   target auto <= 10% behind the better method, ksize 3..65: worst X% at
#   ksize K (sweep i of N) MET/NOT MET
# (bench/sweep_target.py), and plots the last sweep with
# bench/plot_crossover.py. Writes, in OUT:
#   sweep_ksize-I.csv   one row per kernel size, sweep I
#   sweep_ksize-I.json  the same with the workload (plot_crossover.py's input)
#   sweep_ksize.json    a copy of the last sweep's
#   crossover.png       ms/kernel vs kernel size, auto's choice, the crossover
#
# Usage: bench/sweep.sh [--out DIR] [--sweeps N] [parconv sweep options...]
#   OUT is --out DIR, else $SWEEP_OUT, else sweep-results/ in the repository;
#   it is created if missing. --sweeps N (else $SWEEPS, else 3): how many
#   sweeps; the target must hold in every one. The other arguments go to
#   `parconv sweep ksize`; --from/--to/--step/--runs given there replace the
#   defaults 3/65/2/5, e.g.
#   bench/sweep.sh -n 1000 -k 32 --dtype f32 --runs 7
#   bench/sweep.sh --sweeps 1 --to 33 -S threads
# It reports timings and never asserts them: shared machines are noisy, and
# that is the condition auto must stand (its trial near the crossover).
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
pc_out_arg sweep.sh "${SWEEP_OUT:-}" "$@"
shift "$pc_shift"
sweeps=${SWEEPS:-3}
if [ "${1:-}" = --sweeps ]; then
    [ $# -ge 2 ] || { echo "sweep.sh: --sweeps needs a count" >&2; exit 2; }
    sweeps=$2
    shift 2
fi
case $sweeps in
'' | *[!0-9]* | 0)
    echo "sweep.sh: --sweeps (SWEEPS) must be a positive integer" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."
[ -n "$out" ] || out=$PWD/sweep-results

pc_install "${PC_BUILD_PACKAGES[@]}" python3-matplotlib python3-numpy
pc_build build

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/parconv-sweep.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A private copy of the binary just built, so that the whole sweep measures
# one program even if build/ is rebuilt meanwhile.
bin=$work/parconv-bin
cp build/tools/parconv "$bin"

# The range defaults to 3..65 step 2, best of 5 runs; parconv refuses an option given twice,
# so a default is added only when the arguments do not set it. The CSV and
# JSON always go to OUT.
range=()
for opt in --from:3 --to:65 --step:2 --runs:5; do
    name=${opt%%:*}
    given=
    for a in "$@"; do
        case $a in
        "$name" | "$name"=*) given=1 ;;
        --csv | --csv=* | --json | --json=*)
            pc_log "sweep.sh writes the CSV and JSON to OUT itself; use --out DIR"
            exit 2
            ;;
        esac
    done
    [ -n "$given" ] || range+=("$name" "${opt#*:}")
done

files=()
for ((i = 1; i <= sweeps; i++)); do
    args=(sweep ksize "${range[@]}" --csv "$out/sweep_ksize-$i.csv"
        --json "$out/sweep_ksize-$i.json" "$@")
    pc_log "sweep $i of $sweeps: parconv ${args[*]}"
    "$bin" "${args[@]}"
    files+=("$out/sweep_ksize-$i.json")
done
cp "$out/sweep_ksize-$sweeps.json" "$out/sweep_ksize.json"

/usr/bin/python3 bench/plot_crossover.py "$out/sweep_ksize.json" \
    "$out/crossover.png" >/dev/null

echo
/usr/bin/python3 bench/sweep_target.py "${files[@]}"
echo
echo "tables: $out/sweep_ksize-{1..$sweeps}.csv"
echo "JSON:   $out/sweep_ksize-{1..$sweeps}.json"
echo "plot:   $out/crossover.png (sweep $sweeps)"
