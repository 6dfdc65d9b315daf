/* Where results go on disk: one .npy per kernel and a manifest, and gen's
 * input files. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p: creates DIR and its missing parents. */
int sink_prepare(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n >= sizeof path)
        return pc_error(PC_EUSAGE, "output directory name too long");
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return pc_error(PC_EIO, "cannot create directory '%s': %s", path,
                            strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return pc_error(PC_EIO, "cannot create directory '%s': %s", path,
                        strerror(errno));
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pc_error(PC_EIO, "'%s' exists and is not a directory", dir);
    return PC_OK;
}

static int join(char *buf, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return pc_error(PC_EUSAGE, "path '%s/%s' is too long", dir, name);
    return PC_OK;
}

/* Removes the temporary files an earlier, killed run of this shard left
 * (".conv_NNNNN.npy.PID.tmp" of its own kernels, ".MANIFEST.PID.tmp" of its
 * own manifest). Other shards may be writing into the same DIR right now:
 * their files are not touched. shard_n 0 is the whole bank. */
void sink_clean_temps(const char *dir, size_t shard_i, size_t shard_n)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char own[128];
    if (shard_n > 1)
        snprintf(own, sizeof own, ".manifest.shard-%zu-of-%zu.json.", shard_i,
                 shard_n);
    else
        snprintf(own, sizeof own, ".manifest.json.");
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 4 || strcmp(e->d_name + n - 4, ".tmp") != 0)
            continue;
        bool mine = false;
        if (strncmp(e->d_name, ".conv_", 6) == 0) {
            char *end;
            unsigned long long k = strtoull(e->d_name + 6, &end, 10);
            mine = end != e->d_name + 6 && *end == '.' &&
                   (shard_n <= 1 || k % shard_n == shard_i);
        } else {
            mine = strncmp(e->d_name, own, strlen(own)) == 0;
        }
        if (mine &&
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) <
                sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* Makes a finished temporary file durable and gives it its final name:
 * a file under its final name is always complete. */
static int commit_file(const char *tmp, const char *path)
{
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    return PC_OK;
}

/* fsync of the directory, so the renames survive a crash too. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

void manifest_name(const job *j, char *buf, size_t n)
{
    if (j->shard_n > 1)
        snprintf(buf, n, "manifest.shard-%zu-of-%zu.json", j->shard_i,
                 j->shard_n);
    else
        snprintf(buf, n, "manifest.json");
}

void manifest_workload(FILE *f, const job *j)
{
    json_workload(f, j, "  ");
}

int sink_manifest(const job *j, const uint64_t *sums, const bool *done)
{
    const char *dir = j->o->outdir;
    char path[4096], tmp[4200];
    char name[96];
    manifest_name(j, name, sizeof name);
    int st = join(path, sizeof path, dir, name);
    if (st)
        return st;
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(errno));
    size_t n = 0;
    for (size_t k = 0; k < j->count; k++)
        n += done[k];
    /* Nothing here depends on when or how the run went, so an interrupted
     * and resumed run ends with the same bytes as an uninterrupted one. */
    fprintf(f, "{\n  \"version\": \"%s\",\n  \"workload\": ", PC_VERSION);
    manifest_workload(f, j);
    fprintf(f, ",\n  \"fft_tile\": [%zu, %zu],\n", j->fft_P, j->fft_Q);
    fprintf(f, "  \"dtype\": \"%s\",\n  \"shape\": [%zu, %zu],\n",
            pc_dtype_name(j->o->conv.dtype), j->orows, j->ocols);
    if (j->shard_n > 1)
        fprintf(f, "  \"shard\": [%zu, %zu],\n", j->shard_i, j->shard_n);
    fprintf(f, "  \"complete\": %s,\n  \"kernels_done\": %zu,\n",
            n == j->count ? "true" : "false", n);
    if (n == j->count)
        fprintf(f, "  \"checksum\": \"%016" PRIx64 "\",\n",
                pc_hash_combine(sums, j->count));
    fputs("  \"kernels\": [", f);
    size_t w = 0;
    for (size_t k = 0; k < j->count; k++)
        if (done[k])
            fprintf(f, "%s\n    {\"index\": %zu, \"file\": \"conv_%05zu.npy\", "
                       "\"checksum\": \"%016" PRIx64 "\"}",
                    w++ ? "," : "", job_global(j, k), job_global(j, k), sums[k]);
    fputs("\n  ]\n}\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    if (fclose(f) != 0) {
        int e = errno;
        unlink(tmp);
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    if ((st = commit_file(tmp, path)))
        return st;
    sync_dir(dir);
    return PC_OK;
}

/* The names of kernel k's file and of its temporary. */
static int file_names(const job *j, size_t k, char *path, size_t np, char *tmp,
                      size_t nt)
{
    char name[32];
    snprintf(name, sizeof name, "conv_%05zu.npy", job_global(j, k));
    int st = join(path, np, j->o->outdir, name);
    if (!st)
        snprintf(tmp, nt, "%s/.%s.%ld.tmp", j->o->outdir, name, (long)getpid());
    return st;
}

int sink_write_batch(const job *j, const pc_arena *arena, size_t k0, size_t k1,
                     const bool *skip)
{
    size_t plane = j->orows * j->ocols * pc_dtype_size(j->o->conv.dtype);
    size_t shape[2] = {j->orows, j->ocols};
    char path[4096], tmp[4200];
    int st = PC_OK;
    size_t k = k0;
    /* Every file of the batch is written first, and its write-back to the
     * disk started at once (sync_file_range), so the disk works on them
     * together; then each is synced and renamed. One file at a time,
     * write then fsync, left the disk idle between files. */
    for (; k < k1 && !st; k++) {
        if (skip && skip[k])
            continue;
        if ((st = file_names(j, k, path, sizeof path, tmp, sizeof tmp)))
            break;
        st = pc_npy_write(tmp, j->o->conv.dtype, 2, shape,
                          (const char *)arena->base + (k - k0) * plane);
        if (st) {
            unlink(tmp);
            /* Name the final file: the temporary one is gone. */
            st = pc_error(st, "cannot write '%s': %s", path,
                          strstr(pc_errmsg(), ": ") ? strrchr(pc_errmsg(), ':') + 2
                                                    : pc_errmsg());
            break;
        }
        int fd = open(tmp, O_RDONLY);
        if (fd >= 0) {
            sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
            close(fd);
        }
    }
    /* Commit what was written, or on failure remove it. */
    for (size_t c = k0; c < k; c++) {
        if (skip && skip[c])
            continue;
        int e = file_names(j, c, path, sizeof path, tmp, sizeof tmp);
        if (e)
            continue;
        if (st)
            unlink(tmp);
        else
            st = commit_file(tmp, path);
    }
    return st;
}

int sink_inputs(const cli_options *o, const pc_matrix *m, const pc_bank *b)
{
    const char *dir = o->outdir;
    int st = sink_prepare(dir);
    if (st)
        return st;
    /* Generated values are integers, exact in either dtype within range. */
    size_t nm = m->rows * m->cols, nb = b->count * b->rows * b->cols;
    void *mbuf = (void *)m->data, *bbuf = (void *)b->data;
    float *mf = NULL, *bf = NULL;
    if (o->conv.dtype == PC_F32) {
        mf = malloc(nm * sizeof *mf);
        bf = malloc(nb * sizeof *bf);
        if (!mf || !bf) {
            free(mf);
            free(bf);
            return pc_error(PC_ENOMEM, "cannot convert the inputs to f32");
        }
        for (size_t i = 0; i < nm; i++)
            mf[i] = (float)m->data[i];
        for (size_t i = 0; i < nb; i++)
            bf[i] = (float)b->data[i];
        mbuf = mf;
        bbuf = bf;
    }
    char path[4096];
    size_t mshape[2] = {m->rows, m->cols}, bshape[3] = {b->count, b->rows, b->cols};
    if (!(st = join(path, sizeof path, dir, "matrix.npy")))
        st = pc_npy_write(path, o->conv.dtype, 2, mshape, mbuf);
    if (!st && !(st = join(path, sizeof path, dir, "bank.npy")))
        st = pc_npy_write(path, o->conv.dtype, 3, bshape, bbuf);
    free(mf);
    free(bf);
    if (!st && !o->quiet)
        printf("wrote %s/matrix.npy (%zux%zu) and %s/bank.npy (%zux%zux%zu), "
               "%s, seed %" PRIu64 "\n", dir, m->rows, m->cols, dir, b->count,
               b->rows, b->cols, pc_dtype_name(o->conv.dtype), o->gen.seed);
    return st;
}
