/* The batch executor that both methods use: units of work (kernel groups x
 * row steps for direct, kernel groups x tile rows for FFT), the dispatch
 * by method, and the row sink that hashes every output row and keeps it
 * in the arena or writes it into the arena's file. The kernels (direct.c,
 * fft.c) only compute rows into the buffers given them. */
#include "exec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* FFT: the first kernel group that holds a kernel of [k0, k1). */
static size_t first_group(const pc_plan *pl, const pc_sink *sink)
{
    return sink->k0 / pl->fft.kg;
}

size_t pc_scratch_bytes(const pc_plan *plan)
{
    const size_t row_bytes = plan->ocols * pc_dtype_size(plan->p.dtype);
    /* FFT: the transform's own buffers, and one tile row of output rows
     * per kernel of the group (see exec_tiles). */
    if (plan->method == PC_FFT)
        return pc_fft_work_bytes(plan) +
               plan->fft.kg * pc_align64(plan->fft.Tr * row_bytes);
    /* Direct: a step's rows per kernel of a group, each rounded to 64
     * bytes (only a procs worker with an arena uses more than the first
     * row). */
    return PC_STEP_ROWS * plan->group * pc_align64(row_bytes);
}

size_t pc_plan_units(const pc_plan *plan, const pc_sink *sink)
{
    if (plan->method != PC_FFT)
        return plan->orows;
    size_t g1 = (sink->k1 + plan->fft.kg - 1) / plan->fft.kg;
    return (g1 - first_group(plan, sink)) * plan->fft.ntr;
}

void pc_units_of(const pc_plan *plan, const pc_sink *sink, unsigned w,
                 unsigned n, size_t *u0, size_t *u1)
{
    size_t U = pc_plan_units(plan, sink);
    *u0 = U * w / n;
    *u1 = U * (w + 1) / n;
}

size_t pc_exec_step_end(const pc_plan *plan, size_t u, size_t u1)
{
    /* FFT units are group-major, ntr tile rows per group. */
    size_t step = plan->method == PC_FFT ? plan->fft.ntr : PC_STEP_ROWS;
    size_t e = (u / step + 1) * step;
    return e < u1 ? e : u1;
}

void pc_plan_touch(const pc_plan *pl, size_t u0, size_t u1)
{
    const size_t esz = pc_dtype_size(pl->p.dtype);
    pc_touch(pl->kern, pc_plan_kern_bytes(pl), false);
    if (pl->method == PC_FFT) {
        pc_touch(pl->spectra, pc_fft_spectra_bytes(&pl->fft, pl->p.dtype), false);
        return;
    }
    /* Output rows [u0, u1) read padded rows [u0, u1 + krows - 1). */
    size_t end = u1 + pl->krows - 1 < pl->prows ? u1 + pl->krows - 1 : pl->prows;
    if (u0 < end)
        pc_touch((char *)pl->pad + u0 * pl->pstride * esz,
                 (end - u0) * pl->pstride * esz, false);
}

static void sink_put(const pc_sink *sink, size_t k, size_t i, size_t n,
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

static void exec_rows(const pc_plan *pl, size_t r0, size_t r1,
                      const pc_sink *sink, void *scratch)
{
    const size_t esz = pc_dtype_size(pl->p.dtype);
    const size_t row_bytes = pl->ocols * esz;
    const size_t plane = pl->orows * row_bytes;
    const size_t srow = pc_align64(row_bytes);
    const size_t S = pl->group;
    void *rows[PC_GROUP_MAX];
    /* A procs worker with an arena: a step's rows of each kernel are kept
     * (row t of kernel kk at scratch row t*S + kk) and written together;
     * a longer range goes a step at a time. */
    const bool put = sink->arena_fd >= 0;
    if (put && r1 - r0 > PC_STEP_ROWS) {
        for (size_t u = r0, e; u < r1; u = e) {
            e = pc_exec_step_end(pl, u, r1);
            exec_rows(pl, u, e, sink, scratch);
        }
        return;
    }

    /* Groups of S kernels (the last may have fewer); only kernels
     * [sink->k0, sink->k1): in a group that straddles the range, the rows
     * outside it are not wanted. */
    for (size_t k0 = sink->k0 / S * S; k0 < sink->k1; k0 += S) {
        const size_t nk = pl->count - k0 < S ? pl->count - k0 : S;
        for (size_t i = r0; i < r1; i++) {
            for (size_t kk = 0; kk < nk; kk++) {
                size_t k = k0 + kk;
                rows[kk] = k < sink->k0 || k >= sink->k1 ? NULL
                           : sink->arena ? sink->arena + (k - sink->k0) * plane +
                                               i * row_bytes
                                         : (char *)scratch + (put ? (i - r0) * S + kk
                                                                  : kk) * srow;
            }
            pl->fns->kernels(pl, k0, nk, i, rows);
            for (size_t kk = 0; kk < nk; kk++)
                if (rows[kk])
                    sink->rowhash[(k0 + kk) * pl->orows + i] =
                        pc_hash(rows[kk], row_bytes);
        }
        for (size_t kk = 0; put && kk < nk; kk++)
            if (k0 + kk >= sink->k0 && k0 + kk < sink->k1)
                sink_put(sink, k0 + kk, r0, r1 - r0, row_bytes, plane,
                            (char *)scratch + kk * srow, S * srow);
    }
}

/* FFT units [u0, u1): (group of kernels, tile row), group-major. A
 * group's kernel spectra are made once per call, at its first unit. */
static void exec_tiles(const pc_plan *pl, size_t u0, size_t u1,
                       const pc_sink *sink, void *scratch)
{
    const pc_fft *f = &pl->fft;
    const size_t row_bytes = pl->ocols * pc_dtype_size(pl->p.dtype);
    const size_t plane = pl->orows * row_bytes;
    const size_t bstride = pc_align64(f->Tr * row_bytes), G = f->kg;
    char *rows = (char *)scratch + pc_fft_work_bytes(pl);
    size_t have = (size_t)-1;

    for (size_t u = u0; u < u1; u++) {
        size_t g = u / f->ntr + first_group(pl, sink);
        size_t ti = u % f->ntr;
        /* The group's kernels within [sink->k0, sink->k1). */
        size_t k0 = g * G, kend = k0 + G;
        if (k0 < sink->k0)
            k0 = sink->k0;
        if (kend > sink->k1)
            kend = sink->k1;
        size_t nk = kend - k0;
        if (g != have) {
            pc_fft_kernels(pl, k0, nk, scratch);
            have = g;
        }
        size_t i0 = ti * f->Tr;
        char *dst[PC_FFT_KGROUP];
        for (size_t kk = 0; kk < nk; kk++)
            dst[kk] = sink->arena ? sink->arena + (k0 + kk - sink->k0) * plane +
                                        i0 * row_bytes
                                  : rows + kk * bstride;
        size_t nr = pc_fft_tile_row(pl, ti, nk, dst, scratch);
        for (size_t kk = 0; kk < nk; kk++) {
            for (size_t r = 0; r < nr; r++)
                sink->rowhash[(k0 + kk) * pl->orows + i0 + r] =
                    pc_hash(dst[kk] + r * row_bytes, row_bytes);
            if (sink->arena_fd >= 0)
                sink_put(sink, k0 + kk, i0, nr, row_bytes, plane, dst[kk], row_bytes);
        }
    }
}

void pc_exec_units(const pc_plan *plan, size_t u0, size_t u1,
                   const pc_sink *sink, void *scratch)
{
    if (plan->method == PC_FFT)
        exec_tiles(plan, u0, u1, sink, scratch);
    else
        exec_rows(plan, u0, u1, sink, scratch);
}

bool pc_exec_share(const pc_plan *plan, size_t u0, size_t u1,
                   const pc_sink *sink, void *scratch)
{
    for (size_t u = u0, e; u < u1; u = e) {
        if (sink->cancel && *sink->cancel)
            return false;
        e = pc_exec_step_end(plan, u, u1);
        pc_exec_units(plan, u, e, sink, scratch);
    }
    return true;
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

/* Is output row i one the FFT check compares? The first and last rows of
 * every tile row (where overlap-save's blocks meet) and the plane's first
 * and last 4 rows (where the padding is): every tile column is crossed by
 * each, and the direct sums they need cost a few dozen rows, not three
 * whole planes (at 64x64 taps on 1000x1000, 0.5 s of set-up, more than
 * the FFT run it checks). */
static bool fft_check_row(const pc_plan *pl, size_t i)
{
    const size_t Tr = pl->fft.Tr ? pl->fft.Tr : 1;
    return i < 4 || i + 4 >= pl->orows || i % Tr == 0 || i % Tr == Tr - 1;
}

int pc_plan_fft_error(const pc_plan *pl, double *rel_err)
{
    *rel_err = 0;
    if (pl->method != PC_FFT)
        return PC_OK;
    const size_t esz = pc_dtype_size(pl->p.dtype), w = pl->ocols;
    void *a = malloc(pl->orows * w * esz), *b = malloc(w * esz);
    int st = PC_OK;
    if (!a || !b) {
        st = pc_error(PC_ENOMEM, "cannot allocate the FFT check");
        goto done;
    }
    const size_t sample[3] = {0, pl->count / 2, pl->count - 1};
    for (int s = 0; s < 3; s++) {
        if ((st = pc_fft_execute(pl, sample[s], a)))
            break;
        double maxref = 0, maxerr = 0;
        for (size_t i = 0; i < pl->orows; i++) {
            if (!fft_check_row(pl, i))
                continue;
            pl->fns->kernels(pl, sample[s], 1, i, &b);
            for (size_t j = 0; j < w; j++) {
                size_t at = i * w + j;
                double x = pl->p.dtype == PC_F32 ? ((float *)a)[at]
                                                 : ((double *)a)[at];
                double y = pl->p.dtype == PC_F32 ? ((float *)b)[j]
                                                 : ((double *)b)[j];
                if (isfinite(y) && fabs(y) > maxref)
                    maxref = fabs(y);
                /* NaN and Inf spread over a whole tile in an FFT, and only
                 * to the kernel's footprint in a direct sum: compare where
                 * both are finite. */
                if (isfinite(x) && isfinite(y) && fabs(x - y) > maxerr)
                    maxerr = fabs(x - y);
            }
        }
        double e = maxref > 0 ? maxerr / maxref : maxerr;
        if (e > *rel_err)
            *rel_err = e;
    }
done:
    free(a);
    free(b);
    return st;
}
