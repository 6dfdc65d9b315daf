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

static void plane_name(size_t g, char *buf, size_t n)
{
    snprintf(buf, n, "conv_%05zu.npy", g);
}

/* Whether name is exactly what plane_name makes of a kernel number (no
 * other spelling of it), and which. */
static bool is_plane(const char *name, size_t *g)
{
    if (strncmp(name, "conv_", 5) != 0 || name[5] < '0' || name[5] > '9')
        return false;
    char *end, want[32];
    unsigned long long v = strtoull(name + 5, &end, 10);
    if (strcmp(end, ".npy") != 0 || v >= SIZE_MAX)
        return false;
    *g = (size_t)v;
    plane_name(*g, want, sizeof want);
    return strcmp(want, name) == 0;
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
    mode_t mask = umask(0);
    umask(mask);
    if (f->fd < 0 || fchmod(f->fd, 0666 & ~mask) != 0) {
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

/* Removes the temporary files an earlier, killed run of this shard left
 * (".conv_NNNNN.npy.XXXXXX.tmp" of its own kernels, ".MANIFEST.XXXXXX.tmp"
 * of its own manifest). Other shards may be writing into the same DIR
 * right now: their files are not touched. Only regular files of exactly
 * the shape parconv makes are removed: a link or a user's file that merely
 * resembles one stays. shard_n 0 is the whole bank. */
void outdir_clean_temps(const char *dir, size_t shard_i, size_t shard_n)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char manifest[96], name[32];
    outdir_manifest_name(shard_i, shard_n, manifest, sizeof manifest);
    struct dirent *e;
    while ((e = readdir(d))) {
        bool mine = temp_of(e->d_name, manifest);
        if (!mine && strncmp(e->d_name, ".conv_", 6) == 0) {
            char *end;
            unsigned long long k = strtoull(e->d_name + 6, &end, 10);
            plane_name((size_t)k, name, sizeof name);
            mine = end != e->d_name + 6 && temp_of(e->d_name, name) &&
                   (shard_n <= 1 || k % shard_n == shard_i);
        }
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

static json_t *hex64(uint64_t v);

/* One input's identity: a file's facts as read (the path as given is the
 * workload's "matrix"/"bank"; the absolute one is for the reader), or the
 * generator's stream. */
static json_t *input_identity(const char *path, const job_file *f,
                              const pc_gen_params *g)
{
    if (!path)
        return json_pack("{s:s, s:I, s:[I, I]}", "generator", "gsl-mt19937",
                         "seed", (json_int_t)g->seed, "range",
                         (json_int_t)g->lo, (json_int_t)g->hi);
    json_t *shape = json_array();
    for (int k = 0; shape && k < f->meta.ndim; k++)
        json_array_append_new(shape, json_integer((json_int_t)f->meta.shape[k]));
    return json_pack("{s:o, s:o, s:I, s:s, s:o, s:b, s:o}", "path",
                     json_text(path), "absolute_path",
                     json_text(f->abs_path[0] ? f->abs_path : NULL),
                     "file_bytes", (json_int_t)f->meta.file_bytes, "dtype",
                     f->meta.descr, "shape", shape, "fortran_order",
                     f->meta.fortran_order, "hash", hex64(f->hash));
}

json_t *outdir_workload(const job *j)
{
    const cli_options *o = j->o;
    const pc_conv_params *p = &o->conv;
    bool generated = !o->matrix_path || !o->bank_path;
    /* Non-finite numbers have no JSON spelling. */
    json_t *fill = isfinite(p->fillvalue) ? json_real(p->fillvalue) : json_null();
    json_t *range = generated ? json_pack("[I, I]", (json_int_t)o->gen.lo,
                                          (json_int_t)o->gen.hi)
                              : json_null();
    json_t *seed = generated ? json_integer((json_int_t)o->gen.seed) : json_null();
    json_t *inputs = json_pack(
        "{s:o, s:o}", "matrix",
        input_identity(o->matrix_path, &j->matrix_file, &o->gen), "bank",
        input_identity(o->bank_path, &j->bank_file, &o->gen));
    return json_pack(
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
        "swapped", j->swapped != 0, "matrix", json_text(o->matrix_path),
        "bank", json_text(o->bank_path), "seed", seed, "range", range,
        "inputs", inputs);
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

/* How the inputs a and b (the workloads' "inputs") differ, the first
 * fact that does, in words: 2 with why, or 0. The paths are not
 * compared here: the path as given is the workload's "matrix" or
 * "bank", and the same file may be reached from elsewhere. */
static int inputs_diff(const json_t *a, const char *a_name, const json_t *b,
                       const char *b_name, char *why, size_t n)
{
    static const char *const which[] = {"matrix", "bank"};
    static const struct {
        const char *key, *what;
    } facts[] = {
        {"generator", "generator differs"}, {"seed", "seed differs"},
        {"range", "range differs"},        {"dtype", "dtype differs"},
        {"shape", "shape differs"},
        {"fortran_order", "order (fortran_order) differs"},
        {"file_bytes", "size in bytes differs"}, {"hash", "values differ"},
    };
    for (size_t w = 0; w < 2; w++) {
        const json_t *ia = json_object_get(a, which[w]);
        const json_t *ib = json_object_get(b, which[w]);
        const char *path = json_string_value(json_object_get(ib, "path"));
        for (size_t f = 0; f < sizeof facts / sizeof *facts; f++) {
            const json_t *va = json_object_get(ia, facts[f].key);
            const json_t *vb = json_object_get(ib, facts[f].key);
            if ((!va && !vb) || (va && vb && same_value(va, vb)))
                continue;
            char x[64], y[64], label[80];
            bool hash = strcmp(facts[f].key, "hash") == 0;
            show(va, x, sizeof x);
            show(vb, y, sizeof y);
            snprintf(label, sizeof label, "%s%.60s", path ? "" : "the generated ",
                     path ? path : which[w]);
            snprintf(why, n, "another %s: %s's %s (%s%s %s, %s%s %s)", which[w],
                     label, facts[f].what, hash ? "hash 0x" : "", x, a_name,
                     hash ? "0x" : "", y, b_name);
            return 2;
        }
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
 * Its keys, in this order: version, workload, fft_tile [P, Q], dtype,
 * shape [rows, cols], shard [I, N] (shards only), complete, kernels_done,
 * checksum (when complete), kernels: [{index, file, checksum}]. Checksums
 * are 16 hex digits. */

static json_t *hex64(uint64_t v)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, v);
    return json_string(hex);
}

/* The manifest's JSON; NULL if out of memory. */
static json_t *manifest_json(const outdir_manifest *m)
{
    size_t n = 0;
    for (size_t k = 0; k < m->count; k++)
        n += m->done[k];
    json_t *kernels = json_array();
    json_t *root = json_pack("{s:s, s:O, s:o, s:s, s:o}", "version",
                             m->version, "workload", m->workload, "fft_tile",
                             json_pair(m->fft_P, m->fft_Q), "dtype",
                             pc_dtype_name(m->dtype), "shape",
                             json_pair(m->orows, m->ocols));
    int bad = !root || !kernels;
    if (!bad && m->shard_n > 1)
        bad |= json_object_set_new(root, "shard", json_pair(m->shard_i, m->shard_n));
    if (!bad) {
        bad |= json_object_set_new(root, "complete", json_boolean(n == m->count));
        bad |= json_object_set_new(root, "kernels_done", json_integer((json_int_t)n));
    }
    if (!bad && n == m->count)
        bad |= json_object_set_new(root, "checksum",
                                   hex64(pc_hash_combine(m->sums, m->count)));
    for (size_t k = 0; !bad && k < m->count; k++) {
        if (!m->done[k])
            continue;
        size_t g = m->shard_i + k * m->shard_n;
        char name[32];
        plane_name(g, name, sizeof name);
        bad |= json_array_append_new(kernels, json_pack("{s:I, s:s, s:o}",
                                     "index", (json_int_t)g, "file", name,
                                     "checksum", hex64(m->sums[k])));
    }
    if (!bad) {
        bad |= json_object_set_new(root, "kernels", kernels);
        kernels = NULL;
    }
    json_decref(kernels);
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

int outdir_save(const job *j, const uint64_t *sums, const bool *done)
{
    outdir_manifest m = {
        .workload = outdir_workload(j),
        .fft_P = j->fft_P, .fft_Q = j->fft_Q,
        .dtype = j->o->conv.dtype,
        .orows = j->orows, .ocols = j->ocols,
        .total = j->total,
        .shard_i = j->shard_i, .shard_n = j->shard_n,
        .count = j->count,
        .done = (bool *)done, .sums = (uint64_t *)sums,
    };
    snprintf(m.version, sizeof m.version, "%s", PC_VERSION);
    int st = m.workload ? outdir_manifest_write(j->o->outdir, &m)
                        : pc_error(PC_ENOMEM, "cannot write the manifest");
    json_decref(m.workload);
    return st;
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

/* One entry of "kernels": marks its kernel done, or counts it as bad. */
static void read_kernel(outdir_manifest *m, const json_t *e, size_t at)
{
    size_t g, k = 0;
    uint64_t sum;
    char want[32];
    const char *file = json_string_value(json_object_get(e, "file"));
    bool ok = get_size(e, "index", &g) && get_hex64(e, "checksum", &sum) &&
              g >= m->shard_i && (g - m->shard_i) % m->shard_n == 0 &&
              (k = (g - m->shard_i) / m->shard_n) < m->count && file;
    if (ok) {
        plane_name(g, want, sizeof want);
        ok = strcmp(file, want) == 0 && !m->done[k];
    }
    if (!ok) {
        if (!m->bad++)
            m->first_bad = at;
        return;
    }
    m->done[k] = true;
    m->sums[k] = sum;
}

/* Fills m from the parsed manifest; the name of what is wrong, or NULL. */
static const char *parse_manifest(const json_t *root, outdir_manifest *m)
{
    json_t *w = json_object_get(root, "workload");
    json_t *kernels = json_object_get(root, "kernels");
    json_t *complete = json_object_get(root, "complete");
    char dt[16];
    if (!json_is_object(root))
        return "not a JSON object";
    if (!get_string(root, "version", m->version, sizeof m->version))
        return "no \"version\"";
    if (!json_is_object(w) || !get_size(w, "count", &m->total) ||
        !get_string(w, "method", m->method, sizeof m->method) ||
        !get_string(w, "isa", m->isa, sizeof m->isa))
        return "no \"workload\" with count, method and isa";
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
    if (!json_is_boolean(complete) || !get_size(root, "kernels_done",
                                                &m->kernels_done))
        return "no \"complete\" and \"kernels_done\"";
    m->complete = json_is_true(complete);
    if (!json_is_array(kernels))
        return "no \"kernels\" list";
    m->workload = json_incref(w);
    m->count = m->shard_i < m->total
                   ? (m->total - m->shard_i + m->shard_n - 1) / m->shard_n : 0;
    m->done = calloc(m->count ? m->count : 1, sizeof *m->done);
    m->sums = calloc(m->count ? m->count : 1, sizeof *m->sums);
    if (!m->done || !m->sums)
        return "too many kernels";
    size_t i;
    json_t *e;
    json_array_foreach(kernels, i, e)
        read_kernel(m, e, i);
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

/* ---- the planes -------------------------------------------------------- */

int outdir_write_batch(const job *j, const pc_arena *arena, size_t k0,
                       size_t k1, const bool *skip)
{
    size_t plane = j->orows * j->ocols * pc_dtype_size(j->o->conv.dtype);
    size_t shape[2] = {j->orows, j->ocols};
    char path[4096], name[32];
    /* The temporaries' names, to commit them after the batch: no more
     * files are held open than one. */
    char **tmps = calloc(k1 - k0 ? k1 - k0 : 1, sizeof *tmps);
    if (!tmps)
        return pc_error(PC_ENOMEM, "cannot write the batch: out of memory");
    int st = PC_OK;
    size_t k = k0;
    /* Every file of the batch is written first, and its write-back to the
     * disk started at once (sync_file_range), so the disk works on them
     * together; then each is synced and renamed. One file at a time,
     * write then fsync, left the disk idle between files. */
    for (; k < k1 && !st; k++) {
        if (skip && skip[k])
            continue;
        plane_name(job_global(j, k), name, sizeof name);
        outdir_file f;
        if ((st = outdir_path(path, sizeof path, j->o->outdir, name)) ||
            (st = outdir_file_open(&f, path, false)))
            break;
        st = pc_npy_write_fd(f.fd, j->o->conv.dtype, 2, shape,
                             (const char *)arena->base + (k - k0) * plane);
        if (!st && !(tmps[k - k0] = strdup(f.tmp)))
            st = pc_error(PC_ENOMEM, "cannot write '%s': out of memory", path);
        if (st) {
            outdir_file_discard(&f);
            /* Name the final file: the temporary one is gone. */
            char why[512];
            const char *colon = strrchr(pc_errmsg(), ':');
            snprintf(why, sizeof why, "%s",
                     strstr(pc_errmsg(), ": ") ? colon + 2 : pc_errmsg());
            st = pc_error(st, "cannot write '%s': %s", path, why);
            break;
        }
        sync_file_range(f.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        close(f.fd);
    }
    /* Commit what was written, or on failure remove it. */
    for (size_t c = k0; c < k; c++) {
        char *tmp = tmps[c - k0];
        if (!tmp)
            continue;
        plane_name(job_global(j, c), name, sizeof name);
        outdir_file f = {.fd = -1};
        snprintf(f.tmp, sizeof f.tmp, "%s", tmp);
        if (st || outdir_path(f.path, sizeof f.path, j->o->outdir, name))
            unlink(tmp);
        else
            st = outdir_file_commit(&f);
        free(tmp);
    }
    free(tmps);
    return st;
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    char chunk[65536];
    size_t got;
    while (m && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, got, m);
    bool bad = ferror(f) || !m;
    fclose(f);
    if (m && fclose(m) != 0)
        bad = true;
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

bool outdir_plane_ok(const char *dir, size_t g, pc_dtype dt, size_t orows,
                     size_t ocols, uint64_t sum)
{
    char path[4096], name[32], want[256];
    plane_name(g, name, sizeof name);
    if (outdir_path(path, sizeof path, dir, name))
        return false;
    size_t shape[2] = {orows, ocols};
    size_t row = ocols * pc_dtype_size(dt), plane = orows * row;
    size_t hlen = pc_npy_header(dt, 2, shape, want, sizeof want);
    size_t len = 0;
    char *data = read_file(path, &len);
    bool ok = data && hlen && len == hlen + plane &&
              memcmp(data, want, hlen) == 0 &&
              pc_plane_checksum(data + hlen, orows, row) == sum;
    free(data);
    return ok;
}

/* ---- --resume and merge ------------------------------------------------ */

int outdir_resume_check(const job *j, const outdir_manifest *m, bool *done,
                        uint64_t *sums, size_t *ndone)
{
    json_t *now = outdir_workload(j);
    if (!now)
        return pc_error(PC_ENOMEM, "cannot compare the workloads");
    char why[256];
    int differs = outdir_workload_diff(m->workload, "then", now, "now", why,
                                       sizeof why);
    json_decref(now);
    if (differs)
        return pc_error(PC_EUSAGE, "--resume: '%s' was %s %s", j->o->outdir,
                        differs_as(differs), why);
    /* The same workload and shard, so the same kernels. Entries that are
     * not this shard's are ignored: their kernels are computed again. */
    *ndone = 0;
    for (size_t k = 0; k < j->count && k < m->count; k++)
        if (m->done[k] && !done[k] &&
            outdir_plane_ok(j->o->outdir, job_global(j, k), j->o->conv.dtype,
                            j->orows, j->ocols, m->sums[k])) {
            done[k] = true;
            sums[k] = m->sums[k];
            ++*ndone;
        }
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

/* Shard i of n, complete, for the same workload and FFT tile as shard 0
 * (first): its kernels go into merged; each file must check out. */
static int merge_shard(const char *dir, size_t i, size_t n,
                       const outdir_manifest *sh, const outdir_manifest *first,
                       outdir_manifest *merged)
{
    char why[256];
    if (sh->shard_i != i || sh->shard_n != n)
        return pc_error(PC_EINPUT, "merge: the manifest of shard %zu of %zu "
                        "says it is shard %zu of %zu", i, n, sh->shard_i,
                        sh->shard_n);
    if (!sh->complete)
        return pc_error(PC_EWORKER, "merge: shard %zu of %zu is incomplete "
                        "(%zu kernels done): rerun it with --resume", i, n,
                        sh->kernels_done);
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
    }
    if (sh->bad)
        return pc_error(PC_EINPUT, "merge: shard %zu of %zu lists a kernel that "
                        "is not one of its own, or one twice (entry %zu)", i, n,
                        sh->first_bad);
    for (size_t k = 0; k < sh->count; k++) {
        if (!sh->done[k])
            continue;
        size_t g = i + k * n;
        if (!outdir_plane_ok(dir, g, merged->dtype, merged->orows,
                             merged->ocols, sh->sums[k]))
            return pc_error(PC_EWORKER, "merge: %s/conv_%05zu.npy (shard %zu) "
                            "is missing or does not match its checksum", dir,
                            g, i);
        merged->done[g] = true;
        merged->sums[g] = sh->sums[k];
    }
    return PC_OK;
}

/* merged: what shard 0 says of the workload, as a whole run, no kernel
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
                        "workload of no kernels");
    return PC_OK;
}

int outdir_merge_check(const char *dir, outdir_manifest *merged,
                       size_t *nshards)
{
    memset(merged, 0, sizeof *merged);
    size_t n = 0;
    int st = count_shards(dir, &n);
    if (st || !n)
        return st ? st : 1;
    *nshards = n;
    outdir_manifest first = {0}, sh = {0};
    for (size_t i = 0; i < n && !st; i++) {
        char name[96], msg[512];
        outdir_manifest *cur = i ? &sh : &first;
        outdir_manifest_name(i, n, name, sizeof name);
        st = outdir_manifest_read(dir, name, cur);
        if (st == 1) {
            st = pc_error(PC_EWORKER, "merge: shard %zu of %zu is missing: "
                          "cannot read '%s/%s': %s", i, n, dir, name,
                          strerror(ENOENT));
        } else if (st) {
            snprintf(msg, sizeof msg, "%s", pc_errmsg());
            st = pc_error(st, "merge: %s", msg);
        } else if (!(st = i ? PC_OK : merge_start(&first, merged))) {
            st = merge_shard(dir, i, n, cur, &first, merged);
        }
        if (i)
            outdir_manifest_free(&sh);
    }
    outdir_manifest_free(&first);
    size_t missing = 0, at = 0;
    for (size_t g = 0; !st && g < merged->count; g++)
        if (!merged->done[g] && !missing++)
            at = g;
    if (!st && missing)
        st = pc_error(PC_EWORKER, "merge: %zu of %zu kernels are missing, the "
                      "first kernel %zu", missing, merged->count, at);
    if (st)
        outdir_manifest_free(merged);
    return st;
}

void outdir_remove_shards(const char *dir, size_t nshards)
{
    for (size_t i = 0; i < nshards; i++) {
        char name[96], path[4096];
        outdir_manifest_name(i, nshards, name, sizeof name);
        if (!outdir_path(path, sizeof path, dir, name))
            unlink(path);
    }
}

/* merge on a DIR with no shard manifests: its manifest.json must be
 * complete and every file must check out. */
int outdir_verify_merged(const char *dir, size_t *count)
{
    outdir_manifest m;
    int st = outdir_manifest_read(dir, "manifest.json", &m);
    if (st == 1)
        return pc_error(PC_EUSAGE, "merge: no manifests (manifest.json or "
                        "manifest.shard-I-of-N.json) in '%s'", dir);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
        return pc_error(st, "merge: %s", msg);
    }
    if (!m.complete || m.kernels_done != m.count)
        st = pc_error(PC_EWORKER, "merge: %s/manifest.json is incomplete (%zu "
                      "of %zu kernels done): rerun with --resume", dir,
                      m.kernels_done, m.count);
    else if (m.bad)
        st = pc_error(PC_EINPUT, "merge: %s/manifest.json lists a kernel that "
                      "is not the workload's, or one twice (entry %zu)", dir,
                      m.first_bad);
    for (size_t g = 0; !st && g < m.count; g++)
        if (!m.done[g] || !outdir_plane_ok(dir, g, m.dtype, m.orows, m.ocols,
                                           m.sums[g]))
            st = pc_error(PC_EWORKER, "merge: %s/conv_%05zu.npy is %s", dir, g,
                          m.done[g] ? "missing or does not match its checksum"
                                    : "not listed in manifest.json");
    *count = m.count;
    outdir_manifest_free(&m);
    return st;
}

/* ---- what -o DIR holds already ------------------------------------------- */

/* Whether name (in DIR) is one of parconv's files that --force lets shard
 * i of n replace: its planes (every plane, for a whole run), manifest.json
 * and the manifests of other splits, its own shard manifest, and the
 * temporaries of those ("." NAME "." ...). The other shards of the same
 * split may be running; they replace theirs. */
static bool replaceable(const char *name, size_t shard_i, size_t shard_n)
{
    char base[256];
    size_t g, i, n;
    if (name[0] == '.') {
        const char *end = strstr(name + 1, ".npy.");
        size_t len = end ? (size_t)(end - name) + 3 : 0;
        if (!end && (end = strstr(name + 1, ".json.")))
            len = (size_t)(end - name) + 4;
        if (!len || len >= sizeof base)
            return false;
        memcpy(base, name + 1, len);
        base[len] = 0;
        name = base;
    }
    if (is_plane(name, &g))
        return shard_n <= 1 || g % shard_n == shard_i;
    if (is_manifest(name, &i, &n))
        return shard_n <= 1 || n != shard_n || i == shard_i;
    return false;
}

int outdir_replace(const char *dir, size_t shard_i, size_t shard_n,
                   size_t *removed)
{
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return pc_error(PC_EIO, "cannot read '%s': %s", dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    int st = PC_OK;
    while (!st && (e = readdir(d))) {
        if (!replaceable(e->d_name, shard_i, shard_n) ||
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
 * this workload (then *adopt filled unless it was), else 1 with why (or
 * also 0 if it vanished: a merge removed it). */
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

int outdir_survey(const job *j, bool planned, const char *skip,
                  outdir_adopt *adopt, bool lenient)
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
    char why[700] = "";
    size_t manifests = 0, planes = 0, g, stray = SIZE_MAX;
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
        } else if (is_plane(name, &g)) {
            planes++;
            if (g >= j->total && g < stray)
                stray = g;
        }
    }
    closedir(d);
    json_decref(here);
    if (!other && planes && !manifests) {
        snprintf(why, sizeof why, "conv_*.npy files and no manifest");
        other = true;
    } else if (!other && stray != SIZE_MAX) {
        snprintf(why, sizeof why, "conv_%05zu.npy, and this workload has %zu "
                 "kernels", stray, j->total);
        other = true;
    }
    if (other && !lenient)
        return pc_error(PC_EUSAGE, "'%s' holds results of another workload "
                        "(%s); use --resume, another DIR, or --force to "
                        "replace them", dir, why);
    return PC_OK;
}
