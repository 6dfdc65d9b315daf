/* parconv gen: the inputs a run would generate, written as DIR/matrix.npy
 * (a stack of N matrices, (N, R, C), with --matrices N) and DIR/bank.npy
 * in the chosen dtype, to give to other programs or to later runs with -m
 * and -b. */
#include "commands.h"
#include "outdir.h"
#include "inputs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* n bytes to fd, whatever write does at a time. */
static int write_all(int fd, const void *buf, size_t n, const char *path)
{
    for (const char *p = buf; n;) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return pc_error(PC_EIO, "cannot write '%s': %s", path,
                            strerror(w < 0 ? errno : EIO));
        p += w;
        n -= (size_t)w;
    }
    return PC_OK;
}

/* DIR/matrix.npy of N matrices, (N, R, C), drawn and written one at a
 * time (memory holds one), whole or not at all. */
static int write_stack(job *j, const char *dir, pc_dtype dt)
{
    char path[4096], head[256];
    outdir_file f;
    size_t shape[3] = {j->nmat, j->rows, j->cols}, each = j->rows * j->cols;
    size_t hlen = pc_npy_header(dt, 3, shape, head, sizeof head);
    void *buf = malloc(each * pc_dtype_size(dt));
    int st = outdir_path(path, sizeof path, dir, "matrix.npy");
    if (!st && !buf)
        st = pc_error(PC_ENOMEM, "cannot write '%s': out of memory", path);
    if (!st && !hlen)
        st = pc_error(PC_EUSAGE, "cannot write '%s': bad shape", path);
    if (st || (st = outdir_file_open(&f, path, false))) {
        free(buf);
        return st;
    }
    st = write_all(f.fd, head, hlen, path);
    for (size_t n = 0; !st && n < j->nmat; n++) {
        if ((st = inputs_matrix(j, n)))
            break;
        for (size_t i = 0; i < each; i++)
            if (dt == PC_F32)
                ((float *)buf)[i] = (float)j->m.data[i];
            else
                ((double *)buf)[i] = j->m.data[i];
        st = write_all(f.fd, buf, each * pc_dtype_size(dt), path);
    }
    free(buf);
    if (st) {
        outdir_file_discard(&f);
        return st;
    }
    return outdir_file_commit(&f);
}

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
static int write_inputs(const cli_options *o, job *j)
{
    const pc_matrix *m = &j->m;
    const pc_bank *b = &j->b;
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
    st = j->nmat > 1 ? write_stack(j, dir, o->conv.dtype)
                     : write_npy(dir, "matrix.npy", o->conv.dtype, 2, mshape,
                                 mbuf);
    if (!st)
        st = write_npy(dir, "bank.npy", o->conv.dtype, 3, bshape, bbuf);
    free(mf);
    free(bf);
    char mat[64];
    if (j->nmat > 1)
        snprintf(mat, sizeof mat, "%zux%zux%zu", j->nmat, m->rows, m->cols);
    else
        snprintf(mat, sizeof mat, "%zux%zu", m->rows, m->cols);
    if (!st && !o->quiet)
        printf("wrote %s/matrix.npy (%s) and %s/bank.npy (%zux%zux%zu), "
               "%s, seed %" PRIu64 "\n", dir, mat, dir, b->count, b->rows,
               b->cols, pc_dtype_name(o->conv.dtype), o->gen.seed);
    return st;
}

int gen_cmd(cli_options *o)
{
    job j = {.o = o};
    int st = inputs_load(&j);
    if (!st)
        st = inputs_matrix(&j, 0);
    if (!st)
        st = write_inputs(o, &j);
    inputs_free(&j);
    return st;
}
