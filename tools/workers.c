/* Default worker counts and shards from the CPUs the process may use and
 * the environment (OMP_NUM_THREADS, Slurm's variables). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A whole number from the environment; -1 if unset. */
static long env_long(const char *name, int *bad)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0) {
        *bad = 1;
        pc_error(PC_EUSAGE, "%s='%s' is not a whole number", name, s);
        return -1;
    }
    return v;
}

int cli_default_shard(cli_options *o)
{
    if (o->shard_n)
        return PC_OK;
    int bad = 0;
    long id = env_long("SLURM_ARRAY_TASK_ID", &bad);
    long count = env_long("SLURM_ARRAY_TASK_COUNT", &bad);
    long min = env_long("SLURM_ARRAY_TASK_MIN", &bad);
    long procid = env_long("SLURM_PROCID", &bad);
    long ntasks = env_long("SLURM_NTASKS", &bad);
    if (bad)
        return PC_EUSAGE;
    if (id >= 0 && count > 0) {
        /* Arrays may start anywhere (--array=1-7): count from the minimum.
         * Arrays with gaps or steps are not shardable by index. */
        long i = id - (min >= 0 ? min : 0);
        if (i < 0 || i >= count)
            return pc_error(PC_EUSAGE, "SLURM_ARRAY_TASK_ID=%ld is not within "
                            "%ld tasks from SLURM_ARRAY_TASK_MIN=%ld (use "
                            "--array=A-B without steps, or --shard I/N)", id,
                            count, min);
        o->shard_i = (size_t)i;
        o->shard_n = (size_t)count;
        o->shard_from = "Slurm job array";
    } else if (procid >= 0 && ntasks > 1) {
        if (procid >= ntasks)
            return pc_error(PC_EUSAGE, "SLURM_PROCID=%ld is not below "
                            "SLURM_NTASKS=%ld", procid, ntasks);
        o->shard_i = (size_t)procid;
        o->shard_n = (size_t)ntasks;
        o->shard_from = "srun tasks";
    }
    /* One shard of one is no shard at all. */
    if (o->shard_n == 1)
        o->shard_n = 0;
    return PC_OK;
}

const pc_cpu_info *cli_cpus(void)
{
    static pc_cpu_info ci;
    static bool have;
    if (!have) {
        pc_cpu_info_get(&ci);
        have = true;
    }
    return &ci;
}

int cli_default_threads(const cli_options *o, unsigned *n, const char **from)
{
    /* A malformed variable is refused even when -t overrides it. */
    unsigned omp, slurm;
    int st = pc_env_count("OMP_NUM_THREADS", &omp);
    if (st || (st = pc_env_count("SLURM_CPUS_PER_TASK", &slurm)))
        return st;
    if (o->threads) {
        *n = o->threads;
        *from = "--threads";
    } else if (omp) {
        *n = omp;
        *from = "OMP_NUM_THREADS";
    } else if (slurm) {
        *n = slurm;
        *from = "SLURM_CPUS_PER_TASK";
    } else {
        *n = cli_cpus()->usable;
        *from = cli_cpus()->from;
    }
    return PC_OK;
}

int cli_default_procs(const cli_options *o, unsigned *n, const char **from)
{
    static char cores_from[96];
    unsigned slurm;
    int st = pc_env_count("SLURM_CPUS_PER_TASK", &slurm);
    if (st)
        return st;
    const pc_cpu_info *ci = cli_cpus();
    if (o->procs) {
        *n = o->procs;
        *from = "--procs";
    } else if (slurm) {
        *n = slurm;
        *from = "SLURM_CPUS_PER_TASK";
    } else if (ci->cores && ci->cores < ci->usable) {
        /* A process per core: hyperthreads of one core share its FMA
         * units, so a second process there gains little. */
        *n = ci->cores;
        snprintf(cores_from, sizeof cores_from, "physical cores of %s",
                 ci->from);
        *from = cores_from;
    } else {
        *n = ci->usable;
        *from = ci->from;
    }
    return PC_OK;
}

bool cli_warn_oversubscribed(const cli_options *o, unsigned threads,
                             unsigned procs)
{
    const pc_cpu_info *ci = cli_cpus();
    bool t = false, p = false;
    for (int i = 0; i < o->nstrategies; i++) {
        t |= (o->strategies[i] == PC_THREADS || o->strategies[i] == PC_OMP) &&
             threads > ci->usable;
        p |= o->strategies[i] == PC_PROCS && procs > ci->usable;
    }
    if (!t && !p)
        return false;
    char what[64];
    if (t && p)
        snprintf(what, sizeof what, "%u threads and %u processes", threads,
                 procs);
    else
        snprintf(what, sizeof what, "%u %s", t ? threads : procs,
                 t ? "threads" : "processes");
    fprintf(stderr, "parconv: warning: %s on %u usable CPU%s (%s): "
            "oversubscribed, the workers take turns\n", what, ci->usable,
            ci->usable == 1 ? "" : "s", ci->from);
    return true;
}
