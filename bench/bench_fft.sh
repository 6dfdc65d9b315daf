#!/usr/bin/env bash
# Benchmarks parconv's FFT method where it matters: 100 kernels of 64x64
# (integers in [0,100), seed 42) on a 1000x1000 matrix, mode full, f64, side
# by side in one run with
#   * parconv --method fft, all four strategies, median of BENCH_RUNS runs (5);
#   * parconv --method direct -S omp on the first BENCH_DIRECT_KERNELS kernels
#     (20: the direct sum at 64x64 takes ~50 ms per kernel on two cores),
#     median of BENCH_DIRECT_RUNS runs (2), for the FFT/direct ratio;
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
verify_kernels=4
for v in "$runs" "$direct_runs" "$direct_kernels" "$peer_runs" "$scipy_kernels"; do
    case $v in
    '' | *[!0-9]* | 0)
        pc_log "BENCH_RUNS, BENCH_DIRECT_RUNS, BENCH_DIRECT_KERNELS, BENCH_PEER_RUNS and BENCH_SCIPY_KERNELS must be positive integers"
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
