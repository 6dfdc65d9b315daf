#!/usr/bin/env bash
# The crossover study: installs what is missing (Debian), builds, runs
#   parconv sweep ksize --from 3 --to 65 --step 2 (direct against FFT per
#   kernel size, and what --method auto chose)
# and plots it with bench/plot_crossover.py. Writes, in OUT:
#   sweep_ksize.csv   one row per kernel size
#   sweep_ksize.json  the same with the workload (plot_crossover.py's input)
#   crossover.png     ms/kernel vs kernel size, auto's choice, the crossover
#
# Usage: bench/sweep.sh [--out DIR] [parconv sweep options...]
#   OUT is --out DIR, else $SWEEP_OUT, else sweep-results/ in the repository;
#   it is created if missing. The other arguments go to `parconv sweep ksize`;
#   --from/--to/--step given there replace the defaults 3/65/2, e.g.
#   bench/sweep.sh -n 1000 -k 32 --dtype f32 --runs 5
#   bench/sweep.sh --to 33 -S threads
# It reports timings and never asserts them: shared machines are noisy.
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
pc_out_arg sweep.sh "${SWEEP_OUT:-}" "$@"
shift "$pc_shift"
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

# The range defaults to 3..65 step 2; parconv refuses an option given twice,
# so a default is added only when the arguments do not set it. The CSV and
# JSON always go to OUT.
range=()
for opt in --from:3 --to:65 --step:2; do
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

args=(sweep ksize "${range[@]}" --csv "$out/sweep_ksize.csv"
    --json "$out/sweep_ksize.json" "$@")
pc_log "parconv ${args[*]}"
"$bin" "${args[@]}"

/usr/bin/python3 bench/plot_crossover.py "$out/sweep_ksize.json" \
    "$out/crossover.png" >/dev/null

echo
echo "table:  $out/sweep_ksize.csv"
echo "JSON:   $out/sweep_ksize.json"
echo "plot:   $out/crossover.png"
