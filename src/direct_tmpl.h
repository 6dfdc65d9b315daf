/* The direct micro-kernels, written once with GCC vector extensions and
 * compiled once per instruction set (direct_avx512.c, direct_avx2.c,
 * direct_generic.c), each file with its own -m flags. Included once per
 * dtype with:
 *   PC_T      the element type (double or float)
 *   PC_TSIZE  its size in bytes (8 or 4), for the preprocessor
 *   PC_VB     vector bytes (64, 32 or 16)
 *   PC_FN(x)  the name of function x for this ISA and dtype
 *
 * Two kernels:
 *
 * set: vectorised across kernels. A vector holds one tap of VL different
 *   kernels (packed [p][q][group][lane] by the plan); each step broadcasts
 *   one input pixel and multiplies it into G x X accumulators (G kernel
 *   groups, X output pixels). Every input pixel loaded serves G*VL kernels,
 *   so loads stay well below the FMA rate. At the end the G x X vectors are
 *   turned around so that each kernel's X pixels are stored contiguously.
 *
 * multi: up to MULTI_M kernels, vectorised along the row (X vectors of
 *   consecutive pixels each), for kernels left over when the bank is not a
 *   multiple of VL.
 *
 * Assumptions: padded rows have at least PC_SPARE readable columns beyond
 * ocols+kw-1, so the last block may read past the row end (the results of
 * those lanes are not stored). Each output sample is the sum over p, then q,
 * from 0, in the same order in every call: results do not depend on which
 * worker computes which rows. */

#define VL (PC_VB / PC_TSIZE)
typedef PC_T PC_FN(vec) __attribute__((vector_size(PC_VB)));
typedef PC_T PC_FN(uvec) __attribute__((vector_size(PC_VB), aligned(sizeof(PC_T))));

/* Pixels per block in the set kernel: 2 x SET_X accumulators must fit in
 * the register file with room for two kernel vectors and a broadcast (32
 * registers with AVX-512, 16 otherwise). The ISA file may set PC_SET_X. */
#ifdef PC_SET_X
#define SET_X PC_SET_X
#else
#define SET_X 8
#endif

/* In-register transpose of B x B blocks (B = the smaller of VL and
 * SET_X), by log2(B) stages of two-vector shuffles that swap ever larger
 * off-diagonal sub-blocks. Then each kernel's SET_X pixels leave as B-wide
 * vector stores instead of scalar ones. */
#if PC_VB / PC_TSIZE < SET_X
#define TB (PC_VB / PC_TSIZE)
#else
#define TB SET_X
#endif
typedef PC_T PC_FN(bvec) __attribute__((vector_size(TB * sizeof(PC_T))));
typedef PC_T PC_FN(ubvec) __attribute__((vector_size(TB * sizeof(PC_T)),
                                          aligned(sizeof(PC_T))));
static inline __attribute__((always_inline)) void
PC_FN(transpose)(PC_FN(bvec) *r)
{
    typedef PC_FN(bvec) bvec;
    /* Index vectors of the element width: long long for double, int for
     * float. */
#if PC_TSIZE == 8
    typedef long long idx __attribute__((vector_size(TB * 8)));
#else
    typedef int idx __attribute__((vector_size(TB * 4)));
#endif
/* Rows a and b become (a.lo, b.lo) and (a.hi, b.hi) in mask terms. */
#define SWAP(a, b, lo, hi)                                                   \
    do {                                                                     \
        bvec ta = r[a], tb = r[b];                                           \
        r[a] = __builtin_shuffle(ta, tb, lo);                                \
        r[b] = __builtin_shuffle(ta, tb, hi);                                \
    } while (0)
#if TB == 8
    const idx lo1 = {0, 8, 2, 10, 4, 12, 6, 14}, hi1 = {1, 9, 3, 11, 5, 13, 7, 15};
    const idx lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const idx lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    SWAP(0, 1, lo1, hi1); SWAP(2, 3, lo1, hi1);
    SWAP(4, 5, lo1, hi1); SWAP(6, 7, lo1, hi1);
    SWAP(0, 2, lo2, hi2); SWAP(1, 3, lo2, hi2);
    SWAP(4, 6, lo2, hi2); SWAP(5, 7, lo2, hi2);
    SWAP(0, 4, lo4, hi4); SWAP(1, 5, lo4, hi4);
    SWAP(2, 6, lo4, hi4); SWAP(3, 7, lo4, hi4);
#elif TB == 4
    const idx lo1 = {0, 4, 2, 6}, hi1 = {1, 5, 3, 7};
    const idx lo2 = {0, 1, 4, 5}, hi2 = {2, 3, 6, 7};
    SWAP(0, 1, lo1, hi1); SWAP(2, 3, lo1, hi1);
    SWAP(0, 2, lo2, hi2); SWAP(1, 3, lo2, hi2);
#elif TB == 2
    const idx lo1 = {0, 2}, hi1 = {1, 3};
    SWAP(0, 1, lo1, hi1);
#else
#error "unsupported transpose size"
#endif
#undef SWAP
}

/* Stores a whole block: acc[x] holds pixel j0+x of kernels 0..VL-1 in its
 * lanes; rows[l] receives kernel l's SET_X pixels (NULL: not wanted). */
static inline __attribute__((always_inline)) void
PC_FN(store_block)(const PC_FN(vec) *acc, void *const *rows, size_t j0)
{
    typedef PC_FN(bvec) bvec;
    typedef PC_FN(ubvec) ubvec;
    for (int c = 0; c < VL / TB; c++)          /* chunk of TB lanes */
        for (int xb = 0; xb < SET_X / TB; xb++) { /* chunk of TB pixels */
            bvec r[TB];
            for (int t = 0; t < TB; t++)
                __builtin_memcpy(&r[t], (const PC_T *)&acc[xb * TB + t] + c * TB,
                                 sizeof r[t]);
            PC_FN(transpose)(r);
            for (int u = 0; u < TB; u++) {
                PC_T *o = rows[c * TB + u];
                if (o)
                    *(ubvec *)(o + j0 + (size_t)xb * TB) = r[u];
            }
        }
}

static inline __attribute__((always_inline)) void
PC_FN(set_row)(const pc_plan *pl, size_t set, size_t i, void *const *rows,
               const int G)
{
    typedef PC_FN(vec) vec;
    const size_t kh = pl->krows, kw = pl->kcols, ocols = pl->ocols;
    const size_t stride = pl->pstride;
    const vec *kp = (const vec *)pl->kpack + set * kh * kw * 2;
    const PC_T *pad = (const PC_T *)pl->pad + i * stride;

    for (size_t j0 = 0; j0 < ocols; j0 += SET_X) {
        vec acc[2][SET_X];
        for (int g = 0; g < G; g++)
            for (int x = 0; x < SET_X; x++)
                acc[g][x] = (vec){0};
        const vec *k = kp;
        for (size_t p = 0; p < kh; p++) {
            const PC_T *src = pad + p * stride + j0;
            for (size_t q = 0; q < kw; q++, k += G) {
                const vec k0 = k[0];
                const vec k1 = G > 1 ? k[1] : k0;
                for (int x = 0; x < SET_X; x++) {
                    const PC_T b = src[q + (size_t)x];
                    acc[0][x] += k0 * b;
                    if (G > 1)
                        acc[1][x] += k1 * b;
                }
            }
        }
        /* Turn around: lane l of acc[g][x] is pixel j0+x of kernel g*VL+l.
         * A block that runs past the row end goes through a small buffer,
         * so the accumulators never need to live in memory. */
        const size_t n = ocols - j0 < SET_X ? ocols - j0 : SET_X;
        if (n == SET_X) {
            for (int g = 0; g < G; g++)
                PC_FN(store_block)(acc[g], rows + g * VL, j0);
            continue;
        }
        PC_T tail[2 * VL][SET_X];
        void *trows[2 * VL];
        for (int kk = 0; kk < G * VL; kk++)
            trows[kk] = rows[kk] ? tail[kk] : NULL;
        for (int g = 0; g < G; g++)
            PC_FN(store_block)(acc[g], trows + g * VL, 0);
        for (int kk = 0; kk < G * VL; kk++)
            if (rows[kk])
                __builtin_memcpy((PC_T *)rows[kk] + j0, tail[kk], n * sizeof(PC_T));
    }
}

static void PC_FN(set2)(const pc_plan *pl, size_t set, size_t i, void *const *rows)
{
    PC_FN(set_row)(pl, set, i, rows, 2);
}

static void PC_FN(set1)(const pc_plan *pl, size_t set, size_t i, void *const *rows)
{
    PC_FN(set_row)(pl, set, i, rows, 1);
}

/* multi: M kernels (1..MULTI_M) at once, vectorised along the row: X
 * vectors of consecutive output pixels per kernel, every source vector
 * loaded once and multiplied into M accumulators, one broadcast weight per
 * kernel and tap. No transpose: each kernel's pixels are already
 * contiguous. It takes the kernels left over when the bank is not a
 * multiple of VL (at most VL-1, so a set would waste lanes). X is as many
 * vectors as the registers hold next to the M weights and a source vector,
 * at most 8; PC_VREGS is the size of the register file. */
#define MULTI_M 4
#ifndef PC_VREGS
#define PC_VREGS 32
#endif
#define MULTI_X(M) ((PC_VREGS - 2 - (M)) / (M) < 8 ? (PC_VREGS - 2 - (M)) / (M) : 8)

/* One block of X vectors (n <= X*VL pixels wanted) of M kernels. */
static inline __attribute__((always_inline)) void
PC_FN(multi_block)(const PC_T *const *kf, size_t kh, size_t kw, size_t stride,
                   const PC_T *src0, PC_T *const *out, size_t n, const int M,
                   const int X)
{
    typedef PC_FN(vec) vec;
    typedef PC_FN(uvec) uvec;
    vec acc[MULTI_M][8];
    for (int m = 0; m < M; m++)
        for (int x = 0; x < X; x++)
            acc[m][x] = (vec){0};
    for (size_t p = 0; p < kh; p++) {
        const PC_T *src = src0 + p * stride;
        for (size_t q = 0; q < kw; q++) {
            PC_T w[MULTI_M];
            for (int m = 0; m < M; m++)
                w[m] = kf[m][p * kw + q];
            for (int x = 0; x < X; x++) {
                const vec v = *(const uvec *)(src + q + (size_t)x * VL);
                for (int m = 0; m < M; m++)
                    acc[m][x] += v * w[m];
            }
        }
    }
    for (int m = 0; m < M; m++)
        for (int x = 0; x < X; x++) {
            const size_t j = (size_t)x * VL;
            if (j + VL <= n)
                *(uvec *)(out[m] + j) = acc[m][x];
            else if (j < n)
                __builtin_memcpy(out[m] + j, &acc[m][x], (n - j) * sizeof(PC_T));
        }
}

static inline __attribute__((always_inline)) void
PC_FN(multi_row)(const pc_plan *pl, size_t k, size_t i, void *const *rows,
                 const int M)
{
    const int X = MULTI_X(M);
    const size_t kh = pl->krows, kw = pl->kcols, ocols = pl->ocols;
    const size_t stride = pl->pstride;
    const PC_T *pad = (const PC_T *)pl->pad + i * stride;
    const PC_T *kf[MULTI_M];
    PC_T *out[MULTI_M];
    for (int m = 0; m < M; m++) {
        kf[m] = (const PC_T *)pl->kern + (k + (size_t)m) * kh * kw;
        out[m] = rows[m];
    }
    const size_t B = (size_t)X * VL;
    size_t j0 = 0;
    for (; j0 + B <= ocols; j0 += B) {
        PC_T *o[MULTI_M];
        for (int m = 0; m < M; m++)
            o[m] = out[m] + j0;
        PC_FN(multi_block)(kf, kh, kw, stride, pad + j0, o, B, M, X);
    }
    if (j0 == ocols)
        return;
    /* The tail: only the vectors it needs. */
    const size_t n = ocols - j0;
    PC_T *o[MULTI_M];
    for (int m = 0; m < M; m++)
        o[m] = out[m] + j0;
#define TAIL(c)                                                                    case c:                                                                            PC_FN(multi_block)(kf, kh, kw, stride, pad + j0, o, n, M,                                         c < X ? c : X);                                             break;
    switch ((n + VL - 1) / VL) {
        TAIL(1) TAIL(2) TAIL(3) TAIL(4) TAIL(5) TAIL(6) TAIL(7) TAIL(8)
    }
#undef TAIL
}

static void PC_FN(multi)(const pc_plan *pl, size_t k, int m, size_t i,
                         void *const *rows)
{
    switch (m) {
    case 1: PC_FN(multi_row)(pl, k, i, rows, 1); break;
    case 2: PC_FN(multi_row)(pl, k, i, rows, 2); break;
    case 3: PC_FN(multi_row)(pl, k, i, rows, 3); break;
    default: PC_FN(multi_row)(pl, k, i, rows, 4); break;
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
    .set2 = PC_FN(set2),
    .set1 = PC_FN(set1),
    .multi = PC_FN(multi),
    .multi_max = MULTI_M,
    .fma_loop = PC_FN(fma_loop),
    .lanes = VL,
};

#undef VL
#undef SET_X
#undef TB
#undef MULTI_M
#undef MULTI_X
#undef PEAK_ACC
