/* Reproducible inputs: integers from GSL's mt19937, matrix first, then the
 * kernels in order, so the same seed gives the same numbers anywhere. */
#include "base.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

/* gsl_rng_uniform_int takes n up to the generator's range (2^32 for
 * mt19937); integers beyond 2^53 would not survive the trip to double. */
#define PC_GEN_MAX_SPAN 4294967295LL
#define PC_GEN_MAX_ABS 9007199254740992LL

static void fill(gsl_rng *r, const pc_gen_params *g, double *out, size_t n)
{
    unsigned long span = (unsigned long)(g->hi - g->lo);
    for (size_t i = 0; i < n; i++) {
        unsigned long v = gsl_rng_uniform_int(r, span);
        if (out)
            out[i] = (double)(g->lo + (int64_t)v);
    }
}

int pc_generate(const pc_gen_params *g, size_t rows, size_t cols,
                pc_matrix *m, pc_bank *b)
{
    if (g->hi <= g->lo)
        return pc_error(PC_EUSAGE, "--range %lld:%lld is empty (need LO < HI)",
                        (long long)g->lo, (long long)g->hi);
    if (g->lo < -PC_GEN_MAX_ABS || g->hi > PC_GEN_MAX_ABS ||
        g->hi - g->lo > PC_GEN_MAX_SPAN)
        return pc_error(PC_EUSAGE,
                        "--range %lld:%lld is too wide (at most 2^32-1 values, "
                        "within +-2^53)", (long long)g->lo, (long long)g->hi);

    /* A batch program checks return values; GSL's default handler aborts. */
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return pc_error(PC_ENOMEM, "cannot allocate the random generator");
    /* gsl_rng_set takes an unsigned long; seed 0 means GSL's default seed
     * 4357, which is what a user of GSL would expect too. */
    gsl_rng_set(r, (unsigned long)g->seed);

    /* The matrix's draws are made even when it is loaded from a file, so a
     * generated bank does not depend on where the matrix came from. */
    fill(r, g, m ? m->data : NULL, rows * cols);
    if (b)
        fill(r, g, b->data, b->count * b->rows * b->cols);
    gsl_rng_free(r);
    return PC_OK;
}
