/* Default worker counts and shards from the machine and the environment
 * (OMP_NUM_THREADS, Slurm's variables). */
#include "cli.h"

#include <errno.h>
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

/* The first entry of an OpenMP-style list ("4" or "4,2"); -1 if unset. */
static int env_count(const char *name, unsigned *n)
{
    const char *s = getenv(name);
    if (!s)
        return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    while (*end == ' ')
        end++;
    if (errno || end == s || (*end && *end != ',') || v < 1 || v > 4096 ||
        s[0] == '-')
        return pc_error(PC_EUSAGE, "%s='%s' is not a thread count from 1 to "
                        "4096", name, s);
    *n = (unsigned)v;
    return PC_OK;
}

int cli_default_threads(unsigned *n, const char **from)
{
    int st = env_count("OMP_NUM_THREADS", n);
    if (st == PC_OK) {
        *from = "OMP_NUM_THREADS";
        return PC_OK;
    }
    if (st != -1)
        return st;
    st = env_count("SLURM_CPUS_PER_TASK", n);
    if (st == PC_OK) {
        *from = "SLURM_CPUS_PER_TASK";
        return PC_OK;
    }
    if (st != -1)
        return st;
    *n = pc_online_cpus();
    *from = "online CPUs";
    return PC_OK;
}

void cli_default_procs(unsigned *n, const char **from)
{
    unsigned cores = pc_physical_cores();
    if (cores) {
        *n = cores;
        *from = "physical cores";
    } else {
        *n = pc_online_cpus();
        *from = "online CPUs";
    }
}
