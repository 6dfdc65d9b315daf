/* Allocation of matrices, banks and aligned buffers. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *pc_alloc(size_t bytes)
{
    /* 64-byte alignment serves every vector width we use; rounding the size
     * up keeps aligned_alloc's contract. */
    size_t rounded;
    if (!pc_add_ok(bytes, 63, &rounded))
        return NULL;
    rounded &= ~(size_t)63;
    if (rounded == 0)
        rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void pc_free(void *p)
{
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
