/* --format stack: the run's planes in one .npy, DIR/conv.npy (a shard's:
 * conv.shard-I-of-N.npy), of shape (N, K, R', C') in the computed dtype,
 * or (K, R', C') when N is 1, so that a single matrix's stack reads as
 * its kernels' planes. numpy's own format 1.0 header (pc_npy_header), C
 * order: numpy.load(path, mmap_mode='r') maps it.
 *
 * The file is made at once at its full size (ftruncate: no zeros are
 * written, it is sparse, so a shard's file, which holds only its own
 * planes, takes only their room on disk) and every plane is written in
 * place at its offset, header + (n * K + k) * plane bytes. Until commit it
 * is the temporary ".conv.npy.XXXXXX.tmp" (outdir_file's scheme); commit
 * syncs it and renames it to its final name. */
#include "outdir.h"
#include "outfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* numpy headers of up to 4 dimensions are a few hundred bytes at most. */
#define HEADER_MAX 512

typedef struct {
    outdir_file f;    /* the open file (f.fd), final name, temporary's name */
    const char *name; /* the file opened: f.tmp or f.path */
    bool writable;
    outfmt_spec spec; /* its numbers; dir and partial are not kept */
    char header[HEADER_MAX];
    size_t header_bytes, plane_bytes;
    off_t total_bytes;
} stack_ctx;

static void stack_final(const outfmt_spec *spec, char *buf, size_t n)
{
    if (spec->shard_n > 1)
        snprintf(buf, n, "conv.shard-%zu-of-%zu.npy", spec->shard_i,
                 spec->shard_n);
    else
        snprintf(buf, n, "conv.npy");
}

static void stack_final_names(const outfmt_spec *spec, char *buf, size_t n)
{
    char name[96];
    stack_final(spec, name, sizeof name);
    snprintf(buf, n, "%s\n", name);
}

/* The header this spec makes, the size of a plane and of the whole file.
 * PC_EUSAGE if it would not fit a file. */
static int stack_layout(stack_ctx *c)
{
    const outfmt_spec *s = &c->spec;
    size_t shape[4] = {s->nmat, s->count, s->orows, s->ocols};
    int ndim = s->nmat == 1 ? 3 : 4;
    size_t planes, bytes;
    c->header_bytes = pc_npy_header(s->dtype, ndim, shape + (4 - ndim),
                                    c->header, sizeof c->header);
    if (c->header_bytes == 0 ||
        __builtin_mul_overflow(s->orows, s->ocols, &bytes) ||
        __builtin_mul_overflow(bytes, pc_dtype_size(s->dtype), &c->plane_bytes) ||
        __builtin_mul_overflow(s->nmat, s->count, &planes) ||
        __builtin_mul_overflow(planes, c->plane_bytes, &bytes) ||
        __builtin_add_overflow(bytes, c->header_bytes, &bytes) ||
        bytes > (size_t)INT64_MAX)
        return pc_error(PC_EUSAGE, "a stack of %zu x %zu planes of %zu x %zu "
                        "does not fit one file", s->nmat, s->count, s->orows,
                        s->ocols);
    c->total_bytes = (off_t)bytes;
    return PC_OK;
}

/* Every byte of buf at offset off, or -1 with errno (0: end of file). */
static int pio_all(int fd, void *buf, size_t n, off_t off, bool write)
{
    char *p = buf;
    while (n) {
        ssize_t r = write ? pwrite(fd, p, n, off) : pread(fd, p, n, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = write ? EIO : 0;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

static int stack_create(stack_ctx *c)
{
    char path[sizeof c->f.path];
    memcpy(path, c->f.path, sizeof path);
    int st = outdir_file_open(&c->f, path, false);
    if (st)
        return st;
    c->name = c->f.tmp;
    if (pio_all(c->f.fd, c->header, c->header_bytes, 0, true) != 0 ||
        ftruncate(c->f.fd, c->total_bytes) != 0) {
        st = pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                      strerror(errno));
        outdir_file_discard(&c->f);
    }
    return st;
}

/* An existing file (the final one, or the temporary spec->partial), if it
 * is exactly what this spec makes: a regular file with this header and
 * this size. */
static int stack_reopen(stack_ctx *c, bool rdwr)
{
    char got[HEADER_MAX];
    struct stat sb;
    const outfmt_spec *s = &c->spec;
    c->f.fd = open(c->name, (rdwr ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
                                O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (c->f.fd < 0 && errno != ELOOP)
        return pc_error(PC_EINPUT, "cannot open '%s': %s", c->name,
                        strerror(errno));
    if (c->f.fd < 0 || fstat(c->f.fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size != c->total_bytes ||
        pio_all(c->f.fd, got, c->header_bytes, 0, false) != 0 ||
        memcmp(got, c->header, c->header_bytes) != 0)
        return pc_error(PC_EINPUT, "'%s' is corrupt or truncated, or not "
                        "this run's: not a %s stack of %zu x %zu planes of "
                        "%zu x %zu (%lld bytes)", c->name,
                        pc_dtype_name(s->dtype), s->nmat, s->count, s->orows,
                        s->ocols, (long long)c->total_bytes);
    return PC_OK;
}

static void stack_close(void *ctx)
{
    stack_ctx *c = ctx;
    if (!c)
        return;
    /* Without a commit the temporary stays for --resume. */
    if (c->f.fd >= 0)
        close(c->f.fd);
    free(c);
}

static int stack_open(void **ctx, const outfmt_spec *spec,
                      enum outfmt_mode mode)
{
    char final[96];
    stack_ctx *c = calloc(1, sizeof *c);
    *ctx = NULL;
    if (!c)
        return pc_error(PC_ENOMEM, "out of memory");
    c->f.fd = -1;
    c->spec = *spec;
    c->spec.dir = c->spec.partial = NULL;
    c->writable = mode != OUTFMT_READ;
    c->name = c->f.path;
    stack_final(spec, final, sizeof final);
    int st = stack_layout(c);
    if (!st)
        st = outdir_path(c->f.path, sizeof c->f.path, spec->dir, final);
    if (!st && mode != OUTFMT_NEW && spec->partial) {
        /* Only a temporary of this final name, in DIR: a manifest that
         * names another file does not make it written over. */
        size_t n = strlen(final), p = strlen(spec->partial);
        if (strchr(spec->partial, '/') || p <= n + 6 ||
            spec->partial[0] != '.' || strncmp(spec->partial + 1, final, n) ||
            spec->partial[n + 1] != '.' || strcmp(spec->partial + p - 4, ".tmp"))
            st = pc_error(PC_EINPUT, "'%s' is not a temporary of '%s'",
                          spec->partial, final);
        else
            st = outdir_path(c->f.tmp, sizeof c->f.tmp, spec->dir, spec->partial);
        c->name = c->f.tmp;
    }
    if (!st && mode == OUTFMT_RESUME && !spec->partial)
        st = pc_error(PC_EUSAGE, "stack: resuming needs the temporary's name");
    if (!st)
        st = mode == OUTFMT_NEW ? stack_create(c) : stack_reopen(c, c->writable);
    if (st) {
        stack_close(c);
        return st;
    }
    *ctx = c;
    return PC_OK;
}

static const char *stack_partial(void *ctx)
{
    stack_ctx *c = ctx;
    const char *slash = strrchr(c->f.tmp, '/');
    return slash ? slash + 1 : c->f.tmp;
}

/* Where plane (n, k) starts; PC_EUSAGE for a plane outside the stack. */
static int stack_offset(const stack_ctx *c, size_t n, size_t k, off_t *off)
{
    if (n >= c->spec.nmat || k >= c->spec.count || c->f.fd < 0)
        return pc_error(PC_EUSAGE, "stack: no plane (%zu, %zu) in '%s'", n, k,
                        c->name);
    *off = (off_t)(c->header_bytes + (n * c->spec.count + k) * c->plane_bytes);
    return PC_OK;
}

static int stack_write_plane(void *ctx, size_t n, size_t k, const void *plane)
{
    stack_ctx *c = ctx;
    off_t off = 0;
    int st = stack_offset(c, n, k, &off);
    if (!st && !c->writable)
        st = pc_error(PC_EUSAGE, "stack: '%s' is open for reading", c->name);
    if (!st && pio_all(c->f.fd, (void *)plane, c->plane_bytes, off, true) != 0)
        st = pc_error(PC_EIO, "cannot write '%s': %s", c->name, strerror(errno));
    return st;
}

static int stack_read_plane(void *ctx, size_t n, size_t k, void *plane)
{
    stack_ctx *c = ctx;
    off_t off = 0;
    int st = stack_offset(c, n, k, &off);
    if (!st && pio_all(c->f.fd, plane, c->plane_bytes, off, false) != 0)
        st = errno ? pc_error(PC_EIO, "cannot read '%s': %s", c->name,
                              strerror(errno))
                   : pc_error(PC_EINPUT, "'%s' is truncated", c->name);
    return st;
}

static int stack_flush(void *ctx)
{
    stack_ctx *c = ctx;
    /* The data only: the size was set at creation, and the directory
     * entry is made durable by the manifest's write (it syncs DIR). */
    if (c->writable && fdatasync(c->f.fd) != 0)
        return pc_error(PC_EIO, "cannot write '%s': %s", c->name,
                        strerror(errno));
    return PC_OK;
}

static int stack_commit(void *ctx, const char *manifest_json,
                        const uint64_t *sums)
{
    stack_ctx *c = ctx;
    (void)manifest_json; /* a .npy has no room for metadata */
    (void)sums;
    if (!c->writable || !c->f.tmp[0])
        return pc_error(PC_EUSAGE, "stack: '%s' is not a temporary to commit",
                        c->name);
    /* outdir_file_commit syncs, closes and renames (and removes the
     * temporary if that fails). */
    int st = outdir_file_commit(&c->f);
    c->f.fd = -1;
    c->name = c->f.path;
    return st;
}

const outfmt outfmt_stack = {
    .name = "stack",
    .open = stack_open, .partial = stack_partial, .close = stack_close,
    .write_plane = stack_write_plane, .read_plane = stack_read_plane,
    .flush = stack_flush, .commit = stack_commit, .final_names = stack_final_names,
    .help = "one .npy per run, shape (N, K, R', C') ((K, R', C') for one "
            "matrix), numpy.load(mmap_mode='r') maps it",
};
