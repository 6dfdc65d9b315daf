/* parconv merge DIR: the shards of a sharded run (each with its
 * manifest.shard-I-of-N.json) become one result: every plane present
 * exactly once and checking out against its checksum, and the
 * manifest.json a single-node run would have written, byte for byte
 * (outdir.c writes both). The npy format's shards wrote their planes
 * under their final names already, so they are only read back and
 * checked; the formats of a file per shard have each shard's planes read
 * and written into the run's file, which is committed before the
 * manifest is written. The shard manifests (and files) are removed once
 * the merged ones are in place. A DIR with no shard manifests (merged
 * already, or written by one run) is verified instead: merging again, as
 * a requeued merge job does, is no error. */
#include "commands.h"
#include "outdir.h"
#include "outfmt.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The format's view of shard i of n of the workload m describes. */
static outfmt_spec spec_of(const char *dir, const outdir_manifest *m,
                           size_t i, size_t n)
{
    return (outfmt_spec){.dir = dir, .nmat = m->nmat, .count = m->kernels,
                         .orows = m->orows, .ocols = m->ocols,
                         .dtype = m->dtype, .shard_i = i, .shard_n = n,
                         .deflate = m->deflate};
}

static int format_of(const outdir_manifest *m, const outfmt **f)
{
    if (!(*f = outfmt_find(m->format)))
        return pc_error(PC_EINPUT, "merge: the manifests name the format "
                        "'%s', which this parconv does not write (%s)",
                        m->format, outfmt_names());
    return PC_OK;
}

/* Plane p of the shard (or run) open as ctx, listed with checksum sum,
 * read back and checked; copied into out (the merged file) if any. */
static int take_plane(const outfmt *f, void *ctx, const outfmt_spec *spec,
                      size_t p, uint64_t sum, void *buf, void *out)
{
    size_t n = p / spec->count, k = p % spec->count;
    int st = outfmt_check_plane(f, ctx, spec, n, k, sum, buf);
    if (st) {
        char name[64], what[4200], msg[512];
        outdir_plane_name(spec->nmat, n, k, name, sizeof name);
        if (f->per_plane)
            snprintf(what, sizeof what, "%s/%s", spec->dir, name);
        else
            snprintf(what, sizeof what, "plane (matrix %zu, kernel %zu) of "
                     "shard %zu in %s", n, k, spec->shard_i, spec->dir);
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
        return pc_error(PC_EWORKER, "merge: %s is missing or does not match "
                        "its checksum (%s)", what, msg);
    }
    return out ? f->write_plane(out, n, k, buf) : PC_OK;
}

/* Every plane shard i lists, checked (and copied into out). */
static int take_shard(const outfmt *f, const char *dir,
                      const outdir_manifest *sh, size_t i, size_t n,
                      void *buf, void *out)
{
    if (!sh->planes_done)
        return PC_OK;
    outfmt_spec spec = spec_of(dir, sh, i, n);
    void *ctx = NULL;
    int st = f->open(&ctx, &spec, OUTFMT_READ);
    for (size_t q = 0; !st && q < sh->count; q++)
        if (sh->done[q])
            st = take_plane(f, ctx, &spec, i + q * n, sh->sums[q], buf, out);
    if (ctx && f->close)
        f->close(ctx);
    return st;
}

/* A shard's own files, once the merged ones are in place. */
static void remove_shard_files(const outfmt *f, const char *dir,
                               const outdir_manifest *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        outfmt_spec spec = spec_of(dir, m, i, n);
        char names[1024], path[4096];
        names[0] = 0;
        f->final_names(&spec, names, sizeof names);
        for (char *line = names, *end; *line; line = *end ? end + 1 : end) {
            end = line + strcspn(line, "\n");
            char c = *end;
            *end = 0;
            if (!outdir_path(path, sizeof path, dir, line))
                unlink(path);
            *end = c;
        }
    }
}

/* The shards' planes into the run's file (none for npy), committed with
 * the merged manifest's text. */
static int join(const outfmt *f, const char *dir, const outdir_manifest *merged,
                const outdir_manifest *shards, size_t n)
{
    outfmt_spec spec = spec_of(dir, merged, 0, 1);
    size_t bytes = spec.orows * spec.ocols * pc_dtype_size(spec.dtype);
    void *buf = malloc(bytes ? bytes : 1), *out = NULL;
    if (!buf)
        return pc_error(PC_ENOMEM, "merge: out of memory");
    int st = f->per_plane ? PC_OK : f->open(&out, &spec, OUTFMT_NEW);
    for (size_t i = 0; !st && i < n; i++)
        st = take_shard(f, dir, &shards[i], i, n, buf, out);
    if (!st && out) {
        char *text = outdir_manifest_dump(merged);
        st = text ? f->commit(out, text, merged->sums)
                  : pc_error(PC_ENOMEM, "merge: out of memory");
        free(text);
    }
    if (out && f->close) {
        /* A failed merge leaves no half-written file behind. */
        char path[4096];
        const char *partial = st ? f->partial(out) : "";
        if (partial[0] && !outdir_path(path, sizeof path, dir, partial))
            unlink(path);
        f->close(out);
    }
    free(buf);
    return st;
}

/* merge on a DIR with no shard manifests: its manifest.json complete and
 * every plane checking out. */
static int verify_merged(const char *dir)
{
    outdir_manifest m;
    const outfmt *f;
    int st = outdir_read_merged(dir, &m);
    if (st)
        return st;
    void *buf = malloc(m.orows * m.ocols * pc_dtype_size(m.dtype) + 1);
    if (!(st = format_of(&m, &f)))
        st = buf ? take_shard(f, dir, &m, 0, 1, buf, NULL)
                 : pc_error(PC_ENOMEM, "merge: out of memory");
    if (!st)
        printf("already merged: %zu %s verified against %s/manifest.json\n",
               m.count, m.nmat > 1 ? "planes" : "kernels", dir);
    free(buf);
    outdir_manifest_free(&m);
    return st;
}

int merge_cmd(cli_options *o)
{
    const char *dir = o->merge_dir;
    outdir_manifest merged, *shards;
    const outfmt *f;
    size_t n;
    int st = outdir_merge_check(dir, &merged, &shards, &n);
    if (st == 1)
        return verify_merged(dir);
    if (st)
        return st;
    if (!(st = format_of(&merged, &f)))
        st = join(f, dir, &merged, shards, n);
    if (!st && (st = outdir_manifest_write(dir, &merged))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
        st = pc_error(st, "merge: %s", msg);
    }
    if (!st) {
        outdir_remove_shards(dir, n);
        if (!f->per_plane)
            remove_shard_files(f, dir, &merged, n);
        printf("merged %zu shards: all %zu %s present once and verified; "
               "wrote %s/manifest.json\n", n, merged.count,
               merged.nmat > 1 ? "planes" : "kernels", dir);
    }
    outdir_merge_free(shards, n);
    outdir_manifest_free(&merged);
    return st;
}
