/* -o's writer: threads of its own store a batch's planes while the next
 * batch is computed. Batches are handed over in order; each occupies one of
 * a few buffers (slots) until every plane of it is stored, then is made
 * durable and recorded (its `done`), one batch at a time and in order, so
 * that the manifest only ever lists a prefix of what was handed over. */
#ifndef PC_WRITER_H
#define PC_WRITER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct writer writer;

/* Plan kernels [k0, k1) of matrix n, plane q0 of the run the first, whose
 * planes are in buffer `slot`. */
typedef struct {
    size_t n, k0, k1, q0;
    unsigned slot;
} writer_batch;

typedef struct {
    /* Stores plane i of batch b. With threads > 1 it is called from
     * several threads at once, for different planes. */
    int (*plane)(void *ctx, const writer_batch *b, size_t i);
    /* Every plane of b is stored: makes them durable and records them.
     * Batches in order, one at a time (planes of the next batch may be
     * stored meanwhile when threads > 1). */
    int (*done)(void *ctx, const writer_batch *b);
    void *ctx;
    unsigned threads; /* 1 .. WRITER_MAX_THREADS */
} writer_ops;

#define WRITER_MAX_THREADS 8

/* Starts the threads, with SIGINT and SIGTERM blocked in them (the main
 * thread heeds those). */
int writer_start(writer **w, const writer_ops *ops);
/* Hands b over. Returns the first error the writer met (its message as
 * pc_errmsg), after which nothing more is stored. */
int writer_submit(writer *w, const writer_batch *b);
/* Waits until no batch handed over holds buffer slot; the first error. */
int writer_wait_slot(writer *w, unsigned slot);
/* Waits until every batch handed over is done; the first error. */
int writer_drain(writer *w);
/* Seconds the writer had work (from a hand-over to an idle writer until it
 * is idle again, summed), and of them those the caller spent waiting in
 * writer_wait_slot and writer_drain: the writing not overlapped with
 * computing. */
void writer_times(const writer *w, double *busy, double *waited);
/* Drains, stops the threads and frees w (NULL: nothing). */
void writer_end(writer *w);

#endif
