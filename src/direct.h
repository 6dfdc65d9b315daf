/* The direct kernels (direct.c, direct_tmpl.h and one file per ISA): the
 * table of kernels per ISA and dtype, and one kernel computed alone. Not
 * part of the API. */
#ifndef PC_DIRECT_H
#define PC_DIRECT_H

#include "plan.h"

/* Per ISA and dtype; NULL where not built or not supported. */
const pc_direct_fns *pc_direct_lookup(pc_isa isa, pc_dtype dtype);

/* Kernel k, all rows, bit for bit as the batch path computes it. */
void pc_direct_execute(const pc_plan *plan, size_t k, void *out);

#endif
