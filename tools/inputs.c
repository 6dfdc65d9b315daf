/* The inputs of a run (and of gen): the files' headers read, the shapes
 * worked out and checked against the size options, the bank read, the
 * memory the run will need estimated (and refused when it exceeds what may
 * be used), then every matrix read once for its hash, and what was not
 * read generated from the GSL stream. During the run the matrices are read
 * again one at a time (inputs_matrix): memory holds one matrix whatever
 * the stack's size. */
#include "inputs.h"
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A file's shape must agree with any size option given alongside it. */
/* An input's values, identified: xxHash64 of the doubles (pc_hash's fast
 * sums would not see, for one, an even number of signs flipped). */
static uint64_t values_hash(const double *v, size_t n)
{
    return pc_xxhash64(v, n * sizeof *v, 0);
}

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

/* What the run will hold at its peak, in bytes: the inputs (one matrix,
 * the kernels), the plan and its row checksums as the library lays them
 * out (pc_plan_estimate), a second copy of both in the procs mapping, and
 * the output arenas with -o. Workers need only a few rows each. Refuses a
 * run that would not fit. */
static int estimate_memory(job *j)
{
    const cli_options *o = j->o;
    size_t kr = j->krows, kc = j->kcols, count = j->pk;
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

/* A file's facts, read from its header: its header's facts and its
 * absolute path (the hash comes once its values are read). */
static int identify(const char *path, job_file *id)
{
    int st = pc_npy_info(path, &id->meta);
    if (st)
        return st == PC_EIO ? PC_EINPUT : st;
    if (!realpath(path, id->abs_path))
        id->abs_path[0] = 0;
    return PC_OK;
}

/* One -m argument's header: how many matrices of what shape it holds. */
static int open_source(job_source *s, const char *path, size_t *rows,
                       size_t *cols)
{
    int st;
    s->path = path;
    if (h5_is_spec(path)) {
        if (!(s->h5 = calloc(1, sizeof *s->h5)))
            return pc_error(PC_ENOMEM, "cannot read '%s': out of memory", path);
        if ((st = h5_open(path, s->h5)))
            return st == PC_EIO ? PC_EINPUT : st;
        s->nmat = s->h5->nmat;
        *rows = s->h5->rows;
        *cols = s->h5->cols;
        return PC_OK;
    }
    /* A file that cannot be read is bad input, like a malformed one. */
    if ((st = identify(path, &s->id)))
        return st;
    const pc_npy_meta *m = &s->id.meta;
    if (m->ndim != 2 && m->ndim != 3)
        return pc_error(PC_EINPUT, "%s: expected a 2-D matrix or a 3-D stack "
                        "of them (N x R x C), got %d dimension%s", path,
                        m->ndim, m->ndim == 1 ? "" : "s");
    s->nmat = m->ndim == 3 ? m->shape[0] : 1;
    *rows = m->shape[m->ndim - 2];
    *cols = m->shape[m->ndim - 1];
    return PC_OK;
}

/* The -m arguments' headers: every matrix of one shape (the first file's;
 * the first file that differs is named), N in all. */
static int open_sources(job *j)
{
    const cli_options *o = j->o;
    j->nsrc = o->nmatrix_paths;
    if (!j->nsrc)
        return PC_OK;
    if (!(j->src = calloc(j->nsrc, sizeof *j->src)))
        return pc_error(PC_ENOMEM, "cannot read the inputs: out of memory");
    j->nmat = 0;
    for (size_t i = 0; i < j->nsrc; i++) {
        size_t r = 0, c = 0;
        int st = open_source(&j->src[i], o->matrix_paths[i], &r, &c);
        if (st)
            return st;
        if (i == 0) {
            j->rows = r;
            j->cols = c;
        } else if (r != j->rows || c != j->cols) {
            return pc_error(PC_EUSAGE, "-m %s: its matrices are %zux%zu, "
                            "those of %s %zux%zu (all matrices of a run "
                            "share one shape)", o->matrix_paths[i], r, c,
                            o->matrix_paths[0], j->rows, j->cols);
        }
        j->src[i].first = j->nmat;
        j->nmat += j->src[i].nmat;
    }
    return check_given(o, G_SIZE, "--size", o->rows, o->cols, j->rows,
                       j->cols, o->matrix_paths[0]);
}

/* The bank file, whole (none may take more than the run may use), checked
 * against the size options. */
static int read_bank(job *j)
{
    const cli_options *o = j->o;
    int st;
    if (!o->bank_path)
        return PC_OK;
    if ((st = pc_npy_read_bank_max(o->bank_path, &j->b, memory_limit(o))))
        return st == PC_EIO ? PC_EINPUT : st;
    if ((st = identify(o->bank_path, &j->bank_file)))
        return st;
    j->bank_file.hash = values_hash(j->b.data,
                                    j->b.count * j->b.rows * j->b.cols);
    if ((o->given & G_COUNT) && o->count != j->b.count)
        return pc_error(PC_EUSAGE, "--count %zu does not match %s, which "
                        "holds %zu kernels", o->count, o->bank_path,
                        j->b.count);
    return check_given(o, G_KSIZE, "--ksize", o->krows, o->kcols, j->b.rows,
                       j->b.cols, o->bank_path);
}

/* The kernels this shard needs, a residue class mod shard_n after
 * another (see job.h): those of the classes its matrices take. With no
 * planes at all, kernel 0 alone (to settle the method as the other shards
 * do). */
static int plan_kernels(job *j)
{
    size_t K = j->total, S = j->shard_n;
    j->kpos = malloc(K * sizeof *j->kpos);
    j->kplan = malloc(K * sizeof *j->kplan);
    bool *need = calloc(S < K ? S : K, sizeof *need);
    if (!j->kpos || !j->kplan || !need) {
        free(need);
        return pc_error(PC_ENOMEM, "cannot allocate %zu kernels", K);
    }
    for (size_t k = 0; k < K; k++)
        j->kpos[k] = SIZE_MAX;
    /* The classes repeat after S matrices. */
    for (size_t n = 0; n < j->nmat && n < S; n++) {
        size_t c = (j->shard_i + S - (n % S) * (K % S) % S) % S;
        if (c < K)
            need[c] = true;
    }
    j->pk = 0;
    for (size_t c = 0; c < K && c < S; c++)
        for (size_t k = c; need[c] && k < K; k += S) {
            j->kpos[k] = j->pk;
            j->kplan[j->pk++] = k;
        }
    free(need);
    if (!j->count) {
        j->kpos[0] = 0;
        j->kplan[0] = 0;
        j->pk = 1;
    }
    return PC_OK;
}

/* The workload's shapes and this shard's share of its planes. */
static int shapes(job *j)
{
    const cli_options *o = j->o;
    if (!j->nsrc) {
        j->rows = o->rows;
        j->cols = o->cols;
        j->nmat = o->nmat;
    }
    j->total = o->bank_path ? j->b.count : o->count;
    j->krows = o->bank_path ? j->b.rows : o->krows;
    j->kcols = o->bank_path ? j->b.cols : o->kcols;
    j->planes = j->nmat * j->total;
    j->shard_n = o->shard_n ? o->shard_n : 1;
    j->shard_i = o->shard_n ? o->shard_i : 0;
    j->shard_from = o->shard_from;
    /* This shard's planes: shard_i, shard_i + shard_n, ... With more
     * shards than planes some have none. */
    j->count = j->shard_i < j->planes
                   ? (j->planes - j->shard_i + j->shard_n - 1) / j->shard_n : 0;
    int st = plan_kernels(j);
    if (st)
        return st;
    return pc_out_shape(o->conv.mode, j->rows, j->cols, j->krows, j->kcols,
                        &j->orows, &j->ocols, &j->swapped);
}

/* Matrix n of the -m files into j->m (allocated), as stored. */
static int read_stored(job *j, size_t n)
{
    size_t s = 0;
    while (s + 1 < j->nsrc && j->src[s + 1].first <= n)
        s++;
    const job_source *src = &j->src[s];
    int st;
    if (src->h5) {
        pc_matrix m;
        if ((st = h5_read_matrix(src->h5, n - src->first, &m)))
            return st == PC_EIO ? PC_EINPUT : st;
        memcpy(j->m.data, m.data, j->rows * j->cols * sizeof *m.data);
        pc_matrix_free(&m);
        return PC_OK;
    }
    st = pc_npy_read_slice(src->path, n - src->first, &j->m);
    return st == PC_EIO || st == PC_EUSAGE ? PC_EINPUT : st;
}

/* Generated matrix n into j->m: the stream runs on from where it is, or
 * starts again for a matrix before it. */
static int draw_matrix(job *j, size_t n)
{
    int st;
    if (j->gen && j->gen_next > n) {
        pc_gen_close(j->gen);
        j->gen = NULL;
    }
    if (!j->gen) {
        if ((st = pc_gen_open(&j->gen, &j->o->gen)))
            return st;
        j->gen_next = 0;
    }
    size_t each = j->rows * j->cols;
    for (; j->gen_next < n; j->gen_next++)
        pc_gen_draw(j->gen, each, NULL);
    pc_gen_draw(j->gen, each, j->m.data);
    j->gen_next++;
    return PC_OK;
}

int inputs_matrix(job *j, size_t n)
{
    if (j->m_index == n)
        return PC_OK;
    j->m_index = SIZE_MAX;
    int st = j->nsrc ? read_stored(j, n) : draw_matrix(j, n);
    if (st)
        return st;
    /* A file rewritten during the run would mix two inputs in one
     * result; the hash of the first read tells. */
    if (j->nsrc && j->mhash &&
        values_hash(j->m.data, j->rows * j->cols) != j->mhash[n])
        return pc_error(PC_EINPUT, "matrix %zu changed while parconv ran (its "
                        "file was rewritten): the results would mix two "
                        "inputs", n);
    j->m_index = n;
    return PC_OK;
}

/* Every stored matrix read once, for the files' hashes (each matrix's,
 * and for a stack the hash of theirs in order) and to find one with NaN
 * or Inf. */
static int hash_stored(job *j, size_t *nonfinite)
{
    *nonfinite = SIZE_MAX;
    if (!(j->mhash = calloc(j->nmat, sizeof *j->mhash)))
        return pc_error(PC_ENOMEM, "cannot allocate %zu hashes", j->nmat);
    size_t each = j->rows * j->cols;
    for (size_t s = 0; s < j->nsrc; s++) {
        job_source *src = &j->src[s];
        for (size_t i = 0; i < src->nmat; i++) {
            size_t n = src->first + i;
            int st = read_stored(j, n);
            if (st)
                return st;
            j->m_index = n;
            j->mhash[n] = values_hash(j->m.data, each);
            for (size_t e = 0; *nonfinite == SIZE_MAX && e < each; e++)
                if (!isfinite(j->m.data[e]))
                    *nonfinite = n;
        }
        bool stack = src->h5 ? src->h5->ndim == 3 : src->id.meta.ndim == 3;
        src->id.hash = stack ? pc_xxhash64(j->mhash + src->first,
                                           src->nmat * sizeof *j->mhash, 0)
                             : j->mhash[src->first];
    }
    return PC_OK;
}

/* The first matrix with planes in this shard (0 if none has). */
static size_t first_needed(const job *j)
{
    for (size_t n = 0; n < j->nmat; n++) {
        size_t a, b, q0;
        job_matrix_planes(j, n, &a, &b, &q0);
        if (a < b)
            return n;
    }
    return 0;
}

/* The generated kernels: the stream's values after the N matrices' (drawn
 * even when the matrices are read from files, so that a bank does not
 * depend on where they came from, and `-m` of what `gen --matrices N`
 * wrote gives the same bank as --matrices N). */
static int draw_bank(job *j)
{
    pc_gen_stream *g;
    int st = pc_bank_alloc(&j->b, j->total, j->krows, j->kcols);
    if (!st)
        st = pc_gen_open(&g, &j->o->gen);
    if (st)
        return st;
    for (size_t n = 0; n < j->nmat; n++)
        pc_gen_draw(g, j->rows * j->cols, NULL);
    pc_gen_draw(g, j->total * j->krows * j->kcols, j->b.data);
    pc_gen_close(g);
    return PC_OK;
}

/* The plan's kernels in plan order (kplan), in place of the bank. */
static int keep_plan_kernels(job *j)
{
    bool identity = j->pk == j->total;
    for (size_t i = 0; identity && i < j->pk; i++)
        identity = j->kplan[i] == i;
    if (identity)
        return PC_OK;
    pc_bank kept;
    size_t taps = j->krows * j->kcols;
    int st = pc_bank_alloc(&kept, j->pk, j->krows, j->kcols);
    if (st)
        return st;
    for (size_t i = 0; i < j->pk; i++)
        memcpy(kept.data + i * taps, j->b.data + j->kplan[i] * taps,
               taps * sizeof *kept.data);
    pc_bank_free(&j->b);
    j->b = kept;
    return PC_OK;
}

int inputs_load(job *j)
{
    const cli_options *o = j->o;
    j->m_index = SIZE_MAX;
    int st = open_sources(j);
    if (!st)
        st = read_bank(j);
    if (!st)
        st = shapes(j);
    if (!st)
        st = estimate_memory(j);
    if (!st)
        st = pc_matrix_alloc(&j->m, j->rows, j->cols);
    if (!st && !o->bank_path)
        st = draw_bank(j);
    if (!st)
        st = keep_plan_kernels(j);
    /* The plan is made with the first matrix this shard needs; with a
     * matrix holding NaN or Inf anywhere in the run, with that one, so
     * that --method auto chooses the direct sum as it would for that
     * matrix alone, in every shard alike. */
    size_t nonfinite = SIZE_MAX;
    if (!st && j->nsrc)
        st = hash_stored(j, &nonfinite);
    if (st)
        return st;
    j->plan_matrix = nonfinite != SIZE_MAX ? nonfinite : first_needed(j);
    return inputs_matrix(j, j->plan_matrix);
}

void inputs_free(job *j)
{
    for (size_t s = 0; j->src && s < j->nsrc; s++)
        free(j->src[s].h5);
    free(j->src);
    free(j->mhash);
    free(j->kplan);
    free(j->kpos);
    pc_gen_close(j->gen);
    pc_matrix_free(&j->m);
    pc_bank_free(&j->b);
    j->src = NULL;
    j->mhash = NULL;
    j->kplan = j->kpos = NULL;
    j->gen = NULL;
}
