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

/* Bytes of one complex spectrum and one real block of the plan's dtype. */
static size_t spec_bytes(const pc_fft *f, pc_dtype dt)
{
    return f->P * f->qh * 2 * pc_dtype_size(dt);
}
static size_t real_bytes(const pc_fft *f, pc_dtype dt)
{
    return f->P * f->Q * pc_dtype_size(dt);
}

static size_t kgroup(const pc_fft *f, pc_dtype dt)
{
    size_t g = ((size_t)2 << 20) / spec_bytes(f, dt);
    return g < 1 ? 1 : g > PC_FFT_KGROUP ? PC_FFT_KGROUP : g;
}
static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Tile spectra are laid 64 bytes apart, so each has the alignment the
 * plans were made for (FFTW's new-array execute requires it). */
static size_t spec_stride(const pc_fft *f, pc_dtype dt)
{
    return align64(spec_bytes(f, dt));
}

size_t pc_fft_spectra_bytes(const pc_fft *f, pc_dtype dt)
{
    return f->ntr * f->ntc * spec_stride(f, dt);
}


size_t pc_fft_work_bytes(const pc_plan *pl)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    /* A group's kernel spectra, the product (c2r destroys it) and the real
     * block. */
    return (f->kg + 1) * align64(spec_bytes(f, dt)) +
           align64(real_bytes(f, dt));
}

/* Plans an r2c and a c2r of P x Q on buffers of our own. */
static int make_plans(pc_fft *f, pc_dtype dt, unsigned flags)
{
    void *re = pc_alloc(real_bytes(f, dt)), *sp = pc_alloc(spec_bytes(f, dt));
    int st = PC_OK;
    if (!re || !sp) {
        st = pc_error(PC_ENOMEM, "cannot allocate FFT planning buffers");
        goto done;
    }
    pthread_mutex_lock(&planner);
    if (dt == PC_F32) {
        f->r2c = fftwf_plan_dft_r2c_2d((int)f->P, (int)f->Q, re, sp, flags);
        f->c2r = fftwf_plan_dft_c2r_2d((int)f->P, (int)f->Q, sp, re, flags);
    } else {
        f->r2c = fftw_plan_dft_r2c_2d((int)f->P, (int)f->Q, re, sp, flags);
        f->c2r = fftw_plan_dft_c2r_2d((int)f->P, (int)f->Q, sp, re, flags);
    }
    pthread_mutex_unlock(&planner);
    if (!f->r2c || !f->c2r)
        st = pc_error(PC_ESYS, "FFTW could not plan a %zux%zu transform%s",
                      f->P, f->Q, (flags & FFTW_WISDOM_ONLY) ?
                      " from the parent's wisdom" : "");
done:
    pc_free(re);
    pc_free(sp);
    return st;
}

void pc_fft_destroy(pc_fft *f, pc_dtype dt)
{
    pthread_mutex_lock(&planner);
    if (dt == PC_F32) {
        if (f->r2c)
            fftwf_destroy_plan(f->r2c);
        if (f->c2r)
            fftwf_destroy_plan(f->c2r);
    } else {
        if (f->r2c)
            fftw_destroy_plan(f->r2c);
        if (f->c2r)
            fftw_destroy_plan(f->c2r);
    }
    pthread_mutex_unlock(&planner);
    f->r2c = f->c2r = NULL;
}

/* The tiling for transform size P x Q, or none if it is too small. */
static bool tiling(pc_fft *f, const pc_plan *pl, size_t P, size_t Q)
{
    if (P < pl->krows || Q < pl->kcols)
        return false;
    f->P = P;
    f->Q = Q;
    f->qh = Q / 2 + 1;
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

static void exec_c2r(const pc_fft *f, pc_dtype dt, void *in, void *out)
{
    if (dt == PC_F32)
        fftwf_execute_dft_c2r(f->c2r, in, out);
    else
        fftw_execute_dft_c2r(f->c2r, in, out);
}

static void exec_r2c(const pc_fft *f, pc_dtype dt, void *in, void *out)
{
    if (dt == PC_F32)
        fftwf_execute_dft_r2c(f->r2c, in, out);
    else
        fftw_execute_dft_r2c(f->r2c, in, out);
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
    if (x && h && c && r && make_plans(f, dt, FFTW_ESTIMATE) == PC_OK) {
        /* Batches of a few tiles: one small tile takes microseconds, too
         * short to time alone. The best of several batches. */
        int batch = (int)(1 + 16384 / (f->P * f->Q));
        double start = pc_now();
        for (int rep = 0; rep < 5 && (rep < 2 || pc_now() - start < 0.02); rep++) {
            double t0 = pc_now();
            for (int i = 0; i < batch; i++)
                for (int kk = 0; kk < G; kk++) {
                    multiply(dt, x, (char *)h + kk * ss, c, f->P * f->qh);
                    exec_c2r(f, dt, c, r);
                }
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
    return best;
}

/* Transform sizes worth trying: square tiles of FFTW-friendly sizes that
 * keep most of their outputs, and the whole matrix in one transform.
 * Measured here: tiles of 128-160 win for 10x10 kernels, 256 for 64x64,
 * the whole matrix when the kernel is large next to it. */
size_t pc_fft_candidates(const pc_plan *pl, pc_fft *c)
{
    static const size_t sizes[] = {32, 48, 64, 96, 128, 160, 192, 256, 320,
                                   384, 512, 640, 768, 1024, 1536, 2048};
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
    pl->fft.r2c = pl->fft.c2r = NULL;
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
        memcpy(d + r * f->Q * esz,
               (const char *)pl->pad + ((r0 + r) * pl->pstride + c0) * esz,
               n * esz);
    }
}

void pc_fft_spectra(pc_plan *pl)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    void *block = pc_alloc(real_bytes(f, dt));
    for (size_t ti = 0; ti < f->ntr; ti++)
        for (size_t tj = 0; tj < f->ntc; tj++) {
            load_block(pl, ti, tj, block);
            exec_r2c(f, dt, block,
                     (char *)pl->spectra + (ti * f->ntc + tj) * spec_stride(f, dt));
        }
    pc_free(block);
}

/* Kernel k's spectrum, scaled by 1/(P*Q) so the inverse needs no pass of
 * its own. The plan keeps kernels flipped; convolution wants them as
 * given. */
static void kernel_spectrum(const pc_plan *pl, size_t k, void *real, void *spec)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    size_t kh = pl->krows, kw = pl->kcols, taps = kh * kw;
    double scale = 1.0 / ((double)f->P * (double)f->Q);
    memset(real, 0, real_bytes(f, dt));
    for (size_t a = 0; a < kh; a++)
        for (size_t b = 0; b < kw; b++) {
            size_t t = k * taps + (taps - 1 - (a * kw + b));
            if (dt == PC_F32)
                ((float *)real)[a * f->Q + b] =
                    (float)(((const float *)pl->kern)[t] * scale);
            else
                ((double *)real)[a * f->Q + b] =
                    ((const double *)pl->kern)[t] * scale;
        }
    exec_r2c(f, dt, real, spec);
}

void pc_fft_kernels(const pc_plan *pl, size_t k0, size_t nk, void *work)
{
    const pc_fft *f = &pl->fft;
    size_t sstride = align64(spec_bytes(f, pl->p.dtype));
    char *real = (char *)work + (f->kg + 1) * sstride;
    for (size_t kk = 0; kk < nk; kk++)
        kernel_spectrum(pl, k0 + kk, real, (char *)work + kk * sstride);
}

size_t pc_fft_tile_row(const pc_plan *pl, size_t ti, size_t nk,
                       char *const *out, void *work)
{
    const pc_fft *f = &pl->fft;
    pc_dtype dt = pl->p.dtype;
    size_t esz = pc_dtype_size(dt), row_bytes = pl->ocols * esz;
    size_t sstride = align64(spec_bytes(f, dt));
    /* work: the group's kernel spectra, the product, the real block. */
    char *kspec = work;
    char *prod = kspec + f->kg * sstride;
    char *real = prod + sstride;
    size_t i0 = ti * f->Tr;
    size_t nr = pl->orows - i0 < f->Tr ? pl->orows - i0 : f->Tr;
    for (size_t tj = 0; tj < f->ntc; tj++) {
        const char *x = (const char *)pl->spectra +
                        (ti * f->ntc + tj) * spec_stride(f, dt);
        size_t j0 = tj * f->Tc;
        size_t nc = pl->ocols - j0 < f->Tc ? pl->ocols - j0 : f->Tc;
        for (size_t kk = 0; kk < nk; kk++) {
            multiply(dt, x, kspec + kk * sstride, prod, f->P * f->qh);
            exec_c2r(f, dt, prod, real);
            for (size_t r = 0; r < nr; r++)
                memcpy(out[kk] + r * row_bytes + j0 * esz,
                       real + ((pl->krows - 1 + r) * f->Q + pl->kcols - 1) * esz,
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
