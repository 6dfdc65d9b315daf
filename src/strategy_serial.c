/* serial: one loop over the kernels, the reference the others must match. */
#include "strategy.h"

int pc_strategy_serial(const pc_plan *plan, const pc_run_params *rp,
                       const pc_sink *sink, unsigned workers, double *times)
{
    (void)rp;
    (void)workers;
    void *scratch = pc_alloc(pc_scratch_bytes(plan));
    if (!scratch)
        return pc_error(PC_ENOMEM, "cannot allocate an output row buffer");
    times[0] = pc_now();
    pc_exec_share(plan, 0, pc_plan_units(plan, sink), sink, scratch);
    times[1] = pc_now();
    pc_free(scratch);
    return PC_OK;
}
