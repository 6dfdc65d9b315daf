/* What the program accepts: one row per option (its names, value, the
 * subcommands that take it, its help and default, and the setter that
 * checks and stores its value), one row per subcommand. Every malformed
 * value is refused with one line naming the option (PC_EUSAGE). */
#include "options.h"
#include "outfmt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * Values: each parser refuses anything but the whole value. */

/* Positive size: a whole number from 1 to max, nothing else on the line. */
static int parse_count(const char *name, const char *s, size_t max,
                       size_t *out)
{
    char *end;
    unsigned long long v = 0;
    bool ok = *s && *s != '-' && *s != '+' && *s != ' ';
    if (ok) {
        errno = 0;
        v = strtoull(s, &end, 10);
        ok = !errno && end != s && !*end && v >= 1 && v <= max;
    }
    if (!ok)
        return pc_error(PC_EUSAGE, "--%s '%s': expected a whole number from "
                        "1 to %zu", name, s, max);
    *out = (size_t)v;
    return PC_OK;
}

/* "RxC" or "N"; dimensions from 1 to 2^31-1 each. */
static int parse_shape(const char *name, const char *s, size_t *r, size_t *c)
{
    const size_t max = 2147483647;
    const char *x = strpbrk(s, "xX");
    char left[32];
    size_t n = x ? (size_t)(x - s) : 0;
    if (!x ? parse_count(name, s, max, r)
           : n == 0 || n >= sizeof left ||
             (memcpy(left, s, n), left[n] = 0,
              parse_count(name, left, max, r)) ||
             parse_count(name, x + 1, max, c))
        return pc_error(PC_EUSAGE, "--%s '%s': expected RxC or N (whole "
                        "numbers from 1)", name, s);
    if (!x)
        *c = *r;
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

/* A whole number from 0 to max (no sign). */
static int parse_whole(const char *s, unsigned long long max,
                       unsigned long long *out)
{
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno || end == s || *end || s[0] == '-' || *out > max ? -1 : 0;
}

static int parse_double(const char *name, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || (errno == ERANGE && isinf(v)))
        return pc_error(PC_EUSAGE, "--%s '%s': expected a number", name, s);
    *out = v;
    return PC_OK;
}

/* ---------------------------------------------------------------------
 * Setters shared by options of one kind; the row says where the value
 * goes (offsetof) and its bound. */

#define FIELD(o, off, type) ((type *)(void *)((char *)(o) + (off)))

static int set_flag(cli_options *o, const cli_opt *opt, const char *arg)
{
    (void)arg;
    *FIELD(o, opt->off, bool) = true;
    return PC_OK;
}

static int set_size(cli_options *o, const cli_opt *opt, const char *arg)
{
    return parse_count(opt->name, arg, opt->max, FIELD(o, opt->off, size_t));
}

static int set_unsigned(cli_options *o, const cli_opt *opt, const char *arg)
{
    size_t n = 0;
    int st = parse_count(opt->name, arg, opt->max, &n);
    *FIELD(o, opt->off, unsigned) = (unsigned)n;
    return st;
}

static int set_shape(cli_options *o, const cli_opt *opt, const char *arg)
{
    return parse_shape(opt->name, arg, FIELD(o, opt->off, size_t),
                       FIELD(o, opt->off2, size_t));
}

static int set_double(cli_options *o, const cli_opt *opt, const char *arg)
{
    return parse_double(opt->name, arg, FIELD(o, opt->off, double));
}

/* A file or directory name; opt->choices says what an empty one lacks
 * (NULL: empty is left to the open that follows, which names it). */
static int set_path(cli_options *o, const cli_opt *opt, const char *arg)
{
    if (!*arg && opt->choices)
        return pc_error(PC_EUSAGE, "--%s: empty %s", opt->name, opt->choices);
    *FIELD(o, opt->off, const char *) = arg;
    return PC_OK;
}

/* ---------------------------------------------------------------------
 * Setters of one option each. */

static int set_range(cli_options *o, const cli_opt *opt, const char *s)
{
    (void)opt;
    pc_gen_params *g = &o->gen;
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

static int set_seed(cli_options *o, const cli_opt *opt, const char *arg)
{
    unsigned long long seed;
    if (parse_whole(arg, 0xffffffffULL, &seed))
        return pc_error(PC_EUSAGE, "--%s '%s': expected a whole number from "
                        "0 to 4294967295", opt->name, arg);
    o->gen.seed = seed;
    return PC_OK;
}

static int set_retries(cli_options *o, const cli_opt *opt, const char *arg)
{
    unsigned long long n;
    if (parse_whole(arg, 1000, &n))
        return pc_error(PC_EUSAGE, "--%s '%s': expected a whole number from "
                        "0 to 1000", opt->name, arg);
    o->retries = (unsigned)n;
    return PC_OK;
}

static int set_runs(cli_options *o, const cli_opt *opt, const char *arg)
{
    size_t n = 0;
    int st = parse_count(opt->name, arg, opt->max, &n);
    o->sweep_runs = (int)n;
    return st;
}

static int parse_fft_plan(const char *s)
{
    return strcmp(s, "estimate") == 0 ? PC_FFT_ESTIMATE
         : strcmp(s, "measure") == 0 ? PC_FFT_MEASURE : -1;
}

/* The enum fields set_choice fills are stored as ints (GCC's enums are
 * compatible with one); memcpy keeps the store free of aliasing. */
_Static_assert(sizeof(pc_mode) == sizeof(int) &&
               sizeof(pc_boundary) == sizeof(int) &&
               sizeof(pc_dtype) == sizeof(int) &&
               sizeof(pc_method) == sizeof(int) &&
               sizeof(pc_fft_effort) == sizeof(int) &&
               sizeof(pc_isa) == sizeof(int), "an enum is not an int");

/* One of opt->choices, by the library's parser for those names. */
static int set_choice(cli_options *o, const cli_opt *opt, const char *arg)
{
    int v = opt->parse(arg);
    if (v < 0)
        return pc_error(PC_EUSAGE, "--%s: unknown value '%s' (choose from "
                        "%s)", opt->name, arg, opt->choices);
    memcpy((char *)o + opt->off, &v, sizeof v);
    return PC_OK;
}

static int set_isa(cli_options *o, const cli_opt *opt, const char *arg)
{
    int st = set_choice(o, opt, arg);
    if (!st && !pc_isa_supported(o->conv.isa))
        st = pc_error(PC_EUSAGE, "--isa %s: this CPU cannot run it (best "
                      "here: %s)", arg, pc_isa_name(pc_isa_best()));
    return st;
}

/* "float" is refused by name: a numpy user means float64, a C user
 * float32, and either guess would silently give the other half of them
 * results in a type they did not ask for. */
static int set_dtype(cli_options *o, const cli_opt *opt, const char *arg)
{
    if (strcmp(arg, "float") == 0)
        return pc_error(PC_EUSAGE, "--%s 'float' is ambiguous: numpy's float "
                        "is float64 (f64), C's float is float32 (f32)",
                        opt->name);
    return set_choice(o, opt, arg);
}

static int set_strategies(cli_options *o, const cli_opt *opt, const char *s)
{
    (void)opt;
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
    for (char *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int v = pc_strategy_parse(tok);
        if (v < 0)
            return pc_error(PC_EUSAGE, "--strategy: unknown strategy '%s' "
                            "(choose from serial, procs, threads, omp)", tok);
        if (seen & (1u << v))
            return pc_error(PC_EUSAGE, "--strategy: '%s' is listed twice",
                            tok);
        seen |= 1u << v;
        o->strategies[o->nstrategies++] = (pc_strategy)v;
    }
    if (o->nstrategies == 0)
        return pc_error(PC_EUSAGE, "--strategy '%s': no strategy named", s);
    return PC_OK;
}

static int set_shard(cli_options *o, const cli_opt *opt, const char *arg)
{
    (void)opt;
    char *slash = strchr(arg, '/'), *end;
    unsigned long long i = 0, n = 0;
    errno = 0;
    if (slash && arg[0] != '-' && slash[1] != '-') {
        i = strtoull(arg, &end, 10);
        if (end != slash)
            slash = NULL;
        else
            n = strtoull(slash + 1, &end, 10);
    }
    if (!slash || errno || *end || n < 1 || n > 1000000 || i >= n)
        return pc_error(PC_EUSAGE, "--shard '%s': expected I/N with 0 <= I "
                        "< N", arg);
    o->shard_i = (size_t)i;
    o->shard_n = (size_t)n;
    o->shard_from = "--shard";
    return PC_OK;
}

static int set_worker_timeout(cli_options *o, const cli_opt *opt,
                              const char *arg)
{
    int st = parse_double(opt->name, arg, &o->worker_timeout);
    if (!st && !(o->worker_timeout > 0 && o->worker_timeout <= 1e6))
        st = pc_error(PC_EUSAGE, "--%s '%s': expected seconds above 0",
                      opt->name, arg);
    return st;
}

static int set_seconds(cli_options *o, const cli_opt *opt, const char *arg)
{
    int st = parse_double(opt->name, arg, &o->demo_seconds);
    if (!st && !(o->demo_seconds >= 0 && o->demo_seconds <= 3600))
        st = pc_error(PC_EUSAGE, "--%s '%s': expected 0 to 3600", opt->name,
                      arg);
    return st;
}

static int set_max_mem(cli_options *o, const cli_opt *opt, const char *arg)
{
    static const char units[] = "kKmMgGtT";
    static const double scale[] = {1e3, 1e6, 1e9, 1e12};
    char *end;
    errno = 0;
    double size = strtod(arg, &end);
    const char *u = *end ? strchr(units, *end) : NULL;
    double unit = u ? scale[(u - units) / 2] : 1;
    if (u)
        end++;
    if (errno || end == arg || *end || !(size > 0) || size * unit > 1e18)
        return pc_error(PC_EUSAGE, "--%s '%s': expected a size such as 800M "
                        "or 8G", opt->name, arg);
    o->max_mem = size * unit;
    return PC_OK;
}

/* -m FILE, once per file. */
static int set_matrix(cli_options *o, const cli_opt *opt, const char *arg)
{
    if (o->nmatrix_paths == CLI_MAX_MATRICES)
        return pc_error(PC_EUSAGE, "-%c (--%s) is given more than %d times",
                        opt->letter, opt->name, CLI_MAX_MATRICES);
    if (!o->matrix_path)
        o->matrix_path = arg;
    o->matrix_paths[o->nmatrix_paths++] = arg;
    return PC_OK;
}

static int set_format(cli_options *o, const cli_opt *opt, const char *arg)
{
    if (!outfmt_find(arg))
        return pc_error(PC_EUSAGE, "--%s: unknown value '%s' (choose from "
                        "%s)", opt->name, arg, outfmt_names());
    o->format = arg;
    return PC_OK;
}

/* none, deflate (level 4, as h5py's gzip) or deflate:LEVEL (0-9). */
static int set_compress(cli_options *o, const cli_opt *opt, const char *arg)
{
    unsigned long long level = 4;
    if (strcmp(arg, "none") == 0) {
        o->deflate = -1;
        return PC_OK;
    }
    if (strncmp(arg, "deflate", 7) != 0 ||
        (arg[7] && (arg[7] != ':' || parse_whole(arg + 8, 9, &level))))
        return pc_error(PC_EUSAGE, "--%s '%s': expected none, deflate or "
                        "deflate:LEVEL (0-9)", opt->name, arg);
    o->deflate = (int)level;
    return PC_OK;
}

static int set_help(cli_options *o, const cli_opt *opt, const char *arg)
{
    (void)o, (void)opt, (void)arg;
    return CLI_HELP;
}

static int set_version(cli_options *o, const cli_opt *opt, const char *arg)
{
    (void)o, (void)opt, (void)arg;
    return CLI_VERSION;
}

/* ---------------------------------------------------------------------
 * The options. */

#define AT(field) offsetof(cli_options, field)

/* In enum cli_group's order. */
const char *const cli_group_titles[GRP_COUNT] = {
    "Inputs:", "Convolution:", "Strategies:", "Sweep:", "Demo:", "Output:",
    "General:"};

const cli_opt cli_opts[] = {
    {.name = "size", .letter = 'n', .arg = "RxC",
     .cmds = IN_RUN | IN_GEN | IN_SWEEP, .group = GRP_INPUTS,
     .help = "matrix size, or N for NxN",
     .set = set_shape, .off = AT(rows), .off2 = AT(cols), .given = G_SIZE,
     .dflt = "1000x1000"},
    {.name = "count", .letter = 'k', .arg = "K",
     .cmds = IN_RUN | IN_GEN | IN_SWEEP, .group = GRP_INPUTS,
     .help = "number of kernels",
     .set = set_size, .off = AT(count), .max = 1000000, .given = G_COUNT,
     .dflt = "100"},
    {.name = "ksize", .letter = 's', .arg = "RxC",
     .cmds = IN_RUN | IN_GEN | IN_SWEEP, .group = GRP_INPUTS,
     .help = "kernel size, or N for NxN",
     .set = set_shape, .off = AT(krows), .off2 = AT(kcols), .given = G_KSIZE,
     .dflt = "10x10"},
    {.name = "range", .arg = "LO:HI", .cmds = IN_RUN | IN_GEN | IN_SWEEP,
     .group = GRP_INPUTS,
     .help = "integer values uniform in [LO,HI)",
     .set = set_range, .dflt = "0:100"},
    {.name = "seed", .arg = "S", .cmds = IN_RUN | IN_GEN | IN_SWEEP,
     .group = GRP_INPUTS,
     .help = "GSL mt19937 seed (0 means GSL's 4357)\n"
             "The matrix is drawn first, then the kernels in\n"
             "order: one seed gives the same numbers everywhere.",
     .set = set_seed, .dflt = "42"},
    {.name = "matrix", .letter = 'm', .arg = "FILE", .set = set_matrix,
     .repeat = true, .cmds = IN_RUN | IN_SWEEP, .group = GRP_INPUTS,
     .help = "read the matrix instead of generating it: a 2-D\n"
             ".npy file, a 3-D one (a stack, N x R x C), or an\n"
             "HDF5 dataset of 2 or 3 dimensions (FILE.h5:/path).\n"
             "Given again: more matrices, all of one shape,\n"
             "numbered in order (a stack's in its own order),\n"
             "each read when the run needs it"},
    {.name = "matrices", .arg = "N", .cmds = IN_RUN | IN_GEN,
     .group = GRP_INPUTS,
     .help = "generate N matrices (matrix 0 first, then 1, ...,\n"
             "then the kernels); not with -m",
     .set = set_size, .off = AT(nmat), .max = 1000000, .given = G_MATRICES,
     .dflt = "1"},
    {.name = "bank", .letter = 'b', .arg = "FILE", .group = GRP_INPUTS,
     .cmds = IN_RUN | IN_SWEEP,
     .help = "read the kernels from a 3-D .npy file (K x R x C),\n"
             "or a 2-D one for a single kernel, instead of\n"
             "generating them\n"
             ".npy versions 1.0-3.0; float64/32, int64/32/16/8,\n"
             "uint64/32/16/8 or bool; C or Fortran order. With a\n"
             "file, --size/--count/--ksize may be given only if\n"
             "they match it.",
     .set = set_path, .off = AT(bank_path)},

    {.name = "mode", .arg = "M", .cmds = IN_RUN | IN_SWEEP, .group = GRP_CONV,
     .help = "full, same or valid\n"
             "valid: when the kernel is at least as large as the\n"
             "matrix in both dimensions the two are swapped, as\n"
             "scipy does; when neither contains the other it is\n"
             "an error.",
     .set = set_choice, .off = AT(conv.mode), .parse = pc_mode_parse,
     .choices = "full, same, valid", .dflt = "full"},
    {.name = "boundary", .arg = "B", .cmds = IN_RUN | IN_SWEEP, .group = GRP_CONV,
     .help = "fill, wrap or symm (scipy's pad, circular and\n"
             "symmetric are accepted too)",
     .set = set_choice, .off = AT(conv.boundary), .parse = pc_boundary_parse,
     .choices = "fill, wrap, symm", .dflt = "fill"},
    {.name = "fillvalue", .arg = "V", .cmds = IN_RUN | IN_SWEEP, .group = GRP_CONV,
     .help = "the value outside the matrix for fill",
     .set = set_double, .off = AT(conv.fillvalue), .dflt = "0"},
    {.name = "dtype", .arg = "D", .group = GRP_CONV,
     .cmds = IN_RUN | IN_GEN | IN_PEAK | IN_CALIBRATE | IN_SWEEP,
     .help = "f64 (or float64, double) or f32 (or float32, single):\n"
             "compute and output type",
     .set = set_dtype, .off = AT(conv.dtype), .parse = pc_dtype_parse,
     .choices = "f64, float64, double, f32, float32, single", .dflt = "f64"},
    {.name = "method", .arg = "M", .cmds = IN_RUN | IN_SWEEP,
     .group = GRP_CONV,
     .help = "direct, fft or auto\n"
             "direct: the SIMD direct sum; fft: FFTW overlap-\n"
             "save (input tile spectra computed once, per kernel\n"
             "one r2c, a multiply and one c2r per tile); auto:\n"
             "whichever the cost model says is faster (direct ~\n"
             "outputs x taps, FFT ~ tiles x P*Q*log2(P*Q), as\n"
             "scipy's choose_conv_method), both estimates shown;\n"
             "where they are within 2x, both methods are timed\n"
             "on the run's own inputs first and the faster runs\n"
             "(the report's trial line; not with --shard)",
     .set = set_choice, .off = AT(conv.method), .given = G_METHOD,
     .parse = pc_method_parse, .choices = "direct, fft, auto", .dflt = "auto"},
    {.name = "fft-plan", .arg = "E", .cmds = IN_RUN | IN_SWEEP,
     .group = GRP_CONV,
     .help = "FFTW planning: estimate or measure",
     .set = set_choice, .off = AT(conv.fft_effort), .parse = parse_fft_plan,
     .choices = "estimate, measure", .dflt = "estimate"},
    {.name = "fft-size", .arg = "PxQ", .cmds = IN_RUN, .group = GRP_CONV,
     .help = "FFT transform size instead of timing the candidates\n"
             "(the manifest records the one used; pin it to get\n"
             "the same bits from separately planned runs)",
     .set = set_shape, .off = AT(conv.fft_P), .off2 = AT(conv.fft_Q)},
    {.name = "wisdom", .arg = "FILE", .cmds = IN_RUN | IN_SWEEP,
     .group = GRP_CONV,
     .help = "FFTW wisdom: imported before planning, saved after\n"
             "(created if missing; one file per dtype)",
     .set = set_path, .off = AT(conv.wisdom), .choices = "file name"},
    {.name = "calibration", .arg = "F",
     .cmds = IN_RUN | IN_CALIBRATE | IN_SWEEP, .group = GRP_CONV,
     .help = "the cost model's constants, as written by\n"
             "'parconv calibrate'",
     .set = set_path, .off = AT(calibration), .choices = "file name",
     .dflt = "$PARCONV_CALIBRATION, else\n"
             "$XDG_CONFIG_HOME/parconv/calibration, else\n"
             "~/.config/parconv/calibration if present, else\n"
             "built-in"},
    {.name = "isa", .arg = "I",
     .cmds = IN_RUN | IN_PEAK | IN_CALIBRATE | IN_SWEEP, .group = GRP_CONV,
     .help = "auto, avx512, avx2 or generic: the instruction set\n"
             "of the direct kernels; auto takes the best this\n"
             "CPU has",
     .set = set_isa, .off = AT(conv.isa), .parse = pc_isa_parse,
     .choices = "auto, avx512, avx2, generic", .dflt = "auto"},

    {.name = "strategy", .letter = 'S', .arg = "LIST",
     .cmds = IN_RUN | IN_SWEEP, .group = GRP_STRATEGIES,
     .help = "comma-separated from serial,procs,threads,omp, run\n"
             "in that order\n"
             "serial   one loop over the kernels\n"
             "procs    worker processes started with posix_spawn;\n"
             "         inputs and results shared through a\n"
             "         memory mapping\n"
             "threads  POSIX threads\n"
             "omp      an OpenMP parallel loop\n"
             "The parallel ones split the output rows: worker w\n"
             "of W computes rows [w*R/W, (w+1)*R/W) of every\n"
             "kernel (FFT: of every group of kernels, by rows of\n"
             "tiles), so two workers balance whatever the bank.",
     .set = set_strategies, .given = G_STRATEGY,
     .dflt = "serial,procs,threads,omp; with -o only omp\n"
             "(compute once: give -S serial,procs,threads,omp\n"
             "to compare the strategies on a run that writes)"},
    {.name = "procs", .letter = 'p', .arg = "P", .cmds = IN_RUN | IN_SWEEP,
     .group = GRP_STRATEGIES,
     .help = "worker processes",
     .set = set_unsigned, .off = AT(procs), .max = 4096,
     .dflt = "SLURM_CPUS_PER_TASK, else the physical\n"
             "cores among the usable CPUs, else the usable\n"
             "CPUs. Usable CPUs: the affinity (taskset, a\n"
             "cpuset), capped by a cgroup CPU quota rounded\n"
             "up. More workers than usable CPUs are\n"
             "warned of and marked oversubscribed"},
    {.name = "threads", .letter = 't', .arg = "T",
     .cmds = IN_RUN | IN_PEAK | IN_SWEEP, .group = GRP_STRATEGIES,
     .help = "threads for threads and omp",
     .set = set_unsigned, .off = AT(threads), .max = 4096,
     .dflt = "OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else\n"
             "the usable CPUs (see --procs)"},

    {.name = "from", .arg = "A", .cmds = IN_SWEEP, .group = GRP_SWEEP,
     .help = "ksize: the first kernel size (A x A)",
     .set = set_size, .off = AT(sweep_from), .max = 4096},
    {.name = "to", .arg = "B", .cmds = IN_SWEEP, .group = GRP_SWEEP,
     .help = "ksize: the last kernel size (B x B)",
     .set = set_size, .off = AT(sweep_to), .max = 4096},
    {.name = "step", .arg = "S", .cmds = IN_SWEEP, .group = GRP_SWEEP,
     .help = "ksize: the step between kernel sizes",
     .set = set_size, .off = AT(sweep_step), .max = 4096, .dflt = "2"},
    {.name = "max", .arg = "T", .cmds = IN_SWEEP, .group = GRP_SWEEP,
     .help = "threads: time 1..T workers (-t T too); more than\n"
             "the usable CPUs is refused",
     .set = set_unsigned, .off = AT(sweep_max), .max = 256,
     .dflt = "the usable CPUs"},
    {.name = "runs", .arg = "R", .cmds = IN_SWEEP, .group = GRP_SWEEP,
     .help = "time each point R times (1-9), keep the median",
     .set = set_runs, .max = 9, .dflt = "3"},
    {.name = "csv", .arg = "FILE", .cmds = IN_SWEEP, .group = GRP_SWEEP,
     .help = "the table as CSV too",
     .set = set_path, .off = AT(csv_path), .choices = "file name"},

    {.name = "seconds", .arg = "S", .cmds = IN_DEMO, .group = GRP_DEMO,
     .help = "how long each thread (or process) sleeps",
     .set = set_seconds, .dflt = "2.5"},

    {.name = "output", .letter = 'o', .arg = "DIR", .cmds = IN_RUN | IN_GEN,
     .group = GRP_OUTPUT,
     .help = "write the planes (matrix n with kernel k, in the\n"
             "computed dtype) in DIR as --format says (by default\n"
             "kernel k's as DIR/conv_KKKKK.npy, k from 0, five\n"
             "digits) and DIR/manifest.json (workload, planes,\n"
             "checksums). The planes come from the first strategy,\n"
             "in batches, written while the next is computed, to\n"
             "temporary names, synced and renamed when whole: a\n"
             "file under its final name is complete; the manifest\n"
             "is rewritten (atomically) after each batch is\n"
             "stored. DIR is created if missing; one holding\n"
             "results of another workload is refused (see\n"
             "--force).",
     .set = set_path, .off = AT(outdir), .choices = "directory name"},
    {.name = "format", .arg = "F", .set = set_format, .dflt = "npy",
     .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "npy, stack or hdf5: how -o DIR holds the planes\n"
             "npy    a .npy per plane: conv_KKKKK.npy with one\n"
             "       matrix, conv_NNNNN_KKKKK.npy (matrix,\n"
             "       kernel) with several\n"
             "stack  one DIR/conv.npy of shape (N, K, R', C'),\n"
             "       (K, R', C') with one matrix\n"
             "hdf5   DIR/conv.h5, dataset /conv (N, K, R', C'),\n"
             "       a chunk per plane\n"
             "Shards write conv.shard-I-of-N.npy/.h5, which\n"
             "merge joins."},
    {.name = "compress", .arg = "C", .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "hdf5: none, deflate or deflate:LEVEL (0-9, with\n"
             "HDF5's shuffle filter; deflate is level 4)",
     .set = set_compress, .given = G_COMPRESS, .dflt = "none"},
    {.name = "resume", .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "with -o: keep the planes an earlier run of the same\n"
             "workload completed in DIR (each read back and\n"
             "checked against the manifest's checksum) and compute\n"
             "the rest; refused if DIR holds another workload or\n"
             "another --format",
     .set = set_flag, .off = AT(resume)},
    {.name = "force", .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "with -o: replace DIR's results: first remove its\n"
             "conv_*.npy, conv.npy, conv.h5, manifests and their\n"
             "temporaries (a shard: its share), never any other\n"
             "file",
     .set = set_flag, .off = AT(force)},
    {.name = "shard", .arg = "I/N", .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "compute only planes I, I+N, I+2N, ... (0 <= I < N;\n"
             "plane p is matrix p / K with kernel p % K, K\n"
             "kernels), recorded in\n"
             "DIR/manifest.shard-I-of-N.json; 'parconv merge DIR'\n"
             "checks and combines the shards. Default from Slurm:\n"
             "SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of\n"
             "SLURM_ARRAY_TASK_COUNT in a job array, else\n"
             "SLURM_PROCID of SLURM_NTASKS under srun -n N > 1.\n"
             "Shards take the FFT size a manifest of the workload\n"
             "in DIR records, else the cost model's (no timing):\n"
             "the same in every shard, so they merge",
     .set = set_shard},
    {.name = "json", .arg = "FILE", .cmds = IN_RUN | IN_SWEEP,
     .group = GRP_OUTPUT,
     .help = "the report as JSON too, renamed into place when\n"
             "whole, also when a signal stops the run\n"
             "(\"interrupted\": true); '-' for stdout, the text\n"
             "report then goes to stderr",
     .set = set_path, .off = AT(json_path), .choices = "file name"},
    {.name = "quiet", .letter = 'q', .cmds = IN_RUN | IN_GEN | IN_SWEEP,
     .group = GRP_OUTPUT,
     .help = "no text report, no progress (errors are printed)",
     .set = set_flag, .off = AT(quiet)},
    {.name = "worker-timeout", .arg = "S", .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "procs: a worker that makes no progress for S\n"
             "seconds is killed as hung",
     .set = set_worker_timeout},
    {.name = "retries", .arg = "N", .cmds = IN_RUN, .group = GRP_OUTPUT,
     .help = "procs: give a failed or hung worker's share to a\n"
             "new worker up to N times (a warning each)",
     .set = set_retries, .dflt = "0"},
    {.name = "max-mem", .arg = "SIZE", .cmds = IN_RUN | IN_GEN,
     .group = GRP_OUTPUT,
     .help = "refuse runs that need more (e.g. 800M, 8G)",
     .set = set_max_mem, .dflt = "available memory"},

    {.name = "help", .letter = 'h', .cmds = IN_ALL, .group = GRP_GENERAL,
     .help = "this help ('parconv --help': every subcommand)",
     .set = set_help},
    {.name = "version", .letter = 'V', .cmds = IN_ALL, .group = GRP_GENERAL,
     .help = "the version",
     .set = set_version},
};
const size_t cli_nopts = sizeof cli_opts / sizeof cli_opts[0];
_Static_assert(sizeof cli_opts / sizeof cli_opts[0] < CLI_MAX_OPTS,
               "raise CLI_MAX_OPTS");

/* Where an option means something particular to a subcommand, its help
 * there says so. */
const cli_opt_note cli_opt_notes[] = {
    {IN_GEN, "output", "write DIR/matrix.npy and DIR/bank.npy (DIR is\n"
                       "created if missing)", NULL},
    {IN_GEN, "dtype", "f64 or f32: the type of the files", NULL},
    {IN_GEN, "quiet", "do not say what was written", NULL},
    {IN_PEAK | IN_CALIBRATE, "dtype", "f64 or f32: the type measured", NULL},
    {IN_PEAK | IN_CALIBRATE, "isa", "auto, avx512, avx2 or generic: the "
                                    "instruction set\nmeasured; auto takes "
                                    "the best this CPU has", NULL},
    {IN_PEAK, "threads", "the ceiling on T threads at once, besides one "
                         "core", NULL},
    {IN_CALIBRATE, "calibration", "the file to write the constants to",
     "$PARCONV_CALIBRATION, else\n"
     "$XDG_CONFIG_HOME/parconv/calibration, else\n"
     "~/.config/parconv/calibration"},
    {IN_SWEEP, "size", NULL, "ksize: 500x500; threads: 1000x1000"},
    {IN_SWEEP, "count", NULL, "ksize: 16; threads: 100"},
    {IN_SWEEP, "ksize", "threads: kernel size, or N for NxN (ksize varies\n"
                        "it)", NULL},
    {IN_SWEEP, "method", "threads: direct, fft or auto (ksize times both)",
     NULL},
    {IN_SWEEP, "strategy", "ksize: the one strategy timed; threads: the\n"
                           "parallel strategies timed",
     "ksize: omp; threads: omp,procs"},
    {IN_SWEEP, "threads", "ksize: the strategy's workers (procs too);\n"
                          "threads: as --max", NULL},
    {IN_SWEEP, "procs", "ignored: ksize -S procs runs -t workers, by\n"
                        "default", NULL},
    {IN_SWEEP, "json", "the sweep as JSON too; '-' for stdout, the text\n"
                       "then goes to stderr", NULL},
};
const size_t cli_nopt_notes = sizeof cli_opt_notes / sizeof cli_opt_notes[0];

/* ---------------------------------------------------------------------
 * The subcommands. */

static const cli_word demo_words[] = {
    {"sleep", "two POSIX threads sleep S seconds each: they overlap\n"
              "(about S in all)"},
    {"lock", "the same with a mutex around the sleep: one after the\n"
             "other (about 2S)"},
    {"task", "a task object {function, arguments, lock} run by two\n"
             "threads, then two processes under a process-shared lock"},
    {NULL, NULL},
};

static const cli_word sweep_words[] = {
    {"ksize", "for kernel sizes A..B (step S) times direct and FFT\n"
              "on one workload (one strategy, best of --runs in\n"
              "turn), shows what auto chose and its loss, the\n"
              "crossover, and\n"
              "writes CSV/JSON for bench/plot_crossover.py"},
    {"threads", "the workload (-n -k -s --method --dtype as for run)\n"
                "with 1..T workers (--max, at most the usable CPUs)\n"
                "for each strategy of -S (omp and procs by default),\n"
                "median of --runs: compute seconds, speedup,\n"
                "parallel efficiency, GFLOP/s; CSV/JSON for\n"
                "bench/plot_scaling.py"},
    {NULL, NULL},
};

const cli_command_info cli_commands[CMD_COUNT] = {
    [CMD_RUN] = {
        "run", "parconv [run] [OPTIONS]",
        "apply a kernel bank, compare strategies (the default)",
        "parconv applies every kernel of a bank to a matrix, exactly as\n"
        "scipy.signal.convolve2d(matrix, kernel, mode, boundary, fillvalue) "
        "does,\n"
        "once for each strategy chosen, times each run, checks that all "
        "runs agree\n"
        "bit for bit, and prints a report. run is the default subcommand:\n"
        "'parconv -n 300' is 'parconv run -n 300'.",
        NULL, NULL,
        "Signals: SIGTERM (what Slurm sends at the time limit) or SIGINT "
        "stop the\n"
        "run within moments (the batch under way is dropped); with -o the "
        "manifest\n"
        "records what is complete and the exit status is 143 or 130: "
        "rerun with\n"
        "--resume to finish.\n"
        "Progress goes to stderr: redrawn in place on a terminal, a line "
        "about every\n"
        "10% or 30 s otherwise, none with -q.\n"
        "Environment: OMP_NUM_THREADS and SLURM_CPUS_PER_TASK set the "
        "default\n"
        "thread count, SLURM_CPUS_PER_TASK the process count (see -t, -p); "
        "the\n"
        "other OMP_* variables (OMP_PROC_BIND, OMP_PLACES, OMP_THREAD_LIMIT, "
        "...)\n"
        "are honoured by the OpenMP runtime and shown in the report; omp "
        "reports\n"
        "the team it really got.\n"
        "\n"
        "Report: the workload, one box per strategy ('Executed in X s.'), "
        "a table\n"
        "of seconds, start/stop (the part of the seconds spent starting "
        "and\n"
        "stopping workers: spawning, mapping, joining, reaping), GFLOP/s "
        "over the\n"
        "compute time (from the first worker's start to the last one's "
        "end)\n"
        "(2*out_rows*out_cols*kh*kw per kernel; for FFT runs 'eff. "
        "GFLOP/s', that\n"
        "direct-equivalent count over the FFT run's time), % of the FMA "
        "ceiling\n"
        "(direct runs; measured on the same CPUs and thread count, 'n/a' "
        "if the\n"
        "run beat it twice), speedup over serial and checksum, a "
        "verification\n"
        "line, and the peak memory used. '*' marks oversubscribed runs."},
    [CMD_GEN] = {
        "gen", "parconv gen -o DIR [INPUTS]",
        "write the generated inputs as .npy",
        "Writes DIR/matrix.npy and DIR/bank.npy from --size, --count, "
        "--ksize,\n"
        "--range, --seed and --dtype (the same numbers 'run' would use).",
        NULL, NULL, NULL},
    [CMD_DEMO] = {
        "demo", "parconv demo sleep|lock|task [--seconds S]",
        "the threads lesson parconv grew from",
        "The lessons of the Python threading tutorial parconv grew from, "
        "in C.",
        demo_words, "Demos:", NULL},
    [CMD_PEAK] = {
        "peak", "parconv peak [--dtype D] [--isa I] [-t T]",
        "measure the FMA ceiling (GFLOP/s)",
        "Measures the FMA ceiling (GFLOP/s) of the ISA and dtype with a\n"
        "register-only loop, on one core and on T threads at once; the "
        "run\n"
        "report gives each strategy's share of it (% of peak).",
        NULL, NULL, NULL},
    [CMD_CALIBRATE] = {
        "calibrate",
        "parconv calibrate [--dtype D] [--isa I] [--calibration FILE]",
        "measure the cost model's constants for --method auto",
        "Times the direct and the FFT method on a few workloads and writes "
        "the\n"
        "cost model's constants for this machine (to --calibration FILE, "
        "else\n"
        "the default file) for --method auto.",
        NULL, NULL, NULL},
    [CMD_SWEEP] = {
        "sweep",
        "parconv sweep ksize --from A --to B [--step S] [--runs R]\n"
        "                    [--csv FILE] [--json FILE] [-n N] [-k K] "
        "[-S s]\n"
        "parconv sweep threads [--max T] [--runs R] [--csv F] [--json F]",
        "time direct against FFT over kernel sizes, or 1..T workers",
        "Times one workload many ways, for the crossover and scaling "
        "plots.",
        sweep_words, "Sweeps:", NULL},
    [CMD_MERGE] = {
        "merge", "parconv merge DIR",
        "combine sharded results",
        "The shards of a sharded run (--shard, or a Slurm job array or srun "
        "tasks),\n"
        "each with its DIR/manifest.shard-I-of-N.json, become one result: "
        "every\n"
        "kernel present exactly once with a file that checks out, and the\n"
        "manifest.json a single-node run would have written, byte for "
        "byte. The\n"
        "shard manifests are removed once it is in place. On a DIR with no "
        "shard\n"
        "manifests (merged already, or written by one run) it verifies "
        "every file\n"
        "against manifest.json instead: \"already merged: K kernels "
        "verified\".",
        NULL, NULL, NULL},
};
