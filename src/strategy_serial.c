/* serial: one loop over the kernels, the reference the others must match. */
#include "internal.h"

int pc_strategy_serial(const pc_plan *plan, const pc_run_params *rp,
                       unsigned workers)
{
    (void)workers;
    void *scratch = rp->arena ? NULL : pc_alloc(pc_plan_out_bytes(plan));
    if (!rp->arena && !scratch)
        return pc_error(PC_ENOMEM, "cannot allocate an output plane");
    for (size_t k = 0; k < plan->count; k++)
        pc_do_kernel(plan, k, pc_plane_for(rp, plan, k, scratch), rp->sums);
    pc_free(scratch);
    return PC_OK;
}
