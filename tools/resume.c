/* --resume: what an earlier run of the same workload left in DIR. Its
 * manifest (written by sink_manifest, one kernel a line) lists the kernels
 * that were complete; each one's file is checked (header bytes, size,
 * checksum of the data) before it is trusted. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > ((size_t)1 << 30)) /* a manifest is never that big */
                break;
            char *g = realloc(buf, cap);
            if (!g)
                break;
            buf = g;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The text of the "workload" object, "{...}", as json_workload wrote it. */
static char *workload_block(const char *text)
{
    const char *a = strstr(text, "\"workload\": {");
    if (!a)
        return NULL;
    a = strchr(a, '{');
    const char *b = strstr(a, "\n  }");
    if (!b)
        return NULL;
    return strndup(a, (size_t)(b + 4 - a));
}

/* The first line where the two workload texts part, for the message. */
static void first_difference(const char *x, const char *y, char *out, size_t n)
{
    const char *x0 = x, *y0 = y;
    while (*x && *x == *y)
        x++, y++;
    /* Back to the start of the line, or of the field on a line of several. */
    while (x > x0 && x[-1] != '\n' && !(x[-1] == ' ' && x - 2 >= x0 && x[-2] == ','))
        x--, y--;
    (void)y0;
    x += strspn(x, " ");
    y += strspn(y, " ");
    size_t lx = strcspn(x, ",\n"), ly = strcspn(y, ",\n");
    snprintf(out, n, "it has '%.*s', this run '%.*s'", (int)(lx > 80 ? 80 : lx),
             x, (int)(ly > 80 ? 80 : ly), y);
}

int resume_read(const char *dir, const char *name, resume_info *ri)
{
    memset(ri, 0, sizeof *ri);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    ri->text = slurp(path, &len);
    if (!ri->text)
        return errno == ENOENT ? 1 : pc_error(PC_EIO, "cannot read '%s': %s",
                                              path, strerror(errno));
    ri->workload = workload_block(ri->text);
    const char *m = strstr(ri->text, "\"method\": \"");
    const char *i = strstr(ri->text, "\"isa\": \"");
    const char *t = strstr(ri->text, "\"fft_tile\": [");
    if (!ri->workload || !m || !i || !t ||
        sscanf(m, "\"method\": \"%15[a-z]\"", ri->method) != 1 ||
        sscanf(i, "\"isa\": \"%15[a-z0-9]\"", ri->isa) != 1 ||
        sscanf(t, "\"fft_tile\": [%zu, %zu]", &ri->P, &ri->Q) != 2)
        return pc_error(PC_EINPUT, "'%s' is not a parconv manifest", path);
    return PC_OK;
}

void resume_free(resume_info *ri)
{
    free(ri->text);
    free(ri->workload);
    memset(ri, 0, sizeof *ri);
}

/* Is DIR/conv_NNNNN.npy exactly what kernel k's results should be, with
 * checksum sum? */
bool npy_file_ok(const char *dir, size_t g, pc_dtype dt, size_t orows,
                 size_t ocols, uint64_t sum)
{
    char path[4096], want[256];
    snprintf(path, sizeof path, "%s/conv_%05zu.npy", dir, g);
    size_t shape[2] = {orows, ocols};
    size_t esz = pc_dtype_size(dt);
    size_t hlen = pc_npy_header(dt, 2, shape, want, sizeof want);
    size_t row = ocols * esz, plane = orows * row;
    size_t len;
    char *data = slurp(path, &len);
    bool ok = data && hlen && len == hlen + plane &&
              memcmp(data, want, hlen) == 0 &&
              pc_plane_checksum(data + hlen, orows, row) == sum;
    free(data);
    return ok;
}

int resume_check(const job *j, const resume_info *ri, bool *done,
                 uint64_t *sums, size_t *ndone)
{
    /* The same workload, word for word as this run would write it. */
    char *now = NULL;
    size_t nlen = 0;
    FILE *f = open_memstream(&now, &nlen);
    if (!f)
        return pc_error(PC_ENOMEM, "cannot compare the workloads");
    manifest_workload(f, j);
    fclose(f);
    int st = PC_OK;
    if (strcmp(now, ri->workload) != 0) {
        char why[256];
        first_difference(ri->workload, now, why, sizeof why);
        st = pc_error(PC_EUSAGE, "--resume: '%s' was written for a different "
                      "workload: %s", j->o->outdir, why);
    }
    free(now);
    if (st)
        return st;
    *ndone = 0;
    for (const char *p = strstr(ri->text, "\"kernels\": ["); p && *p;) {
        size_t g, k;
        char hex[17];
        const char *e = strstr(p, "{\"index\": ");
        if (!e)
            break;
        /* Global kernel numbers; this run's k is g = shard_i + k*shard_n. */
        if (sscanf(e, "{\"index\": %zu, \"file\": \"conv_%*[0-9].npy\", "
                      "\"checksum\": \"%16[0-9a-f]\"}", &g, hex) == 2 &&
            g >= j->shard_i && (g - j->shard_i) % j->shard_n == 0 &&
            (k = (g - j->shard_i) / j->shard_n) < j->count) {
            uint64_t sum = strtoull(hex, NULL, 16);
            if (!done[k] && npy_file_ok(j->o->outdir, g, j->o->conv.dtype,
                                        j->orows, j->ocols, sum)) {
                done[k] = true;
                sums[k] = sum;
                ++*ndone;
            }
        }
        p = e + 1;
    }
    return PC_OK;
}
