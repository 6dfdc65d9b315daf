/* The writer of -o (writer.h): a queue of batches under one mutex; each
 * thread first finishes the oldest batch if all its planes are stored and
 * no one else is finishing one, else claims the next plane to store, else
 * sleeps. */
#include "writer.h"

#include "parconv.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* More batches than slots are never in flight: run.c has two slots. */
#define QUEUE 8

struct writer {
    writer_ops ops;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t tid[WRITER_MAX_THREADS];
    unsigned started;
    /* Batches [head, tail) are handed over and not done; planes of batch
     * `claim` from `next` on are not claimed yet (earlier batches' all
     * are); stored[i % QUEUE]: planes of batch i stored. */
    writer_batch q[QUEUE];
    size_t head, tail, claim, next, stored[QUEUE];
    bool finishing, quit;
    /* The first error in the order of the work (batch, then plane, then
     * the batch's done), not of the clock: threads storing planes side by
     * side fail alike (a full disk), and the one said is the first plane's.
     * Its message in msg; at: where. */
    int st;
    char msg[2048];
    size_t at_batch, at_item;
    double since, busy, waited;
};

static size_t planes(const writer_batch *b)
{
    return b->k1 - b->k0;
}

/* The first error is kept, with its message (pc_errmsg is per thread):
 * item i of batch b (the batch's planes, then its done). Planes are
 * claimed in order, so none before a failed one is skipped. */
static void failed(writer *w, int st, size_t b, size_t i)
{
    if (st && (!w->st || b < w->at_batch ||
               (b == w->at_batch && i < w->at_item))) {
        w->st = st;
        w->at_batch = b;
        w->at_item = i;
        snprintf(w->msg, sizeof w->msg, "%s", pc_errmsg());
    }
}

static bool slot_held(const writer *w, unsigned slot)
{
    for (size_t i = w->head; i < w->tail; i++)
        if (w->q[i % QUEUE].slot == slot &&
            w->stored[i % QUEUE] < planes(&w->q[i % QUEUE]))
            return true;
    return false;
}

static void *writer_thread(void *arg)
{
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (!w->finishing && w->head < w->tail &&
            w->stored[w->head % QUEUE] == planes(&w->q[w->head % QUEUE])) {
            size_t at = w->head;
            writer_batch b = w->q[at % QUEUE];
            bool skip = w->st != 0;
            w->finishing = true;
            pthread_mutex_unlock(&w->mu);
            int st = skip ? PC_OK : w->ops.done(w->ops.ctx, &b);
            pthread_mutex_lock(&w->mu);
            failed(w, st, at, planes(&b));
            w->finishing = false;
            if (++w->head == w->tail)
                w->busy += pc_now() - w->since;
            pthread_cond_broadcast(&w->cv);
        } else if (w->claim < w->tail) {
            size_t at = w->claim, i = w->next++;
            writer_batch b = w->q[at % QUEUE];
            if (w->next == planes(&b)) {
                w->claim++;
                w->next = 0;
            }
            bool skip = w->st != 0;
            pthread_mutex_unlock(&w->mu);
            int st = skip ? PC_OK : w->ops.plane(w->ops.ctx, &b, i);
            pthread_mutex_lock(&w->mu);
            failed(w, st, at, i);
            if (++w->stored[at % QUEUE] == planes(&b))
                pthread_cond_broadcast(&w->cv);
        } else if (w->quit) {
            break;
        } else {
            pthread_cond_wait(&w->cv, &w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int writer_start(writer **out, const writer_ops *ops)
{
    writer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w)
        return pc_error(PC_ENOMEM, "cannot start the writer: out of memory");
    w->ops = *ops;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    unsigned n = ops->threads < 1 ? 1
                 : ops->threads > WRITER_MAX_THREADS ? WRITER_MAX_THREADS
                                                      : ops->threads;
    /* The threads inherit this mask: a signal goes to the main thread,
     * whose handler's flag stops the computing. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (; w->started < n; w->started++)
        if (pthread_create(&w->tid[w->started], NULL, writer_thread, w) != 0)
            break;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->started) {
        writer_end(w);
        *out = NULL;
        return pc_error(PC_ESYS, "cannot start the writer's thread");
    }
    return PC_OK;
}

/* The first error, raised again in the calling thread. Under the lock. */
static int status(const writer *w)
{
    return w->st ? pc_error(w->st, "%s", w->msg) : PC_OK;
}

int writer_submit(writer *w, const writer_batch *b)
{
    pthread_mutex_lock(&w->mu);
    while (w->tail - w->head == QUEUE)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->head == w->tail)
        w->since = pc_now();
    w->q[w->tail % QUEUE] = *b;
    w->stored[w->tail % QUEUE] = 0;
    w->tail++;
    pthread_cond_broadcast(&w->cv);
    int st = status(w);
    pthread_mutex_unlock(&w->mu);
    return st;
}

int writer_wait_slot(writer *w, unsigned slot)
{
    double t = pc_now();
    pthread_mutex_lock(&w->mu);
    while (slot_held(w, slot))
        pthread_cond_wait(&w->cv, &w->mu);
    w->waited += pc_now() - t;
    int st = status(w);
    pthread_mutex_unlock(&w->mu);
    return st;
}

int writer_drain(writer *w)
{
    double t = pc_now();
    pthread_mutex_lock(&w->mu);
    while (w->head < w->tail)
        pthread_cond_wait(&w->cv, &w->mu);
    w->waited += pc_now() - t;
    int st = status(w);
    pthread_mutex_unlock(&w->mu);
    return st;
}

void writer_times(const writer *w, double *busy, double *waited)
{
    *busy = w ? w->busy : 0;
    *waited = w ? w->waited : 0;
}

void writer_end(writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->head < w->tail)
        pthread_cond_wait(&w->cv, &w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->started; i++)
        pthread_join(w->tid[i], NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
