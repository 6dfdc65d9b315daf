/*
 * Unit test of the output formats stack and hdf5 (tools/fmt_stack.c,
 * tools/fmt_hdf5.c, through outfmt.h) and of the HDF5 input
 * (tools/h5input.c), linked directly, without the parconv program.
 *
 * Usage: test_formats SCRATCH_DIR          the tests
 *        test_formats --keep SCRATCH_DIR   committed files of known values
 *                                          and SCRATCH_DIR/expect.json, for
 *                                          tests/formats_numpy.py
 *        test_formats --sizes DIR          the sizes of 64 x 24 planes of
 *                                          512 x 512 f64 of smooth data in
 *                                          each format (not a test)
 * SCRATCH_DIR is made if missing; the files this program leaves there are
 * replaced by the next run.
 */
#include "h5input.h"
#include "outdir.h"
#include "outfmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- checks ------------------------------------------------------------- */

static unsigned checks, failures;

static int check(int ok, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int check(int ok, int line, const char *fmt, ...)
{
    checks++;
    if (!ok) {
        va_list ap;
        failures++;
        printf("test_formats.c:%d: FAIL: ", line);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(" [last error: %s]\n", pc_errmsg());
    }
    return ok;
}

#define CHECK(cond, ...) check(!!(cond), __LINE__, __VA_ARGS__)

/* ---- files -------------------------------------------------------------- */

static char scratch[4096];

/* SCRATCH/name, made empty (its files removed; one level only). */
static const char *fresh_dir(const char *name, char *buf, size_t n)
{
    char sub[256];
    snprintf(sub, sizeof sub, "%s", name);
    if (snprintf(buf, n, "%s/%s", scratch, sub) >= (int)n)
        return buf; /* cut short: the tests that use it fail */
    mkdir(buf, 0777);
    DIR *d = opendir(buf);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    return buf;
}

static bool exists(const char *dir, const char *name)
{
    char path[8300];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &sb) == 0;
}

/* How many entries of dir end in ".tmp". */
static int temporaries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static bool copy_file(const char *from, const char *to, off_t limit)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    bool ok = in && out;
    char buf[65536];
    off_t done = 0;
    size_t r;
    while (ok && done < limit && (r = fread(buf, 1, sizeof buf, in)) > 0) {
        if ((off_t)r > limit - done)
            r = (size_t)(limit - done);
        ok = fwrite(buf, 1, r, out) == r;
        done += (off_t)r;
    }
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = false;
    return ok;
}

static bool same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    int ca, cb;
    while (same) {
        ca = getc(fa);
        cb = getc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

/* Does this file system keep ftruncate'd files sparse? */
static bool sparse_files(const char *dir)
{
    char path[8300];
    snprintf(path, sizeof path, "%s/sparse-probe", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct stat sb;
    bool sparse = fd >= 0 && ftruncate(fd, 1 << 22) == 0 && fsync(fd) == 0 &&
                  fstat(fd, &sb) == 0 && sb.st_blocks * 512 < (1 << 20);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return sparse;
}

/* ---- planes of known values -------------------------------------------- */

/* Plane (n, k)'s element (i, j): exact in f32 as in f64 for the sizes
 * used here; tests/formats_numpy.py computes the same. */
static double value(size_t n, size_t k, size_t i, size_t j)
{
    return (double)(n * 100 + k) + (double)i / 64.0 + (double)j / 4096.0;
}

static void fill_plane(const outfmt_spec *s, size_t n, size_t k, void *plane)
{
    for (size_t i = 0; i < s->orows; i++)
        for (size_t j = 0; j < s->ocols; j++) {
            double v = value(n, k, i, j);
            if (s->dtype == PC_F64)
                ((double *)plane)[i * s->ocols + j] = v;
            else
                ((float *)plane)[i * s->ocols + j] = (float)v;
        }
}

static size_t plane_bytes(const outfmt_spec *s)
{
    return s->orows * s->ocols * pc_dtype_size(s->dtype);
}

static uint64_t plane_sum(const outfmt_spec *s, const void *plane)
{
    return pc_plane_checksum(plane, s->orows, s->ocols * pc_dtype_size(s->dtype));
}

/* Is plane (n, k) in this shard? Planes are dealt as p = n * K + k. */
static bool mine(const outfmt_spec *s, size_t p)
{
    return p % s->shard_n == s->shard_i;
}

/* A manifest as the run would pass it: the workload (scalars and an
 * object) and the shard's planes with their checksums, as "planes"
 * entries {matrix, kernel, checksum}, or with flat as "kernels" entries
 * {index, checksum} (the hdf5 file keeps it whole as an attribute; its
 * /checksums come from the sums given to commit). Freed by the caller. */
static char *manifest_for(const outfmt_spec *s, bool flat)
{
    size_t cap = 4096 + s->nmat * s->count * 96, len = 0;
    char *j = malloc(cap), *p = malloc(plane_bytes(s));
    len += (size_t)snprintf(j + len, cap - len,
        "{\"version\": \"0.1.0\", \"workload\": {\"mode\": \"same\", "
        "\"boundary\": \"symm\", \"fillvalue\": 0.5, \"dtype\": \"%s\", "
        "\"nmat\": %zu, \"count\": %zu, \"rows\": %zu, \"cols\": %zu, "
        "\"swapped\": false, \"inputs\": {\"matrix\": \"m.npy\"}}, "
        "\"%s\": [", pc_dtype_name(s->dtype), s->nmat, s->count, s->orows,
        s->ocols, flat ? "kernels" : "planes");
    const char *sep = "";
    for (size_t q = 0; q < s->nmat * s->count; q++) {
        if (!mine(s, q))
            continue;
        fill_plane(s, q / s->count, q % s->count, p);
        if (flat)
            len += (size_t)snprintf(j + len, cap - len,
                                    "%s{\"index\": %zu, \"checksum\": "
                                    "\"%016" PRIx64 "\"}", sep, q,
                                    plane_sum(s, p));
        else
            len += (size_t)snprintf(j + len, cap - len,
                                    "%s{\"matrix\": %zu, \"kernel\": %zu, "
                                    "\"checksum\": \"%016" PRIx64 "\"}", sep,
                                    q / s->count, q % s->count, plane_sum(s, p));
        sep = ", ";
    }
    snprintf(j + len, cap - len, "]}");
    free(p);
    return j;
}

/* The shard's checksums as the run hands them to commit: sums[q] for
 * plane shard_i + q * shard_n. Freed by the caller. */
static uint64_t *shard_sums(const outfmt_spec *s)
{
    size_t np = s->nmat * s->count;
    uint64_t *sums = calloc(np ? np : 1, sizeof *sums);
    void *p = malloc(plane_bytes(s));
    for (size_t q = 0, pl = s->shard_i; sums && p && pl < np;
         q++, pl += s->shard_n) {
        fill_plane(s, pl / s->count, pl % s->count, p);
        sums[q] = plane_sum(s, p);
    }
    free(p);
    return sums;
}

/* This shard's planes, shuffled (splitmix64 of seed). */
static size_t shuffled(const outfmt_spec *s, uint64_t seed, size_t *order)
{
    size_t m = 0;
    for (size_t q = 0; q < s->nmat * s->count; q++)
        if (mine(s, q))
            order[m++] = q;
    for (size_t i = m; i > 1; i--) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        size_t r = (size_t)((z ^ (z >> 31)) % i), t = order[i - 1];
        order[i - 1] = order[r];
        order[r] = t;
    }
    return m;
}

static int write_planes(const outfmt *f, void *ctx, const outfmt_spec *s,
                        const size_t *order, size_t from, size_t to)
{
    void *p = malloc(plane_bytes(s));
    int st = PC_OK;
    for (size_t i = from; i < to && !st; i++) {
        fill_plane(s, order[i] / s->count, order[i] % s->count, p);
        st = f->write_plane(ctx, order[i] / s->count, order[i] % s->count, p);
    }
    free(p);
    return st;
}

/* Does the plane read back from ctx equal the one written? */
static bool plane_ok(const outfmt *f, void *ctx, const outfmt_spec *s,
                     size_t q)
{
    size_t b = plane_bytes(s);
    char *want = malloc(b), *got = malloc(b);
    memset(got, 0x5a, b);
    fill_plane(s, q / s->count, q % s->count, want);
    bool ok = f->read_plane(ctx, q / s->count, q % s->count, got) == 0 &&
              memcmp(want, got, b) == 0;
    free(want);
    free(got);
    return ok;
}

/* A whole run in one go, planes in the order of seed: the final file. */
static int one_run(const outfmt *f, const outfmt_spec *s, uint64_t seed,
                   bool flat)
{
    size_t *order = malloc(s->nmat * s->count * sizeof *order);
    size_t m = shuffled(s, seed, order);
    void *ctx;
    char *json = manifest_for(s, flat);
    int st = f->open(&ctx, s, OUTFMT_NEW);
    if (!st) {
        st = write_planes(f, ctx, s, order, 0, m);
        uint64_t *sums = shard_sums(s);
        if (!st)
            st = f->commit(ctx, json, sums);
        free(sums);
        f->close(ctx);
    }
    free(order);
    free(json);
    return st;
}

/* The final name of s in f (first line of final_names). */
static void final_of(const outfmt *f, const outfmt_spec *s, char *buf, size_t n)
{
    f->final_names(s, buf, n);
    buf[strcspn(buf, "\n")] = 0;
}

/* ---- the formats -------------------------------------------------------- */

/* NEW, planes in a shuffled order, flush, more planes, close without a
 * commit; RESUME (the flushed planes read back), the rest, commit; READ. */
static void test_resume(const outfmt *f, const outfmt_spec *s0)
{
    outfmt_spec s = *s0;
    char final[128], partial[256], dirbuf[4200];
    snprintf(dirbuf, sizeof dirbuf, "%s-%s-%zux%zu-%zu-of-%zu-d%d", f->name,
             pc_dtype_name(s.dtype), s.nmat, s.count, s.shard_i, s.shard_n,
             s.deflate);
    s.dir = fresh_dir(dirbuf, dirbuf, sizeof dirbuf);
    final_of(f, &s, final, sizeof final);
    size_t *order = malloc(s.nmat * s.count * sizeof *order);
    size_t m = shuffled(&s, 42, order), half = m / 2;
    void *ctx;

    int st = f->open(&ctx, &s, OUTFMT_NEW);
    if (!CHECK(st == 0, "%s: NEW", dirbuf))
        goto out;
    snprintf(partial, sizeof partial, "%s", f->partial(ctx));
    CHECK(partial[0] == '.' && strstr(partial, final) == partial + 1,
          "%s: partial '%s'", dirbuf, partial);
    CHECK(write_planes(f, ctx, &s, order, 0, half) == 0, "%s: write", dirbuf);
    CHECK(f->flush(ctx) == 0, "%s: flush", dirbuf);
    CHECK(write_planes(f, ctx, &s, order, half, half + (m - half) / 2) == 0,
          "%s: write after flush", dirbuf);
    f->close(ctx);
    CHECK(exists(s.dir, partial) && !exists(s.dir, final),
          "%s: after close, partial and no final", dirbuf);

    s.partial = partial;
    st = f->open(&ctx, &s, OUTFMT_RESUME);
    if (!CHECK(st == 0, "%s: RESUME", dirbuf))
        goto out;
    CHECK(strcmp(f->partial(ctx), partial) == 0, "%s: same partial", dirbuf);
    for (size_t i = 0; i < half; i++)
        CHECK(plane_ok(f, ctx, &s, order[i]), "%s: resumed plane %zu", dirbuf,
              order[i]);
    CHECK(write_planes(f, ctx, &s, order, half, m) == 0, "%s: write rest",
          dirbuf);
    char *json = manifest_for(&s, false);
    uint64_t *sums = shard_sums(&s);
    CHECK(f->commit(ctx, json, sums) == 0, "%s: commit", dirbuf);
    free(sums);
    free(json);
    f->close(ctx);
    CHECK(exists(s.dir, final) && !exists(s.dir, partial) &&
              temporaries(s.dir) == 0,
          "%s: committed: final there, no temporary", dirbuf);

    s.partial = NULL;
    st = f->open(&ctx, &s, OUTFMT_READ);
    if (CHECK(st == 0, "%s: READ", dirbuf)) {
        CHECK(f->partial(ctx)[0] == 0, "%s: no partial when read", dirbuf);
        for (size_t i = 0; i < m; i++)
            CHECK(plane_ok(f, ctx, &s, order[i]), "%s: final plane %zu",
                  dirbuf, order[i]);
        char buf[8];
        CHECK(f->write_plane(ctx, 0, 0, buf) == PC_EUSAGE &&
                  f->commit(ctx, "{}", NULL) == PC_EUSAGE,
              "%s: READ refuses writes", dirbuf);
        f->close(ctx);
    }
    /* A shard's file is sparse: only its planes take room. */
    char path[8300];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", s.dir, final);
    if (s.shard_n > 2 && s.deflate < 0 && sparse_files(s.dir) &&
        stat(path, &sb) == 0)
        CHECK((off_t)sb.st_blocks * 512 <
                  sb.st_size / (off_t)s.shard_n + (1 << 16),
              "%s: %lld blocks of %lld bytes: not sparse", dirbuf,
              (long long)sb.st_blocks, (long long)sb.st_size);
out:
    free(order);
}

/* Refusals: another shape or dtype, a truncated or corrupt file (final or
 * partial), a link, a partial that is no temporary of the final name. */
static void test_refusals(const outfmt *f, const outfmt_spec *s0)
{
    outfmt_spec s = *s0, o;
    char final[128], dirbuf[4200], path[8300], tmp[8300];
    snprintf(dirbuf, sizeof dirbuf, "%s-refusals-%s", f->name,
             pc_dtype_name(s.dtype));
    s.dir = fresh_dir(dirbuf, dirbuf, sizeof dirbuf);
    final_of(f, &s, final, sizeof final);
    snprintf(path, sizeof path, "%s/%s", s.dir, final);
    if (!CHECK(one_run(f, &s, 7, false) == 0, "%s: one run", dirbuf))
        return;
    void *ctx = NULL;
    static const struct {
        const char *what;
        int field, delta;
    } others[] = {{"nmat", 0, 1}, {"count", 1, 1}, {"rows", 2, -1},
                  {"cols", 3, 2}, {"dtype", 4, 0}};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        o = s;
        size_t *field[] = {&o.nmat, &o.count, &o.orows, &o.ocols};
        if (others[i].field < 4)
            *field[others[i].field] += (size_t)others[i].delta;
        else
            o.dtype = s.dtype == PC_F64 ? PC_F32 : PC_F64;
        int st = f->open(&ctx, &o, OUTFMT_READ);
        CHECK(st == PC_EINPUT && strstr(pc_errmsg(), final),
              "%s: another %s read: %d", dirbuf, others[i].what, st);
        if (!st)
            f->close(ctx);
    }
    /* The final file truncated, then corrupt at its start, as the final
     * file (READ) and as a partial one (RESUME and READ). */
    char tname[256];
    snprintf(tname, sizeof tname, ".%s.AbC123.tmp", final);
    snprintf(tmp, sizeof tmp, "%s/%s", s.dir, tname);
    off_t size = file_size(path);
    for (int how = 0; how < 3; how++) {
        CHECK(copy_file(path, tmp, how == 0 ? size / 2 : how == 1 ? size - 1
                                                                   : size),
              "copy");
        if (how == 2) {
            int fd = open(tmp, O_WRONLY);
            CHECK(fd >= 0 && pwrite(fd, "garbage!", 8, 0) == 8, "corrupt");
            if (fd >= 0)
                close(fd);
        }
        static const char *const hows[] = {"truncated to half", "one byte short",
                                           "corrupt at the start"};
        o = s;
        o.partial = tname;
        int st = f->open(&ctx, &o, OUTFMT_RESUME);
        CHECK(st == PC_EINPUT && strstr(pc_errmsg(), tname),
              "%s: RESUME of a file %s: %d", dirbuf, hows[how], st);
        if (!st)
            f->close(ctx);
        st = f->open(&ctx, &o, OUTFMT_READ);
        bool refused = st == PC_EINPUT && strstr(pc_errmsg(), tname);
        if (!st) {
            /* A file HDF5 still opens fails when its planes are read. */
            char *p = malloc(plane_bytes(&s));
            for (size_t q = 0; q < s.nmat * s.count && !refused; q++)
                refused = f->read_plane(ctx, q / s.count, q % s.count, p) ==
                              PC_EINPUT && strstr(pc_errmsg(), tname);
            free(p);
            f->close(ctx);
        }
        CHECK(refused, "%s: READ of a file %s: %d", dirbuf, hows[how], st);
    }
    /* Partial names that are not a temporary of the final name. */
    static const char *const bad[] = {"../x.tmp", "conv.npy", "conv.h5",
                                      ".conv.other.tmp", ".x.tmp"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o = s;
        o.partial = bad[i];
        int st = f->open(&ctx, &o, OUTFMT_RESUME);
        CHECK(st == PC_EINPUT, "%s: partial '%s': %d", dirbuf, bad[i], st);
        if (!st)
            f->close(ctx);
    }
    /* A link at the partial's name is not followed. */
    unlink(tmp);
    CHECK(symlink(final, tmp) == 0, "symlink");
    o = s;
    o.partial = tname;
    int st = f->open(&ctx, &o, OUTFMT_RESUME);
    CHECK(st == PC_EINPUT, "%s: a link as partial: %d", dirbuf, st);
    if (!st)
        f->close(ctx);
    /* A missing partial. */
    unlink(tmp);
    st = f->open(&ctx, &o, OUTFMT_RESUME);
    CHECK(st == PC_EINPUT && strstr(pc_errmsg(), tname),
          "%s: a missing partial: %d", dirbuf, st);
    if (!st)
        f->close(ctx);
    /* RESUME of hdf5 with other compression. */
    if (f == &outfmt_hdf5) {
        o = s;
        o.deflate = s.deflate < 0 ? 4 : -1;
        CHECK(f->open(&ctx, &o, OUTFMT_NEW) == 0 &&
                  f->flush(ctx) == 0,
              "hdf5: NEW for compression");
        snprintf(tname, sizeof tname, "%s", f->partial(ctx));
        f->close(ctx);
        o.deflate = s.deflate;
        o.partial = tname;
        st = f->open(&ctx, &o, OUTFMT_RESUME);
        CHECK(st == PC_EINPUT, "hdf5: resumed with other compression: %d", st);
        if (!st)
            f->close(ctx);
        o.deflate = s.deflate < 0 ? 4 : -1;
        st = f->open(&ctx, &o, OUTFMT_RESUME);
        CHECK(st == 0, "hdf5: resumed with the same compression: %d", st);
        if (!st)
            f->close(ctx);
    }
}

/* A run killed (SIGKILL) after a flush and more planes, resumed and
 * committed, against one run that wrote its planes in another order:
 * byte-identical (stack; hdf5 without compression), or (compressed hdf5)
 * the same planes. */
static void test_killed(const outfmt *f, const outfmt_spec *s0, bool bytes)
{
    outfmt_spec s = *s0, one = *s0;
    char dirbuf[4200], onebuf[4200], final[128], a[8300], b[8300];
    snprintf(dirbuf, sizeof dirbuf, "%s-killed-d%d", f->name, s.deflate);
    snprintf(onebuf, sizeof onebuf, "%s-once-d%d", f->name, s.deflate);
    s.dir = fresh_dir(dirbuf, dirbuf, sizeof dirbuf);
    one.dir = fresh_dir(onebuf, onebuf, sizeof onebuf);
    final_of(f, &s, final, sizeof final);
    size_t *order = malloc(s.nmat * s.count * sizeof *order);
    size_t m = shuffled(&s, 3, order);
    int fds[2];
    char partial[256] = "";
    if (!CHECK(pipe(fds) == 0, "pipe"))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        void *ctx;
        close(fds[0]);
        if (f->open(&ctx, &s, OUTFMT_NEW) != 0 ||
            write_planes(f, ctx, &s, order, 0, m / 2) != 0 ||
            f->flush(ctx) != 0 ||
            write(fds[1], f->partial(ctx), strlen(f->partial(ctx))) < 0 ||
            write_planes(f, ctx, &s, order, m / 2, m - 2) != 0)
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    close(fds[1]);
    ssize_t r = read(fds[0], partial, sizeof partial - 1);
    partial[r > 0 ? r : 0] = 0;
    close(fds[0]);
    int wst;
    waitpid(pid, &wst, 0);
    CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL && partial[0],
          "%s: child killed", dirbuf);
    void *ctx;
    s.partial = partial;
    int st = f->open(&ctx, &s, OUTFMT_RESUME);
    if (CHECK(st == 0, "%s: RESUME after SIGKILL", dirbuf)) {
        for (size_t i = 0; i < m / 2; i++)
            CHECK(plane_ok(f, ctx, &s, order[i]), "%s: plane %zu kept",
                  dirbuf, order[i]);
        /* The planes after the flush are written again, as --resume does
         * for those the manifest did not list. */
        char *json = manifest_for(&s, false);
        uint64_t *sums = shard_sums(&s);
        CHECK(write_planes(f, ctx, &s, order, m / 2, m) == 0 &&
                  f->commit(ctx, json, sums) == 0,
              "%s: resumed run completes", dirbuf);
        free(sums);
        free(json);
        f->close(ctx);
    }
    CHECK(one_run(f, &one, 99, false) == 0, "%s: one run", onebuf);
    snprintf(a, sizeof a, "%s/%s", s.dir, final);
    snprintf(b, sizeof b, "%s/%s", one.dir, final);
    if (bytes) {
        CHECK(same_bytes(a, b), "%s: resumed file differs from one run's",
              dirbuf);
    } else {
        /* Compressed, the layout follows the order planes come in: the
         * same order gives the same bytes. */
        outfmt_spec again = one;
        char againbuf[4200], c[8300];
        snprintf(againbuf, sizeof againbuf, "%s-again-d%d", f->name, s.deflate);
        again.dir = fresh_dir(againbuf, againbuf, sizeof againbuf);
        snprintf(c, sizeof c, "%s/%s", again.dir, final);
        CHECK(one_run(f, &again, 99, false) == 0 && same_bytes(b, c),
              "%s: the same order, other bytes", againbuf);
        s.partial = one.partial = NULL;
        void *c1, *c2;
        size_t pb = plane_bytes(&s);
        char *p1 = malloc(pb), *p2 = malloc(pb);
        if (CHECK(f->open(&c1, &s, OUTFMT_READ) == 0 &&
                      f->open(&c2, &one, OUTFMT_READ) == 0,
                  "%s: READ both", dirbuf)) {
            for (size_t q = 0; q < s.nmat * s.count; q++)
                CHECK(f->read_plane(c1, q / s.count, q % s.count, p1) == 0 &&
                          f->read_plane(c2, q / s.count, q % s.count, p2) == 0 &&
                          memcmp(p1, p2, pb) == 0,
                      "%s: plane %zu differs", dirbuf, q);
            f->close(c1);
            f->close(c2);
        }
        free(p1);
        free(p2);
    }
    free(order);
}

/* A file larger than the process may write (RLIMIT_FSIZE, as a full disk
 * would stop it): PC_EIO naming the file, and no file under the final
 * name. */
static void test_full(const outfmt *f, const outfmt_spec *s0)
{
    outfmt_spec s = *s0;
    char dirbuf[4200], final[128];
    snprintf(dirbuf, sizeof dirbuf, "%s-full-d%d", f->name, s.deflate);
    s.dir = fresh_dir(dirbuf, dirbuf, sizeof dirbuf);
    final_of(f, &s, final, sizeof final);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int st = one_run(f, &s, 5, false);
        _exit(st == PC_EIO && strstr(pc_errmsg(), final) ? 0 : 10 + st);
    }
    int wst;
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
          "%s: a full disk: exit %d", dirbuf, WEXITSTATUS(wst));
    CHECK(!exists(s.dir, final), "%s: no final file", dirbuf);
}

/* What commit stored in the HDF5 file: /checksums, /conv's attributes. */
static void test_h5_metadata(const outfmt_spec *s0, bool flat)
{
    outfmt_spec s = *s0;
    char dirbuf[4200], path[8300], final[128];
    snprintf(dirbuf, sizeof dirbuf, "hdf5-metadata-%d", flat);
    s.dir = fresh_dir(dirbuf, dirbuf, sizeof dirbuf);
    final_of(&outfmt_hdf5, &s, final, sizeof final);
    if (!CHECK(one_run(&outfmt_hdf5, &s, 11, flat) == 0, "%s: run", dirbuf))
        return;
    snprintf(path, sizeof path, "%s/%s", s.dir, final);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t sums = H5Dopen2(file, "checksums", H5P_DEFAULT);
    hid_t conv = H5Dopen2(file, "conv", H5P_DEFAULT);
    size_t np = s.nmat * s.count;
    uint64_t *got = calloc(np, sizeof *got);
    void *p = malloc(plane_bytes(&s));
    CHECK(H5Dread(sums, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                  got) >= 0, "%s: read /checksums", dirbuf);
    for (size_t q = 0; q < np; q++) {
        fill_plane(&s, q / s.count, q % s.count, p);
        CHECK(got[q] == (mine(&s, q) ? plane_sum(&s, p) : 0),
              "%s: checksum of plane %zu", dirbuf, q);
    }
    int64_t rows = 0;
    double fill = 0;
    int8_t swapped = 9;
    char *mode = NULL, *manifest = NULL;
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    H5Tset_cset(str, H5T_CSET_UTF8);
    hid_t a;
    a = H5Aopen(conv, "rows", H5P_DEFAULT);
    CHECK(H5Aread(a, H5T_NATIVE_INT64, &rows) >= 0 && rows == (int64_t)s.orows,
          "%s: rows attribute", dirbuf);
    H5Aclose(a);
    a = H5Aopen(conv, "fillvalue", H5P_DEFAULT);
    CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &fill) >= 0 && fill == 0.5,
          "%s: fillvalue attribute", dirbuf);
    H5Aclose(a);
    a = H5Aopen(conv, "swapped", H5P_DEFAULT);
    CHECK(H5Aread(a, H5T_NATIVE_INT8, &swapped) >= 0 && swapped == 0,
          "%s: boolean attribute", dirbuf);
    H5Aclose(a);
    a = H5Aopen(conv, "mode", H5P_DEFAULT);
    CHECK(H5Aread(a, str, &mode) >= 0 && mode && !strcmp(mode, "same"),
          "%s: mode attribute", dirbuf);
    H5Aclose(a);
    a = H5Aopen(conv, "manifest", H5P_DEFAULT);
    char *json = manifest_for(&s, flat);
    CHECK(H5Aread(a, str, &manifest) >= 0 && manifest &&
              !strcmp(manifest, json),
          "%s: manifest attribute", dirbuf);
    H5Aclose(a);
    CHECK(H5Aexists(conv, "inputs") == 0, "%s: objects are no attributes",
          dirbuf);
    free(json);
    H5free_memory(mode);
    H5free_memory(manifest);
    H5Tclose(str);
    free(got);
    free(p);
    H5Dclose(sums);
    H5Dclose(conv);
    H5Fclose(file);
}

static void test_names(void)
{
    outfmt_spec s = {.shard_i = 2, .shard_n = 5};
    char buf[128];
    outfmt_stack.final_names(&s, buf, sizeof buf);
    CHECK(!strcmp(buf, "conv.shard-2-of-5.npy\n"), "stack shard name '%s'", buf);
    outfmt_hdf5.final_names(&s, buf, sizeof buf);
    CHECK(!strcmp(buf, "conv.shard-2-of-5.h5\n"), "hdf5 shard name '%s'", buf);
    s.shard_i = 0;
    s.shard_n = 1;
    outfmt_stack.final_names(&s, buf, sizeof buf);
    CHECK(!strcmp(buf, "conv.npy\n"), "stack name '%s'", buf);
    outfmt_hdf5.final_names(&s, buf, sizeof buf);
    CHECK(!strcmp(buf, "conv.h5\n"), "hdf5 name '%s'", buf);
}

/* The stack's header is numpy's: (K, R', C') for one matrix, 4-D else. */
static void test_stack_header(void)
{
    char dirbuf[4200], path[8300], head[256];
    outfmt_spec s = {.nmat = 1, .count = 3, .orows = 5, .ocols = 7,
                     .dtype = PC_F32, .shard_n = 1, .deflate = -1};
    s.dir = fresh_dir("stack-header", dirbuf, sizeof dirbuf);
    for (int four = 0; four < 2; four++) {
        s.nmat = four ? 2 : 1;
        CHECK(one_run(&outfmt_stack, &s, 1, false) == 0, "stack header run");
        snprintf(path, sizeof path, "%s/conv.npy", s.dir);
        FILE *fp = fopen(path, "rb");
        size_t n = fp ? fread(head, 1, sizeof head - 1, fp) : 0;
        head[n] = 0;
        if (fp)
            fclose(fp);
        CHECK(strstr(head + 10, four ? "'shape': (2, 3, 5, 7), }"
                                     : "'shape': (3, 5, 7), }") != NULL,
              "stack header: %s", head + 10);
        CHECK(file_size(path) == (off_t)(128 + s.nmat * 3 * 5 * 7 * 4),
              "stack size %lld", (long long)file_size(path));
    }
}

/* ---- h5input ------------------------------------------------------------ */

/* A dataset of that type and shape, its elements value(0, 0, ...) laid
 * out as the hyperslabs read them (matrix m's element (i, j) =
 * value(m, 0, i, j)), in memory type mem. */
static void put_dataset(hid_t file, const char *name, hid_t ftype, int ndim,
                        const hsize_t *dims)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)dims[d];
    double *v = malloc((n ? n : 1) * sizeof *v);
    size_t rows = ndim >= 2 ? (size_t)dims[ndim - 2] : 1;
    size_t cols = ndim >= 1 ? (size_t)dims[ndim - 1] : 1;
    for (size_t e = 0; e < n; e++) {
        size_t j = e % cols, i = e / cols % rows, m = e / cols / rows;
        /* Small integers, so that every type holds them exactly. */
        v[e] = (double)(m * 20 + i * 3 + j);
    }
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(file, name, ftype, space, lcpl, H5P_DEFAULT,
                         H5P_DEFAULT);
    if (n)
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
    free(v);
}

static void expect_refused(const char *spec, const char *file,
                           const char *dataset)
{
    h5_input in;
    int st = h5_open(spec, &in);
    CHECK(st == PC_EINPUT && strstr(pc_errmsg(), file) &&
              (!dataset || strstr(pc_errmsg(), dataset)) &&
              !strchr(pc_errmsg(), '\n'),
          "h5_open('%s'): %d '%s'", spec, st, pc_errmsg());
}

static void test_h5input(void)
{
    char dirbuf[4200], path[8300], spec[8400], plain[8300], bad[8300];
    const char *dir = fresh_dir("h5input", dirbuf, sizeof dirbuf);
    snprintf(path, sizeof path, "%s/in.h5", dir);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d2[2] = {4, 5}, d3[3] = {3, 4, 5}, d1[1] = {6},
            d4[4] = {2, 2, 2, 2}, d0[2] = {0, 5};
    put_dataset(file, "/f8", H5T_IEEE_F64LE, 2, d2);
    put_dataset(file, "/g/sub/i2", H5T_STD_I16BE, 3, d3);
    put_dataset(file, "/u1", H5T_STD_U8LE, 2, d2);
    put_dataset(file, "/f4", H5T_IEEE_F32BE, 3, d3);
    put_dataset(file, "/one", H5T_IEEE_F64LE, 1, d1);
    put_dataset(file, "/four", H5T_IEEE_F64LE, 4, d4);
    put_dataset(file, "/empty", H5T_IEEE_F64LE, 2, d0);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 8);
    hid_t space = H5Screate_simple(2, d2, NULL);
    H5Dclose(H5Dcreate2(file, "/str", str, space, H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT));
    hid_t cmp = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(cmp, "re", 0, H5T_IEEE_F64LE);
    H5Tinsert(cmp, "im", 8, H5T_IEEE_F64LE);
    H5Dclose(H5Dcreate2(file, "/complex", cmp, space, H5P_DEFAULT,
                        H5P_DEFAULT, H5P_DEFAULT));
    int8_t no = 0, yes = 1;
    hid_t en = H5Tenum_create(H5T_NATIVE_INT8);
    H5Tenum_insert(en, "FALSE", &no);
    H5Tenum_insert(en, "TRUE", &yes);
    /* h5py's bools: an enum of int8 written as such. */
    hid_t bspace = H5Screate_simple(2, (hsize_t[2]){1, 2}, NULL);
    hid_t bd = H5Dcreate2(file, "/bool", en, bspace, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    int8_t bools[2] = {0, 1};
    H5Dwrite(bd, en, H5S_ALL, H5S_ALL, H5P_DEFAULT, bools);
    H5Dclose(bd);
    H5Sclose(bspace);
    H5Dclose(H5Dcreate2(file, "/scalar", H5T_IEEE_F64LE,
                        H5Screate(H5S_SCALAR), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT));
    H5Tclose(en);
    H5Tclose(cmp);
    H5Tclose(str);
    H5Sclose(space);
    H5Fclose(file);

    /* Reads: every type converted, every matrix of a stack. */
    static const struct {
        const char *dataset, *type;
        size_t nmat;
    } good[] = {{"/f8", "f8", 1}, {"/g/sub/i2", "i2", 3}, {"/u1", "u1", 1},
                {"/f4", "f4", 3}, {"/bool", "b1", 1}};
    for (size_t g = 0; g < sizeof good / sizeof *good; g++) {
        h5_input in;
        snprintf(spec, sizeof spec, "%s:%s", path, good[g].dataset);
        CHECK(h5_is_spec(spec), "h5_is_spec(%s)", spec);
        int st = h5_open(spec, &in);
        if (!CHECK(st == 0, "h5_open(%s): %d", spec, st))
            continue;
        bool is_bool = !strcmp(good[g].type, "b1");
        CHECK(in.nmat == good[g].nmat && in.rows == (is_bool ? 1 : 4) &&
                  in.cols == (is_bool ? 2 : 5) && !strcmp(in.type, good[g].type) &&
                  in.ndim == (good[g].nmat > 1 ? 3 : 2) &&
                  in.file_bytes == (size_t)file_size(path) &&
                  !strcmp(in.file, path) && !strcmp(in.dataset, good[g].dataset),
              "%s: %zu x %zu x %zu %s", spec, in.nmat, in.rows, in.cols,
              in.type);
        for (size_t m = 0; m < in.nmat; m++) {
            pc_matrix mat;
            st = h5_read_matrix(&in, m, &mat);
            bool ok = st == 0;
            for (size_t e = 0; ok && e < in.rows * in.cols; e++)
                ok = mat.data[e] == (double)(m * 20 + e / in.cols * 3 +
                                             e % in.cols);
            CHECK(ok, "%s: matrix %zu", spec, m);
            pc_matrix_free(&mat);
        }
        pc_matrix mat;
        CHECK(h5_read_matrix(&in, in.nmat, &mat) != 0, "%s: no matrix %zu",
              spec, in.nmat);
    }

    /* Refusals, one line each, naming the file and the dataset. */
    static const char *const refused[] = {"/nothere", "/g/nothere/x", "/g",
                                          "/g/sub", "/", "/one", "/four",
                                          "/str", "/complex", "/empty",
                                          "/scalar"};
    for (size_t r = 0; r < sizeof refused / sizeof *refused; r++) {
        snprintf(spec, sizeof spec, "%s:%s", path, refused[r]);
        expect_refused(spec, path, refused[r]);
    }
    snprintf(spec, sizeof spec, "%s/missing.h5:/x", dir);
    expect_refused(spec, "missing.h5", NULL);
    snprintf(bad, sizeof bad, "%s/not.h5", dir);
    FILE *fp = fopen(bad, "w");
    if (fp) {
        fputs("not an HDF5 file\n", fp);
        fclose(fp);
    }
    snprintf(spec, sizeof spec, "%s:/x", bad);
    expect_refused(spec, bad, "/x");
    /* A truncated HDF5 file. */
    snprintf(bad, sizeof bad, "%s/cut.h5", dir);
    copy_file(path, bad, file_size(path) / 2);
    snprintf(spec, sizeof spec, "%s:/f8", bad);
    expect_refused(spec, bad, NULL);
    expect_refused(path, path, NULL); /* no dataset named */

    /* Which arguments are HDF5 specs. */
    snprintf(plain, sizeof plain, "%s/plain", dir);
    copy_file(path, plain, file_size(path));
    snprintf(spec, sizeof spec, "%s:/f8", plain);
    CHECK(h5_is_spec(spec), "an HDF5 file without .h5: %s", spec);
    h5_input in;
    CHECK(h5_open(spec, &in) == 0 && in.rows == 4, "h5_open(%s)", spec);
    CHECK(h5_is_spec("x.HDF5:/a") && h5_is_spec("x.h5") &&
              !h5_is_spec("m.npy") && !h5_is_spec("dir:/x.npy") &&
              !h5_is_spec("nothere:/x"),
          "h5_is_spec");
}

/* ---- what tests/formats_numpy.py reads ------------------------------------ */

static int keep(void)
{
    static const struct {
        const outfmt *f;
        outfmt_spec s;
    } files[] = {
        {&outfmt_stack, {.nmat = 1, .count = 3, .orows = 6, .ocols = 5,
                         .dtype = PC_F64, .shard_n = 1, .deflate = -1}},
        {&outfmt_stack, {.nmat = 3, .count = 4, .orows = 5, .ocols = 7,
                         .dtype = PC_F32, .shard_i = 1, .shard_n = 3,
                         .deflate = -1}},
        {&outfmt_hdf5, {.nmat = 2, .count = 3, .orows = 6, .ocols = 5,
                        .dtype = PC_F64, .shard_n = 1, .deflate = -1}},
        {&outfmt_hdf5, {.nmat = 3, .count = 2, .orows = 5, .ocols = 7,
                        .dtype = PC_F32, .shard_i = 0, .shard_n = 2,
                        .deflate = 4}},
        {&outfmt_hdf5, {.nmat = 1, .count = 5, .orows = 8, .ocols = 8,
                        .dtype = PC_F32, .shard_n = 1, .deflate = 0}},
    };
    char path[8300], dirbuf[4200];
    snprintf(path, sizeof path, "%s/expect.json", scratch);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return 1;
    fprintf(fp, "[\n");
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        outfmt_spec s = files[i].s;
        char sub[32], final[128];
        snprintf(sub, sizeof sub, "keep%zu", i);
        s.dir = fresh_dir(sub, dirbuf, sizeof dirbuf);
        final_of(files[i].f, &s, final, sizeof final);
        if (one_run(files[i].f, &s, i, false) != 0) {
            fprintf(stderr, "test_formats --keep: %s\n", pc_errmsg());
            fclose(fp);
            return 1;
        }
        char *json = manifest_for(&s, false);
        fprintf(fp, "%s{\"format\": \"%s\", \"path\": \"%s/%s\", \"dtype\": "
                "\"%s\", \"nmat\": %zu, \"count\": %zu, \"rows\": %zu, "
                "\"cols\": %zu, \"shard\": [%zu, %zu], \"deflate\": %d, "
                "\"manifest\": %s}\n", i ? ", " : "", files[i].f->name,
                s.dir, final, pc_dtype_name(s.dtype), s.nmat, s.count,
                s.orows, s.ocols, s.shard_i, s.shard_n, s.deflate, json);
        free(json);
    }
    fprintf(fp, "]\n");
    return fclose(fp) == 0 ? 0 : 1;
}

/* ---- sizes (for the README; not a test) ----------------------------------- */

/* A Gabor-like response, smooth: matrix n's phase, kernel k's orientation
 * and frequency, a wide Gaussian envelope. */
static void gabor_plane(size_t n, size_t k, size_t rows, size_t cols,
                        double *p)
{
    double theta = M_PI * (double)k / 24.0, f = 0.02 + 0.01 * (double)(k % 4);
    double phase = 0.37 * (double)n;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double x = (double)j - cols / 2.0, y = (double)i - rows / 2.0;
            double u = x * cos(theta) + y * sin(theta);
            p[i * cols + j] = exp(-(x * x + y * y) / (2 * 180.0 * 180.0)) *
                              (cos(2 * M_PI * f * u + phase) +
                               0.3 * sin(0.011 * x * (double)(n % 5 + 1)));
        }
}

static int sizes(const char *dir)
{
    outfmt_spec s = {.dir = dir, .nmat = 64, .count = 24, .orows = 512,
                     .ocols = 512, .dtype = PC_F64, .shard_n = 1};
    static const struct {
        const outfmt *f;
        int deflate;
        const char *name;
    } runs[] = {{&outfmt_stack, -1, "stack"},
                {&outfmt_hdf5, -1, "hdf5, none"},
                {&outfmt_hdf5, 1, "hdf5, deflate:1"},
                {&outfmt_hdf5, 4, "hdf5, deflate:4"},
                {&outfmt_hdf5, 9, "hdf5, deflate:9"}};
    double *p = malloc(512 * 512 * sizeof *p);
    if (outdir_prepare(dir) != 0)
        return 1;
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        void *ctx;
        char final[128], path[8300];
        s.deflate = runs[r].deflate;
        final_of(runs[r].f, &s, final, sizeof final);
        snprintf(path, sizeof path, "%s/%s", dir, final);
        unlink(path);
        int st = runs[r].f->open(&ctx, &s, OUTFMT_NEW);
        for (size_t q = 0; !st && q < s.nmat * s.count; q++) {
            gabor_plane(q / s.count, q % s.count, 512, 512, p);
            st = runs[r].f->write_plane(ctx, q / s.count, q % s.count, p);
        }
        /* Sizes only: no checksums worth computing for /checksums. */
        uint64_t *sums = calloc(s.nmat * s.count, sizeof *sums);
        if (!st)
            st = runs[r].f->commit(ctx, "{\"workload\": {}}", sums);
        free(sums);
        if (!st)
            runs[r].f->close(ctx);
        struct stat sb;
        if (st || stat(path, &sb) != 0) {
            fprintf(stderr, "%s: %s\n", runs[r].name, pc_errmsg());
            return 1;
        }
        printf("%-16s %14lld bytes (%.1f MiB, %.3f of the stack's)\n",
               runs[r].name, (long long)sb.st_size, sb.st_size / 1048576.0,
               sb.st_size / (double)(128 + 64 * 24 * 512 * 512 * 8.0));
        fflush(stdout);
        unlink(path);
    }
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    bool keep_files = argc == 3 && !strcmp(argv[1], "--keep");
    if (argc == 3 && !strcmp(argv[1], "--sizes"))
        return sizes(argv[2]);
    if (argc != 2 && !keep_files) {
        fprintf(stderr, "usage: test_formats [--keep|--sizes] DIR\n");
        return 2;
    }
    snprintf(scratch, sizeof scratch, "%s", argv[argc - 1]);
    if (outdir_prepare(scratch) != 0) {
        fprintf(stderr, "test_formats: %s\n", pc_errmsg());
        return 1;
    }
    if (keep_files)
        return keep();

    /* HDF5 must print nothing: stderr goes to a file, checked empty. */
    char errpath[8300];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", scratch);
    fflush(stderr);
    int saved = dup(2), errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(errfd, 2);

    test_names();
    test_stack_header();
    const outfmt *fmts[] = {&outfmt_stack, &outfmt_hdf5};
    for (size_t i = 0; i < 2; i++) {
        for (int d = 0; d < (fmts[i] == &outfmt_hdf5 ? 2 : 1); d++) {
            int deflate = d ? 6 : -1;
            outfmt_spec base = {.nmat = 3, .count = 5, .orows = 9, .ocols = 11,
                                .dtype = PC_F64, .shard_n = 1,
                                .deflate = deflate};
            test_resume(fmts[i], &base);
            base.dtype = PC_F32;
            base.nmat = 1;
            test_resume(fmts[i], &base);
            outfmt_spec shard = {.nmat = 2, .count = 7, .orows = 64,
                                 .ocols = 64, .dtype = PC_F64, .shard_i = 1,
                                 .shard_n = 4, .deflate = deflate};
            test_resume(fmts[i], &shard);
            base.dtype = PC_F64;
            base.nmat = 4;
            test_refusals(fmts[i], &base);
            base.orows = base.ocols = 40;
            test_killed(fmts[i], &base, deflate < 0);
            test_full(fmts[i], &base);
        }
    }
    outfmt_spec meta = {.nmat = 2, .count = 3, .orows = 4, .ocols = 5,
                        .dtype = PC_F32, .shard_i = 1, .shard_n = 2,
                        .deflate = 2};
    test_h5_metadata(&meta, false);
    test_h5_metadata(&meta, true);
    test_h5input();

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(errfd);
    CHECK(file_size(errpath) == 0, "something was printed on stderr (%s)",
          errpath);
    printf("test_formats: %u checks, %u failed\n", checks, failures);
    return failures ? 1 : 0;
}
