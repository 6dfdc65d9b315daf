/* parconv run: the convolution run. run_cmd reads as its phases: resume
 * check, inputs, output directory, plan and FFT check, set-up (not timed),
 * one timed call per strategy, verification, report, exit status. The
 * library does the work; outdir.c owns what goes on disk. */
#include "calibration.h"
#include "commands.h"
#include "inputs.h"
#include "outdir.h"
#include "outfmt.h"
#include "progress.h"
#include "report.h"
#include "signals.h"
#include "writer.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

/* What the phases hand on to each other besides the job. */
typedef struct {
    job j;
    pc_conv_params conv;  /* the plan's parameters (--resume: the manifest's
                             method, ISA and FFT size) */
    outdir_manifest had;  /* --resume: DIR's manifest, if it has one */
    bool have_manifest;
    FILE *text;           /* the text report; NULL with -q */
    outdir_file json;     /* --json: its temporary until the report */
    bool *done;           /* done[q]: plane q is stored and durable */
    uint64_t *known;      /* and its checksum */
    uint64_t *ksums;      /* one pc_run's checksums, per plan kernel */
    /* -o: two batches of output planes, one computed while the writer
     * stores the other */
    pc_arena arena[2];
    writer *w;            /* -o: the writer, while the first strategy runs */
    job_run *wrun;        /* that strategy's run, whose checksums it records */
    double t0;            /* set-up began */
    const outfmt *fmt;    /* -o: the output format */
    outfmt_spec spec;     /* what it writes */
    void *out;            /* and its open file(s) */
    outdir_names names;   /* whose names in DIR are whose */
    size_t plan_holds;    /* the matrix the plan holds */
} run_state;

/* ---- phases before the work ------------------------------------------------ */

/* The shard, the worker counts and where they came from, the signals, and
 * where the text report goes (stderr when the JSON one is on stdout). */
static int start(run_state *s)
{
    cli_options *o = (cli_options *)s->j.o;
    job *j = &s->j;
    int st = cli_default_shard(o);
    if (!st)
        st = cli_default_threads(o, &j->threads, &j->threads_from);
    if (!st)
        st = cli_default_procs(o, &j->procs, &j->procs_from);
    if (st)
        return st;
    if (o->force && (!o->outdir || o->resume))
        return pc_error(PC_EUSAGE, o->outdir
                        ? "--force replaces what -o DIR holds, --resume keeps "
                          "it: give one of them"
                        : "--force needs -o DIR (whose results it replaces)");
    signals_install();
    s->fmt = outfmt_find(o->format);
    s->conv = o->conv;
    /* Shards are planned apart, maybe at once: their FFT size must not
     * depend on a timing. */
    s->conv.fft_model = o->shard_n > 1;
    s->text = o->quiet ? NULL
              : (o->json_path && strcmp(o->json_path, "-") == 0) ? stderr
                                                                  : stdout;
    return PC_OK;
}

/* Takes the method, ISA and FFT size that results in DIR were computed
 * with (what: "--resume" or "-o"), so that this run computes the same
 * bits. keep: an ISA or FFT size the user gave stays (the check once
 * planned then refuses a DIR computed otherwise). */
static int pin(run_state *s, const char *what, const char *method,
               const char *isa_name, size_t P, size_t Q, bool keep)
{
    const cli_options *o = s->j.o;
    int m = pc_method_parse(method), isa = pc_isa_parse(isa_name);
    bool user_isa = keep && o->conv.isa != PC_ISA_AUTO;
    if (m < 0 || isa < 0)
        return pc_error(PC_EINPUT, "%s: the manifest in '%s' names method "
                        "'%s', isa '%s'", what, o->outdir, method, isa_name);
    if (!user_isa && !pc_isa_supported((pc_isa)isa))
        return pc_error(PC_EUSAGE, "%s: '%s' was computed with %s kernels, "
                        "which this CPU cannot run", what, o->outdir, isa_name);
    s->conv.method = (pc_method)m;
    if (!user_isa)
        s->conv.isa = (pc_isa)isa;
    if (!(keep && o->conv.fft_P)) {
        s->conv.fft_P = P;
        s->conv.fft_Q = Q;
    }
    return PC_OK;
}

/* --resume: the earlier run's method, ISA and FFT size, so this run
 * computes the same bits. No manifest yet: a fresh run. */
static int check_resume(run_state *s)
{
    const cli_options *o = s->j.o;
    if (!o->resume)
        return PC_OK;
    char name[96];
    outdir_manifest_name(o->shard_i, o->shard_n, name, sizeof name);
    int st = outdir_manifest_read(o->outdir, name, &s->had);
    if (st)
        return st == 1 ? PC_OK : st;
    s->have_manifest = true;
    return pin(s, "--resume", s->had.method, s->had.isa, s->had.fft_P,
               s->had.fft_Q, false);
}

/* The matrix and kernels, and the cost model's constants. */
static int read_inputs(run_state *s)
{
    int st = inputs_load(&s->j);
    if (!st)
        st = calibration_load((cli_options *)s->j.o, &s->j.model_from);
    s->conv.cost_direct = s->j.o->conv.cost_direct;
    s->conv.cost_fft = s->j.o->conv.cost_fft;
    return st;
}

/* What DIR holds already (--force first removes this run's share of
 * parconv's files): another workload's results are refused; a manifest
 * of this one says how it was computed, which this run takes (unless
 * --resume took its own), so that a later shard, or a run again, writes
 * the same bits as the results beside it. */
static int survey_outputs(run_state *s)
{
    const cli_options *o = s->j.o;
    size_t removed;
    int st;
    if (o->force) {
        if ((st = outdir_replace(o->outdir, &s->names, &removed)))
            return st;
        if (removed && s->text)
            fprintf(s->text, "--force: removed %zu of parconv's files from "
                    "'%s'\n", removed, o->outdir);
    }
    char own[96];
    outdir_manifest_name(o->shard_i, o->shard_n, own, sizeof own);
    outdir_adopt had;
    if ((st = outdir_survey(&s->j, &s->names, false, o->resume ? own : NULL,
                            &had, o->force)))
        return st;
    if (!had.found || s->have_manifest)
        return PC_OK;
    if (s->text)
        fprintf(s->text, "computed as %s/%s records this workload: %s, %s%s\n",
                o->outdir, had.from, had.method, had.isa,
                had.fft_P ? ", FFT size as there" : "");
    return pin(s, "-o", had.method, had.isa, had.fft_P, had.fft_Q, true);
}

/* Where results will go is checked before any work is done. */
static int open_outputs(run_state *s)
{
    const cli_options *o = s->j.o;
    int st;
    if (o->outdir) {
        if ((st = outdir_prepare(o->outdir)))
            return st;
        const job *j = &s->j;
        s->names = (outdir_names){.shard_i = j->shard_i, .shard_n = j->shard_n,
                                  .nmat = j->nmat, .kernels = j->total,
                                  .is_final = outfmt_is_final};
        /* The partial --resume goes on with stays; any other temporary of
         * this shard's is a killed run's. */
        outdir_clean_temps(o->outdir, &s->names,
                           o->resume && s->have_manifest && s->had.partial[0]
                               ? s->had.partial : NULL);
        if ((st = survey_outputs(s)))
            return st;
    }
    return o->json_path ? report_json_open(&s->json, o->json_path) : PC_OK;
}

/* The plan (set-up starts here), and with FFT the check of its results
 * against the direct sum on a few kernels, before anything is computed or
 * written. */
static int make_plan(run_state *s)
{
    job *j = &s->j;
    s->t0 = pc_now();
    int st = pc_plan_create(&j->plan, &s->conv, &j->m, &j->b);
    /* The plan keeps its own copies; j->m takes the next matrices. */
    pc_bank_free(&j->b);
    s->plan_holds = j->plan_matrix;
    if (st)
        return st;
    size_t Tr, Tc, ntr, ntc;
    double ps;
    pc_plan_fft_info(j->plan, &j->fft_P, &j->fft_Q, &Tr, &Tc, &ntr, &ntc, &ps);
    j->fft_error = -1;
    if (pc_plan_method(j->plan) != PC_FFT)
        return PC_OK;
    pc_dtype dt = j->o->conv.dtype;
    if ((st = pc_plan_fft_error(j->plan, &j->fft_error)))
        return st;
    if (j->fft_error > fft_tolerance(dt))
        return pc_error(PC_EMISMATCH, "FFT results differ from the direct sum "
                        "by %.3g (relative), more than the %g allowed for %s",
                        j->fft_error, fft_tolerance(dt), pc_dtype_name(dt));
    return PC_OK;
}

/* Once planned, before anything is written: results of this workload in
 * DIR were computed with this run's method, ISA and FFT size (a --isa or
 * --fft-size that differs is refused rather than mixed in). */
static int confirm_outputs(run_state *s)
{
    const cli_options *o = s->j.o;
    if (!o->outdir || o->force)
        return PC_OK;
    char own[96];
    outdir_manifest_name(o->shard_i, o->shard_n, own, sizeof own);
    return outdir_survey(&s->j, &s->names, true, o->resume ? own : NULL, NULL,
                         false);
}

/* A shard with no kernels: its manifest says so, for merge. */
static int empty_shard(run_state *s)
{
    const job *j = &s->j;
    const cli_options *o = j->o;
    int st = o->outdir ? outdir_save(j, NULL, NULL) : PC_OK;
    if (!st && o->json_path) {
        s->j.verified = true;
        st = report_json(&s->json, j);
    }
    if (!st && s->text)
        fprintf(s->text, "shard %zu of %zu has no %s (the workload has "
                "%zu)%s\n", j->shard_i, j->shard_n, job_unit(j),
                j->nmat > 1 ? j->planes : j->total,
                o->outdir ? "; wrote its empty manifest" : "");
    return st;
}

/* Kernels per batch: whole kernel groups, about two seconds of work on the
 * workers, and with -o no more output planes than a quarter of the free
 * memory (or 256 MB: allocating more costs more than it saves) in the two
 * batches held at once (one computed, one written). Between batches
 * progress is shown and signals are heeded. */
static size_t batch_size(const job *j, unsigned workers)
{
    /* A batch is of one matrix: at most the plan's kernels. */
    size_t q = pc_plan_batch_quantum(j->plan);
    size_t k = j->count < j->pk ? j->count : j->pk;
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
        size_t mb = (size_t)(room / 2 / plane);
        if (mb < b)
            b = mb;
    }
    b = (b + q - 1) / q * q;
    if (b == 0)
        b = q;
    return b < k ? b : k;
}

/* The ceiling for `workers` workers, on as many threads but no more than
 * the usable CPUs (more would take turns and measure less than the CPUs
 * can do; *threads says how many). Measured once per count; again: once
 * more, the larger kept, as a busy machine only makes it lower. */
static double ceiling(const pc_conv_params *p, unsigned workers,
                      unsigned *threads, bool again)
{
    static unsigned done[8];
    static double value[8];
    static int n;
    unsigned usable = cli_cpus()->usable;
    unsigned w = *threads = workers < usable ? workers : usable;
    int i = 0;
    while (i < n && done[i] != w)
        i++;
    if (i < n && !again)
        return value[i];
    double g = 0;
    pc_peak(p->dtype, p->isa, w, &g);
    if (i == n) {
        if (n == 8)
            return g;
        done[n++] = w;
        value[i] = 0;
    }
    if (g > value[i])
        value[i] = g;
    return value[i];
}

/* The ceiling for each strategy's worker count. Without -o it is
 * measured at set-up, where it brings every core's vector units up to
 * speed before the first timed run, so no strategy pays for that alone;
 * with -o after the first strategy's compute, while the writer syncs the
 * last batches (mostly waiting for the disk; pc_peak's best of ten
 * discounts a repetition that meets its copying), so that a batch job's
 * whole time does not grow by it. Only for a report (-q without --json
 * shows none), not worth its tenth of a second for runs of under 1 GFLOP,
 * nor for FFT runs, whose flops are not the direct sum's. */
static void measure_peaks(run_state *s)
{
    job *j = &s->j;
    const cli_options *o = j->o;
    if ((!s->text && !o->json_path) || pc_plan_method(j->plan) != PC_DIRECT ||
        pc_plan_flops(j->plan) * (double)j->count < 1e9)
        return;
    for (int i = 0; i < o->nstrategies; i++) {
        unsigned w = o->strategies[i] == PC_SERIAL  ? 1
                     : o->strategies[i] == PC_PROCS ? j->procs
                                                    : j->threads;
        if (w > j->orows)
            w = (unsigned)j->orows;
        j->runs[i].peak = ceiling(&s->conv, w, &j->runs[i].peak_threads,
                                  false);
    }
}

/* After a run: the ceiling for the workers it really had (omp's team may
 * be smaller than asked). A run faster than its ceiling has the ceiling
 * measured again, the larger kept for the earlier runs on as many threads
 * too; if it still is, the ceiling was measured under load and the report
 * gives no %peak, saying why in a footnote. */
static void check_peak(run_state *s, job_run *r)
{
    if (r->peak <= 0)
        return;
    r->peak = ceiling(&s->conv, r->workers, &r->peak_threads, false);
    if (report_gflops(&s->j, r) <= r->peak)
        return;
    r->peak = ceiling(&s->conv, r->workers, &r->peak_threads, true);
    for (job_run *e = s->j.runs; e < r; e++)
        if (e->peak > 0 && e->peak_threads == r->peak_threads)
            e->peak = r->peak;
    /* Still faster: the report shows n/a with its footnote (and the JSON
     * pct_peak null with pct_peak_note); nothing goes to stderr, where a
     * busy node would turn a correct run's output into a "warning". */
}

/* -o: the output format's file(s), opened to go on with the partial the
 * manifest records (--resume; a new one if it is gone), or new. *keep:
 * whether the planes the manifest lists may be there. */
static int open_writer(run_state *s, bool *keep)
{
    job *j = &s->j;
    const cli_options *o = j->o;
    s->spec = (outfmt_spec){.dir = o->outdir, .nmat = j->nmat,
                            .count = j->total, .orows = j->orows,
                            .ocols = j->ocols, .dtype = o->conv.dtype,
                            .shard_i = j->shard_i, .shard_n = j->shard_n,
                            .deflate = o->deflate};
    enum outfmt_mode mode = OUTFMT_NEW;
    char path[4096];
    struct stat sb;
    if (s->have_manifest && s->had.partial[0] &&
        !outdir_path(path, sizeof path, o->outdir, s->had.partial) &&
        lstat(path, &sb) == 0) {
        s->spec.partial = s->had.partial;
        mode = OUTFMT_RESUME;
    }
    int st = s->fmt->open(&s->out, &s->spec, mode);
    if (st)
        return st;
    snprintf(j->partial, sizeof j->partial, "%s", s->fmt->partial(s->out));
    /* Planes of a partial that is gone cannot be kept. */
    *keep = mode == OUTFMT_RESUME || s->fmt->per_plane;
    return PC_OK;
}

/* --resume: the planes the manifest lists whose stored values check out
 * against its checksums are kept; the rest are computed again. */
static int resume_planes(run_state *s)
{
    job *j = &s->j;
    void *buf = malloc(pc_plan_out_bytes(j->plan));
    if (!buf)
        return pc_error(PC_ENOMEM, "cannot allocate a plane");
    j->resumed = 0;
    for (size_t q = 0; q < j->count && q < s->had.count; q++) {
        size_t n, k;
        job_plane(j, q, &n, &k);
        if (!s->had.done[q] ||
            outfmt_check_plane(s->fmt, s->out, &s->spec, n, k, s->had.sums[q],
                               buf))
            continue;
        s->done[q] = true;
        s->known[q] = s->had.sums[q];
        j->resumed++;
    }
    free(buf);
    return PC_OK;
}

/* -o: what DIR already holds (--resume), checked; the format's file(s);
 * the manifest from the start. */
static int prepare_outputs(run_state *s)
{
    job *j = &s->j;
    int st;
    if (s->have_manifest && (st = outdir_resume_check(j, &s->had)))
        return st;
    bool keep;
    if ((st = open_writer(s, &keep)))
        return st;
    if (keep && s->have_manifest && (st = resume_planes(s)))
        return st;
    /* The directory has a manifest from the start: what is complete
     * (maybe nothing yet), in which file, and for which workload. */
    return outdir_save(j, s->known, s->done);
}

/* An output arena made by a thread of its own, beside the rest of
 * set-up: taking its pages (zeroing 100 MB or more) is CPU time that
 * would otherwise wait for the other arena's and for the manifest's
 * fsync. */
typedef struct {
    pc_arena *a;
    size_t bytes;
    int st;
    char msg[512]; /* pc_errmsg is per thread */
} arena_job;

static void *make_arena(void *arg)
{
    arena_job *aj = arg;
    if ((aj->st = pc_arena_create(aj->a, aj->bytes, false)))
        snprintf(aj->msg, sizeof aj->msg, "%s", pc_errmsg());
    return NULL;
}

/* What DIR already holds (--resume), the manifest from the start, the
 * batch size, the output arenas and the ceilings: the rest of set-up. */
static int set_up(run_state *s)
{
    job *j = &s->j;
    const cli_options *o = j->o;
    int st = PC_OK;
    s->done = calloc(j->count, sizeof *s->done);
    s->known = calloc(j->count, sizeof *s->known);
    s->ksums = calloc(j->pk, sizeof *s->ksums);
    if (!s->done || !s->known || !s->ksums)
        return pc_error(PC_ENOMEM, "cannot allocate %zu checksums", j->count);
    j->batch = batch_size(j, j->threads > j->procs ? j->threads : j->procs);
    /* Planes for two batches, written by the first strategy; their pages
     * are taken here, so page faults are set-up. Shared only if that
     * strategy is procs: private memory is written faster. A shared one
     * is made in this thread: sizing a memfd lifts the file-size limit
     * for a moment, which must not let the manifest's write past it. */
    size_t bytes = j->batch * pc_plan_out_bytes(j->plan);
    bool shared = o->strategies[0] == PC_PROCS;
    arena_job aj = {.a = &s->arena[1], .bytes = bytes};
    pthread_t tid;
    bool other = o->outdir && !shared &&
                 pthread_create(&tid, NULL, make_arena, &aj) == 0;
    if (o->outdir)
        st = prepare_outputs(s);
    for (int a = 0; o->outdir && !st && a < 2 - other; a++)
        st = pc_arena_create(&s->arena[a], bytes, shared);
    if (other) {
        pthread_join(tid, NULL);
        if (!st && aj.st)
            st = pc_error(aj.st, "%s", aj.msg);
    }
    if (st)
        return st;
    /* Workers beyond the output rows would idle, not take turns. */
    cli_warn_oversubscribed(o, j->threads < j->orows ? j->threads
                                                      : (unsigned)j->orows,
                            j->procs < j->orows ? j->procs : (unsigned)j->orows);
    if (!o->outdir)
        measure_peaks(s);
    j->setup_seconds = pc_now() - s->t0;
    /* Flushed now: a log that a SIGKILL cuts short still says what ran. */
    if (s->text) {
        report_workload(s->text, j);
        fflush(s->text);
    }
    return PC_OK;
}

/* ---- the timed runs ---------------------------------------------------------- */

/* A warning line for each procs worker restarted in this batch. */
static void warn_retried(job_run *r, const pc_run_result *res, unsigned retries)
{
    for (const char *line = res->warning, *end; res->retried && *line;
         line = *end ? end + 1 : end) {
        end = line + strcspn(line, "\n");
        r->retried++;
        fprintf(stderr, "parconv: warning: %.*s; its share was computed "
                "again by a new worker (%u of %u retries used)\n",
                (int)(end - line), line, r->retried, retries);
    }
}

/* ---- the writer (-o) ----------------------------------------------------------- */

/* Plane i of batch b, from its arena, unless --resume found it complete. */
static int store_plane(void *ctx, const writer_batch *b, size_t i)
{
    run_state *s = ctx;
    const job *j = &s->j;
    if (s->done[b->q0 + i])
        return PC_OK;
    const char *plane = (const char *)s->arena[b->slot].base +
                        i * pc_plan_out_bytes(j->plan);
    size_t k = j->kplan[b->k0 + i];
    return s->fmt->write_plane(s->out, b->n, k, plane);
}

/* Batch b stored: flushed (durable), then the manifest lists it. */
static int batch_stored(void *ctx, const writer_batch *b)
{
    run_state *s = ctx;
    int st = s->fmt->flush(s->out);
    if (st)
        return st;
    for (size_t q = b->q0; q < b->q0 + (b->k1 - b->k0); q++) {
        s->done[q] = true;
        s->known[q] = s->wrun->sums[q];
    }
    return outdir_save(&s->j, s->known, s->done);
}

/* Threads that store planes: four for a format that takes them side by
 * side (a file per plane), whose large planes go with direct I/O, so that
 * each mostly waits for the disk and four keep it busier than two (on the
 * development VM: 0.6-1.0 s of writing the default workload against
 * 1.1-1.2 s); else one. */
static unsigned writer_threads(const run_state *s)
{
    return s->fmt->concurrent ? 4 : 1;
}

static int start_writer(run_state *s, job_run *r)
{
    s->wrun = r;
    s->j.writers = writer_threads(s);
    writer_ops ops = {.plane = store_plane, .done = batch_stored, .ctx = s,
                      .threads = s->j.writers};
    return writer_start(&s->w, &ops);
}

/* Waits for the writer to store what it was given; its times, then it
 * ends. */
static int stop_writer(run_state *s)
{
    if (!s->w)
        return PC_OK;
    int st = writer_drain(s->w);
    double busy, waited;
    writer_times(s->w, &busy, &waited);
    s->j.write_seconds += busy;
    s->j.write_wait_seconds += waited;
    writer_end(s->w);
    s->w = NULL;
    return st;
}

/* Every plane stored: the format's file(s) under their final names (with
 * the manifest's text, for hdf5), then the manifest says so. */
static int commit_outputs(run_state *s)
{
    job *j = &s->j;
    for (size_t q = 0; q < j->count; q++)
        if (!s->done[q])
            return PC_OK;
    double tw = pc_now();
    char *text = outdir_manifest_text(j, s->known, s->done);
    int st = text ? s->fmt->commit(s->out, text, s->known)
                  : pc_error(PC_ENOMEM, "cannot write the manifest");
    free(text);
    if (!st && j->partial[0]) {
        j->partial[0] = 0;
        st = outdir_save(j, s->known, s->done);
    }
    double t = pc_now() - tw;
    j->write_seconds += t;
    j->write_wait_seconds += t;
    return st;
}

/* True if every plane of [q0, q1) is stored already (--resume): their
 * checksums are taken as they are. */
static bool batch_done(run_state *s, job_run *r, size_t q0, size_t q1)
{
    for (size_t q = q0; q < q1; q++)
        if (!s->done[q])
            return false;
    for (size_t q = q0; q < q1; q++)
        r->sums[q] = s->known[q];
    return true;
}

/* Whether some matrix comes from an HDF5 file. */
static bool reads_hdf5(const job *j)
{
    for (size_t i = 0; i < j->nsrc; i++)
        if (j->src[i].h5)
            return true;
    return false;
}

/* The plan given matrix n (read now, one at a time); not timed as any
 * strategy's work. */
static int use_matrix(run_state *s, size_t n)
{
    job *j = &s->j;
    if (s->plan_holds == n)
        return PC_OK;
    /* HDF5 (without its thread-safe build) takes one thread at a time:
     * the writer's hdf5 file is left alone while a dataset is read. */
    int st = PC_OK;
    if (s->w && s->fmt == &outfmt_hdf5 && reads_hdf5(j) &&
        (st = writer_drain(s->w)))
        return st;
    double t = pc_now();
    st = inputs_matrix(j, n);
    if (!st && (st = pc_plan_set_matrix(j->plan, &j->m))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
        st = pc_error(st, "matrix %zu: %s", n, msg);
    }
    s->plan_holds = st ? SIZE_MAX : n;
    j->matrix_seconds += pc_now() - t;
    return st;
}

/* Plan kernels [k0, k1) of the matrix the plan holds, plane q0 the
 * first: one pc_run of strategy i; with an arena (-o) their planes are
 * left there. */
static int run_batch(run_state *s, job_run *r, const pc_arena *arena,
                     size_t k0, size_t k1, size_t q0)
{
    job *j = &s->j;
    const cli_options *o = j->o;
    pc_run_params rp = {
        .strategy = r->strategy,
        .workers = r->strategy == PC_PROCS ? j->procs : j->threads,
        /* Workers are this executable, found through /proc so that a
         * relative argv[0] or a changed directory does not matter. */
        .worker_exe = "/proc/self/exe",
        .sums = s->ksums,
        .arena = arena,
        .k0 = k0,
        .k1 = k1,
        .worker_timeout = o->worker_timeout,
        .retries = o->retries > r->retried ? o->retries - r->retried : 0,
        .cancel = &signals_stop,
    };
    pc_run_result res;
    int st = pc_run(j->plan, &rp, &res);
    if (st)
        return st;
    r->seconds += res.seconds;
    r->compute += res.compute;
    if (res.workers > r->workers)
        r->workers = res.workers;
    r->kernels += k1 - k0;
    memcpy(r->sums + q0, s->ksums + k0, (k1 - k0) * sizeof *r->sums);
    warn_retried(r, &res, o->retries);
    return PC_OK;
}

/* Runs strategy i over every matrix with planes in this run, each in
 * batches of its kernels; the first strategy with -o hands each batch's
 * planes to the writer, which stores them and the manifest while the next
 * batch is computed into the other arena, and skips the batches that are
 * complete in DIR already. */
static int run_strategy(run_state *s, int i)
{
    job *j = &s->j;
    const cli_options *o = j->o;
    job_run *r = &j->runs[i];
    r->strategy = o->strategies[i];
    if (!(r->sums = calloc(j->count, sizeof *r->sums)))
        return pc_error(PC_ENOMEM, "cannot allocate %zu checksums", j->count);
    bool writes = i == 0 && o->outdir;
    progress pg;
    progress_start(&pg, o->quiet ? NULL : stderr, pc_strategy_name(r->strategy),
                   job_unit(j), j->count);
    size_t base = writes ? j->resumed : 0, finished = base;
    int st = writes ? start_writer(s, r) : PC_OK;
    unsigned slot = 0;
    for (size_t n = 0; n < j->nmat && !st && !signals_stop; n++) {
        size_t a, b, q0;
        job_matrix_planes(j, n, &a, &b, &q0);
        if (a == b || (writes && batch_done(s, r, q0, q0 + (b - a))))
            continue;
        if ((st = use_matrix(s, n)))
            break;
        for (size_t k0 = a; k0 < b && !st; k0 += j->batch) {
            size_t k1 = k0 + j->batch < b ? k0 + j->batch : b;
            size_t qa = q0 + (k0 - a);
            if (writes && batch_done(s, r, qa, qa + (k1 - k0)))
                continue;
            if (signals_stop)
                break;
            /* A signal stops the batch at once; the batches computed
             * before are stored (the writer finishes them) and in the
             * manifest. */
            if (writes && (st = writer_wait_slot(s->w, slot)))
                break;
            if ((st = run_batch(s, r, writes ? &s->arena[slot] : NULL, k0, k1,
                                qa)))
                break;
            if (writes) {
                writer_batch wb = {.n = n, .k0 = k0, .k1 = k1, .q0 = qa,
                                   .slot = slot};
                if ((st = writer_submit(s->w, &wb)))
                    break;
                slot ^= 1;
            }
            finished += k1 - k0;
            progress_update(&pg, finished, base);
        }
    }
    if (st == PC_EINTERRUPTED)
        st = PC_OK;
    if (writes && !st && !signals_stop)
        measure_peaks(s);
    /* The batches computed are stored, even after a signal or a failure
     * of the computing; a write error comes first. */
    int wst = stop_writer(s);
    if (wst)
        st = wst;
    progress_end(&pg);
    if (!st && signals_stop)
        j->interrupted = signals_stop;
    if (!st && writes && !j->interrupted)
        st = commit_outputs(s);
    if (!st && !j->interrupted) {
        check_peak(s, r);
        r->checksum = pc_hash_combine(r->sums, j->count);
        j->nruns = i + 1;
        if (s->text) {
            report_run_box(s->text, r);
            fflush(s->text);
        }
    }
    return st;
}

/* ---- after the work ---------------------------------------------------------- */

/* A signal stopped the run: what was kept, and the hint to resume. */
static int stop_if_interrupted(const run_state *s)
{
    const job *j = &s->j;
    if (!j->interrupted)
        return PC_OK;
    size_t n = j->kernels_done;
    if (j->o->outdir)
        return pc_error(PC_EINTERRUPTED, "interrupted: %zu of %zu %s "
                        "complete; rerun with --resume", n, j->count,
                        job_unit(j));
    return pc_error(PC_EINTERRUPTED, "interrupted by signal %d; nothing was "
                    "kept (use -o DIR to keep results)", j->interrupted);
}

/* Compares every run's per-plane checksums with the first run's. */
static void verify(job *j)
{
    j->verified = true;
    j->mismatch[0] = 0;
    for (int r = 1; r < j->nruns; r++)
        for (size_t q = 0; q < j->count; q++)
            if (j->runs[r].sums[q] != j->runs[0].sums[q]) {
                size_t n, k;
                char where[64];
                job_plane(j, q, &n, &k);
                if (j->nmat > 1)
                    snprintf(where, sizeof where, "plane (matrix %zu, "
                             "kernel %zu)", n, k);
                else
                    snprintf(where, sizeof where, "kernel %zu", k);
                j->verified = false;
                snprintf(j->mismatch, sizeof j->mismatch,
                         "%s differs from %s, first at %s",
                         pc_strategy_name(j->runs[r].strategy),
                         pc_strategy_name(j->runs[0].strategy), where);
                return;
            }
}

static double peak_rss(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    long kb = self.ru_maxrss > kids.ru_maxrss ? self.ru_maxrss : kids.ru_maxrss;
    return 1024.0 * (double)kb;
}

/* The planes complete: in DIR with -o (kept, with those resumed), else
 * computed by the first strategy. */
static size_t kernels_done(const run_state *s)
{
    const job *j = &s->j;
    size_t n = 0;
    for (size_t k = 0; j->o->outdir && k < j->count; k++)
        n += s->done[k];
    return j->o->outdir ? n : j->runs[0].kernels;
}

/* When the process started, as near as it can be told: the first code of
 * the program, run before main (the dynamic loader's work before it is
 * not counted). */
static double process_start;

__attribute__((constructor)) static void note_start(void)
{
    process_start = pc_now();
}

/* The summary table and the JSON report; after a signal only the JSON
 * one, of the runs that completed, marked "interrupted". */
static int report(run_state *s)
{
    job *j = &s->j;
    j->wall_seconds = pc_now() - process_start;
    j->peak_rss = peak_rss();
    j->kernels_done = kernels_done(s);
    if (s->text && !j->interrupted) {
        report_summary(s->text, j);
        /* Before the JSON one, which may go to the same file
         * (--json /dev/stdout). */
        fflush(s->text);
    }
    return j->o->json_path ? report_json(&s->json, j) : PC_OK;
}

/* The run's status: a verification failure fails it. */
static int verdict(const job *j)
{
    if (!j->verified)
        return pc_error(PC_EMISMATCH, "verification failed: %s", j->mismatch);
    return PC_OK;
}

static int finish(run_state *s, int st)
{
    /* The writer uses the arenas, the format's file(s), the first run's
     * checksums and the done/known lists: it ends before any of them. */
    stop_writer(s);
    /* A run that failed leaves FILE as it was. */
    outdir_file_discard(&s->json);
    for (int i = 0; i < PC_NSTRATEGIES; i++)
        free(s->j.runs[i].sums);
    free(s->done);
    free(s->known);
    free(s->ksums);
    /* Without a commit the format's partial stays, for --resume. */
    if (s->out && s->fmt->close)
        s->fmt->close(s->out);
    outdir_manifest_free(&s->had);
    pc_arena_destroy(&s->arena[0]);
    pc_arena_destroy(&s->arena[1]);
    pc_plan_destroy(s->j.plan);
    inputs_free(&s->j);
    return st;
}

int run_cmd(cli_options *o)
{
    run_state s = {.j = {.o = o}, .arena = {{.fd = -1}, {.fd = -1}},
                   .json = {.fd = -1},
                   .plan_holds = SIZE_MAX};
    int st = start(&s);
    if (!st)
        st = check_resume(&s);
    if (!st)
        st = read_inputs(&s);
    if (!st)
        st = open_outputs(&s);
    if (!st)
        st = make_plan(&s);
    if (!st)
        st = confirm_outputs(&s);
    if (!st && s.j.count == 0)
        return finish(&s, empty_shard(&s));
    if (!st)
        st = set_up(&s);
    for (int i = 0; !st && i < o->nstrategies && !s.j.interrupted; i++)
        st = run_strategy(&s, i);
    if (!st) {
        verify(&s.j);
        st = report(&s);
    }
    /* After a signal the report is written if it can be; the signal is
     * what the exit status says. */
    if (s.j.interrupted) {
        if (st)
            fprintf(stderr, "parconv: %s\n", pc_errmsg());
        st = stop_if_interrupted(&s);
    }
    return finish(&s, st ? st : verdict(&s.j));
}
