/* The npy output format: a .npy file per plane, DIR/conv_KKKKK.npy with
 * one matrix, DIR/conv_NNNNN_KKKKK.npy (matrix, kernel) with several
 * (outdir_plane_name). A batch's planes are each written to a temporary,
 * large ones with direct I/O, small ones with their write-back started at
 * once (sync_file_range), so the disk works on them together; flush then
 * syncs and renames each: a file under its final name is whole. The
 * writer's threads (run.c) write planes side by side, and while the
 * previous batch is flushed. Every shard writes its planes under their
 * final names in the same DIR, so merge has nothing to copy. */
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

/* ---- direct I/O ---------------------------------------------------------- */

/* Large planes go to the disk with O_DIRECT, through a buffer of each
 * writer thread's: the page cache's copy and write-back (most of a
 * buffered write's CPU time, and a plane's pages cached that nobody reads
 * again) are skipped, and the copy into the buffer is the only one. The
 * file's bytes are staged in the buffer as they lie in the file (header,
 * then the values), so offsets, lengths and addresses are all multiples
 * of DIO_ALIGN; the tail under DIO_ALIGN is written through the cache. */
#define DIO_ALIGN ((size_t)4096)
#define DIO_CHUNK ((size_t)8 << 20)
#define DIO_MIN ((size_t)1 << 20) /* smaller planes: one buffered write */

static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;

static void bounce_make_key(void)
{
    pthread_key_create(&bounce_key, free);
}

/* This thread's buffer of DIO_CHUNK bytes (freed when it ends). */
static char *bounce(void)
{
    pthread_once(&bounce_once, bounce_make_key);
    char *b = pthread_getspecific(bounce_key);
    if (!b && (b = aligned_alloc(DIO_ALIGN, DIO_CHUNK)) &&
        pthread_setspecific(bounce_key, b) != 0) {
        free(b);
        b = NULL;
    }
    return b;
}

/* Bytes [off, off + n) of the file (header hdr of hlen bytes, then
 * data) into buf. */
static void stage(char *buf, size_t off, size_t n, const char *hdr,
                  size_t hlen, const char *data)
{
    size_t h = off < hlen ? hlen - off : 0;
    if (h > n)
        h = n;
    memcpy(buf, hdr + off, h);
    memcpy(buf + h, data + (off + h - hlen), n - h);
}

/* n bytes at off. A regular file takes a write short only when it can
 * take no more (a full disk, a size limit): the write of the rest then
 * says why. */
static int pwrite_all(int fd, const char *buf, size_t n, size_t off)
{
    for (;;) {
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w == (ssize_t)n)
            return 0;
        if (w == 0)
            errno = EIO;
        if (w == 0 || (w < 0 && errno != EINTR))
            return -1;
        if (w > 0) {
            buf += w;
            off += (size_t)w;
            n -= (size_t)w;
        }
    }
}

/* The whole file into fd: 0, 1 if direct I/O cannot be had here (the
 * caller writes it the usual way; nothing was written), -1 with errno. */
static int write_direct(int fd, const char *hdr, size_t hlen, const char *data,
                        size_t bytes)
{
    char *buf = bounce();
    int fl = fcntl(fd, F_GETFL);
    if (!buf || fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) != 0)
        return 1;
    size_t total = hlen + bytes, whole = total & ~(DIO_ALIGN - 1);
    for (size_t off = 0; off < whole;) {
        size_t n = whole - off < DIO_CHUNK ? whole - off : DIO_CHUNK;
        stage(buf, off, n, hdr, hlen, data);
        if (pwrite_all(fd, buf, n, off) != 0) {
            int e = errno;
            fcntl(fd, F_SETFL, fl);
            /* A file system without direct I/O says so at the first. */
            if (off == 0 && e == EINVAL)
                return 1;
            errno = e;
            return -1;
        }
        off += n;
    }
    if (fcntl(fd, F_SETFL, fl) != 0)
        return -1;
    if (total > whole) {
        stage(buf, whole, total - whole, hdr, hlen, data);
        if (pwrite_all(fd, buf, total - whole, whole) != 0)
            return -1;
    }
    return 0;
}

/* ---- planes ---------------------------------------------------------------- */

/* The plane as a whole .npy file into fd: directly if large (and not on a
 * big-endian host, where the values are swapped as they are written). */
static int write_file(const npy_ctx *c, int fd, const void *plane)
{
    size_t shape[2] = {c->spec.orows, c->spec.ocols};
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    char hdr[256];
    size_t hlen = pc_npy_header(c->spec.dtype, 2, shape, hdr, sizeof hdr);
    int r = hlen && c->plane >= DIO_MIN
                ? write_direct(fd, hdr, hlen, plane, c->plane)
                : 1;
    if (r < 0)
        return pc_error(PC_EIO, "write error: %s", strerror(errno));
    if (r == 0)
        return PC_OK;
#endif
    return pc_npy_write_fd(fd, c->spec.dtype, 2, shape, plane);
}

/* Plane (n, k) written into f, a new temporary beside its final name;
 * on failure f is discarded and the error names the final file. */
static int write_temp(const npy_ctx *c, size_t n, size_t k, const void *plane,
                      outdir_file *f)
{
    char path[4096];
    int st = plane_path(c, n, k, path, sizeof path);
    if (!st)
        st = outdir_file_open(f, path, false);
    if (st)
        return st;
    if ((st = write_file(c, f->fd, plane))) {
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
