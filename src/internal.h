/* Declarations shared by the library's files; not part of the public API. */
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#include "parconv.h"

#include <stdbool.h>

/* Readable zero columns after each padded row, so vector loads of the last
 * block of a row may run past its end (direct_tmpl.h reads at most one
 * vector less one element past it: 15 floats). */
#define PC_SPARE 32

/* The direct kernels of one ISA and dtype (direct_tmpl.h). rows[kk] is
 * output row i of kernel set*2*lanes + kk, or NULL for "not wanted". */
typedef struct {
    void (*set2)(const pc_plan *pl, size_t set, size_t i, void *const *rows);
    void (*set1)(const pc_plan *pl, size_t set, size_t i, void *const *rows);
    /* Kernels k..k+m-1 (1 <= m <= multi_max), rows[0..m-1] all wanted. */
    void (*multi)(const pc_plan *pl, size_t k, int m, size_t i, void *const *rows);
    /* Register-only FMA loop for the ceiling: returns the flops done, its
     * result added to *sink so nothing is optimised away. */
    double (*fma_loop)(long iters, double seed, double *sink);
    int lanes, multi_max;
} pc_direct_fns;

/* Per ISA and dtype; NULL where not built or not supported (direct.c). */
const pc_direct_fns *pc_direct_lookup(pc_isa isa, pc_dtype dtype);

/* FFT set-up of a plan (fft.c). */
typedef struct {
    size_t P, Q, qh;       /* transform size; qh = Q/2+1 complex columns */
    size_t Tr, Tc;         /* output tile */
    size_t ntr, ntc;       /* tiles down and across */
    size_t kg;             /* kernels taken together against each tile */
    void *r2c, *c2r;       /* fftw_plan or fftwf_plan, process-local */
    double tile_seconds;   /* measured per kernel when the size was chosen */
    double plan_seconds;
} pc_fft;

/* The plan. Everything a worker needs to compute any kernel: the padded
 * matrix, the flipped kernels, and the kernels packed for the set kernel,
 * all in the compute dtype. A procs worker builds a view of the same
 * fields over the shared mapping. */
struct pc_plan {
    pc_conv_params p;
    pc_isa isa;               /* resolved, never AUTO */
    size_t rows, cols;        /* the matrix */
    size_t count, krows, kcols;
    size_t orows, ocols;      /* one output plane */
    size_t prows, pcols;      /* the padded matrix: orows+kh-1, ocols+kw-1 */
    size_t pstride;           /* elements between padded rows */
    size_t lanes;             /* kernels per vector */
    size_t nsets2, nsets1;    /* sets of 2*lanes and of lanes kernels */
    size_t first_single;      /* kernels from here on go through the multi kernel */
    void *pad;                /* prows x pstride, dtype */
    void *kern;               /* count x krows x kcols, flipped, dtype */
    void *kpack;              /* sets: [set][p][q][group][lane], dtype */
    const pc_direct_fns *fns;
    pc_method method;         /* resolved, never AUTO */
    double est_direct, est_fft; /* the cost model's seconds per kernel */
    pc_fft fft;
    void *spectra;            /* FFT: every input tile's spectrum */
    const char *wisdom;       /* FFT: the planner's wisdom, for workers */
    /* pad, kern and kpack live in one shared mapping (a memfd), headed by
     * a pc_plan_header, so procs workers map the plan instead of copying
     * it. owns: this plan created the mapping and unmaps it. */
    char *blob;
    size_t blob_bytes;
    int blob_fd;
    bool owns;
};

/* The head of a plan's shared mapping: everything a worker process needs
 * to rebuild a view of the plan: the plan itself, its process-local parts
 * (pointers, FFTW plans, descriptor) cleared, and where each array lies.
 * Same executable on both sides, so the layout needs no versioning beyond
 * the size check. */
typedef struct {
    char magic[8];
    size_t header_bytes;
    struct pc_plan plan;
    size_t pad_off, kern_off, kpack_off, spectra_off, wisdom_off, total;
} pc_plan_header;

/* A plan over a mapping made by pc_plan_create (in another process). The
 * view owns nothing. */
int pc_plan_view(pc_plan *plan, char *blob, size_t bytes);

/* A memfd of the given size mapped shared and read-write, its descriptor
 * at 10 or above (see strategy_procs.c). */
int pc_shm_map(const char *name, size_t bytes, int *fd, void **base);

size_t pc_plan_pad_bytes(const pc_plan *plan);
size_t pc_plan_kern_bytes(const pc_plan *plan);
size_t pc_plan_kpack_bytes(const pc_plan *plan);
/* Sets fns from isa and dtype (after the fields are filled in). */
int pc_plan_bind(pc_plan *plan);

/* Where results go. rowhash[k * orows + i] receives the checksum of row
 * i of kernel k; with an arena the rows are also kept there (kernel k at
 * arena + (k - k0) * plane), or, in a procs worker, written into the
 * arena's memfd at that offset (arena_fd; see pc_sink_put); one_plane, if
 * set, takes the rows of kernel one_k, the only one computed (FFT). */
typedef struct {
    char *arena;
    int arena_fd;       /* >= 0: rows go to this file instead of arena */
    int *put_errno;     /* with arena_fd: set when a write fails */
    char *one_plane;
    size_t one_k;
    uint64_t *rowhash;
    size_t k0, k1;   /* the kernels to compute; arena slot of k is k - k0 */
    pc_run_result *res; /* procs: where restarts are told */
    const volatile int *cancel; /* stop early when it becomes non-zero */
} pc_sink;

/* Work comes in units: output rows of every kernel (direct), or one tile
 * row of a group of kernels (FFT, group-major). Workers take even shares
 * in order. */
size_t pc_plan_units(const pc_plan *plan, const pc_sink *sink);
static inline void pc_units_of(const pc_plan *plan, const pc_sink *sink,
                               unsigned w, unsigned n, size_t *u0, size_t *u1)
{
    size_t U = pc_plan_units(plan, sink);
    *u0 = U * w / n;
    *u1 = U * (w + 1) / n;
}

/* Scratch for one worker (64-aligned). */
size_t pc_scratch_bytes(const pc_plan *plan);

/* Units [u0, u1) of the plan's method. */
void pc_exec_units(const pc_plan *plan, size_t u0, size_t u1,
                   const pc_sink *sink, void *scratch);
/* Reads one byte of each page of the plan that units [u0, u1) read, so a
 * worker process takes those pages before it starts the clock. */
void pc_plan_touch(const pc_plan *plan, size_t u0, size_t u1);

/* With sink->arena_fd: rows [i, i+n) of kernel k, stride bytes apart at
 * src, into the arena file (n <= PC_STEP_ROWS unless stride is
 * row_bytes). */
void pc_sink_put(const pc_sink *sink, size_t k, size_t i, size_t n,
                 size_t row_bytes, size_t plane, const void *src, size_t stride);

/* Direct output rows per step of a worker's share. */
#define PC_STEP_ROWS 8

/* Where the step of a worker's share that starts at unit u ends: 8 rows
 * for direct (the input rows they read stay in cache across the kernel
 * sets); for FFT the rest of the kernel group, whose spectra a step
 * computes once. */
size_t pc_exec_step_end(const pc_plan *plan, size_t u, size_t u1);

/* A worker's share [u0, u1), a step at a time so that a cancel is seen
 * soon; false if it was cancelled. */
static inline bool pc_exec_share(const pc_plan *plan, size_t u0, size_t u1,
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

/* Direct: rows [r0, r1) of every kernel. */
void pc_exec_rows(const pc_plan *plan, size_t r0, size_t r1,
                  const pc_sink *sink, void *scratch);
/* Direct, one kernel, all rows. */
void pc_direct_execute(const pc_plan *plan, size_t k, void *out);

/* fft.c */
size_t pc_fft_good_size(size_t n);
int pc_fft_choose(const pc_plan *plan, pc_fft *out);
/* The model's FFT work per kernel (P*Q*log2(P*Q) units) of the best
 * tiling under the model, which goes to *best. */
double pc_fft_model(const pc_plan *plan, pc_fft *best);
int pc_fft_prepare(pc_plan *plan, const char *wisdom_path);
void pc_fft_destroy(pc_fft *f, pc_dtype dtype);
char *pc_fft_export_wisdom(pc_dtype dtype);
int pc_fft_worker_plans(pc_plan *plan, const char *wisdom);
size_t pc_fft_spectra_bytes(const pc_fft *f, pc_dtype dtype);
void pc_fft_spectra(pc_plan *plan);
size_t pc_fft_scratch_bytes(const pc_plan *plan);
size_t pc_fft_units(const pc_plan *plan, const pc_sink *sink);
void pc_fft_exec_units(const pc_plan *plan, size_t u0, size_t u1,
                       const pc_sink *sink, void *scratch);
int pc_fft_execute(const pc_plan *plan, size_t k, void *out);

/* Strategies: one file each, one signature (strategy_*.c). times[2w]
 * receives pc_now() when worker w begins computing, times[2w+1] when it
 * has finished. */
typedef int (*pc_strategy_fn)(const pc_plan *plan, const pc_run_params *rp,
                              const pc_sink *sink, unsigned workers,
                              double *times);
int pc_strategy_serial(const pc_plan *, const pc_run_params *, const pc_sink *,
                       unsigned, double *);
int pc_strategy_procs(const pc_plan *, const pc_run_params *, const pc_sink *,
                      unsigned, double *);
int pc_strategy_threads(const pc_plan *, const pc_run_params *, const pc_sink *,
                        unsigned, double *);
int pc_strategy_omp(const pc_plan *, const pc_run_params *, const pc_sink *,
                    unsigned, double *);

/* Checked size arithmetic: returns false on overflow. */
static inline bool pc_mul_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}
static inline bool pc_add_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

/* 64-byte aligned, zeroed memory. */
void *pc_alloc(size_t bytes);
/* Takes every page of [p, p+bytes) for this process now (a write each),
 * so that the first touches are not paid inside a timed region; -1 if
 * the memory is not there. */
int pc_prefault(void *p, size_t bytes);
/* Touches one byte of each page, reading it or writing it back. */
void pc_touch(void *p, size_t bytes, bool write);
void pc_free(void *p);

#endif
