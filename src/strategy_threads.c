/* threads: POSIX threads, kernel k to thread k mod T (the original's
 * split()). */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const pc_plan *plan;
    const pc_run_params *rp;
    unsigned index, count;
    int status;
} job;

static void *work(void *arg)
{
    job *j = arg;
    void *scratch = NULL;
    if (!j->rp->arena && !(scratch = pc_alloc(pc_plan_out_bytes(j->plan)))) {
        j->status = PC_ENOMEM;
        return NULL;
    }
    for (size_t k = j->index; k < j->plan->count; k += j->count)
        pc_do_kernel(j->plan, k, pc_plane_for(j->rp, j->plan, k, scratch),
                     j->rp->sums);
    pc_free(scratch);
    j->status = PC_OK;
    return NULL;
}

int pc_strategy_threads(const pc_plan *plan, const pc_run_params *rp,
                        unsigned workers)
{
    job *jobs = calloc(workers, sizeof *jobs);
    pthread_t *tids = calloc(workers, sizeof *tids);
    int st = PC_OK;
    unsigned started = 0;
    if (!jobs || !tids) {
        st = pc_error(PC_ENOMEM, "cannot allocate %u thread records", workers);
        goto done;
    }
    for (; started < workers; started++) {
        jobs[started] = (job){plan, rp, started, workers, PC_OK};
        int e = pthread_create(&tids[started], NULL, work, &jobs[started]);
        if (e) {
            st = pc_error(PC_ESYS, "cannot start thread %u of %u: %s", started,
                          workers, strerror(e));
            break;
        }
    }
    for (unsigned t = 0; t < started; t++) {
        pthread_join(tids[t], NULL);
        if (jobs[t].status && !st)
            st = pc_error(jobs[t].status,
                          "thread %u could not allocate its output plane", t);
    }
done:
    free(jobs);
    free(tids);
    return st;
}
