/* The direct micro-kernels, written once with GCC vector extensions and
 * compiled once per instruction set (direct_avx512.c, direct_avx2.c,
 * direct_generic.c), each file with its own -m flags. Included once per
 * dtype with:
 *   PC_T      the element type (double or float)
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
 * single: one kernel, vectorised along the row (X vectors of consecutive
 *   pixels), for kernels left over when the bank is not a multiple of VL.
 *
 * Assumptions: padded rows have at least PC_SPARE readable columns beyond
 * ocols+kw-1, so the last block may read past the row end (the results of
 * those lanes are not stored). Each output sample is the sum over p, then q,
 * from 0, in the same order in every call: results do not depend on which
 * worker computes which rows. */

#define VL (PC_VB / (int)sizeof(PC_T))
typedef PC_T PC_FN(vec) __attribute__((vector_size(PC_VB)));
typedef PC_T PC_FN(uvec) __attribute__((vector_size(PC_VB), aligned(sizeof(PC_T))));

/* Pixels per block in the set kernel. */
#define SET_X 8

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
        /* Turn around: lane l of acc[g][x] is pixel j0+x of kernel g*VL+l. */
        const size_t n = ocols - j0 < SET_X ? ocols - j0 : SET_X;
        for (int g = 0; g < G; g++)
            for (int l = 0; l < VL; l++) {
                PC_T *o = rows[g * VL + l];
                if (!o)
                    continue;
                o += j0;
                if (n == SET_X)
                    for (int x = 0; x < SET_X; x++)
                        o[x] = acc[g][x][l];
                else
                    for (size_t x = 0; x < n; x++)
                        o[x] = acc[g][x][l];
            }
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

/* Vectors per block in the single kernel: enough independent accumulators
 * to hide the FMA latency. */
#define SINGLE_XV 8

static void PC_FN(single)(const pc_plan *pl, size_t kidx, size_t i, void *row)
{
    typedef PC_FN(vec) vec;
    typedef PC_FN(uvec) uvec;
    const size_t kh = pl->krows, kw = pl->kcols, ocols = pl->ocols;
    const size_t stride = pl->pstride;
    const PC_T *kf = (const PC_T *)pl->kern + kidx * kh * kw;
    const PC_T *pad = (const PC_T *)pl->pad + i * stride;
    PC_T *out = row;

    for (size_t j0 = 0; j0 < ocols; j0 += SINGLE_XV * VL) {
        vec acc[SINGLE_XV];
        for (int x = 0; x < SINGLE_XV; x++)
            acc[x] = (vec){0};
        for (size_t p = 0; p < kh; p++) {
            const PC_T *src = pad + p * stride + j0;
            for (size_t q = 0; q < kw; q++) {
                const PC_T w = kf[p * kw + q];
                for (int x = 0; x < SINGLE_XV; x++)
                    acc[x] += *(const uvec *)(src + q + (size_t)x * VL) * w;
            }
        }
        size_t n = ocols - j0;
        if (n >= SINGLE_XV * VL) {
            for (int x = 0; x < SINGLE_XV; x++)
                *(uvec *)(out + j0 + (size_t)x * VL) = acc[x];
        } else {
            for (size_t t = 0; t < n; t++)
                out[j0 + t] = acc[t / VL][t % VL];
        }
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
    .single = PC_FN(single),
    .fma_loop = PC_FN(fma_loop),
    .lanes = VL,
};

#undef VL
#undef SET_X
#undef SINGLE_XV
#undef PEAK_ACC
