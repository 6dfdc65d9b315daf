/* parconv calibrate: times the direct and the FFT method on workloads on
 * either side of the crossover and stores the cost model's constants for
 * this machine in the calibration file (calibration.c). */
#include "calibration.h"
#include "commands.h"

#include <math.h>
#include <stdlib.h>

/* Seconds per kernel of a serial run of the given workload and method,
 * and the plan's model units for it (estimates with unit constants). */
static int measure(const cli_options *o, size_t n, size_t k, size_t count,
                   pc_method method, double *per_kernel, double *units)
{
    pc_matrix m = {0};
    pc_bank b = {0};
    pc_plan *plan = NULL;
    uint64_t *sums = NULL;
    pc_gen_params g = {.seed = 1, .lo = 0, .hi = 100};
    int st = pc_matrix_alloc(&m, n, n);
    if (!st)
        st = pc_bank_alloc(&b, count, k, k);
    if (!st)
        st = pc_generate(&g, n, n, &m, &b);
    pc_conv_params p = o->conv;
    p.method = method;
    p.mode = PC_FULL;
    p.cost_direct = p.cost_fft = 1.0;
    p.wisdom = NULL;
    if (!st)
        st = pc_plan_create(&plan, &p, &m, &b);
    if (!st && !(sums = calloc(count, sizeof *sums)))
        st = pc_error(PC_ENOMEM, "cannot allocate checksums");
    double best = 1e300;
    for (int rep = 0; !st && rep < 3; rep++) {
        pc_run_params rp = {.strategy = PC_SERIAL, .sums = sums};
        pc_run_result res;
        st = pc_run(plan, &rp, &res);
        if (!st && res.seconds < best)
            best = res.seconds;
    }
    if (!st) {
        double d, f;
        pc_plan_estimates(plan, &d, &f);
        *units = method == PC_FFT ? f : d;
        *per_kernel = best / (double)count;
    }
    free(sums);
    pc_plan_destroy(plan);
    pc_matrix_free(&m);
    pc_bank_free(&b);
    return st;
}

int calibrate_cmd(cli_options *o)
{
    char buf[4096];
    const char *path = o->calibration ? o->calibration
                                      : calibration_default_path(buf, sizeof buf);
    if (!path)
        return pc_error(PC_EUSAGE, "no HOME to keep the calibration in; give "
                        "--calibration FILE");
    pc_isa isa = o->conv.isa == PC_ISA_AUTO ? pc_isa_best() : o->conv.isa;
    /* The file is read before the measurements, so a bad one stops at
     * once; the other dtypes' and ISAs' entries are kept. A file of an
     * older parconv is replaced, as its message says. */
    json_t *root;
    bool old;
    int st = calibration_read(path, &root, &old);
    if (st && !old)
        return st;
    if (!root && !(root = json_object()))
        return pc_error(PC_ENOMEM, "cannot write '%s': out of memory", path);
    /* Workloads on either side of the crossover, so each constant is
     * measured where that method is used. */
    double td, ud, tf, uf, td2, ud2, tf2, uf2;
    st = measure(o, 512, 7, 32, PC_DIRECT, &td, &ud);
    if (!st)
        st = measure(o, 512, 17, 16, PC_DIRECT, &td2, &ud2);
    if (!st)
        st = measure(o, 512, 17, 16, PC_FFT, &tf, &uf);
    if (!st)
        st = measure(o, 512, 41, 8, PC_FFT, &tf2, &uf2);
    double cd = 0, cf = 0;
    if (!st) {
        cd = 0.5 * (td / ud + td2 / ud2);
        cf = 0.5 * (tf / uf + tf2 / uf2);
        if (!(isfinite(cd) && cd > 0 && isfinite(cf) && cf > 0))
            st = pc_error(PC_ESYS, "calibrate: the runs took no measurable "
                          "time");
    }
    if (!st && calibration_set(root, pc_dtype_name(o->conv.dtype), pc_isa_name(isa),
                         cd, cf))
        st = pc_error(PC_ENOMEM, "cannot write '%s': out of memory", path);
    if (!st)
        st = calibration_write(path, root);
    json_decref(root);
    if (st)
        return st;
    double dd, df;
    pc_cost_defaults(o->conv.dtype, isa, &dd, &df);
    printf("calibrated %s %s: direct %.4g s per output x tap (built-in %.4g), "
           "fft %.4g s per P*Q*log2(P*Q) (built-in %.4g)\nwrote %s%s\n",
           pc_dtype_name(o->conv.dtype), pc_isa_name(isa), cd, dd, cf, df, path,
           old ? " (it was a calibration file of an older parconv)" : "");
    return PC_OK;
}
