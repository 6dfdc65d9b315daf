/* A few helpers for the C unit tests: counted checks and a seeded RNG. */
#ifndef PC_TESTUTIL_H
#define PC_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

static int t_checks, t_failed;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        t_checks++;                                                          \
        if (!(cond)) {                                                       \
            t_failed++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                      \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

static inline int t_summary(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, t_checks, t_failed);
    return t_failed ? 1 : 0;
}

/* splitmix64: tests need their own small generator, independent of GSL. */
static uint64_t t_state = 0x243F6A8885A308D3ULL;
static inline uint64_t t_rand(void)
{
    uint64_t z = (t_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline size_t t_between(size_t lo, size_t hi) /* inclusive */
{
    return lo + (size_t)(t_rand() % (hi - lo + 1));
}
static inline double t_uniform(void) /* [-1, 1) */
{
    return (double)(t_rand() >> 11) * 0x1.0p-52 - 1.0;
}

#endif
