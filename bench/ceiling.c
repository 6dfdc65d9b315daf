/* The FMA ceiling from assembly: a register-only loop of vfmadd231 on 12
 * independent accumulators (Zen 4: latency 4 x 2 pipes needs 8; 12 leave
 * room for CPUs with more), 512-bit (zmm) and 256-bit (ymm), f64 (pd) and
 * f32 (ps), one thread. Nothing the compiler could schedule differently:
 * the yardstick `parconv peak`'s C loop is checked against (bench/direct.sh).
 *
 * Build: cc -O2 -o ceiling bench/ceiling.c   (x86-64, GCC or clang)
 * Usage: ceiling [REPS]   best of REPS (default 20) runs of ~10 ms each;
 * prints one line per loop: "zmm f64 GFLOP/s 57.61" (zmm lines only where
 * the CPU has AVX-512F). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if !defined(__x86_64__)
int main(void)
{
    fprintf(stderr, "ceiling: x86-64 only\n");
    return 1;
}
#else

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* One instruction on accumulator n: acc += f14 * f15, or acc = 0. */
#define FMA(R, OP, n) OP " %%" R "14, %%" R "15, %%" R #n "\n\t"
#define ZERO(R, OP, n) OP " %%" R #n ", %%" R #n ", %%" R #n "\n\t"
#define ALL12(M, R, OP)                                                        \
    M(R, OP, 0) M(R, OP, 1) M(R, OP, 2) M(R, OP, 3) M(R, OP, 4) M(R, OP, 5)    \
    M(R, OP, 6) M(R, OP, 7) M(R, OP, 8) M(R, OP, 9) M(R, OP, 10) M(R, OP, 11)

/* One loop: zero the accumulators, set both factors to one normal value,
 * run n iterations of 12 FMAs. */
#define LOOP(name, R, OP, XOR, TARGET)                                         \
    __attribute__((target(TARGET))) static void name(long n)                   \
    {                                                                          \
        static const double one = 1e-3;                                        \
        __asm__ volatile(                                                      \
            "vbroadcastsd %1, %%" R "14\n\tvbroadcastsd %1, %%" R "15\n\t"    \
            ALL12(ZERO, R, XOR) "1:\n\t" ALL12(FMA, R, OP)                     \
            "dec %0\n\tjnz 1b\n\t"                                             \
            : "+r"(n)                                                          \
            : "m"(one)                                                         \
            : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",  \
              "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");       \
    }

/* The factor is a double; the ps loops read its 8 bytes as two floats,
 * about -5e11 and 0.81: normal, and 3M iterations of their product stay
 * far from overflow. */
LOOP(zmm_pd, "zmm", "vfmadd231pd", "vpxord", "avx512f")
LOOP(zmm_ps, "zmm", "vfmadd231ps", "vpxord", "avx512f")
LOOP(ymm_pd, "ymm", "vfmadd231pd", "vpxor", "avx2,fma")
LOOP(ymm_ps, "ymm", "vfmadd231ps", "vpxor", "avx2,fma")

typedef struct {
    const char *name;
    void (*fn)(long);
    int lanes; /* per vector */
    const char *needs;
} loop;

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    if (reps < 1 || argc > 2) {
        fprintf(stderr, "usage: ceiling [REPS]\n");
        return 2;
    }
    __builtin_cpu_init();
    const loop loops[] = {
        {"zmm f64", zmm_pd, 8, "avx512f"}, {"zmm f32", zmm_ps, 16, "avx512f"},
        {"ymm f64", ymm_pd, 4, "fma"},     {"ymm f32", ymm_ps, 8, "fma"},
    };
    const int nl = sizeof loops / sizeof *loops;
    const long iters = 3000000; /* 36M FMAs: ~10 ms at one per cycle */
    double best[4] = {0, 0, 0, 0};
    int ok[4];
    for (int l = 0; l < nl; l++)
        ok[l] = loops[l].needs[0] == 'a' ? __builtin_cpu_supports("avx512f")
                                         : __builtin_cpu_supports("avx2") &&
                                               __builtin_cpu_supports("fma");
    /* Alternately, so a busy moment hits all loops alike; best of reps:
     * a neighbour can only make a run slower. */
    for (int r = 0; r < reps; r++)
        for (int l = 0; l < nl; l++) {
            if (!ok[l])
                continue;
            double t0 = now();
            loops[l].fn(iters);
            double g = 2.0 * 12 * loops[l].lanes * (double)iters / (now() - t0) / 1e9;
            if (g > best[l])
                best[l] = g;
        }
    for (int l = 0; l < nl; l++)
        if (ok[l])
            printf("%s GFLOP/s %.2f\n", loops[l].name, best[l]);
    return 0;
}
#endif
