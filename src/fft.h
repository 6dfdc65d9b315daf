/* FFT convolution with FFTW3 (fft.c): choosing and planning the transform
 * size, the matrix's tile spectra, and the work of one tile row for a
 * group of kernels. Where the rows go is the executor's business (exec.c).
 * Not part of the API. */
#ifndef PC_FFT_H
#define PC_FFT_H

#include "plan.h"

/* The most kernels a group takes together against each tile. */
#define PC_FFT_KGROUP 8
/* The most transform sizes tried for a plan. */
#define PC_FFT_MAX_CANDIDATES 24

size_t pc_fft_good_size(size_t n);
/* The transform sizes worth trying for the plan's shapes, tiled (at most
 * PC_FFT_MAX_CANDIDATES); returns how many. */
size_t pc_fft_candidates(const pc_plan *plan, pc_fft *c);
/* The plan's tiling: the size the parameters pin, else with fft_model the
 * model's best, else the candidate whose measured time per kernel is
 * least. */
int pc_fft_choose(const pc_plan *plan, pc_fft *out);
/* The model's FFT work per kernel (P*Q*log2(P*Q) units) of the best
 * tiling under the model, which goes to *best. */
double pc_fft_model(const pc_plan *plan, pc_fft *best);
/* FFTW plans for the chosen size (importing and exporting the wisdom
 * file, if any); from the parent's wisdom in a procs worker. */
int pc_fft_prepare(pc_plan *plan, const char *wisdom_path);
int pc_fft_worker_plans(pc_plan *plan, const char *wisdom);
void pc_fft_destroy(pc_fft *f, pc_dtype dtype);
char *pc_fft_export_wisdom(pc_dtype dtype);
/* Every input tile's spectrum, into plan->spectra. */
size_t pc_fft_spectra_bytes(const pc_fft *f, pc_dtype dtype);
void pc_fft_spectra(pc_plan *plan);

/* The FFT's own scratch (64-aligned): a group's kernel spectra, the block
 * between the two passes of a transform, a strip of the product, and a
 * real block. */
size_t pc_fft_work_bytes(const pc_plan *plan);
/* The spectra of kernels k0 .. k0+nk-1 (nk <= the plan's group) into
 * work. */
void pc_fft_kernels(const pc_plan *plan, size_t k0, size_t nk, void *work);
/* Tile row ti for the nk kernels whose spectra are in work: out[kk]
 * receives that kernel's output rows from ti*Tr on, a row of ocols
 * samples each, contiguous. Returns the number of rows (Tr, or fewer at
 * the bottom). */
size_t pc_fft_tile_row(const pc_plan *plan, size_t ti, size_t nk,
                       char *const *out, void *work);
/* Kernel k alone, all rows, bit for bit as the batch path computes it. */
int pc_fft_execute(const pc_plan *plan, size_t k, void *out);

#endif
