/* The output directory's format, in one place: kernel k's plane as
 * DIR/conv_NNNNN.npy, the manifest (DIR/manifest.json, or
 * manifest.shard-I-of-N.json per shard) that lists the complete ones with
 * their checksums and names the workload, and the temporary files that
 * make every final name complete. The manifest is JSON written and read
 * with jansson, so a manifest that a tool re-indented or re-ordered reads
 * the same. */
#include "outdir.h"

#include "jsontext.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fillvalue is a double that must read back the same bits. */
#define MANIFEST_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(17))

/* ---- names and directories ---------------------------------------------- */

int outdir_prepare(const char *dir)
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

int outdir_path(char *buf, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return pc_error(PC_EUSAGE, "path '%s/%s' is too long", dir, name);
    return PC_OK;
}

void outdir_manifest_name(size_t shard_i, size_t shard_n, char *buf, size_t n)
{
    if (shard_n > 1)
        snprintf(buf, n, "manifest.shard-%zu-of-%zu.json", shard_i, shard_n);
    else
        snprintf(buf, n, "manifest.json");
}

void outdir_plane_name(size_t nmat, size_t n, size_t k, char *buf, size_t len)
{
    if (nmat > 1)
        snprintf(buf, len, "conv_%05zu_%05zu.npy", n, k);
    else
        snprintf(buf, len, "conv_%05zu.npy", k);
}

/* A plane's number in a name, "NNNNN" of five digits or more; the end. */
static const char *plane_number(const char *s, size_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return NULL;
    unsigned long long x = strtoull(s, &end, 10);
    if (x >= SIZE_MAX)
        return NULL;
    *v = (size_t)x;
    return end;
}

/* Whether name is exactly what outdir_plane_name makes of a plane (no
 * other spelling of it), and which: *two says whether it is of a run of
 * several matrices (conv_NNNNN_KKKKK.npy: matrix *n, kernel *k) or of
 * one (conv_KKKKK.npy: *n 0). */
static bool is_plane(const char *name, size_t *n, size_t *k, bool *two)
{
    char want[64];
    const char *end;
    if (strncmp(name, "conv_", 5) != 0 || !(end = plane_number(name + 5, k)))
        return false;
    *n = 0;
    *two = *end == '_';
    if (*two) {
        *n = *k;
        if (!(end = plane_number(end + 1, k)))
            return false;
    }
    if (strcmp(end, ".npy") != 0)
        return false;
    outdir_plane_name(*two ? 2 : 1, *n, *k, want, sizeof want);
    return strcmp(want, name) == 0;
}

/* Plane (n, k) of a workload of K kernels (a name of the other naming
 * counts as no plane of it: SIZE_MAX). */
static size_t plane_index(size_t n, size_t k, bool two, size_t nmat, size_t K)
{
    if (two != (nmat > 1) || k >= K || n >= nmat)
        return SIZE_MAX;
    return n * K + k;
}

/* Whether name is exactly a manifest's name (manifest.json is shard 0 of
 * 1), and whose. */
static bool is_manifest(const char *name, size_t *i, size_t *n)
{
    char want[96];
    *i = 0;
    *n = 1;
    if (strcmp(name, "manifest.json") != 0 &&
        sscanf(name, "manifest.shard-%zu-of-%zu.", i, n) != 2)
        return false;
    outdir_manifest_name(*i, *n, want, sizeof want);
    return strcmp(want, name) == 0;
}

/* ---- files written whole ---------------------------------------------------
 * A file under its final name is always complete: its bytes go to a
 * temporary beside it, ".NAME.XXXXXX.tmp", made by mkostemps: created
 * with O_CREAT|O_EXCL (a symbolic link or any file already at that name
 * makes it try another name, never follow the link), under a name of six
 * random characters that no one can guess to plant a link at first. It is
 * synced, then renamed over NAME; rename replaces a link at NAME, never
 * writes through it. */

/* Characters after ".NAME." in a temporary of NAME, before ".tmp". */
#define TEMP_RANDOM 6

/* Is entry the shape of a temporary of final: "." final "." six letters
 * or digits ".tmp"? */
static bool temp_of(const char *entry, const char *final)
{
    size_t n = strlen(final);
    if (entry[0] != '.' || strncmp(entry + 1, final, n) != 0 ||
        entry[1 + n] != '.')
        return false;
    const char *r = entry + 1 + n + 1;
    return strspn(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789") == TEMP_RANDOM &&
           strcmp(r + TEMP_RANDOM, ".tmp") == 0;
}

/* Names of an open descriptor: whatever they lead to is written in place,
 * never replaced (a temporary in /dev renamed over /dev/stdout would
 * replace it for everyone). */
static bool names_descriptor(const char *path)
{
    static const char *const fds[] = {"/dev/stdout", "/dev/stderr",
                                      "/dev/fd/", "/proc/self/fd/"};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
        size_t n = strlen(fds[i]);
        if (strncmp(path, fds[i], n) == 0 &&
            (fds[i][n - 1] == '/' || path[n] == 0))
            return true;
    }
    return false;
}

/* A character device or FIFO at path (/dev/null, a pipe), or what a name
 * of a descriptor leads to, is written in place (appended to), if the
 * link that leads there (if any) is the user's own or root's: one another
 * user planted is replaced, never followed. The descriptor, or -1 to
 * write a temporary. */
static int open_in_place(const char *path)
{
    struct stat sb, to;
    bool fd_name = names_descriptor(path);
    if (lstat(path, &sb) != 0 ||
        (S_ISLNK(sb.st_mode) && sb.st_uid != 0 && sb.st_uid != geteuid()) ||
        stat(path, &to) != 0 ||
        !(S_ISCHR(to.st_mode) || S_ISFIFO(to.st_mode) ||
          (fd_name && S_ISREG(to.st_mode))))
        return -1;
    int fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC |
                            (S_ISLNK(sb.st_mode) ? 0 : O_NOFOLLOW));
    /* What was opened is checked, not what lstat saw a moment before. */
    if (fd >= 0 && (fstat(fd, &sb) != 0 ||
                    !(S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode) ||
                      (fd_name && S_ISREG(sb.st_mode))))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The mode a new file gets (0666 less the umask), read once: umask can
 * only be read by setting it, and the writer's threads open files side
 * by side. */
static mode_t new_file_mode;
static pthread_once_t new_file_once = PTHREAD_ONCE_INIT;

static void read_new_file_mode(void)
{
    mode_t mask = umask(0);
    umask(mask);
    new_file_mode = 0666 & ~mask;
}

int outdir_file_open(outdir_file *f, const char *path, bool in_place_ok)
{
    f->fd = -1;
    f->tmp[0] = 0;
    if ((size_t)snprintf(f->path, sizeof f->path, "%s", path) >= sizeof f->path)
        return pc_error(PC_EUSAGE, "file name '%.60s...' is too long", path);
    struct stat sb;
    if (in_place_ok && (f->fd = open_in_place(path)) >= 0)
        return PC_OK;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(EISDIR));
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path + 1) : 0;
    if ((size_t)snprintf(f->tmp, sizeof f->tmp, "%.*s.%s.XXXXXX.tmp", dlen,
                         path, path + dlen) >= sizeof f->tmp) {
        f->tmp[0] = 0;
        return pc_error(PC_EUSAGE, "file name '%.60s...' is too long", path);
    }
    f->fd = mkostemps(f->tmp, 4, O_CLOEXEC | O_NOFOLLOW);
    /* mkostemps makes the file 0600; give it the mode any new file gets. */
    pthread_once(&new_file_once, read_new_file_mode);
    if (f->fd < 0 || fchmod(f->fd, new_file_mode) != 0) {
        int e = errno;
        outdir_file_discard(f);
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    return PC_OK;
}

void outdir_file_discard(outdir_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp[0])
        unlink(f->tmp);
    f->tmp[0] = 0;
}

int outdir_file_commit(outdir_file *f)
{
    int e = 0;
    if (!f->tmp[0]) {
        /* Written in place: nothing to rename. */
        if (f->fd >= 0 && close(f->fd) != 0)
            e = errno;
        f->fd = -1;
        return e ? pc_error(PC_EIO, "cannot write '%s': %s", f->path,
                            strerror(e)) : PC_OK;
    }
    /* Closed since it was written (a batch of planes): open it again, not
     * through a link that may have replaced it. */
    if (f->fd < 0)
        f->fd = open(f->tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f->fd < 0 || fsync(f->fd) != 0)
        e = errno;
    if (f->fd >= 0 && close(f->fd) != 0 && !e)
        e = errno;
    f->fd = -1;
    if (!e && rename(f->tmp, f->path) != 0)
        e = errno;
    if (e) {
        outdir_file_discard(f);
        return pc_error(PC_EIO, "cannot write '%s': %s", f->path, strerror(e));
    }
    f->tmp[0] = 0;
    return PC_OK;
}

FILE *outdir_file_stream(outdir_file *f)
{
    /* A stream of its own (a copy of the descriptor), which goes on after
     * a short write and so reports why the next one failed (a file-size
     * limit: EFBIG). */
    int fd = dup(f->fd);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp && fd >= 0)
        close(fd);
    errno = 0;
    return fp;
}

int outdir_file_finish(outdir_file *f, FILE *fp, bool bad)
{
    int e = errno ? errno : EIO;
    if (!fp) {
        bad = true;
    } else {
        if (fflush(fp) != 0 && !bad) {
            bad = true;
            e = errno;
        }
        if (fclose(fp) != 0 && !bad) {
            bad = true;
            e = errno;
        }
    }
    if (bad) {
        outdir_file_discard(f);
        return pc_error(PC_EIO, "cannot write '%s': %s", f->path, strerror(e));
    }
    return outdir_file_commit(f);
}

int outdir_file_json(outdir_file *f, const json_t *root, size_t flags)
{
    FILE *fp = outdir_file_stream(f);
    bool bad = !fp || json_dumpf(root, fp, flags) != 0 ||
               fputc('\n', fp) == EOF;
    return outdir_file_finish(f, fp, bad);
}

/* The final name a temporary of parconv's is of (".NAME.XXXXXX.tmp"),
 * into buf; false if entry is no such temporary. */
static bool temp_base(const char *entry, char *buf, size_t n)
{
    size_t len = strlen(entry), tail = 1 + TEMP_RANDOM + 4;
    if (entry[0] != '.' || len < 2 + tail || len - 1 - tail >= n)
        return false;
    memcpy(buf, entry + 1, len - 1 - tail);
    buf[len - 1 - tail] = 0;
    return temp_of(entry, buf);
}

/* Is name (a final name) one of parconv's planes, manifests or format
 * files of shard i of n, or of another split (then *other)? */
static bool whose(const char *name, const outdir_names *w, size_t *i,
                  size_t *n)
{
    size_t pn, pk;
    bool two;
    if (is_plane(name, &pn, &pk, &two)) {
        size_t p = plane_index(pn, pk, two, w->nmat, w->kernels);
        /* A plane of another naming is no shard's in particular. */
        *n = w->shard_n;
        *i = p == SIZE_MAX ? SIZE_MAX : p % w->shard_n;
        return true;
    }
    return is_manifest(name, i, n) || (w->is_final && w->is_final(name, i, n));
}

void outdir_clean_temps(const char *dir, const outdir_names *w,
                        const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char base[256];
        size_t i, n;
        /* Its own temporaries: of its planes (any, for a whole run), its
         * manifest and its format's files, but the one --resume goes on
         * with. */
        bool mine = temp_base(e->d_name, base, sizeof base) &&
                    whose(base, w, &i, &n) &&
                    (w->shard_n <= 1 ? n <= 1
                                     : i == w->shard_i && n == w->shard_n) &&
                    !(keep && strcmp(keep, e->d_name) == 0);
        struct stat sb;
        if (mine && fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(sb.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* fsync of the directory, so the renames survive a crash too. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- the workload's identity --------------------------------------------- */


/* A shape as a JSON list. */
static json_t *shape_json(int ndim, const size_t *shape)
{
    json_t *v = json_array();
    for (int k = 0; v && k < ndim; k++)
        json_array_append_new(v, json_integer((json_int_t)shape[k]));
    return v;
}

/* One input file's identity: its facts as read (the path as given is the
 * workload's "matrix"/"bank"; the absolute one is for the reader). */
static json_t *file_identity(const char *path, const job_file *f)
{
    return json_pack("{s:o, s:o, s:I, s:s, s:o, s:b, s:o}", "path",
                     json_text(path), "absolute_path",
                     json_text(f->abs_path[0] ? f->abs_path : NULL),
                     "file_bytes", (json_int_t)f->meta.file_bytes, "dtype",
                     f->meta.descr, "shape",
                     shape_json(f->meta.ndim, f->meta.shape), "fortran_order",
                     f->meta.fortran_order, "hash", json_hex64(f->hash));
}

/* An HDF5 dataset's: the file and dataset, and the same facts. */
static json_t *h5_identity(const job_source *s)
{
    const h5_input *h = s->h5;
    char abs[PATH_MAX];
    size_t shape[3] = {h->nmat, h->rows, h->cols};
    return json_pack("{s:o, s:o, s:o, s:I, s:o, s:o, s:o}", "path",
                     json_text(s->path), "absolute_path",
                     json_text(realpath(h->file, abs) ? abs : NULL), "dataset",
                     json_text(h->dataset), "file_bytes",
                     (json_int_t)h->file_bytes, "dtype", json_text(h->type),
                     "shape", shape_json(h->ndim, shape + 3 - h->ndim),
                     "hash", json_hex64(s->id.hash));
}

/* The generator's stream. */
static json_t *gen_identity(const pc_gen_params *g)
{
    return json_pack("{s:s, s:I, s:[I, I]}", "generator", "gsl-mt19937",
                     "seed", (json_int_t)g->seed, "range", (json_int_t)g->lo,
                     (json_int_t)g->hi);
}

/* The matrices' identities: one -m's (or the generator's) as an object,
 * several as a list of them in order. */
static json_t *matrix_identity(const job *j)
{
    if (!j->nsrc)
        return gen_identity(&j->o->gen);
    json_t *list = j->nsrc > 1 ? json_array() : NULL;
    for (size_t i = 0; i < j->nsrc; i++) {
        const job_source *s = &j->src[i];
        json_t *id = s->h5 ? h5_identity(s) : file_identity(s->path, &s->id);
        if (!list)
            return id;
        if (!id || json_array_append_new(list, id)) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* The workload's "matrix": the path of one -m, a list of several, null
 * for generated matrices. */
static json_t *matrix_paths(const job *j)
{
    if (j->nsrc <= 1)
        return json_text(j->nsrc ? j->src[0].path : NULL);
    json_t *list = json_array();
    for (size_t i = 0; list && i < j->nsrc; i++)
        if (json_array_append_new(list, json_text(j->src[i].path))) {
            json_decref(list);
            return NULL;
        }
    return list;
}

json_t *outdir_workload(const job *j)
{
    const cli_options *o = j->o;
    const pc_conv_params *p = &o->conv;
    bool generated = !j->nsrc || !o->bank_path;
    /* Non-finite numbers have no JSON spelling. */
    json_t *fill = isfinite(p->fillvalue) ? json_real(p->fillvalue) : json_null();
    json_t *range = generated ? json_pack("[I, I]", (json_int_t)o->gen.lo,
                                          (json_int_t)o->gen.hi)
                              : json_null();
    json_t *seed = generated ? json_integer((json_int_t)o->gen.seed) : json_null();
    json_t *inputs = json_pack(
        "{s:o, s:o}", "matrix", matrix_identity(j), "bank",
        o->bank_path ? file_identity(o->bank_path, &j->bank_file)
                     : gen_identity(&o->gen));
    json_t *w = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:o, s:s, s:o, s:s, s:o, s:I, "
        "s:I, s:b, s:o, s:o, s:o, s:o, s:o}",
        "rows", (json_int_t)j->rows, "cols", (json_int_t)j->cols,
        "count", (json_int_t)j->total, "krows", (json_int_t)j->krows,
        "kcols", (json_int_t)j->kcols, "mode", pc_mode_name(p->mode),
        "boundary", pc_boundary_name(p->boundary), "fillvalue", fill,
        "dtype", pc_dtype_name(p->dtype),
        "method", json_text(j->plan ? pc_method_name(pc_plan_method(j->plan))
                                    : NULL),
        "method_requested", pc_method_name(p->method),
        "isa", json_text(j->plan ? pc_isa_name(pc_plan_isa(j->plan)) : NULL),
        "out_rows", (json_int_t)j->orows, "out_cols", (json_int_t)j->ocols,
        "swapped", j->swapped != 0, "matrix", matrix_paths(j),
        "bank", json_text(o->bank_path), "seed", seed, "range", range,
        "inputs", inputs);
    /* A stack's matrices; a run of one matrix keeps the workload it had
     * before stacks were there. */
    if (w && j->nmat > 1 &&
        json_object_set_new(w, "matrices", json_integer((json_int_t)j->nmat))) {
        json_decref(w);
        return NULL;
    }
    return w;
}

/* Numbers compare by value: 0 and 0.0 are the same fillvalue. */
static bool same_value(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b);
}

/* A value for a message: its JSON text (a string without its quotes), at
 * most 60 characters. */
static void show(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) {
        snprintf(buf, n, "%.60s", json_string_value(v));
        return;
    }
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(buf, n, "%.60s", s ? s : "none");
    free(s);
}

/* How two identities of one input (which: "matrix" or "bank") differ,
 * the first fact that does, in words: 2 with why, or 0. */
static int identity_diff(const json_t *ia, const char *a_name,
                         const json_t *ib, const char *b_name,
                         const char *which, char *why, size_t n)
{
    static const struct {
        const char *key, *what;
    } facts[] = {
        {"generator", "generator differs"}, {"seed", "seed differs"},
        {"range", "range differs"},        {"dataset", "dataset differs"},
        {"dtype", "dtype differs"},        {"shape", "shape differs"},
        {"fortran_order", "order (fortran_order) differs"},
        {"file_bytes", "size in bytes differs"}, {"hash", "values differ"},
    };
    const char *path = json_string_value(json_object_get(ib, "path"));
    for (size_t f = 0; f < sizeof facts / sizeof *facts; f++) {
        const json_t *va = json_object_get(ia, facts[f].key);
        const json_t *vb = json_object_get(ib, facts[f].key);
        if ((!va && !vb) || (va && vb && same_value(va, vb)))
            continue;
        char x[64], y[64], label[240];
        bool hash = strcmp(facts[f].key, "hash") == 0;
        show(va, x, sizeof x);
        show(vb, y, sizeof y);
        /* A long path keeps its end, where the file's name is. */
        size_t len = path ? strlen(path) : 0, keep = sizeof label - 4;
        if (!path)
            snprintf(label, sizeof label, "the generated %s", which);
        else
            snprintf(label, sizeof label, "%s%s", len > keep ? "..." : "",
                     path + (len > keep ? len - keep : 0));
        snprintf(why, n, "another %s: %s's %s (%s%s %s, %s%s %s)", which,
                 label, facts[f].what, hash ? "hash 0x" : "", x, a_name,
                 hash ? "0x" : "", y, b_name);
        return 2;
    }
    return 0;
}

/* How the inputs a and b (the workloads' "inputs") differ, the first
 * fact that does, in words: 2 with why, or 0. Several matrix files are a
 * list, compared file by file. The paths are not compared here: the path
 * as given is the workload's "matrix" or "bank", and the same file may
 * be reached from elsewhere. */
static int inputs_diff(const json_t *a, const char *a_name, const json_t *b,
                       const char *b_name, char *why, size_t n)
{
    static const char *const which[] = {"matrix", "bank"};
    for (size_t w = 0; w < 2; w++) {
        const json_t *ia = json_object_get(a, which[w]);
        const json_t *ib = json_object_get(b, which[w]);
        size_t na = json_is_array(ia) ? json_array_size(ia) : 1;
        size_t nb = json_is_array(ib) ? json_array_size(ib) : 1;
        if (na != nb || json_is_array(ia) != json_is_array(ib)) {
            snprintf(why, n, "another %s: %zu file%s %s, %zu %s", which[w],
                     na, na == 1 ? "" : "s", a_name, nb, b_name);
            return 2;
        }
        for (size_t i = 0; i < na; i++)
            if (identity_diff(json_is_array(ia) ? json_array_get(ia, i) : ia,
                              a_name,
                              json_is_array(ib) ? json_array_get(ib, i) : ib,
                              b_name, which[w], why, n))
                return 2;
    }
    return 0;
}

int outdir_workload_diff(const json_t *a, const char *a_name, const json_t *b,
                         const char *b_name, char *why, size_t n)
{
    const char *key;
    json_t *bv, *av;
    char x[64], y[64];
    /* In b's order, then what only a has. */
    json_object_foreach((json_t *)b, key, bv) {
        av = json_object_get(a, key);
        if (strcmp(key, "inputs") == 0 && json_is_object(av) &&
            json_is_object(bv)) {
            if (inputs_diff(av, a_name, bv, b_name, why, n))
                return 2;
            continue;
        }
        if (!av || !same_value(av, bv)) {
            show(av, x, sizeof x);
            show(bv, y, sizeof y);
            snprintf(why, n, "field '%s': %s %s, %s %s", key, x, a_name, y,
                     b_name);
            return 1;
        }
    }
    json_object_foreach((json_t *)a, key, av) {
        if (!json_object_get(b, key)) {
            show(av, x, sizeof x);
            snprintf(why, n, "field '%s': %s %s, none %s", key, x, a_name,
                     b_name);
            return 1;
        }
    }
    return 0;
}

/* What a workload difference found by outdir_workload_diff (kind 1 or 2)
 * makes of DIR's results, for a message: "was <this> <why>". */
static const char *differs_as(int kind)
{
    return kind == 2 ? "computed from" : "written for a different workload:";
}

/* ---- the manifest ----------------------------------------------------------
 * Its keys, in this order: version, workload, format {name, partial,
 * deflate}, fft_tile [P, Q], dtype, shape [rows, cols], shard [I, N]
 * (shards only), complete, kernels_done, checksum (when complete),
 * kernels: [{index, file, checksum}]. With several matrices the planes
 * are "planes_done" and "planes": [{matrix, kernel, file, checksum}].
 * "file" only for the npy format (the others hold every plane in one
 * file). Checksums are 16 hex digits. Complete: every plane of the shard
 * listed and the format's file under its final name (no partial). */

/* The npy format has a file per plane, which the manifest names. */
static bool plane_files(const outdir_manifest *m)
{
    return strcmp(m->format, "npy") == 0;
}

static const char *done_key(const outdir_manifest *m)
{
    return m->nmat > 1 ? "planes_done" : "kernels_done";
}

static const char *list_key(const outdir_manifest *m)
{
    return m->nmat > 1 ? "planes" : "kernels";
}

/* Plane p's entry in the manifest; NULL if out of memory. */
static json_t *plane_entry(const outdir_manifest *m, size_t p, uint64_t sum)
{
    size_t n = p / m->kernels, k = p % m->kernels;
    char name[64];
    json_t *e = m->nmat > 1 ? json_pack("{s:I, s:I}", "matrix", (json_int_t)n,
                                        "kernel", (json_int_t)k)
                            : json_pack("{s:I}", "index", (json_int_t)k);
    outdir_plane_name(m->nmat, n, k, name, sizeof name);
    if (e && ((plane_files(m) && json_object_set_new(e, "file",
                                                     json_string(name))) ||
              json_object_set_new(e, "checksum", json_hex64(sum)))) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static bool manifest_complete(const outdir_manifest *m, size_t done)
{
    return done == m->count && !m->partial[0];
}

/* The manifest's JSON; NULL if out of memory. */
static json_t *manifest_json(const outdir_manifest *m)
{
    size_t n = 0;
    for (size_t q = 0; q < m->count; q++)
        n += m->done[q];
    bool complete = manifest_complete(m, n);
    json_t *planes = json_array();
    json_t *root = json_pack(
        "{s:s, s:O, s:{s:s, s:o, s:o}, s:o, s:s, s:o}", "version", m->version,
        "workload", m->workload, "format", "name", m->format, "partial",
        json_text(m->partial[0] ? m->partial : NULL), "deflate",
        m->deflate >= 0 ? json_integer(m->deflate) : json_null(), "fft_tile",
        json_pair(m->fft_P, m->fft_Q), "dtype", pc_dtype_name(m->dtype),
        "shape", json_pair(m->orows, m->ocols));
    int bad = !root || !planes;
    if (!bad && m->shard_n > 1)
        bad |= json_object_set_new(root, "shard", json_pair(m->shard_i, m->shard_n));
    if (!bad) {
        bad |= json_object_set_new(root, "complete", json_boolean(complete));
        bad |= json_object_set_new(root, done_key(m), json_integer((json_int_t)n));
    }
    if (!bad && complete)
        bad |= json_object_set_new(root, "checksum",
                                   json_hex64(pc_hash_combine(m->sums, m->count)));
    for (size_t q = 0; !bad && q < m->count; q++)
        if (m->done[q])
            bad |= json_array_append_new(planes, plane_entry(
                       m, m->shard_i + q * m->shard_n, m->sums[q]));
    if (!bad) {
        bad |= json_object_set_new(root, list_key(m), planes);
        planes = NULL;
    }
    json_decref(planes);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int outdir_manifest_write(const char *dir, const outdir_manifest *m)
{
    char name[96], path[4096];
    outdir_manifest_name(m->shard_i, m->shard_n, name, sizeof name);
    int st = outdir_path(path, sizeof path, dir, name);
    if (st)
        return st;
    json_t *root = manifest_json(m);
    if (!root)
        return pc_error(PC_ENOMEM, "cannot write '%s': out of memory", path);
    outdir_file f;
    if (!(st = outdir_file_open(&f, path, false)))
        st = outdir_file_json(&f, root, MANIFEST_FLAGS);
    json_decref(root);
    if (!st)
        sync_dir(dir);
    return st;
}

/* The run's manifest, of its planes done so far (its workload a new
 * reference, NULL if out of memory). */
static void job_manifest(const job *j, const uint64_t *sums, const bool *done,
                         outdir_manifest *m)
{
    *m = (outdir_manifest){
        .workload = outdir_workload(j),
        .fft_P = j->fft_P, .fft_Q = j->fft_Q,
        .dtype = j->o->conv.dtype,
        .orows = j->orows, .ocols = j->ocols,
        .nmat = j->nmat, .kernels = j->total, .total = j->planes,
        .shard_i = j->shard_i, .shard_n = j->shard_n,
        .count = j->count,
        .done = (bool *)done, .sums = (uint64_t *)sums,
        .deflate = j->o->deflate,
    };
    snprintf(m->version, sizeof m->version, "%s", PC_VERSION);
    snprintf(m->format, sizeof m->format, "%s", j->o->format);
    snprintf(m->partial, sizeof m->partial, "%s", j->partial);
}

int outdir_save(const job *j, const uint64_t *sums, const bool *done)
{
    outdir_manifest m;
    job_manifest(j, sums, done, &m);
    int st = m.workload ? outdir_manifest_write(j->o->outdir, &m)
                        : pc_error(PC_ENOMEM, "cannot write the manifest");
    json_decref(m.workload);
    return st;
}

char *outdir_manifest_dump(const outdir_manifest *m)
{
    json_t *root = m->workload ? manifest_json(m) : NULL;
    char *text = root ? json_dumps(root, MANIFEST_FLAGS) : NULL;
    json_decref(root);
    return text;
}

char *outdir_manifest_text(const job *j, const uint64_t *sums,
                           const bool *done)
{
    outdir_manifest m;
    job_manifest(j, sums, done, &m);
    m.partial[0] = 0;
    char *text = outdir_manifest_dump(&m);
    json_decref(m.workload);
    return text;
}

/* A non-negative integer member of obj. */
static bool get_size(const json_t *obj, const char *key, size_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (size_t)json_integer_value(v);
    return true;
}

static bool get_pair(const json_t *obj, const char *key, size_t *a, size_t *b)
{
    json_t *v = json_object_get(obj, key);
    json_t *x = json_array_get(v, 0), *y = json_array_get(v, 1);
    if (json_array_size(v) != 2 || !json_is_integer(x) || !json_is_integer(y) ||
        json_integer_value(x) < 0 || json_integer_value(y) < 0)
        return false;
    *a = (size_t)json_integer_value(x);
    *b = (size_t)json_integer_value(y);
    return true;
}

static bool get_string(const json_t *obj, const char *key, char *buf, size_t n)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || strlen(s) >= n)
        return false;
    memcpy(buf, s, strlen(s) + 1);
    return true;
}

static bool get_hex64(const json_t *obj, const char *key, uint64_t *out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
        return false;
    *out = strtoull(s, NULL, 16);
    return true;
}

/* One entry of the planes' list: marks its plane done, or counts it as
 * bad (not one of this shard's planes, listed twice, a file that is not
 * the plane's). */
static void read_plane(outdir_manifest *m, const json_t *e, size_t at)
{
    size_t n = 0, k = 0, p = 0, q = 0;
    uint64_t sum;
    char want[64];
    bool ok = get_hex64(e, "checksum", &sum) &&
              (m->nmat > 1 ? get_size(e, "matrix", &n) &&
                                 get_size(e, "kernel", &k)
                           : get_size(e, "index", &k)) &&
              n < m->nmat && k < m->kernels;
    if (ok) {
        p = n * m->kernels + k;
        ok = p >= m->shard_i && (p - m->shard_i) % m->shard_n == 0 &&
             (q = (p - m->shard_i) / m->shard_n) < m->count && !m->done[q];
    }
    if (ok && plane_files(m)) {
        const char *file = json_string_value(json_object_get(e, "file"));
        outdir_plane_name(m->nmat, n, k, want, sizeof want);
        ok = file && strcmp(file, want) == 0;
    }
    if (!ok) {
        if (!m->bad++)
            m->first_bad = at;
        return;
    }
    m->done[q] = true;
    m->sums[q] = sum;
}

/* "format": {name, partial, deflate}; a manifest from before formats were
 * there has none and is npy's. The partial is a temporary's name in DIR:
 * a name with a '/' is none of parconv's. */
static const char *parse_format(const json_t *root, outdir_manifest *m)
{
    json_t *f = json_object_get(root, "format");
    snprintf(m->format, sizeof m->format, "npy");
    m->partial[0] = 0;
    m->deflate = -1;
    if (!f)
        return NULL;
    json_t *partial = json_object_get(f, "partial");
    json_t *deflate = json_object_get(f, "deflate");
    if (!json_is_object(f) || !get_string(f, "name", m->format, sizeof m->format) ||
        !(json_is_null(partial) ||
          get_string(f, "partial", m->partial, sizeof m->partial)) ||
        strchr(m->partial, '/') || (m->partial[0] && m->partial[0] != '.') ||
        !(json_is_null(deflate) ||
          (json_is_integer(deflate) && json_integer_value(deflate) >= 0 &&
           json_integer_value(deflate) <= 9)))
        return "\"format\" is not {name, partial, deflate}";
    if (json_is_integer(deflate))
        m->deflate = (int)json_integer_value(deflate);
    return NULL;
}

/* Fills m from the parsed manifest; the name of what is wrong, or NULL. */
static const char *parse_manifest(const json_t *root, outdir_manifest *m)
{
    json_t *w = json_object_get(root, "workload");
    json_t *complete = json_object_get(root, "complete");
    char dt[16];
    const char *why;
    if (!json_is_object(root))
        return "not a JSON object";
    if (!get_string(root, "version", m->version, sizeof m->version))
        return "no \"version\"";
    if (!json_is_object(w) || !get_size(w, "count", &m->kernels) ||
        !get_string(w, "method", m->method, sizeof m->method) ||
        !get_string(w, "isa", m->isa, sizeof m->isa))
        return "no \"workload\" with count, method and isa";
    m->nmat = 1;
    if (json_object_get(w, "matrices") &&
        (!get_size(w, "matrices", &m->nmat) || m->nmat < 1))
        return "\"matrices\" in the workload is not a count";
    if (__builtin_mul_overflow(m->nmat, m->kernels, &m->total))
        return "too many planes";
    if ((why = parse_format(root, m)))
        return why;
    if (!get_pair(root, "fft_tile", &m->fft_P, &m->fft_Q))
        return "no \"fft_tile\": [P, Q]";
    if (!get_string(root, "dtype", dt, sizeof dt) || pc_dtype_parse(dt) < 0)
        return "no \"dtype\"";
    m->dtype = (pc_dtype)pc_dtype_parse(dt);
    if (!get_pair(root, "shape", &m->orows, &m->ocols))
        return "no \"shape\": [rows, cols]";
    m->shard_i = 0;
    m->shard_n = 1;
    if (json_object_get(root, "shard") &&
        (!get_pair(root, "shard", &m->shard_i, &m->shard_n) || m->shard_n < 2 ||
         m->shard_i >= m->shard_n))
        return "\"shard\" is not [I, N] with I < N";
    if (!json_is_boolean(complete) || !get_size(root, done_key(m),
                                                &m->planes_done))
        return m->nmat > 1 ? "no \"complete\" and \"planes_done\""
                           : "no \"complete\" and \"kernels_done\"";
    m->complete = json_is_true(complete);
    json_t *planes = json_object_get(root, list_key(m));
    if (!json_is_array(planes))
        return m->nmat > 1 ? "no \"planes\" list" : "no \"kernels\" list";
    m->workload = json_incref(w);
    m->count = m->shard_i < m->total
                   ? (m->total - m->shard_i + m->shard_n - 1) / m->shard_n : 0;
    m->done = calloc(m->count ? m->count : 1, sizeof *m->done);
    m->sums = calloc(m->count ? m->count : 1, sizeof *m->sums);
    if (!m->done || !m->sums)
        return "too many planes";
    size_t i;
    json_t *e;
    json_array_foreach(planes, i, e)
        read_plane(m, e, i);
    return NULL;
}

int outdir_manifest_read(const char *dir, const char *name, outdir_manifest *m)
{
    memset(m, 0, sizeof *m);
    char path[4096];
    int st = outdir_path(path, sizeof path, dir, name);
    if (st)
        return st;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 1 : pc_error(PC_EIO, "cannot read '%s': %s",
                                              path, strerror(errno));
    json_error_t err;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    bool unreadable = ferror(f);
    int e = errno;
    fclose(f);
    if (unreadable) {
        json_decref(root);
        return pc_error(PC_EIO, "cannot read '%s': %s", path, strerror(e));
    }
    if (!root)
        return pc_error(PC_EINPUT, "'%s' is not a parconv manifest: line %d: "
                        "%s", path, err.line, err.text);
    const char *why = parse_manifest(root, m);
    json_decref(root);
    if (why) {
        outdir_manifest_free(m);
        return pc_error(PC_EINPUT, "'%s' is not a parconv manifest: %s", path,
                        why);
    }
    return PC_OK;
}

void outdir_manifest_free(outdir_manifest *m)
{
    json_decref(m->workload);
    free(m->done);
    free(m->sums);
    memset(m, 0, sizeof *m);
}

/* ---- --resume and merge ------------------------------------------------ */

/* How DIR's format (a manifest's) and this run's differ, in words; 0 if
 * they do not. */
static int format_diff(const outdir_manifest *m, const char *format,
                       int deflate, char *why, size_t n)
{
    if (strcmp(m->format, format) != 0)
        snprintf(why, n, "written as --format %s, this run writes %s",
                 m->format, format);
    else if (m->deflate != deflate)
        snprintf(why, n, "written with --compress %s%d, this run with %s%d",
                 m->deflate < 0 ? "none" : "deflate:",
                 m->deflate < 0 ? 0 : m->deflate,
                 deflate < 0 ? "none" : "deflate:", deflate < 0 ? 0 : deflate);
    else
        return 0;
    /* "none0" reads as none. */
    char *z;
    while ((z = strstr(why, "none0")))
        memmove(z + 4, z + 5, strlen(z + 5) + 1);
    return 1;
}

int outdir_resume_check(const job *j, const outdir_manifest *m)
{
    json_t *now = outdir_workload(j);
    if (!now)
        return pc_error(PC_ENOMEM, "cannot compare the workloads");
    char why[1024];
    int differs = outdir_workload_diff(m->workload, "then", now, "now", why,
                                       sizeof why);
    json_decref(now);
    if (differs)
        return pc_error(PC_EUSAGE, "--resume: '%s' was %s %s", j->o->outdir,
                        differs_as(differs), why);
    if (format_diff(m, j->o->format, j->o->deflate, why, sizeof why))
        return pc_error(PC_EUSAGE, "--resume: '%s' was %s (resume with the "
                        "same, or use --force)", j->o->outdir, why);
    return PC_OK;
}

/* How many shards DIR's manifest.shard-I-of-N.json files are of. */
static int count_shards(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return pc_error(PC_EUSAGE, "merge: cannot open '%s': %s", dir,
                        strerror(errno));
    *n = 0;
    struct dirent *e;
    int st = PC_OK;
    while (!st && (e = readdir(d))) {
        size_t i, m;
        if (is_manifest(e->d_name, &i, &m) && m > 1) {
            if (*n && m != *n)
                st = pc_error(PC_EWORKER, "merge: '%s' holds shards of "
                              "different splits (of %zu and of %zu)", dir, *n,
                              m);
            *n = m;
        }
    }
    closedir(d);
    return st;
}

/* Shard i of n, complete, for the same workload, FFT tile and format as
 * shard 0 (first): its planes go into merged. */
static int merge_shard(size_t i, size_t n, const outdir_manifest *sh,
                       const outdir_manifest *first, outdir_manifest *merged)
{
    char why[1024];
    if (sh->shard_i != i || sh->shard_n != n)
        return pc_error(PC_EINPUT, "merge: the manifest of shard %zu of %zu "
                        "says it is shard %zu of %zu", i, n, sh->shard_i,
                        sh->shard_n);
    if (!sh->complete)
        return pc_error(PC_EWORKER, "merge: shard %zu of %zu is incomplete "
                        "(%zu %s done%s): rerun it with --resume", i, n,
                        sh->planes_done, sh->nmat > 1 ? "planes" : "kernels",
                        sh->partial[0] ? ", its file not final" : "");
    if (sh != first) {
        char a[32], b[32];
        snprintf(a, sizeof a, "in shard %zu", i);
        snprintf(b, sizeof b, "in shard %zu", first->shard_i);
        int differs = outdir_workload_diff(sh->workload, a, first->workload, b,
                                           why, sizeof why);
        if (differs)
            return pc_error(PC_EWORKER, "merge: shard %zu of %zu was %s %s", i,
                            n, differs_as(differs), why);
        if (sh->fft_P != first->fft_P || sh->fft_Q != first->fft_Q)
            return pc_error(PC_EWORKER, "merge: shard %zu of %zu was computed "
                            "with FFT size %zux%zu, shard 0 with %zux%zu (give "
                            "every shard the same --fft-size)", i, n, sh->fft_P,
                            sh->fft_Q, first->fft_P, first->fft_Q);
        if (format_diff(first, sh->format, sh->deflate, why, sizeof why))
            return pc_error(PC_EWORKER, "merge: shard 0 was %s (shard %zu)",
                            why, i);
    }
    if (sh->bad)
        return pc_error(PC_EINPUT, "merge: shard %zu of %zu lists a plane that "
                        "is not one of its own, or one twice (entry %zu)", i, n,
                        sh->first_bad);
    for (size_t q = 0; q < sh->count; q++) {
        if (!sh->done[q])
            continue;
        size_t p = i + q * n;
        merged->done[p] = true;
        merged->sums[p] = sh->sums[q];
    }
    return PC_OK;
}

/* merged: what shard 0 says of the workload, as a whole run, no plane
 * done yet. */
static int merge_start(const outdir_manifest *first, outdir_manifest *merged)
{
    *merged = *first;
    merged->workload = json_incref(first->workload);
    merged->shard_i = 0;
    merged->shard_n = 1;
    merged->count = first->total;
    merged->bad = 0;
    merged->done = calloc(first->total ? first->total : 1, sizeof *merged->done);
    merged->sums = calloc(first->total ? first->total : 1, sizeof *merged->sums);
    if (!merged->done || !merged->sums)
        return pc_error(PC_ENOMEM, "merge: out of memory");
    if (first->total == 0)
        return pc_error(PC_EINPUT, "merge: shard 0's manifest names a "
                        "workload of no planes");
    return PC_OK;
}

int outdir_merge_check(const char *dir, outdir_manifest *merged,
                       outdir_manifest **shards, size_t *nshards)
{
    memset(merged, 0, sizeof *merged);
    *shards = NULL;
    size_t n = 0;
    int st = count_shards(dir, &n);
    if (st || !n)
        return st ? st : 1;
    *nshards = n;
    outdir_manifest *sh = calloc(n, sizeof *sh);
    if (!sh)
        return pc_error(PC_ENOMEM, "merge: out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        char name[96], msg[512];
        outdir_manifest_name(i, n, name, sizeof name);
        st = outdir_manifest_read(dir, name, &sh[i]);
        if (st == 1) {
            st = pc_error(PC_EWORKER, "merge: shard %zu of %zu is missing: "
                          "cannot read '%s/%s': %s", i, n, dir, name,
                          strerror(ENOENT));
        } else if (st) {
            snprintf(msg, sizeof msg, "%s", pc_errmsg());
            st = pc_error(st, "merge: %s", msg);
        } else if (!(st = i ? PC_OK : merge_start(&sh[0], merged))) {
            st = merge_shard(i, n, &sh[i], &sh[0], merged);
        }
    }
    size_t missing = 0, at = 0;
    for (size_t p = 0; !st && p < merged->count; p++)
        if (!merged->done[p] && !missing++)
            at = p;
    if (!st && missing)
        st = pc_error(PC_EWORKER, "merge: %zu of %zu planes are missing, the "
                      "first plane %zu", missing, merged->count, at);
    if (st) {
        outdir_merge_free(sh, n);
        outdir_manifest_free(merged);
        return st;
    }
    *shards = sh;
    return PC_OK;
}

void outdir_merge_free(outdir_manifest *shards, size_t n)
{
    for (size_t i = 0; shards && i < n; i++)
        outdir_manifest_free(&shards[i]);
    free(shards);
}

void outdir_remove_shards(const char *dir, size_t nshards)
{
    for (size_t i = 0; i < nshards; i++) {
        char name[96], path[4096];
        outdir_manifest_name(i, nshards, name, sizeof name);
        if (!outdir_path(path, sizeof path, dir, name))
            unlink(path);
    }
    sync_dir(dir);
}

int outdir_read_merged(const char *dir, outdir_manifest *m)
{
    int st = outdir_manifest_read(dir, "manifest.json", m);
    if (st == 1)
        return pc_error(PC_EUSAGE, "merge: no manifests (manifest.json or "
                        "manifest.shard-I-of-N.json) in '%s'", dir);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
        return pc_error(st, "merge: %s", msg);
    }
    if (!m->complete || m->planes_done != m->count)
        st = pc_error(PC_EWORKER, "merge: %s/manifest.json is incomplete (%zu "
                      "of %zu %s done): rerun with --resume", dir,
                      m->planes_done, m->count,
                      m->nmat > 1 ? "planes" : "kernels");
    else if (m->bad)
        st = pc_error(PC_EINPUT, "merge: %s/manifest.json lists a plane that "
                      "is not the workload's, or one twice (entry %zu)", dir,
                      m->first_bad);
    for (size_t p = 0; !st && p < m->count; p++)
        if (!m->done[p])
            st = pc_error(PC_EWORKER, "merge: plane %zu is not listed in "
                          "%s/manifest.json", p, dir);
    if (st)
        outdir_manifest_free(m);
    return st;
}

/* ---- what -o DIR holds already ------------------------------------------- */

/* The final name a temporary of parconv's is of, loosely: ".NAME.X.tmp"
 * for any X (a killed run's, or an older parconv's). */
static bool loose_temp_base(const char *entry, char *buf, size_t n)
{
    size_t len = strlen(entry);
    if (entry[0] != '.' || len < 6 || strcmp(entry + len - 4, ".tmp") != 0 ||
        len - 4 >= n)
        return false;
    memcpy(buf, entry + 1, len - 5);
    buf[len - 5] = 0;
    char *dot = strrchr(buf, '.');
    if (!dot || dot == buf)
        return false;
    *dot = 0;
    return true;
}

/* Whether name (in DIR) is one of parconv's files that --force lets shard
 * i of n replace: its planes (every plane, for a whole run), manifest.json
 * and the manifests and format files of other splits, its own shard
 * manifest and format files, and the temporaries of those ("." NAME "."
 * ...). The other shards of the same split may be running; they replace
 * theirs. */
static bool replaceable(const char *name, const outdir_names *w)
{
    char base[256];
    size_t i, n, pn, pk;
    bool two;
    if (name[0] == '.') {
        if (!loose_temp_base(name, base, sizeof base))
            return false;
        name = base;
    }
    if (!whose(name, w, &i, &n))
        return false;
    if (i == SIZE_MAX && is_plane(name, &pn, &pk, &two))
        i = pk % w->shard_n;
    return w->shard_n <= 1 || n != w->shard_n || i == w->shard_i;
}

int outdir_replace(const char *dir, const outdir_names *w, size_t *removed)
{
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return pc_error(PC_EIO, "cannot read '%s': %s", dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    int st = PC_OK;
    while (!st && (e = readdir(d))) {
        if (!replaceable(e->d_name, w) ||
            outdir_path(path, sizeof path, dir, e->d_name))
            continue;
        if (unlink(path) == 0)
            ++*removed;
        else if (errno != ENOENT)
            st = pc_error(PC_EIO, "--force: cannot remove '%s': %s", path,
                          strerror(errno));
    }
    closedir(d);
    if (!st)
        sync_dir(dir);
    return st;
}

/* The workloads there (a manifest's) and here (this run's) compared: all
 * of it once planned, else all but the method and ISA the plan resolves.
 * As outdir_workload_diff. */
static int compare_workload(const json_t *there, const json_t *here,
                            bool planned, char *why, size_t n)
{
    if (planned)
        return outdir_workload_diff(there, "there", here, "here", why, n);
    json_t *a = json_copy((json_t *)there), *b = json_copy((json_t *)here);
    int d = 1;
    snprintf(why, n, "out of memory");
    if (a && b) {
        json_object_del(a, "method");
        json_object_del(a, "isa");
        json_object_del(b, "method");
        json_object_del(b, "isa");
        d = outdir_workload_diff(a, "there", b, "here", why, n);
    }
    json_decref(a);
    json_decref(b);
    return d;
}

/* Manifest name of DIR, read and compared with this run; 0 if it is of
 * this workload and format (then *adopt filled unless it was), else 1
 * with why (or also 0 if it vanished: a merge removed it). */
static int survey_manifest(const job *j, const json_t *here, bool planned,
                           const char *name, outdir_adopt *adopt, char *why,
                           size_t n)
{
    outdir_manifest m;
    int st = outdir_manifest_read(j->o->outdir, name, &m);
    if (st) {
        snprintf(why, n, "%s", st == 1 ? "" : pc_errmsg());
        return st != 1;
    }
    char what[200];
    int d = compare_workload(m.workload, here, planned, what, sizeof what);
    if (!d && planned && (m.fft_P != j->fft_P || m.fft_Q != j->fft_Q)) {
        snprintf(what, sizeof what, "FFT size %zux%zu there, %zux%zu here",
                 m.fft_P, m.fft_Q, j->fft_P, j->fft_Q);
        d = 1;
    }
    if (!d)
        d = format_diff(&m, j->o->format, j->o->deflate, what, sizeof what);
    if (d)
        snprintf(why, n, "%s: %s", name, what);
    else if (!planned && !adopt->found) {
        adopt->found = true;
        snprintf(adopt->method, sizeof adopt->method, "%s", m.method);
        snprintf(adopt->isa, sizeof adopt->isa, "%s", m.isa);
        adopt->fft_P = m.fft_P;
        adopt->fft_Q = m.fft_Q;
        snprintf(adopt->from, sizeof adopt->from, "%s", name);
    }
    outdir_manifest_free(&m);
    return d != 0;
}

int outdir_survey(const job *j, const outdir_names *w, bool planned,
                  const char *skip, outdir_adopt *adopt, bool lenient)
{
    const char *dir = j->o->outdir;
    outdir_adopt unused;
    if (!adopt)
        adopt = &unused;
    memset(adopt, 0, sizeof *adopt);
    json_t *here = outdir_workload(j);
    DIR *d = opendir(dir);
    if (!here || !d) {
        json_decref(here);
        if (d)
            closedir(d);
        return pc_error(here ? PC_EIO : PC_ENOMEM, "cannot survey '%s': %s",
                        dir, here ? strerror(errno) : "out of memory");
    }
    char why[1024] = "", stray[256] = "", file[256] = "";
    size_t manifests = 0, files = 0, pn, pk, i, n;
    bool two;
    struct dirent *e;
    bool other = false;
    while (!(other && !lenient) && (e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (strncmp(name, "manifest", 8) == 0 && len >= 13 &&
            strcmp(name + len - 5, ".json") == 0) {
            manifests++;
            if ((!skip || strcmp(name, skip) != 0) &&
                survey_manifest(j, here, planned, name, adopt, why, sizeof why))
                other = true;
        } else if (is_plane(name, &pn, &pk, &two)) {
            if (!files++)
                snprintf(file, sizeof file, "conv_*.npy files");
            if (plane_index(pn, pk, two, j->nmat, j->total) == SIZE_MAX &&
                (!stray[0] || strcmp(name, stray) < 0))
                snprintf(stray, sizeof stray, "%s", name);
        } else if (w->is_final && w->is_final(name, &i, &n) && !files++) {
            snprintf(file, sizeof file, "%s", name);
        }
    }
    closedir(d);
    json_decref(here);
    if (!other && files && !manifests) {
        snprintf(why, sizeof why, "%s and no manifest", file);
        other = true;
    } else if (!other && stray[0]) {
        snprintf(why, sizeof why, "%s, and this workload has %zu %s", stray,
                 j->nmat > 1 ? j->planes : j->total, job_unit(j));
        other = true;
    }
    if (other && !lenient)
        return pc_error(PC_EUSAGE, "'%s' holds results of another workload "
                        "(%s); use --resume, another DIR, or --force to "
                        "replace them", dir, why);
    return PC_OK;
}
