/* Direct convolution of one kernel over the padded matrix: a valid
 * correlation with the flipped kernel. The portable reference path.
 *
 * Assumptions: the plan's padded rows hold orows+kh-1 rows of at least
 * ocols+kw-1 samples; out holds orows x ocols. Each output sample is
 * summed in the same order (p, then q, from 0) on every path, so results
 * are bit-identical whichever strategy or thread computes them. */
#include "internal.h"

/* One body for both dtypes; T is the element type. */
#define PC_DIRECT_BODY(T)                                                    \
    const size_t kh = plan->krows, kw = plan->kcols;                         \
    const size_t orows = plan->orows, ocols = plan->ocols;                   \
    const size_t stride = plan->pstride;                                     \
    const T *kf = (const T *)plan->kern + k * kh * kw;                       \
    const T *pad = (const T *)plan->pad;                                     \
    for (size_t i = 0; i < orows; i++) {                                     \
        T *restrict row = out + i * ocols;                                   \
        for (size_t j = 0; j < ocols; j++)                                   \
            row[j] = 0;                                                      \
        for (size_t p = 0; p < kh; p++) {                                    \
            const T *restrict src = pad + (i + p) * stride;                  \
            for (size_t q = 0; q < kw; q++) {                                \
                const T w = kf[p * kw + q];                                  \
                const T *restrict s = src + q;                               \
                for (size_t j = 0; j < ocols; j++)                           \
                    row[j] += w * s[j];                                      \
            }                                                                \
        }                                                                    \
    }

void pc_direct_f64(const pc_plan *plan, size_t k, double *out)
{
    PC_DIRECT_BODY(double)
}

void pc_direct_f32(const pc_plan *plan, size_t k, float *out)
{
    PC_DIRECT_BODY(float)
}
