/* The table of output formats (--format) and the look-ups over it. */
#include "outfmt.h"

#include <stdio.h>
#include <string.h>

static const outfmt *const formats[] = {&outfmt_npy, &outfmt_stack,
                                        &outfmt_hdf5};
#define NFORMATS (sizeof formats / sizeof *formats)

const outfmt *outfmt_find(const char *name)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (strcmp(formats[i]->name, name) == 0)
            return formats[i];
    return NULL;
}

const char *outfmt_names(void)
{
    static char names[128];
    if (!names[0])
        for (size_t i = 0, at = 0; i < NFORMATS && at < sizeof names; i++)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s",
                                   i ? ", " : "", formats[i]->name);
    return names;
}

bool outfmt_is_final(const char *name, size_t *shard_i, size_t *shard_n)
{
    /* Formats with a file per run name it conv.EXT, a shard's
     * conv.shard-I-of-N.EXT (outfmt.h): that says whose to ask about. */
    size_t i = 0, n = 1;
    if (strncmp(name, "conv.", 5) != 0)
        return false;
    if (strncmp(name + 5, "shard-", 6) == 0 &&
        (sscanf(name + 11, "%zu-of-%zu.", &i, &n) != 2 || n < 2 || i >= n))
        return false;
    outfmt_spec spec = {.dir = "", .shard_i = i, .shard_n = n, .deflate = -1};
    for (size_t f = 0; f < NFORMATS; f++) {
        char buf[1024];
        buf[0] = 0;
        formats[f]->final_names(&spec, buf, sizeof buf);
        for (char *line = buf, *end; *line; line = *end ? end + 1 : end) {
            end = line + strcspn(line, "\n");
            if ((size_t)(end - line) == strlen(name) &&
                strncmp(line, name, strlen(name)) == 0) {
                *shard_i = i;
                *shard_n = n;
                return true;
            }
        }
    }
    return false;
}

int outfmt_check_plane(const outfmt *f, void *ctx, const outfmt_spec *spec,
                       size_t n, size_t k, uint64_t sum, void *buf)
{
    int st = f->read_plane(ctx, n, k, buf);
    if (st)
        return st;
    size_t row = spec->ocols * pc_dtype_size(spec->dtype);
    if (pc_plane_checksum(buf, spec->orows, row) != sum)
        return pc_error(PC_EMISMATCH, "plane (matrix %zu, kernel %zu) does "
                        "not match its checksum", n, k);
    return PC_OK;
}
