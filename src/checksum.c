/* Checksums of output rows, kernels and runs. Every output row is hashed
 * as it is made, so the hash must keep pace with the FMA units: eight
 * independent lanes of Fletcher-style sums (a += word; b += a) vectorise
 * on any target, and xxHash64's avalanche mixes them at the end. Words are
 * read in the machine's byte order, so a given byte string has the same
 * checksum on every little-endian machine. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL

static uint64_t avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* Integer sums give the same result on every ISA; the clones only make
 * the lanes wider where the CPU allows. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
uint64_t pc_hash(const void *data, size_t n)
{
    enum { LANES = 8 };
    const unsigned char *p = data;
    uint64_t a[LANES] = {0}, b[LANES] = {0};
    size_t i = 0;
    for (; i + 8 * LANES <= n; i += 8 * LANES) {
        uint64_t w[LANES];
        memcpy(w, p + i, sizeof w);
        for (int l = 0; l < LANES; l++) {
            a[l] += w[l];
            b[l] += a[l];
        }
    }
    uint64_t h = P1 ^ (uint64_t)n;
    for (int l = 0; l < LANES; l++)
        h = (h ^ avalanche(a[l] + (uint64_t)l)) * P1 + (b[l] ^ (h >> 29));
    /* The tail, byte by byte. */
    for (; i < n; i++)
        h = (h ^ p[i]) * P1;
    return avalanche(h);
}

uint64_t pc_hash_combine(const uint64_t *sums, size_t n)
{
    return pc_hash(sums, n * sizeof *sums);
}

uint64_t pc_plane_checksum(const void *plane, size_t rows, size_t row_bytes)
{
    uint64_t *h = malloc(rows * sizeof *h + 1);
    if (!h)
        return 0;
    for (size_t i = 0; i < rows; i++)
        h[i] = pc_hash((const char *)plane + i * row_bytes, row_bytes);
    uint64_t sum = pc_hash_combine(h, rows);
    free(h);
    return sum;
}
