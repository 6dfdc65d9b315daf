/* Output formats of -o DIR (--format), behind one interface, as dav1d's
 * muxers are: a table of back-ends with designated initialisers
 * (outfmt_find). The manifest (outdir.c) stays the truth about which
 * planes are complete and with which checksums; a format only stores
 * planes and makes them durable and final.
 *
 * Planes: the work of a run is N matrices x K kernels; plane (n, k) is
 * matrix n convolved with kernel k, orows x ocols of the computed dtype,
 * C order. Every shard of a run (shard_i of shard_n) writes its own file(s)
 * (formats with one file per run: "conv.shard-I-of-N.EXT", holding the
 * whole (N, K, R', C') shape with only this shard's planes written; the
 * unsharded run's file is "conv.EXT"); merge copies the shards' planes
 * into the unsharded file through the same interface.
 *
 * Files are under their final name only when complete: a format writes a
 * temporary (outdir_file's scheme: ".NAME.XXXXXX.tmp", O_EXCL) and renames
 * it at commit. A run that stops early leaves the temporary; its name is
 * recorded in the manifest (outfmt.partial), so that --resume reopens it
 * and keeps the planes the manifest lists (each is verified by reading it
 * back and comparing its checksum), and recomputes the rest. */
#ifndef PC_OUTFMT_H
#define PC_OUTFMT_H

#include "parconv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *dir;         /* -o DIR */
    size_t nmat, count;      /* the workload: N matrices, K kernels */
    size_t orows, ocols;     /* one plane */
    pc_dtype dtype;
    size_t shard_i, shard_n; /* whose file: shard_n 1 is the whole run's */
    int deflate;             /* hdf5: -1 no compression, else level 0..9
                                (with the shuffle filter) */
    /* OUTFMT_RESUME and OUTFMT_READ of a file not yet final: the
     * temporary's name in DIR (from outfmt.partial of the earlier run);
     * NULL: the final file. */
    const char *partial;
} outfmt_spec;

enum outfmt_mode {
    OUTFMT_NEW,    /* a new temporary, to be committed */
    OUTFMT_RESUME, /* continue writing spec->partial */
    OUTFMT_READ,   /* read planes only (merge, verification) */
};

typedef struct outfmt {
    const char *name; /* --format NAME: "npy", "stack", "hdf5" */
    const char *help; /* one line for --help */
    /* A file per plane, each under its final name once flushed, the same
     * name whichever shard wrote it (npy): merge only reads the shards'
     * planes back to check them, and copies nothing. */
    bool per_plane;
    /* write_plane may be called from several threads at once (for
     * different planes) and while flush runs (which then makes durable
     * at least every plane whose write_plane had returned when it was
     * called); else the format is used by one thread at a time. */
    bool concurrent;
    /* Opens the run's (or shard's) file(s); *ctx is the format's state.
     * PC_EINPUT naming the file for one that is not what spec says
     * (corrupt, truncated, another shape or dtype). */
    int (*open)(void **ctx, const outfmt_spec *spec, enum outfmt_mode mode);
    /* The temporary's name to record in the manifest, "" if the format
     * writes no temporary that outlives a batch (npy: one file per
     * plane, each committed at once). */
    const char *(*partial)(void *ctx);
    /* Stores plane (n, k). */
    int (*write_plane)(void *ctx, size_t n, size_t k, const void *plane);
    /* Makes every plane stored so far durable (fsync); the manifest may
     * list them only after this returns 0. */
    int (*flush)(void *ctx);
    /* Reads plane (n, k) back into plane (orows x ocols of dtype). */
    int (*read_plane)(void *ctx, size_t n, size_t k, void *plane);
    /* Every plane of this run is stored: flushes, records manifest_json
     * and the planes' checksums where the format keeps metadata (hdf5: a
     * string attribute and /checksums), and renames the file(s) to their
     * final name(s). sums[q] is the checksum of the file's q-th plane of
     * its shard, plane shard_i + q * shard_n (the caller's own array, so
     * no format reads the manifest's list back). */
    int (*commit)(void *ctx, const char *manifest_json, const uint64_t *sums);
    /* Frees ctx. Without a commit the temporary stays, for --resume. */
    void (*close)(void *ctx);
    /* Final names this format uses in DIR for a shard (shard_n 1: the
     * run's), for --force and the stale-output check: writes them (one
     * per line) into buf; npy writes nothing (its planes are
     * conv_*.npy, which outdir.c already knows). */
    void (*final_names)(const outfmt_spec *spec, char *buf, size_t n);
} outfmt;

/* The format of that name, NULL if none. */
const outfmt *outfmt_find(const char *name);
/* Every format's name, comma-separated, for messages and --help. */
const char *outfmt_names(void);
/* Whether name (in DIR) is one of some format's final names (final_names)
 * for some shard, and whose: shard *shard_i of *shard_n (0 of 1: a whole
 * run's). For outdir.c's survey, --force and clean-up. */
bool outfmt_is_final(const char *name, size_t *shard_i, size_t *shard_n);

/* Reads plane (n, k) of an open file (f's ctx, opened for spec) into buf
 * (a plane's bytes) and checks it against sum: the read's error, or
 * PC_EMISMATCH for a plane of another checksum. */
int outfmt_check_plane(const outfmt *f, void *ctx, const outfmt_spec *spec,
                       size_t n, size_t k, uint64_t sum, void *buf);

/* The back-ends (fmt_npy.c, fmt_stack.c, fmt_hdf5.c). */
extern const outfmt outfmt_npy, outfmt_stack, outfmt_hdf5;

#endif
