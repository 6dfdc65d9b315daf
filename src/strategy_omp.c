/* omp: an OpenMP parallel loop over blocks of output rows, the same blocks
 * the threads strategy uses. */
#include "strategy.h"

int pc_strategy_omp(const pc_plan *plan, const pc_run_params *rp,
                    const pc_sink *sink, unsigned workers, double *times)
{
    (void)rp;
    int failed = 0;
#pragma omp parallel num_threads(workers) reduction(| : failed)
    {
        void *scratch = pc_alloc(pc_scratch_bytes(plan));
        failed = !scratch;
        /* Every thread meets the loop; one without a buffer skips its
         * block and the run reports the failure. */
#pragma omp for schedule(static, 1)
        for (unsigned w = 0; w < workers; w++) {
            size_t r0, r1;
            pc_units_of(plan, sink, w, workers, &r0, &r1);
            times[2 * w] = pc_now();
            if (scratch)
                pc_exec_share(plan, r0, r1, sink, scratch);
            times[2 * w + 1] = pc_now();
        }
        pc_free(scratch);
    }
    if (failed)
        return pc_error(PC_ENOMEM, "an OpenMP thread could not allocate its "
                                   "row buffer");
    return PC_OK;
}
