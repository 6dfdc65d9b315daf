/* Shared memory: memfd mappings that procs workers can map too. */
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

int pc_shm_map(const char *name, size_t bytes, int *fd_out, void **base)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return pc_error(PC_ESYS, "memfd_create: %s", strerror(errno));
    /* Descriptors from 10 up, so that a spawn's dup2 onto the workers'
     * fixed numbers never meets its own source. */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    if (high < 0)
        return pc_error(PC_ESYS, "fcntl(F_DUPFD): %s", strerror(errno));
    /* A memfd is a file, so a file-size limit (ulimit -f) would apply to
     * this memory too: lift the soft limit to the hard one while sizing it,
     * and put it back for the files the run writes. fallocate takes the
     * pages in one call; page by page, each first touch is a fault that
     * costs microseconds in a virtual machine. */
    struct rlimit fsize;
    int have_lim = getrlimit(RLIMIT_FSIZE, &fsize) == 0;
    if (have_lim && fsize.rlim_cur != fsize.rlim_max) {
        struct rlimit up = {fsize.rlim_max, fsize.rlim_max};
        setrlimit(RLIMIT_FSIZE, &up);
    }
    int bad = ftruncate(high, (off_t)bytes) != 0 ||
              (fallocate(high, 0, 0, (off_t)bytes) != 0 && errno != EOPNOTSUPP);
    int why = errno;
    if (have_lim)
        setrlimit(RLIMIT_FSIZE, &fsize);
    if (bad) {
        close(high);
        return pc_error(PC_ENOMEM, "cannot size a %zu-byte shared mapping: %s%s",
                        bytes, strerror(why), why == EFBIG ? " (the file-size "
                        "limit, ulimit -f, is below it)" : "");
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, high, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(high);
        return pc_error(PC_ENOMEM, "cannot map %zu shared bytes: %s", bytes,
                        strerror(e));
    }
    *fd_out = high;
    *base = p;
    return PC_OK;
}

int pc_arena_create(pc_arena *a, size_t bytes, bool shared)
{
    a->base = NULL;
    a->bytes = bytes ? bytes : 1;
    a->fd = -1;
    if (!shared) {
        a->base = pc_alloc(a->bytes);
        return a->base ? PC_OK
                       : pc_error(PC_ENOMEM, "cannot allocate %zu bytes of "
                                             "output planes", a->bytes);
    }
    /* procs workers write it through its file (the row sink, exec.c), so no
     * process's compute pays for first touches of its pages. */
    return pc_shm_map("parconv-arena", a->bytes, &a->fd, &a->base);
}

void pc_arena_destroy(pc_arena *a)
{
    if (a->fd < 0) {
        pc_free(a->base);
        a->base = NULL;
        return;
    }
    if (a->base)
        munmap(a->base, a->bytes);
    if (a->fd >= 0)
        close(a->fd);
    a->base = NULL;
    a->fd = -1;
}
