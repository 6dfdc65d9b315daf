/* The threads lesson of the Python original, with POSIX threads: two
 * threads that sleep overlap (sleeping releases the CPU, like the GIL is
 * released), and the same two behind one lock run one after the other.
 * Its last part, `demo task`, plays the classes that derive from Thread
 * and Process: one task object run by two threads, then by two processes. */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { N = 2 }; /* threads or processes of every demo */

typedef struct {
    int id;
    double seconds;
    pthread_mutex_t *lock; /* NULL: no lock */
} sleeper;

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* One line "ID: WHAT", or "ID: WHAT (pid P)" when pid is not 0, written
 * at once: the processes of `demo task` share the output. */
static void say(int id, const char *what, long pid)
{
    pthread_mutex_lock(&print_lock);
    if (pid)
        printf("%d: %s (pid %ld)\n", id, what, pid);
    else
        printf("%d: %s\n", id, what);
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
}

/* "au dodo", a sleep of the given seconds, "au réveil". */
static void doze(int id, double seconds, long pid)
{
    say(id, "au dodo", pid);
    struct timespec ts = {(time_t)seconds,
                          (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    say(id, "au réveil", pid);
}

static void *sleep_func(void *arg)
{
    sleeper *s = arg;
    if (s->lock)
        pthread_mutex_lock(s->lock);
    doze(s->id, s->seconds, 0);
    if (s->lock)
        pthread_mutex_unlock(s->lock);
    return NULL;
}

static int demo_task(double seconds);

int demo_run(const char *kind, double seconds)
{
    if (strcmp(kind, "task") == 0)
        return demo_task(seconds);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int locked = strcmp(kind, "lock") == 0;
    sleeper s[N];
    pthread_t t[N];
    printf("demo %s: %d threads each sleep %gs%s\n", kind, N, seconds,
           locked ? ", holding one mutex" : ", no lock");
    fflush(stdout);
    double t0 = pc_now();
    int started = 0, st = PC_OK;
    for (; started < N; started++) {
        s[started] = (sleeper){started, seconds, locked ? &lock : NULL};
        int e = pthread_create(&t[started], NULL, sleep_func, &s[started]);
        if (e) {
            st = pc_error(PC_ESYS, "cannot start thread %d: %s", started,
                          strerror(e));
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    double elapsed = pc_now() - t0;
    if (st)
        return st;
    printf("Executed in %.5fs. (%s: about %gs expected)\n", elapsed,
           locked ? "the lock serialises the sleeps"
                  : "the sleeps overlap",
           locked ? N * seconds : seconds);
    return PC_OK;
}

/* ---- demo task ------------------------------------------------------------
 * The tutorial's MonThread is a class whose object carries a function, its
 * arguments and a lock, and whose run() calls the function holding the
 * lock; a Thread or a Process then runs the object. C has no classes: the
 * object is a struct holding a pointer to its function next to the data
 * the function is called with (an object of one method, without a vtable),
 * and run() is a function that takes the struct. Threads share the task's
 * ordinary mutex; processes share a robust, process-shared mutex that lives
 * in a memfd mapping, which every process maps. */
typedef struct {
    void (*func)(const void *args);
    const void *args;
    pthread_mutex_t *lock;
} task;

/* The arguments of the demo's function. pid: 0 in the threads (they all
 * have the process's), the process's own in a process. */
typedef struct {
    int id;
    double seconds;
    long pid;
} doze_args;

static void doze_task(const void *args)
{
    const doze_args *a = args;
    doze(a->id, a->seconds, a->pid);
}

/* run(): the task's function, called holding the task's lock. Returns 0
 * or an errno value. */
static int task_run(const task *t)
{
    int e = pthread_mutex_lock(t->lock);
    /* A process that died holding the lock leaves it to the next one
     * (robust mutex): take it over rather than wait for ever. */
    if (e == EOWNERDEAD)
        e = pthread_mutex_consistent(t->lock);
    if (e)
        return e;
    t->func(t->args);
    return pthread_mutex_unlock(t->lock);
}

static void *task_thread(void *t)
{
    return task_run(t) ? t : NULL;
}

static int task_threads(double seconds, double *elapsed)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    doze_args a[N];
    task t[N];
    pthread_t th[N];
    double t0 = pc_now();
    int started = 0, st = PC_OK;
    for (; started < N; started++) {
        a[started] = (doze_args){started, seconds, 0};
        t[started] = (task){doze_task, &a[started], &lock};
        int e = pthread_create(&th[started], NULL, task_thread, &t[started]);
        if (e) {
            st = pc_error(PC_ESYS, "demo task: cannot start thread %d: %s",
                          started, strerror(e));
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        void *failed = NULL;
        pthread_join(th[i], &failed);
        if (failed && !st)
            st = pc_error(PC_ESYS, "demo task: thread %d could not lock", i);
    }
    *elapsed = pc_now() - t0;
    return st;
}

/* The lock the processes share, ready for use: a robust, process-shared
 * mutex at the start of a new memfd mapping. The descriptor is left
 * inheritable, so that the children can map it too. */
static int shared_lock(int *fd, pthread_mutex_t **lock)
{
    size_t bytes = sizeof **lock;
    *fd = memfd_create("parconv-demo-task", 0);
    if (*fd < 0)
        return pc_error(PC_ESYS, "demo task: memfd_create: %s",
                        strerror(errno));
    void *p = MAP_FAILED;
    if (ftruncate(*fd, (off_t)bytes) == 0)
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    pthread_mutexattr_t at;
    int e = p == MAP_FAILED ? errno : pthread_mutexattr_init(&at);
    if (!e) {
        e = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
        if (!e)
            e = pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
        if (!e)
            e = pthread_mutex_init(p, &at);
        pthread_mutexattr_destroy(&at);
    }
    if (e) {
        if (p != MAP_FAILED)
            munmap(p, bytes);
        close(*fd);
        return pc_error(PC_ESYS, "demo task: shared lock: %s", strerror(e));
    }
    *lock = p;
    return PC_OK;
}

/* The children: this executable again, in task mode (DEMO_TASK_FLAG FD ID
 * SECONDS). A child that cannot start stops the demo; those started are
 * waited for, and each must exit 0. */
static int task_processes(double seconds, double *elapsed)
{
    int fd = -1;
    pthread_mutex_t *lock = NULL;
    int st = shared_lock(&fd, &lock);
    if (st)
        return st;
    char sfd[16], ssec[32], sid[N][8];
    snprintf(sfd, sizeof sfd, "%d", fd);
    snprintf(ssec, sizeof ssec, "%.17g", seconds);
    pid_t pid[N];
    double t0 = pc_now();
    int started = 0;
    for (; started < N; started++) {
        snprintf(sid[started], sizeof sid[started], "%d", started);
        char *argv[] = {"parconv-demo-task", DEMO_TASK_FLAG, sfd,
                        sid[started], ssec, NULL};
        int e = posix_spawn(&pid[started], "/proc/self/exe", NULL, NULL,
                            argv, environ);
        if (e) {
            st = pc_error(PC_ESYS, "demo task: cannot spawn process %d: %s",
                          started, strerror(e));
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        int ws;
        while (waitpid(pid[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (!st && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
            st = pc_error(PC_EWORKER, "demo task: process %d (pid %ld) %s %d",
                          i, (long)pid[i],
                          WIFEXITED(ws) ? "exited with status"
                                        : "was killed by signal",
                          WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
    }
    *elapsed = pc_now() - t0;
    pthread_mutex_destroy(lock);
    munmap(lock, sizeof *lock);
    close(fd);
    return st;
}

static int demo_task(double seconds)
{
    double elapsed;
    printf("demo task: a task {function, arguments, lock} run by %d threads, "
           "then by %d processes; each run sleeps %gs holding the lock\n",
           N, N, seconds);
    printf("threads of one process (pid %ld), an ordinary mutex:\n",
           (long)getpid());
    fflush(stdout);
    int st = task_threads(seconds, &elapsed);
    if (st)
        return st;
    printf("Executed in %.5fs. (threads: the lock serialises the runs, about "
           "%gs expected)\n", elapsed, N * seconds);
    printf("processes (posix_spawn), a robust process-shared mutex in shared "
           "memory:\n");
    fflush(stdout);
    st = task_processes(seconds, &elapsed);
    if (st)
        return st;
    printf("Executed in %.5fs. (processes: the lock serialises the runs, "
           "about %gs expected)\n", elapsed, N * seconds);
    return PC_OK;
}

int demo_task_worker(int argc, char **argv)
{
    char *end1, *end2, *end3;
    long fd = argc == 5 ? strtol(argv[2], &end1, 10) : -1;
    long id = argc == 5 ? strtol(argv[3], &end2, 10) : -1;
    double seconds = argc == 5 ? strtod(argv[4], &end3) : -1;
    if (argc != 5 || *end1 || *end2 || *end3 || fd < 0 || id < 0 ||
        !(seconds >= 0)) {
        fprintf(stderr, "parconv: %s is for parconv demo task's own "
                "processes\n", DEMO_TASK_FLAG);
        return 2;
    }
    pthread_mutex_t *lock = mmap(NULL, sizeof *lock, PROT_READ | PROT_WRITE,
                                 MAP_SHARED, (int)fd, 0);
    if (lock == MAP_FAILED) {
        fprintf(stderr, "parconv: demo task process %ld: mmap: %s\n", id,
                strerror(errno));
        return 1;
    }
    doze_args a = {(int)id, seconds, (long)getpid()};
    task t = {doze_task, &a, lock};
    int e = task_run(&t);
    if (e)
        fprintf(stderr, "parconv: demo task process %ld: lock: %s\n", id,
                strerror(e));
    munmap(lock, sizeof *lock);
    return e ? 1 : 0;
}
