/* fft_floor: the least work of overlap-save per kernel on this machine, the
 * floor that parconv's FFT method is measured against (bench/bench_fft.sh).
 *
 * Workload (as bench_fft.sh's): a ROWSxCOLS f64 matrix, kernels of KHxKW,
 * mode full (the matrix padded by kh-1, kw-1 zeros on each side). Only the
 * shapes matter to the timing; the values are integers in [0,100) from a
 * fixed generator.
 *
 * Untimed: every input tile's spectrum (an FFTW_MEASURE r2c of each P x Q
 * block), the plans, the buffers. Timed, per group of G kernels, in one
 * OpenMP region with T threads (the -S omp worker count: OMP_NUM_THREADS,
 * else the usable CPUs):
 *   - per kernel: its taps, scaled by 1/(P*Q), written into a zeroed P x Q
 *     block and one r2c (the kernels of a group spread over the threads);
 *   - per tile (tiles spread over the threads) and per kernel of the group:
 *     the pointwise complex multiply of the tile's spectrum by the kernel's
 *     (the tile's spectrum is reused from cache by the G kernels), one c2r,
 *     and the copy of the tile's valid Tr x Tc outputs into the kernel's
 *     output plane.
 * That is all overlap-save must do; nothing is hashed or written out.
 * The figure is milliseconds per kernel, the best of R repetitions of the
 * whole bank, at the best tile size and group size found: every candidate
 * is first timed on a few groups, the best few then on the whole bank.
 *
 * --configs PxQ:G,... skips the screening and times those (bench_fft.sh
 * screens once, then gives each later round the best candidates found).
 *
 * Usage: fft_floor [-n RxC] [-s RxC] [-k K] [-t T] [-r R]
 *                  [--sizes PxQ,...] [--groups G,...] [--configs PxQ:G,...]
 *                  [--wisdom FILE] [--cpu] [-v]
 * Prints two lines: "floor MS ms/kernel PxQ group G threads T (best of R)"
 * and "configs PxQ:G,..." (the candidates timed on the whole bank).
 */
#include <errno.h>
#include <fftw3.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXC 64

typedef struct {
    size_t P, Q, qh, Tr, Tc, ntr, ntc;
} tiling;

typedef struct {
    size_t rows, cols, kh, kw, count;
    size_t prows, pcols, orows, ocols;
    double *pad;  /* the padded matrix, prows x pcols */
    double *kern; /* count x kh x kw */
} workload;

/* --cpu: the process's CPU time instead of wall time (for comparing
 * changes with one thread on a busy machine: time spent descheduled does
 * not count). */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *msg)
{
    fprintf(stderr, "fft_floor: %s\n", msg);
    exit(2);
}

static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > 100000)
        die("sizes and counts must be integers in 1..100000");
    return (size_t)v;
}

/* "RxC" or "N" (NxN). */
static void parse_shape(const char *s, size_t *r, size_t *c)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        die("shape too long");
    strcpy(buf, s);
    char *x = strchr(buf, 'x');
    if (x) {
        *x = 0;
        *r = parse_size(buf);
        *c = parse_size(x + 1);
    } else {
        *r = *c = parse_size(buf);
    }
}

/* A comma-separated list of shapes "RxC" (or "N"), each with ":G" when g
 * is given; b and g may be NULL. */
static size_t parse_list(const char *s, size_t *a, size_t *b, size_t *g,
                         size_t max)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        die("list too long");
    strcpy(buf, s);
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (n == max)
            die("list too long");
        char *colon = strchr(t, ':');
        if (!colon != !g)
            die(g ? "--configs takes PxQ:G,..." : "a list takes RxC,...");
        if (colon) {
            *colon = 0;
            g[n] = parse_size(colon + 1);
        }
        size_t r, c;
        parse_shape(t, &r, &c);
        a[n] = r;
        if (b)
            b[n] = c;
        n++;
    }
    return n;
}

static size_t cdiv(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

static size_t spec_stride(const tiling *t)
{
    /* 64-byte aligned, as the plans' buffers. */
    return (t->P * t->qh * 2 + 7) & ~(size_t)7;
}

/* Complex multiply, in real arithmetic (as parconv's), vectorised for the
 * widest unit the CPU has. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void multiply(const double *restrict a, const double *restrict b,
                     double *restrict o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double ar = a[2 * i], ai = a[2 * i + 1];
        double br = b[2 * i], bi = b[2 * i + 1];
        o[2 * i] = ar * br - ai * bi;
        o[2 * i + 1] = ar * bi + ai * br;
    }
}

static void make_workload(workload *w)
{
    w->prows = w->rows + 2 * (w->kh - 1);
    w->pcols = w->cols + 2 * (w->kw - 1);
    w->orows = w->rows + w->kh - 1;
    w->ocols = w->cols + w->kw - 1;
    w->pad = fftw_malloc(w->prows * w->pcols * sizeof(double));
    w->kern = fftw_malloc(w->count * w->kh * w->kw * sizeof(double));
    if (!w->pad || !w->kern)
        die("out of memory");
    memset(w->pad, 0, w->prows * w->pcols * sizeof(double));
    unsigned long long s = 42;
    for (size_t r = 0; r < w->rows; r++)
        for (size_t c = 0; c < w->cols; c++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            w->pad[(r + w->kh - 1) * w->pcols + c + w->kw - 1] =
                (double)((s >> 33) % 100);
        }
    for (size_t i = 0; i < w->count * w->kh * w->kw; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        w->kern[i] = (double)((s >> 33) % 100);
    }
}

/* Milliseconds per kernel of overlap-save over kernels [0, nk) at tiling t
 * with groups of G, one repetition. */
static double run_once(const workload *w, const tiling *t, size_t G, size_t nk,
                       fftw_plan r2c, fftw_plan c2r, const double *spectra,
                       double *kspec, double **planes, int threads)
{
    const size_t ss = spec_stride(t), ntiles = t->ntr * t->ntc;
    const double scale = 1.0 / ((double)t->P * (double)t->Q);
    double t0 = now();
#pragma omp parallel num_threads(threads)
    {
        double *real = fftw_malloc(t->P * t->Q * sizeof(double));
        double *prod = fftw_malloc(ss * sizeof(double));
        double *kreal = fftw_malloc(t->P * t->Q * sizeof(double));
        memset(kreal, 0, t->P * t->Q * sizeof(double));
        for (size_t k0 = 0; k0 < nk; k0 += G) {
            size_t g = nk - k0 < G ? nk - k0 : G;
#pragma omp for schedule(static)
            for (size_t kk = 0; kk < g; kk++) {
                const double *k = w->kern + (k0 + kk) * w->kh * w->kw;
                for (size_t a = 0; a < w->kh; a++)
                    for (size_t b = 0; b < w->kw; b++)
                        kreal[a * t->Q + b] =
                            k[w->kh * w->kw - 1 - (a * w->kw + b)] * scale;
                fftw_execute_dft_r2c(r2c, kreal, (fftw_complex *)(kspec + kk * ss));
            }
#pragma omp for schedule(dynamic, 1)
            for (size_t i = 0; i < ntiles; i++) {
                size_t ti = i / t->ntc, tj = i % t->ntc;
                size_t i0 = ti * t->Tr, j0 = tj * t->Tc;
                size_t nr = w->orows - i0 < t->Tr ? w->orows - i0 : t->Tr;
                size_t nc = w->ocols - j0 < t->Tc ? w->ocols - j0 : t->Tc;
                for (size_t kk = 0; kk < g; kk++) {
                    multiply(spectra + i * ss, kspec + kk * ss, prod, t->P * t->qh);
                    fftw_execute_dft_c2r(c2r, (fftw_complex *)prod, real);
                    for (size_t r = 0; r < nr; r++)
                        memcpy(planes[kk] + (i0 + r) * w->ocols + j0,
                               real + (w->kh - 1 + r) * t->Q + w->kw - 1,
                               nc * sizeof(double));
                }
            }
        }
        fftw_free(real);
        fftw_free(prod);
        fftw_free(kreal);
    }
    return (now() - t0) * 1e3 / (double)nk;
}

typedef struct {
    tiling t;
    size_t G;
    double ms;
} result;

/* Plans, tile spectra and buffers for tiling t; times groups of each size
 * in groups[] over nk kernels, best of reps; fills res[] (one per group). */
static void measure(const workload *w, const tiling *t, const size_t *groups,
                    size_t ngroups, size_t nk, int reps, int threads,
                    result *res)
{
    const size_t ss = spec_stride(t), ntiles = t->ntr * t->ntc;
    size_t gmax = 0;
    for (size_t i = 0; i < ngroups; i++)
        gmax = groups[i] > gmax ? groups[i] : gmax;
    double *re = fftw_malloc(t->P * t->Q * sizeof(double));
    double *spectra = fftw_malloc(ntiles * ss * sizeof(double));
    double *kspec = fftw_malloc(gmax * ss * sizeof(double));
    double **planes = malloc(gmax * sizeof *planes);
    if (!re || !spectra || !kspec || !planes)
        die("out of memory");
    for (size_t i = 0; i < gmax; i++) {
        planes[i] = fftw_malloc(w->orows * w->ocols * sizeof(double));
        if (!planes[i])
            die("out of memory");
        memset(planes[i], 0, w->orows * w->ocols * sizeof(double));
    }
    fftw_plan r2c = fftw_plan_dft_r2c_2d((int)t->P, (int)t->Q, re,
                                         (fftw_complex *)kspec, FFTW_MEASURE);
    fftw_plan c2r = fftw_plan_dft_c2r_2d((int)t->P, (int)t->Q,
                                         (fftw_complex *)kspec, re, FFTW_MEASURE);
    if (!r2c || !c2r)
        die("FFTW could not plan");
    /* The input tiles' spectra, untimed. */
    for (size_t ti = 0; ti < t->ntr; ti++)
        for (size_t tj = 0; tj < t->ntc; tj++) {
            memset(re, 0, t->P * t->Q * sizeof(double));
            size_t r0 = ti * t->Tr, c0 = tj * t->Tc;
            for (size_t r = 0; r < t->P && r0 + r < w->prows; r++) {
                size_t n = c0 < w->pcols ? w->pcols - c0 : 0;
                n = n > t->Q ? t->Q : n;
                memcpy(re + r * t->Q, w->pad + (r0 + r) * w->pcols + c0,
                       n * sizeof(double));
            }
            fftw_execute_dft_r2c(r2c, re,
                                 (fftw_complex *)(spectra + (ti * t->ntc + tj) * ss));
        }
    for (size_t gi = 0; gi < ngroups; gi++) {
        size_t n = nk < groups[gi] ? groups[gi] : nk / groups[gi] * groups[gi];
        double best = INFINITY;
        for (int r = 0; r < reps; r++) {
            double ms = run_once(w, t, groups[gi], n, r2c, c2r, spectra, kspec,
                                 planes, threads);
            best = ms < best ? ms : best;
        }
        res[gi] = (result){*t, groups[gi], best};
    }
    fftw_destroy_plan(r2c);
    fftw_destroy_plan(c2r);
    for (size_t i = 0; i < gmax; i++)
        fftw_free(planes[i]);
    free(planes);
    fftw_free(kspec);
    fftw_free(spectra);
    fftw_free(re);
}

static tiling make_tiling(const workload *w, size_t P, size_t Q)
{
    tiling t = {P, Q, Q / 2 + 1, P - w->kh + 1, Q - w->kw + 1, 0, 0};
    t.ntr = cdiv(w->orows, t.Tr);
    t.ntc = cdiv(w->ocols, t.Tc);
    return t;
}

static int by_ms(const void *a, const void *b)
{
    double x = ((const result *)a)->ms, y = ((const result *)b)->ms;
    return (x > y) - (x < y);
}

static int usable_cpus(void)
{
    const char *e = getenv("OMP_NUM_THREADS");
    if (e && *e)
        return (int)parse_size(e);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return omp_get_num_procs();
}

int main(int argc, char **argv)
{
    workload w = {.rows = 1000, .cols = 1000, .kh = 64, .kw = 64, .count = 100};
    /* FFTW-friendly sizes from 128 to 512, squares; the ones that leave
     * the least waste in the last tile row for 64x64 kernels on 1000x1000
     * (216, 280, 336, 420: 7, 5, 4, 3 tiles a side) among them. */
    size_t P[MAXC] = {128, 160, 192, 216, 256, 280, 320, 336, 384, 420, 432, 512};
    size_t Q[MAXC] = {128, 160, 192, 216, 256, 280, 320, 336, 384, 420, 432, 512};
    size_t nsizes = 12;
    size_t groups[MAXC] = {1, 2, 4, 8};
    size_t ngroups = 4;
    int threads = usable_cpus(), reps = 5, verbose = 0;
    const char *wisdom = NULL;
    size_t cP[MAXC], cQ[MAXC], cG[MAXC], nconf = 0;
    static const struct option longs[] = {
        {"sizes", required_argument, NULL, 'z'},
        {"groups", required_argument, NULL, 'g'},
        {"wisdom", required_argument, NULL, 'w'},
        {"configs", required_argument, NULL, 'c'},
        {"cpu", no_argument, NULL, 'u'},
        {0, 0, 0, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "n:s:k:t:r:v", longs, NULL)) != -1;) {
        switch (c) {
        case 'n': parse_shape(optarg, &w.rows, &w.cols); break;
        case 's': parse_shape(optarg, &w.kh, &w.kw); break;
        case 'k': w.count = parse_size(optarg); break;
        case 't': threads = (int)parse_size(optarg); break;
        case 'r': reps = (int)parse_size(optarg); break;
        case 'v': verbose = 1; break;
        case 'z': nsizes = parse_list(optarg, P, Q, NULL, MAXC); break;
        case 'g': ngroups = parse_list(optarg, groups, NULL, NULL, MAXC); break;
        case 'w': wisdom = optarg; break;
        case 'u': clock_id = CLOCK_PROCESS_CPUTIME_ID; break;
        case 'c': nconf = parse_list(optarg, cP, cQ, cG, MAXC); break;
        default:
            fprintf(stderr, "usage: fft_floor [-n RxC] [-s RxC] [-k K] [-t T] "
                            "[-r R] [--sizes PxQ,...] [--groups G,...] "
                            "[--configs PxQ:G,...] [--wisdom FILE] [--cpu] "
                            "[-v]\n");
            return 2;
        }
    }
    if (optind < argc)
        die("unexpected argument");
    if (wisdom)
        fftw_import_wisdom_from_filename(wisdom);
    make_workload(&w);
    result conf[MAXC];
    for (size_t i = 0; i < nconf; i++) {
        if (cP[i] < w.kh || cQ[i] < w.kw)
            die("a --configs size is smaller than the kernels");
        conf[i] = (result){make_tiling(&w, cP[i], cQ[i]), cG[i], INFINITY};
    }

    /* Screening: every size and group on a few groups' worth of kernels,
     * best of 2; then the best four on the whole bank, best of reps. */
    result res[MAXC * MAXC];
    size_t nres = 0, screen = w.count < 16 ? w.count : 16;
    for (size_t i = 0; i < nsizes && !nconf; i++) {
        if (P[i] < w.kh || Q[i] < w.kw)
            continue;
        tiling t = make_tiling(&w, P[i], Q[i]);
        measure(&w, &t, groups, ngroups, screen, 3, threads, res + nres);
        if (verbose)
            for (size_t g = 0; g < ngroups; g++)
                fprintf(stderr, "screen %zux%zu group %zu: %.3f ms/kernel\n",
                        t.P, t.Q, groups[g], res[nres + g].ms);
        nres += ngroups;
    }
    if (nconf) {
        memcpy(res, conf, nconf * sizeof *conf);
        nres = nconf;
    } else {
        qsort(res, nres, sizeof *res, by_ms);
    }
    if (!nres)
        die("no tile size fits the kernels");
    size_t top = nconf ? nconf : nres < 4 ? nres : 4;
    result best = {.ms = INFINITY};
    for (size_t i = 0; i < top; i++) {
        result r;
        measure(&w, &res[i].t, &res[i].G, 1, w.count, reps, threads, &r);
        if (verbose)
            fprintf(stderr, "final %zux%zu group %zu: %.3f ms/kernel\n", r.t.P,
                    r.t.Q, r.G, r.ms);
        if (r.ms < best.ms)
            best = r;
    }
    if (wisdom && !fftw_export_wisdom_to_filename(wisdom))
        fprintf(stderr, "fft_floor: cannot write wisdom file %s\n", wisdom);
    printf("floor %.4f ms/kernel %zux%zu group %zu threads %d (best of %d)\n",
           best.ms, best.t.P, best.t.Q, best.G, threads, reps);
    printf("configs");
    for (size_t i = 0; i < top; i++)
        printf("%c%zux%zu:%zu", i ? ',' : ' ', res[i].t.P, res[i].t.Q, res[i].G);
    printf("\n");
    fftw_free(w.pad);
    fftw_free(w.kern);
    return 0;
}
