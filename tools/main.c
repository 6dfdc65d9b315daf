/* parconv: the command-line driver. main() reads as its phases: options,
 * inputs, plan (set-up, not timed), one timed run per strategy,
 * verification, outputs, report. The library does the work. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Usage and input errors exit 2, everything else 1. */
/* The signal that interrupted a run: the exit status is then 128+sig. */
static int exit_signal;

static int exit_code(int st)
{
    if (st == PC_OK)
        return 0;
    if (st == PC_EINTERRUPTED)
        return 128 + (exit_signal ? exit_signal : SIGTERM);
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
    /* A file that cannot be read is bad input, like a malformed one. No
     * input may take more than the memory the run may use. */
    double limit = (double)pc_available_memory();
    if (o->max_mem > 0 && (limit <= 0 || o->max_mem < limit))
        limit = o->max_mem;
    if (o->matrix_path) {
        if ((st = pc_npy_read_matrix_max(o->matrix_path, &j->m, limit)))
            return st == PC_EIO ? PC_EINPUT : st;
        if ((st = check_given(o, G_SIZE, "--size", o->rows, o->cols, j->m.rows,
                              j->m.cols, o->matrix_path)))
            return st;
    }
    if (o->bank_path) {
        if ((st = pc_npy_read_bank_max(o->bank_path, &j->b, limit)))
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
    j->total = count;
    j->shard_n = o->shard_n ? o->shard_n : 1;
    j->shard_i = o->shard_n ? o->shard_i : 0;
    j->shard_from = o->shard_from;
    /* This shard's kernels: shard_i, shard_i + shard_n, ... With more
     * shards than kernels some have none: they plan with the first kernel
     * (to settle the method as the others do) and compute nothing. */
    count = j->shard_i < count
                ? (count - j->shard_i + j->shard_n - 1) / j->shard_n : 0;
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
    /* With -o, a batch of output planes at a time (see batch_size). */
    double arena = o->outdir ? fmin(plane * (double)count, fmax(plane * 32, 256e6))
                             : 0;
    /* FFT: every input tile's spectrum, with the overlap of the tiles. */
    double spectra = o->conv.method == PC_DIRECT ? 0
                     : 2.0 * esz * 1.6 * (double)(j->orows + kr) *
                           (double)(j->ocols + kc);
    double est = inputs + plan * (procs ? 2 : 1) + hashes * (procs ? 2 : 1) +
                 arena + spectra;
    j->mem_estimate = est;
    double avail = (double)pc_available_memory();
    if (o->max_mem > 0 && (avail <= 0 || o->max_mem < avail))
        avail = o->max_mem;
    if (avail > 0 && est > avail) {
        char need[32], have[32];
        return pc_error(PC_EINPUT, "this run needs about %s of memory but only "
                        "%s is %s (inputs %.0f%%, padded matrix and kernels "
                        "%.0f%%; a smaller matrix, fewer kernels per run "
                        "with -k, or --method direct needs less)",
                        human_bytes(est, need, sizeof need),
                        human_bytes(avail, have, sizeof have),
                        o->max_mem > 0 ? "allowed (--max-mem)" : "available",
                        100 * inputs / est, 100 * plan / est);
    }

    if (!o->matrix_path && (st = pc_matrix_alloc(&j->m, rows, cols)))
        return st;
    if (!o->bank_path && (st = pc_bank_alloc(&j->b, j->total, kr, kc)))
        return st;
    if (!o->matrix_path || !o->bank_path)
        st = pc_generate(&o->gen, rows, cols, o->matrix_path ? NULL : &j->m,
                         o->bank_path ? NULL : &j->b);
    if (!st && j->shard_n > 1) {
        /* Keep this shard's kernels, in order, at the front. */
        size_t taps = kr * kc;
        for (size_t k = 0; k < count; k++)
            memmove(j->b.data + k * taps, j->b.data + job_global(j, k) * taps,
                    taps * sizeof *j->b.data);
        j->b.count = count ? count : 1;
    }
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

/* SIGTERM (Slurm's time limit) and SIGINT stop the run: the batch under
 * way is dropped (its kernels are computed again on --resume). An int
 * written by a handler: what sig_atomic_t is on every Linux target. */
static volatile int stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A file-size limit (ulimit -f) is then a write error, not a kill. */
    signal(SIGXFSZ, SIG_IGN);
}

/* Kernels per batch: whole kernel sets, about two seconds of work on the
 * workers, and with -o no more output planes than a quarter of the free
 * memory (or 256 MB: allocating more costs more than it saves) at once. Between batches files are written, progress
 * is shown and signals are heeded. */
static size_t batch_size(const job *j, unsigned workers)
{
    size_t q = pc_plan_batch_quantum(j->plan), k = j->count;
    double ed, ef;
    pc_plan_estimates(j->plan, &ed, &ef);
    double per = pc_plan_method(j->plan) == PC_FFT ? ef : ed;
    double want = 2.0 * (workers ? workers : 1) / (per > 0 ? per : 1e-9);
    size_t b = want < (double)k ? (size_t)want : k;
    if (j->o->outdir) {
        double plane = (double)pc_plan_out_bytes(j->plan);
        double room = (double)pc_available_memory() / 4;
        if (room <= 0 || room > 256e6)
            room = 256e6;
        size_t mb = (size_t)(room / plane);
        if (mb < b)
            b = mb;
    }
    b = (b + q - 1) / q * q;
    if (b == 0)
        b = q;
    return b < k ? b : k;
}

/* Runs strategy i over the kernels in batches; the first strategy with -o
 * writes each batch's files and the manifest as it goes. done[k]: kernel
 * k's file is already complete (--resume; the first strategy skips its
 * batches when all are). */
static int run_strategy(job *j, int i, const char *self, pc_arena *arena,
                        bool *done, uint64_t *known, FILE *text)
{
    const cli_options *o = j->o;
    job_run *r = &j->runs[i];
    bool writer = i == 0 && o->outdir;
    unsigned workers = r->strategy == PC_PROCS ? j->procs : j->threads;
    progress pg;
    progress_start(&pg, o->quiet ? NULL : stderr, pc_strategy_name(r->strategy),
                   j->count);
    size_t base = writer ? j->resumed : 0, finished = base;
    int st = PC_OK;
    for (size_t k0 = 0; k0 < j->count && !st; k0 += j->batch) {
        size_t k1 = k0 + j->batch < j->count ? k0 + j->batch : j->count;
        if (writer) {
            size_t missing = 0;
            for (size_t k = k0; k < k1; k++)
                missing += !done[k];
            if (!missing) {
                for (size_t k = k0; k < k1; k++)
                    r->sums[k] = known[k];
                continue;
            }
        }
        if (stop_signal)
            break;
        pc_run_params rp = {
            .strategy = r->strategy,
            .workers = workers,
            .worker_exe = self,
            .sums = r->sums,
            .arena = writer ? arena : NULL,
            .k0 = k0,
            .k1 = k1,
            .worker_timeout = o->worker_timeout,
            .retries = o->retries > r->retried ? o->retries - r->retried : 0,
            .cancel = &stop_signal,
        };
        pc_run_result res;
        if ((st = pc_run(j->plan, &rp, &res))) {
            /* A signal stops the batch at once; what is complete is
             * already in the manifest. */
            if (st == PC_EINTERRUPTED)
                st = PC_OK;
            break;
        }
        r->seconds += res.seconds;
        r->compute += res.compute;
        if (res.workers > r->workers)
            r->workers = res.workers;
        r->kernels += k1 - k0;
        /* A warning line for each restarted worker. */
        for (char *line = res.warning, *end; res.retried && *line;
             line = *end ? end + 1 : end) {
            end = line + strcspn(line, "\n");
            r->retried++;
            fprintf(stderr, "parconv: warning: %.*s; its share was computed "
                    "again by a new worker (%u of %u retries used)\n",
                    (int)(end - line), line, r->retried, o->retries);
        }
        if (writer) {
            double tw = pc_now();
            if (!(st = sink_write_batch(j, arena, k0, k1, done))) {
                for (size_t k = k0; k < k1; k++) {
                    done[k] = true;
                    known[k] = r->sums[k];
                }
                st = sink_manifest(j, known, done);
            }
            j->write_seconds += pc_now() - tw;
        }
        finished += k1 - k0;
        progress_update(&pg, finished, base);
    }
    progress_end(&pg);
    if (!st && stop_signal)
        j->interrupted = stop_signal;
    if (!st && !j->interrupted) {
        r->checksum = pc_hash_combine(r->sums, j->count);
        j->nruns = i + 1;
        if (text) {
            report_run_box(text, r);
            fflush(text);
        }
    }
    return st;
}

static int cmd_run(const cli_options *o, const char *self)
{
    job j = {.o = o};
    pc_arena arena = {.fd = -1};
    FILE *json = NULL;
    bool *done = NULL;
    uint64_t *known = NULL;
    resume_info ri = {0};
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
    install_signals();

    /* --resume: the earlier run's method, ISA and FFT size, so this run
     * computes the same bits. */
    pc_conv_params conv = o->conv;
    bool have_manifest = false;
    if (o->resume) {
        job shard = {.o = o, .shard_i = o->shard_i, .shard_n = o->shard_n};
        char name[96];
        manifest_name(&shard, name, sizeof name);
        st = resume_read(o->outdir, name, &ri);
        if (st == 1) {
            st = PC_OK; /* nothing there yet: a fresh run */
        } else if (st) {
            goto done;
        } else {
            have_manifest = true;
            int m = pc_method_parse(ri.method), isa = pc_isa_parse(ri.isa);
            if (m < 0 || isa < 0) {
                st = pc_error(PC_EINPUT, "--resume: the manifest in '%s' names "
                              "method '%s', isa '%s'", o->outdir, ri.method,
                              ri.isa);
                goto done;
            }
            if (!pc_isa_supported((pc_isa)isa)) {
                st = pc_error(PC_EUSAGE, "--resume: '%s' was computed with "
                              "%s kernels, which this CPU cannot run", o->outdir,
                              ri.isa);
                goto done;
            }
            conv.method = (pc_method)m;
            conv.isa = (pc_isa)isa;
            conv.fft_P = ri.P;
            conv.fft_Q = ri.Q;
        }
    }

    if ((st = load_inputs(&j)))
        goto done;
    if ((st = calibration_load((cli_options *)o, &j.model_from)))
        goto done;
    conv.cost_direct = o->conv.cost_direct;
    conv.cost_fft = o->conv.cost_fft;
    /* Where results will go is checked before any work is done. */
    if (o->outdir) {
        if ((st = sink_prepare(o->outdir)))
            goto done;
        sink_clean_temps(o->outdir, o->shard_i, o->shard_n);
    }
    if (o->json_path) {
        json = strcmp(o->json_path, "-") == 0 ? stdout : fopen(o->json_path, "w");
        if (!json) {
            st = pc_error(PC_EIO, "cannot write '%s': %s", o->json_path,
                          strerror(errno));
            goto done;
        }
    }
    double t0 = pc_now();
    st = pc_plan_create(&j.plan, &conv, &j.m, &j.b);
    /* The plan keeps its own copies. */
    pc_matrix_free(&j.m);
    pc_bank_free(&j.b);
    if (st)
        goto done;
    size_t count = j.count;
    size_t plane = pc_plan_out_bytes(j.plan);
    if (count == 0) {
        /* An empty shard: its manifest says so, for merge. */
        if (o->outdir && (st = sink_manifest(&j, NULL, NULL)))
            goto done;
        if (text)
            fprintf(text, "shard %zu of %zu has no kernels (the bank holds "
                    "%zu)%s\n", j.shard_i, j.shard_n, j.total,
                    o->outdir ? "; wrote its empty manifest" : "");
        goto done;
    }
    {
        size_t Tr, Tc, ntr, ntc;
        double ps;
        pc_plan_fft_info(j.plan, &j.fft_P, &j.fft_Q, &Tr, &Tc, &ntr, &ntc, &ps);
    }
    /* FFT results are checked against the direct sum on a few kernels,
     * before anything is computed or written. */
    j.fft_error = -1;
    if (pc_plan_method(j.plan) == PC_FFT) {
        if ((st = pc_plan_fft_error(j.plan, &j.fft_error)))
            goto done;
        if (j.fft_error > fft_tolerance(o->conv.dtype)) {
            st = pc_error(PC_EMISMATCH, "FFT results differ from the direct "
                          "sum by %.3g (relative), more than the %g allowed "
                          "for %s", j.fft_error, fft_tolerance(o->conv.dtype),
                          pc_dtype_name(o->conv.dtype));
            goto done;
        }
    }
    done = calloc(count, sizeof *done);
    known = calloc(count, sizeof *known);
    if (!done || !known) {
        st = pc_error(PC_ENOMEM, "cannot allocate %zu checksums", count);
        goto done;
    }
    if (have_manifest && (st = resume_check(&j, &ri, done, known, &j.resumed)))
        goto done;
    /* The directory has a manifest from the start: what is complete (maybe
     * nothing yet), and for which workload. */
    if (o->outdir && (st = sink_manifest(&j, known, done)))
        goto done;
    unsigned most = j.threads > j.procs ? j.threads : j.procs;
    j.batch = batch_size(&j, most);
    if (o->outdir) {
        /* Planes for one batch, written by the first strategy; their pages
         * are taken here, so page faults are set-up. Shared only if that
         * strategy is procs: private memory is written faster. */
        if ((st = pc_arena_create(&arena, j.batch * plane,
                                  o->strategies[0] == PC_PROCS)))
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
            peaks[i] = ceiling(&conv, w);
        }
    j.setup_seconds = pc_now() - t0;
    if (text)
        report_workload(text, &j);

    for (int i = 0; i < o->nstrategies && !j.interrupted; i++) {
        job_run *r = &j.runs[i];
        r->strategy = o->strategies[i];
        r->peak = peaks[i];
        if (!(r->sums = calloc(count, sizeof *r->sums))) {
            st = pc_error(PC_ENOMEM, "cannot allocate %zu checksums", count);
            goto done;
        }
        if ((st = run_strategy(&j, i, self, &arena, done, known, text)))
            goto done;
    }
    if (j.interrupted) {
        size_t n = 0;
        for (size_t k = 0; k < count; k++)
            n += done[k];
        st = o->outdir
                 ? pc_error(PC_EINTERRUPTED, "interrupted: %zu of %zu kernels "
                            "complete; rerun with --resume", n, count)
                 : pc_error(PC_EINTERRUPTED, "interrupted by signal %d; "
                            "nothing was kept (use -o DIR to keep results)",
                            j.interrupted);
        goto done;
    }
    verify(&j);
    j.peak_rss = peak_rss();
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

done:
    if (json && json != stdout)
        fclose(json);
    for (int i = 0; i < PC_NSTRATEGIES; i++)
        free(j.runs[i].sums);
    free(done);
    free(known);
    resume_free(&ri);
    pc_arena_destroy(&arena);
    pc_plan_destroy(j.plan);
    pc_matrix_free(&j.m);
    pc_bank_free(&j.b);
    if (st == PC_EINTERRUPTED)
        exit_signal = j.interrupted;
    return st;
}

int main(int argc, char **argv)
{
    /* A worker leaves with _exit: its results are in the shared mapping,
     * and skipping the libraries' exit handlers shortens the time its
     * parent waits. */
    if (argc > 1 && strcmp(argv[1], PC_WORKER_FLAG) == 0)
        _exit(pc_worker_main(argc, argv));
    if (argc > 1 && strcmp(argv[1], DEMO_TASK_FLAG) == 0)
        return demo_task_worker(argc, argv);

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
            if (!st && o.sweep_threads)
                st = sweep_threads_run(&o, o.sweep_max ? o.sweep_max
                                                       : pc_online_cpus());
            else if (!st)
                st = sweep_run(&o, o.threads ? o.threads : n);
            break;
        }
        case CMD_COUNT:
            break;
        case CMD_MERGE:
            st = merge_run(&o, o.merge_dir);
            break;
        case CMD_RUN:
            /* Workers are this executable, found through /proc so that a
             * relative argv[0] or a changed directory does not matter. */
            st = cli_default_shard(&o);
            if (!st)
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
