/* procs: worker processes started with posix_spawn, the C counterpart of
 * multiprocessing.Pool. The workers run this same executable in worker mode
 * (PC_WORKER_FLAG). The parent lays the plan (padded matrix, flipped
 * kernels) and a checksum table in one memfd mapping; each worker maps it,
 * computes kernels index, index+P, ... and writes their checksums, and their
 * planes into the shared arena when there is one. Nothing goes through
 * pipes or files. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAGIC "PCPLAN1"
/* Where a worker finds the mappings: fixed descriptor numbers. */
#define PLAN_FD 3
#define ARENA_FD 4

typedef struct {
    char magic[8];
    size_t header_bytes; /* sizeof(shared), a guard against another build */
    pid_t parent;
    pc_conv_params p;
    size_t rows, cols, count, krows, kcols, orows, ocols, prows, pcols, pstride;
    size_t pad_off, kern_off, sums_off, total;
} shared;

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* A memfd of the given size, mapped shared, with its descriptor moved to
 * 10 or above so the spawn's dup2 onto 3 and 4 never meets itself. */
static int shared_map(const char *name, size_t bytes, int *fd_out, void **base)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return pc_error(PC_ESYS, "memfd_create: %s", strerror(errno));
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    if (high < 0)
        return pc_error(PC_ESYS, "fcntl(F_DUPFD): %s", strerror(errno));
    if (ftruncate(high, (off_t)bytes) != 0) {
        int e = errno;
        close(high);
        return pc_error(PC_ENOMEM, "cannot size a %zu-byte shared mapping: %s",
                        bytes, strerror(e));
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, high, 0);
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

int pc_arena_create(pc_arena *a, size_t bytes)
{
    a->base = NULL;
    a->bytes = bytes ? bytes : 1;
    a->fd = -1;
    return shared_map("parconv-arena", a->bytes, &a->fd, &a->base);
}

void pc_arena_destroy(pc_arena *a)
{
    if (a->base)
        munmap(a->base, a->bytes);
    if (a->fd >= 0)
        close(a->fd);
    a->base = NULL;
    a->fd = -1;
}

/* A plan whose arrays live in the mapping at base. */
static void plan_view(pc_plan *pl, const shared *h, char *base)
{
    memset(pl, 0, sizeof *pl);
    pl->p = h->p;
    pl->rows = h->rows;
    pl->cols = h->cols;
    pl->count = h->count;
    pl->krows = h->krows;
    pl->kcols = h->kcols;
    pl->orows = h->orows;
    pl->ocols = h->ocols;
    pl->prows = h->prows;
    pl->pcols = h->pcols;
    pl->pstride = h->pstride;
    pl->pad = base + h->pad_off;
    pl->kern = base + h->kern_off;
    pl->owns = false;
}

typedef struct {
    pid_t pid;
    int done;
} child;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void kill_all(child *c, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!c[i].done) {
            kill(c[i].pid, SIGKILL);
            waitpid(c[i].pid, NULL, 0);
            c[i].done = 1;
        }
}

/* Waits for every worker. The first one to fail stops the others at once,
 * so a crashed worker never leaves the run waiting on its siblings. */
static int wait_all(child *c, unsigned n)
{
    unsigned left = n;
    long nap = 1;
    while (left) {
        int progressed = 0;
        for (unsigned i = 0; i < n; i++) {
            if (c[i].done)
                continue;
            int ws;
            pid_t r = waitpid(c[i].pid, &ws, WNOHANG);
            if (r == 0)
                continue;
            c[i].done = 1;
            left--;
            progressed = 1;
            int st = PC_OK;
            if (r < 0)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d): "
                              "waitpid failed: %s", i, n, (int)c[i].pid,
                              strerror(errno));
            else if (WIFSIGNALED(ws))
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "kernels %u+%un) was killed by signal %d (%s)",
                              i, n, (int)c[i].pid, i, n, WTERMSIG(ws),
                              strsignal(WTERMSIG(ws)));
            else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "kernels %u+%un) exited with status %d", i, n,
                              (int)c[i].pid, i, n, WEXITSTATUS(ws));
            if (st) {
                kill_all(c, n);
                return st;
            }
        }
        if (!progressed) {
            sleep_ms(nap);
            if (nap < 8)
                nap *= 2;
        } else {
            nap = 1;
        }
    }
    return PC_OK;
}

int pc_strategy_procs(const pc_plan *plan, const pc_run_params *rp,
                      unsigned workers)
{
    if (!rp->worker_exe)
        return pc_error(PC_EUSAGE, "procs needs the path of the parconv "
                                   "executable to spawn");
    shared h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, sizeof MAGIC);
    h.header_bytes = sizeof h;
    h.parent = getpid();
    h.p = plan->p;
    h.rows = plan->rows;
    h.cols = plan->cols;
    h.count = plan->count;
    h.krows = plan->krows;
    h.kcols = plan->kcols;
    h.orows = plan->orows;
    h.ocols = plan->ocols;
    h.prows = plan->prows;
    h.pcols = plan->pcols;
    h.pstride = plan->pstride;
    h.pad_off = 4096;
    h.kern_off = align_up(h.pad_off + pc_plan_pad_bytes(plan), 4096);
    h.sums_off = align_up(h.kern_off + pc_plan_kern_bytes(plan), 4096);
    h.total = h.sums_off + plan->count * sizeof(uint64_t);

    int fd = -1;
    char *base = NULL;
    int st = shared_map("parconv-plan", h.total, &fd, (void **)&base);
    if (st)
        return st;
    memcpy(base, &h, sizeof h);
    memcpy(base + h.pad_off, plan->pad, pc_plan_pad_bytes(plan));
    memcpy(base + h.kern_off, plan->kern, pc_plan_kern_bytes(plan));

    child *kids = calloc(workers, sizeof *kids);
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    unsigned started = 0;
    if (!kids) {
        st = pc_error(PC_ENOMEM, "cannot allocate %u worker records", workers);
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        st = pc_error(PC_ESYS, "posix_spawn_file_actions_init failed");
        goto done;
    }
    fa_ok = 1;
    int arena_fd = rp->arena ? rp->arena->fd : -1;
    if (posix_spawn_file_actions_adddup2(&fa, fd, PLAN_FD) != 0 ||
        (arena_fd >= 0 &&
         posix_spawn_file_actions_adddup2(&fa, arena_fd, ARENA_FD) != 0)) {
        st = pc_error(PC_ESYS, "posix_spawn_file_actions_adddup2 failed");
        goto done;
    }

    for (; started < workers; started++) {
        char sfd[16], sarena[16], sidx[16], scount[16];
        snprintf(sfd, sizeof sfd, "%d", PLAN_FD);
        snprintf(sarena, sizeof sarena, "%d", arena_fd >= 0 ? ARENA_FD : -1);
        snprintf(sidx, sizeof sidx, "%u", started);
        snprintf(scount, sizeof scount, "%u", workers);
        char *argv[] = {"parconv-worker", PC_WORKER_FLAG, sfd, sarena, sidx,
                        scount, NULL};
        int e = posix_spawn(&kids[started].pid, rp->worker_exe, &fa, NULL, argv,
                            environ);
        if (e) {
            st = pc_error(PC_ESYS, "cannot spawn procs worker %u ('%s'): %s",
                          started, rp->worker_exe, strerror(e));
            kill_all(kids, started);
            goto done;
        }
    }
    st = wait_all(kids, workers);
    if (!st)
        memcpy(rp->sums, base + h.sums_off, plan->count * sizeof(uint64_t));

done:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    free(kids);
    munmap(base, h.total);
    close(fd);
    return st;
}

static int worker_fail(unsigned idx, const char *what)
{
    fprintf(stderr, "parconv: procs worker %u: %s\n", idx, what);
    return 1;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int pc_worker_main(int argc, char **argv)
{
    long fd, afd, idx, n;
    if (argc != 6 || strcmp(argv[1], PC_WORKER_FLAG) != 0 ||
        parse_int(argv[2], 0, 1 << 20, &fd) || parse_int(argv[3], -1, 1 << 20, &afd) ||
        parse_int(argv[4], 0, 1 << 20, &idx) || parse_int(argv[5], 1, 1 << 20, &n) ||
        idx >= n) {
        fprintf(stderr, "parconv: %s is for the procs strategy's own workers\n",
                PC_WORKER_FLAG);
        return 2;
    }
    unsigned ui = (unsigned)idx;
    /* Die with the parent: no orphaned workers if it is killed. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);

    struct stat sb;
    if (fstat((int)fd, &sb) != 0 || (size_t)sb.st_size < sizeof(shared))
        return worker_fail(ui, "no plan mapping on the descriptor");
    size_t total = (size_t)sb.st_size;
    char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
    if (base == MAP_FAILED)
        return worker_fail(ui, "cannot map the plan");
    shared h;
    memcpy(&h, base, sizeof h);
    if (memcmp(h.magic, MAGIC, sizeof MAGIC) != 0 || h.header_bytes != sizeof h ||
        h.total != total)
        return worker_fail(ui, "the plan mapping is not from this parconv");
    /* The parent may have died between spawn and prctl. */
    if (getppid() != h.parent)
        return worker_fail(ui, "parent is gone");

    pc_plan pl;
    plan_view(&pl, &h, base);
    uint64_t *sums = (uint64_t *)(base + h.sums_off);
    size_t plane = pc_plan_out_bytes(&pl);
    char *arena = NULL;
    size_t arena_bytes = plane * pl.count;
    if (afd >= 0) {
        arena = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                     (int)afd, 0);
        if (arena == MAP_FAILED)
            return worker_fail(ui, "cannot map the output arena");
    }
    void *scratch = arena ? NULL : pc_alloc(plane);
    if (!arena && !scratch)
        return worker_fail(ui, "cannot allocate an output plane");
    for (size_t k = ui; k < pl.count; k += (size_t)n)
        pc_do_kernel(&pl, k, arena ? arena + k * plane : scratch, sums);
    pc_free(scratch);
    return 0;
}
