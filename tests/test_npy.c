/*
 * Unit test of the .npy reader and writer (src/npy.c).
 *
 * Usage: test_npy [SCRATCH_DIR]
 * Files are written into SCRATCH_DIR (made if missing), or into a fresh
 * directory under $TMPDIR (or /tmp); the files, and the directory if this
 * program made it, are removed afterwards. Every input is built byte by
 * byte here, so the test needs no numpy; tests/npy_numpy.py checks the same
 * reader against files numpy itself writes.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#endif

#include "parconv.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- checks ------------------------------------------------------------- */

static unsigned checks, failures;

static int check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int check(int ok, const char *file, int line, const char *fmt, ...)
{
    checks++;
    if (!ok) {
        va_list ap;
        failures++;
        printf("%s:%d: FAIL: ", file, line);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(" [last error: %s]\n", pc_errmsg());
    }
    return ok;
}

#define CHECK(cond, ...) check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* ---- scratch files ------------------------------------------------------ */

#define MAX_FILES 64

static char scratch[4096];
static int made_scratch;
static char files[MAX_FILES][4200];
static size_t nfiles;

/* A path in the scratch directory, remembered for clean-up. */
static const char *path_for(const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", scratch, name);
    for (size_t i = 0; i < nfiles; i++)
        if (!strcmp(files[i], p))
            return files[i];
    if (nfiles == MAX_FILES) {
        fprintf(stderr, "test_npy: too many scratch files\n");
        exit(1);
    }
    strcpy(files[nfiles], p);
    return files[nfiles++];
}

static void cleanup(void)
{
    for (size_t i = 0; i < nfiles; i++)
        remove(files[i]);
    if (made_scratch)
        rmdir(scratch);
}

/* Writes a string literal's bytes (NULs included, terminator excluded). */
#define WRITE_LIT(path, lit) write_bytes(path, lit, sizeof lit - 1)

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "test_npy: cannot write %s\n", path);
        exit(1);
    }
}

/* Reads a whole file (for checking what pc_npy_write produced). */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    size_t cap = 0;
    *n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            p = realloc(p, cap);
            if (!p)
                exit(1);
        }
        size_t got = fread(p + *n, 1, cap - *n, f);
        if (got == 0)
            break;
        *n += got;
    }
    fclose(f);
    return p;
}

/* ---- building .npy bytes ------------------------------------------------ */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(1);
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* Magic, version, header length and dict. With pad, spaces and a newline
 * bring the header to a multiple of 64 bytes as numpy does; without, the
 * dict is the whole header. */
static void put_header(struct buf *b, int major, int minor, const char *dict,
                       int pad)
{
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    size_t lenbytes = major >= 2 ? 4 : 2;
    size_t dlen = strlen(dict), hlen = dlen;
    if (pad)
        hlen += 64 - (6 + 2 + lenbytes + dlen + 1) % 64 + 1;
    pre[6] = (unsigned char)major;
    pre[7] = (unsigned char)minor;
    for (size_t i = 0; i < lenbytes; i++)
        pre[8 + i] = (unsigned char)(hlen >> (8 * i));
    put(b, pre, 8 + lenbytes);
    put(b, dict, dlen);
    for (size_t i = dlen; i + 1 < hlen; i++)
        put(b, " ", 1);
    if (pad)
        put(b, "\n", 1);
}

static const char *make_npy(const char *name, int major, const char *dict,
                            const void *data, size_t n)
{
    struct buf b = {0};
    const char *path = path_for(name);
    put_header(&b, major, 0, dict, 1);
    put(&b, data, n);
    write_bytes(path, b.p, b.len);
    free(b.p);
    return path;
}

/* ---- helpers for results ------------------------------------------------ */

/* Equal as values, NaN equal to NaN, and -0.0 distinct from 0.0. */
static int same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && !signbit(a) == !signbit(b);
}

static int msg_ok(const char *path)
{
    const char *m = pc_errmsg();
    return m[0] != '\0' && !strchr(m, '\n') &&
           (!path || !strncmp(m, path, strlen(path)));
}

enum reader { MATRIX = 1, BANK = 2, BOTH = 3 };

/* Reads path with the given reader(s), expecting status code; on failure
 * also that the message starts with the path (PC_EINPUT) and contains
 * want (if given), and that the output was left empty. */
static void expect_fail(const char *what, const char *path, enum reader r,
                        int code, const char *want)
{
    for (int i = 0; i < 2; i++) {
        int rc;
        const char *name = i ? "bank" : "matrix";
        if (!(r & (i ? BANK : MATRIX)))
            continue;
        pc_error(PC_OK, "%s", "");
        if (i) {
            pc_bank b = {7, 7, 7, (double *)&b};
            rc = pc_npy_read_bank(path, &b);
            CHECK(b.data == NULL && b.count == 0, "%s (%s): output not empty",
                  what, name);
            pc_bank_free(&b);
        } else {
            pc_matrix m = {7, 7, (double *)&m};
            rc = pc_npy_read_matrix(path, &m);
            CHECK(m.data == NULL && m.rows == 0, "%s (%s): output not empty",
                  what, name);
            pc_matrix_free(&m);
        }
        CHECK(rc == code, "%s (%s): status %d, want %d", what, name, rc, code);
        CHECK(msg_ok(code == PC_EINPUT ? path : NULL),
              "%s (%s): bad message '%s'", what, name, pc_errmsg());
        if (want)
            CHECK(strstr(pc_errmsg(), want) != NULL,
                  "%s (%s): message '%s' lacks '%s'", what, name, pc_errmsg(),
                  want);
    }
}

/* ---- every dtype, order, version and byte order ------------------------- */

struct tdtype {
    const char *code; /* without the byte-order mark */
    char kind;        /* f i u b */
    unsigned size;
};

static const struct tdtype tdtypes[] = {
    {"f8", 'f', 8}, {"f4", 'f', 4}, {"i8", 'i', 8}, {"i4", 'i', 4},
    {"i2", 'i', 2}, {"i1", 'i', 1}, {"u8", 'u', 8}, {"u4", 'u', 4},
    {"u2", 'u', 2}, {"u1", 'u', 1}, {"b1", 'b', 1},
};

/* Element e of a test array of type t: its bit pattern (low size bytes)
 * and the double the reader must produce. The values cycle through the
 * extremes of each type. */
static uint64_t test_value(const struct tdtype *t, size_t e, double *expect)
{
    static const double f8[] = {0.0,     -1.5,    3.25,      1e300,
                                -1e-300, NAN,     INFINITY,  -INFINITY,
                                -0.0,    4.9e-324, DBL_MAX,  0.1};
    static const float f4[] = {0.0f,     -1.5f,    3.25f,    1e30f,
                               -1e-30f,  NAN,      INFINITY, -INFINITY,
                               -0.0f,    1.4e-45f, FLT_MAX,  0.1f};
    const unsigned bits = 8 * t->size;
    const size_t k = e % 12;
    uint64_t u;

    switch (t->kind) {
    case 'f':
        if (t->size == 8) {
            memcpy(&u, &f8[k], 8);
            *expect = f8[k];
        } else {
            uint32_t w;
            memcpy(&w, &f4[k], 4);
            u = w;
            *expect = f4[k];
        }
        return u;
    case 'i': {
        int64_t max = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
        int64_t min = -max - 1;
        const int64_t v[12] = {0,       -1,      1,  min, max, min + 1,
                               max - 1, -100,    100, 42, -42, max / 3};
        *expect = (double)v[k];
        return (uint64_t)v[k];
    }
    case 'u': {
        uint64_t max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
        const uint64_t v[12] = {0,   1,       max,      max - 1,  2,  max / 3,
                                200, max / 2, max / 2 + 1, 7, 100, 42};
        *expect = (double)v[k];
        return v[k];
    }
    default: /* numpy reads any non-zero byte as True */
        *expect = (e % 3) != 0;
        return e % 3;
    }
}

static void put_elem(unsigned char *dst, uint64_t u, unsigned size, int big)
{
    for (unsigned b = 0; b < size; b++)
        dst[big ? size - 1 - b : b] = (unsigned char)(u >> (8 * b));
}

/* The position in the file of the element with row-major index e. */
static size_t file_pos(size_t e, int ndim, const size_t *shape, int fortran)
{
    size_t idx[3], pos = 0;
    if (!fortran)
        return e;
    for (int k = ndim - 1; k >= 0; k--) {
        idx[k] = e % shape[k];
        e /= shape[k];
    }
    for (int k = ndim - 1; k >= 0; k--)
        pos = pos * shape[k] + idx[k];
    return pos;
}

static void format_dims(char *s, size_t cap, int ndim, const size_t *shape)
{
    if (ndim == 2)
        snprintf(s, cap, "(%zu, %zu)", shape[0], shape[1]);
    else
        snprintf(s, cap, "(%zu, %zu, %zu)", shape[0], shape[1], shape[2]);
}

/* Builds one file of type t and reads it back; returns 1 if every value is
 * right. mark is the byte-order character ('<', '>', '|', '=' or 0). */
static int dtype_case(const struct tdtype *t, char mark, int major,
                      int fortran, int ndim, const size_t *shape,
                      enum reader r)
{
    char dict[256], dims[96];
    size_t n = 1, i;
    int big = mark == '>';
    int ok = 1, rc;

    for (int k = 0; k < ndim; k++)
        n *= shape[k];
    unsigned char *data = malloc(n * t->size);
    double *expect = malloc(n * sizeof *expect);
    if (!data || !expect)
        exit(1);
    for (i = 0; i < n; i++) {
        uint64_t u = test_value(t, i, &expect[i]);
        put_elem(data + t->size * file_pos(i, ndim, shape, fortran), u,
                 t->size, big);
    }
    format_dims(dims, sizeof dims, ndim, shape);
    snprintf(dict, sizeof dict,
             "{'descr': '%s%s', 'fortran_order': %s, 'shape': %s, }",
             mark ? (char[]){mark, 0} : "", t->code,
             fortran ? "True" : "False", dims);
    const char *path = make_npy("dtype.npy", major, dict, data, n * t->size);

    const double *got;
    pc_matrix m = {0};
    pc_bank b = {0};
    if (r == MATRIX) {
        rc = pc_npy_read_matrix(path, &m);
        ok = rc == 0 && m.rows == shape[0] && m.cols == shape[1];
        got = m.data;
    } else {
        rc = pc_npy_read_bank(path, &b);
        ok = rc == 0 && b.count == (ndim == 3 ? shape[0] : 1) &&
             b.rows == shape[ndim - 2] && b.cols == shape[ndim - 1];
        got = b.data;
    }
    for (i = 0; ok && i < n; i++) {
        /* float64 must come through bit for bit (NaN payloads too). */
        if (t->kind == 'f' && t->size == 8)
            ok = !memcmp(&got[i], &expect[i], sizeof(double));
        else
            ok = same(got[i], expect[i]);
        if (!ok)
            printf("  element %zu: got %.17g, want %.17g\n", i, got[i],
                   expect[i]);
    }
    CHECK(ok, "dtype %s v%d.0 %s order shape %s via %s (rc %d)", dict + 10,
          major, fortran ? "F" : "C", dims, r == MATRIX ? "matrix" : "bank",
          rc);
    pc_matrix_free(&m);
    pc_bank_free(&b);
    free(data);
    free(expect);
    return ok;
}

static void test_dtypes(void)
{
    static const size_t s2[] = {3, 5}, s3[] = {2, 3, 4};
    for (size_t d = 0; d < sizeof tdtypes / sizeof *tdtypes; d++) {
        const struct tdtype *t = &tdtypes[d];
        const char *marks = t->size == 1 ? "|" : "<>";
        for (const char *mk = marks; *mk; mk++)
            for (int major = 1; major <= 3; major++)
                for (int fortran = 0; fortran <= 1; fortran++) {
                    dtype_case(t, *mk, major, fortran, 2, s2, MATRIX);
                    dtype_case(t, *mk, major, fortran, 3, s3, BANK);
                }
        /* Other marks numpy's dtype() understands. */
        dtype_case(t, '=', 1, 0, 2, s2, MATRIX);
        dtype_case(t, 0, 1, 1, 3, s3, BANK);
        if (t->size == 1)
            dtype_case(t, '<', 1, 0, 2, s2, MATRIX);
    }
    /* A 2-D file read as a bank is one kernel. */
    dtype_case(&tdtypes[0], '<', 1, 0, 2, s2, BANK);
    dtype_case(&tdtypes[4], '>', 2, 1, 2, s2, BANK);
}

/* Arrays larger than the reader's chunk, so that conversion and the
 * Fortran-order walk carry over from one chunk to the next. */
static void test_large(void)
{
    static const size_t s2[] = {300, 250}, s3[] = {7, 130, 90};
    dtype_case(&tdtypes[4], '>', 1, 1, 2, s2, MATRIX); /* >i2, F */
    dtype_case(&tdtypes[1], '<', 2, 1, 3, s3, BANK);   /* <f4, F */
    dtype_case(&tdtypes[0], '<', 1, 0, 3, s3, BANK);   /* <f8, C */
    dtype_case(&tdtypes[9], '|', 3, 1, 3, s3, BANK);   /* |u1, F */
}

/* ---- header syntax numpy accepts ---------------------------------------- */

static void test_header_syntax(void)
{
    static const char *const ok[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
        "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2, 3)}",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}",
        "  { 'shape' :( 2 ,3 ) ,\n\t'descr':'<f8' ,\r\n 'fortran_order' : "
        "False ,}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3,), }",
        "{'descr': u'<f8', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '=f8', 'fortran_order': False, 'shape': (+2, 3), }",
        "{'shape': (9, 9), 'descr': '<f8', 'fortran_order': False, "
        "'shape': (2, 3)}", /* a repeated key: the last wins, as in Python */
    };
    double data[6] = {1, -2, 3.5, -4.25, 5e10, -6e-10};
    const char *path;

    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        pc_matrix m;
        path = make_npy("syntax.npy", 1, ok[i], data, sizeof data);
        int rc = pc_npy_read_matrix(path, &m);
        CHECK(rc == 0 && m.rows == 2 && m.cols == 3 &&
                  !memcmp(m.data, data, sizeof data),
              "header %s: rc %d", ok[i], rc);
        pc_matrix_free(&m);
    }

    /* No padding and no newline: numpy only needs a dict literal. */
    {
        struct buf b = {0};
        pc_matrix m;
        path = path_for("nopad.npy");
        put_header(&b, 1, 0,
                   "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
                   0);
        put(&b, data, sizeof data);
        write_bytes(path, b.p, b.len);
        free(b.p);
        int rc = pc_npy_read_matrix(path, &m);
        CHECK(rc == 0 && !memcmp(m.data, data, sizeof data),
              "unpadded header: rc %d", rc);
        pc_matrix_free(&m);
    }

    /* Bytes after the data are ignored, as numpy does. */
    {
        unsigned char more[6 * 8 + 100];
        pc_matrix m;
        memcpy(more, data, sizeof data);
        memset(more + sizeof data, 0xAB, 100);
        path = make_npy("trailing.npy", 1, ok[0], more, sizeof more);
        int rc = pc_npy_read_matrix(path, &m);
        CHECK(rc == 0 && !memcmp(m.data, data, sizeof data),
              "trailing bytes: rc %d", rc);
        pc_matrix_free(&m);
    }
}

/* ---- malformed files ---------------------------------------------------- */

struct bad {
    const char *dict;
    enum reader r;
    const char *want; /* in the message */
};

static void test_bad_headers(void)
{
    static const struct bad bad[] = {
        /* syntax */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, x), }", BOTH,
         "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2 3), }", BOTH,
         "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }", BOTH,
         "shape is not a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (6), }", BOTH,
         "shape is not a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3", BOTH,
         NULL},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 3), }", BOTH,
         "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (,), }", BOTH,
         "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,, 3), }", BOTH,
         "shape"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }", BOTH,
         "negative dimension"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': "
         "(99999999999999999999999, 2), }", BOTH, "does not fit"},
        {"{'descr': '<f8', 'fortran_order': False, }", BOTH,
         "missing key 'shape'"},
        {"{'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "missing key 'descr'"},
        {"{'descr': '<f8', 'shape': (2, 3), }", BOTH,
         "missing key 'fortran_order'"},
        {"{}", BOTH, "missing key"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
         BOTH, "unexpected key 'x'"},
        {"{'descr': '<f8', 'fortran_order': 1, 'shape': (2, 3), }", BOTH,
         "fortran_order"},
        {"{'descr': '<f8', 'fortran_order': 'True', 'shape': (2, 3), }", BOTH,
         "fortran_order"},
        {"{'descr': '<f8', 'fortran_order': false, 'shape': (2, 3), }", BOTH,
         "fortran_order"},
        {"[1, 2]", BOTH, "not a dict"},
        {"", BOTH, "not a dict"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), } x", BOTH,
         "after the dict"},
        {"{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         NULL},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), ", BOTH,
         NULL},
        {"{'descr': '<f8, 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         NULL},
        {"{'descr: '<f8', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         NULL},
        {"{descr: '<f8', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "not a string"},
        {"{'descr' '<f8', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "':'"},
        {"{'descr': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]], 'fortran_order': False, "
         "'shape': (2, 3)}", BOTH, "nested too deeply"},
        {"{'descr': [(']'), 'fortran_order': False, 'shape': (2, 3)}", BOTH,
         NULL},
        {"{'descr': [('a', '<f8']), 'fortran_order': False, 'shape': (2, 3)}",
         BOTH, "mismatched"},
        {"{'descr': , 'fortran_order': False, 'shape': (2, 3)}", BOTH,
         "missing value"},
        /* dtypes */
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype '<c16' (parconv reads float64/32, int64/32/16/8, "
         "uint64/32/16/8 and bool)"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype '|O'"},
        {"{'descr': '<U5', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype '<U5'"},
        {"{'descr': '<M8[s]', 'fortran_order': False, 'shape': (2, 3), }",
         BOTH, "unsupported dtype '<M8[s]'"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2, 3), }",
         BOTH, "unsupported dtype [('a', '<f8')]"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype '<f2'"},
        {"{'descr': '|V8', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype '|V8'"},
        {"{'descr': '|S3', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype '|S3'"},
        {"{'descr': 'float64', 'fortran_order': False, 'shape': (2, 3), }",
         BOTH, "unsupported dtype 'float64'"},
        {"{'descr': '', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype ''"},
        {"{'descr': '<f8 ', 'fortran_order': False, 'shape': (2, 3), }", BOTH,
         "unsupported dtype"},
        {"{'descr': ('<f8', (2,)), 'fortran_order': False, 'shape': (2, 3)}",
         BOTH, "unsupported dtype ('<f8', (2,))"},
        /* dimensions */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", MATRIX,
         "expected a 2-D array, got shape (6,)"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", BANK,
         "expected a 2-D or 3-D array, got shape (6,)"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }", MATRIX,
         "expected a 2-D array, got shape ()"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }", BANK,
         "expected a 2-D or 3-D array, got shape ()"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }",
         MATRIX, "expected a 2-D array, got shape (1, 2, 3)"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2, 3), }",
         BOTH, "got shape (1, 1, 2, 3)"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", BOTH,
         "has a zero-sized dimension"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0, 3), }",
         BANK, "has a zero-sized dimension"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 0), }", BOTH,
         "has a zero-sized dimension"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (4611686018427387904, 8), }", BOTH, "too large"},
        {"{'descr': '|u1', 'fortran_order': False, "
         "'shape': (2305843009213693952, 4), }", BOTH, "too large"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (4294967296, 4294967296), }", BOTH, "too large"},
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (65536, 65536, 4294967296), }", BANK, "too large"},
        /* a shape that fits in memory terms but not in the file */
        {"{'descr': '<f8', 'fortran_order': False, "
         "'shape': (1000000000, 1000), }", BOTH,
         "truncated: expected 8000000000000 data bytes, found 48"},
    };
    double data[6] = {1, 2, 3, 4, 5, 6};

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *path = make_npy("bad.npy", 1, bad[i].dict, data,
                                    sizeof data);
        expect_fail(bad[i].dict, path, bad[i].r, PC_EINPUT, bad[i].want);
    }

    /* A NUL inside the header. */
    {
        static const char dict[] =
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
        struct buf b = {0};
        const char *path = path_for("nul.npy");
        put_header(&b, 1, 0, dict, 1);
        b.p[10 + 30] = '\0';
        put(&b, data, sizeof data);
        write_bytes(path, b.p, b.len);
        free(b.p);
        expect_fail("NUL in header", path, BOTH, PC_EINPUT, NULL);
    }
}

static void test_bad_files(void)
{
    static const char dict[] =
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    double data[6] = {1, 2, 3, 4, 5, 6};
    const char *path = path_for("badfile.npy");
    struct buf b = {0};
    char want[4400];

    write_bytes(path, "", 0);
    expect_fail("empty file", path, BOTH, PC_EINPUT, "empty file");

    WRITE_LIT(path, "\x93NU");
    expect_fail("3-byte file", path, BOTH, PC_EINPUT, "not a .npy file");

    WRITE_LIT(path, "\x93NUMPZ\x01\x00\x10\x00{}              ");
    expect_fail("bad magic", path, BOTH, PC_EINPUT, "not a .npy file");

    WRITE_LIT(path, "PK\x03\x04 this is a zip, not an array");
    expect_fail("zip file", path, BOTH, PC_EINPUT, "not a .npy file");

    static const struct {
        int major, minor;
        const char *want;
    } versions[] = {{4, 0, "version 4.0"}, {1, 1, "version 1.1"},
                    {0, 0, "version 0.0"}, {255, 255, "version 255.255"}};
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        b.len = 0;
        put_header(&b, versions[i].major, versions[i].minor, dict, 1);
        put(&b, data, sizeof data);
        write_bytes(path, b.p, b.len);
        expect_fail(versions[i].want, path, BOTH, PC_EINPUT,
                    versions[i].want);
    }

    /* Header length past the end of the file. */
    WRITE_LIT(path, "\x93NUMPY\x01\x00\xc8\x00{'descr': '<f8', }");
    expect_fail("header past EOF", path, BOTH, PC_EINPUT,
                "truncated .npy header: length 200, but only 18 bytes follow");

    /* Absurd header length (version 2.0 allows 4 GiB). */
    b.len = 0;
    put(&b, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12); /* 12 bytes */
    put(&b, dict, sizeof dict - 1);
    write_bytes(path, b.p, b.len);
    expect_fail("huge header length", path, BOTH, PC_EINPUT,
                "implausibly large");

    /* The file ends inside the header length field. */
    WRITE_LIT(path, "\x93NUMPY\x02\x00\x40\x00");
    expect_fail("short length field", path, BOTH, PC_EINPUT,
                "truncated .npy header");

    /* Truncated data, in every version. */
    for (int major = 1; major <= 3; major++) {
        b.len = 0;
        put_header(&b, major, 0, dict, 1);
        put(&b, data, 40);
        write_bytes(path, b.p, b.len);
        expect_fail("truncated data", path, BOTH, PC_EINPUT,
                    "truncated: expected 48 data bytes, found 40");
    }
    b.len = 0;
    put_header(&b, 1, 0, dict, 1);
    write_bytes(path, b.p, b.len);
    expect_fail("no data", path, BOTH, PC_EINPUT,
                "truncated: expected 48 data bytes, found 0");

    /* Every proper prefix of a valid file is rejected as bad input. */
    b.len = 0;
    put_header(&b, 1, 0, dict, 1);
    put(&b, data, sizeof data);
    for (size_t n = 0; n < b.len; n++) {
        pc_matrix m;
        write_bytes(path, b.p, n);
        int rc = pc_npy_read_matrix(path, &m);
        CHECK(rc == PC_EINPUT && msg_ok(path) && m.data == NULL,
              "prefix of %zu bytes: rc %d", n, rc);
    }
    free(b.p);

    /* A missing file and a directory are I/O errors. */
    const char *missing = path_for("no-such-file.npy");
    remove(missing);
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory",
             missing);
    expect_fail("missing file", missing, BOTH, PC_EIO, NULL);
    CHECK(!strcmp(pc_errmsg(), want), "missing file: message '%s'",
          pc_errmsg());
    expect_fail("directory", scratch, BOTH, PC_EIO, scratch);
}

/* Random corruption of a valid file: any outcome but a crash, a sanitizer
 * report or a malformed message is fine. A cheap stand-in for the fuzzer. */
static void test_mutations(void)
{
    static const char dict[] =
        "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2), }";
    unsigned char data[48];
    struct buf b = {0};
    const char *path = path_for("mutant.npy");
    uint64_t state = 0x9E3779B97F4A7C15u;
    unsigned bad = 0, accepted = 0, i;

    for (i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37);
    put_header(&b, 1, 0, dict, 1);
    put(&b, data, sizeof data);
    unsigned char *orig = malloc(b.len);
    if (!orig)
        exit(1);
    memcpy(orig, b.p, b.len);

    for (i = 0; i < 3000; i++) {
        size_t len = b.len;
        memcpy(b.p, orig, b.len);
        for (int k = 0; k < 1 + (int)(i % 4); k++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            unsigned r = (unsigned)(state >> 33);
            /* Mostly hit the header, where the parsing is. */
            size_t at = (r & 3) ? 8 + (r >> 2) % 70 : (r >> 2) % b.len;
            static const char pool[] = "(),:'\"{}[] 0123456789-LTFx\n\\";
            b.p[at] = (r & 16) ? (unsigned char)pool[(r >> 8) % (sizeof pool - 1)]
                               : (unsigned char)(r >> 8);
            if (r % 29 == 0)
                len = (r >> 3) % b.len;
        }
        write_bytes(path, b.p, len);
        pc_bank bank;
        int rc = pc_npy_read_bank(path, &bank);
        if (rc == 0) {
            accepted++;
            if (!bank.data || bank.count * bank.rows * bank.cols == 0)
                bad++;
            pc_bank_free(&bank);
        } else if (rc != PC_EINPUT || !msg_ok(path) || bank.data) {
            bad++;
            printf("  mutant %u: rc %d, message '%s'\n", i, rc, pc_errmsg());
        }
    }
    CHECK(bad == 0, "mutations: %u of %u outcomes malformed", bad, i);
    CHECK(accepted > 0 && accepted < i, "mutations: %u of %u accepted",
          accepted, i);
    free(orig);
    free(b.p);
}

/* ---- writing ------------------------------------------------------------ */

static size_t elem_size(pc_dtype dt)
{
    return dt == PC_F64 ? sizeof(double) : sizeof(float);
}

/* Checks the header of a file pc_npy_write made: version 1.0, length a
 * multiple of 64 that pc_npy_header_size predicts, then exactly the data. */
static void check_written(const char *path, pc_dtype dt, int ndim,
                          const size_t *shape, const char *shape_text)
{
    size_t n, hlen, nelem = 1;
    unsigned char *p = read_bytes(path, &n);
    char want[128];

    for (int k = 0; k < ndim; k++)
        nelem *= shape[k];
    if (!CHECK(p && n >= 10, "%s: not written", path)) {
        free(p);
        return;
    }
    hlen = 10 + (size_t)(p[8] | p[9] << 8);
    CHECK(!memcmp(p, "\x93NUMPY\x01\x00", 8), "%s: magic/version", path);
    CHECK(hlen == pc_npy_header_size(dt, ndim, shape),
          "%s: header %zu bytes, pc_npy_header_size says %zu", path, hlen,
          pc_npy_header_size(dt, ndim, shape));
    CHECK(hlen % 64 == 0 && hlen <= n && p[hlen - 1] == '\n',
          "%s: header of %zu bytes not aligned or not ending in newline",
          path, hlen);
    CHECK(n == hlen + nelem * elem_size(dt),
          "%s: %zu bytes, want %zu", path, n,
          hlen + nelem * elem_size(dt));
    snprintf(want, sizeof want,
             "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
             dt == PC_F64 ? "<f8" : "<f4", shape_text);
    CHECK(hlen <= n && hlen - 10 >= strlen(want) &&
              !memcmp(p + 10, want, strlen(want)),
          "%s: header does not start with %s", path, want);
    for (size_t i = 10 + strlen(want); i + 1 < hlen && i < n; i++)
        if (!CHECK(p[i] == ' ', "%s: header byte %zu is not a space", path,
                   i))
            break;
    free(p);
}

static void test_round_trip(void)
{
    static const double v[] = {0.0,      -0.0,     1.0,      -1.5,
                               NAN,      INFINITY, -INFINITY, 1e-310,
                               DBL_MAX,  -DBL_MAX, 3.14159,  -2.5e-7,
                               123456789.0, -1e300, 0.1,     -0.1,
                               42.0,     -42.0,    7e7,      -7e-7,
                               DBL_MIN,  1.0 / 3, -2.0 / 3,  1e10};
    float vf[24];
    const char *path = path_for("write.npy");

    for (size_t i = 0; i < 24; i++)
        vf[i] = (float)v[i];

    /* float64, 2-D and 3-D: bit for bit, NaN included. */
    {
        static const size_t s2[] = {4, 6}, s3[] = {2, 3, 4};
        pc_matrix m;
        pc_bank b;
        int rc = pc_npy_write(path, PC_F64, 2, s2, v);
        CHECK(rc == 0, "write f64 (4, 6): rc %d", rc);
        check_written(path, PC_F64, 2, s2, "(4, 6)");
        rc = pc_npy_read_matrix(path, &m);
        CHECK(rc == 0 && m.rows == 4 && m.cols == 6 &&
                  !memcmp(m.data, v, sizeof v),
              "round trip f64 (4, 6): rc %d", rc);
        pc_matrix_free(&m);

        rc = pc_npy_write(path, PC_F64, 3, s3, v);
        CHECK(rc == 0, "write f64 (2, 3, 4): rc %d", rc);
        check_written(path, PC_F64, 3, s3, "(2, 3, 4)");
        rc = pc_npy_read_bank(path, &b);
        CHECK(rc == 0 && b.count == 2 && b.rows == 3 && b.cols == 4 &&
                  !memcmp(b.data, v, sizeof v),
              "round trip f64 (2, 3, 4): rc %d", rc);
        pc_bank_free(&b);
    }

    /* float32: each value comes back as the double of the float. */
    {
        static const size_t s2[] = {6, 4}, s3[] = {3, 1, 8};
        pc_matrix m;
        pc_bank b;
        int ok, rc = pc_npy_write(path, PC_F32, 2, s2, vf);
        CHECK(rc == 0, "write f32 (6, 4): rc %d", rc);
        check_written(path, PC_F32, 2, s2, "(6, 4)");
        rc = pc_npy_read_matrix(path, &m);
        ok = rc == 0 && m.rows == 6 && m.cols == 4;
        for (size_t i = 0; ok && i < 24; i++)
            ok = same(m.data[i], vf[i]);
        CHECK(ok, "round trip f32 (6, 4): rc %d", rc);
        pc_matrix_free(&m);

        rc = pc_npy_write(path, PC_F32, 3, s3, vf);
        CHECK(rc == 0, "write f32 (3, 1, 8): rc %d", rc);
        check_written(path, PC_F32, 3, s3, "(3, 1, 8)");
        rc = pc_npy_read_bank(path, &b);
        ok = rc == 0 && b.count == 3 && b.rows == 1 && b.cols == 8;
        for (size_t i = 0; ok && i < 24; i++)
            ok = same(b.data[i], vf[i]);
        CHECK(ok, "round trip f32 (3, 1, 8): rc %d", rc);
        pc_bank_free(&b);
    }

    /* 1-D writes fine, and the readers refuse it. */
    {
        static const size_t s1[] = {5};
        int rc = pc_npy_write(path, PC_F32, 1, s1, vf);
        CHECK(rc == 0, "write f32 (5,): rc %d", rc);
        check_written(path, PC_F32, 1, s1, "(5,)");
        expect_fail("1-D written", path, MATRIX, PC_EINPUT,
                    "expected a 2-D array, got shape (5,)");
    }

    /* Empty arrays can be written (numpy can), but not read. */
    {
        static const size_t s0[] = {0, 3};
        int rc = pc_npy_write(path, PC_F64, 2, s0, NULL);
        CHECK(rc == 0, "write f64 (0, 3): rc %d", rc);
        check_written(path, PC_F64, 2, s0, "(0, 3)");
        expect_fail("(0, 3) written", path, BOTH, PC_EINPUT, "zero-sized");
    }

    /* Exactly the bytes numpy 1.24 writes for np.save of a (3, 4) float64:
     * 21 - 1 spaces of growth room, then padding to 128 bytes. */
    {
        static const size_t s[] = {3, 4};
        static const char dict[] =
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
        unsigned char want[128];
        size_t n;
        memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
        memset(want + 10, ' ', sizeof want - 10);
        memcpy(want + 10, dict, sizeof dict - 1);
        want[127] = '\n';
        CHECK(pc_npy_write(path, PC_F64, 2, s, v) == 0, "write (3, 4)");
        unsigned char *p = read_bytes(path, &n);
        CHECK(p && n == 128 + 96 && !memcmp(p, want, 128),
              "header of (3, 4) float64 differs from numpy's");
        /* pc_npy_write_fd writes the same bytes into an open file, which
         * it leaves open where it ended. */
        char fdpath[4200];
        snprintf(fdpath, sizeof fdpath, "%s.fd", path);
        int fd = open(fdpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0 && pc_npy_write_fd(fd, PC_F64, 2, s, v) == 0 &&
                  lseek(fd, 0, SEEK_CUR) == 128 + 96 && close(fd) == 0,
              "pc_npy_write_fd (3, 4)");
        size_t nfd;
        unsigned char *q = read_bytes(fdpath, &nfd);
        CHECK(q && p && nfd == n && !memcmp(p, q, n),
              "pc_npy_write_fd wrote other bytes than pc_npy_write");
        CHECK(pc_npy_write_fd(-1, PC_F64, 2, s, v) == PC_EIO,
              "pc_npy_write_fd to a closed descriptor");
        free(q);
        free(p);
    }

    /* Header sizes: growth room and a whole extra 64 when a header would
     * end exactly on the boundary, as numpy does. */
    {
        static const size_t big[] = {(size_t)-1, 1, 1};
        static const size_t s1[] = {1}, s2[] = {100000, 100000};
        CHECK(pc_npy_header_size(PC_F64, 2, s2) == 128, "header (100000, ...)");
        CHECK(pc_npy_header_size(PC_F32, 1, s1) == 128, "header (1,)");
        static const size_t s4[] = {2, 3, 4, 5};
        CHECK(pc_npy_header_size(PC_F64, 4, s4) == 128, "header (2, 3, 4, 5)");
        CHECK(pc_npy_header_size(PC_F64, 3, big) % 64 == 0,
              "header of a 20-digit dimension: %zu",
              pc_npy_header_size(PC_F64, 3, big));
        CHECK(pc_npy_header_size(PC_F64, 0, s1) == 0 &&
                  pc_npy_header_size(PC_F64, 5, big) == 0 &&
                  pc_npy_header_size(PC_F64, 2, NULL) == 0 &&
                  pc_npy_header_size((pc_dtype)7, 1, s1) == 0,
              "header size of invalid arguments is not 0");
    }
}

static void test_write_errors(void)
{
    static const size_t s2[] = {2, 2}, huge[] = {(size_t)-1 / 4, 8};
    static const double v[4] = {1, 2, 3, 4};
    const char *path = path_for("werr.npy");
    char nodir[4300];

    CHECK(pc_npy_write(path, PC_F64, 0, s2, v) == PC_EUSAGE && msg_ok(NULL),
          "write with ndim 0");
    CHECK(pc_npy_write(path, PC_F64, 5, s2, v) == PC_EUSAGE, "ndim 5");
    CHECK(pc_npy_write(path, PC_F64, 2, NULL, v) == PC_EUSAGE, "no shape");
    CHECK(pc_npy_write(path, (pc_dtype)7, 2, s2, v) == PC_EUSAGE, "dtype 7");
    CHECK(pc_npy_write(path, PC_F64, 2, s2, NULL) == PC_EUSAGE, "no data");
    CHECK(pc_npy_write(NULL, PC_F64, 2, s2, v) == PC_EUSAGE, "no path");
    CHECK(pc_npy_write(path, PC_F64, 2, huge, v) == PC_EUSAGE &&
              msg_ok(path),
          "overflowing size");

    snprintf(nodir, sizeof nodir, "%s/no-such-dir/x.npy", scratch);
    CHECK(pc_npy_write(nodir, PC_F64, 2, s2, v) == PC_EIO &&
              strstr(pc_errmsg(), "cannot create") &&
              strstr(pc_errmsg(), nodir) &&
              strstr(pc_errmsg(), "No such file or directory"),
          "write into a missing directory: '%s'", pc_errmsg());

    /* A full disk shows up at fwrite or fflush, not at fopen. */
    if (access("/dev/full", W_OK) == 0) {
        static const size_t s[] = {256, 256};
        double *z = calloc(256 * 256, sizeof *z);
        if (!z)
            exit(1);
        CHECK(pc_npy_write("/dev/full", PC_F64, 2, s, z) == PC_EIO &&
                  strstr(pc_errmsg(), "/dev/full") &&
                  strstr(pc_errmsg(), "No space left on device"),
              "write to /dev/full: '%s'", pc_errmsg());
        CHECK(pc_npy_write("/dev/full", PC_F32, 1, s, z) == PC_EIO,
              "small write to /dev/full (fflush)");
        free(z);
    }
}

/* ---- main --------------------------------------------------------------- */

/* pc_npy_info: the header's facts, one spelling of each dtype, and the
 * same errors as the readers. */
static void test_info(void)
{
    static const unsigned char u8[6] = {1, 2, 3, 4, 5, 6};
    const char *path = make_npy("info_u1.npy", 1,
                                "{'descr': '=u1', 'fortran_order': True, "
                                "'shape': (2, 3), }", u8, sizeof u8);
    pc_npy_meta meta;
    int rc = pc_npy_info(path, &meta);
    CHECK(rc == 0 && strcmp(meta.descr, "|u1") == 0 && meta.fortran_order &&
          meta.ndim == 2 && meta.shape[0] == 2 && meta.shape[1] == 3 &&
          meta.header_bytes % 64 == 0 &&
          meta.file_bytes == meta.header_bytes + sizeof u8,
          "info of a u1 file: rc %d descr %s fortran %d ndim %d header %zu "
          "file %llu", rc, meta.descr, meta.fortran_order, meta.ndim,
          meta.header_bytes, (unsigned long long)meta.file_bytes);
    double d[4] = {0};
    size_t shape[3] = {1, 2, 2};
    path = path_for("info_f8.npy");
    pc_npy_write(path, PC_F64, 3, shape, d);
    rc = pc_npy_info(path, &meta);
    CHECK(rc == 0 && strcmp(meta.descr, "<f8") == 0 && !meta.fortran_order &&
          meta.ndim == 3 && meta.header_bytes ==
          pc_npy_header_size(PC_F64, 3, shape) &&
          meta.file_bytes == meta.header_bytes + sizeof d,
          "info of a written f8 file: rc %d descr %s", rc, meta.descr);
    rc = pc_npy_info(path_for("no-such.npy"), &meta);
    CHECK(rc == PC_EIO, "info of a missing file: rc %d", rc);
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: %s [SCRATCH_DIR]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        /* The directory may not exist yet (meson passes a path in the
         * build tree); if we make it, we remove it again. */
        snprintf(scratch, sizeof scratch, "%s", argv[1]);
        if (mkdir(scratch, 0777) == 0)
            made_scratch = 1;
        else if (errno != EEXIST) {
            fprintf(stderr, "test_npy: cannot create %s: %s\n", scratch,
                    strerror(errno));
            return 1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/test_npy.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(scratch)) {
            perror("test_npy: mkdtemp");
            return 1;
        }
        made_scratch = 1;
    }

    test_round_trip();
    test_write_errors();
    test_dtypes();
    test_large();
    test_header_syntax();
    test_bad_headers();
    test_bad_files();
    test_mutations();
    test_info();

    cleanup();
    if (failures) {
        printf("test_npy: %u of %u checks failed\n", failures, checks);
        return 1;
    }
    printf("test_npy: %u checks passed\n", checks);
    return 0;
}
