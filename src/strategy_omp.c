/* omp: an OpenMP parallel loop over the kernels. */
#include "internal.h"

#include <omp.h>

int pc_strategy_omp(const pc_plan *plan, const pc_run_params *rp,
                    unsigned workers)
{
    int failed = 0;
    /* Each thread owns one scratch plane; with an arena it writes in place. */
#pragma omp parallel num_threads(workers) reduction(| : failed)
    {
        void *scratch = NULL;
        if (!rp->arena && !(scratch = pc_alloc(pc_plan_out_bytes(plan))))
            failed = 1;
        /* Every thread meets the loop; one without a plane skips its share
         * and the run reports the failure. */
#pragma omp for schedule(dynamic, 1)
        for (size_t k = 0; k < plan->count; k++)
            if (rp->arena || scratch)
                pc_do_kernel(plan, k, pc_plane_for(rp, plan, k, scratch),
                             rp->sums);
        pc_free(scratch);
    }
    if (failed)
        return pc_error(PC_ENOMEM, "an OpenMP thread could not allocate its "
                                   "output plane");
    return PC_OK;
}
