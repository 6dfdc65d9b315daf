/* The planner: assembles a plan from its data layout (plan.c) and the
 * kernels' set-up (direct.c, fft.c): resolves the ISA and binds the direct
 * kernels, chooses the method by the cost model, plans the FFTs, maps and
 * fills the shared plan. Also the memory a plan will take, from the same
 * layout. All set-up happens here, on one thread, before any parallel
 * work; pc_plan_execute is re-entrant. */
#include "exec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Binds the direct kernels of the plan's ISA and dtype, and the group of
 * kernels computed together for their vector width. */
static int bind(pc_plan *pl)
{
    pl->fns = pc_direct_lookup(pl->isa, pl->p.dtype);
    if (!pl->fns)
        return pc_error(PC_EUSAGE, "this CPU cannot run the %s kernels (it "
                        "supports up to %s)", pc_isa_name(pl->isa),
                        pc_isa_name(pc_isa_best()));
    pl->group = 2 * (size_t)pl->fns->lanes;
    return PC_OK;
}

/* A plan's fields up to its method: checked parameters, resolved ISA,
 * bound kernels, shapes. */
static int begin(pc_plan *pl, const pc_conv_params *p, size_t rows,
                 size_t cols, size_t count, size_t krows, size_t kcols)
{
    int st = pc_plan_init(pl, p, rows, cols, count, krows, kcols);
    if (st)
        return st;
    pl->isa = p->isa == PC_ISA_AUTO ? pc_isa_best() : p->isa;
    if ((st = bind(pl)))
        return st;
    return pc_plan_geometry(pl);
}

void pc_cost_defaults(pc_dtype dtype, pc_isa isa, double *direct, double *fft)
{
    /* Seconds per output sample and tap (direct), and per P*Q*log2(P*Q)
     * of a tile transform with its multiply (FFT), on one core of the
     * development machine (AMD EPYC, AVX-512; FFTW 3.3.10 with AVX). The
     * direct constant follows the vector width; FFTW's does not. */
    static const double direct_f64[PC_NISAS] = {
        [PC_ISA_GENERIC] = 1.04e-10, [PC_ISA_AVX2] = 4.4e-11,
        [PC_ISA_AVX512] = 2.1e-11};
    if (isa == PC_ISA_AUTO)
        isa = pc_isa_best();
    *direct = direct_f64[isa] * (dtype == PC_F32 ? 0.56 : 1.0);
    *fft = dtype == PC_F32 ? 1.55e-10 : 2.7e-10;
}

/* The scipy choose_conv_method form: direct ~ outputs x taps, FFT ~
 * tiles x P*Q*log2(P*Q) for the best tiling under the model. Sets the
 * estimates and the method (never AUTO). */
static void model_method(pc_plan *pl, bool finite)
{
    double cd = pl->p.cost_direct, cf = pl->p.cost_fft, dd, df;
    pc_cost_defaults(pl->p.dtype, pl->isa, &dd, &df);
    if (!(cd > 0))
        cd = dd;
    if (!(cf > 0))
        cf = df;
    pl->est_direct = cd * (double)pl->orows * (double)pl->ocols *
                     (double)pl->krows * (double)pl->kcols;
    pc_fft model;
    pl->est_fft = cf * pc_fft_model(pl, &model);
    pl->method = pl->p.method == PC_AUTO
                     ? (finite && pl->est_fft < pl->est_direct ? PC_FFT : PC_DIRECT)
                     : pl->p.method;
}

/* Does an AUTO plan time both methods on its own inputs? Only where the
 * model's estimates are close: there its error (stale constants, a busy
 * machine that slows the FMA-bound direct sum more than the FFT) is larger
 * than what separates the methods. Not with fft_model (shards planned
 * apart must agree), nor for inputs only direct can take. */
static bool wants_trial(const pc_plan *pl, bool finite)
{
    return pl->p.method == PC_AUTO && finite && !pl->p.fft_model &&
           pl->est_fft < PC_TRIAL_MARGIN * pl->est_direct &&
           pl->est_direct < PC_TRIAL_MARGIN * pl->est_fft;
}

/* Seconds of units [u0, u1) of the plan as method m. */
static double timed_units(pc_plan *pl, pc_method m, size_t u0, size_t u1,
                          const pc_sink *sink, void *scratch)
{
    pl->method = m;
    double t0 = pc_now();
    pc_exec_units(pl, u0, u1, sink, scratch);
    return pc_now() - t0;
}

/* The trial of an FFT plan, filled and with its spectra: seconds per
 * kernel of each method on one core, each the best of samples taken in
 * turn (direct, FFT, direct, ...), so that a burst of load from elsewhere
 * slows both alike and the best sample of each is its unloaded speed.
 * Direct: a step of rows of every kernel; FFT: tile rows of the first
 * kernel group, with the group's own spectra timed apart (once per group
 * in a run, not per tile row). A few milliseconds per sample, within a
 * budget of a few percent of the run the model expects. */
static int trial(pc_plan *pl)
{
    const size_t R = pl->orows, nk = pl->count < pl->fft.kg ? pl->count
                                                            : pl->fft.kg;
    uint64_t *hash = calloc(pl->count * R, sizeof *hash);
    pl->method = PC_DIRECT;
    size_t sd = pc_scratch_bytes(pl);
    pl->method = PC_FFT;
    size_t sf = pc_scratch_bytes(pl);
    void *scratch = pc_alloc(sd > sf ? sd : sf);
    if (!hash || !scratch) {
        free(hash);
        pc_free(scratch);
        return pc_error(PC_ENOMEM, "cannot allocate the auto trial");
    }
    pc_sink sink = {.arena_fd = -1, .rowhash = hash, .k0 = 0,
                    .k1 = pl->count};
    /* Sample sizes from the model's estimates: about 1.5 ms each. */
    const double want = 1.5e-3;
    double row = pl->est_direct * (double)pl->count / (double)R;
    size_t nd = (size_t)(want / (row > 0 ? row : 1e-9));
    nd = (nd + PC_STEP_ROWS - 1) / PC_STEP_ROWS * PC_STEP_ROWS;
    nd = nd < PC_STEP_ROWS ? PC_STEP_ROWS : nd > R ? R : nd;
    size_t d0 = (R - nd) / 2;
    double trow = pl->est_fft * (double)nk / (double)pl->fft.ntr;
    size_t nf = (size_t)(want / (trow > 0 ? trow : 1e-9));
    nf = nf < 1 ? 1 : nf > pl->fft.ntr ? pl->fft.ntr : nf;
    double run = (pl->est_direct < pl->est_fft ? pl->est_direct : pl->est_fft) *
                 (double)pl->count;
    double budget = fmin(fmax(0.03 * run, 0.015), 0.3);
    double bd = INFINITY, bf = INFINITY, bk = INFINITY, start = pc_now();
    for (int rep = 0; rep < 15 && (rep < 5 || pc_now() - start < budget);
         rep++) {
        bd = fmin(bd, timed_units(pl, PC_DIRECT, d0, d0 + nd, &sink, scratch));
        bf = fmin(bf, timed_units(pl, PC_FFT, 0, nf, &sink, scratch));
        double t0 = pc_now();
        pc_fft_kernels(pl, 0, nk, scratch);
        bk = fmin(bk, pc_now() - t0);
    }
    pl->method = PC_FFT;
    pl->trial_seconds = pc_now() - start;
    pl->trial_direct = bd / (double)nd * (double)R / (double)pl->count;
    /* The group's spectra once, its tile rows ntr times. */
    double rows = bf > bk ? bf - bk : 0;
    pl->trial_fft = (bk + rows * (double)pl->fft.ntr / (double)nf) /
                    (double)nk;
    free(hash);
    pc_free(scratch);
    return PC_OK;
}

/* A matrix of doubles as the view that reads it. */
static pc_matrix_view view_of(const pc_matrix *m)
{
    pc_matrix_view v = {m->data, PC_F64, m->rows, m->cols, (ptrdiff_t)m->cols,
                        1};
    return v;
}

/* What the views' readers rely on. */
static int check_view(const pc_matrix_view *m, const char *fn)
{
    if (!m->data)
        return pc_error(PC_EUSAGE, "%s: no matrix data", fn);
    if (m->dtype != PC_F64 && m->dtype != PC_F32)
        return pc_error(PC_EUSAGE, "%s: unknown matrix dtype %d", fn,
                        (int)m->dtype);
    return PC_OK;
}

int pc_plan_create(pc_plan **out, const pc_conv_params *p, const pc_matrix *m,
                   const pc_bank *b)
{
    pc_matrix_view v = view_of(m);
    return pc_plan_create_view(out, p, &v, b);
}

int pc_plan_create_view(pc_plan **out, const pc_conv_params *p,
                        const pc_matrix_view *m, const pc_bank *b)
{
    *out = NULL;
    int st = check_view(m, "pc_plan_create_view");
    if (st)
        return st;
    pc_plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return pc_error(PC_ENOMEM, "cannot allocate a plan");
    pl->blob_fd = -1;
    pl->owns = true;
    st = begin(pl, p, m->rows, m->cols, b->count, b->rows, b->cols);
    if (st)
        goto error;

    /* Direct or FFT: the model's estimates, then FFTW's plans (on buffers
     * of their own, before the inputs exist) for the measured best tiling.
     * NaN and Inf spread over a whole tile in an FFT but only over the
     * kernel's footprint in scipy's direct sum, so inputs with them are
     * computed directly. */
    bool finite = pc_plan_finite(pl, m, b);
    if (!finite && p->method == PC_FFT) {
        st = pc_error(PC_EUSAGE, "--method fft cannot give scipy's results "
                      "with NaN or Inf in the inputs (an FFT spreads them "
                      "over whole tiles); use --method direct or auto");
        goto error;
    }
    model_method(pl, finite);
    /* Near the crossover the plan is made for FFT (which holds everything
     * direct needs too) and both are timed before it is sealed. */
    bool try_both = wants_trial(pl, finite);
    if (try_both)
        pl->method = PC_FFT;
    if (pl->method == PC_FFT && (st = pc_fft_choose(pl, &pl->fft)))
        goto error;
    char *wisdom = NULL;
    size_t wisdom_len = 0;
    if (pl->method == PC_FFT) {
        if ((st = pc_fft_prepare(pl, p->wisdom)))
            goto error;
        wisdom = pc_fft_export_wisdom(p->dtype);
        wisdom_len = wisdom ? strlen(wisdom) + 1 : 0;
    }

    pc_plan_header h;
    pc_plan_layout(pl, pl->method == PC_FFT ? pc_fft_spectra_bytes(&pl->fft, p->dtype)
                                            : 0,
                   wisdom_len, &h);
    char *blob;
    if ((st = pc_shm_map("parconv-plan", h.total, &pl->blob_fd, (void **)&blob))) {
        free(wisdom);
        goto error;
    }
    pc_plan_attach(pl, blob, h.total, &h);
    if (wisdom) {
        memcpy(pl->blob + h.wisdom_off, wisdom, wisdom_len);
        pl->wisdom = pl->blob + h.wisdom_off;
        free(wisdom);
    }
    pc_plan_fill_matrix(pl, m);
    pc_plan_fill_kernels(pl, b);
    if (pl->method == PC_FFT)
        pc_fft_spectra(pl);
    if (try_both && (st = trial(pl)))
        goto error;
    if (try_both && pl->trial_direct <= pl->trial_fft) {
        /* Direct: planned again without the spectra it does not need,
         * keeping what the trial found. */
        pc_plan tried = *pl;
        pc_plan_destroy(pl);
        pc_conv_params q = *p;
        q.method = PC_DIRECT;
        if ((st = pc_plan_create_view(out, &q, m, b)))
            return st;
        (*out)->p.method = PC_AUTO;
        (*out)->trial_direct = tried.trial_direct;
        (*out)->trial_fft = tried.trial_fft;
        (*out)->trial_seconds = tried.trial_seconds;
        return PC_OK;
    }
    pc_plan_seal(pl, &h);
    *out = pl;
    return PC_OK;

error:
    pc_plan_destroy(pl);
    return st;
}

int pc_plan_set_matrix(pc_plan *pl, const pc_matrix *m)
{
    pc_matrix_view v = view_of(m);
    return pc_plan_set_matrix_view(pl, &v);
}

int pc_plan_set_matrix_view(pc_plan *pl, const pc_matrix_view *m)
{
    if (!pl->owns)
        return pc_error(PC_EUSAGE, "pc_plan_set_matrix: not on a worker's "
                        "view of a plan");
    int st = check_view(m, "pc_plan_set_matrix");
    if (st)
        return st;
    if (m->rows != pl->rows || m->cols != pl->cols)
        return pc_error(PC_EUSAGE, "pc_plan_set_matrix: the matrix is %zux%zu, "
                        "the plan's %zux%zu", m->rows, m->cols, pl->rows,
                        pl->cols);
    /* As pc_plan_create refuses --method fft for such inputs: the FFT
     * would spread them over whole tiles. */
    if (pl->method == PC_FFT && !pc_plan_matrix_finite(pl, m))
        return pc_error(PC_EUSAGE, "this matrix holds NaN or Inf, which an "
                        "FFT plan cannot take (an FFT spreads them over "
                        "whole tiles); use --method direct");
    pc_plan_fill_matrix(pl, m);
    if (pl->method == PC_FFT)
        pc_fft_spectra(pl);
    return PC_OK;
}

int pc_plan_view(pc_plan *pl, char *blob, size_t bytes)
{
    pc_plan_header h;
    int st = pc_plan_open(pl, blob, bytes, &h);
    if (!st)
        st = bind(pl);
    if (!st && pl->method == PC_FFT) {
        /* This process makes its own FFTW plans, from the parent's wisdom
         * so they are the same plans. */
        pl->wisdom = blob + h.wisdom_off;
        st = pc_fft_worker_plans(pl, pl->wisdom);
    }
    return st;
}

void pc_plan_destroy(pc_plan *plan)
{
    if (!plan)
        return;
    pc_fft_destroy(&plan->fft, plan->p.dtype);
    if (plan->owns) {
        if (plan->blob)
            munmap(plan->blob, plan->blob_bytes);
        if (plan->blob_fd >= 0)
            close(plan->blob_fd);
    }
    free(plan);
}

/* The parts of pc_memory that follow from a plan's fields and tiling. */
static void memory_of(const pc_plan *pl, pc_memory *m)
{
    pc_plan_header h;
    pc_plan_layout(pl, pl->method == PC_FFT
                           ? pc_fft_spectra_bytes(&pl->fft, pl->p.dtype) : 0,
                   0, &h);
    m->plan = (double)h.spectra_off;
    m->spectra = (double)(h.wisdom_off - h.spectra_off);
    m->sums = (double)pl->count * (double)pl->orows * sizeof(uint64_t);
    m->scratch = (double)pc_scratch_bytes(pl);
}

/* A plan's fields up to its method, as the model chooses it for finite
 * inputs, with nothing allocated: what pc_plan_estimate and pc_plan_model
 * look at. */
static int model_plan(pc_plan *pl, const pc_conv_params *p, size_t rows,
                      size_t cols, size_t count, size_t krows, size_t kcols)
{
    memset(pl, 0, sizeof *pl);
    int st = begin(pl, p, rows, cols, count, krows, kcols);
    if (!st)
        model_method(pl, true);
    return st;
}

int pc_plan_estimate(const pc_conv_params *p, size_t rows, size_t cols,
                     size_t count, size_t krows, size_t kcols, pc_memory *m)
{
    memset(m, 0, sizeof *m);
    pc_plan pl;
    /* The method the model would choose, assuming finite inputs (with
     * others it can only be direct, which needs less). */
    int st = model_plan(&pl, p, rows, cols, count, krows, kcols);
    if (st)
        return st;
    /* An AUTO plan near the crossover holds FFT's spectra for its trial. */
    if (wants_trial(&pl, true))
        pl.method = PC_FFT;
    bool pinned = (p->fft_P && p->fft_Q) || p->fft_model;
    /* A pinned size (or the model's): exactly the tiling pc_plan_create
     * takes. */
    if (pl.method == PC_FFT && pinned && (st = pc_fft_choose(&pl, &pl.fft)))
        return st;
    memory_of(&pl, m);
    if (pl.method != PC_FFT || pinned)
        return PC_OK;
    /* Otherwise pc_plan_create times the candidates and takes the fastest;
     * without timing, the most any of them needs. */
    pc_fft c[PC_FFT_MAX_CANDIDATES];
    size_t n = pc_fft_candidates(&pl, c);
    for (size_t i = 0; i < n; i++) {
        pc_memory mi;
        pl.fft = c[i];
        memory_of(&pl, &mi);
        m->spectra = fmax(m->spectra, mi.spectra);
        m->scratch = fmax(m->scratch, mi.scratch);
    }
    return PC_OK;
}

int pc_plan_model(const pc_conv_params *p, size_t rows, size_t cols,
                  size_t count, size_t krows, size_t kcols, pc_method *method,
                  double *direct, double *fft)
{
    pc_plan pl;
    int st = model_plan(&pl, p, rows, cols, count, krows, kcols);
    if (st)
        return st;
    *method = pl.method;
    *direct = pl.est_direct;
    *fft = pl.est_fft;
    return PC_OK;
}

void pc_plan_memory(const pc_plan *plan, pc_memory *m)
{
    /* Measured on the mapping itself: the spectra run from their offset
     * to the wisdom's (or the end), the rest is the plan. */
    memory_of(plan, m);
    const char *spectra = plan->spectra;
    const char *end = plan->wisdom ? plan->wisdom : plan->blob + plan->blob_bytes;
    m->spectra = plan->method == PC_FFT ? (double)(end - spectra) : 0;
    m->plan = (double)plan->blob_bytes - m->spectra;
}
