/* parconv merge DIR: the shards of a sharded run (each with its
 * manifest.shard-I-of-N.json) become one result: every kernel present
 * exactly once with a file that checks out, and the manifest.json a
 * single-node run would have written, byte for byte (outdir.c writes
 * both). The shard manifests are removed once it is in place. A DIR with
 * no shard manifests (merged already, or written by one run) is verified
 * instead: merging again, as a requeued merge job does, is no error. */
#include "commands.h"
#include "outdir.h"

int merge_cmd(cli_options *o)
{
    const char *dir = o->merge_dir;
    outdir_manifest merged;
    size_t n;
    int st = outdir_merge_check(dir, &merged, &n);
    if (st == 1) {
        if (!(st = outdir_verify_merged(dir, &n)))
            printf("already merged: %zu kernels verified against "
                   "%s/manifest.json\n", n, dir);
        return st;
    }
    if (st)
        return st;
    if ((st = outdir_manifest_write(dir, &merged))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
        st = pc_error(st, "merge: %s", msg);
    } else {
        outdir_remove_shards(dir, n);
        printf("merged %zu shards: all %zu kernels present once and verified; "
               "wrote %s/manifest.json\n", n, merged.count, dir);
    }
    outdir_manifest_free(&merged);
    return st;
}
