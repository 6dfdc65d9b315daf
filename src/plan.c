/* The plan's data layout: every mode as "pad once, then valid". Shapes,
 * padding, flipped kernels, and the shared mapping that holds
 * them. The planner (planner.c) assembles a plan from these with the
 * kernels' set-up; nothing here calls above this layer. */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MAGIC "PCPLAN2"

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

int pc_plan_init(pc_plan *pl, const pc_conv_params *p, size_t rows,
                 size_t cols, size_t count, size_t krows, size_t kcols)
{
    if (rows == 0 || cols == 0 || count == 0 || krows == 0 || kcols == 0)
        return pc_error(PC_EUSAGE, "empty matrix or kernel bank");
    if (p->dtype != PC_F64 && p->dtype != PC_F32)
        return pc_error(PC_EUSAGE, "unknown dtype %d", (int)p->dtype);
    if (p->boundary != PC_FILL && p->boundary != PC_WRAP && p->boundary != PC_SYMM)
        return pc_error(PC_EUSAGE, "unknown boundary %d", (int)p->boundary);
    if ((unsigned)p->method > PC_AUTO)
        return pc_error(PC_EUSAGE, "unknown method %d", (int)p->method);
    if ((unsigned)p->isa >= PC_NISAS)
        return pc_error(PC_EUSAGE, "unknown isa %d", (int)p->isa);
    pl->p = *p;
    pl->blob_fd = -1;
    pl->rows = rows;
    pl->cols = cols;
    pl->count = count;
    pl->krows = krows;
    pl->kcols = kcols;
    return PC_OK;
}

/* Where the output starts on the full grid, and the boundary and fill
 * value the padding uses. */
static void origin(const pc_plan *pl, size_t *r0, size_t *c0, pc_boundary *bnd,
                   double *fillv)
{
    *r0 = *c0 = 0;
    *bnd = pl->p.boundary;
    *fillv = pl->p.fillvalue;
    if (pl->p.mode == PC_SAME) {
        *r0 = (pl->krows - 1) / 2;
        *c0 = (pl->kcols - 1) / 2;
    } else if (pl->p.mode == PC_VALID) {
        *r0 = (pl->rows < pl->krows ? pl->rows : pl->krows) - 1;
        *c0 = (pl->cols < pl->kcols ? pl->cols : pl->kcols) - 1;
        /* Unswapped, 'valid' never reads outside the matrix; swapped, scipy
         * convolves the kernel with the matrix, so outside counts as zero
         * whatever the boundary says. */
        *bnd = PC_FILL;
        *fillv = 0.0;
    }
}

int pc_plan_geometry(pc_plan *pl)
{
    int swapped, st = pc_out_shape(pl->p.mode, pl->rows, pl->cols, pl->krows,
                                   pl->kcols, &pl->orows, &pl->ocols, &swapped);
    if (st)
        return st;
    size_t esz = pc_dtype_size(pl->p.dtype), n;
    if (!pc_add_ok(pl->orows, pl->krows - 1, &pl->prows) ||
        !pc_add_ok(pl->ocols, pl->kcols - 1, &pl->pcols) ||
        !pc_add_ok(pl->pcols, PC_SPARE + 15, &pl->pstride) ||
        !pc_mul_ok(pl->prows, pl->pstride, &n) || !pc_mul_ok(n, esz, &n) ||
        (long)pl->prows < 0 || (long)pl->pcols < 0)
        return pc_error(PC_EUSAGE, "the padded matrix would be too large");
    /* The flipped kernels. */
    if (!pc_mul_ok(pl->krows, pl->kcols, &n) || !pc_mul_ok(n, esz, &n) ||
        !pc_mul_ok(n, pl->count, &n))
        return pc_error(PC_EUSAGE, "the kernels would be too large");
    /* Rows start on 64-byte boundaries, and PC_SPARE zero columns let
     * vector loads run past the row end. */
    pl->pstride &= ~(size_t)15;
    return PC_OK;
}

/* Element (i, j) of a view as a double (a float converts exactly). */
static double view_at(const pc_matrix_view *m, size_t i, size_t j)
{
    ptrdiff_t o = (ptrdiff_t)i * m->row_stride + (ptrdiff_t)j * m->col_stride;
    return m->dtype == PC_F32 ? (double)((const float *)m->data)[o]
                              : ((const double *)m->data)[o];
}

bool pc_plan_matrix_finite(const pc_plan *pl, const pc_matrix_view *m)
{
    size_t r0, c0;
    pc_boundary bnd;
    double fillv;
    origin(pl, &r0, &c0, &bnd, &fillv);
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++)
            if (!isfinite(view_at(m, i, j)))
                return false;
    return isfinite(fillv);
}

bool pc_plan_finite(const pc_plan *pl, const pc_matrix_view *m,
                    const pc_bank *b)
{
    return pc_plan_matrix_finite(pl, m) &&
           all_finite(b->data, b->count * b->rows * b->cols);
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

void pc_plan_layout(const pc_plan *pl, size_t spectra_bytes,
                    size_t wisdom_bytes, pc_plan_header *h)
{
    /* Header, padded matrix, kernels, tile spectra and the planner's
     * wisdom, each on its own page. */
    memset(h, 0, sizeof *h);
    h->pad_off = align_page(sizeof *h);
    h->kern_off = align_page(h->pad_off + pc_plan_pad_bytes(pl));
    h->spectra_off = align_page(h->kern_off + pc_plan_kern_bytes(pl));
    h->wisdom_off = align_page(h->spectra_off + spectra_bytes);
    h->total = align_page(h->wisdom_off + wisdom_bytes);
}

void pc_plan_attach(pc_plan *pl, char *blob, size_t bytes,
                    const pc_plan_header *h)
{
    pl->blob = blob;
    pl->blob_bytes = bytes;
    pl->pad = blob + h->pad_off;
    pl->kern = blob + h->kern_off;
    pl->spectra = blob + h->spectra_off;
}

static void store(void *base, pc_dtype dt, size_t i, double v)
{
    if (dt == PC_F32)
        ((float *)base)[i] = (float)v;
    else
        ((double *)base)[i] = v;
}

void pc_plan_fill_matrix(pc_plan *pl, const pc_matrix_view *m)
{
    const pc_dtype dt = pl->p.dtype;
    size_t r0, c0;
    pc_boundary bnd;
    double fillv;
    origin(pl, &r0, &c0, &bnd, &fillv);
    long M = (long)m->rows, N = (long)m->cols;
    long roff = (long)r0 - (long)(pl->krows - 1);
    long coff = (long)c0 - (long)(pl->kcols - 1);
    for (size_t i = 0; i < pl->prows; i++) {
        long si = extend((long)i + roff, M, bnd);
        for (size_t j = 0; j < pl->pcols; j++) {
            long sj = extend((long)j + coff, N, bnd);
            double v = si < 0 || sj < 0 ? fillv
                                        : view_at(m, (size_t)si, (size_t)sj);
            store(pl->pad, dt, i * pl->pstride + j, v);
        }
    }
}

void pc_plan_fill_kernels(pc_plan *pl, const pc_bank *b)
{
    const pc_dtype dt = pl->p.dtype;
    /* Flipped kernels turn convolution into correlation: out[i][j] =
     * sum_pq pad[i+p][j+q] * kf[p][q], every mode alike. */
    size_t kh = b->rows, kw = b->cols, taps = kh * kw;
    for (size_t k = 0; k < b->count; k++)
        for (size_t t = 0; t < taps; t++)
            store(pl->kern, dt, k * taps + t, b->data[k * taps + (taps - 1 - t)]);
}

void pc_plan_seal(const pc_plan *pl, pc_plan_header *h)
{
    memcpy(h->magic, PLAN_MAGIC, sizeof PLAN_MAGIC);
    snprintf(h->version, sizeof h->version, "%s", PC_VERSION);
    h->header_bytes = sizeof *h;
    /* A pointer, a plan or a descriptor means nothing in another process. */
    h->plan = *pl;
    h->plan.p.wisdom = NULL;
    h->plan.pad = h->plan.kern = h->plan.spectra = NULL;
    h->plan.fns = NULL;
    memset(h->plan.fft.plans, 0, sizeof h->plan.fft.plans);
    h->plan.wisdom = NULL;
    h->plan.blob = NULL;
    h->plan.blob_fd = -1;
    h->plan.owns = false;
    memcpy(pl->blob, h, sizeof *h);
}

int pc_plan_open(pc_plan *pl, char *blob, size_t bytes, pc_plan_header *h)
{
    memset(pl, 0, sizeof *pl);
    pl->blob_fd = -1;
    if (bytes < sizeof *h)
        return pc_error(PC_EINPUT, "plan mapping too small");
    memcpy(h, blob, sizeof *h);
    if (memcmp(h->magic, PLAN_MAGIC, sizeof PLAN_MAGIC) != 0 ||
        h->header_bytes != sizeof *h || h->total != bytes ||
        strncmp(h->version, PC_VERSION, sizeof h->version) != 0)
        return pc_error(PC_EINPUT, "the plan mapping is not from this parconv "
                        "(version %s)", PC_VERSION);
    *pl = h->plan;
    pc_plan_attach(pl, blob, bytes, h);
    return PC_OK;
}

size_t pc_plan_batch_quantum(const pc_plan *plan)
{
    return plan->method == PC_FFT ? plan->fft.kg : plan->group;
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

void pc_plan_trial(const pc_plan *plan, double *direct, double *fft,
                   double *seconds)
{
    *direct = plan->trial_direct;
    *fft = plan->trial_fft;
    *seconds = plan->trial_seconds;
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
