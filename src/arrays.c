/* Allocation of matrices, banks and aligned buffers. */
#include "base.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Every block starts with a 64-byte header that says how it was made, so
 * the pointer handed out stays 64-byte aligned. */
typedef struct {
    size_t total;
    int mapped;
    char *map;      /* mapped: what mmap returned, and its length */
    size_t map_len;
} block_head;
#define HEAD 64
/* From here up, memory comes from mmap, in transparent huge pages where
 * the kernel allows them, and every page is taken at once (see
 * pc_prefault). */
#define BIG ((size_t)1 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void pc_touch(void *p, size_t bytes, bool write)
{
    /* One byte in each page the range covers, every byte inside it: a
     * write stores what is there, so a range that borders another
     * worker's changes nothing of it. */
    volatile char *c = p;
    for (size_t off = 0; off < bytes; off += 4096 - (((uintptr_t)p + off) & 4095)) {
        if (write)
            c[off] = c[off];
        else
            (void)c[off];
    }
}

int pc_prefault(void *p, size_t bytes)
{
    /* Measured on the development VM: a page's first write costs 4-14 us
     * in each process that maps it, MAP_POPULATE or not; 2 MB pages taken
     * with MADV_POPULATE_WRITE then write at memory speed (18 GB/s against
     * 1 GB/s). The loop is for kernels without it (EINVAL); any other
     * failure (no memory) is reported rather than left to the OOM killer
     * at the first touch. */
#ifdef MADV_POPULATE_WRITE
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095;
    if (madvise((void *)a, (uintptr_t)p + bytes - a, MADV_POPULATE_WRITE) == 0)
        return 0;
    if (errno != EINVAL)
        return -1;
#endif
    pc_touch(p, bytes, true);
    return 0;
}

void *pc_alloc(size_t bytes)
{
    size_t total;
    if (!pc_add_ok(bytes, HEAD + 63, &total))
        return NULL;
    total &= ~(size_t)63;
    char *p;
    block_head h = {total, total >= BIG, NULL, 0};
    if (h.mapped) {
        /* Aligned to a huge page, so the whole block can be made of them. */
        if (!pc_add_ok(total, HUGE_PAGE, &h.map_len))
            return NULL;
        h.map = mmap(NULL, h.map_len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (h.map == MAP_FAILED)
            return NULL;
        p = (char *)(((uintptr_t)h.map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
#ifdef MADV_HUGEPAGE
        madvise(p, total, MADV_HUGEPAGE);
#endif
        if (pc_prefault(p, total) != 0) {
            munmap(h.map, h.map_len);
            return NULL;
        }
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
        munmap(h.map, h.map_len);
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
