/* The lowest layers' private helpers (arrays.c, shm.c): checked size
 * arithmetic, aligned memory, shared mappings. Not part of the API.
 *
 * The library's private headers follow its layers, each including the one
 * below: base.h, plan.h (data layout), direct.h and fft.h (kernels),
 * exec.h (executor and planner), strategy.h. A file includes the header
 * of its own layer, so it sees nothing above it. */
#ifndef PC_BASE_H
#define PC_BASE_H

#include "parconv.h"

#include <sched.h>
#include <stdbool.h>

/* Checked size arithmetic: returns false on overflow. */
static inline bool pc_mul_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}
static inline bool pc_add_ok(size_t a, size_t b, size_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

/* n rounded up to a whole number of 64-byte lines. */
static inline size_t pc_align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
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

/* sysinfo.c: the CPUs this process may use (see pc_cpu_info's affinity),
 * a CPU_ALLOC'd set of *size bytes; NULL if it cannot be had. */
cpu_set_t *pc_process_cpus(size_t *size);
/* Lets the calling thread run on all of them where the OpenMP runtime has
 * bound it to one (OMP_PROC_BIND): what it starts (threads, processes)
 * inherits its mask. Returns the mask it had, for pc_thread_restore, or
 * NULL if nothing changed. */
cpu_set_t *pc_thread_widen(size_t *size);
void pc_thread_restore(cpu_set_t *old, size_t size);

/* A memfd of the given size mapped shared and read-write, its descriptor
 * at 10 or above (see strategy_procs.c). */
int pc_shm_map(const char *name, size_t bytes, int *fd, void **base);

#endif
