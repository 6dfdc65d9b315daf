/* The command-line program's own types: options and the state of one run.
 * The library knows nothing of these. */
#ifndef PC_CLI_H
#define PC_CLI_H

#include "parconv.h"

#include <stdbool.h>
#include <stdio.h>

enum cli_command { CMD_RUN, CMD_GEN, CMD_DEMO, CMD_PEAK, CMD_CALIBRATE,
                   CMD_SWEEP, CMD_MERGE, CMD_COUNT };

/* Which options were given, to refuse repeats and conflicts. */
enum cli_given {
    G_SIZE = 1 << 0,
    G_COUNT = 1 << 1,
    G_KSIZE = 1 << 2,
    G_METHOD = 1 << 3,
};

typedef struct {
    enum cli_command cmd;
    size_t rows, cols, count, krows, kcols;
    unsigned given;
    pc_gen_params gen;
    const char *matrix_path, *bank_path;
    pc_conv_params conv;
    pc_strategy strategies[PC_NSTRATEGIES];
    int nstrategies;
    unsigned threads, procs; /* 0: default */
    const char *json_path;
    bool quiet;
    const char *outdir;
    bool resume;
    double worker_timeout; /* seconds, 0: none */
    unsigned retries;
    double max_mem;        /* bytes, 0: what the machine has */
    size_t shard_i, shard_n; /* --shard I/N (n = 0: not given) */
    const char *shard_from;
    const char *merge_dir;
    const char *calibration; /* cost-model file; NULL: the default one */
    size_t sweep_from, sweep_to, sweep_step;
    bool sweep_threads;
    unsigned sweep_max;
    int sweep_runs;
    const char *csv_path;
    const char *demo; /* "sleep", "lock" or "task" */
    double demo_seconds;
} cli_options;

/* cli.c: parses argv by the option table (options.c); prints the help or
 * the version and sets *exit_now on request. Returns 0 or PC_EUSAGE with
 * pc_errmsg() set. */
int cli_parse(int argc, char **argv, cli_options *o, bool *exit_now);

/* workers.c: default worker counts and where they came from. Returns
 * PC_EUSAGE for a malformed OMP_NUM_THREADS or SLURM_CPUS_PER_TASK. */
int cli_default_threads(unsigned *n, const char **from);
void cli_default_procs(unsigned *n, const char **from);

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
} job;

/* Relative L-infinity error allowed between FFT and direct results. */
double fft_tolerance(pc_dtype dtype);

/* Kernel k of this run is kernel job_global(j, k) of the workload. */
static inline size_t job_global(const job *j, size_t k)
{
    return j->shard_i + k * j->shard_n;
}

/* --shard, else Slurm's job array or srun task variables; PC_EUSAGE for
 * malformed values. */
int cli_default_shard(cli_options *o);

/* merge.c: parconv merge DIR. */
int merge_run(const cli_options *o, const char *dir);

/* The OpenMP runtime's settings (omp_get_*), one line. */
void omp_settings(char *buf, size_t n);

/* GFLOP/s of a run over its compute time (after start-up), and that as a
 * fraction of the ceiling. */
double job_gflops(const job *j, const job_run *r);
double job_pct_peak(const job *j, const job_run *r);

/* report.c */
void report_workload(FILE *f, const job *j);
void report_run_box(FILE *f, const job_run *r);
void report_summary(FILE *f, const job *j);
void json_string(FILE *f, const char *s);
void json_workload(FILE *f, const job *j, const char *indent);
/* Writes the JSON report to f (opened early, so a bad path fails before
 * the work), then closes it unless it is stdout. */
int report_json(FILE *f, const char *path, const job *j);

/* sink.c: creates DIR (and parents) before any work, so a bad -o fails
 * at once. */
int sink_prepare(const char *dir);
/* sink.c: the manifest's workload object (what --resume compares), the
 * manifest (written atomically; lists the kernels done), and kernels
 * [k0, k1) from an arena holding just them, each written to a temporary
 * name, synced and renamed (skip[k]: already there). */
void manifest_workload(FILE *f, const job *j);
/* manifest.json, or manifest.shard-I-of-N.json for a shard. */
void manifest_name(const job *j, char *buf, size_t n);
/* Removes what a killed run of this shard left half-written (its own
 * .conv_*.tmp and manifest temporaries; other shards' are left alone). */
void sink_clean_temps(const char *dir, size_t shard_i, size_t shard_n);
int sink_manifest(const job *j, const uint64_t *sums, const bool *done);
int sink_write_batch(const job *j, const pc_arena *arena, size_t k0, size_t k1,
                     const bool *skip);

/* resume.c */
typedef struct {
    char *text;      /* the whole manifest */
    char *workload;  /* its workload object */
    char method[16], isa[16];
    size_t P, Q;     /* FFT tile, 0 for direct */
} resume_info;
/* 1 if DIR has no manifest (of that name). */
int resume_read(const char *dir, const char *name, resume_info *ri);
void resume_free(resume_info *ri);
/* Is DIR/conv_<g>.npy a complete plane of that dtype and shape with that
 * checksum? */
bool npy_file_ok(const char *dir, size_t g, pc_dtype dt, size_t orows,
                 size_t ocols, uint64_t sum);
/* Refuses another workload (PC_EUSAGE, naming the difference); marks the
 * kernels whose files check out. */
int resume_check(const job *j, const resume_info *ri, bool *done,
                 uint64_t *sums, size_t *ndone);

/* gen: DIR/matrix.npy and DIR/bank.npy in the chosen dtype. */
int sink_inputs(const cli_options *o, const pc_matrix *m, const pc_bank *b);

/* demo.c */
int demo_run(const char *kind, double seconds);
/* calibrate.c: the cost model's constants, measured; and reading them. */
int calibrate_run(const cli_options *o);
/* Fills o->conv.cost_direct/cost_fft from the calibration file (the one
 * given, else the default one if it exists); sets *from to its path or
 * "built-in". */
int calibration_load(cli_options *o, const char **from);
/* sweep.c: parconv sweep ksize. */
int sweep_run(const cli_options *o, unsigned workers);
int sweep_threads_run(const cli_options *o, unsigned tmax);
/* peak: the FMA ceiling per core and for the threads used. */
int peak_run(const cli_options *o, unsigned threads, const char *from);

/* progress.c */
typedef struct {
    FILE *f; /* NULL: silent */
    bool tty, drawn;
    const char *label;
    size_t total;
    double t0, last;
    int last_tenth;
} progress;
void progress_start(progress *p, FILE *f, const char *label, size_t total);
void progress_update(progress *p, size_t done, size_t base);
void progress_end(progress *p);

/* Formats a byte count for people ("814.0 MB"). */
const char *human_bytes(double bytes, char *buf, size_t n);

#endif
