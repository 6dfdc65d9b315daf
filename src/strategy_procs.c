/* procs: worker processes started with posix_spawn, the C counterpart of
 * multiprocessing.Pool. The workers run this same executable in worker mode
 * (PC_WORKER_FLAG). The parent lays the plan (padded matrix, kernels, packed
 * kernels) and the row checksum table in one memfd mapping; worker w maps
 * it, computes its block of output rows of every kernel and writes their
 * checksums, and the rows themselves into the shared arena when there is
 * one. Nothing goes through pipes or files. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
    pc_isa isa;
    size_t rows, cols, count, krows, kcols, orows, ocols, prows, pcols, pstride;
    size_t workers;
    size_t pad_off, kern_off, kpack_off, rowhash_off, started_off, total;
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
static int plan_view(pc_plan *pl, const shared *h, char *base)
{
    memset(pl, 0, sizeof *pl);
    pl->p = h->p;
    pl->isa = h->isa;
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
    pl->kpack = base + h->kpack_off;
    pl->owns = false;
    return pc_plan_bind(pl);
}

typedef struct {
    pid_t pid;
    int pidfd; /* readable when the process ends; -1 if the kernel has none */
    int done;
} child;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* Sleeps until a worker may have ended: on their pidfds when every worker
 * has one (no latency, no polling), else a short nap. */
static void await_exit(const child *c, unsigned n, long *nap)
{
    struct pollfd fds[64];
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        if (c[i].done)
            continue;
        if (c[i].pidfd < 0 || m == 64) {
            m = 0;
            break;
        }
        fds[m++] = (struct pollfd){.fd = c[i].pidfd, .events = POLLIN};
    }
    if (m) {
        poll(fds, m, 1000);
        return;
    }
    sleep_ms(*nap);
    if (*nap < 8)
        *nap *= 2;
}


static void reaped(child *c)
{
    c->done = 1;
    if (c->pidfd >= 0)
        close(c->pidfd);
    c->pidfd = -1;
}

static void kill_all(child *c, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!c[i].done) {
            kill(c[i].pid, SIGKILL);
            waitpid(c[i].pid, NULL, 0);
            reaped(&c[i]);
        }
}

/* Waits for every worker. The first one to fail stops the others at once,
 * so a crashed worker never leaves the run waiting on its siblings. */
static int wait_all(child *c, unsigned n, const pc_plan *plan)
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
            reaped(&c[i]);
            left--;
            progressed = 1;
            int st = PC_OK;
            size_t r0, r1;
            pc_rows_of(plan, i, n, &r0, &r1);
            if (r < 0)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d): "
                              "waitpid failed: %s", i, n, (int)c[i].pid,
                              strerror(errno));
            else if (WIFSIGNALED(ws))
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "rows %zu-%zu) was killed by signal %d (%s)", i,
                              n, (int)c[i].pid, r0, r1 - 1, WTERMSIG(ws),
                              strsignal(WTERMSIG(ws)));
            else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "rows %zu-%zu) exited with status %d", i, n,
                              (int)c[i].pid, r0, r1 - 1, WEXITSTATUS(ws));
            if (st) {
                kill_all(c, n);
                return st;
            }
        }
        if (!progressed)
            await_exit(c, n, &nap);
        else
            nap = 1;
    }
    return PC_OK;
}

int pc_strategy_procs(const pc_plan *plan, const pc_run_params *rp,
                      const pc_sink *sink, unsigned workers, double *started)
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
    h.isa = plan->isa;
    h.workers = workers;
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
    h.kpack_off = align_up(h.kern_off + pc_plan_kern_bytes(plan), 4096);
    h.rowhash_off = align_up(h.kpack_off + pc_plan_kpack_bytes(plan), 4096);
    size_t hashes = plan->count * plan->orows * sizeof(uint64_t);
    h.started_off = align_up(h.rowhash_off + hashes, 64);
    h.total = h.started_off + workers * sizeof(double);

    int fd = -1;
    char *base = NULL;
    int st = shared_map("parconv-plan", h.total, &fd, (void **)&base);
    if (st)
        return st;
    memcpy(base, &h, sizeof h);
    memcpy(base + h.pad_off, plan->pad, pc_plan_pad_bytes(plan));
    memcpy(base + h.kern_off, plan->kern, pc_plan_kern_bytes(plan));
    memcpy(base + h.kpack_off, plan->kpack, pc_plan_kpack_bytes(plan));

    child *kids = calloc(workers, sizeof *kids);
    for (unsigned i = 0; kids && i < workers; i++)
        kids[i].pidfd = -1;
    posix_spawn_file_actions_t fa;
    int fa_ok = 0;
    unsigned spawned = 0;
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

    for (; spawned < workers; spawned++) {
        char sfd[16], sarena[16], sidx[16], scount[16];
        snprintf(sfd, sizeof sfd, "%d", PLAN_FD);
        snprintf(sarena, sizeof sarena, "%d", arena_fd >= 0 ? ARENA_FD : -1);
        snprintf(sidx, sizeof sidx, "%u", spawned);
        snprintf(scount, sizeof scount, "%u", workers);
        char *argv[] = {"parconv-worker", PC_WORKER_FLAG, sfd, sarena, sidx,
                        scount, NULL};
        int e = posix_spawn(&kids[spawned].pid, rp->worker_exe, &fa, NULL, argv,
                            environ);
        if (e) {
            st = pc_error(PC_ESYS, "cannot spawn procs worker %u ('%s'): %s",
                          spawned, rp->worker_exe, strerror(e));
            kill_all(kids, spawned);
            goto done;
        }
        kids[spawned].pidfd = open_pidfd(kids[spawned].pid);
    }
    st = wait_all(kids, workers, plan);
    if (!st) {
        memcpy(sink->rowhash, base + h.rowhash_off, hashes);
        memcpy(started, base + h.started_off, workers * sizeof(double));
    }

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

    if (h.workers != (size_t)n)
        return worker_fail(ui, "worker count differs from the plan's");
    pc_plan pl;
    if (plan_view(&pl, &h, base))
        return worker_fail(ui, pc_errmsg());
    pc_sink sink = {.rowhash = (uint64_t *)(base + h.rowhash_off)};
    if (afd >= 0) {
        size_t arena_bytes = pc_plan_out_bytes(&pl) * pl.count;
        sink.arena = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                          (int)afd, 0);
        if (sink.arena == MAP_FAILED)
            return worker_fail(ui, "cannot map the output arena");
    }
    void *scratch = pc_alloc(pc_scratch_bytes(&pl));
    if (!scratch)
        return worker_fail(ui, "cannot allocate a row buffer");
    size_t r0, r1;
    pc_rows_of(&pl, ui, (unsigned)n, &r0, &r1);
    ((double *)(base + h.started_off))[ui] = pc_now();
    pc_exec_rows(&pl, r0, r1, &sink, scratch);
    pc_free(scratch);
    return 0;
}
