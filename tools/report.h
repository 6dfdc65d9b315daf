/* What the user reads (report.c): the workload, a box per strategy, the
 * summary table, and the same as JSON for scripts. */
#ifndef PC_REPORT_H
#define PC_REPORT_H

#include "job.h"
#include "outdir.h"

#include <stdio.h>

void report_workload(FILE *f, const job *j);
void report_run_box(FILE *f, const job_run *r);
void report_summary(FILE *f, const job *j);
/* Makes ready for the JSON report before the work: for "-" nothing (it
 * goes to stdout), else FILE's temporary (outdir_file), so that a FILE
 * that cannot be written fails at once, and FILE itself is untouched
 * until the report is whole. */
int report_json_open(outdir_file *f, const char *path);
/* Writes the JSON report, also of a run a signal stopped ("interrupted"):
 * to stdout, or into f's temporary, then renamed over FILE. */
int report_json(outdir_file *f, const job *j);

/* GFLOP/s of a run over its compute time: the direct sum's flop count
 * (for an FFT run, the direct-equivalent rate). */
double report_gflops(const job *j, const job_run *r);

/* Formats a byte count for people ("814.0 MB"). */
const char *human_bytes(double bytes, char *buf, size_t n);
/* The OpenMP runtime's settings (omp_get_*), one line. */
void omp_settings(char *buf, size_t n);

#endif
