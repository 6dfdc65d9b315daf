/* Command-line parsing: argv and the environment into cli_options. Every
 * malformed value is refused with one line naming it (PC_EUSAGE). */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char help_text[] =
"Usage: parconv [run] [OPTIONS]          apply a kernel bank, compare strategies\n"
"       parconv gen -o DIR [INPUTS]      write the generated inputs as .npy\n"
"       parconv demo sleep|lock [--seconds S]   the threads lesson\n"
"       parconv peak [--dtype D] [--isa I] [-t T]   the FMA ceiling\n"
"       parconv calibrate [--dtype D] [--isa I] [--calibration FILE]\n"
"       parconv merge DIR                 combine sharded results\n"
"       parconv sweep threads [--max T] [--runs R] [--csv F] [--json F]\n"
"       parconv sweep ksize --from A --to B [--step S] [--runs R]\n"
"                       [--csv FILE] [--json FILE] [-n N] [-k K] [-S s]\n"
"       parconv -h, --help | -V, --version\n"
"\n"
"parconv applies every kernel of a bank to a matrix, exactly as\n"
"scipy.signal.convolve2d(matrix, kernel, mode, boundary, fillvalue) does,\n"
"once for each strategy chosen, times each run, checks that all runs agree\n"
"bit for bit, and prints a report.\n"
"\n"
"Inputs (generated unless a file is given):\n"
"  -n, --size RxC        matrix size, or N for NxN              [1000x1000]\n"
"  -k, --count K         number of kernels                      [100]\n"
"  -s, --ksize RxC       kernel size, or N for NxN              [10x10]\n"
"      --range LO:HI     integer values uniform in [LO,HI)      [0:100]\n"
"      --seed S          GSL mt19937 seed (0 means GSL's 4357)  [42]\n"
"                        The matrix is drawn first, then the kernels in\n"
"                        order: one seed gives the same numbers everywhere.\n"
"  -m, --matrix FILE     read the matrix from a 2-D .npy file\n"
"  -b, --bank FILE       read the kernels from a 3-D .npy file (K x R x C),\n"
"                        or a 2-D one for a single kernel\n"
"                        .npy versions 1.0-3.0; float64/32, int64/32/16/8,\n"
"                        uint64/32/16/8 or bool; C or Fortran order. With a\n"
"                        file, --size/--count/--ksize may be given only if\n"
"                        they match it.\n"
"\n"
"Convolution (scipy.signal.convolve2d's meaning):\n"
"      --mode M          full, same or valid                    [full]\n"
"                        valid: when the kernel is at least as large as the\n"
"                        matrix in both dimensions the two are swapped, as\n"
"                        scipy does; when neither contains the other it is\n"
"                        an error.\n"
"      --boundary B      fill, wrap or symm (scipy's pad, circular and\n"
"                        symmetric are accepted too)            [fill]\n"
"      --fillvalue V     the value outside the matrix for fill  [0]\n"
"      --dtype D         f64 or f32: compute and output type    [f64]\n"
"      --method M        direct, fft or auto                    [auto]\n"
"                        direct: the SIMD direct sum; fft: FFTW overlap-\n"
"                        save (input tile spectra computed once, per kernel\n"
"                        one r2c, a multiply and one c2r per tile); auto:\n"
"                        whichever the cost model says is faster (direct ~\n"
"                        outputs x taps, FFT ~ tiles x P*Q*log2(P*Q), as\n"
"                        scipy's choose_conv_method), both estimates shown\n"
"      --fft-plan E      FFTW planning: estimate or measure     [estimate]\n"
"      --fft-size PxQ    FFT transform size instead of timing the candidates\n"
"                        (the manifest records the one used; pin it to get\n"
"                        the same bits from separately planned runs)\n"
"      --wisdom FILE     FFTW wisdom: imported before planning, saved after\n"
"                        (created if missing; one file per dtype)\n"
"      --calibration F   the cost model's constants, as written by\n"
"                        'parconv calibrate' [$PARCONV_CALIBRATION, else\n"
"                        ~/.config/parconv/calibration if present, else\n"
"                        built-in]\n"
"      --isa I           auto, avx512, avx2 or generic: the instruction set\n"
"                        of the direct kernels; auto takes the best this\n"
"                        CPU has                                [auto]\n"
"\n"
"Strategies:\n"
"  -S, --strategy LIST   comma-separated from serial,procs,threads,omp, run\n"
"                        in that order           [serial,procs,threads,omp]\n"
"                        serial   one loop over the kernels\n"
"                        procs    worker processes started with posix_spawn;\n"
"                                 inputs and results shared through a\n"
"                                 memory mapping\n"
"                        threads  POSIX threads\n"
"                        omp      an OpenMP parallel loop\n"
"                        The parallel ones split the output rows: worker w\n"
"                        of W computes rows [w*R/W, (w+1)*R/W) of every\n"
"                        kernel (FFT: of every group of kernels, by rows of\n"
"                        tiles), so two workers balance whatever the bank.\n"
"  -p, --procs P         worker processes   [physical cores, else online CPUs]\n"
"  -t, --threads T       threads for threads and omp\n"
"                        [OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else\n"
"                         online CPUs]\n"
"\n"
"Output:\n"
"  -o, --output DIR      write kernel k's result as DIR/conv_NNNNN.npy (k from\n"
"                        0, five digits, the computed dtype) and\n"
"                        DIR/manifest.json (workload, files, checksums). The\n"
"                        files come from the first strategy, in batches as\n"
"                        kernels complete, each to a temporary name, synced\n"
"                        and renamed: a file under its final name is whole;\n"
"                        the manifest is rewritten (atomically) after each\n"
"                        batch. The other strategies are checked against\n"
"                        them. DIR is created if missing.\n"
"      --resume          with -o: keep the kernels an earlier run of the same\n"
"                        workload completed in DIR (files checked against\n"
"                        the manifest's checksums) and compute the rest;\n"
"                        refused if DIR holds another workload\n"
"      --shard I/N       compute only kernels I, I+N, I+2N, ... (0 <= I < N),\n"
"                        written under their own numbers beside\n"
"                        DIR/manifest.shard-I-of-N.json; 'parconv merge DIR'\n"
"                        checks and combines the shards. Default from Slurm:\n"
"                        SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of\n"
"                        SLURM_ARRAY_TASK_COUNT in a job array, else\n"
"                        SLURM_PROCID of SLURM_NTASKS under srun -n N > 1\n"
"      --json FILE       the report as JSON too; '-' for stdout, the text\n"
"                        report then goes to stderr\n"
"  -q, --quiet           no text report, no progress (errors are printed)\n"
"      --worker-timeout S  procs: a worker that makes no progress for S\n"
"                        seconds is killed as hung\n"
"      --retries N       procs: give a failed or hung worker's share to a\n"
"                        new worker up to N times (a warning each) [0]\n"
"      --max-mem SIZE    refuse runs that need more (e.g. 800M, 8G)\n"
"                        [available memory]\n"
"\n"
"gen:   writes DIR/matrix.npy and DIR/bank.npy from --size, --count, --ksize,\n"
"       --range, --seed and --dtype (the same numbers 'run' would use).\n"
"peak:  measures the FMA ceiling (GFLOP/s) of the ISA and dtype with a\n"
"       register-only loop, on one core and on T threads at once; the run\n"
"       report gives each strategy's share of it (% of peak).\n"
"calibrate: times the direct and the FFT method on a few workloads and\n"
"       writes the cost model's constants for this machine (to\n"
"       --calibration FILE, else the default file) for --method auto.\n"
"sweep: for kernel sizes A..B (step S [2]) times direct and FFT on one\n"
"       workload (-n [500], -k [16], one strategy -S [omp], median of --runs\n"
"       [3]), shows what auto chose and its loss, the crossover, and writes\n"
"       CSV/JSON for scripts/plot_crossover.py.\n"
"sweep threads: the workload (-n -k -s --method --dtype as for run) with\n"
"       1..T workers (--max [online CPUs]) for omp and procs, median of --runs\n"
"       [3]: seconds, speedup, parallel efficiency, GFLOP/s; CSV/JSON for\n"
"       scripts/plot_scaling.py.\n"
"demo:  two POSIX threads that sleep S seconds [2.5]: 'sleep' lets them\n"
"       overlap (about S in all), 'lock' puts a mutex around the sleep (about\n"
"       2S), as in the Python threading lesson parconv grew from.\n"
"\n"
"Signals: SIGTERM (what Slurm sends at the time limit) or SIGINT stop the\n"
"run within moments (the batch under way is dropped); with -o the manifest\n"
"records what is complete and the exit status is 143 or 130: rerun with\n"
"--resume to finish.\n"
"Progress goes to stderr: redrawn in place on a terminal, a line about every\n"
"10% or 30 s otherwise, none with -q.\n"
"Environment: OMP_NUM_THREADS and SLURM_CPUS_PER_TASK set the default\n"
"thread count; the other OMP_* variables (OMP_PROC_BIND, OMP_PLACES, ...)\n"
"are honoured by the OpenMP runtime and shown in the report.\n"
"\n"
"Report: the workload, one box per strategy ('Executed in X s.'), a table\n"
"of seconds, start/stop (the part of the seconds spent starting and\n"
"stopping workers: spawning, mapping, joining, reaping), GFLOP/s over the\n"
"compute time (the longest any one worker computed)\n"
"(2*out_rows*out_cols*kh*kw per kernel), % of the FMA ceiling, speedup over\n"
"serial and checksum, a verification line, and the peak memory used.\n"
"Exit status: 0 success, 1 run-time failure or strategies disagree,\n"
"2 bad usage or bad input, 128+N stopped by signal N.\n";

enum {
    O_RANGE = 256,
    O_SEED,
    O_MODE,
    O_BOUNDARY,
    O_FILLVALUE,
    O_DTYPE,
    O_METHOD,
    O_JSON,
    O_SECONDS,
    O_ISA,
    O_FFT_PLAN,
    O_WISDOM,
    O_CALIBRATION,
    O_FROM,
    O_TO,
    O_STEP,
    O_RUNS,
    O_CSV,
    O_RESUME,
    O_WORKER_TIMEOUT,
    O_RETRIES,
    O_MAX_MEM,
    O_SHARD,
    O_FFT_SIZE,
    O_MAX,
};

static const struct option long_opts[] = {
    {"size", required_argument, NULL, 'n'},
    {"count", required_argument, NULL, 'k'},
    {"ksize", required_argument, NULL, 's'},
    {"range", required_argument, NULL, O_RANGE},
    {"seed", required_argument, NULL, O_SEED},
    {"matrix", required_argument, NULL, 'm'},
    {"bank", required_argument, NULL, 'b'},
    {"mode", required_argument, NULL, O_MODE},
    {"boundary", required_argument, NULL, O_BOUNDARY},
    {"fillvalue", required_argument, NULL, O_FILLVALUE},
    {"dtype", required_argument, NULL, O_DTYPE},
    {"method", required_argument, NULL, O_METHOD},
    {"strategy", required_argument, NULL, 'S'},
    {"procs", required_argument, NULL, 'p'},
    {"threads", required_argument, NULL, 't'},
    {"output", required_argument, NULL, 'o'},
    {"json", required_argument, NULL, O_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"seconds", required_argument, NULL, O_SECONDS},
    {"isa", required_argument, NULL, O_ISA},
    {"fft-plan", required_argument, NULL, O_FFT_PLAN},
    {"wisdom", required_argument, NULL, O_WISDOM},
    {"calibration", required_argument, NULL, O_CALIBRATION},
    {"from", required_argument, NULL, O_FROM},
    {"to", required_argument, NULL, O_TO},
    {"step", required_argument, NULL, O_STEP},
    {"runs", required_argument, NULL, O_RUNS},
    {"csv", required_argument, NULL, O_CSV},
    {"resume", no_argument, NULL, O_RESUME},
    {"worker-timeout", required_argument, NULL, O_WORKER_TIMEOUT},
    {"retries", required_argument, NULL, O_RETRIES},
    {"max-mem", required_argument, NULL, O_MAX_MEM},
    {"shard", required_argument, NULL, O_SHARD},
    {"fft-size", required_argument, NULL, O_FFT_SIZE},
    {"max", required_argument, NULL, O_MAX},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
static const char short_opts[] = ":n:k:s:m:b:S:p:t:o:qhV";

/* Which subcommands take an option: bit 1 << cli_command. */
#define RUN (1u << CMD_RUN)
#define GEN (1u << CMD_GEN)
#define DEMO (1u << CMD_DEMO)
#define PEAK (1u << CMD_PEAK)
#define CALIBRATE (1u << CMD_CALIBRATE)
#define SWEEP (1u << CMD_SWEEP)
#define MERGE (1u << CMD_MERGE)
static unsigned allowed_in(int opt)
{
    switch (opt) {
    case 'o':
        return RUN | GEN;
    case 's':
        return RUN | GEN | SWEEP;
    case 'n': case 'k': case O_RANGE: case O_SEED: case 'q':
        return RUN | GEN | SWEEP;
    case O_DTYPE:
        return RUN | GEN | PEAK | CALIBRATE | SWEEP;
    case O_ISA:
        return RUN | PEAK | CALIBRATE | SWEEP;
    case 't':
        return RUN | PEAK | SWEEP;
    case O_CALIBRATION:
        return RUN | CALIBRATE | SWEEP;
    case O_FROM: case O_TO: case O_STEP: case O_RUNS: case O_CSV: case O_MAX:
        return SWEEP;
    case O_MAX_MEM:
        return RUN | GEN;
    case O_SHARD: case O_FFT_SIZE:
        return RUN;
    case O_METHOD:
        return RUN | SWEEP;
    case O_JSON: case 'S': case 'p': case O_MODE: case O_BOUNDARY:
    case O_FILLVALUE: case O_FFT_PLAN: case O_WISDOM:
        return RUN | SWEEP;
    case O_SECONDS:
        return DEMO;
    case 'h': case 'V':
        return RUN | GEN | DEMO | PEAK | CALIBRATE | SWEEP | MERGE;
    default:
        return RUN;
    }
}

static const char *const command_names[] = {
    [CMD_RUN] = "run", [CMD_GEN] = "gen", [CMD_DEMO] = "demo",
    [CMD_PEAK] = "peak", [CMD_CALIBRATE] = "calibrate", [CMD_SWEEP] = "sweep",
    [CMD_MERGE] = "merge"};

/* The name a user typed for option opt, for messages. */
static const char *opt_name(int opt)
{
    static _Thread_local char buf[32];
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == opt) {
            snprintf(buf, sizeof buf, "--%s", lo->name);
            return buf;
        }
    snprintf(buf, sizeof buf, "-%c", opt);
    return buf;
}

/* Positive size: a whole number from 1 to max, nothing else on the line. */
static int parse_count(const char *opt, const char *s, size_t max, size_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return pc_error(PC_EUSAGE, "%s '%s': expected a whole number from 1 "
                        "to %zu", opt, s ? s : "", max);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return pc_error(PC_EUSAGE, "%s '%s': expected a whole number from 1 "
                        "to %zu", opt, s, max);
    *out = (size_t)v;
    return PC_OK;
}

/* "RxC" or "N"; dimensions from 1 to 2^31-1 each. */
static int parse_shape(const char *opt, const char *s, size_t *r, size_t *c)
{
    const size_t max = 2147483647;
    const char *x = strpbrk(s, "xX");
    if (!x)
        return parse_count(opt, s, max, r) ? pc_error(PC_EUSAGE,
               "%s '%s': expected RxC or N (whole numbers from 1)", opt, s)
               : (*c = *r, PC_OK);
    char left[32];
    size_t n = (size_t)(x - s);
    if (n == 0 || n >= sizeof left ||
        (memcpy(left, s, n), left[n] = 0, parse_count(opt, left, max, r)) ||
        parse_count(opt, x + 1, max, c))
        return pc_error(PC_EUSAGE, "%s '%s': expected RxC or N (whole numbers "
                        "from 1)", opt, s);
    return PC_OK;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_range(const char *s, pc_gen_params *g)
{
    const char *colon = strchr(s, ':');
    char lo[32];
    size_t n = colon ? (size_t)(colon - s) : 0;
    if (!colon || n == 0 || n >= sizeof lo ||
        (memcpy(lo, s, n), lo[n] = 0, parse_i64(lo, &g->lo)) ||
        parse_i64(colon + 1, &g->hi))
        return pc_error(PC_EUSAGE, "--range '%s': expected LO:HI (integers, "
                        "LO < HI)", s);
    if (g->hi <= g->lo)
        return pc_error(PC_EUSAGE, "--range '%s' is empty (need LO < HI)", s);
    return PC_OK;
}

static int parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || (errno == ERANGE && isinf(v)))
        return pc_error(PC_EUSAGE, "%s '%s': expected a number", opt, s);
    *out = v;
    return PC_OK;
}

static int parse_strategies(const char *s, cli_options *o)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return pc_error(PC_EUSAGE, "--strategy '%.40s...': too long", s);
    strcpy(buf, s);
    size_t len = strlen(buf);
    if (len && (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,")))
        return pc_error(PC_EUSAGE, "--strategy '%s': empty strategy name", s);
    o->nstrategies = 0;
    unsigned seen = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int v = pc_strategy_parse(tok);
        if (v < 0)
            return pc_error(PC_EUSAGE, "--strategy: unknown strategy '%s' "
                            "(choose from serial, procs, threads, omp)", tok);
        if (seen & (1u << v))
            return pc_error(PC_EUSAGE, "--strategy: '%s' is listed twice", tok);
        seen |= 1u << v;
        o->strategies[o->nstrategies++] = (pc_strategy)v;
    }
    if (o->nstrategies == 0)
        return pc_error(PC_EUSAGE, "--strategy '%s': no strategy named", s);
    return PC_OK;
}

static int parse_choice(const char *opt, const char *s, int v, const char *choices)
{
    if (v < 0)
        return pc_error(PC_EUSAGE, "%s: unknown value '%s' (choose from %s)",
                        opt, s, choices);
    return PC_OK;
}

static void defaults(cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = CMD_RUN;
    o->rows = o->cols = 1000;
    o->count = 100;
    o->krows = o->kcols = 10;
    o->gen = (pc_gen_params){.seed = 42, .lo = 0, .hi = 100};
    pc_conv_params_default(&o->conv);
    o->conv.method = PC_AUTO;
    for (int s = 0; s < PC_NSTRATEGIES; s++)
        o->strategies[s] = (pc_strategy)s;
    o->nstrategies = PC_NSTRATEGIES;
    o->demo_seconds = 2.5;
}

int cli_parse(int argc, char **argv, cli_options *o, bool *exit_now)
{
    defaults(o);
    *exit_now = false;

    int first = 1;
    if (argc > 1) {
        for (int c = 0; c < CMD_COUNT; c++)
            if (strcmp(argv[1], command_names[c]) == 0) {
                o->cmd = (enum cli_command)c;
                first = 2;
            }
    }
    if (o->cmd == CMD_MERGE) {
        if (argc > 2 && argv[2][0] != '-') {
            o->merge_dir = argv[2];
            first = 3;
        } else if (!(argc > 2 && (strcmp(argv[2], "--help") == 0 ||
                                  strcmp(argv[2], "-h") == 0))) {
            return pc_error(PC_EUSAGE, "merge needs the output directory: "
                            "'parconv merge DIR'");
        }
    }
    if (o->cmd == CMD_SWEEP && argc > 2 && strcmp(argv[2], "threads") == 0) {
        /* The default workload; every worker count timed a few times. */
        first = 3;
        o->sweep_threads = true;
        o->sweep_runs = 3;
    } else if (o->cmd == CMD_SWEEP) {
        if (argc > 2 && strcmp(argv[2], "ksize") == 0)
            first = 3;
        else if (!(argc > 2 && (strcmp(argv[2], "--help") == 0 ||
                                strcmp(argv[2], "-h") == 0)))
            return pc_error(PC_EUSAGE, "sweep: say what to sweep: 'sweep "
                            "ksize --from A --to B' or 'sweep threads'");
        /* A lighter workload than run's: every size is timed six times. */
        o->rows = o->cols = 500;
        o->count = 16;
        o->sweep_step = 2;
        o->sweep_runs = 3;
        o->strategies[0] = PC_OMP;
        o->nstrategies = 1;
    }
    if (o->cmd == CMD_DEMO) {
        if (argc > 2 && (strcmp(argv[2], "sleep") == 0 || strcmp(argv[2], "lock") == 0)) {
            o->demo = argv[2];
            first = 3;
        } else if (argc > 2 && argv[2][0] != '-') {
            return pc_error(PC_EUSAGE, "demo: unknown demo '%s' (choose sleep "
                            "or lock)", argv[2]);
        }
    }

    /* getopt_long from our first option on; its own messages are off so
     * that every error is our single line. */
    char **av = argv + first - 1;
    int ac = argc - first + 1;
    optind = 1;
    opterr = 0;
    unsigned char seen[512] = {0};
    int opt, st = PC_OK;
    while ((opt = getopt_long(ac, av, short_opts, long_opts, NULL)) != -1) {
        if (opt == '?') {
            if (optopt)
                return pc_error(PC_EUSAGE, "unknown option '-%c' (see "
                                "parconv --help)", optopt);
            return pc_error(PC_EUSAGE, "unknown option '%s' (see parconv "
                            "--help)", av[optind - 1]);
        }
        if (opt == ':')
            return pc_error(PC_EUSAGE, "option '%s' needs a value",
                            av[optind - 1]);
        if (!(allowed_in(opt) & (1u << o->cmd)))
            return pc_error(PC_EUSAGE, "option %s does not apply to '%s'",
                            opt_name(opt), command_names[o->cmd]);
        if (seen[opt]++)
            return pc_error(PC_EUSAGE, "option %s is given twice", opt_name(opt));

        int v;
        switch (opt) {
        case 'n':
            st = parse_shape("--size", optarg, &o->rows, &o->cols);
            o->given |= G_SIZE;
            break;
        case 'k':
            st = parse_count("--count", optarg, 1000000, &o->count);
            o->given |= G_COUNT;
            break;
        case 's':
            st = parse_shape("--ksize", optarg, &o->krows, &o->kcols);
            o->given |= G_KSIZE;
            break;
        case O_RANGE:
            st = parse_range(optarg, &o->gen);
            break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' ||
                seed > 0xffffffffULL)
                st = pc_error(PC_EUSAGE, "--seed '%s': expected a whole "
                              "number from 0 to 4294967295", optarg);
            o->gen.seed = seed;
            break;
        }
        case 'm':
            o->matrix_path = optarg;
            break;
        case 'b':
            o->bank_path = optarg;
            break;
        case O_MODE:
            v = pc_mode_parse(optarg);
            st = parse_choice("--mode", optarg, v, "full, same, valid");
            o->conv.mode = (pc_mode)v;
            break;
        case O_BOUNDARY:
            v = pc_boundary_parse(optarg);
            st = parse_choice("--boundary", optarg, v, "fill, wrap, symm");
            o->conv.boundary = (pc_boundary)v;
            break;
        case O_FILLVALUE:
            st = parse_double("--fillvalue", optarg, &o->conv.fillvalue);
            break;
        case O_DTYPE:
            v = pc_dtype_parse(optarg);
            st = parse_choice("--dtype", optarg, v, "f64, f32");
            o->conv.dtype = (pc_dtype)v;
            break;
        case O_METHOD:
            v = pc_method_parse(optarg);
            st = parse_choice("--method", optarg, v, "direct, fft, auto");
            o->conv.method = (pc_method)v;
            o->given |= G_METHOD;
            break;
        case 'S':
            st = parse_strategies(optarg, o);
            break;
        case 'p': {
            size_t n;
            st = parse_count("--procs", optarg, 4096, &n);
            o->procs = (unsigned)n;
            break;
        }
        case 't': {
            size_t n;
            st = parse_count("--threads", optarg, 4096, &n);
            o->threads = (unsigned)n;
            break;
        }
        case 'o':
            if (!*optarg)
                st = pc_error(PC_EUSAGE, "--output: empty directory name");
            o->outdir = optarg;
            break;
        case O_JSON:
            if (!*optarg)
                st = pc_error(PC_EUSAGE, "--json: empty file name");
            o->json_path = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case O_ISA:
            v = pc_isa_parse(optarg);
            st = parse_choice("--isa", optarg, v, "auto, avx512, avx2, generic");
            o->conv.isa = (pc_isa)v;
            if (!st && !pc_isa_supported(o->conv.isa))
                st = pc_error(PC_EUSAGE, "--isa %s: this CPU cannot run it "
                              "(best here: %s)", optarg,
                              pc_isa_name(pc_isa_best()));
            break;
        case O_FFT_PLAN:
            if (strcmp(optarg, "estimate") == 0)
                o->conv.fft_effort = PC_FFT_ESTIMATE;
            else if (strcmp(optarg, "measure") == 0)
                o->conv.fft_effort = PC_FFT_MEASURE;
            else
                st = pc_error(PC_EUSAGE, "--fft-plan: unknown value '%s' "
                              "(choose from estimate, measure)", optarg);
            break;
        case O_WISDOM:
            if (!*optarg)
                st = pc_error(PC_EUSAGE, "--wisdom: empty file name");
            o->conv.wisdom = optarg;
            break;
        case O_CALIBRATION:
            if (!*optarg)
                st = pc_error(PC_EUSAGE, "--calibration: empty file name");
            o->calibration = optarg;
            break;
        case O_FROM:
            st = parse_count("--from", optarg, 4096, &o->sweep_from);
            break;
        case O_MAX: {
            size_t n;
            st = parse_count("--max", optarg, 256, &n);
            o->sweep_max = (unsigned)n;
            break;
        }
        case O_TO:
            st = parse_count("--to", optarg, 4096, &o->sweep_to);
            break;
        case O_STEP:
            st = parse_count("--step", optarg, 4096, &o->sweep_step);
            break;
        case O_RUNS: {
            size_t n;
            st = parse_count("--runs", optarg, 9, &n);
            o->sweep_runs = (int)n;
            break;
        }
        case O_CSV:
            if (!*optarg)
                st = pc_error(PC_EUSAGE, "--csv: empty file name");
            o->csv_path = optarg;
            break;
        case O_RESUME:
            o->resume = true;
            break;
        case O_SHARD: {
            char *slash = strchr(optarg, '/'), *end;
            unsigned long long i = 0, n = 0;
            errno = 0;
            if (slash && optarg[0] != '-' && slash[1] != '-') {
                i = strtoull(optarg, &end, 10);
                if (end != slash)
                    slash = NULL;
                else
                    n = strtoull(slash + 1, &end, 10);
            }
            if (!slash || errno || *end || n < 1 || n > 1000000 || i >= n)
                st = pc_error(PC_EUSAGE, "--shard '%s': expected I/N with 0 "
                              "<= I < N", optarg);
            o->shard_i = (size_t)i;
            o->shard_n = (size_t)n;
            o->shard_from = "--shard";
            break;
        }
        case O_FFT_SIZE:
            st = parse_shape("--fft-size", optarg, &o->conv.fft_P, &o->conv.fft_Q);
            break;
        case O_WORKER_TIMEOUT:
            st = parse_double("--worker-timeout", optarg, &o->worker_timeout);
            if (!st && !(o->worker_timeout > 0 && o->worker_timeout <= 1e6))
                st = pc_error(PC_EUSAGE, "--worker-timeout '%s': expected "
                              "seconds above 0", optarg);
            break;
        case O_RETRIES: {
            size_t n;
            char *end;
            errno = 0;
            n = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || n > 1000)
                st = pc_error(PC_EUSAGE, "--retries '%s': expected a whole "
                              "number from 0 to 1000", optarg);
            o->retries = (unsigned)n;
            break;
        }
        case O_MAX_MEM: {
            char *end;
            errno = 0;
            double size = strtod(optarg, &end);
            double unit = 1;
            if (*end == 'k' || *end == 'K')
                unit = 1e3;
            else if (*end == 'M' || *end == 'm')
                unit = 1e6;
            else if (*end == 'G' || *end == 'g')
                unit = 1e9;
            else if (*end == 'T' || *end == 't')
                unit = 1e12;
            if (unit > 1)
                end++;
            if (errno || end == optarg || *end || !(size > 0) ||
                size * unit > 1e18)
                st = pc_error(PC_EUSAGE, "--max-mem '%s': expected a size such "
                              "as 800M or 8G", optarg);
            o->max_mem = size * unit;
            break;
        }
        case O_SECONDS:
            st = parse_double("--seconds", optarg, &o->demo_seconds);
            if (!st && !(o->demo_seconds >= 0 && o->demo_seconds <= 3600))
                st = pc_error(PC_EUSAGE, "--seconds '%s': expected 0 to 3600",
                              optarg);
            break;
        case 'h':
            fputs(help_text, stdout);
            *exit_now = true;
            return PC_OK;
        case 'V':
            printf("parconv %s\n", PC_VERSION);
            *exit_now = true;
            return PC_OK;
        }
        if (st)
            return st;
    }
    if (optind < ac)
        return pc_error(PC_EUSAGE, "unexpected argument '%s' (see parconv "
                        "--help)", av[optind]);
    if (o->resume && !o->outdir)
        return pc_error(PC_EUSAGE, "--resume needs -o DIR (the directory to "
                        "resume)");
    if ((o->worker_timeout > 0 || o->retries) && o->cmd == CMD_RUN) {
        bool procs = false;
        for (int i = 0; i < o->nstrategies; i++)
            procs |= o->strategies[i] == PC_PROCS;
        if (!procs)
            return pc_error(PC_EUSAGE, "--worker-timeout and --retries apply "
                            "to the procs strategy, which -S leaves out");
    }
    if (o->cmd == CMD_GEN && !o->outdir)
        return pc_error(PC_EUSAGE, "gen needs -o DIR");
    if (o->cmd == CMD_GEN && (o->matrix_path || o->bank_path))
        return pc_error(PC_EUSAGE, "gen generates its inputs; --matrix and "
                        "--bank do not apply");
    if (o->cmd == CMD_SWEEP && o->sweep_threads &&
        (o->sweep_from || o->sweep_to || o->sweep_step != 0))
        return pc_error(PC_EUSAGE, "sweep threads takes --max, not --from, "
                        "--to or --step");
    if (o->cmd == CMD_SWEEP && !o->sweep_threads && (o->given & G_METHOD))
        return pc_error(PC_EUSAGE, "sweep ksize times both methods: --method "
                        "does not apply");
    if (o->cmd == CMD_SWEEP && !o->sweep_threads && (o->given & G_KSIZE))
        return pc_error(PC_EUSAGE, "sweep ksize varies the kernel size: "
                        "--ksize does not apply");
    if (o->cmd == CMD_SWEEP && !o->sweep_threads && o->sweep_max)
        return pc_error(PC_EUSAGE, "--max goes with 'sweep threads'");
    if (o->cmd == CMD_SWEEP && !o->sweep_threads && (!o->sweep_from || !o->sweep_to))
        return pc_error(PC_EUSAGE, "sweep ksize needs --from A and --to B");
    if (o->cmd == CMD_SWEEP && !o->sweep_threads && o->sweep_from > o->sweep_to)
        return pc_error(PC_EUSAGE, "sweep ksize: --from %zu is above --to %zu",
                        o->sweep_from, o->sweep_to);
    if (o->cmd == CMD_SWEEP && !o->sweep_threads && o->nstrategies != 1)
        return pc_error(PC_EUSAGE, "sweep times one strategy: give -S with "
                        "one name");
    if (o->cmd == CMD_DEMO && !o->demo)
        return pc_error(PC_EUSAGE, "demo needs 'sleep' or 'lock'");
    return PC_OK;
}

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
