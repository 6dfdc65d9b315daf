/* Every strategy gives bit-identical results to serial, on several
 * workloads, banks and worker counts (1, 2, 3, 7), with and without the
 * shared output arena, for every instruction set this CPU runs and for
 * the FFT method (procs workers plan from the parent's wisdom); and the
 * batch path equals pc_plan_execute. argv[1]: the parconv executable,
 * which procs spawns as its workers. */
#include "parconv.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static const char *exe;
/* Strategies to run (bit s); argv[2] may narrow it, e.g. "threads" for the
 * ThreadSanitizer build, where libgomp's uninstrumented threads would give
 * false reports. */
static unsigned wanted = ~0u;
#define WANTED(s) (wanted & (1u << (s)))


static void workload1(size_t M, size_t N, size_t K, size_t kh, size_t kw,
                      pc_mode mode, pc_boundary b, pc_dtype dt, pc_isa isa,
                      pc_method method)
{
    pc_matrix m;
    pc_bank bank;
    pc_gen_params g = {.seed = 1234, .lo = -50, .hi = 50};
    pc_matrix_alloc(&m, M, N);
    pc_bank_alloc(&bank, K, kh, kw);
    pc_generate(&g, M, N, &m, &bank);
    /* Non-integer values so that summation order would show. */
    for (size_t i = 0; i < M * N; i++)
        m.data[i] *= 0.1;
    pc_conv_params p;
    pc_conv_params_default(&p);
    p.mode = mode;
    p.boundary = b;
    p.dtype = dt;
    p.fillvalue = 0.3;
    p.isa = isa;
    p.method = method;
    pc_plan *plan;
    int st = pc_plan_create(&plan, &p, &m, &bank);
    CHECK(st == 0, "plan: %s", pc_errmsg());
    if (st)
        return;
    size_t plane = pc_plan_out_bytes(plan);
    uint64_t *ref = calloc(K, 8), *sums = calloc(K, 8);
    /* The reference in private memory; the strategies write a shared
     * arena (any of them) and a private one (all but procs). */
    pc_arena ref_arena, shared, private_;
    pc_arena_create(&ref_arena, K * plane, false);
    pc_arena_create(&shared, K * plane, true);
    pc_arena_create(&private_, K * plane, false);
    pc_run_result res;
    pc_run_params rp = {.strategy = PC_SERIAL, .sums = ref, .arena = &ref_arena};
    CHECK(pc_run(plan, &rp, &res) == 0, "serial: %s", pc_errmsg());

    /* The batch path equals the one-kernel path bit for bit, and a
     * kernel's checksum is that of its plane. */
    size_t orows, ocols;
    pc_plan_out_shape(plan, &orows, &ocols);
    void *one = malloc(plane);
    for (size_t k = 0; k < K; k++) {
        const char *slot = (const char *)ref_arena.base + k * plane;
        pc_plan_execute(plan, k, one);
        CHECK(memcmp(one, slot, plane) == 0, "%s kernel %zu of %zu: "
              "pc_plan_execute differs from the batch", pc_isa_name(isa), k, K);
        CHECK(pc_plane_checksum(slot, orows, plane / orows) == ref[k],
              "%s kernel %zu: checksum is not the plane's", pc_isa_name(isa), k);
    }
    free(one);

    static const unsigned counts[] = {1, 2, 3, 7};
    for (int s = PC_PROCS; s < PC_NSTRATEGIES; s++)
        if (WANTED(s))
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
            for (int with_arena = 0; with_arena < 3; with_arena++) {
                pc_arena *arena = with_arena == 2 ? &private_ : &shared;
                memset(sums, 0, K * 8);
                memset(arena->base, 0x5A, arena->bytes); /* poison */
                rp = (pc_run_params){.strategy = (pc_strategy)s,
                                     .workers = counts[c], .worker_exe = exe,
                                     .sums = sums,
                                     .arena = with_arena ? arena : NULL};
                st = pc_run(plan, &rp, &res);
                if (with_arena == 2 && s == PC_PROCS) {
                    CHECK(st == PC_EUSAGE && strstr(pc_errmsg(), "shared"),
                          "procs given a private arena: %d %s", st, pc_errmsg());
                    continue;
                }
                CHECK(st == 0, "%s x%u: %s", pc_strategy_name(s), counts[c],
                      pc_errmsg());
                /* Direct work is split by rows: more workers than rows
                 * idle. FFT work comes in (kernel group, tile row) units. */
                if (method == PC_DIRECT)
                    CHECK(res.workers == (counts[c] < orows ? counts[c] : orows),
                          "%s: %u workers used for %u asked, %zu rows",
                          pc_strategy_name(s), res.workers, counts[c], orows);
                else
                    CHECK(res.workers >= 1 && res.workers <= counts[c],
                          "%s: %u workers used for %u asked",
                          pc_strategy_name(s), res.workers, counts[c]);
                CHECK(memcmp(sums, ref, K * 8) == 0,
                      "%s x%u arena=%d %zux%zu*%zux%zu %s/%s/%s: checksums "
                      "differ from serial", pc_strategy_name(s), counts[c],
                      with_arena, M, N, kh, kw, pc_mode_name(mode),
                      pc_boundary_name(b), pc_dtype_name(dt));
                if (with_arena)
                    CHECK(memcmp(arena->base, ref_arena.base, K * plane) == 0,
                          "%s x%u: planes differ from serial",
                          pc_strategy_name(s), counts[c]);
            }
    pc_arena_destroy(&ref_arena);
    pc_arena_destroy(&shared);
    pc_arena_destroy(&private_);
    free(ref);
    free(sums);
    pc_plan_destroy(plan);
    pc_matrix_free(&m);
    pc_bank_free(&bank);
}

static void kernel_range(void)
{
    for (int method = PC_DIRECT; method <= PC_FFT; method++) {
        pc_matrix m;
        pc_bank b;
        pc_gen_params g = {.seed = 5, .lo = -9, .hi = 10};
        pc_matrix_alloc(&m, 37, 41);
        pc_bank_alloc(&b, 45, 5, 4);
        pc_generate(&g, 37, 41, &m, &b);
        pc_conv_params p;
        pc_conv_params_default(&p);
        p.method = (pc_method)method;
        pc_plan *plan;
        if (pc_plan_create(&plan, &p, &m, &b)) {
            CHECK(0, "plan: %s", pc_errmsg());
            continue;
        }
        size_t plane = pc_plan_out_bytes(plan);
        uint64_t all[45], part[45];
        pc_arena whole, some;
        pc_arena_create(&whole, 45 * plane, false);
        pc_arena_create(&some, 45 * plane, true);
        pc_run_params rp = {.strategy = PC_SERIAL, .sums = all, .arena = &whole};
        pc_run_result res;
        pc_run(plan, &rp, &res);
        static const size_t ranges[][2] = {{0, 45}, {3, 7}, {16, 32}, {30, 45},
                                           {44, 45}, {0, 1}, {9, 40}};
        for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++) {
            size_t k0 = ranges[r][0], k1 = ranges[r][1];
            for (int s = 0; s < PC_NSTRATEGIES; s++) {
                if (!WANTED(s))
                    continue;
                memset(part, 0, sizeof part);
                rp = (pc_run_params){.strategy = (pc_strategy)s, .workers = 2,
                                     .worker_exe = exe, .sums = part,
                                     .arena = &some, .k0 = k0, .k1 = k1};
                CHECK(pc_run(plan, &rp, &res) == 0, "range: %s", pc_errmsg());
                CHECK(memcmp(part + k0, all + k0, (k1 - k0) * 8) == 0 &&
                      memcmp((char *)some.base, (char *)whole.base + k0 * plane,
                             (k1 - k0) * plane) == 0,
                      "%s %s kernels %zu..%zu differ from the whole run",
                      pc_method_name((pc_method)method), pc_strategy_name(s),
                      k0, k1);
            }
        }
        rp = (pc_run_params){.strategy = PC_SERIAL, .sums = part, .k0 = 5,
                             .k1 = 3};
        CHECK(pc_run(plan, &rp, &res) == PC_EUSAGE, "empty range accepted");
        pc_arena_destroy(&whole);
        pc_arena_destroy(&some);
        pc_plan_destroy(plan);
        pc_matrix_free(&m);
        pc_bank_free(&b);
    }
}

static void workload(size_t M, size_t N, size_t K, size_t kh, size_t kw,
                     pc_mode mode, pc_boundary b, pc_dtype dt)
{
    for (int isa = PC_ISA_GENERIC; isa < PC_NISAS; isa++)
        if (pc_isa_supported((pc_isa)isa))
            workload1(M, N, K, kh, kw, mode, b, dt, (pc_isa)isa, PC_DIRECT);
    workload1(M, N, K, kh, kw, mode, b, dt, PC_ISA_AUTO, PC_FFT);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: test_strategies PARCONV_EXECUTABLE "
                        "[STRATEGY,...]\n");
        return 2;
    }
    exe = argv[1];
    if (argc == 3) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", argv[2]);
        wanted = 1u << PC_SERIAL; /* the reference always runs */
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            int v = pc_strategy_parse(t);
            if (v < 0) {
                fprintf(stderr, "test_strategies: unknown strategy '%s'\n", t);
                return 2;
            }
            wanted |= 1u << v;
        }
    }
    workload(64, 48, 5, 5, 3, PC_FULL, PC_FILL, PC_F64);
    workload(40, 40, 3, 4, 4, PC_SAME, PC_WRAP, PC_F32);
    workload(30, 50, 6, 7, 2, PC_VALID, PC_SYMM, PC_F64);
    workload(5, 6, 2, 9, 11, PC_FULL, PC_SYMM, PC_F32); /* kernel > matrix */
    workload(120, 100, 9, 10, 10, PC_FULL, PC_FILL, PC_F64);
    workload(20, 20, 1, 3, 3, PC_SAME, PC_FILL, PC_F64); /* one kernel */
    /* Banks that fill whole sets, a one-vector set and singles. */
    workload(50, 37, 41, 4, 5, PC_FULL, PC_FILL, PC_F32);
    workload(61, 45, 100, 10, 10, PC_FULL, PC_FILL, PC_F64);
    /* Rows whose last pixels fill half a vector or less (the direct
     * kernel's half-vector tail) and banks that the row kernel takes in
     * chunks of every size (1..6 kernels at once): output columns
     * 72 = 64 + 8 (f32), 131 = 4 * 32 + 3 (f64), 71 = 64 + 7 (f32). */
    workload(9, 66, 43, 3, 7, PC_FULL, PC_FILL, PC_F32);
    workload(7, 131, 23, 2, 3, PC_SAME, PC_WRAP, PC_F64);
    workload(6, 75, 58, 3, 5, PC_VALID, PC_SYMM, PC_F32);

    /* A kernel range computes just those kernels, bit for bit as the whole
     * bank does, with the arena holding only the range. */
    kernel_range();

    /* A worker executable that does not exist fails cleanly. */
    pc_matrix m;
    pc_bank b;
    pc_matrix_alloc(&m, 8, 8);
    pc_bank_alloc(&b, 2, 3, 3);
    pc_conv_params p;
    pc_conv_params_default(&p);
    pc_plan *plan;
    pc_plan_create(&plan, &p, &m, &b);
    uint64_t sums[2];
    pc_run_params rp = {.strategy = PC_PROCS, .workers = 2,
                        .worker_exe = "/nonexistent/parconv", .sums = sums};
    pc_run_result res;
    int st = pc_run(plan, &rp, &res);
    CHECK(st != 0 && strstr(pc_errmsg(), "worker") != NULL,
          "missing worker executable: status %d, '%s'", st, pc_errmsg());
    pc_plan_destroy(plan);
    pc_matrix_free(&m);
    pc_bank_free(&b);
    return t_summary("test_strategies");
}
