/* The command-line options, as cli.c parses them. The library knows
 * nothing of these. */
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
    G_STRATEGY = 1 << 4,
    G_MATRICES = 1 << 5,
    G_COMPRESS = 1 << 6,
};

/* -m may be given this many times. */
#define CLI_MAX_MATRICES 1024

typedef struct {
    enum cli_command cmd;
    size_t rows, cols, count, krows, kcols;
    unsigned given;
    pc_gen_params gen;
    /* -m FILE, each given (matrix_path: the first, NULL if none); or
     * --matrices N generated (nmat, 1 by default). */
    const char *matrix_path, *bank_path;
    const char *matrix_paths[CLI_MAX_MATRICES];
    size_t nmatrix_paths, nmat;
    pc_conv_params conv;
    pc_strategy strategies[PC_NSTRATEGIES];
    int nstrategies;
    /* -o without -S: omp alone (the compute-once default). */
    bool compute_once;
    const char *format; /* --format: an outfmt's name */
    int deflate;        /* --compress: -1 none, else the deflate level */
    unsigned threads, procs; /* 0: default */
    const char *json_path;
    bool quiet;
    const char *outdir;
    bool resume;
    bool force; /* --force: replace DIR's parconv files */
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

/* workers.c: the CPUs this process may use (read once). */
const pc_cpu_info *cli_cpus(void);
/* Worker counts and where they came from. Threads (threads, omp):
 * --threads, else OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else the
 * usable CPUs. Processes: --procs, else SLURM_CPUS_PER_TASK, else the
 * physical cores among the usable CPUs (never more than those), else the
 * usable CPUs. PC_EUSAGE for a malformed OMP_NUM_THREADS or
 * SLURM_CPUS_PER_TASK. */
int cli_default_threads(const cli_options *o, unsigned *n, const char **from);
int cli_default_procs(const cli_options *o, unsigned *n, const char **from);
/* One warning line on stderr if the strategies of -S would run more
 * threads or processes than usable CPUs; true if it warned. */
bool cli_warn_oversubscribed(const cli_options *o, unsigned threads,
                             unsigned procs);

/* --shard, else Slurm's job array or srun task variables; PC_EUSAGE for
 * malformed values. */
int cli_default_shard(cli_options *o);

/* demo.c: the demos; and the processes of `demo task` (argv[1] is
 * DEMO_TASK_FLAG), which return their exit status. */
int demo_run(const char *kind, double seconds);
int demo_task_worker(int argc, char **argv);
#define DEMO_TASK_FLAG "--pc-demo-task"

#endif
