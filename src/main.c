/* parconv: the command-line driver. main() reads as its phases: options,
 * inputs, plan (set-up, not timed), one timed run per strategy,
 * verification, outputs, report. The library does the work. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Usage and input errors exit 2, everything else 1. */
static int exit_code(int st)
{
    if (st == PC_OK)
        return 0;
    return st == PC_EUSAGE || st == PC_EINPUT ? 2 : 1;
}

static int fail(int st)
{
    const char *msg = pc_errmsg();
    fprintf(stderr, "parconv: %s\n", *msg ? msg : pc_strerror(st));
    return exit_code(st);
}

/* A file's shape must agree with any size option given alongside it. */
static int check_given(const cli_options *o, unsigned flag, const char *opt,
                       size_t want_r, size_t want_c, size_t r, size_t c,
                       const char *path)
{
    if ((o->given & flag) && (want_r != r || want_c != c))
        return pc_error(PC_EUSAGE, "%s %zux%zu does not match %s, which is "
                        "%zux%zu", opt, want_r, want_c, path, r, c);
    return PC_OK;
}

/* Reads the files, works out the shapes, refuses what would not fit in
 * memory, then generates what was not read. */
static int load_inputs(job *j)
{
    const cli_options *o = j->o;
    int st;
    /* A file that cannot be read is bad input, like a malformed one. */
    if (o->matrix_path) {
        if ((st = pc_npy_read_matrix(o->matrix_path, &j->m)))
            return st == PC_EIO ? PC_EINPUT : st;
        if ((st = check_given(o, G_SIZE, "--size", o->rows, o->cols, j->m.rows,
                              j->m.cols, o->matrix_path)))
            return st;
    }
    if (o->bank_path) {
        if ((st = pc_npy_read_bank(o->bank_path, &j->b)))
            return st == PC_EIO ? PC_EINPUT : st;
        if ((o->given & G_COUNT) && o->count != j->b.count)
            return pc_error(PC_EUSAGE, "--count %zu does not match %s, which "
                            "holds %zu kernels", o->count, o->bank_path,
                            j->b.count);
        if ((st = check_given(o, G_KSIZE, "--ksize", o->krows, o->kcols,
                              j->b.rows, j->b.cols, o->bank_path)))
            return st;
    }
    size_t rows = o->matrix_path ? j->m.rows : o->rows;
    size_t cols = o->matrix_path ? j->m.cols : o->cols;
    size_t count = o->bank_path ? j->b.count : o->count;
    size_t kr = o->bank_path ? j->b.rows : o->krows;
    size_t kc = o->bank_path ? j->b.cols : o->kcols;
    j->rows = rows;
    j->cols = cols;
    j->count = count;
    j->krows = kr;
    j->kcols = kc;
    if ((st = pc_out_shape(o->conv.mode, rows, cols, kr, kc, &j->orows,
                           &j->ocols, &j->swapped)))
        return st;

    /* What the run will hold at its peak, in bytes: the inputs, the plan
     * (padded matrix, kernels twice: flipped and packed), a second copy of
     * the plan in the procs mapping, the row checksums, and the output
     * arena with -o. Workers need only a few rows each. */
    bool procs = false;
    for (int i = 0; i < o->nstrategies; i++)
        procs |= o->strategies[i] == PC_PROCS;
    double esz = (double)pc_dtype_size(o->conv.dtype);
    double plane = (double)j->orows * (double)j->ocols * esz;
    double inputs = 8.0 * ((double)rows * cols + (double)count * kr * kc);
    double plan = esz * ((double)(j->orows + kr) * (double)(j->ocols + kc + 160) +
                         2.0 * ((double)count + 32) * kr * kc);
    double hashes = 8.0 * (double)count * (double)j->orows;
    double est = inputs + plan * (procs ? 2 : 1) + hashes * (procs ? 2 : 1) +
                 (o->outdir ? plane * (double)count : 0);
    j->mem_estimate = est;
    double avail = (double)pc_available_memory();
    if (avail > 0 && est > avail) {
        char need[32], have[32];
        return pc_error(PC_EINPUT, "this run needs about %s of memory but only "
                        "%s is available (fewer kernels, a smaller matrix, "
                        "or no -o would need less)",
                        human_bytes(est, need, sizeof need),
                        human_bytes(avail, have, sizeof have));
    }

    if (!o->matrix_path && (st = pc_matrix_alloc(&j->m, rows, cols)))
        return st;
    if (!o->bank_path && (st = pc_bank_alloc(&j->b, count, kr, kc)))
        return st;
    if (!o->matrix_path || !o->bank_path)
        st = pc_generate(&o->gen, rows, cols, o->matrix_path ? NULL : &j->m,
                         o->bank_path ? NULL : &j->b);
    return st;
}

static int cmd_gen(const cli_options *o)
{
    job j = {.o = o};
    int st = load_inputs(&j);
    if (!st)
        st = sink_inputs(o, &j.m, &j.b);
    pc_matrix_free(&j.m);
    pc_bank_free(&j.b);
    return st;
}

/* The ceiling for each worker count, measured once per count. */
static double ceiling(const pc_conv_params *p, unsigned workers)
{
    static unsigned done[8];
    static double value[8];
    static int n;
    for (int i = 0; i < n; i++)
        if (done[i] == workers)
            return value[i];
    double g = 0;
    pc_peak(p->dtype, p->isa, workers, &g);
    if (n < 8) {
        done[n] = workers;
        value[n++] = g;
    }
    return g;
}

static double peak_rss(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    long kb = self.ru_maxrss > kids.ru_maxrss ? self.ru_maxrss : kids.ru_maxrss;
    return 1024.0 * (double)kb;
}

/* Relative L-infinity error allowed between FFT and direct results. */
double fft_tolerance(pc_dtype dt)
{
    return dt == PC_F32 ? 1e-4 : 1e-10;
}

/* Compares every run's per-kernel checksums with the first run's. */
static void verify(job *j)
{
    size_t count = pc_plan_count(j->plan);
    j->verified = true;
    j->mismatch[0] = 0;
    for (int r = 1; r < j->nruns; r++)
        for (size_t k = 0; k < count; k++)
            if (j->runs[r].sums[k] != j->runs[0].sums[k]) {
                j->verified = false;
                snprintf(j->mismatch, sizeof j->mismatch,
                         "%s differs from %s, first at kernel %zu",
                         pc_strategy_name(j->runs[r].strategy),
                         pc_strategy_name(j->runs[0].strategy), k);
                return;
            }
}

static int cmd_run(const cli_options *o, const char *self)
{
    job j = {.o = o};
    pc_arena arena = {.fd = -1};
    FILE *json = NULL;
    FILE *text = o->quiet ? NULL
                 : (o->json_path && strcmp(o->json_path, "-") == 0) ? stderr
                                                                     : stdout;
    int st = cli_default_threads(&j.threads, &j.threads_from);
    if (st)
        return st;
    cli_default_procs(&j.procs, &j.procs_from);
    if (o->threads) {
        j.threads = o->threads;
        j.threads_from = "--threads";
    }
    if (o->procs) {
        j.procs = o->procs;
        j.procs_from = "--procs";
    }

    if ((st = load_inputs(&j)))
        goto done;
    if ((st = calibration_load((cli_options *)o, &j.model_from)))
        goto done;
    /* Where results will go is checked before any work is done. */
    if (o->outdir && (st = sink_prepare(o->outdir)))
        goto done;
    if (o->json_path) {
        json = strcmp(o->json_path, "-") == 0 ? stdout : fopen(o->json_path, "w");
        if (!json) {
            st = pc_error(PC_EIO, "cannot write '%s': %s", o->json_path,
                          strerror(errno));
            goto done;
        }
    }
    double t0 = pc_now();
    st = pc_plan_create(&j.plan, &o->conv, &j.m, &j.b);
    /* The plan keeps its own copies. */
    pc_matrix_free(&j.m);
    pc_bank_free(&j.b);
    if (st)
        goto done;
    size_t count = pc_plan_count(j.plan);
    size_t plane = pc_plan_out_bytes(j.plan);
    /* FFT results are checked against the direct sum on a few kernels. */
    j.fft_error = -1;
    if (pc_plan_method(j.plan) == PC_FFT &&
        (st = pc_plan_fft_error(j.plan, &j.fft_error)))
        goto done;
    if (o->outdir) {
        /* The arena's pages are allocated and mapped here (fallocate and
         * MAP_POPULATE), so page faults are set-up, not compute. */
        if ((st = pc_arena_create(&arena, count * plane)))
            goto done;
    }
    /* The ceiling for each strategy's worker count, measured now: it is
     * set-up, and it brings every core's vector units up to speed before
     * the first timed run, so no strategy pays for that alone. Not worth
     * its tenth of a second for runs of under 1 GFLOP. */
    double peaks[PC_NSTRATEGIES] = {0};
    if (pc_plan_method(j.plan) == PC_DIRECT &&
        pc_plan_flops(j.plan) * (double)count >= 1e9)
        for (int i = 0; i < o->nstrategies; i++) {
            unsigned w = o->strategies[i] == PC_SERIAL  ? 1
                         : o->strategies[i] == PC_PROCS ? j.procs
                                                        : j.threads;
            if (w > j.orows)
                w = (unsigned)j.orows;
            peaks[i] = ceiling(&o->conv, w);
        }
    j.setup_seconds = pc_now() - t0;
    if (text)
        report_workload(text, &j);

    for (int i = 0; i < o->nstrategies; i++) {
        job_run *r = &j.runs[i];
        r->strategy = o->strategies[i];
        if (!(r->sums = calloc(count, sizeof *r->sums))) {
            st = pc_error(PC_ENOMEM, "cannot allocate %zu checksums", count);
            goto done;
        }
        pc_run_params rp = {
            .strategy = r->strategy,
            .workers = r->strategy == PC_PROCS ? j.procs : j.threads,
            .worker_exe = self,
            .sums = r->sums,
            .arena = i == 0 && o->outdir ? &arena : NULL,
        };
        pc_run_result res;
        if ((st = pc_run(j.plan, &rp, &res)))
            goto done;
        r->seconds = res.seconds;
        r->startup = res.startup;
        r->workers = res.workers;
        r->peak = peaks[i];
        r->checksum = pc_hash_combine(r->sums, count);
        j.nruns = i + 1;
        if (text) {
            report_run_box(text, r);
            fflush(text);
        }
    }
    verify(&j);
    j.peak_rss = peak_rss();
    if (o->outdir && j.verified) {
        double tw = pc_now();
        if ((st = sink_write(&j, &arena)))
            goto done;
        j.write_seconds = pc_now() - tw;
    }
    if (text)
        report_summary(text, &j);
    if (json) {
        st = report_json(json, o->json_path, &j);
        json = NULL; /* closed */
        if (st)
            goto done;
    }
    if (!j.verified)
        st = pc_error(PC_EMISMATCH, "verification failed: %s", j.mismatch);
    else if (j.fft_error > fft_tolerance(o->conv.dtype))
        st = pc_error(PC_EMISMATCH, "FFT results differ from the direct sum "
                      "by %.3g (relative), more than the %g allowed for %s",
                      j.fft_error, fft_tolerance(o->conv.dtype),
                      pc_dtype_name(o->conv.dtype));

done:
    if (json && json != stdout)
        fclose(json);
    for (int i = 0; i < PC_NSTRATEGIES; i++)
        free(j.runs[i].sums);
    pc_arena_destroy(&arena);
    pc_plan_destroy(j.plan);
    pc_matrix_free(&j.m);
    pc_bank_free(&j.b);
    return st;
}

int main(int argc, char **argv)
{
    /* A worker leaves with _exit: its results are in the shared mapping,
     * and skipping the libraries' exit handlers shortens the time its
     * parent waits. */
    if (argc > 1 && strcmp(argv[1], PC_WORKER_FLAG) == 0)
        _exit(pc_worker_main(argc, argv));

    cli_options o;
    bool exit_now;
    int st = cli_parse(argc, argv, &o, &exit_now);
    if (st)
        return fail(st);
    if (!exit_now) {
        switch (o.cmd) {
        case CMD_DEMO:
            st = demo_run(o.demo, o.demo_seconds);
            break;
        case CMD_PEAK: {
            unsigned n;
            const char *from;
            st = cli_default_threads(&n, &from);
            if (!st)
                st = o.threads ? peak_run(&o, o.threads, "--threads")
                               : peak_run(&o, n, from);
            break;
        }
        case CMD_GEN:
            st = cmd_gen(&o);
            break;
        case CMD_CALIBRATE:
            st = calibrate_run(&o);
            break;
        case CMD_SWEEP: {
            unsigned n = 0;
            const char *from, *model;
            st = cli_default_threads(&n, &from);
            if (!st && o.strategies[0] == PC_PROCS)
                cli_default_procs(&n, &from);
            if (!st)
                st = calibration_load(&o, &model);
            if (!st)
                st = sweep_run(&o, o.threads ? o.threads : n);
            break;
        }
        case CMD_COUNT:
            break;
        case CMD_RUN:
            /* Workers are this executable, found through /proc so that a
             * relative argv[0] or a changed directory does not matter. */
            st = cmd_run(&o, "/proc/self/exe");
            break;
        }
    }
    /* A report that could not be written is a failure too (disk full,
     * closed pipe). */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (!st)
            st = pc_error(PC_EIO, "cannot write to standard output");
    }
    return st ? fail(st) : 0;
}
