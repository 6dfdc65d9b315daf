/* bank: apply a bank of kernels to a matrix with libparconv and write the
 * stack of results as one .npy file.
 *
 *     bank MATRIX.npy BANK.npy OUT.npy [STRATEGY]
 *
 * MATRIX.npy holds a 2-D array, BANK.npy a 3-D stack of K kernels (or one
 * 2-D kernel); OUT.npy receives K planes of scipy.signal.convolve2d(matrix,
 * kernel) (mode full, zero fill) as a (K, R', C') float64 array. STRATEGY
 * is serial, procs, threads or omp (the default).
 *
 * Uses only the installed API; build it with
 *     cc bank.c -o bank $(pkg-config --cflags --libs parconv)
 */
#include <parconv.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what)
{
    fprintf(stderr, "bank: %s: %s\n", what, pc_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    /* The procs strategy starts this same program as its workers (see
     * pc_run_params.worker_exe below); a worker does its share and leaves
     * here, before anything else happens. */
    int status;
    if (pc_worker_check(argc, argv, &status))
        return status;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: bank MATRIX.npy BANK.npy OUT.npy [STRATEGY]\n");
        return 2;
    }
    int strategy = argc == 5 ? pc_strategy_parse(argv[4]) : PC_OMP;
    if (strategy < 0) {
        fprintf(stderr, "bank: unknown strategy '%s' (serial, procs, threads, "
                        "omp)\n", argv[4]);
        return 2;
    }

    pc_matrix m = {0};
    pc_bank b = {0};
    pc_plan *plan = NULL;
    pc_arena arena = {.fd = -1};
    uint64_t *sums = NULL;
    int rc = 1;
    if (pc_npy_read_matrix(argv[1], &m) || pc_npy_read_bank(argv[2], &b)) {
        rc = fail("cannot read the inputs");
        goto done;
    }

    /* The defaults are scipy's: mode full, zero fill, float64, direct. */
    pc_conv_params p;
    pc_conv_params_default(&p);
    if (pc_plan_create(&plan, &p, &m, &b)) {
        rc = fail("cannot plan");
        goto done;
    }

    /* Every kernel's plane goes into one arena, kernel k at k * plane
     * bytes: exactly the (K, R', C') array to write. procs workers can
     * only write into a shared arena. */
    size_t count = pc_plan_count(plan), plane = pc_plan_out_bytes(plan);
    sums = calloc(count, sizeof *sums);
    if (!sums || pc_arena_create(&arena, count * plane, strategy == PC_PROCS)) {
        rc = fail("cannot allocate the outputs");
        goto done;
    }
    /* As many workers as CPUs this process may use (its affinity, a
     * cgroup quota), not the machine's. */
    pc_cpu_info cpus;
    pc_cpu_info_get(&cpus);
    pc_run_params rp = {
        .strategy = (pc_strategy)strategy,
        .workers = cpus.usable,
        .worker_exe = "/proc/self/exe", /* this program, see the top */
        .sums = sums,
        .arena = &arena,
    };
    pc_run_result res;
    if (pc_run(plan, &rp, &res)) {
        rc = fail("the convolution failed");
        goto done;
    }

    size_t shape[3] = {count, 0, 0};
    pc_plan_out_shape(plan, &shape[1], &shape[2]);
    if (pc_npy_write(argv[3], p.dtype, 3, shape, arena.base)) {
        rc = fail("cannot write the result");
        goto done;
    }
    printf("%zu kernels of %zux%zu on a %zux%zu matrix: %s, %u workers, "
           "%.3f s\n", count, b.rows, b.cols, m.rows, m.cols,
           pc_strategy_name((pc_strategy)strategy), res.workers, res.seconds);
    rc = 0;

done:
    if (arena.base)
        pc_arena_destroy(&arena);
    free(sums);
    pc_plan_destroy(plan);
    pc_bank_free(&b);
    pc_matrix_free(&m);
    return rc;
}
