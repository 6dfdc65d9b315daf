/* inputs.c: a run's matrices and bank, read or generated. */
#ifndef PC_INPUTS_H
#define PC_INPUTS_H

#include "job.h"

/* Reads the input files' headers and the bank, works out the shapes and
 * this shard's kernels (in plan order, see job.h), refuses what would not
 * fit in memory, reads every stored matrix once for its hash, generates
 * what was not read, and leaves in j->m the matrix to plan with
 * (j->plan_matrix). */
int inputs_load(job *j);
/* Matrix n of the run into j->m (nothing to do if it is there). A stored
 * matrix whose values changed since inputs_load is refused. */
int inputs_matrix(job *j, size_t n);
void inputs_free(job *j);

#endif
