/* The threads lesson of the Python original, with POSIX threads: two
 * threads that sleep overlap (sleeping releases the CPU, like the GIL is
 * released), and the same two behind one lock run one after the other. */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

typedef struct {
    int id;
    double seconds;
    pthread_mutex_t *lock; /* NULL: no lock */
} sleeper;

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(int id, const char *what)
{
    pthread_mutex_lock(&print_lock);
    printf("%d: %s\n", id, what);
    fflush(stdout);
    pthread_mutex_unlock(&print_lock);
}

static void *sleep_func(void *arg)
{
    sleeper *s = arg;
    if (s->lock)
        pthread_mutex_lock(s->lock);
    say(s->id, "au dodo");
    struct timespec ts = {(time_t)s->seconds,
                          (long)((s->seconds - (double)(time_t)s->seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    say(s->id, "au réveil");
    if (s->lock)
        pthread_mutex_unlock(s->lock);
    return NULL;
}

int demo_run(const char *kind, double seconds)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int locked = strcmp(kind, "lock") == 0;
    enum { N = 2 };
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
