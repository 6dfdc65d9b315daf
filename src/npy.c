/*
 * Reading and writing .npy files (NumPy's array format, versions 1.0-3.0).
 *
 * A file is: the magic "\x93NUMPY", a major and a minor version byte, the
 * header length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), the
 * header -- the text of a Python dict literal such as
 * {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } -- and then
 * the raw elements. The reader must survive any input bytes (it is fuzzed),
 * so the header is parsed by hand within explicit bounds and every size is
 * computed with overflow checks before anything is allocated.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#endif

#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* numpy itself refuses headers over 10000 bytes unless told otherwise; we
 * allow more, but a header length in the megabytes is a corrupt file, and
 * refusing it bounds what a hostile file can make us allocate. */
#define NPY_MAX_HEADER ((size_t)1 << 20)
#define NPY_MAX_DIMS 64 /* numpy's own limit (NPY_MAXDIMS in numpy 2) */
#define NPY_MAX_NEST 32 /* bracket depth when skipping an unsupported descr */
#define NPY_ALIGN 64    /* numpy pads the header so data starts aligned */
/* numpy >= 1.24 leaves room for the growing axis to reach 21 digits. */
#define NPY_GROWTH_DIGITS 21
/* Elements per read: the extra memory is at most 256 KiB of file bytes,
 * plus 256 KiB of doubles for Fortran order. */
#define CHUNK_ELEMS ((size_t)32768)
/* Our own headers are at most ~200 bytes (3 dims of 20 digits each). */
#define WRITE_HEADER_MAX 256

#define UNSUPPORTED_HINT \
    "(parconv reads float64/32, int64/32/16/8, uint64/32/16/8 and bool)"

/* ---- dtypes ------------------------------------------------------------- */

enum npy_kind { K_FLOAT, K_INT, K_UINT, K_BOOL };

struct npy_dtype {
    char code[3]; /* kind letter and size digit, as in descr '<f8' */
    enum npy_kind kind;
    unsigned size;
};

static const struct npy_dtype npy_dtypes[] = {
    {"f8", K_FLOAT, 8}, {"f4", K_FLOAT, 4}, {"i8", K_INT, 8},
    {"i4", K_INT, 4},   {"i2", K_INT, 2},   {"i1", K_INT, 1},
    {"u8", K_UINT, 8},  {"u4", K_UINT, 4},  {"u2", K_UINT, 2},
    {"u1", K_UINT, 1},  {"b1", K_BOOL, 1},
};

/* Looks up a descr string such as "<f8". numpy writes '<' or '>' for
 * multi-byte types and '|' for single bytes; '=' (native) and no marker at
 * all are accepted as little-endian, which is what every machine that runs
 * parconv is, and '!' (network order) as big-endian, as np.dtype does. */
static const struct npy_dtype *dtype_lookup(const char *s, size_t n, int *big)
{
    *big = 0;
    if (n == 3) {
        switch (s[0]) {
        case '<': case '|': case '=': break;
        case '>': case '!': *big = 1; break;
        default: return NULL;
        }
        s++;
        n--;
    }
    if (n != 2)
        return NULL;
    for (size_t i = 0; i < sizeof npy_dtypes / sizeof *npy_dtypes; i++)
        if (s[0] == npy_dtypes[i].code[0] && s[1] == npy_dtypes[i].code[1])
            return &npy_dtypes[i];
    return NULL;
}

/* ---- the parsed header -------------------------------------------------- */

struct npy_info {
    const struct npy_dtype *dt;
    int big;            /* big-endian elements: byte-swap on read */
    int fortran;        /* column-major elements */
    int ndim;
    size_t shape[NPY_MAX_DIMS];
    size_t nelem;       /* product of shape, checked */
    size_t data_bytes;  /* nelem * dt->size, checked */
    size_t offset;      /* where the elements start */
    uintmax_t file_bytes; /* 0 if not a regular file */
};

/* What the dict parser collects before it is validated. The descr is kept
 * as text (pointing into the header buffer) so messages can name it. */
struct npy_dict {
    int have_descr, have_fortran, have_shape;
    int descr_is_str;
    const char *descr, *descr_raw; /* contents / whole source text */
    size_t descr_len, descr_raw_len;
    int fortran;
    int ndim;
    size_t shape[NPY_MAX_DIMS];
};

/* ---- message helpers ---------------------------------------------------- */

/* Copies header text into a message: one line, printable, bounded. */
static void printable(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i, j = 0;
    for (i = 0; i < n && j + 4 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (i < n) {
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

/* Formats a shape the way Python prints a tuple: (), (5,), (3, 4). */
static void format_shape(char *dst, size_t cap, const size_t *shape, int ndim)
{
    size_t len = 0;
    int k;
    dst[len++] = '(';
    for (k = 0; k < ndim; k++) {
        char num[32];
        int w = snprintf(num, sizeof num, "%s%zu", k ? ", " : "", shape[k]);
        /* Leave room for ", ...", ')' and the terminator. */
        if (w < 0 || len + (size_t)w + 8 > cap) {
            memcpy(dst + len, ", ...", 5);
            len += 5;
            break;
        }
        memcpy(dst + len, num, (size_t)w);
        len += (size_t)w;
    }
    if (ndim == 1)
        dst[len++] = ',';
    dst[len++] = ')';
    dst[len] = '\0';
}

/* ---- header dict parser ------------------------------------------------- */

/* The parser works on [p, end) and never reads outside it. Each function
 * returns 0 or -1, leaving a reason in why[WHY_LEN]. */
#define WHY_LEN 160

struct cursor {
    const char *p, *end;
    char *why;
};

static int fail(struct cursor *c, const char *reason)
{
    snprintf(c->why, WHY_LEN, "%s", reason);
    return -1;
}

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' ||
                             *c->p == '\r' || *c->p == '\f' || *c->p == '\v'))
        c->p++;
}

static int peek(const struct cursor *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static int is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Whether a string literal starts here: a quote, optionally after a prefix
 * of up to two letters (u'', b'', r'', rb'' ...). Returns the prefix length,
 * or -1. */
static int string_prefix(const struct cursor *c)
{
    for (int k = 0; k < 3 && c->p + k < c->end; k++) {
        char ch = c->p[k];
        if (ch == '\'' || ch == '"')
            return k;
        if (!strchr("uUbBrR", ch) || ch == '\0')
            return -1;
    }
    return -1;
}

/* A Python string literal in single or double quotes. Escapes are skipped,
 * not decoded: the keys and descrs we accept contain none. */
static int parse_string(struct cursor *c, const char **s, size_t *n)
{
    int pre = string_prefix(c);
    if (pre < 0)
        return fail(c, "expected a string");
    c->p += pre;
    char q = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\n')
            return fail(c, "newline inside a string");
        if (*c->p == '\\' && c->end - c->p >= 2)
            c->p++;
        c->p++;
    }
    if (c->p >= c->end)
        return fail(c, "unterminated string");
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 0;
}

/* Skips any Python literal (a list of tuples for structured dtypes, say),
 * up to the ',' or '}' that ends it at depth 0. */
static int skip_value(struct cursor *c)
{
    char want[NPY_MAX_NEST];
    size_t depth = 0;
    const char *start = c->p;
    const char *s;
    size_t n;

    while (c->p < c->end) {
        char ch = *c->p;
        if (ch == '\'' || ch == '"') {
            if (parse_string(c, &s, &n))
                return -1;
            continue;
        }
        if (ch == '(' || ch == '[' || ch == '{') {
            if (depth == NPY_MAX_NEST)
                return fail(c, "value nested too deeply");
            want[depth++] = ch == '(' ? ')' : ch == '[' ? ']' : '}';
        } else if (ch == ')' || ch == ']' || ch == '}') {
            if (depth == 0)
                break;
            if (want[depth - 1] != ch)
                return fail(c, "mismatched brackets");
            depth--;
        } else if (ch == ',' && depth == 0) {
            break;
        }
        c->p++;
    }
    if (depth > 0 || c->p >= c->end)
        return fail(c, "unterminated value");
    if (c->p == start)
        return fail(c, "missing value");
    return 0;
}

static int parse_descr(struct cursor *c, struct npy_dict *d)
{
    const char *start = c->p;
    if (string_prefix(c) >= 0) {
        if (parse_string(c, &d->descr, &d->descr_len))
            return -1;
        d->descr_is_str = 1;
    } else {
        if (skip_value(c))
            return -1;
        d->descr_is_str = 0;
    }
    /* Trailing blanks are not part of the value. */
    const char *stop = c->p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t' ||
                            stop[-1] == '\n' || stop[-1] == '\r'))
        stop--;
    d->descr_raw = start;
    d->descr_raw_len = (size_t)(stop - start);
    d->have_descr = 1;
    return 0;
}

static int parse_bool(struct cursor *c, struct npy_dict *d)
{
    const char *start = c->p;
    while (c->p < c->end && (is_alpha(*c->p) || is_digit(*c->p)))
        c->p++;
    size_t n = (size_t)(c->p - start);
    if (n == 4 && !memcmp(start, "True", 4))
        d->fortran = 1;
    else if (n == 5 && !memcmp(start, "False", 5))
        d->fortran = 0;
    else
        return fail(c, "fortran_order is not True or False");
    d->have_fortran = 1;
    return 0;
}

/* One dimension: a decimal Python int, maybe signed, maybe with the 'L'
 * suffix that Python 2 era numpy wrote. */
static int parse_dim(struct cursor *c, size_t *dim)
{
    int neg = 0;
    size_t v = 0;
    int too_big = 0;

    if (peek(c, '+') || peek(c, '-')) {
        neg = *c->p == '-';
        c->p++;
        skip_ws(c);
    }
    if (c->p >= c->end || !is_digit(*c->p))
        return fail(c, "shape is not a tuple of integers");
    while (c->p < c->end && is_digit(*c->p)) {
        size_t digit = (size_t)(*c->p - '0');
        if (v > (SIZE_MAX - digit) / 10)
            too_big = 1;
        else
            v = v * 10 + digit;
        c->p++;
    }
    if (peek(c, 'L') || peek(c, 'l'))
        c->p++;
    if (c->p < c->end && (is_alpha(*c->p) || *c->p == '.'))
        return fail(c, "shape is not a tuple of integers");
    if (neg && (v != 0 || too_big))
        return fail(c, "negative dimension in shape");
    if (too_big)
        return fail(c, "dimension in shape does not fit in size_t");
    *dim = v;
    return 0;
}

static int parse_shape(struct cursor *c, struct npy_dict *d)
{
    int comma = 0;
    if (!peek(c, '('))
        return fail(c, "shape is not a tuple");
    c->p++;
    d->ndim = 0;
    for (;;) {
        skip_ws(c);
        if (peek(c, ')'))
            break;
        if (d->ndim == NPY_MAX_DIMS)
            return fail(c, "shape has more than 64 dimensions");
        if (parse_dim(c, &d->shape[d->ndim]))
            return -1;
        d->ndim++;
        skip_ws(c);
        comma = peek(c, ',');
        if (comma)
            c->p++;
        else if (!peek(c, ')'))
            return fail(c, "shape is not a tuple of integers");
    }
    c->p++;
    /* In Python "(5)" is the int 5, not a tuple: numpy refuses it. */
    if (d->ndim == 1 && !comma)
        return fail(c, "shape is not a tuple");
    d->have_shape = 1;
    return 0;
}

/* The header: a dict with exactly the keys descr, fortran_order and shape
 * (numpy refuses others), in any order, then only white space. A repeated
 * key takes the last value, as in Python. */
static int parse_dict(const char *text, size_t len, struct npy_dict *d,
                      char *why)
{
    struct cursor cur = {text, text + len, why};
    struct cursor *c = &cur;

    memset(d, 0, sizeof *d);
    skip_ws(c);
    if (!peek(c, '{'))
        return fail(c, "header is not a dict");
    c->p++;
    for (;;) {
        const char *key;
        size_t klen;
        int rc;

        skip_ws(c);
        if (peek(c, '}'))
            break;
        if (string_prefix(c) < 0)
            return fail(c, "dict key is not a string");
        if (parse_string(c, &key, &klen))
            return -1;
        skip_ws(c);
        if (!peek(c, ':'))
            return fail(c, "expected ':' after a dict key");
        c->p++;
        skip_ws(c);
        if (klen == 5 && !memcmp(key, "descr", 5)) {
            rc = parse_descr(c, d);
        } else if (klen == 13 && !memcmp(key, "fortran_order", 13)) {
            rc = parse_bool(c, d);
        } else if (klen == 5 && !memcmp(key, "shape", 5)) {
            rc = parse_shape(c, d);
        } else {
            char name[48];
            printable(name, sizeof name, key, klen);
            snprintf(why, WHY_LEN, "unexpected key '%s'", name);
            return -1;
        }
        if (rc)
            return -1;
        skip_ws(c);
        if (peek(c, ','))
            c->p++;
        else if (!peek(c, '}'))
            return fail(c, "expected ',' or '}' in the dict");
    }
    c->p++;
    skip_ws(c);
    if (c->p != c->end)
        return fail(c, "unexpected text after the dict");
    if (!d->have_descr)
        return fail(c, "missing key 'descr'");
    if (!d->have_fortran)
        return fail(c, "missing key 'fortran_order'");
    if (!d->have_shape)
        return fail(c, "missing key 'shape'");
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* Reads n bytes; returns the count read, or sets *rc on an I/O error. */
static size_t read_some(FILE *f, const char *path, void *buf, size_t n,
                        int *rc)
{
    errno = 0;
    size_t got = fread(buf, 1, n, f);
    if (got < n && ferror(f))
        *rc = pc_error(PC_EIO, "%s: read error: %s", path,
                       strerror(errno ? errno : EIO));
    return got;
}

static uint64_t load_le(const unsigned char *p, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = size; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Opens path, reads and validates the header for an array of min_ndim to
 * max_ndim dimensions, and leaves *fp at the first element. The data size
 * is checked against the file size here, before the caller allocates. */
static int npy_open(const char *path, int min_ndim, int max_ndim, FILE **fp,
                    struct npy_info *info)
{
    unsigned char pre[12];
    char why[WHY_LEN], text[160];
    struct npy_dict d;
    char *hdr = NULL;
    size_t got, lenbytes, hlen, offset;
    int rc = 0, k;
    FILE *f;
    struct stat st;

    *fp = NULL;
    if (!path)
        return pc_error(PC_EUSAGE, "no .npy path given");
    f = fopen(path, "rb");
    if (!f)
        return pc_error(PC_EIO, "cannot open '%s': %s", path, strerror(errno));

    got = read_some(f, path, pre, 8, &rc);
    if (rc)
        goto done;
    if (got == 0) {
        rc = pc_error(PC_EINPUT, "%s: empty file, not a .npy file", path);
        goto done;
    }
    if (got < 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN)) {
        rc = pc_error(PC_EINPUT, "%s: not a .npy file (no \\x93NUMPY magic)",
                      path);
        goto done;
    }
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
        rc = pc_error(PC_EINPUT,
                      "%s: unsupported .npy format version %u.%u "
                      "(parconv reads 1.0, 2.0 and 3.0)",
                      path, pre[6], pre[7]);
        goto done;
    }
    /* 3.0 only differs from 2.0 by allowing UTF-8 in the header, which
     * matters for structured dtypes' field names; we refuse those anyway. */
    lenbytes = pre[6] == 1 ? 2 : 4;
    got = read_some(f, path, pre + 8, lenbytes, &rc);
    if (rc)
        goto done;
    if (got < lenbytes) {
        rc = pc_error(PC_EINPUT, "%s: truncated .npy header", path);
        goto done;
    }
    hlen = (size_t)load_le(pre + 8, (unsigned)lenbytes);
    if (hlen > NPY_MAX_HEADER) {
        rc = pc_error(PC_EINPUT,
                      "%s: .npy header length %zu is implausibly large "
                      "(limit %zu)",
                      path, hlen, NPY_MAX_HEADER);
        goto done;
    }
    hdr = malloc(hlen ? hlen : 1);
    if (!hdr) {
        rc = pc_error(PC_ENOMEM, "%s: cannot allocate %zu bytes for the header",
                      path, hlen);
        goto done;
    }
    got = read_some(f, path, hdr, hlen, &rc);
    if (rc)
        goto done;
    if (got < hlen) {
        rc = pc_error(PC_EINPUT,
                      "%s: truncated .npy header: length %zu, but only %zu "
                      "bytes follow",
                      path, hlen, got);
        goto done;
    }
    offset = 8 + lenbytes + hlen;

    if (parse_dict(hdr, hlen, &d, why)) {
        rc = pc_error(PC_EINPUT, "%s: bad .npy header: %s", path, why);
        goto done;
    }

    info->dt = d.descr_is_str ? dtype_lookup(d.descr, d.descr_len, &info->big)
                              : NULL;
    if (!info->dt) {
        printable(text, 64, d.descr_raw, d.descr_raw_len);
        rc = pc_error(PC_EINPUT, "%s: unsupported dtype %s " UNSUPPORTED_HINT,
                      path, text);
        goto done;
    }
    info->fortran = d.fortran;
    info->ndim = d.ndim;
    memcpy(info->shape, d.shape, sizeof d.shape);

    format_shape(text, sizeof text, d.shape, d.ndim);
    if (d.ndim < min_ndim || d.ndim > max_ndim) {
        if (min_ndim == max_ndim)
            rc = pc_error(PC_EINPUT, "%s: expected a %d-D array, got shape %s",
                          path, min_ndim, text);
        else
            rc = pc_error(PC_EINPUT,
                          "%s: expected a %d-D or %d-D array, got shape %s",
                          path, min_ndim, max_ndim, text);
        goto done;
    }
    info->nelem = 1;
    for (k = 0; k < d.ndim; k++)
        if (d.shape[k] == 0) {
            rc = pc_error(PC_EINPUT, "%s: array of shape %s has a zero-sized "
                          "dimension", path, text);
            goto done;
        }
    /* Each element becomes a double, so that is the size that must fit;
     * the file's own bytes (at most 8 per element) then fit too. */
    for (k = 0; k < d.ndim; k++)
        if (!pc_mul_ok(info->nelem, d.shape[k], &info->nelem) ||
            info->nelem > SIZE_MAX / sizeof(double)) {
            rc = pc_error(PC_EINPUT, "%s: array of shape %s is too large "
                          "(its size overflows size_t)", path, text);
            goto done;
        }
    info->data_bytes = info->nelem * info->dt->size;

    /* A regular file's size is known: refuse a truncated one before the
     * caller allocates what the shape asks for. (Pipes are checked as the
     * data arrives.) */
    errno = 0;
    if (fstat(fileno(f), &st) != 0) {
        rc = pc_error(PC_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    info->offset = offset;
    info->file_bytes = S_ISREG(st.st_mode) ? (uintmax_t)st.st_size : 0;
    if (S_ISREG(st.st_mode)) {
        uintmax_t size = (uintmax_t)st.st_size;
        uintmax_t left = size > offset ? size - offset : 0;
        if (left < info->data_bytes) {
            rc = pc_error(PC_EINPUT,
                          "%s: truncated: expected %zu data bytes, found %ju",
                          path, info->data_bytes, left);
            goto done;
        }
    }

done:
    free(hdr);
    if (rc)
        fclose(f);
    else
        *fp = f;
    return rc;
}

/* Converts n elements of the file's dtype to doubles. Loads go byte by
 * byte, so the file's alignment and the host's byte order do not matter. */
static void convert(const unsigned char *src, size_t n,
                    const struct npy_info *in, double *dst)
{
    const unsigned size = in->dt->size;
    const unsigned bits = 8 * size;
    const uint64_t sign = (uint64_t)1 << (bits - 1);
    const uint64_t mask = size == 8 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    const uint16_t one = 1;
    unsigned char host_le;

    /* The common case, '<f8' on a little-endian host, is already our
     * format: a plain copy is several times faster than the loop below. */
    memcpy(&host_le, &one, 1);
    if (in->dt->kind == K_FLOAT && size == 8 && !in->big && host_le) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = src + i * size;
        uint64_t v = 0;
        if (in->big)
            for (unsigned b = 0; b < size; b++)
                v = v << 8 | p[b];
        else
            v = load_le(p, size);

        switch (in->dt->kind) {
        case K_FLOAT:
            if (size == 8) {
                double x;
                memcpy(&x, &v, sizeof x);
                dst[i] = x;
            } else {
                uint32_t u = (uint32_t)v;
                float x;
                memcpy(&x, &u, sizeof x);
                dst[i] = x;
            }
            break;
        case K_INT:
            /* Two's complement by hand: no implementation-defined
             * conversion of out-of-range unsigned values. */
            dst[i] = (v & sign) ? -(double)(((~v) & mask) + 1) : (double)v;
            break;
        case K_UINT:
            dst[i] = (double)v;
            break;
        case K_BOOL:
            dst[i] = v != 0;
            break;
        }
    }
}

/* Where the file's elements go: in C order straight through; in Fortran
 * order the first index runs fastest, so walk the multi-index and keep the
 * row-major offset up to date without divisions. */
struct scatter {
    size_t idx[3], stride[3], off;
};

static void scatter_init(struct scatter *s, const struct npy_info *in)
{
    memset(s, 0, sizeof *s);
    s->stride[in->ndim - 1] = 1;
    for (int k = in->ndim - 1; k > 0; k--)
        s->stride[k - 1] = s->stride[k] * in->shape[k];
}

static void scatter(struct scatter *s, const struct npy_info *in,
                    const double *src, size_t n, double *out)
{
    for (size_t j = 0; j < n; j++) {
        out[s->off] = src[j];
        int k = 0;
        s->idx[0]++;
        s->off += s->stride[0];
        while (k < in->ndim - 1 && s->idx[k] == in->shape[k]) {
            s->off -= in->shape[k] * s->stride[k];
            s->idx[k] = 0;
            k++;
            s->idx[k]++;
            s->off += s->stride[k];
        }
    }
}

/* Streams the elements from f into out (row-major doubles), a chunk at a
 * time, so memory stays at the output plus two small buffers. Bytes after
 * the last element are ignored, as numpy does. */
static int npy_read_data(FILE *f, const char *path, const struct npy_info *in,
                         double *out)
{
    const size_t size = in->dt->size;
    unsigned char *buf = NULL;
    double *tmp = NULL;
    struct scatter sc;
    size_t done = 0;
    int rc = 0;
    /* 1-D and 0-D Fortran arrays are laid out as C ones. */
    int fortran = in->fortran && in->ndim > 1;

    buf = malloc(CHUNK_ELEMS * size);
    if (fortran) {
        tmp = malloc(CHUNK_ELEMS * sizeof *tmp);
        scatter_init(&sc, in);
    }
    if (!buf || (fortran && !tmp)) {
        rc = pc_error(PC_ENOMEM, "%s: cannot allocate read buffers", path);
        goto done;
    }
    while (done < in->nelem) {
        size_t n = in->nelem - done < CHUNK_ELEMS ? in->nelem - done
                                                  : CHUNK_ELEMS;
        size_t got = read_some(f, path, buf, n * size, &rc);
        if (rc)
            goto done;
        if (got < n * size) {
            rc = pc_error(PC_EINPUT,
                          "%s: truncated: expected %zu data bytes, found %zu",
                          path, in->data_bytes, done * size + got);
            goto done;
        }
        if (fortran) {
            convert(buf, n, in, tmp);
            scatter(&sc, in, tmp, n, out);
        } else {
            convert(buf, n, in, out + done);
        }
        done += n;
    }
done:
    free(buf);
    free(tmp);
    return rc;
}

int pc_npy_read_matrix(const char *path, pc_matrix *m)
{
    return pc_npy_read_matrix_max(path, m, 0);
}

/* Refuses an array whose doubles would take more than max bytes (0: no
 * limit), before allocating: a pipe's header can promise anything. */
static int check_max(const char *path, const struct npy_info *in, double max)
{
    double n = 8;
    for (int k = 0; k < in->ndim; k++)
        n *= (double)in->shape[k];
    if (max > 0 && n > max)
        return pc_error(PC_EINPUT, "%s: its %.3g GB as doubles are more memory "
                        "than this run may use (%.3g GB)", path, n / 1e9,
                        max / 1e9);
    return PC_OK;
}

/* Allocates the destination of an array of that shape (a matrix or a
 * bank) and points *data at its doubles; the message names the file. */
typedef int (*npy_alloc_fn)(void *dst, const struct npy_info *in,
                            const char *path, double **data);

/* The one reading path of both array kinds: header, size limit,
 * allocation, data; dst (dst_size bytes) is all zero on failure. */
static int read_array(const char *path, int min_ndim, int max_ndim, double max,
                      npy_alloc_fn alloc, void *dst, size_t dst_size)
{
    struct npy_info info;
    FILE *f;
    double *data = NULL;
    memset(dst, 0, dst_size);
    int rc = npy_open(path, min_ndim, max_ndim, &f, &info);
    if (rc)
        return rc;
    if (!(rc = check_max(path, &info, max)) &&
        !(rc = alloc(dst, &info, path, &data)))
        rc = npy_read_data(f, path, &info, data);
    fclose(f);
    if (rc) {
        /* What alloc made (pc_matrix_free and pc_bank_free do the same). */
        pc_free(data);
        memset(dst, 0, dst_size);
    }
    return rc;
}

static int alloc_matrix(void *dst, const struct npy_info *in, const char *path,
                        double **data)
{
    pc_matrix *m = dst;
    int rc = pc_matrix_alloc(m, in->shape[0], in->shape[1]);
    if (rc)
        return pc_error(rc, "%s: cannot allocate a %zux%zu matrix", path,
                        in->shape[0], in->shape[1]);
    *data = m->data;
    return PC_OK;
}

/* A 2-D array is one kernel; its elements are in the same order. */
static int alloc_bank(void *dst, const struct npy_info *in, const char *path,
                      double **data)
{
    pc_bank *b = dst;
    size_t count = in->ndim == 3 ? in->shape[0] : 1;
    size_t rows = in->shape[in->ndim - 2], cols = in->shape[in->ndim - 1];
    int rc = pc_bank_alloc(b, count, rows, cols);
    if (rc)
        return pc_error(rc, "%s: cannot allocate %zu kernels of %zux%zu", path,
                        count, rows, cols);
    *data = b->data;
    return PC_OK;
}

int pc_npy_read_matrix_max(const char *path, pc_matrix *m, double max)
{
    return read_array(path, 2, 2, max, alloc_matrix, m, sizeof *m);
}

int pc_npy_read_bank(const char *path, pc_bank *b)
{
    return pc_npy_read_bank_max(path, b, 0);
}

int pc_npy_read_bank_max(const char *path, pc_bank *b, double max)
{
    return read_array(path, 2, 3, max, alloc_bank, b, sizeof *b);
}

/* Matrix n of a Fortran-ordered stack (N x R x C): its elements lie N
 * apart down a column and N*R apart across a row, all over the file, so
 * they are gathered from a read-only mapping (the page cache holds the
 * file; the process only the matrix). */
static int gather_fortran(FILE *f, const char *path, const struct npy_info *in,
                          size_t n, double *out)
{
    size_t N = in->shape[0], R = in->shape[1], C = in->shape[2];
    size_t size = in->dt->size, bytes = in->offset + in->data_bytes;
    void *map = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    if (map == MAP_FAILED)
        return pc_error(PC_EIO, "%s: cannot map the file to read a "
                        "Fortran-ordered stack: %s", path, strerror(errno));
    const unsigned char *base = (const unsigned char *)map + in->offset;
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++)
            convert(base + size * (n + N * (r + R * c)), 1, in,
                    out + r * C + c);
    munmap(map, bytes);
    return PC_OK;
}

int pc_npy_read_slice(const char *path, size_t index, pc_matrix *m)
{
    struct npy_info info;
    FILE *f;
    int rc = npy_open(path, 2, 3, &f, &info);
    if (rc)
        return rc;
    size_t nmat = info.ndim == 3 ? info.shape[0] : 1;
    size_t rows = info.shape[info.ndim - 2], cols = info.shape[info.ndim - 1];
    if (index >= nmat || !m->data || m->rows != rows || m->cols != cols) {
        rc = pc_error(PC_EUSAGE, "%s: no matrix %zu of %zux%zu here (it "
                      "holds %zu of %zux%zu)", path, index, m->rows, m->cols,
                      nmat, rows, cols);
    } else if (info.ndim == 3 && info.file_bytes == 0) {
        rc = pc_error(PC_EINPUT, "%s: a stack of matrices is read a matrix "
                      "at a time, which needs a regular file", path);
    } else if (info.ndim == 3 && info.fortran) {
        rc = gather_fortran(f, path, &info, index, m->data);
    } else {
        /* One matrix's elements, from where they start. A 2-D file in
         * Fortran order is scattered as the whole-file reader does. */
        struct npy_info one = info;
        one.ndim = 2;
        one.shape[0] = rows;
        one.shape[1] = cols;
        one.nelem = rows * cols;
        one.data_bytes = one.nelem * info.dt->size;
        if (index && fseeko(f, (off_t)(info.offset + index * one.data_bytes),
                            SEEK_SET) != 0)
            rc = pc_error(PC_EIO, "%s: cannot seek to matrix %zu: %s", path,
                          index, strerror(errno));
        else
            rc = npy_read_data(f, path, &one, m->data);
    }
    fclose(f);
    return rc;
}

int pc_npy_info(const char *path, pc_npy_meta *meta)
{
    struct npy_info info;
    FILE *f;
    memset(meta, 0, sizeof *meta);
    int rc = npy_open(path, 0, 3, &f, &info);
    if (rc)
        return rc;
    fclose(f);
    /* One spelling per dtype, whatever marker the file used. */
    snprintf(meta->descr, sizeof meta->descr, "%c%s",
             info.dt->size == 1 ? '|' : info.big ? '>' : '<', info.dt->code);
    meta->fortran_order = info.fortran != 0;
    meta->ndim = info.ndim;
    memcpy(meta->shape, info.shape, (size_t)info.ndim * sizeof *info.shape);
    meta->header_bytes = info.offset;
    meta->file_bytes = info.file_bytes;
    return PC_OK;
}

/* ---- writing ------------------------------------------------------------ */

/* Builds the whole header (magic, version, length, dict, padding) into buf
 * exactly as numpy 1.24 writes it, and returns its length, or 0 if the
 * arguments are invalid. */
static size_t format_header(pc_dtype dtype, int ndim, const size_t *shape,
                            char *buf)
{
    size_t len = 10, pad;
    int w;

    if (ndim < 1 || ndim > 3 || !shape || (dtype != PC_F64 && dtype != PC_F32))
        return 0;
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    w = snprintf(buf + len, WRITE_HEADER_MAX - len,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (",
                 dtype == PC_F64 ? "<f8" : "<f4");
    len += (size_t)w;
    for (int k = 0; k < ndim; k++) {
        w = snprintf(buf + len, WRITE_HEADER_MAX - len, "%s%zu",
                     k ? ", " : "", shape[k]);
        len += (size_t)w;
    }
    if (ndim == 1)
        buf[len++] = ',';
    memcpy(buf + len, "), }", 4);
    len += 4;
    /* Room for the first axis to grow to 21 digits, then spaces and a
     * newline up to the next multiple of 64 (a whole 64 if already there,
     * as numpy does). */
    w = snprintf(NULL, 0, "%zu", shape[0]);
    pad = NPY_GROWTH_DIGITS - (size_t)w;
    pad += NPY_ALIGN - (len + pad + 1) % NPY_ALIGN;
    memset(buf + len, ' ', pad);
    len += pad;
    buf[len++] = '\n';
    buf[8] = (char)((len - 10) & 0xff);
    buf[9] = (char)((len - 10) >> 8);
    return len;
}

size_t pc_npy_header_size(pc_dtype dtype, int ndim, const size_t *shape)
{
    char buf[WRITE_HEADER_MAX];
    return format_header(dtype, ndim, shape, buf);
}

size_t pc_npy_header(pc_dtype dtype, int ndim, const size_t *shape, char *out,
                     size_t n)
{
    char buf[WRITE_HEADER_MAX];
    size_t len = format_header(dtype, ndim, shape, buf);
    if (len == 0 || len > n)
        return 0;
    memcpy(out, buf, len);
    return len;
}

/* All n bytes to fd, resuming after short writes and signals. */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Checks what pc_npy_write* were given: hdr receives the header (hsize
 * bytes), *bytes is the data's size. name names the call in messages. */
static int check_write(const char *name, pc_dtype dtype, int ndim,
                       const size_t *shape, const void *data, char *hdr,
                       size_t *hsize, size_t *bytes)
{
    size_t nelem = 1, size = dtype == PC_F64 ? sizeof(double) : sizeof(float);
    *hsize = format_header(dtype, ndim, shape, hdr);
    if (*hsize == 0)
        return pc_error(PC_EUSAGE, "%s: invalid arguments", name);
    for (int k = 0; k < ndim; k++)
        if (!pc_mul_ok(nelem, shape[k], &nelem))
            return pc_error(PC_EUSAGE, "%s: array is too large", name);
    if (!pc_mul_ok(nelem, size, bytes))
        return pc_error(PC_EUSAGE, "%s: array is too large", name);
    if (*bytes && !data)
        return pc_error(PC_EUSAGE, "%s: no data", name);
    return PC_OK;
}

/* The file's bytes to fd; path, if not NULL, names it in messages. */
static int write_npy(int fd, const char *path, pc_dtype dtype, int ndim,
                     const size_t *shape, const void *data)
{
    char hdr[WRITE_HEADER_MAX];
    unsigned char chunk[8192];
    const unsigned char *src = data;
    size_t hsize = 0, bytes = 0, done = 0;
    size_t size = dtype == PC_F64 ? sizeof(double) : sizeof(float);
    int st = check_write(path ? path : "pc_npy_write_fd", dtype, ndim, shape,
                         data, hdr, &hsize, &bytes);
    if (st)
        return st;
    if (write_all(fd, hdr, hsize) != 0)
        goto write_error;
    /* '<f8'/'<f4' are little-endian whatever the host. On a little-endian
     * one the bytes go out as they are, in one write; elsewhere each
     * element is stored byte by byte through a buffer. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (bytes && write_all(fd, src, bytes) != 0)
        goto write_error;
    done = bytes;
#endif
    while (done < bytes) {
        size_t n = bytes - done < sizeof chunk ? bytes - done : sizeof chunk;
        for (size_t i = 0; i < n; i += size) {
            uint64_t v;
            if (size == 8) {
                memcpy(&v, src + done + i, 8);
            } else {
                uint32_t u;
                memcpy(&u, src + done + i, 4);
                v = u;
            }
            for (size_t b = 0; b < size; b++)
                chunk[i + b] = (unsigned char)(v >> (8 * b));
        }
        if (write_all(fd, chunk, n) != 0)
            goto write_error;
        done += n;
    }
    return 0;

write_error:
    if (path)
        return pc_error(PC_EIO, "%s: write error: %s", path, strerror(errno));
    return pc_error(PC_EIO, "write error: %s", strerror(errno));
}

int pc_npy_write_fd(int fd, pc_dtype dtype, int ndim, const size_t *shape,
                    const void *data)
{
    return write_npy(fd, NULL, dtype, ndim, shape, data);
}

int pc_npy_write(const char *path, pc_dtype dtype, int ndim,
                 const size_t *shape, const void *data)
{
    char hdr[WRITE_HEADER_MAX];
    size_t hsize = 0, bytes = 0;
    if (!path)
        return pc_error(PC_EUSAGE, "pc_npy_write: invalid arguments");
    /* Nothing is created for arguments that cannot be written. */
    int st = check_write(path, dtype, ndim, shape, data, hdr, &hsize, &bytes);
    if (st)
        return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return pc_error(PC_EIO, "cannot create '%s': %s", path, strerror(errno));
    st = write_npy(fd, path, dtype, ndim, shape, data);
    if (close(fd) != 0 && !st)
        st = pc_error(PC_EIO, "%s: write error: %s", path, strerror(errno));
    return st;
}
