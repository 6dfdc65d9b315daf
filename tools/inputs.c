/* The inputs of a run (and of gen): the files read, the shapes worked
 * out and checked against the size options, the memory the run will need
 * estimated (and refused when it exceeds what may be used), then what was
 * not read generated from the GSL stream. */
#include "inputs.h"
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A file's shape must agree with any size option given alongside it. */
static int check_given(const cli_options *o, unsigned flag, const char *opt,
                       size_t want_r, size_t want_c, size_t r, size_t c,
                       const char *path)
{
    if ((o->given & flag) && (want_r != r || want_c != c))
        return pc_error(PC_EUSAGE, "%s %zux%zu does not match %s, which is "
                        "%zux%zu", opt, want_r, want_c, path, r, c);
    return PC_OK;
}

/* The memory the run may use: what the machine has, or --max-mem. */
static double memory_limit(const cli_options *o)
{
    double limit = (double)pc_available_memory();
    if (o->max_mem > 0 && (limit <= 0 || o->max_mem < limit))
        limit = o->max_mem;
    return limit;
}

/* What the run will hold at its peak, in bytes: the inputs, the plan
 * (padded matrix, kernels twice: flipped and packed), a second copy of the
 * plan in the procs mapping, the row checksums, and the output arena with
 * -o. Workers need only a few rows each. Refuses a run that would not fit.
 * TODO: ask the library (pc_plan_estimate) instead of re-deriving it. */
static int estimate_memory(job *j)
{
    const cli_options *o = j->o;
    size_t kr = j->krows, kc = j->kcols, count = j->count;
    bool procs = false;
    for (int i = 0; i < o->nstrategies; i++)
        procs |= o->strategies[i] == PC_PROCS;
    /* The plan's own parts come from the library, which lays them out. */
    pc_memory mem;
    int st = pc_plan_estimate(&o->conv, j->rows, j->cols, count ? count : 1,
                              kr, kc, &mem);
    if (st)
        return st;
    double plane = (double)j->orows * (double)j->ocols *
                   (double)pc_dtype_size(o->conv.dtype);
    double inputs = 8.0 * ((double)j->rows * j->cols + (double)count * kr * kc);
    /* With -o, a batch of output planes at a time (see batch_size). */
    double arena = o->outdir ? fmin(plane * (double)count, fmax(plane * 32, 256e6))
                             : 0;
    /* procs: the parent's row checksums and the workers' views of them; the
     * plan is counted twice too, to stay on the safe side. */
    double copies = procs ? 2 : 1;
    double plan = mem.plan;
    double est = inputs + (mem.plan + mem.sums) * copies + arena + mem.spectra;
    j->mem_estimate = est;
    double avail = memory_limit(o);
    if (avail > 0 && est > avail) {
        char need[32], have[32];
        return pc_error(PC_EINPUT, "this run needs about %s of memory but only "
                        "%s is %s (inputs %.0f%%, padded matrix and kernels "
                        "%.0f%%; a smaller matrix, fewer kernels per run "
                        "with -k, or --method direct needs less)",
                        human_bytes(est, need, sizeof need),
                        human_bytes(avail, have, sizeof have),
                        o->max_mem > 0 ? "allowed (--max-mem)" : "available",
                        100 * inputs / est, 100 * plan / est);
    }
    return PC_OK;
}

/* A file's identity, once its values are read: its header's facts, its
 * absolute path, and the hash of the values as doubles in C order (so
 * that another file of the same values, or the same file rewritten, is
 * told apart from one of other values). */
static int identify(const char *path, const double *data, size_t n,
                    job_file *id)
{
    int st = pc_npy_info(path, &id->meta);
    if (st)
        return st == PC_EIO ? PC_EINPUT : st;
    if (!realpath(path, id->abs_path))
        id->abs_path[0] = 0;
    id->hash = pc_xxhash64(data, n * sizeof *data, 0);
    return PC_OK;
}

/* Reads the files (none may take more than the run may use), checks them
 * against the size options. */
static int read_files(job *j)
{
    const cli_options *o = j->o;
    double limit = memory_limit(o);
    int st;
    /* A file that cannot be read is bad input, like a malformed one. */
    if (o->matrix_path) {
        if ((st = pc_npy_read_matrix_max(o->matrix_path, &j->m, limit)))
            return st == PC_EIO ? PC_EINPUT : st;
        if ((st = identify(o->matrix_path, j->m.data, j->m.rows * j->m.cols,
                           &j->matrix_file)))
            return st;
        if ((st = check_given(o, G_SIZE, "--size", o->rows, o->cols, j->m.rows,
                              j->m.cols, o->matrix_path)))
            return st;
    }
    if (o->bank_path) {
        if ((st = pc_npy_read_bank_max(o->bank_path, &j->b, limit)))
            return st == PC_EIO ? PC_EINPUT : st;
        if ((st = identify(o->bank_path, j->b.data,
                           j->b.count * j->b.rows * j->b.cols, &j->bank_file)))
            return st;
        if ((o->given & G_COUNT) && o->count != j->b.count)
            return pc_error(PC_EUSAGE, "--count %zu does not match %s, which "
                            "holds %zu kernels", o->count, o->bank_path,
                            j->b.count);
        if ((st = check_given(o, G_KSIZE, "--ksize", o->krows, o->kcols,
                              j->b.rows, j->b.cols, o->bank_path)))
            return st;
    }
    return PC_OK;
}

/* The workload's shapes and this shard's share of its kernels. */
static int shapes(job *j)
{
    const cli_options *o = j->o;
    j->rows = o->matrix_path ? j->m.rows : o->rows;
    j->cols = o->matrix_path ? j->m.cols : o->cols;
    j->total = o->bank_path ? j->b.count : o->count;
    j->krows = o->bank_path ? j->b.rows : o->krows;
    j->kcols = o->bank_path ? j->b.cols : o->kcols;
    j->shard_n = o->shard_n ? o->shard_n : 1;
    j->shard_i = o->shard_n ? o->shard_i : 0;
    j->shard_from = o->shard_from;
    /* This shard's kernels: shard_i, shard_i + shard_n, ... With more
     * shards than kernels some have none: they plan with the first kernel
     * (to settle the method as the others do) and compute nothing. */
    j->count = j->shard_i < j->total
                   ? (j->total - j->shard_i + j->shard_n - 1) / j->shard_n : 0;
    return pc_out_shape(o->conv.mode, j->rows, j->cols, j->krows, j->kcols,
                        &j->orows, &j->ocols, &j->swapped);
}

int inputs_load(job *j)
{
    const cli_options *o = j->o;
    int st = read_files(j);
    if (!st)
        st = shapes(j);
    if (!st)
        st = estimate_memory(j);
    if (st)
        return st;
    if (!o->matrix_path && (st = pc_matrix_alloc(&j->m, j->rows, j->cols)))
        return st;
    if (!o->bank_path &&
        (st = pc_bank_alloc(&j->b, j->total, j->krows, j->kcols)))
        return st;
    if (!o->matrix_path || !o->bank_path)
        st = pc_generate(&o->gen, j->rows, j->cols, o->matrix_path ? NULL : &j->m,
                         o->bank_path ? NULL : &j->b);
    if (!st && j->shard_n > 1) {
        /* Keep this shard's kernels, in order, at the front. */
        size_t taps = j->krows * j->kcols;
        for (size_t k = 0; k < j->count; k++)
            memmove(j->b.data + k * taps, j->b.data + job_global(j, k) * taps,
                    taps * sizeof *j->b.data);
        j->b.count = j->count ? j->count : 1;
    }
    return st;
}

