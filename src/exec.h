/* The executor layer: the batch executor with its method dispatch and row
 * sink (exec.c), and the planner that assembles plans from the layout and
 * the kernels' set-up (planner.c). Not part of the API. */
#ifndef PC_EXEC_H
#define PC_EXEC_H

#include "direct.h"
#include "fft.h"

/* Where results go. rowhash[k * orows + i] receives the checksum of row
 * i of kernel k; with an arena the rows are also kept there (kernel k at
 * arena + (k - k0) * plane), or, in a procs worker, written into the
 * arena's memfd at that offset (arena_fd). */
typedef struct {
    char *arena;
    int arena_fd;       /* >= 0: rows go to this file instead of arena */
    int *put_errno;     /* with arena_fd: set when a write fails */
    uint64_t *rowhash;
    size_t k0, k1;   /* the kernels to compute; arena slot of k is k - k0 */
    pc_run_result *res; /* procs: where restarts are told; omp: the
                           team it got */
    const volatile int *cancel; /* stop early when it becomes non-zero */
} pc_sink;

/* Direct output rows per step of a worker's share. */
#define PC_STEP_ROWS 8

/* Work comes in units: output rows of every kernel (direct), or one tile
 * row of a group of kernels (FFT, group-major). Workers take even shares
 * in order: worker w of n takes units [*u0, *u1). */
size_t pc_plan_units(const pc_plan *plan, const pc_sink *sink);
void pc_units_of(const pc_plan *plan, const pc_sink *sink, unsigned w,
                 unsigned n, size_t *u0, size_t *u1);

/* Scratch for one worker (64-aligned). */
size_t pc_scratch_bytes(const pc_plan *plan);

/* Units [u0, u1) of the plan's method. */
void pc_exec_units(const pc_plan *plan, size_t u0, size_t u1,
                   const pc_sink *sink, void *scratch);
/* Where the step of a worker's share that starts at unit u ends: 8 rows
 * for direct (the input rows they read stay in cache across the kernel
 * sets); for FFT the rest of the kernel group, whose spectra a step
 * computes once. */
size_t pc_exec_step_end(const pc_plan *plan, size_t u, size_t u1);
/* A worker's share [u0, u1), a step at a time so that a cancel is seen
 * soon; false if it was cancelled. */
bool pc_exec_share(const pc_plan *plan, size_t u0, size_t u1,
                   const pc_sink *sink, void *scratch);
/* Reads one byte of each page of the plan that units [u0, u1) read, so a
 * worker process takes those pages before it starts the clock. */
void pc_plan_touch(const pc_plan *plan, size_t u0, size_t u1);

/* planner.c: a plan over a mapping made by pc_plan_create (in another
 * process), its kernels bound and its FFTW plans made. The view owns
 * nothing. */
int pc_plan_view(pc_plan *plan, char *blob, size_t bytes);

#endif
