/* Where results go on disk: one .npy per kernel and a manifest, and gen's
 * input files. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p: creates DIR and its missing parents. */
int sink_prepare(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path)
        return pc_error(PC_EUSAGE, "output directory name too long");
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return pc_error(PC_EIO, "cannot create directory '%s': %s", path,
                            strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return pc_error(PC_EIO, "cannot create directory '%s': %s", path,
                        strerror(errno));
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pc_error(PC_EIO, "'%s' exists and is not a directory", dir);
    return PC_OK;
}

static int join(char *buf, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return pc_error(PC_EUSAGE, "path '%s/%s' is too long", dir, name);
    return PC_OK;
}

static int write_manifest(const job *j, const char *dir, const uint64_t *sums)
{
    char path[4096];
    int st = join(path, sizeof path, dir, "manifest.json");
    if (st)
        return st;
    FILE *f = fopen(path, "w");
    if (!f)
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "{\n  \"version\": \"%s\",\n  \"workload\": ", PC_VERSION);
    json_workload(f, j, "  ");
    fprintf(f, ",\n  \"dtype\": \"%s\",\n  \"shape\": [%zu, %zu],\n",
            pc_dtype_name(j->o->conv.dtype), j->orows, j->ocols);
    fprintf(f, "  \"checksum\": \"%016" PRIx64 "\",\n  \"kernels\": [",
            pc_hash_combine(sums, j->count));
    for (size_t k = 0; k < j->count; k++)
        fprintf(f, "%s\n    {\"index\": %zu, \"file\": \"conv_%05zu.npy\", "
                   "\"checksum\": \"%016" PRIx64 "\"}",
                k ? "," : "", k, k, sums[k]);
    fputs("\n  ]\n}\n", f);
    if (ferror(f) | fclose(f))
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(errno));
    return PC_OK;
}

int sink_write(const job *j, const pc_arena *arena)
{
    const char *dir = j->o->outdir;
    int st = sink_prepare(dir);
    if (st)
        return st;
    size_t plane = j->orows * j->ocols * pc_dtype_size(j->o->conv.dtype);
    size_t shape[2] = {j->orows, j->ocols};
    for (size_t k = 0; k < j->count; k++) {
        char name[32], path[4096];
        snprintf(name, sizeof name, "conv_%05zu.npy", k);
        if ((st = join(path, sizeof path, dir, name)) ||
            (st = pc_npy_write(path, j->o->conv.dtype, 2, shape,
                               (const char *)arena->base + k * plane)))
            return st;
    }
    return write_manifest(j, dir, j->runs[0].sums);
}

int sink_inputs(const cli_options *o, const pc_matrix *m, const pc_bank *b)
{
    const char *dir = o->outdir;
    int st = sink_prepare(dir);
    if (st)
        return st;
    /* Generated values are integers, exact in either dtype within range. */
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
    char path[4096];
    size_t mshape[2] = {m->rows, m->cols}, bshape[3] = {b->count, b->rows, b->cols};
    if (!(st = join(path, sizeof path, dir, "matrix.npy")))
        st = pc_npy_write(path, o->conv.dtype, 2, mshape, mbuf);
    if (!st && !(st = join(path, sizeof path, dir, "bank.npy")))
        st = pc_npy_write(path, o->conv.dtype, 3, bshape, bbuf);
    free(mf);
    free(bf);
    if (!st && !o->quiet)
        printf("wrote %s/matrix.npy (%zux%zu) and %s/bank.npy (%zux%zux%zu), "
               "%s, seed %" PRIu64 "\n", dir, m->rows, m->cols, dir, b->count,
               b->rows, b->cols, pc_dtype_name(o->conv.dtype), o->gen.seed);
    return st;
}
