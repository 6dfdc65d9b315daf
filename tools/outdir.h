/* The output directory of -o DIR: the manifest, the names of the npy
 * format's planes, files written whole through temporaries. outdir.c
 * alone knows the manifest's keys, the workload's identity and the
 * temporary files; the output formats (outfmt.h) store the planes; run,
 * --resume and merge use both. */
#ifndef PC_OUTDIR_H
#define PC_OUTDIR_H

#include "job.h"

#include <jansson.h>

/* A manifest in memory: the workload it was written for and which planes
 * of it are complete. Read by outdir_manifest_read, written by
 * outdir_manifest_write. */
typedef struct {
    char version[32];
    json_t *workload;         /* the workload's identity (outdir_workload) */
    char method[16], isa[16]; /* from the workload: what --resume reuses */
    size_t fft_P, fft_Q;      /* the FFT tile, 0 for direct */
    pc_dtype dtype;
    size_t orows, ocols;      /* one plane */
    size_t nmat, kernels;     /* N matrices, K kernels */
    size_t total;             /* planes in the workload: N x K */
    size_t shard_i, shard_n;  /* shard_n 1: the whole workload */
    size_t count;             /* this shard's planes: shard_i + q*shard_n */
    bool *done;               /* done[q]: plane q is listed complete */
    uint64_t *sums;           /* and its checksum */
    /* The output format (--format), the temporary its run writes while
     * not complete ("" if none: npy, or committed), --compress's level
     * (-1: none). */
    char format[16], partial[256];
    int deflate;
    /* Read only: what the file states, and the entries of the planes'
     * list that are not this shard's planes or list one twice (bad, the
     * first at entry first_bad). */
    bool complete;
    size_t planes_done, bad, first_bad;
} outdir_manifest;

/* What names in DIR are whose: a run's shard, its workload's planes (the
 * npy format's names: conv_KKKKK.npy with one matrix, conv_NNNNN_KKKKK.npy
 * with several), and the output formats' final files (is_final, from the
 * format table, NULL: none): whether name is one, and of which shard. */
typedef bool (*outdir_final_fn)(const char *name, size_t *shard_i,
                                size_t *shard_n);
typedef struct {
    size_t shard_i, shard_n;
    size_t nmat, kernels;
    outdir_final_fn is_final;
} outdir_names;

/* The npy format's name of plane (n, k) of a run of nmat matrices. */
void outdir_plane_name(size_t nmat, size_t n, size_t k, char *buf, size_t len);

/* A file written whole or not at all (outdir.c says how): opened as a
 * temporary beside its final name PATH, ".NAME.XXXXXX.tmp" made by
 * mkostemps (O_EXCL, an unguessable name), and renamed over PATH, whatever
 * is there, link or file, by outdir_file_commit. */
typedef struct {
    int fd;          /* the open file, -1 if none */
    char path[4096]; /* the final name */
    char tmp[4200];  /* the temporary's name, "" if none */
} outdir_file;

/* Creates PATH's temporary; PATH itself is not touched. PC_EIO naming PATH
 * if it is a directory or its directory does not let a file be made. With
 * in_place_ok a character device or FIFO at PATH (a report to /dev/null,
 * /dev/stdout, a pipe) is opened and written in place instead. */
int outdir_file_open(outdir_file *f, const char *path, bool in_place_ok);
/* Syncs the temporary (reopened by name if f->fd is -1, never through a
 * link), closes it and renames it over PATH; on failure removes it. */
int outdir_file_commit(outdir_file *f);
/* Closes and removes the temporary, if any: PATH stays as it was. */
void outdir_file_discard(outdir_file *f);
/* A stdio stream writing into f (NULL if none can be had). */
FILE *outdir_file_stream(outdir_file *f);
/* Closes fp (from outdir_file_stream), then commits f, or discards it if
 * fp is NULL, bad (the caller's writes failed) or the close fails. */
int outdir_file_finish(outdir_file *f, FILE *fp, bool bad);
/* root as JSON (jansson's flags) and a newline into f, then commits it. */
int outdir_file_json(outdir_file *f, const json_t *root, size_t flags);

/* mkdir -p DIR, before any work, so a bad -o fails at once. */
int outdir_prepare(const char *dir);
/* DIR/NAME into buf; PC_EUSAGE if it does not fit. */
int outdir_path(char *buf, size_t n, const char *dir, const char *name);
/* manifest.json, or manifest.shard-I-of-N.json for a shard (shard_n > 1). */
void outdir_manifest_name(size_t shard_i, size_t shard_n, char *buf, size_t n);
/* Removes what a killed run of this shard left half-written (its own
 * planes', manifest's and format files' temporaries, regular files only;
 * other shards' are left alone), but keep (a name in DIR, the partial
 * --resume goes on with; NULL: none). */
void outdir_clean_temps(const char *dir, const outdir_names *w,
                        const char *keep);

/* The workload's identity: what --resume and merge compare. A new
 * reference, NULL if out of memory. */
json_t *outdir_workload(const job *j);
/* 0 if the workloads a and b are the same, field by field; else what
 * differs first, with both values (a_name and b_name follow them: "then",
 * "now"): 1 for a field, why "field 'count': 6 then, 3 now"; 2 for an
 * input (the files' facts and hash, the generator's seed and range), why
 * "another matrix: m.npy's values differ (hash 0x... then, 0x... now)".
 * The inputs' paths are compared as the fields "matrix" and "bank". */
int outdir_workload_diff(const json_t *a, const char *a_name, const json_t *b,
                         const char *b_name, char *why, size_t n);

/* Reads DIR/NAME: 1 if there is none, PC_EINPUT if it is not a parconv
 * manifest (whatever its layout or key order). */
int outdir_manifest_read(const char *dir, const char *name, outdir_manifest *m);
void outdir_manifest_free(outdir_manifest *m);
/* Writes m as DIR's manifest of its shard, atomically (temporary file,
 * fsync, rename). */
int outdir_manifest_write(const char *dir, const outdir_manifest *m);
/* The run's manifest: the planes done so far with their checksums, the
 * format and its partial (j->partial). Nothing in it depends on when or
 * how the run went. */
int outdir_save(const job *j, const uint64_t *sums, const bool *done);
/* The manifest the run will have once complete (partial ""), as text,
 * for a format that keeps it (hdf5); malloc'd, NULL if out of memory. */
char *outdir_manifest_text(const job *j, const uint64_t *sums,
                           const bool *done);
/* m as the text outdir_manifest_write writes; malloc'd, NULL if out of
 * memory. */
char *outdir_manifest_dump(const outdir_manifest *m);

/* --resume: refuses another workload or format (PC_EUSAGE, naming the
 * difference); the caller then checks the planes the manifest lists. */
int outdir_resume_check(const job *j, const outdir_manifest *m);

/* merge: reads every shard manifest of DIR and checks that they are of
 * one workload, FFT size and format, complete, and list every plane once;
 * fills *merged with the manifest a single run would have written (free
 * it with outdir_manifest_free) and *shards with the n shards' (free them
 * with outdir_merge_free); the planes are the caller's to check. 1 if DIR
 * holds no shard manifests. */
int outdir_merge_check(const char *dir, outdir_manifest *merged,
                       outdir_manifest **shards, size_t *nshards);
void outdir_merge_free(outdir_manifest *shards, size_t n);
/* Removes DIR's N shard manifests (after the merged one is in place). */
void outdir_remove_shards(const char *dir, size_t nshards);
/* merge on a DIR without shard manifests (outdir_merge_check returned 1):
 * its manifest.json, which must be complete (PC_EWORKER if not; PC_EUSAGE
 * if there is none), into *m; the planes are the caller's to check. */
int outdir_read_merged(const char *dir, outdir_manifest *m);

/* What DIR's manifests of this workload record of how it was computed: a
 * later shard, or a run again, computes it the same way (same bits). */
typedef struct {
    bool found;
    char method[16], isa[16];
    size_t fft_P, fft_Q;
    char from[96]; /* the manifest's name */
} outdir_adopt;

/* -o DIR before this run writes to it: PC_EUSAGE ("DIR holds results of
 * another workload; use --resume, another DIR, or --force ...") if DIR
 * holds a manifest (any manifest*.json but skip, the one --resume reads)
 * that cannot be read or is of another workload or format, planes or
 * format files (w) and no manifest, or a plane that is not the
 * workload's. Before the
 * plan (planned false) the method and ISA are not compared, and *adopt
 * (may be NULL) receives them and the FFT size from the first manifest of
 * this workload; once planned they and the FFT size must be the same.
 * lenient (--force): nothing is refused, *adopt is filled. */
int outdir_survey(const job *j, const outdir_names *w, bool planned,
                  const char *skip, outdir_adopt *adopt, bool lenient);
/* --force: removes the files of DIR that are parconv's (planes, format
 * files, manifest.json, manifest.shard-I-of-N.json, their temporaries)
 * and this run's to replace: all of them for a whole run; for shard I of
 * N its own planes, manifest and format files and those of other splits
 * (the other shards replace theirs). Nothing else is touched. *removed:
 * how many. */
int outdir_replace(const char *dir, const outdir_names *w, size_t *removed);

#endif
