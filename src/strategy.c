/* pc_run: validate, pick the strategy from the table, time it. */
#include "internal.h"

static const pc_strategy_fn strategies[PC_NSTRATEGIES] = {
    [PC_SERIAL] = pc_strategy_serial,
    [PC_PROCS] = pc_strategy_procs,
    [PC_THREADS] = pc_strategy_threads,
    [PC_OMP] = pc_strategy_omp,
};

int pc_run(const pc_plan *plan, const pc_run_params *rp, pc_run_result *res)
{
    if ((unsigned)rp->strategy >= PC_NSTRATEGIES)
        return pc_error(PC_EUSAGE, "unknown strategy %d", (int)rp->strategy);
    if (!rp->sums)
        return pc_error(PC_EUSAGE, "pc_run needs a checksum array");
    if (rp->arena && rp->arena->bytes < plan->count * pc_plan_out_bytes(plan))
        return pc_error(PC_EUSAGE, "output arena too small");

    unsigned workers = rp->strategy == PC_SERIAL ? 1 : rp->workers;
    if (workers == 0)
        workers = 1;
    /* More workers than kernels would only idle. */
    if (workers > plan->count)
        workers = (unsigned)plan->count;

    double t0 = pc_now();
    int st = strategies[rp->strategy](plan, rp, workers);
    res->seconds = pc_now() - t0;
    res->workers = workers;
    return st;
}
