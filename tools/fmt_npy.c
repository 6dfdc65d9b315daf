/* The npy output format: a .npy file per plane, DIR/conv_KKKKK.npy with
 * one matrix, DIR/conv_NNNNN_KKKKK.npy (matrix, kernel) with several
 * (outdir_plane_name). A batch's planes are each written to a temporary
 * with its write-back started at once (sync_file_range), so the disk works
 * on them together; flush then syncs and renames each: a file under its
 * final name is whole. Planes are written side by side by the writer's
 * threads (run.c), and while the previous batch is flushed. Every shard writes its planes under their final
 * names in the same DIR, so merge has nothing to copy. */
#include "outdir.h"
#include "outfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    outfmt_spec spec;
    size_t row, plane; /* bytes of a row, of a plane */
    /* The batch written but not yet flushed: temporaries and their final
     * names. */
    outdir_file *pending;
    size_t npending, cap;
    pthread_mutex_t lock; /* of the three above */
} npy_ctx;

static int npy_open(void **out, const outfmt_spec *spec, enum outfmt_mode mode)
{
    (void)mode;
    npy_ctx *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return pc_error(PC_ENOMEM, "cannot open the npy output: out of memory");
    c->spec = *spec;
    pthread_mutex_init(&c->lock, NULL);
    c->row = spec->ocols * pc_dtype_size(spec->dtype);
    c->plane = spec->orows * c->row;
    return PC_OK;
}

static const char *npy_partial(void *ctx)
{
    (void)ctx;
    return "";
}

/* DIR/NAME of plane (n, k). */
static int plane_path(const npy_ctx *c, size_t n, size_t k, char *buf,
                      size_t len)
{
    char name[64];
    outdir_plane_name(c->spec.nmat, n, k, name, sizeof name);
    return outdir_path(buf, len, c->spec.dir, name);
}

/* Plane (n, k) written into f, a new temporary beside its final name;
 * on failure f is discarded and the error names the final file. */
static int write_temp(const npy_ctx *c, size_t n, size_t k, const void *plane,
                      outdir_file *f)
{
    char path[4096];
    size_t shape[2] = {c->spec.orows, c->spec.ocols};
    int st = plane_path(c, n, k, path, sizeof path);
    if (!st)
        st = outdir_file_open(f, path, false);
    if (st)
        return st;
    if ((st = pc_npy_write_fd(f->fd, c->spec.dtype, 2, shape, plane))) {
        outdir_file_discard(f);
        /* Name the final file: the temporary one is gone. */
        char why[512];
        const char *colon = strrchr(pc_errmsg(), ':');
        snprintf(why, sizeof why, "%s",
                 strstr(pc_errmsg(), ": ") ? colon + 2 : pc_errmsg());
        return pc_error(st, "cannot write '%s': %s", path, why);
    }
    return PC_OK;
}

static int npy_write_plane(void *ctx, size_t n, size_t k, const void *plane)
{
    npy_ctx *c = ctx;
    outdir_file f;
    int st = write_temp(c, n, k, plane, &f);
    if (st)
        return st;
    /* No more files are held open than one: commit opens it again. */
    sync_file_range(f.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    close(f.fd);
    f.fd = -1;
    pthread_mutex_lock(&c->lock);
    if (c->npending == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        outdir_file *p = realloc(c->pending, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&c->lock);
            outdir_file_discard(&f);
            return pc_error(PC_ENOMEM, "cannot write the batch: out of memory");
        }
        c->pending = p;
        c->cap = cap;
    }
    c->pending[c->npending++] = f;
    pthread_mutex_unlock(&c->lock);
    return PC_OK;
}

/* Syncs and renames what was written; on failure removes the rest. The
 * list is taken as it is: planes written meanwhile wait for the next
 * flush. */
static int npy_flush(void *ctx)
{
    npy_ctx *c = ctx;
    pthread_mutex_lock(&c->lock);
    outdir_file *list = c->pending;
    size_t n = c->npending;
    c->pending = NULL;
    c->npending = c->cap = 0;
    pthread_mutex_unlock(&c->lock);
    int st = PC_OK;
    for (size_t i = 0; i < n; i++)
        if (st)
            outdir_file_discard(&list[i]);
        else
            st = outdir_file_commit(&list[i]);
    free(list);
    return st;
}

/* The file whole: the header this plane's would have, then exactly the
 * plane's bytes. */
static int npy_read_plane(void *ctx, size_t n, size_t k, void *plane)
{
    npy_ctx *c = ctx;
    char path[4096], want[256], got[256];
    size_t shape[2] = {c->spec.orows, c->spec.ocols};
    size_t hlen = pc_npy_header(c->spec.dtype, 2, shape, want, sizeof want);
    int st = plane_path(c, n, k, path, sizeof path);
    if (st)
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pc_error(PC_EINPUT, "cannot read '%s': %s", path,
                        strerror(errno));
    struct stat sb;
    bool ok = hlen && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
              (size_t)sb.st_size == hlen + c->plane &&
              pread(fd, got, hlen, 0) == (ssize_t)hlen &&
              memcmp(got, want, hlen) == 0 &&
              pread(fd, plane, c->plane, (off_t)hlen) == (ssize_t)c->plane;
    close(fd);
    if (!ok)
        return pc_error(PC_EINPUT, "'%s' is not a whole %zux%zu plane of %s",
                        path, c->spec.orows, c->spec.ocols,
                        pc_dtype_name(c->spec.dtype));
    return PC_OK;
}

static int npy_commit(void *ctx, const char *manifest_json,
                      const uint64_t *sums)
{
    (void)manifest_json;
    (void)sums; /* the manifest lists them; a .npy has no room */
    return npy_flush(ctx);
}

static void npy_close(void *ctx)
{
    npy_ctx *c = ctx;
    if (!c)
        return;
    for (size_t i = 0; i < c->npending; i++)
        outdir_file_discard(&c->pending[i]);
    free(c->pending);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void npy_final_names(const outfmt_spec *spec, char *buf, size_t n)
{
    (void)spec;
    if (n)
        buf[0] = 0;
}

const outfmt outfmt_npy = {
    .name = "npy", .help = "a .npy file per plane", .per_plane = true,
    .open = npy_open, .partial = npy_partial, .close = npy_close,
    .concurrent = true,
    .write_plane = npy_write_plane, .read_plane = npy_read_plane,
    .flush = npy_flush, .commit = npy_commit, .final_names = npy_final_names,
};
