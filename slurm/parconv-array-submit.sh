#!/usr/bin/env bash
# Submits slurm/parconv-array.sbatch (the shards) and then
# slurm/parconv-merge.sbatch with --dependency=afterok on the array, so the
# merge runs when every shard has succeeded. Prints the two job ids (sbatch
# --parsable), one a line: the array's, then the merge job's.
#
#   OUT=/scratch/$USER/run1 PARCONV_ARGS='-n 4000 -k 1000 -s 15' \
#       slurm/parconv-array-submit.sh [--array=0-15 -c 8 ...]
#
# Arguments are sbatch options for the array job (they win over its
# #SBATCH lines: --array, --cpus-per-task, --time, --partition, --output).
# Environment (passed on to both jobs):
#   PARCONV        the parconv binary (default: parconv on PATH)
#   OUT            the output directory on a shared filesystem (default:
#                  results); created here, before the shards start
#   PARCONV_ARGS   the workload (see parconv-array.sbatch)
#   MERGE_SBATCH_ARGS  sbatch options for the merge job (e.g. "-p short -t 10")
#   WAIT           1: wait for the merge job to end (sbatch --wait) and exit
#                  with its status (a merge that can never run, because a
#                  shard failed, is cancelled: --kill-on-invalid-dep=yes)
#
# If a shard fails, the merge job is cancelled (--kill-on-invalid-dep=yes)
# rather than left pending: resume that shard (see parconv-array.sbatch),
# then run `parconv merge OUT` or `OUT=... sbatch slurm/parconv-merge.sbatch`.
set -u

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
export PARCONV=${PARCONV:-parconv}
export OUT=${OUT:-results}
[ -n "${PARCONV_ARGS:-}" ] && export PARCONV_ARGS

mkdir -p "$OUT" || exit 1

array_id=$(sbatch --parsable "$@" "$here/parconv-array.sbatch") || {
    echo "parconv-array-submit: sbatch of the array failed" >&2
    exit 1
}
array_id=${array_id%%;*} # "ID;cluster" on multi-cluster set-ups
echo "$array_id"

read -r -a merge_args <<<"${MERGE_SBATCH_ARGS:-}"
wait_args=()
[ "${WAIT:-0}" = 1 ] && wait_args=(--wait)
# With --wait, sbatch prints the id when the job is submitted and exits with
# the job's status when it has ended.
sbatch --parsable --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
    "${wait_args[@]}" "${merge_args[@]}" "$here/parconv-merge.sbatch"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "parconv-array-submit: merge job (after array $array_id): sbatch exit $rc" >&2
fi
exit "$rc"
