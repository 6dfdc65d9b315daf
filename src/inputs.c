/* Reproducible inputs: integers from GSL's mt19937, the matrix (or the
 * matrices, in order) first, then the kernels in order, so the same seed
 * gives the same numbers anywhere. */
#include "base.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>

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

/* The generator's state between draws. */
struct pc_gen_stream {
    gsl_rng *r;
    pc_gen_params g;
};

int pc_gen_open(pc_gen_stream **out, const pc_gen_params *g)
{
    *out = NULL;
    if (g->hi <= g->lo)
        return pc_error(PC_EUSAGE, "--range %lld:%lld is empty (need LO < HI)",
                        (long long)g->lo, (long long)g->hi);
    if (g->lo < -PC_GEN_MAX_ABS || g->hi > PC_GEN_MAX_ABS ||
        g->hi - g->lo > PC_GEN_MAX_SPAN)
        return pc_error(PC_EUSAGE,
                        "--range %lld:%lld is too wide (at most 2^32-1 values, "
                        "within +-2^53)", (long long)g->lo, (long long)g->hi);
    pc_gen_stream *s = calloc(1, sizeof *s);
    /* A batch program checks return values; GSL's default handler aborts. */
    gsl_set_error_handler_off();
    if (!s || !(s->r = gsl_rng_alloc(gsl_rng_mt19937))) {
        free(s);
        return pc_error(PC_ENOMEM, "cannot allocate the random generator");
    }
    s->g = *g;
    /* gsl_rng_set takes an unsigned long; seed 0 means GSL's default seed
     * 4357, which is what a user of GSL would expect too. */
    gsl_rng_set(s->r, (unsigned long)g->seed);
    *out = s;
    return PC_OK;
}

void pc_gen_draw(pc_gen_stream *s, size_t n, double *out)
{
    fill(s->r, &s->g, out, n);
}

void pc_gen_close(pc_gen_stream *s)
{
    if (s)
        gsl_rng_free(s->r);
    free(s);
}

int pc_generate(const pc_gen_params *g, size_t rows, size_t cols,
                pc_matrix *m, pc_bank *b)
{
    pc_gen_stream *s;
    int st = pc_gen_open(&s, g);
    if (st)
        return st;
    /* The matrix's draws are made even when it is loaded from a file, so a
     * generated bank does not depend on where the matrix came from. */
    pc_gen_draw(s, rows * cols, m ? m->data : NULL);
    if (b)
        pc_gen_draw(s, b->count * b->rows * b->cols, b->data);
    pc_gen_close(s);
    return PC_OK;
}
