/* Allocation of matrices, banks and aligned buffers. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Every block starts with a 64-byte header that says how it was made, so
 * the pointer handed out stays 64-byte aligned. */
typedef struct {
    size_t total;
    int mapped;
} block_head;
#define HEAD 64
/* From here up, memory comes from mmap with MAP_POPULATE: one call takes
 * all the pages, where touching them one by one costs a fault each
 * (microseconds in a virtual machine). */
#define BIG ((size_t)1 << 20)

void *pc_alloc(size_t bytes)
{
    size_t total;
    if (!pc_add_ok(bytes, HEAD + 63, &total))
        return NULL;
    total &= ~(size_t)63;
    char *p;
    block_head h = {total, total >= BIG};
    if (h.mapped) {
        p = mmap(NULL, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        /* Fresh anonymous pages are zero already. */
    } else {
        p = aligned_alloc(64, total);
        if (!p)
            return NULL;
        memset(p, 0, total);
    }
    memcpy(p, &h, sizeof h);
    return p + HEAD;
}

void pc_free(void *ptr)
{
    if (!ptr)
        return;
    char *p = (char *)ptr - HEAD;
    block_head h;
    memcpy(&h, p, sizeof h);
    if (h.mapped)
        munmap(p, h.total);
    else
        free(p);
}

int pc_matrix_alloc(pc_matrix *m, size_t rows, size_t cols)
{
    size_t n, bytes;
    m->rows = rows;
    m->cols = cols;
    m->data = NULL;
    if (!pc_mul_ok(rows, cols, &n) || !pc_mul_ok(n, sizeof(double), &bytes))
        return pc_error(PC_EUSAGE, "matrix of %zux%zu is too large", rows, cols);
    m->data = pc_alloc(bytes);
    if (!m->data)
        return pc_error(PC_ENOMEM, "cannot allocate a %zux%zu matrix", rows, cols);
    return PC_OK;
}

void pc_matrix_free(pc_matrix *m)
{
    pc_free(m->data);
    m->data = NULL;
}

int pc_bank_alloc(pc_bank *b, size_t count, size_t rows, size_t cols)
{
    size_t n, bytes;
    b->count = count;
    b->rows = rows;
    b->cols = cols;
    b->data = NULL;
    if (!pc_mul_ok(rows, cols, &n) || !pc_mul_ok(n, count, &n) ||
        !pc_mul_ok(n, sizeof(double), &bytes))
        return pc_error(PC_EUSAGE, "bank of %zu kernels of %zux%zu is too large",
                        count, rows, cols);
    b->data = pc_alloc(bytes);
    if (!b->data)
        return pc_error(PC_ENOMEM, "cannot allocate %zu kernels of %zux%zu",
                        count, rows, cols);
    return PC_OK;
}

void pc_bank_free(pc_bank *b)
{
    pc_free(b->data);
    b->data = NULL;
}
