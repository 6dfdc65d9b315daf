/* The direct micro-kernels, written once with GCC vector extensions and
 * compiled once per instruction set (direct_avx512.c, direct_avx2.c,
 * direct_generic.c), each file with its own -m flags. Included once per
 * dtype with:
 *   PC_T      the element type (double or float)
 *   PC_TSIZE  its size in bytes (8 or 4), for the preprocessor
 *   PC_VB     vector bytes (64, 32 or 16)
 *   PC_FN(x)  the name of function x for this ISA and dtype
 *
 * One kernel, vectorised along the row: M kernels at once (1..ROW_M), X
 * vectors of consecutive output pixels each. Every source vector is loaded
 * once and multiplied into M accumulators, one broadcast weight per kernel
 * and tap. Each kernel's pixels leave as whole vectors, already in place:
 * no transpose. (Vectorising across kernels instead, a vector holding one
 * tap of VL kernels, loads fewer inputs per multiply-add but must turn
 * every block of accumulators around before storing it; on Zen 4 that
 * epilogue cost 10% of the f32 time, this kernel's loads cost nothing
 * measurable.)
 *
 * Assumptions: padded rows have at least PC_SPARE readable columns beyond
 * ocols+kw-1, so the last block may read past the row end (the results of
 * those lanes are not stored). Each output sample is the sum over p, then q,
 * from 0, in the same order in every call: results do not depend on which
 * worker computes which rows, nor on which kernels are computed together. */

#define VL (PC_VB / PC_TSIZE)
typedef PC_T PC_FN(vec) __attribute__((vector_size(PC_VB)));
typedef PC_T PC_FN(uvec) __attribute__((vector_size(PC_VB), aligned(sizeof(PC_T))));

/* M is at most ROW_M (PC_ROW_M from the ISA file, else 4); X is as many
 * vectors as the registers hold next to the M weights and a source vector,
 * at most 8; PC_VREGS is the size of the register file. With 32 registers,
 * 6 kernels x 4 vectors measured best on Zen 4 (fewer unaligned source
 * loads per multiply-add than 4 x 6, f32 95.9% of the FMA ceiling against
 * 93.8%). */
#ifdef PC_ROW_M
#define ROW_M PC_ROW_M
#else
#define ROW_M 4
#endif
#ifndef PC_VREGS
#define PC_VREGS 32
#endif
#define ROW_X(M) ((PC_VREGS - 2 - (M)) / (M) < 8 ? (PC_VREGS - 2 - (M)) / (M) : 8)

/* Half a vector, for the last pixels of a row when they fill at most half
 * of one: on a CPU that executes a full vector as two halves (Zen 4), it
 * costs half. Only where a half is still a native vector (PC_VB >= 32). */
#if PC_VB >= 32
#define HALF 1
typedef PC_T PC_FN(hvec) __attribute__((vector_size(PC_VB / 2)));
typedef PC_T PC_FN(uhvec) __attribute__((vector_size(PC_VB / 2), aligned(sizeof(PC_T))));
#else
#define HALF 0
#endif

/* One block of M kernels: X vectors of pixels, then H (0 or 1) half
 * vector; only n pixels (the block's or fewer) are stored. */
static inline __attribute__((always_inline)) void
PC_FN(block)(const PC_T *const *kf, size_t kh, size_t kw, size_t stride,
             const PC_T *src0, PC_T *const *out, size_t n, const int M,
             const int X, const int H)
{
    typedef PC_FN(vec) vec;
    typedef PC_FN(uvec) uvec;
    vec acc[ROW_M][8];
#if HALF
    typedef PC_FN(hvec) hvec;
    typedef PC_FN(uhvec) uhvec;
    hvec hacc[ROW_M];
    for (int m = 0; m < M; m++)
        hacc[m] = (hvec){0};
#else
    (void)H;
#endif
    for (int m = 0; m < M; m++)
        for (int x = 0; x < X; x++)
            acc[m][x] = (vec){0};
    for (size_t p = 0; p < kh; p++) {
        const PC_T *src = src0 + p * stride;
        for (size_t q = 0; q < kw; q++) {
            PC_T w[ROW_M];
            for (int m = 0; m < M; m++)
                w[m] = kf[m][p * kw + q];
            for (int x = 0; x < X; x++) {
                const vec v = *(const uvec *)(src + q + (size_t)x * VL);
                for (int m = 0; m < M; m++)
                    acc[m][x] += v * w[m];
            }
#if HALF
            if (H) {
                const hvec v = *(const uhvec *)(src + q + (size_t)X * VL);
                for (int m = 0; m < M; m++)
                    hacc[m] += v * w[m];
            }
#endif
        }
    }
    for (int m = 0; m < M; m++) {
        for (int x = 0; x < X; x++) {
            const size_t j = (size_t)x * VL;
            if (j + VL <= n)
                *(uvec *)(out[m] + j) = acc[m][x];
            else if (j < n)
                __builtin_memcpy(out[m] + j, &acc[m][x], (n - j) * sizeof(PC_T));
        }
#if HALF
        const size_t j = (size_t)X * VL;
        if (H && j < n)
            __builtin_memcpy(out[m] + j, &hacc[m], (n - j) * sizeof(PC_T));
#endif
    }
}

/* Output row i of M kernels (flipped, kf[m]) into out[m]. */
static inline __attribute__((always_inline)) void
PC_FN(row)(const pc_plan *pl, const PC_T *const *kf, PC_T *const *out,
           size_t i, const int M)
{
    const int X = ROW_X(M);
    const size_t kh = pl->krows, kw = pl->kcols, ocols = pl->ocols;
    const size_t stride = pl->pstride;
    const PC_T *pad = (const PC_T *)pl->pad + i * stride;
    const size_t B = (size_t)X * VL;
    PC_T *o[ROW_M];
    size_t j0 = 0;
    for (; j0 + B <= ocols; j0 += B) {
        for (int m = 0; m < M; m++)
            o[m] = out[m] + j0;
        PC_FN(block)(kf, kh, kw, stride, pad + j0, o, B, M, X, 0);
    }
    if (j0 == ocols)
        return;
    /* The tail: the whole vectors it needs, the last one a half if that
     * holds it. */
    const size_t n = ocols - j0, full = n / VL, part = n % VL;
    const int h = HALF && part && part <= VL / 2;
    for (int m = 0; m < M; m++)
        o[m] = out[m] + j0;
#define TAIL(c)                                                                 \
    case c:                                                                     \
        if (h)                                                                  \
            PC_FN(block)(kf, kh, kw, stride, pad + j0, o, n, M, c - 1 < X ? c - 1 : X, 1); \
        else                                                                    \
            PC_FN(block)(kf, kh, kw, stride, pad + j0, o, n, M, c < X ? c : X, 0); \
        break;
    switch (full + (part > 0)) {
        TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7) TAIL(8)
    }
#undef TAIL
}

/* Output row i of kernels k0..k0+nk-1 into rows[0..nk-1], NULL rows not
 * wanted (nor computed): ROW_M kernels at a time, in chunks as even as
 * ROW_M allows. */
static void PC_FN(kernels)(const pc_plan *pl, size_t k0, size_t nk, size_t i,
                           void *const *rows)
{
    const size_t taps = pl->krows * pl->kcols;
    const PC_T *kf[PC_GROUP_MAX];
    PC_T *out[PC_GROUP_MAX];
    size_t n = 0;
    for (size_t kk = 0; kk < nk; kk++)
        if (rows[kk]) {
            kf[n] = (const PC_T *)pl->kern + (k0 + kk) * taps;
            out[n++] = rows[kk];
        }
    for (size_t c = 0; c < n;) {
        const size_t left = n - c, chunks = (left + ROW_M - 1) / ROW_M;
        const size_t m = (left + chunks - 1) / chunks;
        switch (m) {
        case 1: PC_FN(row)(pl, kf + c, out + c, i, 1); break;
#if ROW_M > 2
        case 2: PC_FN(row)(pl, kf + c, out + c, i, 2); break;
#endif
#if ROW_M > 3
        case 3: PC_FN(row)(pl, kf + c, out + c, i, 3); break;
#endif
#if ROW_M > 4
        case 4: PC_FN(row)(pl, kf + c, out + c, i, 4); break;
        case 5: PC_FN(row)(pl, kf + c, out + c, i, 5); break;
#endif
        default: PC_FN(row)(pl, kf + c, out + c, i, ROW_M); break;
        }
        c += m;
    }
}

/* The FMA ceiling: independent multiply-add chains held in registers.
 * Each chain starts from its own run-time value, so the compiler can
 * neither merge the chains nor fold them; 12 chains cover the FMA latency
 * times the FMA units of the machines we know. */
#define PEAK_ACC 12
static double PC_FN(fma_loop)(long iters, double seed, double *sink)
{
    typedef PC_FN(vec) vec;
    vec acc[PEAK_ACC];
    for (int a = 0; a < PEAK_ACC; a++)
        acc[a] = (vec){0} + (PC_T)(seed + 0.001 * a);
    const vec m = (vec){0} + (PC_T)(1.0 - 1e-9 * seed);
    const vec c = (vec){0} + (PC_T)(1e-7 * seed);
    for (long n = 0; n < iters; n++)
        for (int a = 0; a < PEAK_ACC; a++)
            acc[a] = acc[a] * m + c;
    double s = 0;
    for (int a = 0; a < PEAK_ACC; a++)
        for (int l = 0; l < VL; l++)
            s += acc[a][l];
    *sink += s;
    return 2.0 * PEAK_ACC * VL * (double)iters;
}

const pc_direct_fns PC_FN(fns) = {
    .kernels = PC_FN(kernels),
    .fma_loop = PC_FN(fma_loop),
    .lanes = VL,
};

#undef VL
#undef ROW_M
#undef ROW_X
#undef HALF
#undef PEAK_ACC
