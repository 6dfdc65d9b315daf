/* FFT convolution with FFTW3: overlap-save over output tiles, with the
 * matrix's tile spectra computed once per plan and reused for every kernel.
 *
 * Output tile (ti, tj) is Tr x Tc samples; its input block is the P x Q
 * window of the padded matrix starting at (ti*Tr, tj*Tc), P = Tr+kh-1,
 * Q = Tc+kw-1 (zeros beyond the padded matrix). The circular convolution of
 * that block with the kernel (not flipped, zero-padded to P x Q) equals the
 * linear one at rows >= kh-1 and columns >= kw-1, which are exactly the
 * tile's outputs. Per kernel: one r2c of the kernel (scaled by 1/(P*Q), so
 * the inverse needs no pass of its own), then per tile a pointwise multiply
 * and a c2r.
 *
 * The 2-D transforms are done as their two passes of 1-D transforms, which
 * lets each pass skip what the result does not need and keeps the
 * product in cache:
 *   - forward (tile or kernel): a real-to-complex pass along the rows (of
 *     the kernel only its kh rows that are not zero), then a complex pass
 *     down the columns, S columns at a time, written strip-major: the
 *     spectrum is qs/S strips of P x S, each contiguous;
 *   - inverse, per tile and kernel, strip by strip: the strip of the
 *     product (P x S, in L1/L2), its column pass into a row-major P x qs
 *     block, then the complex-to-real pass along only the Tr rows that hold
 *     outputs (not the kh-1 above them).
 * FFTW plans each pass ("many" 1-D plans), which FFTW_MEASURE does in a
 * fraction of the time a 2-D plan takes.
 *
 * The executor (exec.c) walks the units of work and decides where the rows
 * go; this file computes them.
 *
 * FFTW's rules: all planning happens here on one thread, in
 * pc_fft_prepare (or a procs worker's pc_fft_worker_plans, from the
 * parent's wisdom so it makes the same plans and so the same bits), on
 * buffers of our own, never on inputs (FFTW_MEASURE overwrites them). Work
 * runs through the new-array execute functions on each worker's own
 * buffers, which have the planning buffers' alignment. */
#include "fft.h"

#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FFTW's planner is not thread-safe; planning is rare, a lock is enough. */
#include <pthread.h>
static pthread_mutex_t planner = PTHREAD_MUTEX_INITIALIZER;

static bool smooth(size_t n)
{
    static const size_t primes[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++)
        while (n % primes[i] == 0)
            n /= primes[i];
    return n == 1;
}

size_t pc_fft_good_size(size_t n)
{
    while (!smooth(n))
        n++;
    return n;
}

static size_t cdiv(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* Kernels per group (at most PC_FFT_KGROUP): each tile spectrum is read
 * once per group, not once per kernel. The spectra of all tiles (16 bytes
 * per sample in f64) do not fit in cache; a group's kernel spectra do,
 * but no more than fit in about 2 MB (a core's L2 and a bit), or the
 * group's spectra stream from memory and two workers fight over it. */
static size_t kgroup(const pc_fft *f, pc_dtype dt);

/* Columns per strip: a strip of the product, P x S complex, stays in L1
 * between the multiply and its column pass. Measured (64x64 kernels, AVX-512
 * FFTW 3.3.10): 4 beats 8 by 5-10%, 16 and 32 lose 15-100%. Strips start
 * 32 bytes apart, which keeps FFTW's 16-byte alignment for new arrays. */
#define STRIP 4

/* The plans, in pc_fft.plans. */
enum {
    ROWS_IN,  /* r2c along the P rows of an input block */
    ROWS_K,   /* r2c along the kh rows of a kernel */
    COLS_FWD, /* forward c2c down S columns: row-major -> a strip */
    COLS_BWD, /* backward c2c down S columns: a strip -> row-major */
    ROWS_OUT, /* c2r along the Tr output rows */
    NPLANS
};

/* Bytes of one complex spectrum (P x qs), one real block (P x Q, rows of
 * real_cols) and one strip (P x STRIP) of the plan's dtype. */
static size_t spec_bytes(const pc_fft *f, pc_dtype dt)
{
    return f->P * f->qs * 2 * pc_dtype_size(dt);
}
static size_t real_cols(const pc_fft *f)
{
    return (f->Q + 15) & ~(size_t)15;
}
static size_t real_bytes(const pc_fft *f, pc_dtype dt)
{
    return f->P * real_cols(f) * pc_dtype_size(dt);
}
static size_t strip_bytes(const pc_fft *f, pc_dtype dt)
{
    return pc_align64(f->P * STRIP * 2 * pc_dtype_size(dt));
}

static size_t kgroup(const pc_fft *f, pc_dtype dt)
{
    size_t g = ((size_t)2 << 20) / spec_bytes(f, dt);
    return g < 1 ? 1 : g > PC_FFT_KGROUP ? PC_FFT_KGROUP : g;
}

/* Tile spectra are laid 64 bytes apart, so each has the alignment the
 * plans were made for (FFTW's new-array execute requires it). */
static size_t spec_stride(const pc_fft *f, pc_dtype dt)
{
    return pc_align64(spec_bytes(f, dt));
}

size_t pc_fft_spectra_bytes(const pc_fft *f, pc_dtype dt)
{
    return f->ntr * f->ntc * spec_stride(f, dt);
}


size_t pc_fft_work_bytes(const pc_plan *pl)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    /* A group's kernel spectra, the row-major block between the passes,
     * a strip and the real block. */
    return (f->kg + 1) * spec_stride(f, dt) + strip_bytes(f, dt) +
           real_bytes(f, dt);
}

/* One "many" plan of 1-D transforms: n points, howmany of them; is/os the
 * stride between points, id/od between transforms. kind: R2C, C2R, or
 * FFTW_FORWARD/FFTW_BACKWARD (-1/+1) for a c2c of that sign. */
enum { R2C = 10, C2R = 11 };
static void *plan_many(pc_dtype dt, int kind, size_t n, size_t howmany,
                       void *in, size_t is, size_t id, void *out, size_t os,
                       size_t od, unsigned flags)
{
    int nn = (int)n, hm = (int)howmany;
    int a = (int)is, b = (int)id, c = (int)os, d = (int)od;
    if (dt == PC_F32)
        return kind == R2C
                   ? (void *)fftwf_plan_many_dft_r2c(1, &nn, hm, in, NULL, a, b,
                                                     out, NULL, c, d, flags)
               : kind == C2R
                   ? (void *)fftwf_plan_many_dft_c2r(1, &nn, hm, in, NULL, a, b,
                                                     out, NULL, c, d, flags)
                   : (void *)fftwf_plan_many_dft(1, &nn, hm, in, NULL, a, b, out,
                                                 NULL, c, d, kind, flags);
    return kind == R2C
               ? (void *)fftw_plan_many_dft_r2c(1, &nn, hm, in, NULL, a, b, out,
                                                NULL, c, d, flags)
           : kind == C2R
               ? (void *)fftw_plan_many_dft_c2r(1, &nn, hm, in, NULL, a, b, out,
                                                NULL, c, d, flags)
               : (void *)fftw_plan_many_dft(1, &nn, hm, in, NULL, a, b, out, NULL,
                                            c, d, kind, flags);
}

/* Runs plan i on new arrays, which must have the planning arrays'
 * alignment (mod 16 bytes): every buffer here is 64-aligned, and every
 * offset into one a multiple of 16 bytes, the same in planning and use. */
static void run(const pc_fft *f, pc_dtype dt, int i, void *in, void *out)
{
    void *p = f->plans[i];
    bool r2c = i == ROWS_IN || i == ROWS_K, c2r = i == ROWS_OUT;
    if (dt == PC_F32)
        r2c   ? fftwf_execute_dft_r2c(p, in, out)
        : c2r ? fftwf_execute_dft_c2r(p, in, out)
              : fftwf_execute_dft(p, in, out);
    else
        r2c   ? fftw_execute_dft_r2c(p, in, out)
        : c2r ? fftw_execute_dft_c2r(p, in, out)
              : fftw_execute_dft(p, in, out);
}

/* The plans of the passes, on buffers of our own. */
static int make_plans(pc_fft *f, pc_dtype dt, unsigned flags)
{
    void *re = pc_alloc(real_bytes(f, dt)), *sp = pc_alloc(spec_bytes(f, dt));
    void *strip = pc_alloc(strip_bytes(f, dt));
    int st = PC_OK;
    if (!re || !sp || !strip) {
        st = pc_error(PC_ENOMEM, "cannot allocate FFT planning buffers");
        goto done;
    }
    const size_t Qr = real_cols(f), qs = f->qs, kh = f->P - f->Tr + 1;
    const size_t csz = 2 * pc_dtype_size(dt);
    pthread_mutex_lock(&planner);
    f->plans[ROWS_IN] = plan_many(dt, R2C, f->Q, f->P, re, 1, Qr, sp, 1, qs, flags);
    f->plans[ROWS_K] = plan_many(dt, R2C, f->Q, kh, re, 1, Qr, sp, 1, qs, flags);
    f->plans[COLS_FWD] = plan_many(dt, FFTW_FORWARD, f->P, STRIP, sp, qs, 1,
                                   strip, STRIP, 1, flags);
    f->plans[COLS_BWD] = plan_many(dt, FFTW_BACKWARD, f->P, STRIP, strip, STRIP,
                                   1, sp, qs, 1, flags);
    f->plans[ROWS_OUT] = plan_many(dt, C2R, f->Q, f->Tr,
                                   (char *)sp + (kh - 1) * qs * csz, 1, qs, re,
                                   1, Qr, flags);
    pthread_mutex_unlock(&planner);
    for (int i = 0; i < NPLANS; i++)
        if (!f->plans[i])
            st = pc_error(PC_ESYS, "FFTW could not plan a %zux%zu transform%s",
                          f->P, f->Q, (flags & FFTW_WISDOM_ONLY) ?
                          " from the parent's wisdom" : "");
done:
    pc_free(re);
    pc_free(sp);
    pc_free(strip);
    return st;
}

void pc_fft_destroy(pc_fft *f, pc_dtype dt)
{
    pthread_mutex_lock(&planner);
    for (int i = 0; i < NPLANS; i++) {
        if (f->plans[i] && dt == PC_F32)
            fftwf_destroy_plan(f->plans[i]);
        else if (f->plans[i])
            fftw_destroy_plan(f->plans[i]);
        f->plans[i] = NULL;
    }
    pthread_mutex_unlock(&planner);
}

/* The tiling for transform size P x Q, or none if it is too small. */
static bool tiling(pc_fft *f, const pc_plan *pl, size_t P, size_t Q)
{
    if (P < pl->krows || Q < pl->kcols)
        return false;
    f->P = P;
    f->Q = Q;
    f->qh = Q / 2 + 1;
    f->qs = (f->qh + STRIP - 1) / STRIP * STRIP;
    f->Tr = P - (pl->krows - 1);
    f->Tc = Q - (pl->kcols - 1);
    f->ntr = cdiv(pl->orows, f->Tr);
    f->ntc = cdiv(pl->ocols, f->Tc);
    f->kg = kgroup(f, pl->p.dtype);
    return true;
}

/* Pointwise product of a tile spectrum and the (pre-scaled) kernel
 * spectrum, into out. */
/* Clones for wider vectors: the multiply is a fifth of the FFT method's
 * time; rounding is the same in each (no contraction into FMA). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void multiply(pc_dtype dt, const void *x, const void *h, void *out,
                     size_t n)
{
    /* Written out in real arithmetic: C's complex multiply checks for NaN
     * results and calls a library routine, which stops vectorisation. One
     * body for both element types. */
#define PC_CMUL(T)                                                        \
    do {                                                                  \
        const T *a = x, *b = h;                                           \
        T *o = out;                                                       \
        for (size_t i = 0; i < n; i++) {                                  \
            T ar = a[2 * i], ai = a[2 * i + 1];                           \
            T br = b[2 * i], bi = b[2 * i + 1];                           \
            o[2 * i] = ar * br - ai * bi;                                 \
            o[2 * i + 1] = ar * bi + ai * br;                             \
        }                                                                 \
    } while (0)
    if (dt == PC_F32)
        PC_CMUL(float);
    else
        PC_CMUL(double);
#undef PC_CMUL
}

/* The forward transform of the real block in re (rows of real_cols;
 * rows plan ROWS_IN or ROWS_K) into the strip-major spectrum spec, through
 * the row-major block mid. */
static void forward(const pc_fft *f, pc_dtype dt, int rows, void *re,
                    void *mid, void *spec)
{
    const size_t csz = 2 * pc_dtype_size(dt);
    /* The kernel's rows below kh and every row's columns past qh are
     * zero: the column pass reads them. */
    memset(mid, 0, spec_bytes(f, dt));
    run(f, dt, rows, re, mid);
    for (size_t s = 0; s < f->qs / STRIP; s++)
        run(f, dt, COLS_FWD, (char *)mid + s * STRIP * csz,
            (char *)spec + s * f->P * STRIP * csz);
}

/* The inverse of the product of spectra x and h (strip-major), the Tr
 * output rows of it into re (rows of real_cols), through the strip buffer
 * and the row-major block mid. */
static void inverse(const pc_fft *f, pc_dtype dt, const void *x, const void *h,
                    void *strip, void *mid, void *re)
{
    const size_t csz = 2 * pc_dtype_size(dt), sn = f->P * STRIP;
    for (size_t s = 0; s < f->qs / STRIP; s++) {
        multiply(dt, (const char *)x + s * sn * csz,
                 (const char *)h + s * sn * csz, strip, sn);
        run(f, dt, COLS_BWD, strip, (char *)mid + s * STRIP * csz);
    }
    size_t kh = f->P - f->Tr + 1;
    run(f, dt, ROWS_OUT, (char *)mid + (kh - 1) * f->qs * csz, re);
}

/* Seconds for one tile's work for one kernel (multiply and c2r) at this
 * size, measured as the run does it: one tile spectrum against a group of
 * kernel spectra, so that the cache behaves as it will. */
static double time_tile(pc_fft *f, pc_dtype dt)
{
    double best = INFINITY;
    size_t ss = spec_stride(f, dt);
    int G = (int)kgroup(f, dt);
    void *x = pc_alloc(ss), *h = pc_alloc((size_t)G * ss);
    void *c = pc_alloc(ss), *r = pc_alloc(real_bytes(f, dt));
    void *strip = pc_alloc(strip_bytes(f, dt));
    if (x && h && c && r && strip) {
        memset(x, 0, ss);
        memset(h, 0, (size_t)G * ss);
    }
    if (x && h && c && r && strip && make_plans(f, dt, FFTW_ESTIMATE) == PC_OK) {
        /* Batches of a few tiles: one small tile takes microseconds, too
         * short to time alone. The best of several batches. */
        int batch = (int)(1 + 16384 / (f->P * f->Q));
        double start = pc_now();
        for (int rep = 0; rep < 5 && (rep < 2 || pc_now() - start < 0.02); rep++) {
            double t0 = pc_now();
            for (int i = 0; i < batch; i++)
                for (int kk = 0; kk < G; kk++)
                    inverse(f, dt, x, (char *)h + kk * ss, strip, c, r);
            double t = (pc_now() - t0) / (batch * G);
            if (t < best)
                best = t;
        }
    }
    pc_fft_destroy(f, dt);
    pc_free(x);
    pc_free(h);
    pc_free(c);
    pc_free(r);
    pc_free(strip);
    return best;
}

/* Transform sizes worth trying: square tiles of FFTW-friendly sizes that
 * keep most of their outputs, and the whole matrix in one transform.
 * Measured here: tiles of 128-160 win for 10x10 kernels, 256-336 for
 * 64x64, the whole matrix when the kernel is large next to it. */
size_t pc_fft_candidates(const pc_plan *pl, pc_fft *c)
{
    /* Sizes with factors 7 and 3^3 too (216, 336, 432, ...): for 64x64
     * kernels on 1000x1000 they cover the output with less waste (336: 4
     * tiles a side at 23% fewer samples than 384's 4). */
    static const size_t sizes[] = {32, 48, 64, 96, 128, 160, 192, 216, 256,
                                   288, 320, 336, 384, 432, 480, 512, 640,
                                   768, 1024, 1536, 2048};
    size_t wholeP = pc_fft_good_size(pl->prows);
    size_t wholeQ = pc_fft_good_size(pl->pcols);
    size_t kmax = pl->krows > pl->kcols ? pl->krows : pl->kcols, n = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t P = sizes[i], Q = sizes[i];
        if (P < 2 * kmax || (P >= wholeP && Q >= wholeQ))
            continue;
        memset(&c[n], 0, sizeof c[n]);
        if (tiling(&c[n], pl, P < wholeP ? P : wholeP, Q < wholeQ ? Q : wholeQ))
            n++;
    }
    memset(&c[n], 0, sizeof c[n]);
    if (tiling(&c[n], pl, wholeP, wholeQ))
        n++;
    return n;
}

/* The model's work of one kernel: a transform per tile and one for the
 * kernel, each ~ P*Q*log2(P*Q). */
static double model_work(const pc_fft *f)
{
    double pq = (double)f->P * (double)f->Q;
    return (double)(f->ntr * f->ntc + 1) * pq * log2(pq);
}

double pc_fft_model(const pc_plan *pl, pc_fft *best)
{
    pc_fft c[PC_FFT_MAX_CANDIDATES];
    size_t n = pc_fft_candidates(pl, c);
    double w = INFINITY;
    for (size_t i = 0; i < n; i++)
        if (model_work(&c[i]) < w) {
            w = model_work(&c[i]);
            *best = c[i];
        }
    return w;
}

int pc_fft_choose(const pc_plan *pl, pc_fft *out)
{
    if (pl->p.fft_P && pl->p.fft_Q) {
        memset(out, 0, sizeof *out);
        if (!tiling(out, pl, pl->p.fft_P, pl->p.fft_Q))
            return pc_error(PC_EUSAGE, "FFT size %zux%zu is too small for "
                            "%zux%zu kernels", pl->p.fft_P, pl->p.fft_Q,
                            pl->krows, pl->kcols);
        return PC_OK;
    }
    /* The model's choice depends on nothing measured, so every run of
     * these shapes makes it alike. */
    if (pl->p.fft_model) {
        memset(out, 0, sizeof *out);
        if (!isfinite(pc_fft_model(pl, out)))
            return pc_error(PC_EUSAGE, "no FFT size fits %zux%zu kernels",
                            pl->krows, pl->kcols);
        return PC_OK;
    }
    pc_fft c[PC_FFT_MAX_CANDIDATES];
    size_t n = pc_fft_candidates(pl, c);
    double best_cost = INFINITY;
    for (size_t i = 0; i < n; i++) {
        /* Per kernel: a c2r and a multiply per tile, and the kernel's own
         * r2c, which costs about as much as one tile. */
        double cost = time_tile(&c[i], pl->p.dtype) *
                      (double)(c[i].ntr * c[i].ntc + 1);
        if (cost < best_cost) {
            best_cost = cost;
            *out = c[i];
        }
    }
    if (!isfinite(best_cost))
        return pc_error(PC_ESYS, "FFTW could not plan any transform size");
    out->tile_seconds = best_cost;
    return PC_OK;
}

/* Wisdom files hold one precision: "(fftw-3.3.10 fftw_wisdom" or
 * "... fftwf_wisdom". */
static int wisdom_precision(const char *path, pc_dtype *dt)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return errno == ENOENT ? 1 : pc_error(PC_EIO, "cannot read wisdom "
                                              "file '%s': %s", path,
                                              strerror(errno));
    char head[64] = {0};
    size_t n = fread(head, 1, sizeof head - 1, fp);
    fclose(fp);
    head[n] = 0;
    if (strstr(head, "fftwf_wisdom"))
        *dt = PC_F32;
    else if (strstr(head, "fftw_wisdom"))
        *dt = PC_F64;
    else
        return pc_error(PC_EINPUT, "'%s' is not an FFTW wisdom file", path);
    return PC_OK;
}

/* Imports (or, with save, exports) FFTW's wisdom of dt from (to) path,
 * under the planner's lock; false if FFTW could not. */
static bool wisdom_file(pc_dtype dt, const char *path, bool save)
{
    pthread_mutex_lock(&planner);
    int ok = save ? (dt == PC_F32 ? fftwf_export_wisdom_to_filename(path)
                                  : fftw_export_wisdom_to_filename(path))
                  : (dt == PC_F32 ? fftwf_import_wisdom_from_filename(path)
                                  : fftw_import_wisdom_from_filename(path));
    pthread_mutex_unlock(&planner);
    return ok != 0;
}

int pc_fft_prepare(pc_plan *pl, const char *wisdom_path)
{
    pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    unsigned flags = pl->p.fft_effort == PC_FFT_MEASURE ? FFTW_MEASURE
                                                        : FFTW_ESTIMATE;
    double t0 = pc_now();
    if (wisdom_path) {
        pc_dtype wdt = dt;
        int st = wisdom_precision(wisdom_path, &wdt);
        if (st == PC_OK) {
            if (wdt != dt)
                return pc_error(PC_EUSAGE, "wisdom file '%s' is for %s, this "
                                "run computes in %s (use one file per dtype)",
                                wisdom_path, pc_dtype_name(wdt),
                                pc_dtype_name(dt));
            if (!wisdom_file(dt, wisdom_path, false))
                return pc_error(PC_EINPUT, "wisdom file '%s' is corrupt",
                                wisdom_path);
        } else if (st != 1) {
            return st;
        }
    }
    int st = make_plans(f, dt, flags);
    if (st)
        return st;
    if (wisdom_path) {
        if (!wisdom_file(dt, wisdom_path, true))
            return pc_error(PC_EIO, "cannot write wisdom file '%s'",
                            wisdom_path);
    }
    f->plan_seconds = pc_now() - t0;
    return PC_OK;
}

char *pc_fft_export_wisdom(pc_dtype dt)
{
    pthread_mutex_lock(&planner);
    char *w = dt == PC_F32 ? fftwf_export_wisdom_to_string()
                           : fftw_export_wisdom_to_string();
    pthread_mutex_unlock(&planner);
    return w;
}

int pc_fft_worker_plans(pc_plan *pl, const char *wisdom)
{
    pc_dtype dt = pl->p.dtype;
    unsigned flags = pl->p.fft_effort == PC_FFT_MEASURE ? FFTW_MEASURE
                                                        : FFTW_ESTIMATE;
    pthread_mutex_lock(&planner);
    int ok = dt == PC_F32 ? fftwf_import_wisdom_from_string(wisdom)
                          : fftw_import_wisdom_from_string(wisdom);
    pthread_mutex_unlock(&planner);
    if (!ok)
        return pc_error(PC_EINPUT, "cannot import the parent's FFTW wisdom");
    /* With the parent's wisdom the planner makes the parent's plans, so a
     * worker's results are bit for bit the parent's. */
    memset(pl->fft.plans, 0, sizeof pl->fft.plans);
    return make_plans(&pl->fft, dt, flags | FFTW_WISDOM_ONLY);
}

/* The P x Q input block of tile (ti, tj), zeros beyond the padded
 * matrix. */
static void load_block(const pc_plan *pl, size_t ti, size_t tj, void *dst)
{
    const pc_fft *f = &pl->fft;
    size_t esz = pc_dtype_size(pl->p.dtype);
    size_t r0 = ti * f->Tr, c0 = tj * f->Tc;
    char *d = dst;
    memset(d, 0, real_bytes(f, pl->p.dtype));
    for (size_t r = 0; r < f->P && r0 + r < pl->prows; r++) {
        size_t n = c0 < pl->pcols ? pl->pcols - c0 : 0;
        if (n > f->Q)
            n = f->Q;
        memcpy(d + r * real_cols(f) * esz,
               (const char *)pl->pad + ((r0 + r) * pl->pstride + c0) * esz,
               n * esz);
    }
}

void pc_fft_spectra(pc_plan *pl)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    void *block = pc_alloc(real_bytes(f, dt)), *mid = pc_alloc(spec_bytes(f, dt));
    for (size_t ti = 0; block && mid && ti < f->ntr; ti++)
        for (size_t tj = 0; tj < f->ntc; tj++) {
            load_block(pl, ti, tj, block);
            forward(f, dt, ROWS_IN, block, mid,
                    (char *)pl->spectra + (ti * f->ntc + tj) * spec_stride(f, dt));
        }
    pc_free(block);
    pc_free(mid);
}

/* Kernel k's spectrum, scaled by 1/(P*Q) so the inverse needs no pass of
 * its own. The plan keeps kernels flipped; convolution wants them as
 * given. */
static void kernel_spectrum(const pc_plan *pl, size_t k, void *real,
                            void *mid, void *spec)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    size_t kh = pl->krows, kw = pl->kcols, taps = kh * kw;
    double scale = 1.0 / ((double)f->P * (double)f->Q);
    const size_t Qr = real_cols(f);
    memset(real, 0, kh * Qr * pc_dtype_size(dt));
    for (size_t a = 0; a < kh; a++)
        for (size_t b = 0; b < kw; b++) {
            size_t t = k * taps + (taps - 1 - (a * kw + b));
            if (dt == PC_F32)
                ((float *)real)[a * Qr + b] =
                    (float)(((const float *)pl->kern)[t] * scale);
            else
                ((double *)real)[a * Qr + b] =
                    ((const double *)pl->kern)[t] * scale;
        }
    forward(f, dt, ROWS_K, real, mid, spec);
}

void pc_fft_kernels(const pc_plan *pl, size_t k0, size_t nk, void *work)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    size_t sstride = spec_stride(f, dt);
    char *mid = (char *)work + f->kg * sstride;
    char *real = mid + sstride + strip_bytes(f, dt);
    for (size_t kk = 0; kk < nk; kk++)
        kernel_spectrum(pl, k0 + kk, real, mid, (char *)work + kk * sstride);
}

size_t pc_fft_tile_row(const pc_plan *pl, size_t ti, size_t nk,
                       char *const *out, void *work)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    size_t esz = pc_dtype_size(dt), row_bytes = pl->ocols * esz;
    size_t sstride = spec_stride(f, dt);
    /* work: the group's kernel spectra, the block between the passes, a
     * strip, the real block. */
    char *kspec = work;
    char *mid = kspec + f->kg * sstride;
    char *strip = mid + sstride;
    char *real = strip + strip_bytes(f, dt);
    size_t i0 = ti * f->Tr;
    size_t nr = pl->orows - i0 < f->Tr ? pl->orows - i0 : f->Tr;
    for (size_t tj = 0; tj < f->ntc; tj++) {
        const char *x = (const char *)pl->spectra +
                        (ti * f->ntc + tj) * spec_stride(f, dt);
        size_t j0 = tj * f->Tc;
        size_t nc = pl->ocols - j0 < f->Tc ? pl->ocols - j0 : f->Tc;
        for (size_t kk = 0; kk < nk; kk++) {
            inverse(f, dt, x, kspec + kk * sstride, strip, mid, real);
            for (size_t r = 0; r < nr; r++)
                memcpy(out[kk] + r * row_bytes + j0 * esz,
                       real + (r * real_cols(f) + pl->kcols - 1) * esz,
                       nc * esz);
        }
    }
    return nr;
}

int pc_fft_execute(const pc_plan *pl, size_t k, void *out)
{
    void *work = pc_alloc(pc_fft_work_bytes(pl));
    if (!work)
        return pc_error(PC_ENOMEM, "cannot allocate FFT buffers");
    const size_t row_bytes = pl->ocols * pc_dtype_size(pl->p.dtype);
    pc_fft_kernels(pl, k, 1, work);
    for (size_t ti = 0; ti < pl->fft.ntr; ti++) {
        char *dst = (char *)out + ti * pl->fft.Tr * row_bytes;
        pc_fft_tile_row(pl, ti, 1, &dst, work);
    }
    pc_free(work);
    return PC_OK;
}
