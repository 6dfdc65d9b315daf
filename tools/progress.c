/* Progress on stderr for long runs: redrawn in place on a terminal; in a
 * batch log, a plain line about every 10% or 30 seconds. Nothing for the
 * first moments (half a second on a terminal, two in a log), so short runs
 * stay quiet. */
#include "progress.h"

#include "parconv.h"

#include <unistd.h>

void progress_start(progress *p, FILE *f, const char *label, const char *unit,
                    size_t total)
{
    p->unit = unit;
    p->f = f;
    p->tty = f && isatty(fileno(f));
    p->label = label;
    p->total = total;
    p->t0 = p->last = pc_now();
    p->last_tenth = 0;
    p->drawn = false;
}

void progress_update(progress *p, size_t done, size_t base)
{
    if (!p->f || p->total == 0)
        return;
    double now = pc_now(), el = now - p->t0;
    int tenth = (int)(10 * done / p->total);
    /* base: planes that were done before this run began (--resume). */
    double rate = el > 0 ? (double)(done - base) / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    /* Runs that are over in a moment need no progress at all. */
    if (el < (p->tty ? 0.5 : 2.0))
        return;
    if (p->tty) {
        if (now - p->last < 0.2 && done < p->total)
            return;
        fprintf(p->f, "\r[%s] %zu/%zu %s  %.1f/s  ETA %.0fs   ", p->label,
                done, p->total, p->unit, rate, eta);
        p->drawn = true;
    } else {
        if (tenth <= p->last_tenth && now - p->last < 30 && done < p->total)
            return;
        if (done == p->total && p->last_tenth >= 10)
            return;
        fprintf(p->f, "parconv: %s: %zu/%zu %s (%d%%), %.1f/s, ETA %.0fs\n",
                p->label, done, p->total, p->unit,
                (int)(100 * done / p->total), rate, eta);
        p->last_tenth = tenth;
    }
    fflush(p->f);
    p->last = now;
}

void progress_end(progress *p)
{
    if (p->f && p->tty && p->drawn) {
        /* Clear the line so the report starts clean. */
        fprintf(p->f, "\r%60s\r", "");
        fflush(p->f);
    }
}
