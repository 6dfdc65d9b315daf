/* SIGTERM (Slurm's time limit) and SIGINT stop a run between rows of work
 * (signals.c). */
#ifndef PC_SIGNALS_H
#define PC_SIGNALS_H

/* The signal that asked the run to stop, 0 if none: pc_run's cancel flag.
 * An int written by a handler: what sig_atomic_t is on every Linux target. */
extern volatile int signals_stop;

/* Catches SIGTERM and SIGINT into signals_stop, and ignores SIGXFSZ so that
 * a file-size limit is a write error, not a kill. */
void signals_install(void);

#endif
