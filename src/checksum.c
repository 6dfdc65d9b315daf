/* Checksums of output planes. Four independent lanes of xxHash64-style
 * rounds keep pace with memory bandwidth, so hashing costs little next to
 * the convolution. Words are read in the machine's byte order, so the hash
 * of given bytes is the same on every little-endian machine. */
#include "internal.h"

#include <string.h>

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t round1(uint64_t acc, uint64_t v)
{
    return rotl(acc + v * P2, 31) * P1;
}

static uint64_t merge(uint64_t h, uint64_t v)
{
    return (h ^ round1(0, v)) * P1 + P4;
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t pc_hash(const void *data, size_t n)
{
    const unsigned char *p = data, *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
        for (; end - p >= 32; p += 32) {
            v1 = round1(v1, load64(p));
            v2 = round1(v2, load64(p + 8));
            v3 = round1(v3, load64(p + 16));
            v4 = round1(v4, load64(p + 24));
        }
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = merge(merge(merge(merge(h, v1), v2), v3), v4);
    } else {
        h = P5;
    }
    h += (uint64_t)n;
    for (; end - p >= 8; p += 8)
        h = rotl(h ^ round1(0, load64(p)), 27) * P1 + P4;
    for (; p < end; p++)
        h = rotl(h ^ (*p * P5), 11) * P1;
    /* Final avalanche. */
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t pc_hash_combine(const uint64_t *sums, size_t n)
{
    return pc_hash(sums, n * sizeof *sums);
}
