/* omp: an OpenMP parallel region over blocks of output rows, the same
 * blocks the threads strategy uses. */
#include "strategy.h"

#include <omp.h>

int pc_strategy_omp(const pc_plan *plan, const pc_run_params *rp,
                    const pc_sink *sink, unsigned workers, double *times)
{
    (void)rp;
    int failed = 0;
    unsigned team = workers;
#pragma omp parallel num_threads(workers) reduction(| : failed)
    {
        /* The runtime may give fewer threads than asked (OMP_THREAD_LIMIT,
         * OMP_DYNAMIC, a nested region): each thread takes its share of
         * the team it really has, so every row is computed whatever its
         * size, and the run reports that size. */
        unsigned n = (unsigned)omp_get_num_threads();
        unsigned t = (unsigned)omp_get_thread_num();
        if (t == 0)
            team = n;
        void *scratch = pc_alloc(pc_scratch_bytes(plan));
        /* A thread without a buffer skips its block and the run reports
         * the failure. */
        failed = !scratch;
        size_t r0, r1;
        pc_units_of(plan, sink, t, n, &r0, &r1);
        times[2 * t] = pc_now();
        if (scratch)
            pc_exec_share(plan, r0, r1, sink, scratch);
        times[2 * t + 1] = pc_now();
        pc_free(scratch);
    }
    sink->res->workers = team;
    if (failed)
        return pc_error(PC_ENOMEM, "an OpenMP thread could not allocate its "
                                   "row buffer");
    return PC_OK;
}
