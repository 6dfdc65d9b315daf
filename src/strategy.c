/* pc_run: validate, pick the strategy from the table, time it, and turn
 * the row checksums into kernel checksums. */
#include "strategy.h"

#include <stdlib.h>

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
    size_t k0 = rp->k0, k1 = rp->k1 ? rp->k1 : plan->count;
    if (k0 >= k1 || k1 > plan->count)
        return pc_error(PC_EUSAGE, "kernel range %zu..%zu of %zu", k0, k1,
                        plan->count);
    if (rp->arena && rp->arena->bytes < (k1 - k0) * pc_plan_out_bytes(plan))
        return pc_error(PC_EUSAGE, "output arena too small");

    unsigned workers = rp->strategy == PC_SERIAL ? 1 : rp->workers;
    if (workers == 0)
        workers = 1;
    res->retried = 0;
    res->warning[0] = 0;
    pc_sink sink = {.arena = rp->arena ? rp->arena->base : NULL, .arena_fd = -1, .k0 = k0,
                    .k1 = k1, .res = res, .cancel = rp->cancel};
    /* More workers than units of work would idle. */
    if (workers > pc_plan_units(plan, &sink))
        workers = (unsigned)pc_plan_units(plan, &sink);
    /* Zeroed (touched) here, so its page faults are not timed. */
    sink.rowhash = pc_alloc(plan->count * plan->orows * sizeof *sink.rowhash);
    double *times = calloc(2 * (size_t)workers, sizeof *times);
    if (!sink.rowhash || !times) {
        pc_free(sink.rowhash);
        free(times);
        return pc_error(PC_ENOMEM, "cannot allocate the row checksums");
    }

    /* omp lowers it to the team the runtime gave. */
    res->workers = workers;
    double t0 = pc_now();
    int st = strategies[rp->strategy](plan, rp, &sink, workers, times);
    if (!st && rp->cancel && *rp->cancel)
        st = pc_error(PC_EINTERRUPTED, "interrupted");
    res->seconds = pc_now() - t0;
    /* Compute time runs from the first worker's start to the last one's
     * end, all on one monotonic clock (procs workers read the same
     * CLOCK_MONOTONIC): the longest single worker would undercount when
     * workers take turns on fewer CPUs. Start-up (spawning, mapping) and
     * stopping (joining, reaping) are the rest of the wall time. */
    double first = 0, last = 0;
    for (unsigned w = 0; w < res->workers; w++) {
        if (times[2 * w + 1] <= 0)
            continue;
        if (!first || times[2 * w] < first)
            first = times[2 * w];
        if (times[2 * w + 1] > last)
            last = times[2 * w + 1];
    }
    res->compute = last > first ? last - first : 0;
    if (res->compute > res->seconds)
        res->compute = res->seconds;
    if (!st)
        for (size_t k = k0; k < k1; k++)
            rp->sums[k] = pc_hash_combine(sink.rowhash + k * plan->orows,
                                          plan->orows);
    pc_free(sink.rowhash);
    free(times);
    return st;
}
