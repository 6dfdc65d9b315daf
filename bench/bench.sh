#!/usr/bin/env bash
# Benchmarks the default workload (1000x1000 matrix, 100 kernels of 10x10,
# integers in [0,100), seed 42, mode full) in f64 and f32: every parconv
# strategy, median of BENCH_RUNS runs (5), side by side in one run with the
# peers a user would pick instead, on the same inputs (written once with
# `parconv gen` and read back by everyone):
#   * scipy.signal.convolve2d over a multiprocessing.Pool of all cores (the
#     Python original's best), on a subset of the kernels;
#   * OpenCV cv2.filter2D, made to compute the same full convolution;
#   * PyTorch torch.nn.functional.conv2d (Debian's python3-torch) in f32 and
#     f64, the bank as output channels, results checked against parconv's.
# Prints a table per dtype and writes everything as JSON to
# bench-results/bench.json, or to the path given as $1.
# It reports timings and never asserts them: shared machines are noisy.
#
# Environment:
#   BENCH_RUNS           parconv runs per dtype (median taken)       [5]
#   BENCH_PEER_RUNS      runs of each peer measurement (median)      [3]
#   BENCH_SCIPY_KERNELS  kernels given to the scipy process pool     [20]
#   BENCH_CV_KERNELS     kernels given to OpenCV                     [100]
#   BENCH_TORCH_SECONDS  seconds one torch call may take (as many
#                        kernels as fit)                             [10]
set -euo pipefail

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
# $out, then from the top of the tree: install, build, $work and $bin.
pc_bench_setup bench "${1:-}" "${PC_PYBENCH_PACKAGES[@]}"

runs=${BENCH_RUNS:-5}
peer_runs=${BENCH_PEER_RUNS:-3}
scipy_kernels=${BENCH_SCIPY_KERNELS:-20}
cv_kernels=${BENCH_CV_KERNELS:-100}
torch_seconds=${BENCH_TORCH_SECONDS:-10}
for v in "$runs" "$peer_runs" "$scipy_kernels" "$cv_kernels"; do
    case $v in
    '' | *[!0-9]* | 0)
        pc_log "BENCH_RUNS, BENCH_PEER_RUNS, BENCH_SCIPY_KERNELS and BENCH_CV_KERNELS must be positive integers"
        exit 2
        ;;
    esac
done
case $torch_seconds in
'' | *[!0-9.]* | *.*.* | . | 0 | 0.0*)
    pc_log "BENCH_TORCH_SECONDS must be a positive number of seconds"
    exit 2
    ;;
esac
mkdir -p "$(dirname "$out")"

# The default workload, spelled out so the benchmark stays pinned to it.
workload=(--size 1000x1000 --count 100 --ksize 10x10 --range 0:100 --seed 42)
for dtype in f64 f32; do
    "$bin" gen -o "$work/$dtype" --dtype "$dtype" "${workload[@]}" >&2
done

# parconv: all four strategies per invocation; the dtypes interleaved so
# that a burst of load from elsewhere hits both alike.
pc_log "parconv: $runs runs of serial,procs,threads,omp for f64 and f32"
for ((i = 1; i <= runs; i++)); do
    for dtype in f64 f32; do
        "$bin" -m "$work/$dtype/matrix.npy" -b "$work/$dtype/bank.npy" \
            --dtype "$dtype" --mode full -S serial,procs,threads,omp \
            -q --json "$work/parconv/$dtype-$i.json"
    done
done

# The peers, then the tables and the JSON. Debian's python has numpy, scipy
# and OpenCV. OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some machines for
# old OpenBLAS builds) are unset for these timings only.
pc_log "peers: scipy convolve2d over a process pool, OpenCV filter2D, torch conv2d"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/bench_peers.py \
    --inputs "$work" --parconv "$work/parconv" --runs "$runs" \
    --peer-runs "$peer_runs" --scipy-kernels "$scipy_kernels" \
    --cv-kernels "$cv_kernels" --torch-seconds "$torch_seconds" \
    --parconv-bin "$bin" --out "$out"
