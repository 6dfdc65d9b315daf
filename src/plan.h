/* The plan's data layout (plan.c): the plan structure, its shared mapping,
 * and the functions that size, fill and map it. Not part of the API.
 *
 * The types of the kernels' set-up (pc_direct_fns, pc_fft) are declared
 * here because the plan carries them; the functions that fill them in
 * live a layer up (direct.c, fft.c) and are called by the planner
 * (planner.c), never from here. */
#ifndef PC_PLAN_H
#define PC_PLAN_H

#include "base.h"

/* Readable zero columns after each padded row, so vector loads of the last
 * block of a row may run past its end (direct_tmpl.h reads at most one
 * vector less one element past it: 15 floats). */
#define PC_SPARE 32

/* The direct kernels of one ISA and dtype (direct_tmpl.h). */
typedef struct {
    /* Output row i of kernels k0..k0+nk-1 (nk <= PC_GROUP_MAX): rows[kk]
     * receives kernel k0+kk's, or is NULL for "not wanted" (and then not
     * computed). Each kernel's values do not depend on which others are
     * computed with it. */
    void (*kernels)(const pc_plan *pl, size_t k0, size_t nk, size_t i,
                    void *const *rows);
    /* Register-only FMA loop for the ceiling: returns the flops done, its
     * result added to *sink so nothing is optimised away. */
    double (*fma_loop)(long iters, double seed, double *sink);
    int lanes; /* values per vector */
} pc_direct_fns;

/* The most kernels a plan computes together (its group). */
#define PC_GROUP_MAX 128

/* FFT set-up of a plan (fft.c). */
typedef struct {
    size_t P, Q, qh;       /* transform size; qh = Q/2+1 complex columns */
    size_t qs;             /* qh rounded up to whole strips (fft.c) */
    size_t Tr, Tc;         /* output tile */
    size_t ntr, ntc;       /* tiles down and across */
    size_t kg;             /* kernels taken together against each tile */
    void *plans[5];        /* fftw_plan or fftwf_plan, process-local */
    double tile_seconds;   /* measured per kernel when the size was chosen */
    double plan_seconds;
} pc_fft;

/* The plan. Everything a worker needs to compute any kernel: the padded
 * matrix and the flipped kernels, in the compute dtype (and an FFT plan's
 * tile spectra). A procs worker builds a view of the same
 * fields over the shared mapping. */
struct pc_plan {
    pc_conv_params p;
    pc_isa isa;               /* resolved, never AUTO */
    size_t rows, cols;        /* the matrix */
    size_t count, krows, kcols;
    size_t orows, ocols;      /* one output plane */
    size_t prows, pcols;      /* the padded matrix: orows+kh-1, ocols+kw-1 */
    size_t pstride;           /* elements between padded rows */
    /* Kernels computed together, a row of each per call: two vectors'
     * worth (16 f64 or 32 f32 with AVX-512), the quantum of a batch and
     * of a step's scratch rows. */
    size_t group;
    void *pad;                /* prows x pstride, dtype */
    void *kern;               /* count x krows x kcols, flipped, dtype */
    const pc_direct_fns *fns;
    pc_method method;         /* resolved, never AUTO */
    double est_direct, est_fft; /* the cost model's seconds per kernel */
    /* auto near the crossover: seconds per kernel measured on the plan's
     * own inputs (one core, best of interleaved samples), and what the
     * measurement took; 0 when the model alone chose. */
    double trial_direct, trial_fft, trial_seconds;
    pc_fft fft;
    void *spectra;            /* FFT: every input tile's spectrum */
    const char *wisdom;       /* FFT: the planner's wisdom, for workers */
    /* pad, kern and spectra live in one shared mapping (a memfd), headed by
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
 * The worker may be another executable (the installed parconv, see
 * pc_run_params.worker_exe), so the library's version is checked too;
 * beyond that the layout needs no versioning: same code on both sides. */
typedef struct {
    char magic[8];
    char version[16];
    size_t header_bytes;
    struct pc_plan plan;
    size_t pad_off, kern_off, spectra_off, wisdom_off, total;
} pc_plan_header;

/* Checks the parameters and shapes (PC_EUSAGE) and fills in the fields of
 * a zeroed plan they give; the ISA is left for the caller to resolve. */
int pc_plan_init(pc_plan *pl, const pc_conv_params *p, size_t rows,
                 size_t cols, size_t count, size_t krows, size_t kcols);
/* The output and padded shapes from the fields pc_plan_init set. */
int pc_plan_geometry(pc_plan *pl);
/* Whether the inputs and the fill value the plan would use are all finite
 * (an FFT spreads NaN and Inf over whole tiles); the matrix alone (with
 * the fill value) for pc_plan_set_matrix. */
bool pc_plan_finite(const pc_plan *pl, const pc_matrix_view *m,
                    const pc_bank *b);
bool pc_plan_matrix_finite(const pc_plan *pl, const pc_matrix_view *m);

size_t pc_plan_pad_bytes(const pc_plan *plan);
size_t pc_plan_kern_bytes(const pc_plan *plan);
/* Where each part of the shared mapping goes, each on its own page, for
 * spectra and wisdom of the given sizes (from the FFT set-up). */
void pc_plan_layout(const pc_plan *pl, size_t spectra_bytes,
                    size_t wisdom_bytes, pc_plan_header *h);
/* Points the plan's arrays into a mapping laid out as h says. */
void pc_plan_attach(pc_plan *pl, char *blob, size_t bytes,
                    const pc_plan_header *h);
/* The padded matrix (again for each matrix of a stack); the flipped
 * kernels (once). */
void pc_plan_fill_matrix(pc_plan *pl, const pc_matrix_view *m);
void pc_plan_fill_kernels(pc_plan *pl, const pc_bank *b);
/* Writes the header (h from pc_plan_layout) at the head of the mapping. */
void pc_plan_seal(const pc_plan *pl, pc_plan_header *h);
/* Reads the header of a mapping made by pc_plan_create (in another
 * process) and attaches the plan to it; the caller binds the kernels. */
int pc_plan_open(pc_plan *pl, char *blob, size_t bytes, pc_plan_header *h);

#endif
