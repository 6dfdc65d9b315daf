/* parconv sweep ksize: direct against FFT over kernel sizes, and what auto
 * chose, on one workload; the crossover study. */
#include "calibration.h"
#include "commands.h"
#include "jsontext.h"
#include "report.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t k;
    double direct, fft;       /* median seconds per kernel */
    double est_direct, est_fft;
    pc_method chosen;
} point;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per kernel of `runs` runs of the strategy. */
static int time_method(const cli_options *o, const pc_matrix *m,
                       const pc_bank *b, pc_method method, unsigned workers,
                       double *per_kernel, double *ed, double *ef,
                       pc_method *chosen)
{
    pc_conv_params p = o->conv;
    p.method = method;
    pc_plan *plan;
    int st = pc_plan_create(&plan, &p, m, b);
    if (st)
        return st;
    pc_plan_estimates(plan, ed, ef);
    *chosen = pc_plan_method(plan);
    uint64_t *sums = calloc(b->count, sizeof *sums);
    double t[9];
    int runs = o->sweep_runs;
    for (int r = 0; !st && r < runs; r++) {
        pc_run_params rp = {.strategy = o->strategies[0], .workers = workers,
                            .worker_exe = "/proc/self/exe", .sums = sums};
        pc_run_result res;
        st = sums ? pc_run(plan, &rp, &res)
                  : pc_error(PC_ENOMEM, "cannot allocate checksums");
        t[r] = res.compute / (double)b->count;
    }
    if (!st) {
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        *per_kernel = t[runs / 2];
    }
    free(sums);
    pc_plan_destroy(plan);
    return st;
}

/* Writes root (a new reference, NULL if out of memory) to --json's file,
 * or stdout for '-'. */
static int write_json(const cli_options *o, json_t *root)
{
    bool out = strcmp(o->json_path, "-") == 0;
    FILE *f = out ? stdout : fopen(o->json_path, "w");
    int bad = !f || !root || json_dumpf(root, f, JSON_REPORT_FLAGS) != 0 ||
              fputc('\n', f) == EOF;
    json_decref(root);
    if (f && !out)
        bad |= ferror(f) | fclose(f);
    return bad ? pc_error(PC_EIO, "cannot write '%s'", o->json_path) : PC_OK;
}

static int write_files(const cli_options *o, const point *pts, size_t n,
                       unsigned workers)
{
    if (o->csv_path) {
        FILE *f = fopen(o->csv_path, "w");
        if (!f)
            return pc_error(PC_EIO, "cannot write '%s'", o->csv_path);
        fprintf(f, "ksize,direct_ms,fft_ms,auto,auto_ms,est_direct_ms,est_fft_ms\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%zu,%.6f,%.6f,%s,%.6f,%.6f,%.6f\n", pts[i].k,
                    1e3 * pts[i].direct, 1e3 * pts[i].fft,
                    pc_method_name(pts[i].chosen),
                    1e3 * (pts[i].chosen == PC_FFT ? pts[i].fft : pts[i].direct),
                    1e3 * pts[i].est_direct, 1e3 * pts[i].est_fft);
        if (ferror(f) | fclose(f))
            return pc_error(PC_EIO, "cannot write '%s'", o->csv_path);
    }
    if (!o->json_path)
        return PC_OK;
    json_t *points = json_array();
    for (size_t i = 0; points && i < n; i++)
        if (json_array_append_new(points, json_pack(
                "{s:I, s:o, s:o, s:s, s:o, s:o}", "ksize", (json_int_t)pts[i].k,
                "direct_ms", json_fixed(1e3 * pts[i].direct, 6),
                "fft_ms", json_fixed(1e3 * pts[i].fft, 6),
                "auto", pc_method_name(pts[i].chosen),
                "est_direct_ms", json_fixed(1e3 * pts[i].est_direct, 6),
                "est_fft_ms", json_fixed(1e3 * pts[i].est_fft, 6)))) {
            json_decref(points);
            points = NULL;
        }
    return write_json(o, json_pack(
        "{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:i, s:i, s:o}", "version",
        PC_VERSION, "sweep", "ksize", "rows", (json_int_t)o->rows, "cols",
        (json_int_t)o->cols, "count", (json_int_t)o->count, "dtype",
        pc_dtype_name(o->conv.dtype), "mode", pc_mode_name(o->conv.mode),
        "strategy", pc_strategy_name(o->strategies[0]), "workers", (int)workers,
        "runs", o->sweep_runs, "points", points));
}

static int sweep_ksize(const cli_options *o, unsigned workers)
{
    if (!o->sweep_to || o->sweep_from > o->sweep_to)
        return pc_error(PC_EUSAGE, "sweep ksize needs --from A --to B with "
                        "A <= B");
    size_t n = (o->sweep_to - o->sweep_from) / o->sweep_step + 1;
    point *pts = calloc(n, sizeof *pts);
    pc_matrix m = {0};
    if (!pts)
        return pc_error(PC_ENOMEM, "cannot allocate the sweep");
    int st = pc_matrix_alloc(&m, o->rows, o->cols);
    pc_gen_params g = o->gen;
    if (!st)
        st = pc_generate(&g, o->rows, o->cols, &m, NULL);
    FILE *text = o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
    if (!st && !o->quiet)
        fprintf(text, "sweep ksize %zu..%zu step %zu: %zu kernels on %zux%zu, "
                "%s, mode %s, strategy %s x%u, median of %d runs\n%6s %12s "
                "%12s %7s %9s\n", o->sweep_from, o->sweep_to, o->sweep_step,
                o->count, o->rows, o->cols, pc_dtype_name(o->conv.dtype),
                pc_mode_name(o->conv.mode), pc_strategy_name(o->strategies[0]),
                workers, o->sweep_runs, "ksize", "direct ms/k", "fft ms/k",
                "auto", "auto loss");
    double worst = 0;
    size_t worst_k = 0;
    for (size_t i = 0; !st && i < n; i++) {
        point *pt = &pts[i];
        pt->k = o->sweep_from + i * o->sweep_step;
        pc_bank b;
        if ((st = pc_bank_alloc(&b, o->count, pt->k, pt->k)))
            break;
        st = pc_generate(&g, o->rows, o->cols, NULL, &b);
        pc_method dummy;
        double e1, e2;
        if (!st)
            st = time_method(o, &m, &b, PC_DIRECT, workers, &pt->direct,
                             &e1, &e2, &dummy);
        if (!st)
            st = time_method(o, &m, &b, PC_FFT, workers, &pt->fft, &e1, &e2,
                             &dummy);
        /* What auto picks: the plan alone tells. */
        pc_conv_params p = o->conv;
        p.method = PC_AUTO;
        pc_plan *plan;
        if (!st && !(st = pc_plan_create(&plan, &p, &m, &b))) {
            pt->chosen = pc_plan_method(plan);
            pc_plan_estimates(plan, &pt->est_direct, &pt->est_fft);
            pc_plan_destroy(plan);
        }
        pc_bank_free(&b);
        if (st)
            break;
        double best = pt->direct < pt->fft ? pt->direct : pt->fft;
        double got = pt->chosen == PC_FFT ? pt->fft : pt->direct;
        double loss = got / best - 1;
        if (loss > worst) {
            worst = loss;
            worst_k = pt->k;
        }
        if (!o->quiet) {
            fprintf(text, "%6zu %12.3f %12.3f %7s %8.1f%%\n", pt->k,
                    1e3 * pt->direct, 1e3 * pt->fft,
                    pc_method_name(pt->chosen), 100 * loss);
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
    pc_matrix_free(&m);
    return st;
}

/* The strategies sweep threads compares. */
static const pc_strategy strats[] = {PC_OMP, PC_PROCS};
enum { NS = sizeof strats / sizeof *strats };

/* sweep threads' JSON: the workload and a point per strategy and count. */
static json_t *threads_json(const cli_options *o, const pc_plan *plan,
                            const double *secs, unsigned tmax, double flops)
{
    char omp[160];
    omp_settings(omp, sizeof omp);
    json_t *points = json_array();
    for (int si = 0; si < NS; si++)
        for (unsigned t = 1; points && t <= tmax; t++) {
            double tt = secs[si * tmax + t - 1], t1 = secs[si * tmax];
            if (json_array_append_new(points, json_pack(
                    "{s:s, s:i, s:o, s:o, s:o, s:o}", "strategy",
                    pc_strategy_name(strats[si]), "workers", (int)t, "seconds",
                    json_fixed(tt, 6), "speedup",
                    json_fixed(t1 / tt, 4), "efficiency",
                    json_fixed(t1 / tt / t, 4), "gflops",
                    json_fixed(flops / tt / 1e9, 3)))) {
                json_decref(points);
                points = NULL;
            }
        }
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:i, s:i, "
                     "s:i, s:o, s:o}", "version", PC_VERSION, "sweep", "threads",
                     "rows", (json_int_t)o->rows, "cols", (json_int_t)o->cols,
                     "count", (json_int_t)o->count, "krows",
                     (json_int_t)o->krows, "kcols", (json_int_t)o->kcols,
                     "dtype", pc_dtype_name(o->conv.dtype), "method",
                     pc_method_name(pc_plan_method(plan)), "runs", o->sweep_runs,
                     "online_cpus", (int)pc_online_cpus(), "physical_cores",
                     (int)pc_physical_cores(), "omp_runtime", json_text(omp),
                     "points", points);
}

/* parconv sweep threads: the workload with 1..T threads (omp) and 1..T
 * processes (procs), median of several runs each: seconds, speedup over
 * one worker of the same strategy, parallel efficiency, GFLOP/s. */
static int sweep_threads(const cli_options *o, unsigned tmax)
{
    pc_matrix m = {0};
    pc_bank b = {0};
    pc_plan *plan = NULL;
    uint64_t *sums = NULL;
    int st = pc_matrix_alloc(&m, o->rows, o->cols);
    if (!st)
        st = pc_bank_alloc(&b, o->count, o->krows, o->kcols);
    if (!st)
        st = pc_generate(&o->gen, o->rows, o->cols, &m, &b);
    if (!st)
        st = pc_plan_create(&plan, &o->conv, &m, &b);
    if (!st && !(sums = calloc(o->count, sizeof *sums)))
        st = pc_error(PC_ENOMEM, "cannot allocate checksums");
    pc_matrix_free(&m);
    pc_bank_free(&b);
    double *secs = calloc((size_t)NS * tmax, sizeof *secs);
    if (!st && !secs)
        st = pc_error(PC_ENOMEM, "cannot allocate the sweep");
    double flops = st ? 0 : pc_plan_flops(plan) * (double)o->count;
    FILE *text = o->json_path && strcmp(o->json_path, "-") == 0 ? stderr : stdout;
    if (!st && !o->quiet)
        fprintf(text, "sweep threads 1..%u: %zu kernels of %zux%zu on %zux%zu, "
                "%s, method %s, median of %d runs\n%-8s %7s %10s %9s %11s "
                "%9s\n", tmax, o->count, o->krows, o->kcols, o->rows, o->cols,
                pc_dtype_name(o->conv.dtype),
                pc_method_name(pc_plan_method(plan)), o->sweep_runs,
                "strategy", "workers", "seconds", "speedup", "efficiency",
                "GFLOP/s");
    for (int si = 0; !st && si < NS; si++)
        for (unsigned t = 1; !st && t <= tmax; t++) {
            double r[9];
            for (int rep = 0; !st && rep < o->sweep_runs; rep++) {
                pc_run_params rp = {.strategy = strats[si], .workers = t,
                                    .worker_exe = "/proc/self/exe",
                                    .sums = sums};
                pc_run_result res;
                st = pc_run(plan, &rp, &res);
                r[rep] = res.compute;
            }
            if (st)
                break;
            qsort(r, (size_t)o->sweep_runs, sizeof *r, cmp_double);
            double t1, tt = secs[si * tmax + t - 1] = r[o->sweep_runs / 2];
            t1 = secs[si * tmax];
            if (!o->quiet)
                fprintf(text, "%-8s %7u %10.5f %8.2fx %10.1f%% %9.2f\n",
                        pc_strategy_name(strats[si]), t, tt, t1 / tt,
                        100 * t1 / tt / t, flops / tt / 1e9);
        }
    if (!st && o->csv_path) {
        FILE *f = fopen(o->csv_path, "w");
        if (!f)
            st = pc_error(PC_EIO, "cannot write '%s'", o->csv_path);
        else {
            fprintf(f, "strategy,workers,seconds,speedup,efficiency,gflops\n");
            for (int si = 0; si < NS; si++)
                for (unsigned t = 1; t <= tmax; t++) {
                    double tt = secs[si * tmax + t - 1], t1 = secs[si * tmax];
                    fprintf(f, "%s,%u,%.6f,%.4f,%.4f,%.3f\n",
                            pc_strategy_name(strats[si]), t, tt, t1 / tt,
                            t1 / tt / t, flops / tt / 1e9);
                }
            if (ferror(f) | fclose(f))
                st = pc_error(PC_EIO, "cannot write '%s'", o->csv_path);
        }
    }
    if (!st && o->json_path)
        st = write_json(o, threads_json(o, plan, secs, tmax, flops));
    free(secs);
    free(sums);
    pc_plan_destroy(plan);
    return st;
}

int sweep_cmd(cli_options *o)
{
    unsigned n = 0;
    const char *from, *model;
    int st = cli_default_threads(&n, &from);
    if (!st && o->strategies[0] == PC_PROCS)
        cli_default_procs(&n, &from);
    if (!st)
        st = calibration_load(o, &model);
    if (st)
        return st;
    if (o->sweep_threads)
        return sweep_threads(o, o->sweep_max ? o->sweep_max : pc_online_cpus());
    return sweep_ksize(o, o->threads ? o->threads : n);
}
