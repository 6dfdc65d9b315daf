/* The state of one run of the run subcommand: what run.c fills in phase
 * by phase, and what the report and the output directory read. The
 * library knows nothing of these. */
#ifndef PC_JOB_H
#define PC_JOB_H

#include "cli.h"

#include <limits.h>

typedef struct {
    pc_strategy strategy;
    unsigned workers;
    size_t kernels;   /* computed in this run (fewer after --resume) */
    unsigned retried; /* procs workers restarted */
    double seconds;   /* the whole strategy, as "Executed in" says */
    double compute;   /* from the first worker's start to the last one's
                         end, summed over batches; the rest of seconds is
                         start/stop */
    double peak;      /* the FMA ceiling for this many workers, GFLOP/s */
    unsigned peak_threads; /* measured on this many threads (the workers,
                              but no more than the usable CPUs) */
    uint64_t checksum;
    uint64_t *sums; /* per kernel */
} job_run;

/* An input file as it was read, for the manifest's "inputs": what its
 * header says, where it is and the hash of its values. */
typedef struct {
    pc_npy_meta meta;
    char abs_path[PATH_MAX]; /* "" if unknown */
    uint64_t hash;       /* xxHash64 of the values as doubles, C order */
} job_file;

typedef struct {
    const cli_options *o;
    job_file matrix_file, bank_file; /* -m, -b: their identity */
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
