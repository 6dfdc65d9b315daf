/* Declarations shared by the library's files; not part of the public API. */
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#include "parconv.h"

#include <stdbool.h>

/* The plan. Everything a worker needs to compute any kernel: the padded
 * matrix and the flipped kernels, both in the compute dtype. A procs worker
 * builds a view of the same fields over the shared mapping. */
struct pc_plan {
    pc_conv_params p;
    size_t rows, cols;        /* the matrix */
    size_t count, krows, kcols;
    size_t orows, ocols;      /* one output plane */
    size_t prows, pcols;      /* the padded matrix: orows+kh-1, ocols+kw-1 */
    size_t pstride;           /* elements between padded rows */
    void *pad;                /* prows x pstride, dtype */
    void *kern;               /* count x krows x kcols, flipped, dtype */
    bool owns;                /* pad and kern are ours to free */
};

size_t pc_plan_pad_bytes(const pc_plan *plan);
size_t pc_plan_kern_bytes(const pc_plan *plan);

/* The direct convolution of one kernel (direct.c). */
void pc_direct_f64(const pc_plan *plan, size_t k, double *out);
void pc_direct_f32(const pc_plan *plan, size_t k, float *out);

/* One kernel: compute into plane, hash it into sums[k]. */
static inline void pc_do_kernel(const pc_plan *plan, size_t k, void *plane,
                                uint64_t *sums)
{
    pc_plan_execute(plan, k, plane);
    sums[k] = pc_hash(plane, pc_plan_out_bytes(plan));
}

/* Where kernel k's plane goes: the arena slot, or the worker's scratch. */
static inline void *pc_plane_for(const pc_run_params *rp,
                                 const pc_plan *plan, size_t k, void *scratch)
{
    return rp->arena ? (char *)rp->arena->base + k * pc_plan_out_bytes(plan)
                     : scratch;
}

/* Strategies: one file each, one signature (strategy_*.c). */
typedef int (*pc_strategy_fn)(const pc_plan *plan, const pc_run_params *rp,
                              unsigned workers);
int pc_strategy_serial(const pc_plan *, const pc_run_params *, unsigned);
int pc_strategy_procs(const pc_plan *, const pc_run_params *, unsigned);
int pc_strategy_threads(const pc_plan *, const pc_run_params *, unsigned);
int pc_strategy_omp(const pc_plan *, const pc_run_params *, unsigned);

/* Checked size arithmetic: returns false on overflow. */
static inline bool pc_mul_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}
static inline bool pc_add_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

/* Page-aligned zeroed memory (64-byte aligned at least). */
void *pc_alloc(size_t bytes);
void pc_free(void *p);

#endif
