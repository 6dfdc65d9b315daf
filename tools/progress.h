/* Progress of a long run on stderr (progress.c). */
#ifndef PC_PROGRESS_H
#define PC_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f; /* NULL: silent */
    bool tty, drawn;
    const char *label, *unit;
    size_t total;
    double t0, last;
    int last_tenth;
} progress;

/* unit: what done and total count ("planes"). */
void progress_start(progress *p, FILE *f, const char *label, const char *unit,
                    size_t total);
/* done: planes complete; base: of those, the ones complete before this run
 * began (--resume), which do not count towards the rate. */
void progress_update(progress *p, size_t done, size_t base);
void progress_end(progress *p);

#endif
