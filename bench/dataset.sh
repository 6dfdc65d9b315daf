#!/usr/bin/env bash
# The dataset benchmark (issue 12): a filter bank over a stack of matrices.
# 64 matrices of 512x512 (float64, made reproducibly from data/ascent.npy by
# bench/dataset_peers.py: turned, mirrored, shifted and noised from a fixed
# seed) with data/gabor.npy (24 kernels of 31x31), --mode same --boundary
# symm: 1536 planes. Planes per second, side by side in one run, for
#   * parconv -m stack.npy -S omp, one run over the whole stack: without -o
#     (compute only, the base of the ratios), and with -o in each format
#     (npy, stack, hdf5, hdf5 with --compress deflate): the run's whole wall
#     time, writing included, median of BENCH_RUNS runs (3), of
#     BENCH_DEFLATE_RUNS (1) with deflate (HDF5's deflate compresses ~45
#     MB/s on one core: a minute or more for the 3.2 GB); the runs of the
#     configurations are interleaved so that a burst of load from elsewhere
#     hits them alike;
#   * scipy.signal.convolve2d(..., 'same', boundary='symm') over a
#     multiprocessing.Pool of all usable cores, on the first
#     BENCH_CONVOLVE2D_PLANES planes (48: ~0.5 s per plane on one core);
#   * scipy.signal.fftconvolve over the same pool (the matrix padded
#     symmetrically, mode 'valid': the same numbers), on the first
#     BENCH_FFTCONVOLVE_PLANES planes (768: ~15 ms per plane on one core);
# median of BENCH_PEER_RUNS maps (3) each. Every format's output is read
# back (numpy.load, h5py) and checked on a few planes against convolve2d,
# as are the pools' results. Prints the table, the ratios and the output
# sizes per format (du), and writes everything as JSON to
# OUT/dataset.json (OUT: --out DIR, else $DATASET_OUT, else bench-results/).
# It reports timings and never asserts them: shared machines are noisy; it
# exits 1 if a check of the results fails (after writing the JSON).
# The outputs (about 3.2 GB per format, one format at a time) go to a
# temporary directory under ${TMPDIR:-/tmp}: point TMPDIR at the
# filesystem to measure (the table names it and its type).
#
# Usage: bench/dataset.sh [--out DIR]
# Environment:
#   BENCH_RUNS                parconv runs per configuration (median)  [3]
#   BENCH_DEFLATE_RUNS        parconv runs with --compress (median)    [1]
#   BENCH_PEER_RUNS           maps of each scipy pool (median)         [3]
#   BENCH_CONVOLVE2D_PLANES   planes given to the convolve2d pool      [48]
#   BENCH_FFTCONVOLVE_PLANES  planes given to the fftconvolve pool     [768]
#   BENCH_COMPRESS            the compressed HDF5 run's --compress     [deflate]
#   BENCH_MATRICES            matrices in the stack                    [64]
#   BENCH_KERNELS             the first kernels of data/gabor.npy      [24]
#   (fewer matrices and kernels make a quick check of the script, e.g.
#   BENCH_MATRICES=4 BENCH_KERNELS=6 bench/dataset.sh --out /tmp/dbench)
#   BENCH_PER_MATRIX=1        for testing the script against a parconv
#                             without the dataset options only: one parconv
#                             per matrix, compute only and npy; its figures
#                             are not the benchmark's
set -euo pipefail
export LC_NUMERIC=C # $EPOCHREALTIME with a decimal point

# shellcheck source=scripts/setup.sh
. "$(dirname "$0")/../scripts/setup.sh"
pc_out_arg dataset.sh "${DATASET_OUT:-}" "$@"
shift "$pc_shift"
if [ $# -ne 0 ]; then
    echo "usage: bench/dataset.sh [--out DIR]" >&2
    exit 2
fi
# $out, then from the top of the tree: install, build, $work and $bin.
pc_bench_setup dataset "${out:+$out/dataset.json}" python3-h5py

runs=${BENCH_RUNS:-3}
deflate_runs=${BENCH_DEFLATE_RUNS:-1}
peer_runs=${BENCH_PEER_RUNS:-3}
c2d_planes=${BENCH_CONVOLVE2D_PLANES:-48}
fft_planes=${BENCH_FFTCONVOLVE_PLANES:-768}
nmat=${BENCH_MATRICES:-64}
nker=${BENCH_KERNELS:-24}
compress=${BENCH_COMPRESS:-deflate}
per_matrix=${BENCH_PER_MATRIX:-0}
for v in "$runs" "$deflate_runs" "$peer_runs" "$c2d_planes" "$fft_planes" "$nmat" "$nker"; do
    case $v in
    '' | *[!0-9]* | 0)
        pc_log "BENCH_RUNS, BENCH_DEFLATE_RUNS, BENCH_PEER_RUNS, BENCH_CONVOLVE2D_PLANES," \
            "BENCH_FFTCONVOLVE_PLANES, BENCH_MATRICES and BENCH_KERNELS must be positive integers"
        exit 2
        ;;
    esac
done
case $per_matrix in
0 | 1) ;;
*)
    pc_log "BENCH_PER_MATRIX must be 0 or 1"
    exit 2
    ;;
esac

if ! "$bin" run --help 2>&1 | grep -q -- '--format'; then
    if [ "$per_matrix" != 1 ]; then
        pc_log "parconv has no --format: build the dataset version (issue 12)"
        exit 1
    fi
elif [ "$per_matrix" = 1 ]; then
    pc_log "BENCH_PER_MATRIX=1 is for testing the script against an older parconv only"
fi
mkdir -p "$(dirname "$out")"
planes=$((nmat * nker))
((c2d_planes <= planes)) || c2d_planes=$planes
((fft_planes <= planes)) || fft_planes=$planes

peers() {
    # OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (set on some machines for old
    # OpenBLAS builds) are unset for the Python half, as bench.sh does.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/dataset_peers.py "$@"
}

pc_log "inputs: $nmat matrices of 512x512, the first $nker kernels of data/gabor.npy"
split=()
[ "$per_matrix" = 1 ] && split=(--split)
peers inputs --matrices "$nmat" --kernels "$nker" "${split[@]}" --out "$work/in"

common=(-b "$work/in/bank.npy" --mode same --boundary symm --dtype f64 -S omp -q)
configs=(compute npy stack hdf5 hdf5deflate)
[ "$per_matrix" = 1 ] && configs=(compute npy)
outdir=$work/out

# One timed run of configuration $1, the $2-th: the whole process's wall
# time goes to times.tsv, its JSON report to parconv/CONFIG-RUN.json.
run_config() {
    local cfg=$1 i=$2 t0 t1 status=0 o=() n
    case $cfg in
    compute) ;;
    hdf5deflate) o=(-o "$outdir" --format hdf5 --compress "$compress") ;;
    *) o=(-o "$outdir" --format "$cfg") ;;
    esac
    rm -rf "$outdir"
    t0=$EPOCHREALTIME
    if [ "$per_matrix" = 1 ]; then
        for ((n = 0; n < nmat; n++)); do
            [ "$cfg" = compute ] || o=(-o "$outdir/$(printf 'm%05d' "$n")")
            "$bin" -m "$work/in/m/$(printf 'm%05d' "$n").npy" "${common[@]}" "${o[@]}" ||
                { status=$?; break; }
        done
    else
        "$bin" -m "$work/in/stack.npy" "${common[@]}" "${o[@]}" \
            --json "$work/parconv/$cfg-$i.json" || status=$?
    fi
    t1=$EPOCHREALTIME
    echo "$cfg $i $t0 $t1 $status" >>"$work/parconv/times.tsv"
    if [ "$status" -ne 0 ]; then
        pc_log "parconv ($cfg, run $i) failed with status $status"
        exit 1
    fi
}

pc_log "parconv: ${configs[*]}, $runs runs each$([ "$per_matrix" = 1 ] ||
    echo " (hdf5deflate $deflate_runs)"), $planes planes per run"
for ((i = 1; i <= runs || i <= deflate_runs; i++)); do
    for cfg in "${configs[@]}"; do
        n=$runs
        [ "$cfg" = hdf5deflate ] && n=$deflate_runs
        ((i <= n)) || continue
        run_config "$cfg" "$i"
        # After the last run, the checked planes and the size are kept and
        # the outputs removed, so that one format's outputs exist at a time.
        if ((i == n)) && [ "$cfg" != compute ]; then
            peers extract --format "${cfg%deflate}" --dir "$outdir" \
                --matrices "$nmat" --kernels "$nker" --out "$work/parconv/extract-$cfg.npz"
        fi
    done
done
output_fs=$(df -P "$work" | awk 'NR == 2 { print $6 }')
output_fstype=$(stat -f -c %T "$work")
rm -rf "$outdir"

pc_log "peers: scipy convolve2d ($c2d_planes planes) and fftconvolve ($fft_planes planes)" \
    "over a process pool"
pm=()
[ "$per_matrix" = 1 ] && pm=(--per-matrix)
peers report --inputs "$work/in" --parconv "$work/parconv" --out "$out" \
    --runs "$runs" --deflate-runs "$deflate_runs" --peer-runs "$peer_runs" \
    --convolve2d-planes "$c2d_planes" --fftconvolve-planes "$fft_planes" \
    --compress "$compress" "${pm[@]}" \
    --output-fs "$output_fs" --output-fstype "$output_fstype" --parconv-bin "$bin"
