/* threads: POSIX threads, each computing its own block of output rows of
 * every kernel (rows, not kernels: 100 kernels in sets of 16 would split
 * badly over 2 threads). */
#include "strategy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const pc_plan *plan;
    const pc_sink *sink;
    unsigned index, count;
    double *times;
    int status;
} job;

static void *work(void *arg)
{
    job *j = arg;
    void *scratch = pc_alloc(pc_scratch_bytes(j->plan));
    if (!scratch) {
        j->status = PC_ENOMEM;
        return NULL;
    }
    size_t r0, r1;
    pc_units_of(j->plan, j->sink, j->index, j->count, &r0, &r1);
    j->times[2 * j->index] = pc_now();
    pc_exec_share(j->plan, r0, r1, j->sink, scratch);
    j->times[2 * j->index + 1] = pc_now();
    pc_free(scratch);
    j->status = PC_OK;
    return NULL;
}

int pc_strategy_threads(const pc_plan *plan, const pc_run_params *rp,
                        const pc_sink *sink, unsigned workers, double *times)
{
    (void)rp;
    job *jobs = calloc(workers, sizeof *jobs);
    pthread_t *tids = calloc(workers, sizeof *tids);
    int st = PC_OK;
    unsigned n = 0;
    /* The threads inherit this thread's mask: all of the process's CPUs,
     * not the one OpenMP's binding may have given it. */
    size_t mask_size = 0;
    cpu_set_t *mask = pc_thread_widen(&mask_size);
    if (!jobs || !tids) {
        st = pc_error(PC_ENOMEM, "cannot allocate %u thread records", workers);
        goto done;
    }
    for (; n < workers; n++) {
        jobs[n] = (job){plan, sink, n, workers, times, PC_OK};
        int e = pthread_create(&tids[n], NULL, work, &jobs[n]);
        if (e) {
            st = pc_error(PC_ESYS, "cannot start thread %u of %u: %s", n,
                          workers, strerror(e));
            break;
        }
    }
    for (unsigned t = 0; t < n; t++) {
        pthread_join(tids[t], NULL);
        if (jobs[t].status && !st)
            st = pc_error(jobs[t].status,
                          "thread %u could not allocate its row buffer", t);
    }
done:
    pc_thread_restore(mask, mask_size);
    free(jobs);
    free(tids);
    return st;
}
