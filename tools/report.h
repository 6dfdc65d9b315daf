/* What the user reads (report.c): the workload, a box per strategy, the
 * summary table, and the same as JSON for scripts. */
#ifndef PC_REPORT_H
#define PC_REPORT_H

#include "job.h"

#include <stdio.h>

void report_workload(FILE *f, const job *j);
void report_run_box(FILE *f, const job_run *r);
void report_summary(FILE *f, const job *j);
/* Writes the JSON report to f (opened early, so a bad path fails before
 * the work), then closes it unless it is stdout. */
int report_json(FILE *f, const char *path, const job *j);

/* GFLOP/s of a run over its compute time: the direct sum's flop count
 * (for an FFT run, the direct-equivalent rate). */
double report_gflops(const job *j, const job_run *r);

/* Formats a byte count for people ("814.0 MB"). */
const char *human_bytes(double bytes, char *buf, size_t n);
/* The OpenMP runtime's settings (omp_get_*), one line. */
void omp_settings(char *buf, size_t n);

#endif
