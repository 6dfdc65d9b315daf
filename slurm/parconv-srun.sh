#!/usr/bin/env bash
# One Slurm job of N tasks: `srun -n N parconv -o OUT ...` runs N copies of
# parconv, each of which takes its shard from SLURM_PROCID of SLURM_NTASKS
# (kernels I, I+N, I+2N, ...), all into OUT; then `parconv merge OUT`
# checks and combines them. The tasks may land on several nodes (OUT must
# then be on a shared filesystem).
#
#   sbatch -n 3 slurm/parconv-srun.sh           as a batch job
#   salloc -n 3 slurm/parconv-srun.sh           inside an allocation
#   (or inside an interactive allocation: slurm/parconv-srun.sh)
#
# What to edit (or give on the sbatch/salloc command line):
#   --ntasks          N, the number of shards (here 3)
#   --cpus-per-task   cores per task (OMP_NUM_THREADS follows it; 1 if unset)
#   --time, --partition (uncomment), --output
#   PARCONV           the parconv binary       (environment, default: parconv on PATH)
#   OUT               the output directory     (environment, default: results)
#   PARCONV_ARGS      the workload and options (environment, default below)
#   NTASKS            the tasks srun starts    (default: SLURM_NTASKS, the
#                     allocation's, else 3)
#   SRUN_ARGS         more srun options (e.g. "--overcommit" to run more
#                     tasks than the allocation has CPUs)
#
# The time limit: --signal=TERM@120 (no B:) signals the job steps, so every
# parconv task gets SIGTERM and stops after its batch (exit 143, srun then
# fails and the merge is not run). Submit the job again: --resume continues
# each shard where it stopped.
#
#SBATCH --job-name=parconv-srun
#SBATCH --ntasks=3
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
##SBATCH --partition=debug
#SBATCH --signal=TERM@120
#SBATCH --output=parconv-srun-%j.out

set -u

PARCONV=${PARCONV:-parconv}
OUT=${OUT:-results}
PARCONV_ARGS=${PARCONV_ARGS:--n 4000 -k 1000 -s 15 --method direct -S omp}
read -r -a args <<<"$PARCONV_ARGS"
read -r -a srun_args <<<"${SRUN_ARGS:-}"
n=${NTASKS:-${SLURM_NTASKS:-3}}
cpt=${SLURM_CPUS_PER_TASK:-1}

# srun does not pass --cpus-per-task on from the job by itself (Slurm 22.05
# and later): give it explicitly, and the thread count with it.
export OMP_NUM_THREADS=$cpt
export OMP_PROC_BIND=${OMP_PROC_BIND:-close}
export OMP_PLACES=${OMP_PLACES:-cores}

mkdir -p "$OUT" || exit 1
echo "parconv-srun.sh: job ${SLURM_JOB_ID:-?}: $n tasks of $cpt CPUs, OUT=$OUT," \
    "at $(date '+%F %T')"

srun --ntasks="$n" --cpus-per-task="$cpt" "${srun_args[@]}" \
    "$PARCONV" -o "$OUT" --resume "${args[@]}"
rc=$?
echo "parconv-srun.sh: srun exit $rc at $(date '+%T')"
if [ "$rc" -ne 0 ]; then
    echo "parconv-srun.sh: not merging; submit again to resume the shards" >&2
    exit "$rc"
fi

# One task is no shard: parconv then wrote OUT/manifest.json itself.
if [ "$n" -eq 1 ]; then
    exit 0
fi
# merge runs in this shell, not as a step: it reads no SLURM_PROCID.
"$PARCONV" merge "$OUT"
rc=$?
echo "parconv-srun.sh: parconv merge exit $rc"
exit "$rc"
