/*
 * libFuzzer target for the .npy reader (src/npy.c).
 *
 * Each input is the whole content of a .npy file. pc_npy_read_matrix and
 * pc_npy_read_bank take a path, so the bytes go into one temporary file per
 * process (a memfd, or an unlinked file under $TMPDIR if memfd_create is
 * unavailable), rewritten for every input and opened through
 * /proc/self/fd/N: nothing is left behind when the process dies.
 *
 * Besides crashes, leaks and undefined behaviour (ASan, LSan, UBSan), the
 * target aborts when the reader breaks its contract:
 *   - a failure returns a known PC_E* code, a message, and a zeroed result;
 *   - a success returns data of the shape it reports, and a 2-D array read
 *     as a matrix and as a one-kernel bank gives the same values;
 *   - no file descriptor is left open.
 *
 * Build (see tests/fuzz/run.sh):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -D_GNU_SOURCE -Iinclude -Isrc \
 *       tests/fuzz/fuzz_npy.c src/npy.c src/error.c src/arrays.c -lm
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif

#include "parconv.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int file_fd = -1;
static char file_path[64];

static void die(const char *what)
{
    fprintf(stderr, "fuzz_npy: %s (last error: '%s')\n", what, pc_errmsg());
    abort();
}

static int probe_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("cannot open /dev/null");
    close(fd);
    return fd;
}

static void setup(void)
{
#ifdef MFD_CLOEXEC
    file_fd = memfd_create("fuzz_npy", MFD_CLOEXEC);
#endif
    if (file_fd < 0) {
        const char *dir = getenv("TMPDIR");
        char tmpl[4096];
        snprintf(tmpl, sizeof tmpl, "%s/fuzz_npy.XXXXXX",
                 dir && *dir ? dir : "/tmp");
        file_fd = mkstemp(tmpl);
        if (file_fd < 0)
            die("cannot create a temporary file");
        unlink(tmpl);
    }
    snprintf(file_path, sizeof file_path, "/proc/self/fd/%d", file_fd);
}

static void put_bytes(const uint8_t *data, size_t size)
{
    size_t done = 0;
    if (ftruncate(file_fd, 0) != 0)
        die("ftruncate failed");
    while (done < size) {
        ssize_t w = pwrite(file_fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            die("pwrite failed");
        done += (size_t)w;
    }
}

static void check_failure(int rc, const void *result, size_t result_size)
{
    static const unsigned char zero[sizeof(pc_bank)];
    if (rc != PC_EINPUT && rc != PC_EIO && rc != PC_ENOMEM)
        die("reader failed with an unexpected status");
    if (pc_errmsg()[0] == '\0')
        die("reader failed without a message");
    if (memcmp(result, zero, result_size) != 0)
        die("reader failed but left its result non-zero");
}

/* Reads every element, so that ASan sees an allocation smaller than the
 * reported shape, and returns a value the compiler cannot drop. */
static double touch(const double *d, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += d[i] != d[i] ? 1 : 0; /* NaN-safe; values may be anything */
    return s;
}

volatile double fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pc_matrix m;
    pc_bank b;
    int rm, rb, lowest_free_fd;

    if (file_fd < 0)
        setup();
    put_bytes(data, size);
    lowest_free_fd = probe_fd(); /* what open() gives when nothing leaks */

    rm = pc_npy_read_matrix(file_path, &m);
    if (rm) {
        check_failure(rm, &m, sizeof m);
    } else {
        if (!m.data || m.rows == 0 || m.cols == 0 ||
            m.rows > SIZE_MAX / m.cols)
            die("matrix read succeeded with an impossible shape");
        fuzz_sink = touch(m.data, m.rows * m.cols);
    }

    rb = pc_npy_read_bank(file_path, &b);
    if (rb) {
        check_failure(rb, &b, sizeof b);
    } else {
        if (!b.data || b.count == 0 || b.rows == 0 || b.cols == 0 ||
            b.rows > SIZE_MAX / b.cols ||
            b.count > SIZE_MAX / (b.rows * b.cols))
            die("bank read succeeded with an impossible shape");
        fuzz_sink = touch(b.data, b.count * b.rows * b.cols);
    }

    /* Every 2-D array is also a one-kernel bank, with the same elements in
     * the same order. */
    if (rm == 0) {
        if (rb != 0)
            die("a 2-D array reads as a matrix but not as a bank");
        if (b.count != 1 || b.rows != m.rows || b.cols != m.cols)
            die("matrix and bank reads disagree on the shape");
        if (memcmp(m.data, b.data, m.rows * m.cols * sizeof(double)) != 0)
            die("matrix and bank reads disagree on the values");
    }

    if (rm == 0)
        pc_matrix_free(&m);
    if (rb == 0)
        pc_bank_free(&b);

    if (probe_fd() != lowest_free_fd)
        die("the reader leaked a file descriptor");
    return 0;
}
