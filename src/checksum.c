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
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

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

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t xxh_round(uint64_t acc, uint64_t input)
{
    return rotl(acc + input * P2, 31) * P1;
}

static uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
    return (acc ^ xxh_round(0, v)) * P1 + P4;
}

/* xxHash64 as its specification gives it (little-endian reads, so the
 * values are its reference values on the machines parconv runs on). */
uint64_t pc_xxhash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        for (; p + 32 <= end; p += 32) {
            v1 = xxh_round(v1, read64(p));
            v2 = xxh_round(v2, read64(p + 8));
            v3 = xxh_round(v3, read64(p + 16));
            v4 = xxh_round(v4, read64(p + 24));
        }
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = xxh_merge(xxh_merge(xxh_merge(xxh_merge(h, v1), v2), v3), v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)n;
    for (; p + 8 <= end; p += 8)
        h = rotl(h ^ xxh_round(0, read64(p)), 27) * P1 + P4;
    if (p + 4 <= end) {
        uint32_t w;
        memcpy(&w, p, 4);
        h = rotl(h ^ (uint64_t)w * P1, 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++)
        h = rotl(h ^ *p * P5, 11) * P1;
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
