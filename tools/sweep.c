/* parconv sweep ksize: direct against FFT over kernel sizes, and what auto
 * chose, on one workload; the crossover study. */
#include "calibration.h"
#include "commands.h"
#include "inputs.h"
#include "jsontext.h"
#include "outdir.h"
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t k;
    double direct, fft, autom; /* best seconds per kernel */
    double est_direct, est_fft;
    double trial_direct, trial_fft, trial_s; /* auto's trial, if any */
    pc_method chosen;
} point;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Direct and FFT on one workload, and what auto chooses: the plans made
 * first, then `runs` rounds of one run of each method in turn, the best
 * of each kept. On a shared machine a neighbour can only slow a run, and
 * taking turns lets a burst of load hit both alike, so the best of the
 * rounds compares the methods, not the moments they ran at. auto's time
 * is its method's: what the sweep judges is the choice (timing auto's own
 * plan as well would add only the noise between two runs of one method). */
static int time_methods(const cli_options *o, const pc_matrix *m,
                        const pc_bank *b, unsigned workers, point *pt)
{
    static const pc_method methods[3] = {PC_DIRECT, PC_FFT, PC_AUTO};
    pc_plan *plan[3] = {NULL, NULL, NULL};
    double best[2] = {INFINITY, INFINITY};
    uint64_t *sums = calloc(b->count, sizeof *sums);
    int st = sums ? PC_OK : pc_error(PC_ENOMEM, "cannot allocate checksums");
    for (int i = 0; !st && i < 3; i++) {
        pc_conv_params p = o->conv;
        p.method = methods[i];
        st = pc_plan_create(&plan[i], &p, m, b);
    }
    for (int r = 0; !st && r < o->sweep_runs; r++)
        for (int i = 0; !st && i < 2; i++) {
            pc_run_params rp = {.strategy = o->strategies[0],
                                .workers = workers,
                                .worker_exe = "/proc/self/exe", .sums = sums};
            pc_run_result res;
            if (!(st = pc_run(plan[i], &rp, &res)) &&
                res.compute / (double)b->count < best[i])
                best[i] = res.compute / (double)b->count;
        }
    if (!st) {
        pt->direct = best[0];
        pt->fft = best[1];
        pt->chosen = pc_plan_method(plan[2]);
        pt->autom = pt->chosen == PC_FFT ? pt->fft : pt->direct;
        pc_plan_estimates(plan[2], &pt->est_direct, &pt->est_fft);
        pc_plan_trial(plan[2], &pt->trial_direct, &pt->trial_fft,
                      &pt->trial_s);
    }
    for (int i = 0; i < 3; i++)
        pc_plan_destroy(plan[i]);
    free(sums);
    return st;
}

/* Writes root (a new reference, NULL if out of memory) to --json's file,
 * or stdout for '-'. */
static int write_json(const cli_options *o, json_t *root)
{
    int st = PC_OK;
    if (!root) {
        st = pc_error(PC_ENOMEM, "cannot write '%s': out of memory",
                      o->json_path);
    } else if (strcmp(o->json_path, "-") == 0) {
        if (json_dumpf(root, stdout, JSON_REPORT_FLAGS) != 0 ||
            fputc('\n', stdout) == EOF)
            st = pc_error(PC_EIO, "cannot write to standard output");
    } else {
        /* Written whole through a temporary, as every file of parconv's. */
        outdir_file f;
        st = outdir_file_open(&f, o->json_path, true);
        if (!st)
            st = outdir_file_json(&f, root, JSON_REPORT_FLAGS);
    }
    json_decref(root);
    return st;
}

/* A CSV file, written whole through a temporary: the stream to print into,
 * then csv_close. */
static FILE *csv_open(const char *path, outdir_file *f, int *st)
{
    FILE *fp = NULL;
    if (!(*st = outdir_file_open(f, path, true)) &&
        !(fp = outdir_file_stream(f)))
        *st = outdir_file_finish(f, NULL, true);
    return fp;
}

static int write_files(const cli_options *o, const point *pts, size_t n,
                       unsigned workers)
{
    if (o->csv_path) {
        outdir_file of;
        int st;
        FILE *f = csv_open(o->csv_path, &of, &st);
        if (!f)
            return st;
        fprintf(f, "ksize,direct_ms,fft_ms,auto,auto_ms,est_direct_ms,"
                "est_fft_ms,trial_direct_ms,trial_fft_ms,trial_s\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%zu,%.6f,%.6f,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f\n",
                    pts[i].k, 1e3 * pts[i].direct, 1e3 * pts[i].fft,
                    pc_method_name(pts[i].chosen), 1e3 * pts[i].autom,
                    1e3 * pts[i].est_direct, 1e3 * pts[i].est_fft,
                    1e3 * pts[i].trial_direct, 1e3 * pts[i].trial_fft,
                    pts[i].trial_s);
        if ((st = outdir_file_finish(&of, f, ferror(f) != 0)))
            return st;
    }
    if (!o->json_path)
        return PC_OK;
    json_t *points = json_array();
    for (size_t i = 0; points && i < n; i++)
        if (json_array_append_new(points, json_pack(
                "{s:I, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "ksize",
                (json_int_t)pts[i].k,
                "direct_ms", json_fixed(1e3 * pts[i].direct, 6),
                "fft_ms", json_fixed(1e3 * pts[i].fft, 6),
                "auto", pc_method_name(pts[i].chosen),
                "auto_ms", json_fixed(1e3 * pts[i].autom, 6),
                "est_direct_ms", json_fixed(1e3 * pts[i].est_direct, 6),
                "est_fft_ms", json_fixed(1e3 * pts[i].est_fft, 6),
                "trial", pts[i].trial_s > 0
                    ? json_pack("{s:o, s:o, s:o}",
                                "direct_ms", json_fixed(1e3 * pts[i].trial_direct, 6),
                                "fft_ms", json_fixed(1e3 * pts[i].trial_fft, 6),
                                "seconds", json_fixed(pts[i].trial_s, 4))
                    : json_null()))) {
            json_decref(points);
            points = NULL;
        }
    return write_json(o, json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:i, s:i, s:s, s:o}",
        "version",
        PC_VERSION, "sweep", "ksize", "rows", (json_int_t)o->rows, "cols",
        (json_int_t)o->cols, "count", (json_int_t)o->count, "dtype",
        pc_dtype_name(o->conv.dtype), "mode", pc_mode_name(o->conv.mode),
        "strategy", pc_strategy_name(o->strategies[0]), "workers", (int)workers,
        "runs", o->sweep_runs, "statistic", "best of runs, in turn", "points",
        points));
}

/* The workload's inputs as run reads them: -m (its first matrix), -b,
 * else generated; q's sizes become theirs, so that the tables and the
 * JSON say what was timed. j->m holds the matrix, j->b the bank. */
static int sweep_inputs(cli_options *q, job *j)
{
    *j = (job){.o = q};
    int st = inputs_load(j);
    if (!st)
        st = inputs_matrix(j, 0);
    q->rows = j->rows;
    q->cols = j->cols;
    q->count = j->total;
    q->krows = j->krows;
    q->kcols = j->kcols;
    return st;
}

static int sweep_ksize(const cli_options *o, unsigned workers)
{
    if (!o->sweep_to || o->sweep_from > o->sweep_to)
        return pc_error(PC_EUSAGE, "sweep ksize needs --from A --to B with "
                        "A <= B");
    size_t n = (o->sweep_to - o->sweep_from) / o->sweep_step + 1;
    point *pts = calloc(n, sizeof *pts);
    if (!pts)
        return pc_error(PC_ENOMEM, "cannot allocate the sweep");
    /* -m: its first matrix; the kernels are generated for each size. */
    cli_options q = *o;
    job j;
    int st = sweep_inputs(&q, &j);
    const pc_matrix m = j.m;
    pc_gen_params g = o->gen;
    o = &q;
    FILE *text = o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
    if (!st && !o->quiet)
        fprintf(text, "sweep ksize %zu..%zu step %zu: %zu kernels on %zux%zu, "
                "%s, mode %s, strategy %s x%u, best of %d runs in turn\n"
                "%6s %12s %12s %7s %12s %9s %6s\n", o->sweep_from,
                o->sweep_to, o->sweep_step, o->count, o->rows, o->cols,
                pc_dtype_name(o->conv.dtype), pc_mode_name(o->conv.mode),
                pc_strategy_name(o->strategies[0]), workers, o->sweep_runs,
                "ksize", "direct ms/k", "fft ms/k", "auto", "auto ms/k",
                "auto loss", "trial");
    double worst = 0;
    size_t worst_k = 0;
    for (size_t i = 0; !st && i < n; i++) {
        point *pt = &pts[i];
        pt->k = o->sweep_from + i * o->sweep_step;
        pc_bank b;
        if ((st = pc_bank_alloc(&b, o->count, pt->k, pt->k)))
            break;
        st = pc_generate(&g, o->rows, o->cols, NULL, &b);
        if (!st)
            st = time_methods(o, &m, &b, workers, pt);
        pc_bank_free(&b);
        if (st)
            break;
        double best = pt->direct < pt->fft ? pt->direct : pt->fft;
        double loss = pt->autom / best - 1;
        if (loss > worst) {
            worst = loss;
            worst_k = pt->k;
        }
        if (!o->quiet) {
            fprintf(text, "%6zu %12.3f %12.3f %7s %12.3f %8.1f%% %6s\n",
                    pt->k, 1e3 * pt->direct, 1e3 * pt->fft,
                    pc_method_name(pt->chosen), 1e3 * pt->autom, 100 * loss,
                    pt->trial_s > 0 ? "yes" : "-");
            fflush(text);
        }
    }
    if (!st && !o->quiet) {
        size_t cross = 0;
        for (size_t i = 0; i < n; i++)
            if (pts[i].fft < pts[i].direct) {
                cross = pts[i].k;
                break;
            }
        if (cross)
            fprintf(text, "crossover: fft is faster from %zux%zu on\n", cross,
                    cross);
        else
            fprintf(text, "crossover: direct was faster at every size\n");
        if (worst > 0)
            fprintf(text, "auto's worst loss: %.1f%% (at %zux%zu)\n",
                    100 * worst, worst_k, worst_k);
        else
            fprintf(text, "auto's worst loss: none, it chose the faster "
                          "method at every size\n");
    }
    if (!st)
        st = write_files(o, pts, n, workers);
    free(pts);
    inputs_free(&j);
    return st;
}

/* sweep threads' strategies: -S, else omp and procs. */
typedef struct {
    pc_strategy s[PC_NSTRATEGIES];
    int n;
    unsigned tmax;
    unsigned got[PC_NSTRATEGIES]; /* counts timed, 1..got[si] */
    double *secs;                 /* median compute seconds, [si * tmax + t - 1] */
} sweep_plan;

/* One point's figures: seconds, speedup over one worker of the same
 * strategy, parallel efficiency, GFLOP/s. */
static void point_figures(const sweep_plan *sp, int si, unsigned t,
                          double flops, double f[4])
{
    double tt = sp->secs[si * sp->tmax + t - 1], t1 = sp->secs[si * sp->tmax];
    f[0] = tt;
    f[1] = t1 / tt;
    f[2] = t1 / tt / t;
    f[3] = flops / tt / 1e9;
}

/* sweep threads' JSON: the workload and a point per strategy and count. */
static json_t *threads_json(const cli_options *o, const pc_plan *plan,
                            const sweep_plan *sp, double flops)
{
    char omp[160];
    omp_settings(omp, sizeof omp);
    json_t *points = json_array();
    for (int si = 0; si < sp->n; si++)
        for (unsigned t = 1; points && t <= sp->got[si]; t++) {
            double f[4];
            point_figures(sp, si, t, flops, f);
            if (json_array_append_new(points, json_pack(
                    "{s:s, s:i, s:o, s:o, s:o, s:o}", "strategy",
                    pc_strategy_name(sp->s[si]), "workers", (int)t, "seconds",
                    json_fixed(f[0], 6), "speedup", json_fixed(f[1], 4),
                    "efficiency", json_fixed(f[2], 4), "gflops",
                    json_fixed(f[3], 3)))) {
                json_decref(points);
                points = NULL;
            }
        }
    const pc_cpu_info *ci = cli_cpus();
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:i, s:i, "
                     "s:i, s:i, s:s, s:o, s:o}", "version", PC_VERSION, "sweep",
                     "threads", "rows", (json_int_t)o->rows, "cols",
                     (json_int_t)o->cols, "count", (json_int_t)o->count,
                     "krows", (json_int_t)o->krows, "kcols",
                     (json_int_t)o->kcols, "dtype", pc_dtype_name(o->conv.dtype),
                     "method", pc_method_name(pc_plan_method(plan)), "runs",
                     o->sweep_runs, "online_cpus", (int)pc_online_cpus(),
                     "physical_cores", (int)pc_physical_cores(), "usable_cpus",
                     (int)ci->usable, "usable_from", ci->from, "omp_runtime",
                     json_text(omp), "points", points);
}

static int write_threads_csv(const char *path, const sweep_plan *sp,
                             double flops)
{
    outdir_file of;
    int st;
    FILE *f = csv_open(path, &of, &st);
    if (!f)
        return st;
    fprintf(f, "strategy,workers,seconds,speedup,efficiency,gflops\n");
    for (int si = 0; si < sp->n; si++)
        for (unsigned t = 1; t <= sp->got[si]; t++) {
            double v[4];
            point_figures(sp, si, t, flops, v);
            fprintf(f, "%s,%u,%.6f,%.4f,%.4f,%.3f\n",
                    pc_strategy_name(sp->s[si]), t, v[0], v[1], v[2], v[3]);
        }
    return outdir_file_finish(&of, f, ferror(f) != 0);
}

/* Strategy si with t workers, median of --runs; false (and a note) if the
 * run had fewer workers than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC, fewer
 * output rows): more would not be what the row says. */
static int time_point(const cli_options *o, const pc_plan *plan,
                      sweep_plan *sp, int si, unsigned t, uint64_t *sums,
                      bool *short_team)
{
    double r[9];
    *short_team = false;
    /* One run first, not timed: the first run of a strategy pays for cold
     * caches and first touches, which would flatter every later count. */
    for (int rep = t == 1 ? -1 : 0; rep < o->sweep_runs; rep++) {
        pc_run_params rp = {.strategy = sp->s[si], .workers = t,
                            .worker_exe = "/proc/self/exe", .sums = sums};
        pc_run_result res;
        int st = pc_run(plan, &rp, &res);
        if (st)
            return st;
        if (res.workers < t) {
            fprintf(stderr, "parconv: %s got %u worker%s for %u asked (%s): "
                    "its sweep stops at %u\n", pc_strategy_name(sp->s[si]),
                    res.workers, res.workers == 1 ? "" : "s", t,
                    sp->s[si] == PC_OMP
                        ? "OMP_THREAD_LIMIT or OMP_DYNAMIC" : "output rows",
                    t - 1);
            *short_team = true;
            return PC_OK;
        }
        if (rep >= 0)
            r[rep] = res.compute;
    }
    qsort(r, (size_t)o->sweep_runs, sizeof *r, cmp_double);
    sp->secs[si * sp->tmax + t - 1] = r[o->sweep_runs / 2];
    sp->got[si] = t;
    return PC_OK;
}

/* parconv sweep threads: the workload with 1..T workers of each strategy,
 * median of several runs each: compute seconds (first worker's start to
 * last one's end), speedup over one worker of the same strategy, parallel
 * efficiency, GFLOP/s. */
static int sweep_threads(const cli_options *o, sweep_plan *sp)
{
    pc_plan *plan = NULL;
    uint64_t *sums = NULL;
    /* -m (its first matrix) and -b as run reads them, else generated. */
    cli_options q = *o;
    job j;
    int st = sweep_inputs(&q, &j);
    o = &q;
    if (!st)
        st = pc_plan_create(&plan, &o->conv, &j.m, &j.b);
    if (!st && !(sums = calloc(o->count, sizeof *sums)))
        st = pc_error(PC_ENOMEM, "cannot allocate checksums");
    inputs_free(&j);
    sp->secs = calloc((size_t)sp->n * sp->tmax, sizeof *sp->secs);
    if (!st && !sp->secs)
        st = pc_error(PC_ENOMEM, "cannot allocate the sweep");
    double flops = st ? 0 : pc_plan_flops(plan) * (double)o->count;
    FILE *text = o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
    if (!st && !o->quiet)
        fprintf(text, "sweep threads 1..%u (%u usable CPUs: %s): %zu kernels "
                "of %zux%zu on %zux%zu, %s, method %s, median of %d runs\n"
                "%-8s %7s %10s %9s %11s %9s\n", sp->tmax, cli_cpus()->usable,
                cli_cpus()->from, o->count, o->krows, o->kcols, o->rows,
                o->cols, pc_dtype_name(o->conv.dtype),
                pc_method_name(pc_plan_method(plan)), o->sweep_runs,
                "strategy", "workers", "seconds", "speedup", "efficiency",
                "GFLOP/s");
    for (int si = 0; !st && si < sp->n; si++)
        for (unsigned t = 1; !st && t <= sp->tmax; t++) {
            bool short_team;
            st = time_point(o, plan, sp, si, t, sums, &short_team);
            if (st || short_team)
                break;
            double f[4];
            point_figures(sp, si, t, flops, f);
            if (!o->quiet)
                fprintf(text, "%-8s %7u %10.5f %8.2fx %10.1f%% %9.2f\n",
                        pc_strategy_name(sp->s[si]), t, f[0], f[1],
                        100 * f[2], f[3]);
        }
    if (!st && !o->quiet)
        fprintf(text, "seconds: compute time, from the first worker's start "
                "to the last one's end; speedup and efficiency against one "
                "worker of the same strategy\n");
    if (!st && o->csv_path)
        st = write_threads_csv(o->csv_path, sp, flops);
    if (!st && o->json_path)
        st = write_json(o, threads_json(o, plan, sp, flops));
    free(sp->secs);
    free(sums);
    pc_plan_destroy(plan);
    return st;
}

/* sweep threads' strategies and largest count: -S (parallel ones only),
 * else omp and procs; --max or -t (the same if both), else the usable
 * CPUs, and never more: past them the workers take turns and the
 * efficiency measures the scheduler. */
static int threads_plan(const cli_options *o, sweep_plan *sp)
{
    *sp = (sweep_plan){.n = 0};
    for (int i = 0; i < o->nstrategies; i++) {
        if (o->strategies[i] == PC_SERIAL)
            return pc_error(PC_EUSAGE, "sweep threads times parallel "
                            "strategies: -S takes procs, threads, omp");
        sp->s[sp->n++] = o->strategies[i];
    }
    if (!sp->n) {
        sp->s[sp->n++] = PC_OMP;
        sp->s[sp->n++] = PC_PROCS;
    }
    if (o->sweep_max && o->threads && o->sweep_max != o->threads)
        return pc_error(PC_EUSAGE, "sweep threads: --max %u and -t %u differ "
                        "(either gives the largest worker count)",
                        o->sweep_max, o->threads);
    const pc_cpu_info *ci = cli_cpus();
    sp->tmax = o->sweep_max ? o->sweep_max
               : o->threads ? o->threads : ci->usable;
    if (sp->tmax > ci->usable)
        return pc_error(PC_EUSAGE, "sweep threads: %u workers is more than "
                        "the %u usable CPU%s (%s); past them workers take "
                        "turns and the efficiency says nothing", sp->tmax,
                        ci->usable, ci->usable == 1 ? "" : "s", ci->from);
    return PC_OK;
}

int sweep_cmd(cli_options *o)
{
    const char *model;
    int st = calibration_load(o, &model);
    if (st)
        return st;
    if (o->sweep_threads) {
        sweep_plan sp;
        st = threads_plan(o, &sp);
        return st ? st : sweep_threads(o, &sp);
    }
    /* ksize: -t workers, else the strategy's default (-p is not read). */
    cli_options q = *o;
    q.procs = 0;
    unsigned n = 0;
    const char *from;
    st = o->strategies[0] == PC_PROCS && !o->threads
             ? cli_default_procs(&q, &n, &from)
             : cli_default_threads(o, &n, &from);
    if (st)
        return st;
    cli_warn_oversubscribed(o, n, n);
    return sweep_ksize(o, n);
}
