/* procs: worker processes started with posix_spawn, the C counterpart of
 * multiprocessing.Pool. The workers run this same executable in worker mode
 * (PC_WORKER_FLAG). The plan (padded matrix, kernels, FFT spectra)
 * already lives in a memfd mapping; the parent adds one for the row
 * checksums and passes both, and the output arena's when there is one, as
 * fixed descriptors. Worker w maps them, computes its block of output rows
 * of every kernel and writes their checksums, and the rows themselves into
 * the arena. Nothing goes through pipes or files.
 *
 * The worker executable is the caller's (a program that calls
 * pc_worker_check at the top of its main, "/proc/self/exe"), or by default
 * the parconv installed with the library. */
#include "strategy.h"

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

/* The installed parconv (src/meson.build sets it from the prefix). */
#ifndef PC_WORKER_EXE
#define PC_WORKER_EXE "parconv"
#endif

/* Where a worker finds the mappings: fixed descriptor numbers. */
#define PLAN_FD 3
#define ARENA_FD 4
#define RUN_FD 5

/* The per-run mapping: row checksums, then each worker's start and end
 * times, then each worker's count of units done (its heartbeat). */
static size_t run_bytes(const pc_plan *plan, unsigned workers)
{
    return plan->count * plan->orows * sizeof(uint64_t) +
           workers * (2 * sizeof(double) + sizeof(uint64_t));
}

static volatile uint64_t *heartbeats(char *run, const pc_plan *plan,
                                     unsigned workers)
{
    return (volatile uint64_t *)(run + plan->count * plan->orows *
                                           sizeof(uint64_t) +
                                 workers * 2 * sizeof(double));
}

typedef struct {
    pid_t pid;
    int pidfd; /* readable when the process ends; -1 if the kernel has none */
    int done;
    double started;     /* when it was spawned, or last made progress */
    uint64_t beat;      /* its heartbeat when last looked at */
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
        /* Wake at least every 100 ms to look at the time-outs. */
        poll(fds, m, 100);
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

typedef struct {
    posix_spawn_file_actions_t fa;
    const char *exe;
    char sparent[24], sarena[4], scount[16], sk0[24], sk1[24];
} spawner;

static int spawn_one(spawner *sp, child *c, unsigned i)
{
    char sidx[16];
    snprintf(sidx, sizeof sidx, "%u", i);
    char *argv[] = {"parconv-worker", PC_WORKER_FLAG, sidx, sp->scount,
                    sp->sparent, sp->sarena, sp->sk0, sp->sk1, NULL};
    int e = posix_spawn(&c->pid, sp->exe, &sp->fa, NULL, argv, environ);
    if (e)
        return pc_error(PC_ESYS, "cannot spawn procs worker %u ('%s'): %s%s",
                        i, sp->exe, strerror(e),
                        sp->exe == pc_worker_default_exe()
                            ? " (the installed parconv, used when worker_exe "
                              "is NULL; see pc_worker_check in parconv.h)"
                            : "");
    c->pidfd = open_pidfd(c->pid);
    c->done = 0;
    c->started = pc_now();
    c->beat = 0;
    return PC_OK;
}

/* Waits for every worker. One that crashes, is killed, exits non-zero or
 * outlives the timeout gets its share handed to a new worker while
 * retries last; otherwise the others are stopped at once and the run
 * fails, so a bad worker never leaves the run waiting on its siblings. */
static int wait_all(child *c, unsigned n, const pc_plan *plan,
                    const pc_sink *sink, spawner *sp, double timeout,
                    unsigned retries, volatile uint64_t *beats)
{
    unsigned left = n;
    long nap = 1;
    while (left) {
        int progressed = 0;
        if (sink->cancel && *sink->cancel) {
            /* Nothing of an interrupted batch is kept: stop at once. */
            kill_all(c, n);
            return pc_error(PC_EINTERRUPTED, "interrupted");
        }
        for (unsigned i = 0; i < n; i++) {
            if (c[i].done)
                continue;
            int ws = 0;
            pid_t r = waitpid(c[i].pid, &ws, WNOHANG);
            /* Hung: no unit of work finished for the whole time-out (a
             * long share is fine as long as it moves). */
            if (beats[i] != c[i].beat) {
                c[i].beat = beats[i];
                c[i].started = pc_now();
            }
            bool hung = r == 0 && timeout > 0 &&
                        pc_now() - c[i].started > timeout;
            if (r == 0 && !hung)
                continue;
            if (hung) {
                kill(c[i].pid, SIGKILL);
                waitpid(c[i].pid, NULL, 0);
            }
            reaped(&c[i]);
            progressed = 1;
            int st = PC_OK;
            size_t u0, u1;
            pc_units_of(plan, sink, i, n, &u0, &u1);
            if (hung)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "units %zu-%zu) hung: no progress for %gs", i, n,
                              (int)c[i].pid, u0, u1 - 1, timeout);
            else if (r < 0)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d): "
                              "waitpid failed: %s", i, n, (int)c[i].pid,
                              strerror(errno));
            else if (WIFSIGNALED(ws))
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "units %zu-%zu) was killed by signal %d (%s)", i,
                              n, (int)c[i].pid, u0, u1 - 1, WTERMSIG(ws),
                              strsignal(WTERMSIG(ws)));
            else if (WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
                st = pc_error(PC_EWORKER, "procs worker %u of %u (pid %d, "
                              "units %zu-%zu) exited with status %d", i, n,
                              (int)c[i].pid, u0, u1 - 1, WEXITSTATUS(ws));
            if (!st) {
                left--;
                continue;
            }
            if (sink->res && sink->res->retried < retries) {
                /* Its share again, from scratch: the results are the same
                 * bits whoever computes them. */
                sink->res->retried++;
                /* One line per restart. */
                size_t used = strlen(sink->res->warning);
                snprintf(sink->res->warning + used,
                         sizeof sink->res->warning - used, "%s%s",
                         used ? "\n" : "", pc_errmsg());
                beats[i] = 0;
                int e = spawn_one(sp, &c[i], i);
                if (e == PC_OK)
                    continue;
                st = e;
            }
            kill_all(c, n);
            return st;
        }
        if (!progressed)
            await_exit(c, n, &nap);
        else
            nap = 1;
    }
    return PC_OK;
}

int pc_strategy_procs(const pc_plan *plan, const pc_run_params *rp,
                      const pc_sink *sink, unsigned workers, double *times)
{
    if (!plan->owns || plan->blob_fd < 0)
        return pc_error(PC_EUSAGE, "procs needs a plan made by pc_plan_create");
    if (rp->arena && rp->arena->fd < 0)
        return pc_error(PC_EUSAGE, "procs needs a shared output arena "
                                   "(pc_arena_create with shared)");
    /* The plan is already in shared memory; only the results need a
     * mapping of their own. */
    size_t hashes = plan->count * plan->orows * sizeof(uint64_t);
    size_t rbytes = run_bytes(plan, workers);
    int rfd = -1;
    char *run = NULL;
    int st = pc_shm_map("parconv-run", rbytes, &rfd, (void **)&run);
    if (st)
        return st;

    child *kids = calloc(workers, sizeof *kids);
    for (unsigned i = 0; kids && i < workers; i++)
        kids[i].pidfd = -1;
    spawner sp = {.exe = rp->worker_exe ? rp->worker_exe
                                        : pc_worker_default_exe()};
    int fa_ok = 0;
    unsigned spawned = 0;
    size_t mask_size = 0;
    cpu_set_t *mask = NULL;
    if (!kids) {
        st = pc_error(PC_ENOMEM, "cannot allocate %u worker records", workers);
        goto done;
    }
    if (posix_spawn_file_actions_init(&sp.fa) != 0) {
        st = pc_error(PC_ESYS, "posix_spawn_file_actions_init failed");
        goto done;
    }
    fa_ok = 1;
    int arena_fd = rp->arena ? rp->arena->fd : -1;
    if (posix_spawn_file_actions_adddup2(&sp.fa, plan->blob_fd, PLAN_FD) != 0 ||
        posix_spawn_file_actions_adddup2(&sp.fa, rfd, RUN_FD) != 0 ||
        (arena_fd >= 0 &&
         posix_spawn_file_actions_adddup2(&sp.fa, arena_fd, ARENA_FD) != 0)) {
        st = pc_error(PC_ESYS, "posix_spawn_file_actions_adddup2 failed");
        goto done;
    }
    snprintf(sp.sparent, sizeof sp.sparent, "%ld", (long)getpid());
    snprintf(sp.sarena, sizeof sp.sarena, "%d", arena_fd >= 0);
    snprintf(sp.scount, sizeof sp.scount, "%u", workers);
    snprintf(sp.sk0, sizeof sp.sk0, "%zu", sink->k0);
    snprintf(sp.sk1, sizeof sp.sk1, "%zu", sink->k1);
    /* The workers inherit this thread's mask: all of the process's CPUs,
     * not the one OpenMP's binding may have given it (restarts too). */
    mask = pc_thread_widen(&mask_size);
    for (; spawned < workers; spawned++)
        if ((st = spawn_one(&sp, &kids[spawned], spawned))) {
            kill_all(kids, spawned);
            goto done;
        }
    st = wait_all(kids, workers, plan, sink, &sp, rp->worker_timeout,
                  rp->retries, heartbeats(run, plan, workers));
    if (!st) {
        memcpy(sink->rowhash, run, hashes);
        memcpy(times, run + hashes, workers * 2 * sizeof(double));
    }

done:
    pc_thread_restore(mask, mask_size);
    if (fa_ok)
        posix_spawn_file_actions_destroy(&sp.fa);
    free(kids);
    munmap(run, rbytes);
    close(rfd);
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

/* Maps a worker's descriptor: the whole file, shared. */
static void *map_fd(int fd, int prot, size_t *bytes)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0)
        return NULL;
    *bytes = (size_t)sb.st_size;
    /* MAP_POPULATE: page-table set-up belongs to start-up, not compute. */
    void *p = mmap(NULL, *bytes, prot, MAP_SHARED | MAP_POPULATE, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

const char *pc_worker_default_exe(void)
{
    return PC_WORKER_EXE;
}

int pc_worker_check(int argc, char **argv, int *status)
{
    if (argc < 2 || !argv || !argv[1] || strcmp(argv[1], PC_WORKER_FLAG) != 0)
        return 0;
    *status = pc_worker_main(argc, argv);
    return 1;
}

int pc_worker_main(int argc, char **argv)
{
    long idx, n, parent, has_arena, k0, k1;
    if (argc != 8 || strcmp(argv[1], PC_WORKER_FLAG) != 0 ||
        parse_int(argv[2], 0, 1 << 20, &idx) ||
        parse_int(argv[3], 1, 1 << 20, &n) ||
        parse_int(argv[4], 1, 1L << 30, &parent) ||
        parse_int(argv[5], 0, 1, &has_arena) ||
        parse_int(argv[6], 0, 1L << 40, &k0) ||
        parse_int(argv[7], 1, 1L << 40, &k1) || idx >= n || k0 >= k1) {
        fprintf(stderr, "parconv: %s is for the procs strategy's own workers\n",
                PC_WORKER_FLAG);
        return 2;
    }
    unsigned ui = (unsigned)idx;
    /* The parent decides what a SIGTERM or SIGINT means (Slurm and a
     * terminal send them to every process of the job): it lets the batch
     * finish, then stops. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    /* Die with the parent: no orphaned workers if it is killed. The parent
     * may have died between spawn and prctl, hence the check after. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != (pid_t)parent)
        return worker_fail(ui, "parent is gone");
    /* This process's OpenMP runtime may have bound it to its first place
     * (OMP_PROC_BIND), as the parent's did: every worker would share one
     * CPU. The worker uses no OpenMP; it runs where the parent may. */
    CPU_FREE(pc_thread_widen(&(size_t){0}));

    size_t plan_bytes = 0, run_len = 0;
    char *blob = map_fd(PLAN_FD, PROT_READ, &plan_bytes);
    char *run = map_fd(RUN_FD, PROT_READ | PROT_WRITE, &run_len);
    if (!blob || !run)
        return worker_fail(ui, "cannot map the plan or the result table");
    pc_plan pl;
    if (pc_plan_view(&pl, blob, plan_bytes))
        return worker_fail(ui, pc_errmsg());
    if (run_len != run_bytes(&pl, (unsigned)n) || (size_t)k1 > pl.count)
        return worker_fail(ui, "the result table does not fit the plan");
    int put_errno = 0;
    pc_sink sink = {.arena_fd = -1, .put_errno = &put_errno,
                    .rowhash = (uint64_t *)run, .k0 = (size_t)k0,
                    .k1 = (size_t)k1};
    if (has_arena) {
        /* Rows are written into the arena's file, not through a mapping:
         * a process pays for its first touch of each page of a mapping
         * (4-14 us each on the development VM: 0.5 s for the default
         * workload's planes), a pwrite only copies. */
        struct stat sb;
        if (fstat(ARENA_FD, &sb) != 0 ||
            (size_t)sb.st_size < pc_plan_out_bytes(&pl) * (sink.k1 - sink.k0))
            return worker_fail(ui, "the output arena does not fit the plan");
        sink.arena_fd = ARENA_FD;
    }
    void *scratch = pc_alloc(pc_scratch_bytes(&pl));
    if (!scratch)
        return worker_fail(ui, "cannot allocate a row buffer");
    size_t r0, r1;
    pc_units_of(&pl, &sink, ui, (unsigned)n, &r0, &r1);
    /* The same first touches of the plan's pages, for what this share
     * reads, belong to start-up. */
    pc_plan_touch(&pl, r0, r1);
    double *times = (double *)(run + pl.count * pl.orows * sizeof(uint64_t));
    times[2 * ui] = pc_now();
    /* A few units at a time, each step a heartbeat for --worker-timeout. */
    volatile uint64_t *beat = heartbeats(run, &pl, (unsigned)n) + ui;
    for (size_t u = r0, e; u < r1; u = e) {
        e = pc_exec_step_end(&pl, u, r1);
        pc_exec_units(&pl, u, e, &sink, scratch);
        ++*beat;
    }
    times[2 * ui + 1] = pc_now();
    /* A worker that returns (a program's own, through pc_worker_check)
     * gives back what it took; parconv's workers _exit instead. */
    pc_free(scratch);
    pc_fft_destroy(&pl.fft, pl.p.dtype);
    munmap(blob, plan_bytes);
    munmap(run, run_len);
    if (put_errno) {
        char why[160];
        snprintf(why, sizeof why, "cannot write results into the output "
                 "arena: %s", strerror(put_errno));
        return worker_fail(ui, why);
    }
    return 0;
}
