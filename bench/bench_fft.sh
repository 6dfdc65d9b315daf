#!/usr/bin/env bash
# Benchmarks parconv's FFT method where it matters: 100 kernels of 64x64
# (integers in [0,100), seed 42) on a 1000x1000 matrix, mode full, f64, side
# by side in one run with
#   * parconv --method fft, all four strategies, median of BENCH_RUNS runs (5);
#   * parconv --method direct -S omp on the first BENCH_DIRECT_KERNELS kernels
#     (20: the direct sum at 64x64 takes ~50 ms per kernel on two cores),
#     median of BENCH_DIRECT_RUNS runs (2), for the FFT/direct ratio;
#   * the overlap-save floor (bench/fft_floor.c: per kernel only its r2c and
#     per tile a multiply, a c2r and the copy of the valid part, at the best
#     tile and kernel-group sizes, FFTW_MEASURE), alternating with parconv
#     --method fft -S omp for BENCH_FLOOR_ROUNDS rounds (5) on the same
#     threads; the best of each against the best of the other is the target
#     line printed last (ratio <= 1.15);
#   * scipy.signal.fftconvolve and scipy.signal.oaconvolve (mode 'full') over
#     a multiprocessing.Pool of all cores, pool.starmap over the first
#     BENCH_SCIPY_KERNELS kernels (40: scipy takes ~150-300 ms per kernel on
#     one core), median of BENCH_PEER_RUNS runs (3).
# Everyone reads the same inputs, written once with `parconv gen`. parconv's
# -o outputs for the first 4 kernels (FFT and direct) are checked against
# scipy's results (allclose, rtol 1e-9) and the exact integer result.
# Prints ms/kernel for each and the ratios, and writes everything as JSON to
# bench-results/bench_fft.json, or to the path given as $1.
# It reports timings and never asserts them: shared machines are noisy.
#
# Environment:
#   BENCH_RUNS            parconv --method fft runs (median taken)      [5]
#   BENCH_DIRECT_RUNS     parconv --method direct -S omp runs           [2]
#   BENCH_DIRECT_KERNELS  kernels given to the direct run               [20]
#   BENCH_PEER_RUNS       runs of each scipy pool measurement (median)  [3]
#   BENCH_SCIPY_KERNELS   kernels given to the scipy pools              [40]
#   BENCH_FLOOR_ROUNDS    rounds of fft_floor against parconv -S omp    [5]
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
# $out, then from the top of the tree: install, build, $work and $bin.
pc_bench_setup bench_fft "${1:-}"

runs=${BENCH_RUNS:-5}
direct_runs=${BENCH_DIRECT_RUNS:-2}
direct_kernels=${BENCH_DIRECT_KERNELS:-20}
peer_runs=${BENCH_PEER_RUNS:-3}
scipy_kernels=${BENCH_SCIPY_KERNELS:-40}
floor_rounds=${BENCH_FLOOR_ROUNDS:-5}
verify_kernels=4
for v in "$runs" "$direct_runs" "$direct_kernels" "$peer_runs" "$scipy_kernels" "$floor_rounds"; do
    case $v in
    '' | *[!0-9]* | 0)
        pc_log "BENCH_RUNS, BENCH_DIRECT_RUNS, BENCH_DIRECT_KERNELS, BENCH_PEER_RUNS, BENCH_SCIPY_KERNELS and BENCH_FLOOR_ROUNDS must be positive integers"
        exit 2
        ;;
    esac
done
[ "$direct_kernels" -le 100 ] || direct_kernels=100
mkdir -p "$(dirname "$out")"

# The workload, spelled out so the benchmark stays pinned to it. The same
# seed with fewer kernels gives the first kernels of the full bank (the
# matrix is drawn first, then the kernels in order); the Python part checks.
workload=(--size 1000x1000 --ksize 64x64 --range 0:100 --seed 42 --dtype f64)
"$bin" gen -o "$work/in" --count 100 "${workload[@]}" >&2
"$bin" gen -o "$work/direct-in" --count "$direct_kernels" "${workload[@]}" >&2
"$bin" gen -o "$work/verify-in" --count "$verify_kernels" "${workload[@]}" >&2
matrix=$work/in/matrix.npy

# parconv's -o outputs for the verification (not timed).
for method in fft direct; do
    "$bin" -m "$matrix" -b "$work/verify-in/bank.npy" --mode full --dtype f64 \
        --method "$method" -S omp -q -o "$work/verify-$method"
done

# The timed runs, the direct ones interleaved with the first FFT runs so
# that a burst of load from elsewhere hits both alike.
pc_log "parconv: $runs runs of --method fft -S serial,procs,threads,omp (100 kernels)," \
    "$direct_runs of --method direct -S omp ($direct_kernels kernels)"
for ((i = 1; i <= runs || i <= direct_runs; i++)); do
    if ((i <= runs)); then
        "$bin" -m "$matrix" -b "$work/in/bank.npy" --mode full --dtype f64 \
            --method fft -S serial,procs,threads,omp -q --json "$work/parconv/fft-$i.json"
    fi
    if ((i <= direct_runs)); then
        "$bin" -m "$matrix" -b "$work/direct-in/bank.npy" --mode full --dtype f64 \
            --method direct -S omp -q --json "$work/parconv/direct-$i.json"
    fi
done

# The overlap-save floor against parconv -S omp, alternately, so that load
# from elsewhere hits both alike. The first round screens every tile and
# group size (FFTW_MEASURE plans, kept as wisdom for the later rounds);
# the later rounds time its best candidates again. fft_floor takes the
# worker count parconv's omp run reported.
floor_bin=$work/fft_floor
cp build/bench/fft_floor "$floor_bin"
pc_log "floor: $floor_rounds rounds of fft_floor alternating with parconv --method fft -S omp"
configs=()
for ((i = 1; i <= floor_rounds; i++)); do
    "$bin" -m "$matrix" -b "$work/in/bank.npy" --mode full --dtype f64 \
        --method fft -S omp -q --json "$work/parconv/floor-omp-$i.json"
    workers=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["runs"][0]["workers"])' \
        "$work/parconv/floor-omp-$i.json")
    "$floor_bin" -n 1000x1000 -s 64x64 -k 100 -t "$workers" -r 3 \
        --wisdom "$work/floor.wisdom" "${configs[@]}" >"$work/floor-$i.txt"
    [ ${#configs[@]} -gt 0 ] || configs=(--configs "$(sed -n 's/^configs //p' "$work/floor-$i.txt")")
done

# The peers, the checks, the table and the JSON. Debian's python has numpy
# and scipy. OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some machines for
# old OpenBLAS builds) are unset for these timings only.
pc_log "peers: scipy fftconvolve and oaconvolve over a process pool ($scipy_kernels kernels)"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/bench_fft_peers.py \
    --inputs "$work/in" --direct-inputs "$work/direct-in" \
    --verify-inputs "$work/verify-in" \
    --verify-fft "$work/verify-fft" --verify-direct "$work/verify-direct" \
    --parconv "$work/parconv" --runs "$runs" --direct-runs "$direct_runs" \
    --peer-runs "$peer_runs" --scipy-kernels "$scipy_kernels" \
    --parconv-bin "$bin" --out "$out"

# The target line, last, and the floor's figures into the JSON.
/usr/bin/python3 - "$work" "$floor_rounds" "$out" <<'PY'
import json, re, sys
work, rounds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pc, fl = [], []
for i in range(1, rounds + 1):
    r = json.load(open(f"{work}/parconv/floor-omp-{i}.json"))
    run = r["runs"][0]
    pc.append({"ms_per_kernel": run["compute_seconds"] * 1e3 / run["kernels"],
               "workers": run["workers"], "fft": r.get("fft")})
    m = re.search(r"^floor ([0-9.]+) ms/kernel (\d+)x(\d+) group (\d+) threads (\d+)",
                  open(f"{work}/floor-{i}.txt").read(), re.M)
    fl.append({"ms_per_kernel": float(m[1]), "P": int(m[2]), "Q": int(m[3]),
               "group": int(m[4]), "threads": int(m[5])})
bp = min(pc, key=lambda x: x["ms_per_kernel"])
bf = min(fl, key=lambda x: x["ms_per_kernel"])
ratio = bp["ms_per_kernel"] / bf["ms_per_kernel"]
spread = (f"parconv {min(x['ms_per_kernel'] for x in pc):.2f}-{max(x['ms_per_kernel'] for x in pc):.2f}, "
          f"floor {min(x['ms_per_kernel'] for x in fl):.2f}-{max(x['ms_per_kernel'] for x in fl):.2f} ms; "
          f"floor at {bf['P']}x{bf['Q']}, group {bf['group']}, {bf['threads']} threads")
met = ratio <= 1.15
summary = {"target": 1.15, "ratio": ratio, "met": met, "rounds": rounds,
           "parconv_ms_per_kernel": bp["ms_per_kernel"],
           "floor_ms_per_kernel": bf["ms_per_kernel"],
           "parconv_rounds": pc, "floor_rounds": fl}
try:
    with open(out) as f:
        doc = json.load(f)
    doc["fft_floor"] = summary
    with open(out + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
    import os
    os.replace(out + ".tmp", out)
except (OSError, ValueError) as e:
    print(f"bench_fft: cannot add the floor to {out}: {e}", file=sys.stderr)
print(f"target FFT 64x64 on 1000x1000 f64 <= 1.15x the overlap-save floor: "
      f"parconv {bp['ms_per_kernel']:.2f} ms/kernel, floor {bf['ms_per_kernel']:.2f} ms/kernel "
      f"= {ratio:.2f}x (best of {rounds}; spread {spread}) {'MET' if met else 'NOT MET'}")
PY
