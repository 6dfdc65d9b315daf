/* The state of one run of the run subcommand: what run.c fills in phase
 * by phase, and what the report and the output directory read. The
 * library knows nothing of these. */
#ifndef PC_JOB_H
#define PC_JOB_H

#include "cli.h"

typedef struct {
    pc_strategy strategy;
    unsigned workers;
    size_t kernels;   /* computed in this run (fewer after --resume) */
    unsigned retried; /* procs workers restarted */
    double seconds;   /* the whole strategy, as "Executed in" says */
    double compute;   /* the critical worker's compute time (summed over
                         batches); the rest of seconds is start/stop */
    double peak;      /* the FMA ceiling for this many workers, GFLOP/s */
    uint64_t checksum;
    uint64_t *sums; /* per kernel */
} job_run;

typedef struct {
    const cli_options *o;
    pc_matrix m;
    pc_bank b;
    pc_plan *plan;
    size_t rows, cols, count, krows, kcols; /* the workload's shapes */
    /* Sharding: this run computes kernels shard_i, shard_i + shard_n, ...
     * of the workload's total; count is how many (1 shard of 1: all). */
    size_t total, shard_i, shard_n;
    const char *shard_from;
    size_t orows, ocols;
    int swapped;
    unsigned threads, procs;
    const char *threads_from, *procs_from;
    double setup_seconds;
    double mem_estimate;
    job_run runs[PC_NSTRATEGIES];
    int nruns;
    bool verified;
    char mismatch[256];
    double write_seconds;
    double peak_rss;   /* bytes, this process and its largest child */
    const char *model_from; /* where the cost constants came from */
    size_t fft_P, fft_Q;    /* the FFT tiling, 0 for direct */
    double fft_error;  /* FFT vs direct on sample kernels, -1 if not FFT */
    size_t resumed;    /* kernels found complete in DIR (--resume) */
    size_t batch;      /* kernels per batch */
    int interrupted;   /* the signal that stopped the run, 0 if none */
    size_t kernels_done; /* complete: in DIR with -o, else computed */
} job;

/* Kernel k of this run is kernel job_global(j, k) of the workload. */
static inline size_t job_global(const job *j, size_t k)
{
    return j->shard_i + k * j->shard_n;
}

/* Relative L-infinity error allowed between FFT and direct results: the
 * run refuses more, the report shows it. */
static inline double fft_tolerance(pc_dtype dtype)
{
    return dtype == PC_F32 ? 1e-4 : 1e-10;
}

#endif
