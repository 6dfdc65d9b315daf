/* The direct convolution against a naive reference written from scipy's
 * definition (no padding, boundary applied per sample), on many random
 * shapes: every mode, boundary and dtype; odd, even, non-square, 1x1 and
 * larger-than-matrix kernels; banks of every size class; and every
 * instruction set this CPU can run (generic, AVX2, AVX-512). */
#include "parconv.h"
#include "testutil.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The matrix sample at (i, j), extended per boundary; *fill set when the
 * fill value stands in. */
static double sample(const pc_matrix *m, long i, long j, pc_boundary b,
                     double fillvalue)
{
    long M = (long)m->rows, N = (long)m->cols;
    if (b == PC_WRAP) {
        i = ((i % M) + M) % M;
        j = ((j % N) + N) % N;
    } else if (b == PC_SYMM) {
        i = ((i % (2 * M)) + 2 * M) % (2 * M);
        j = ((j % (2 * N)) + 2 * N) % (2 * N);
        if (i >= M)
            i = 2 * M - 1 - i;
        if (j >= N)
            j = 2 * N - 1 - j;
    } else if (i < 0 || i >= M || j < 0 || j >= N) {
        return fillvalue;
    }
    return m->data[i * N + j];
}

/* Full convolution at (i, j) of the full grid. */
static long double full_at(const pc_matrix *m, const double *k, size_t kh,
                           size_t kw, long i, long j, pc_boundary b, double fv)
{
    long double s = 0;
    for (size_t a = 0; a < kh; a++)
        for (size_t c = 0; c < kw; c++)
            s += (long double)sample(m, i - (long)a, j - (long)c, b, fv) *
                 k[a * kw + c];
    return s;
}

static void reference(const pc_matrix *m, const double *k, size_t kh, size_t kw,
                      pc_mode mode, pc_boundary b, double fv, size_t orows,
                      size_t ocols, double *out)
{
    long M = (long)m->rows, N = (long)m->cols;
    for (size_t i = 0; i < orows; i++)
        for (size_t j = 0; j < ocols; j++) {
            long double v;
            if (mode == PC_FULL)
                v = full_at(m, k, kh, kw, (long)i, (long)j, b, fv);
            else if (mode == PC_SAME)
                v = full_at(m, k, kh, kw, (long)i + (long)(kh - 1) / 2,
                            (long)j + (long)(kw - 1) / 2, b, fv);
            else if ((size_t)M >= kh && (size_t)N >= kw)
                v = full_at(m, k, kh, kw, (long)i + (long)kh - 1,
                            (long)j + (long)kw - 1, PC_FILL, 0);
            else {
                /* scipy swaps: the kernel convolved with the matrix. */
                v = 0;
                for (long a = 0; a < M; a++)
                    for (long c = 0; c < N; c++)
                        v += (long double)m->data[a * N + c] *
                             k[((long)i + M - 1 - a) * (long)kw +
                               ((long)j + N - 1 - c)];
            }
            out[i * ocols + j] = (double)v;
        }
}

static int one_case(size_t M, size_t N, size_t K, size_t kh, size_t kw,
                    pc_mode mode, pc_boundary b, pc_dtype dt, double fv,
                    int integers)
{
    pc_matrix m;
    pc_bank bank;
    pc_matrix_alloc(&m, M, N);
    pc_bank_alloc(&bank, K, kh, kw);
    for (size_t i = 0; i < M * N; i++)
        m.data[i] = integers ? (double)t_between(0, 20) : 10 * t_uniform();
    for (size_t i = 0; i < K * kh * kw; i++)
        bank.data[i] = integers ? (double)t_between(0, 20) - 10 : t_uniform();
    if (dt == PC_F32) { /* the reference sees what f32 computes on */
        for (size_t i = 0; i < M * N; i++)
            m.data[i] = (float)m.data[i];
        for (size_t i = 0; i < K * kh * kw; i++)
            bank.data[i] = (float)bank.data[i];
        fv = (float)fv;
    }
    size_t orows, ocols;
    int swapped;
    int shape_st = pc_out_shape(mode, M, N, kh, kw, &orows, &ocols, &swapped);
    int fails_before = t_failed;
    double *ref = NULL;
    if (!shape_st) {
        ref = malloc(K * orows * ocols * sizeof *ref);
        for (size_t k = 0; k < K; k++)
            reference(&m, bank.data + k * kh * kw, kh, kw, mode, b, fv, orows,
                      ocols, ref + k * orows * ocols);
    }
    /* Every instruction set this CPU runs, and the FFT method (as the last
     * "isa"), against the same reference. */
    for (int isa = PC_ISA_GENERIC; isa <= PC_NISAS; isa++) {
        bool fft = isa == PC_NISAS;
        if (!fft && !pc_isa_supported((pc_isa)isa))
            continue;
        pc_conv_params p;
        pc_conv_params_default(&p);
        p.mode = mode;
        p.boundary = b;
        p.dtype = dt;
        p.fillvalue = fv;
        p.isa = fft ? PC_ISA_AUTO : (pc_isa)isa;
        p.method = fft ? PC_FFT : PC_DIRECT;
        pc_plan *plan = NULL;
        int st = pc_plan_create(&plan, &p, &m, &bank);
        CHECK(st == shape_st, "plan status %d vs shape status %d", st, shape_st);
        if (st) {
            pc_plan_destroy(plan);
            continue;
        }
        CHECK(fft || pc_plan_isa(plan) == (pc_isa)isa, "plan isa %s, asked %s",
              pc_isa_name(pc_plan_isa(plan)), pc_isa_name((pc_isa)isa));
        CHECK(pc_plan_method(plan) == (fft ? PC_FFT : PC_DIRECT), "method");
        size_t ro, co;
        pc_plan_out_shape(plan, &ro, &co);
        CHECK(ro == orows && co == ocols, "shape %zux%zu vs %zux%zu", ro, co,
              orows, ocols);
        void *out = malloc(pc_plan_out_bytes(plan));
        for (size_t k = 0; k < K; k++) {
            const double *r = ref + k * orows * ocols;
            memset(out, 0xA5, pc_plan_out_bytes(plan)); /* poison */
            CHECK(pc_plan_execute(plan, k, out) == 0, "execute: %s", pc_errmsg());
            double maxref = 0, maxerr = 0;
            for (size_t i = 0; i < orows * ocols; i++) {
                double got = dt == PC_F32 ? ((float *)out)[i] : ((double *)out)[i];
                maxref = fmax(maxref, fabs(r[i]));
                maxerr = fmax(maxerr, fabs(got - r[i]));
                if (isnan(got))
                    maxerr = INFINITY;
            }
            /* FFT: within the run-time check's tolerance (f64 1e-10, f32
             * 1e-4) of the output's magnitude. */
            double tol = fft ? (dt == PC_F32 ? 1e-4 : 1e-10) * fmax(maxref, 1)
                         : integers ? 0
                         : (dt == PC_F32 ? 1e-5 : 1e-12) * fmax(maxref, 1);
            CHECK(maxerr <= tol, "%s: %zux%zu * %zu of %zux%zu %s/%s/%s fv=%g "
                  "k=%zu: error %g > %g", fft ? "fft" : pc_isa_name((pc_isa)isa), M, N, K,
                  kh, kw, pc_mode_name(mode), pc_boundary_name(b),
                  pc_dtype_name(dt), fv, k, maxerr, tol);
        }
        free(out);
        pc_plan_destroy(plan);
    }
    free(ref);
    pc_matrix_free(&m);
    pc_bank_free(&bank);
    return t_failed == fails_before;
}

int main(void)
{
    /* Hand-picked edge shapes first, then random ones. */
    static const size_t shapes[][4] = {
        {1, 1, 1, 1},   {1, 1, 3, 3},   {5, 5, 1, 1},  {4, 4, 4, 4},
        {3, 4, 7, 9},   {2, 3, 6, 5},   {7, 3, 2, 8},  {9, 9, 2, 2},
        {1, 17, 1, 4},  {17, 1, 4, 1},  {6, 6, 13, 13}, {3, 3, 8, 2},
        {16, 20, 5, 6}, {33, 31, 10, 10},
    };
    for (int mode = 0; mode < 3; mode++)
        for (int b = 0; b < 3; b++)
            for (int dt = 0; dt < 2; dt++)
                for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                    one_case(shapes[s][0], shapes[s][1], 2, shapes[s][2],
                             shapes[s][3], (pc_mode)mode, (pc_boundary)b,
                             (pc_dtype)dt, b == PC_FILL ? 2.5 : 0, s % 2);
    /* Bank sizes that hit every path: whole sets of two vectors, one set
     * of one vector, and single kernels, for 2, 4, 8 and 16 lanes. */
    static const size_t counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24,
                                    31, 32, 33, 40};
    for (int n = 0; n < 300; n++) {
        size_t M = t_between(1, 40), N = t_between(1, 40);
        size_t kh = t_between(1, 12), kw = t_between(1, 12);
        size_t K = counts[t_between(0, sizeof counts / sizeof *counts - 1)];
        one_case(M, N, K, kh, kw, (pc_mode)(n % 3),
                 (pc_boundary)((n / 3) % 3), (pc_dtype)((n / 9) % 2),
                 n % 4 ? -1.5 : 0, n % 5 == 0);
    }
    /* Rows wider than the widest block (8 vectors of 16 floats), so the
     * whole blocks and the tails of every width both run. */
    for (int n = 0; n < 36; n++) {
        size_t M = t_between(1, 5), N = t_between(90, 300);
        size_t kh = t_between(1, 6), kw = t_between(1, 12);
        size_t K = counts[t_between(0, sizeof counts / sizeof *counts - 1)];
        one_case(M, N, K, kh, kw, (pc_mode)(n % 3), PC_FILL,
                 (pc_dtype)((n / 3) % 2), 0, n % 2);
    }
    return t_summary("test_conv");
}
