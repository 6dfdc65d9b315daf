/* Direct convolution: run-time choice of the kernels' instruction set,
 * one kernel computed alone, and the FMA ceiling of each ISA. The
 * arithmetic is in direct_tmpl.h; the batch loop that walks kernel sets
 * and rows is the executor's (exec.c). */
#include "direct.h"

#include <omp.h>

extern const pc_direct_fns pc_generic_f64_fns, pc_generic_f32_fns;
#ifdef PC_HAVE_X86_KERNELS
extern const pc_direct_fns pc_avx2_f64_fns, pc_avx2_f32_fns;
extern const pc_direct_fns pc_avx512_f64_fns, pc_avx512_f32_fns;
#endif

static const pc_direct_fns *const table[PC_NISAS][2] = {
    [PC_ISA_GENERIC] = {[PC_F64] = &pc_generic_f64_fns, [PC_F32] = &pc_generic_f32_fns},
#ifdef PC_HAVE_X86_KERNELS
    [PC_ISA_AVX2] = {[PC_F64] = &pc_avx2_f64_fns, [PC_F32] = &pc_avx2_f32_fns},
    [PC_ISA_AVX512] = {[PC_F64] = &pc_avx512_f64_fns, [PC_F32] = &pc_avx512_f32_fns},
#endif
};

int pc_isa_supported(pc_isa isa)
{
    switch (isa) {
    case PC_ISA_AUTO:
    case PC_ISA_GENERIC:
        return 1;
#ifdef PC_HAVE_X86_KERNELS
    case PC_ISA_AVX2:
        /* __builtin_cpu_supports also checks that the OS saves the
         * registers (XGETBV). */
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PC_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

pc_isa pc_isa_best(void)
{
    for (int i = PC_NISAS - 1; i > PC_ISA_GENERIC; i--)
        if (table[i][0] && pc_isa_supported((pc_isa)i))
            return (pc_isa)i;
    return PC_ISA_GENERIC;
}

const pc_direct_fns *pc_direct_lookup(pc_isa isa, pc_dtype dtype)
{
    if (isa == PC_ISA_AUTO)
        isa = pc_isa_best();
    if ((unsigned)isa >= PC_NISAS || (unsigned)dtype > PC_F32 ||
        !pc_isa_supported(isa))
        return NULL;
    return table[isa][dtype];
}

void pc_direct_execute_one(const pc_plan *pl, size_t k, void *out)
{
    const size_t row_bytes = pl->ocols * pc_dtype_size(pl->p.dtype);
    for (size_t i = 0; i < pl->orows; i++) {
        void *row = (char *)out + i * row_bytes;
        pl->fns->multi(pl, k, 1, i, &row);
    }
}

void pc_direct_execute(const pc_plan *pl, size_t k, void *out)
{
    const size_t row_bytes = pl->ocols * pc_dtype_size(pl->p.dtype);
    if (k >= pl->first_single) {
        pc_direct_execute_one(pl, k, out);
        return;
    }
    /* The set kernel computes the whole set; only k's row is stored. */
    const size_t S = 2 * pl->lanes, s = k / S;
    void *rows[128] = {0};
    for (size_t i = 0; i < pl->orows; i++) {
        rows[k - s * S] = (char *)out + i * row_bytes;
        (s < pl->nsets2 ? pl->fns->set2 : pl->fns->set1)(pl, s, i, rows);
    }
}

int pc_peak(pc_dtype dtype, pc_isa isa, unsigned threads, double *gflops)
{
    const pc_direct_fns *f = pc_direct_lookup(isa, dtype);
    if (!f)
        return pc_error(PC_EUSAGE, "this CPU cannot run the %s kernels",
                        pc_isa_name(isa));
    if (threads == 0)
        threads = 1;
    /* 8M steps of 12 vectors: about 15 ms at 100 GFLOP/s, long enough
     * for a steady clock, short enough to run before every report. */
    const long iters = 8000000;
    /* The best of three: on a shared machine a neighbour can only make a
     * measurement slower, never faster. */
    double best = 0, sink = 0;
    for (int rep = 0; rep < 3; rep++) {
        double flops = 0, t0 = 0, t1 = 0;
#pragma omp parallel num_threads(threads) reduction(+ : flops, sink)
        {
            double local = 0;
            /* A short warm-up brings the vector units to full speed. */
            f->fma_loop(iters / 10, 1.0 + omp_get_thread_num(), &local);
#pragma omp barrier
#pragma omp single
            t0 = pc_now();
            flops += f->fma_loop(iters, 1.0 + omp_get_thread_num(), &local);
#pragma omp barrier
#pragma omp single
            t1 = pc_now();
            sink += local;
        }
        if (t1 > t0 && flops / (t1 - t0) > best)
            best = flops / (t1 - t0);
    }
    /* sink is used so the loops cannot be dropped. */
    *gflops = sink == sink ? best / 1e9 : 0;
    return PC_OK;
}
