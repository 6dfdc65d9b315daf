/* The strategies (strategy_*.c), one file each with one signature, and
 * their table (strategy.c). Not part of the API. */
#ifndef PC_STRATEGY_H
#define PC_STRATEGY_H

#include "exec.h"

/* times[2w] receives pc_now() when worker w begins computing,
 * times[2w+1] when it has finished. */
typedef int (*pc_strategy_fn)(const pc_plan *plan, const pc_run_params *rp,
                              const pc_sink *sink, unsigned workers,
                              double *times);
int pc_strategy_serial(const pc_plan *, const pc_run_params *, const pc_sink *,
                       unsigned, double *);
int pc_strategy_procs(const pc_plan *, const pc_run_params *, const pc_sink *,
                      unsigned, double *);
int pc_strategy_threads(const pc_plan *, const pc_run_params *, const pc_sink *,
                        unsigned, double *);
int pc_strategy_omp(const pc_plan *, const pc_run_params *, const pc_sink *,
                    unsigned, double *);

#endif
