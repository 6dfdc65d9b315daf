/* inputs.c: a run's matrix and bank, read or generated. */
#ifndef PC_INPUTS_H
#define PC_INPUTS_H

#include "job.h"

/* Reads the input files, works out the shapes (this shard's kernels
 * first), refuses what would not fit in memory, then generates what was
 * not read. */
int inputs_load(job *j);

#endif
