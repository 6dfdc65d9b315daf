/* parconv gen: the inputs a run would generate, written as DIR/matrix.npy
 * and DIR/bank.npy in the chosen dtype, to give to other programs or to
 * later runs with -m and -b. */
#include "commands.h"
#include "outdir.h"
#include "inputs.h"

#include <inttypes.h>
#include <stdlib.h>

/* DIR/NAME, whole or not at all (outdir_file: a temporary renamed into
 * place), so a link at NAME is replaced, not written through. */
static int write_npy(const char *dir, const char *name, pc_dtype dt, int ndim,
                     const size_t *shape, const void *data)
{
    char path[4096];
    outdir_file f;
    int st = outdir_path(path, sizeof path, dir, name);
    if (!st)
        st = outdir_file_open(&f, path, false);
    if (st)
        return st;
    if ((st = pc_npy_write_fd(f.fd, dt, ndim, shape, data))) {
        char why[512];
        snprintf(why, sizeof why, "%s", pc_errmsg());
        outdir_file_discard(&f);
        return pc_error(st, "cannot write '%s': %s", path, why);
    }
    return outdir_file_commit(&f);
}

/* Generated values are integers, exact in either dtype within range. */
static int write_inputs(const cli_options *o, const pc_matrix *m,
                        const pc_bank *b)
{
    const char *dir = o->outdir;
    int st = outdir_prepare(dir);
    if (st)
        return st;
    size_t nm = m->rows * m->cols, nb = b->count * b->rows * b->cols;
    void *mbuf = (void *)m->data, *bbuf = (void *)b->data;
    float *mf = NULL, *bf = NULL;
    if (o->conv.dtype == PC_F32) {
        mf = malloc(nm * sizeof *mf);
        bf = malloc(nb * sizeof *bf);
        if (!mf || !bf) {
            free(mf);
            free(bf);
            return pc_error(PC_ENOMEM, "cannot convert the inputs to f32");
        }
        for (size_t i = 0; i < nm; i++)
            mf[i] = (float)m->data[i];
        for (size_t i = 0; i < nb; i++)
            bf[i] = (float)b->data[i];
        mbuf = mf;
        bbuf = bf;
    }
    size_t mshape[2] = {m->rows, m->cols}, bshape[3] = {b->count, b->rows, b->cols};
    st = write_npy(dir, "matrix.npy", o->conv.dtype, 2, mshape, mbuf);
    if (!st)
        st = write_npy(dir, "bank.npy", o->conv.dtype, 3, bshape, bbuf);
    free(mf);
    free(bf);
    if (!st && !o->quiet)
        printf("wrote %s/matrix.npy (%zux%zu) and %s/bank.npy (%zux%zux%zu), "
               "%s, seed %" PRIu64 "\n", dir, m->rows, m->cols, dir, b->count,
               b->rows, b->cols, pc_dtype_name(o->conv.dtype), o->gen.seed);
    return st;
}

int gen_cmd(cli_options *o)
{
    job j = {.o = o};
    int st = inputs_load(&j);
    if (!st)
        st = write_inputs(o, &j.m, &j.b);
    pc_matrix_free(&j.m);
    pc_bank_free(&j.b);
    return st;
}
