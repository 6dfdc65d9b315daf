/* Checksums of output rows, kernels and runs. Every output row is hashed
 * as it is made, so the hash must keep pace with the FMA units: eight
 * independent lanes of Fletcher-style sums (a += word; b += a) vectorise
 * on any target, and xxHash64's avalanche mixes them at the end. Words are
 * read in the machine's byte order, so a given byte string has the same
 * checksum on every little-endian machine. */
#include "base.h"

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
 * the lanes wider where the CPU allows. Two sets of eight lanes take
 * alternate 64-byte blocks, so the add chains overlap; the tail, under 64
 * bytes, goes word by word into two scalar sums (no copy through memory).
 * At the end the sums are combined with odd constants, one multiply each
 * and independent of the others, then n is mixed in and xxHash64's
 * avalanche spreads every bit: folding the sums one after the other
 * through an avalanche each cost as much as the whole loop. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
uint64_t pc_hash(const void *data, size_t n)
{
    enum { LANES = 8, SUMS = 4 * LANES };
    const unsigned char *p = data;
    uint64_t s[SUMS] = {0}; /* a0, b0, a1, b1: LANES each */
    uint64_t *a0 = s, *b0 = s + LANES, *a1 = s + 2 * LANES, *b1 = s + 3 * LANES;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        uint64_t w0[LANES], w1[LANES];
        memcpy(w0, p + i, sizeof w0);
        memcpy(w1, p + i + 64, sizeof w1);
        for (int l = 0; l < LANES; l++) {
            a0[l] += w0[l];
            b0[l] += a0[l];
            a1[l] += w1[l];
            b1[l] += a1[l];
        }
    }
    if (i + 64 <= n) {
        uint64_t w[LANES];
        memcpy(w, p + i, sizeof w);
        for (int l = 0; l < LANES; l++) {
            a0[l] += w[l];
            b0[l] += a0[l];
        }
        i += 64;
    }
    uint64_t ta = 0, tb = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        ta += w;
        tb += ta;
    }
    uint64_t last = 0;
    for (size_t b = 0; i + b < n; b++)
        last |= (uint64_t)p[i + b] << (8 * b);
    ta += last;
    tb += ta;
    uint64_t h = ta * P1 + tb * P2;
    for (int j = 0; j < SUMS; j++)
        h += s[j] * (P3 + 2 * P1 * (uint64_t)j); /* odd: P3 is */
    return avalanche(avalanche(h) ^ (P2 * (uint64_t)n + P3));
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
