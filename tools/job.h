/* The state of one run of the run subcommand: what run.c fills in phase
 * by phase, and what the report and the output directory read. The
 * library knows nothing of these. */
#ifndef PC_JOB_H
#define PC_JOB_H

#include "cli.h"
#include "h5input.h"

#include <limits.h>

typedef struct {
    pc_strategy strategy;
    unsigned workers;
    size_t kernels;   /* planes computed in this run (fewer after
                         --resume); kernels when there is one matrix */
    unsigned retried; /* procs workers restarted */
    double seconds;   /* the whole strategy, as "Executed in" says */
    double compute;   /* from the first worker's start to the last one's
                         end, summed over batches; the rest of seconds is
                         start/stop */
    double peak;      /* the FMA ceiling for this many workers, GFLOP/s */
    unsigned peak_threads; /* measured on this many threads (the workers,
                              but no more than the usable CPUs) */
    uint64_t checksum;
    uint64_t *sums; /* per plane of this run (job_plane) */
} job_run;

/* An input file as it was read, for the manifest's "inputs": what its
 * header says, where it is and the hash of its values. */
typedef struct {
    pc_npy_meta meta;
    char abs_path[PATH_MAX]; /* "" if unknown */
    /* xxHash64 of the values as doubles, C order; for a stack of matrices
     * (a 3-D file or dataset) the xxHash64 of each matrix's, in order */
    uint64_t hash;
} job_file;

/* One -m argument: a .npy file or an HDF5 dataset (h5 set), holding
 * matrices first .. first + nmat - 1 of the run. */
typedef struct {
    const char *path;  /* as given */
    job_file id;       /* .npy: its identity (hash once read) */
    h5_input *h5;      /* HDF5: what h5_open found; NULL for .npy */
    size_t first, nmat;
} job_source;

typedef struct {
    const cli_options *o;
    job_file bank_file;  /* -b: its identity */
    job_source *src;     /* -m, each (nsrc 0: generated matrices) */
    size_t nsrc;
    uint64_t *mhash;     /* each matrix's pc_hash as first read */
    pc_gen_stream *gen;  /* generated matrices: the stream, before */
    size_t gen_next;     /* matrix gen_next's draws */
    pc_matrix m;         /* the matrix the plan holds (inputs_matrix) */
    size_t m_index;      /* which one, SIZE_MAX if none yet */
    size_t plan_matrix;  /* the one the plan was made with */
    pc_bank b;           /* the plan's kernels, in plan order */
    pc_plan *plan;
    size_t rows, cols, krows, kcols; /* the workload's shapes */
    size_t nmat;         /* N matrices */
    /* The work is nmat x total planes: plane p is matrix p / total with
     * kernel p % total. Sharding: this run computes planes shard_i,
     * shard_i + shard_n, ... (1 shard of 1: all); count is how many. */
    size_t total, planes, count, shard_i, shard_n;
    const char *shard_from;
    /* The plan holds the kernels this shard needs, those of a residue
     * class mod shard_n together, so that each matrix's planes are one
     * range of plan kernels: kplan[i] is plan kernel i's number, kpos[k]
     * kernel k's place in the plan (SIZE_MAX: not there); pk of them. */
    size_t *kplan, *kpos, pk;
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
    /* -o: seconds the writer had planes to store or sync (and the final
     * commit), of them those not overlapped with computing (the compute
     * waiting for the writer, the commit), and its threads */
    double write_seconds, write_wait_seconds;
    unsigned writers;
    double wall_seconds; /* from the process's start to the report */
    double peak_rss;   /* bytes, this process and its largest child */
    const char *model_from; /* where the cost constants came from */
    size_t fft_P, fft_Q;    /* the FFT tiling, 0 for direct */
    double fft_error;  /* FFT vs direct on sample kernels, -1 if not FFT */
    size_t resumed;    /* planes found complete in DIR (--resume) */
    size_t batch;      /* kernels per batch */
    int interrupted;   /* the signal that stopped the run, 0 if none */
    size_t kernels_done; /* planes complete: in DIR with -o, else computed */
    double matrix_seconds; /* reading matrices and giving them to the plan */
    /* -o: the temporary the output format writes until the run is
     * complete ("" if none), as the manifest records it. */
    char partial[256];
} job;

/* Plane q of this run is plane job_global(j, q) of the workload. */
static inline size_t job_global(const job *j, size_t q)
{
    return j->shard_i + q * j->shard_n;
}

/* Plane q of this run: matrix *n, kernel *k. */
static inline void job_plane(const job *j, size_t q, size_t *n, size_t *k)
{
    size_t p = job_global(j, q);
    *n = p / j->total;
    *k = p % j->total;
}

/* This run's planes of matrix n: plan kernels [*a, *b), the first of them
 * plane *q0 of this run; *a == *b if it has none. */
static inline void job_matrix_planes(const job *j, size_t n, size_t *a,
                                     size_t *b, size_t *q0)
{
    size_t K = j->total, S = j->shard_n, I = j->shard_i;
    /* The kernels k with n*K + k = I (mod S): those of class c. */
    size_t c = (I + S - (n % S) * (K % S) % S) % S;
    size_t before = n * K > I ? (n * K - I + S - 1) / S : 0;
    *q0 = before;
    *a = *b = 0;
    if (c < K && j->kpos[c] != SIZE_MAX) {
        *a = j->kpos[c];
        *b = *a + (K - c + S - 1) / S;
    }
}

/* "kernels" for a run of one matrix, else "planes": what its counts
 * count, in messages. */
static inline const char *job_unit(const job *j)
{
    return j->nmat > 1 ? "planes" : "kernels";
}

/* Relative L-infinity error allowed between FFT and direct results: the
 * run refuses more, the report shows it. */
static inline double fft_tolerance(pc_dtype dtype)
{
    return dtype == PC_F32 ? 1e-4 : 1e-10;
}

#endif
