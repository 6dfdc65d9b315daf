/* parconv peak: the FMA ceiling of the direct kernels' ISA, which the run
 * report measures each strategy against. */
#include "commands.h"

int peak_cmd(cli_options *o)
{
    unsigned threads;
    const char *from;
    int st = cli_default_threads(o, &threads, &from);
    if (st)
        return st;
    cli_warn_oversubscribed(o, threads, 0);
    pc_isa isa = o->conv.isa == PC_ISA_AUTO ? pc_isa_best() : o->conv.isa;
    double one, all;
    st = pc_peak(o->conv.dtype, isa, 1, &one);
    if (!st && threads > 1)
        st = pc_peak(o->conv.dtype, isa, threads, &all);
    if (st)
        return st;
    printf("FMA ceiling, %s %s (register-only multiply-add loop):\n",
           pc_isa_name(isa), pc_dtype_name(o->conv.dtype));
    printf("  1 core      %8.1f GFLOP/s\n", one);
    if (threads > 1)
        printf("  %u threads %8.1f GFLOP/s  (%s; %.2fx one core)\n", threads,
               all, from, all / one);
    return PC_OK;
}
