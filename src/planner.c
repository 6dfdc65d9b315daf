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

/* Binds the direct kernels of the plan's ISA and dtype, and lays out the
 * kernel sets for their vector width. */
static int bind(pc_plan *pl)
{
    pl->fns = pc_direct_lookup(pl->isa, pl->p.dtype);
    if (!pl->fns)
        return pc_error(PC_EUSAGE, "this CPU cannot run the %s kernels (it "
                        "supports up to %s)", pc_isa_name(pl->isa),
                        pc_isa_name(pc_isa_best()));
    pc_plan_sets(pl, (size_t)pl->fns->lanes);
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
