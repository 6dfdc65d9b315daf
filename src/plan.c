/* The plan: every mode as "pad once, then valid". All set-up happens here,
 * on one thread, before any parallel work; pc_plan_execute is re-entrant. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PLAN_MAGIC "PCPLAN2"

static int choose_method(pc_plan *pl, bool finite);

static bool all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

static size_t align_page(size_t n)
{
    return (n + 4095) & ~(size_t)4095;
}

void pc_conv_params_default(pc_conv_params *p)
{
    memset(p, 0, sizeof *p);
    p->mode = PC_FULL;
    p->boundary = PC_FILL;
    p->fillvalue = 0.0;
    p->dtype = PC_F64;
    p->method = PC_DIRECT;
    p->isa = PC_ISA_AUTO;
}

static size_t absdiff(size_t a, size_t b)
{
    return a > b ? a - b : b - a;
}

int pc_out_shape(pc_mode mode, size_t rows, size_t cols, size_t krows,
                 size_t kcols, size_t *orows, size_t *ocols, int *swapped)
{
    *swapped = 0;
    switch (mode) {
    case PC_FULL:
        *orows = rows + krows - 1;
        *ocols = cols + kcols - 1;
        return PC_OK;
    case PC_SAME:
        *orows = rows;
        *ocols = cols;
        return PC_OK;
    case PC_VALID: {
        /* scipy: one input must contain the other in every dimension; when
         * the kernel is the larger one the inputs are swapped. */
        int matrix_contains = rows >= krows && cols >= kcols;
        int kernel_contains = krows >= rows && kcols >= cols;
        if (!matrix_contains && !kernel_contains)
            return pc_error(PC_EUSAGE,
                            "mode 'valid' needs the matrix (%zux%zu) or the "
                            "kernel (%zux%zu) to contain the other in every "
                            "dimension", rows, cols, krows, kcols);
        *swapped = !matrix_contains;
        *orows = absdiff(rows, krows) + 1;
        *ocols = absdiff(cols, kcols) + 1;
        return PC_OK;
    }
    }
    return pc_error(PC_EUSAGE, "unknown mode %d", (int)mode);
}

/* Index into a dimension of n samples, extended per boundary. Returns -1 for
 * "outside, use the fill value". */
static long extend(long i, long n, pc_boundary b)
{
    if (i >= 0 && i < n)
        return i;
    switch (b) {
    case PC_WRAP: {
        long r = i % n;
        return r < 0 ? r + n : r;
    }
    case PC_SYMM: {
        /* Reflection with the edge sample repeated has period 2n, which
         * also covers kernels many times larger than the matrix. */
        long r = i % (2 * n);
        if (r < 0)
            r += 2 * n;
        return r < n ? r : 2 * n - 1 - r;
    }
    case PC_FILL:
        break;
    }
    return -1;
}

size_t pc_plan_pad_bytes(const pc_plan *plan)
{
    return plan->prows * plan->pstride * pc_dtype_size(plan->p.dtype);
}

size_t pc_plan_kern_bytes(const pc_plan *plan)
{
    return plan->count * plan->krows * plan->kcols * pc_dtype_size(plan->p.dtype);
}

size_t pc_plan_kpack_bytes(const pc_plan *plan)
{
    size_t vectors = 2 * plan->nsets2 + plan->nsets1;
    return vectors * plan->lanes * plan->krows * plan->kcols *
           pc_dtype_size(plan->p.dtype);
}

int pc_plan_bind(pc_plan *pl)
{
    pl->fns = pc_direct_lookup(pl->isa, pl->p.dtype);
    if (!pl->fns)
        return pc_error(PC_EUSAGE, "this CPU cannot run the %s kernels (it "
                        "supports up to %s)", pc_isa_name(pl->isa),
                        pc_isa_name(pc_isa_best()));
    pl->lanes = (size_t)pl->fns->lanes;
    /* Sets of two vectors of kernels, then at most one set of one vector,
     * then the few left over one at a time. */
    pl->nsets2 = pl->count / (2 * pl->lanes);
    pl->nsets1 = (pl->count % (2 * pl->lanes)) / pl->lanes;
    pl->first_single = (2 * pl->nsets2 + pl->nsets1) * pl->lanes;
    return PC_OK;
}

static void store(void *base, pc_dtype dt, size_t i, double v)
{
    if (dt == PC_F32)
        ((float *)base)[i] = (float)v;
    else
        ((double *)base)[i] = v;
}

int pc_plan_create(pc_plan **out, const pc_conv_params *p, const pc_matrix *m,
                   const pc_bank *b)
{
    *out = NULL;
    if (m->rows == 0 || m->cols == 0 || b->count == 0 || b->rows == 0 ||
        b->cols == 0)
        return pc_error(PC_EUSAGE, "empty matrix or kernel bank");
    if (p->dtype != PC_F64 && p->dtype != PC_F32)
        return pc_error(PC_EUSAGE, "unknown dtype %d", (int)p->dtype);
    if (p->boundary != PC_FILL && p->boundary != PC_WRAP && p->boundary != PC_SYMM)
        return pc_error(PC_EUSAGE, "unknown boundary %d", (int)p->boundary);
    if ((unsigned)p->method > PC_AUTO)
        return pc_error(PC_EUSAGE, "unknown method %d", (int)p->method);
    if ((unsigned)p->isa >= PC_NISAS)
        return pc_error(PC_EUSAGE, "unknown isa %d", (int)p->isa);

    pc_plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return pc_error(PC_ENOMEM, "cannot allocate a plan");
    pl->p = *p;
    pl->owns = true;
    pl->blob_fd = -1;
    pl->rows = m->rows;
    pl->cols = m->cols;
    pl->count = b->count;
    pl->krows = b->rows;
    pl->kcols = b->cols;
    pl->isa = p->isa == PC_ISA_AUTO ? pc_isa_best() : p->isa;

    int swapped, st = pc_plan_bind(pl);
    if (st)
        goto error;
    st = pc_out_shape(p->mode, m->rows, m->cols, b->rows, b->cols, &pl->orows,
                      &pl->ocols, &swapped);
    if (st)
        goto error;

    /* Where the output starts on the full grid. */
    size_t r0 = 0, c0 = 0;
    pc_boundary bnd = p->boundary;
    double fillv = p->fillvalue;
    if (p->mode == PC_SAME) {
        r0 = (b->rows - 1) / 2;
        c0 = (b->cols - 1) / 2;
    } else if (p->mode == PC_VALID) {
        r0 = (m->rows < b->rows ? m->rows : b->rows) - 1;
        c0 = (m->cols < b->cols ? m->cols : b->cols) - 1;
        /* Unswapped, 'valid' never reads outside the matrix; swapped, scipy
         * convolves the kernel with the matrix, so outside counts as zero
         * whatever the boundary says. */
        bnd = PC_FILL;
        fillv = 0.0;
    }

    size_t esz = pc_dtype_size(p->dtype), n;
    if (!pc_add_ok(pl->orows, b->rows - 1, &pl->prows) ||
        !pc_add_ok(pl->ocols, b->cols - 1, &pl->pcols) ||
        !pc_add_ok(pl->pcols, PC_SPARE + 15, &pl->pstride) ||
        !pc_mul_ok(pl->prows, pl->pstride, &n) || !pc_mul_ok(n, esz, &n) ||
        (long)pl->prows < 0 || (long)pl->pcols < 0) {
        st = pc_error(PC_EUSAGE, "the padded matrix would be too large");
        goto error;
    }
    /* Rows start on 64-byte boundaries, and PC_SPARE zero columns let
     * vector loads run past the row end. */
    pl->pstride &= ~(size_t)15;

    /* Direct or FFT: the model's estimates, then FFTW's plans (on buffers
     * of their own, before the inputs exist). NaN and Inf spread over a
     * whole tile in an FFT but only over the kernel's footprint in
     * scipy's direct sum, so inputs with them are computed directly. */
    bool finite = all_finite(m->data, m->rows * m->cols) &&
                  all_finite(b->data, b->count * b->rows * b->cols) &&
                  isfinite(fillv);
    if (!finite && p->method == PC_FFT) {
        st = pc_error(PC_EUSAGE, "--method fft cannot give scipy's results "
                      "with NaN or Inf in the inputs (an FFT spreads them "
                      "over whole tiles); use --method direct or auto");
        goto error;
    }
    if ((st = choose_method(pl, finite)))
        goto error;
    char *wisdom = NULL;
    size_t wisdom_len = 0;
    if (pl->method == PC_FFT) {
        if ((st = pc_fft_prepare(pl, p->wisdom)))
            goto error;
        wisdom = pc_fft_export_wisdom(p->dtype);
        wisdom_len = wisdom ? strlen(wisdom) + 1 : 0;
    }

    /* One shared mapping: header, padded matrix, kernels, packed kernels,
     * tile spectra and the planner's wisdom, each on its own page. */
    pc_plan_header h;
    memset(&h, 0, sizeof h);
    h.pad_off = align_page(sizeof h);
    h.kern_off = align_page(h.pad_off + pc_plan_pad_bytes(pl));
    h.kpack_off = align_page(h.kern_off + pc_plan_kern_bytes(pl));
    h.spectra_off = align_page(h.kpack_off + pc_plan_kpack_bytes(pl));
    h.wisdom_off = align_page(h.spectra_off +
        (pl->method == PC_FFT ? pc_fft_spectra_bytes(&pl->fft, p->dtype) : 0));
    h.total = align_page(h.wisdom_off + wisdom_len);
    if ((st = pc_shm_map("parconv-plan", h.total, &pl->blob_fd,
                         (void **)&pl->blob))) {
        free(wisdom);
        goto error;
    }
    pl->blob_bytes = h.total;
    pl->pad = pl->blob + h.pad_off;
    pl->kern = pl->blob + h.kern_off;
    pl->kpack = pl->blob + h.kpack_off;
    pl->spectra = pl->blob + h.spectra_off;
    if (wisdom) {
        memcpy(pl->blob + h.wisdom_off, wisdom, wisdom_len);
        pl->wisdom = pl->blob + h.wisdom_off;
        free(wisdom);
    }

    long M = (long)m->rows, N = (long)m->cols;
    long roff = (long)r0 - (long)(b->rows - 1);
    long coff = (long)c0 - (long)(b->cols - 1);
    for (size_t i = 0; i < pl->prows; i++) {
        long si = extend((long)i + roff, M, bnd);
        for (size_t j = 0; j < pl->pcols; j++) {
            long sj = extend((long)j + coff, N, bnd);
            double v = si < 0 || sj < 0 ? fillv : m->data[si * N + sj];
            store(pl->pad, p->dtype, i * pl->pstride + j, v);
        }
    }

    /* Flipped kernels turn convolution into correlation: out[i][j] =
     * sum_pq pad[i+p][j+q] * kf[p][q], every mode alike. */
    size_t kh = b->rows, kw = b->cols, taps = kh * kw;
    for (size_t k = 0; k < b->count; k++)
        for (size_t t = 0; t < taps; t++)
            store(pl->kern, p->dtype, k * taps + t,
                  b->data[k * taps + (taps - 1 - t)]);
    /* Set s holds kernels s*2L .. s*2L+2L-1 (L lanes; the last set may have
     * one vector), tap by tap: [p][q][group][lane]. */
    size_t L = pl->lanes;
    for (size_t k = 0; k < pl->first_single; k++) {
        size_t set = k / (2 * L), g = (k / L) % 2, lane = k % L;
        size_t G = set < pl->nsets2 ? 2 : 1;
        size_t base = set * taps * 2 * L;
        for (size_t t = 0; t < taps; t++)
            store(pl->kpack, p->dtype, base + (t * G + g) * L + lane,
                  b->data[k * taps + (taps - 1 - t)]);
    }

    if (pl->method == PC_FFT)
        pc_fft_spectra(pl);

    memcpy(h.magic, PLAN_MAGIC, sizeof PLAN_MAGIC);
    h.header_bytes = sizeof h;
    /* A pointer, a plan or a descriptor means nothing in another process. */
    h.plan = *pl;
    h.plan.p.wisdom = NULL;
    h.plan.pad = h.plan.kern = h.plan.kpack = h.plan.spectra = NULL;
    h.plan.fns = NULL;
    h.plan.fft.r2c = h.plan.fft.c2r = NULL;
    h.plan.wisdom = NULL;
    h.plan.blob = NULL;
    h.plan.blob_fd = -1;
    h.plan.owns = false;
    memcpy(pl->blob, &h, sizeof h);
    *out = pl;
    return PC_OK;

error:
    pc_plan_destroy(pl);
    return st;
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
 * tiles x P*Q*log2(P*Q) for the best tiling under the model; then FFT
 * plans take the measured best tiling. */
static int choose_method(pc_plan *pl, bool finite)
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
    if (pl->method == PC_FFT)
        return pc_fft_choose(pl, &pl->fft);
    return PC_OK;
}

size_t pc_plan_batch_quantum(const pc_plan *plan)
{
    return plan->method == PC_FFT ? plan->fft.kg : 2 * plan->lanes;
}

pc_method pc_plan_method(const pc_plan *plan)
{
    return plan->method;
}

void pc_plan_estimates(const pc_plan *plan, double *direct, double *fft)
{
    *direct = plan->est_direct;
    *fft = plan->est_fft;
}

void pc_plan_fft_info(const pc_plan *plan, size_t *P, size_t *Q, size_t *Tr,
                      size_t *Tc, size_t *ntr, size_t *ntc, double *plan_s)
{
    const pc_fft *f = &plan->fft;
    *P = f->P;
    *Q = f->Q;
    *Tr = f->Tr;
    *Tc = f->Tc;
    *ntr = f->ntr;
    *ntc = f->ntc;
    *plan_s = f->plan_seconds;
}

int pc_plan_view(pc_plan *pl, char *blob, size_t bytes)
{
    pc_plan_header h;
    memset(pl, 0, sizeof *pl);
    pl->blob_fd = -1;
    if (bytes < sizeof h)
        return pc_error(PC_EINPUT, "plan mapping too small");
    memcpy(&h, blob, sizeof h);
    if (memcmp(h.magic, PLAN_MAGIC, sizeof PLAN_MAGIC) != 0 ||
        h.header_bytes != sizeof h || h.total != bytes)
        return pc_error(PC_EINPUT, "the plan mapping is not from this parconv");
    *pl = h.plan;
    pl->blob = blob;
    pl->blob_bytes = bytes;
    pl->pad = blob + h.pad_off;
    pl->kern = blob + h.kern_off;
    pl->kpack = blob + h.kpack_off;
    pl->spectra = blob + h.spectra_off;
    int st = pc_plan_bind(pl);
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

size_t pc_plan_count(const pc_plan *plan)
{
    return plan->count;
}

void pc_plan_out_shape(const pc_plan *plan, size_t *orows, size_t *ocols)
{
    *orows = plan->orows;
    *ocols = plan->ocols;
}

size_t pc_plan_out_bytes(const pc_plan *plan)
{
    return plan->orows * plan->ocols * pc_dtype_size(plan->p.dtype);
}

const pc_conv_params *pc_plan_params(const pc_plan *plan)
{
    return &plan->p;
}

double pc_plan_flops(const pc_plan *plan)
{
    return 2.0 * (double)plan->orows * (double)plan->ocols *
           (double)plan->krows * (double)plan->kcols;
}

pc_isa pc_plan_isa(const pc_plan *plan)
{
    return plan->isa;
}
