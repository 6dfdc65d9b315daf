/* Direct convolution: run-time choice of the kernels' instruction set,
 * one kernel computed alone, and the FMA ceiling of each ISA. The
 * arithmetic is in direct_tmpl.h; the batch loop that walks kernel groups
 * and rows is the executor's (exec.c). */
#include "direct.h"

#include <pthread.h>
#include <stdlib.h>

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

void pc_direct_execute(const pc_plan *pl, size_t k, void *out)
{
    /* Alone: a kernel's values do not depend on the others of its group. */
    const size_t row_bytes = pl->ocols * pc_dtype_size(pl->p.dtype);
    for (size_t i = 0; i < pl->orows; i++) {
        void *row = (char *)out + i * row_bytes;
        pl->fns->kernels(pl, k, 1, i, &row);
    }
}

/* Where the ceiling's threads wait for each other after their warm-up;
 * opened early if not all of them could be started. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned arrived, total;
    bool open;
} peak_gate;

static void gate_pass(peak_gate *g, bool open)
{
    pthread_mutex_lock(&g->mu);
    if (open || ++g->arrived == g->total) {
        g->open = true;
        pthread_cond_broadcast(&g->cv);
    }
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* One thread of the ceiling's measurement. */
typedef struct {
    const pc_direct_fns *f;
    long iters;
    double seed;
    peak_gate *gate;
    double flops, start, end, sink;
} peak_thread;

static void *peak_run(void *arg)
{
    peak_thread *p = arg;
    double local = 0;
    /* A short warm-up brings the vector units to full speed. */
    p->f->fma_loop(p->iters / 10, p->seed, &local);
    gate_pass(p->gate, false);
    p->start = pc_now();
    p->flops = p->f->fma_loop(p->iters, p->seed, &local);
    p->end = pc_now();
    p->sink = local;
    return NULL;
}

/* One measurement: GFLOP/s over the first thread's start to the last
 * one's end, as pc_run counts compute time. */
static int peak_once(const pc_direct_fns *f, unsigned threads, double *gflops)
{
    /* 2M steps of 12 vectors: about 7 ms at one vector FMA per cycle,
     * long enough for a steady clock; short, so that many of them fit in
     * the time of a report's set-up (see pc_peak). */
    const long iters = 2000000;
    peak_thread *pt = calloc(threads, sizeof *pt);
    pthread_t *tids = calloc(threads, sizeof *tids);
    peak_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                      threads, false};
    int st = PC_OK;
    unsigned n = 0;
    if (!pt || !tids) {
        free(pt);
        free(tids);
        return pc_error(PC_ENOMEM, "cannot set up %u threads", threads);
    }
    /* Threads inherit this one's mask: the process's CPUs. */
    size_t mask_size = 0;
    cpu_set_t *mask = pc_thread_widen(&mask_size);
    for (; n < threads; n++) {
        pt[n] = (peak_thread){.f = f, .iters = iters, .seed = 1.0 + n,
                              .gate = &gate};
        if (pthread_create(&tids[n], NULL, peak_run, &pt[n]) != 0) {
            st = pc_error(PC_ESYS, "cannot start thread %u of %u", n, threads);
            break;
        }
    }
    /* Those started would otherwise wait for the others forever. */
    if (st)
        gate_pass(&gate, true);
    double flops = 0, first = 0, last = 0, sink = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(tids[i], NULL);
        flops += pt[i].flops;
        sink += pt[i].sink;
        if (!first || pt[i].start < first)
            first = pt[i].start;
        if (pt[i].end > last)
            last = pt[i].end;
    }
    pc_thread_restore(mask, mask_size);
    free(pt);
    free(tids);
    /* sink is used so the loops cannot be dropped. */
    *gflops = last > first && sink == sink ? flops / (last - first) / 1e9 : 0;
    return st;
}

int pc_peak(pc_dtype dtype, pc_isa isa, unsigned threads, double *gflops)
{
    const pc_direct_fns *f = pc_direct_lookup(isa, dtype);
    if (!f)
        return pc_error(PC_EUSAGE, "this CPU cannot run the %s kernels",
                        pc_isa_name(isa));
    if (threads == 0)
        threads = 1;
    /* The best of ten short runs: on a shared machine a neighbour can only
     * make a measurement slower, never faster, and a short run is more
     * often left alone (three runs of four times the length read 3-5%
     * below bench/ceiling.c's assembly loop, the same instructions). */
    *gflops = 0;
    for (int rep = 0; rep < 10; rep++) {
        double g = 0;
        int st = peak_once(f, threads, &g);
        if (st)
            return st;
        if (g > *gflops)
            *gflops = g;
    }
    return PC_OK;
}
