/* parconv merge DIR: the shards of a sharded run (each with its
 * manifest.shard-I-of-N.json) become one result: every kernel present
 * exactly once with a file that checks out, and the manifest.json a
 * single-node run would have written, byte for byte. The shard manifests
 * are removed once it is in place. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *text;
    char *workload;
} shard_file;

static char *read_all(const char *path)
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
    int bad = ferror(f);
    fclose(f);
    if (m)
        fclose(m);
    if (bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *block(const char *text, const char *key)
{
    const char *a = strstr(text, key);
    if (!a)
        return NULL;
    a = strchr(a, '{');
    const char *b = a ? strstr(a, "\n  }") : NULL;
    return b ? strndup(a, (size_t)(b + 4 - a)) : NULL;
}

/* Top-level one-line fields copied as they stand ("  \"fft_tile\": [0,
 * 0],"): key is matched at two spaces' indentation, so the workload's own
 * fields of the same name are not. */
static char *line_of(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\n  %s", key);
    const char *a = strstr(text, pat);
    if (!a)
        return NULL;
    a++;
    return strndup(a, strcspn(a, "\n"));
}

int merge_run(const cli_options *o, const char *dir)
{
    (void)o;
    DIR *d = opendir(dir);
    if (!d)
        return pc_error(PC_EUSAGE, "merge: cannot open '%s': %s", dir,
                        strerror(errno));
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t i, m;
        char tail[8];
        if (sscanf(e->d_name, "manifest.shard-%zu-of-%zu.js%2s", &i, &m, tail) == 3 &&
            strcmp(tail, "on") == 0) {
            if (n && m != n) {
                closedir(d);
                return pc_error(PC_EWORKER, "merge: '%s' holds shards of "
                                "different splits (of %zu and of %zu)", dir,
                                n, m);
            }
            n = m;
        }
    }
    closedir(d);
    if (!n)
        return pc_error(PC_EUSAGE, "merge: no shard manifests "
                        "(manifest.shard-I-of-N.json) in '%s'", dir);

    shard_file *sh = calloc(n, sizeof *sh);
    uint64_t *sums = NULL;
    unsigned char *seen = NULL;
    char *fft = NULL, *dtype = NULL, *shape = NULL, *version = NULL;
    int st = PC_OK;
    size_t total = 0, orows = 0, ocols = 0;
    pc_dtype dt = PC_F64;
    if (!sh)
        return pc_error(PC_ENOMEM, "merge: out of memory");
    for (size_t i = 0; i < n && !st; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.shard-%zu-of-%zu.json", dir, i, n);
        if (!(sh[i].text = read_all(path))) {
            st = pc_error(PC_EWORKER, "merge: shard %zu of %zu is missing: "
                          "cannot read '%s': %s", i, n, path, strerror(errno));
            break;
        }
        sh[i].workload = block(sh[i].text, "\"workload\": {");
        if (!sh[i].workload || !strstr(sh[i].text, "\"complete\": ")) {
            st = pc_error(PC_EINPUT, "merge: '%s' is not a parconv manifest",
                          path);
            break;
        }
        if (!strstr(sh[i].text, "\"complete\": true")) {
            size_t done = 0;
            const char *k = strstr(sh[i].text, "\"kernels_done\": ");
            if (k)
                sscanf(k, "\"kernels_done\": %zu", &done);
            st = pc_error(PC_EWORKER, "merge: shard %zu of %zu is incomplete "
                          "(%zu kernels done): rerun it with --resume", i, n,
                          done);
            break;
        }
        if (i == 0) {
            fft = line_of(sh[0].text, "\"fft_tile\": ");
            dtype = line_of(sh[0].text, "\"dtype\": ");
            shape = line_of(sh[0].text, "\"shape\": ");
            version = line_of(sh[0].text, "\"version\": ");
            const char *c = strstr(sh[0].workload, "\"count\": ");
            char dts[8] = "";
            if (!fft || !dtype || !shape || !version || !c ||
                sscanf(c, "\"count\": %zu", &total) != 1 ||
                sscanf(shape, " \"shape\": [%zu, %zu]", &orows, &ocols) != 2 ||
                sscanf(dtype, " \"dtype\": \"%7[a-z0-9]\"", dts) != 1 ||
                pc_dtype_parse(dts) < 0 || total == 0) {
                st = pc_error(PC_EINPUT, "merge: '%s' is not a parconv "
                              "manifest", path);
                break;
            }
            dt = (pc_dtype)pc_dtype_parse(dts);
            sums = calloc(total, sizeof *sums);
            seen = calloc(total, 1);
            if (!sums || !seen)
                st = pc_error(PC_ENOMEM, "merge: out of memory");
        } else {
            char *f2 = line_of(sh[i].text, "\"fft_tile\": ");
            bool same = strcmp(sh[i].workload, sh[0].workload) == 0 && f2 &&
                        strcmp(f2, fft) == 0;
            free(f2);
            if (!same)
                st = pc_error(PC_EWORKER, "merge: shard %zu of %zu was "
                              "computed for another workload (or FFT size) "
                              "than shard 0", i, n);
        }
        /* Its kernels, by global number; each file must check out. */
        for (const char *p = strstr(sh[i].text, "\"kernels\": ["); p && !st;) {
            const char *k = strstr(p, "{\"index\": ");
            if (!k)
                break;
            size_t g;
            char hex[17];
            if (sscanf(k, "{\"index\": %zu, \"file\": \"conv_%*[0-9].npy\", "
                          "\"checksum\": \"%16[0-9a-f]\"}", &g, hex) != 2 ||
                g >= total) {
                st = pc_error(PC_EINPUT, "merge: shard %zu of %zu lists a "
                              "kernel that is not in the workload", i, n);
                break;
            }
            uint64_t sum = strtoull(hex, NULL, 16);
            if (seen[g]) {
                st = pc_error(PC_EWORKER, "merge: kernel %zu appears twice (in "
                              "shard %zu and an earlier one)", g, i);
                break;
            }
            if (!npy_file_ok(dir, g, dt, orows, ocols, sum)) {
                st = pc_error(PC_EWORKER, "merge: %s/conv_%05zu.npy (shard %zu) "
                              "is missing or does not match its checksum", dir,
                              g, i);
                break;
            }
            seen[g] = 1;
            sums[g] = sum;
            p = k + 1;
        }
    }
    if (!st) {
        size_t missing = 0, first = 0;
        for (size_t g = 0; g < total; g++)
            if (!seen[g] && !missing++)
                first = g;
        if (missing)
            st = pc_error(PC_EWORKER, "merge: %zu of %zu kernels are missing, "
                          "the first kernel %zu", missing, total, first);
    }
    if (!st) {
        /* What sink_manifest writes for a whole, single-node run. */
        char path[4096], tmp[4200];
        snprintf(path, sizeof path, "%s/manifest.json", dir);
        snprintf(tmp, sizeof tmp, "%s/.manifest.json.%ld.tmp", dir, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f) {
            st = pc_error(PC_EIO, "merge: cannot write '%s': %s", path,
                          strerror(errno));
        } else {
            fprintf(f, "{\n%s\n  \"workload\": %s,\n%s\n%s\n%s\n", version,
                    sh[0].workload, fft, dtype, shape);
            fprintf(f, "  \"complete\": true,\n  \"kernels_done\": %zu,\n",
                    total);
            fprintf(f, "  \"checksum\": \"%016" PRIx64 "\",\n  \"kernels\": [",
                    pc_hash_combine(sums, total));
            for (size_t g = 0; g < total; g++)
                fprintf(f, "%s\n    {\"index\": %zu, \"file\": \"conv_%05zu.npy\", "
                           "\"checksum\": \"%016" PRIx64 "\"}",
                        g ? "," : "", g, g, sums[g]);
            fputs("\n  ]\n}\n", f);
            int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
            bad |= fclose(f) != 0;
            if (bad || rename(tmp, path) != 0) {
                st = pc_error(PC_EIO, "merge: cannot write '%s': %s", path,
                              strerror(errno));
                unlink(tmp);
            }
        }
    }
    if (!st) {
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/manifest.shard-%zu-of-%zu.json", dir,
                     i, n);
            unlink(path);
        }
        printf("merged %zu shards: all %zu kernels present once and verified; "
               "wrote %s/manifest.json\n", n, total, dir);
    }
    for (size_t i = 0; i < n; i++) {
        free(sh[i].text);
        free(sh[i].workload);
    }
    free(sh);
    free(sums);
    free(seen);
    free(fft);
    free(dtype);
    free(shape);
    free(version);
    return st;
}
