/* Direct convolution: run-time choice of the kernels' instruction set, and
 * the batch loop that walks kernel sets and rows. The arithmetic is in
 * direct_tmpl.h. */
#include "internal.h"

#include <errno.h>
#include <omp.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

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

size_t pc_scratch_bytes(const pc_plan *plan)
{
    if (plan->method == PC_FFT)
        return pc_fft_scratch_bytes(plan);
    /* A step's rows per kernel of a set, each rounded to 64 bytes (only
     * a procs worker with an arena uses more than the first row). */
    size_t row = (plan->ocols * pc_dtype_size(plan->p.dtype) + 63) & ~(size_t)63;
    return PC_STEP_ROWS * 2 * plan->lanes * row;
}

size_t pc_plan_units(const pc_plan *plan, const pc_sink *sink)
{
    return plan->method == PC_FFT ? pc_fft_units(plan, sink) : plan->orows;
}

size_t pc_exec_step_end(const pc_plan *plan, size_t u, size_t u1)
{
    /* FFT units are group-major, ntr tile rows per group. */
    size_t step = plan->method == PC_FFT ? plan->fft.ntr : PC_STEP_ROWS;
    size_t e = (u / step + 1) * step;
    return e < u1 ? e : u1;
}

void pc_exec_units(const pc_plan *plan, size_t u0, size_t u1,
                   const pc_sink *sink, void *scratch)
{
    if (plan->method == PC_FFT)
        pc_fft_exec_units(plan, u0, u1, sink, scratch);
    else
        pc_exec_rows(plan, u0, u1, sink, scratch);
}

void pc_plan_touch(const pc_plan *pl, size_t u0, size_t u1)
{
    const size_t esz = pc_dtype_size(pl->p.dtype);
    pc_touch(pl->kern, pc_plan_kern_bytes(pl), false);
    if (pl->method == PC_FFT) {
        pc_touch(pl->spectra, pc_fft_spectra_bytes(&pl->fft, pl->p.dtype), false);
        return;
    }
    pc_touch(pl->kpack, pc_plan_kpack_bytes(pl), false);
    /* Output rows [u0, u1) read padded rows [u0, u1 + krows - 1). */
    size_t end = u1 + pl->krows - 1 < pl->prows ? u1 + pl->krows - 1 : pl->prows;
    if (u0 < end)
        pc_touch((char *)pl->pad + u0 * pl->pstride * esz,
                 (end - u0) * pl->pstride * esz, false);
}

void pc_sink_put(const pc_sink *sink, size_t k, size_t i, size_t n,
                 size_t row_bytes, size_t plane, const void *src, size_t stride)
{
    /* Rows [i, i+n) are contiguous in the file: one pwritev (one lock of
     * the file) for all of them. */
    struct iovec iov[PC_STEP_ROWS];
    const char *p = src;
    off_t at = (off_t)((k - sink->k0) * plane + i * row_bytes);
    while (n && !*sink->put_errno) {
        int cnt = 0;
        size_t bytes = 0;
        if (stride == row_bytes) { /* one block */
            iov[cnt++] = (struct iovec){(void *)p, n * row_bytes};
            bytes = n * row_bytes;
        } else {
            for (; cnt < PC_STEP_ROWS && (size_t)cnt < n; cnt++)
                iov[cnt] = (struct iovec){(void *)(p + (size_t)cnt * stride), row_bytes};
            bytes = (size_t)cnt * row_bytes;
        }
        ssize_t w = pwritev(sink->arena_fd, iov, cnt, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w != (ssize_t)bytes) {
            /* A short write to a file already sized: treat as failure. */
            *sink->put_errno = w < 0 ? errno : EIO;
            return;
        }
        size_t rows = bytes / row_bytes;
        p += stride == row_bytes ? bytes : rows * stride;
        at += (off_t)bytes;
        n -= rows;
    }
}

void pc_exec_rows(const pc_plan *pl, size_t r0, size_t r1, const pc_sink *sink,
                  void *scratch)
{
    const size_t esz = pc_dtype_size(pl->p.dtype);
    const size_t row_bytes = pl->ocols * esz;
    const size_t plane = pl->orows * row_bytes;
    const size_t srow = (row_bytes + 63) & ~(size_t)63;
    const size_t S = 2 * pl->lanes;
    void *rows[128];
    /* A procs worker with an arena: a step's rows of each kernel are kept
     * (row t of kernel kk at scratch row t*S + kk) and written together;
     * a longer range goes a step at a time. */
    const bool put = sink->arena_fd >= 0;
    if (put && r1 - r0 > PC_STEP_ROWS) {
        for (size_t u = r0, e; u < r1; u = e) {
            e = pc_exec_step_end(pl, u, r1);
            pc_exec_rows(pl, u, e, sink, scratch);
        }
        return;
    }

    /* Only kernels [sink->k0, sink->k1): sets that straddle the range are
     * computed whole, with the rows outside it not kept. */
    for (size_t s = 0; s < pl->nsets2 + pl->nsets1; s++) {
        const int two = s < pl->nsets2;
        const size_t k0 = s * S, nk = two ? S : pl->lanes;
        if (k0 + nk <= sink->k0 || k0 >= sink->k1)
            continue;
        for (size_t i = r0; i < r1; i++) {
            for (size_t kk = 0; kk < nk; kk++) {
                size_t k = k0 + kk;
                rows[kk] = k < sink->k0 || k >= sink->k1 ? NULL
                           : sink->arena ? sink->arena + (k - sink->k0) * plane +
                                               i * row_bytes
                                         : (char *)scratch + (put ? (i - r0) * S + kk
                                                                  : kk) * srow;
            }
            (two ? pl->fns->set2 : pl->fns->set1)(pl, s, i, rows);
            for (size_t kk = 0; kk < nk; kk++)
                if (rows[kk])
                    sink->rowhash[(k0 + kk) * pl->orows + i] =
                        pc_hash(rows[kk], row_bytes);
        }
        for (size_t kk = 0; put && kk < nk; kk++)
            if (k0 + kk >= sink->k0 && k0 + kk < sink->k1)
                pc_sink_put(sink, k0 + kk, r0, r1 - r0, row_bytes, plane,
                            (char *)scratch + kk * srow, S * srow);
    }
    /* The kernels left over: a few at a time along the row, in chunks as
     * even as multi_max allows. */
    size_t first = pl->first_single > sink->k0 ? pl->first_single : sink->k0;
    size_t left = sink->k1 > first ? sink->k1 - first : 0;
    const size_t M = (size_t)pl->fns->multi_max;
    for (size_t k = first; left;) {
        size_t chunks = (left + M - 1) / M, m = (left + chunks - 1) / chunks;
        for (size_t i = r0; i < r1; i++) {
            for (size_t kk = 0; kk < m; kk++)
                rows[kk] = sink->arena ? sink->arena + (k + kk - sink->k0) * plane +
                                             i * row_bytes
                                       : (char *)scratch + (put ? (i - r0) * S + kk
                                                                : kk) * srow;
            pl->fns->multi(pl, k, (int)m, i, rows);
            for (size_t kk = 0; kk < m; kk++)
                sink->rowhash[(k + kk) * pl->orows + i] = pc_hash(rows[kk], row_bytes);
        }
        for (size_t kk = 0; put && kk < m; kk++)
            pc_sink_put(sink, k + kk, r0, r1 - r0, row_bytes, plane,
                        (char *)scratch + kk * srow, S * srow);
        k += m;
        left -= m;
    }
}

int pc_plan_execute(const pc_plan *pl, size_t k, void *out)
{
    if (k >= pl->count)
        return pc_error(PC_EUSAGE, "kernel %zu of %zu", k, pl->count);
    if (pl->method == PC_FFT)
        return pc_fft_execute(pl, k, out);
    pc_direct_execute(pl, k, out);
    return PC_OK;
}

void pc_direct_execute(const pc_plan *pl, size_t k, void *out)
{
    const size_t row_bytes = pl->ocols * pc_dtype_size(pl->p.dtype);
    if (k >= pl->first_single) {
        for (size_t i = 0; i < pl->orows; i++) {
            void *row = (char *)out + i * row_bytes;
            pl->fns->multi(pl, k, 1, i, &row);
        }
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
