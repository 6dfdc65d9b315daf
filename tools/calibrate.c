/* The cost model's constants: measured by `parconv calibrate`, stored one
 * line per dtype and ISA ("f64 avx512 direct 2.3e-11 fft 1.9e-10"), read
 * for --method auto. */
#include "commands.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The default file: $PARCONV_CALIBRATION, else ~/.config/parconv/calibration. */
static const char *default_path(char *buf, size_t n)
{
    const char *env = getenv("PARCONV_CALIBRATION");
    if (env && *env)
        return env;
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, n, "%s/parconv/calibration", xdg);
    else if (home && *home)
        snprintf(buf, n, "%s/.config/parconv/calibration", home);
    else
        return NULL;
    return buf;
}

/* Finds the line for dtype and isa; 1 if absent. Every line must be well
 * formed, the ones for other dtypes and ISAs too. */
static int read_line(FILE *f, const char *path, pc_dtype dt, pc_isa isa,
                     double *cd, double *cf)
{
    char line[256];
    int lineno = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char d[16], i[16];
        double a, b;
        int end = -1;
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0)
            continue;
        if (sscanf(line, "%15s %15s direct %lf fft %lf %n", d, i, &a, &b,
                   &end) != 4 || end < 0 || line[end] != 0 ||
            pc_dtype_parse(d) < 0 || pc_isa_parse(i) < 0 || !(a > 0) || !(b > 0))
            return pc_error(PC_EINPUT, "%s:%d: expected 'DTYPE ISA direct "
                            "SECONDS fft SECONDS'", path, lineno);
        if (!found && pc_dtype_parse(d) == (int)dt && pc_isa_parse(i) == (int)isa) {
            *cd = a;
            *cf = b;
            found = 1;
        }
    }
    if (ferror(f))
        return pc_error(PC_EINPUT, "cannot read calibration file '%s'", path);
    return found ? PC_OK : 1;
}

int calibration_load(cli_options *o, const char **from)
{
    char buf[4096];
    const char *path = o->calibration ? o->calibration
                                      : default_path(buf, sizeof buf);
    pc_isa isa = o->conv.isa == PC_ISA_AUTO ? pc_isa_best() : o->conv.isa;
    *from = "built-in";
    if (!path)
        return PC_OK;
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return pc_error(PC_EINPUT, "calibration file '%s' is not a regular "
                        "file", path);
    FILE *f = fopen(path, "r");
    if (!f) {
        /* A file named on the command line must exist; the default one
         * need not. */
        if (o->calibration || errno != ENOENT)
            return pc_error(PC_EINPUT, "cannot read calibration file '%s': %s",
                            path, strerror(errno));
        return PC_OK;
    }
    int st = read_line(f, path, o->conv.dtype, isa, &o->conv.cost_direct,
                       &o->conv.cost_fft);
    fclose(f);
    if (st == PC_OK) {
        static char used[4096];
        snprintf(used, sizeof used, "%s", path);
        *from = used;
        return PC_OK;
    }
    return st == 1 ? PC_OK : st;
}

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
                                      : default_path(buf, sizeof buf);
    if (!path)
        return pc_error(PC_EUSAGE, "no HOME to keep the calibration in; give "
                        "--calibration FILE");
    pc_isa isa = o->conv.isa == PC_ISA_AUTO ? pc_isa_best() : o->conv.isa;
    /* Workloads on either side of the crossover, so each constant is
     * measured where that method is used. */
    double td, ud, tf, uf, td2, ud2, tf2, uf2;
    int st = measure(o, 512, 7, 32, PC_DIRECT, &td, &ud);
    if (!st)
        st = measure(o, 512, 17, 16, PC_DIRECT, &td2, &ud2);
    if (!st)
        st = measure(o, 512, 17, 16, PC_FFT, &tf, &uf);
    if (!st)
        st = measure(o, 512, 41, 8, PC_FFT, &tf2, &uf2);
    if (st)
        return st;
    double cd = 0.5 * (td / ud + td2 / ud2), cf = 0.5 * (tf / uf + tf2 / uf2);

    /* Keep the other dtypes' and ISAs' lines; replace this one. */
    char tmp[4200], line[256], *kept = NULL;
    size_t kept_len = 0;
    FILE *in = fopen(path, "r");
    if (in) {
        while (fgets(line, sizeof line, in)) {
            char d[16], i[16];
            if (sscanf(line, "%15s %15s", d, i) == 2 &&
                pc_dtype_parse(d) == (int)o->conv.dtype &&
                pc_isa_parse(i) == (int)isa)
                continue;
            size_t n = strlen(line);
            char *grown = realloc(kept, kept_len + n + 1);
            if (!grown) {
                free(kept);
                fclose(in);
                return pc_error(PC_ENOMEM, "cannot read '%s'", path);
            }
            kept = grown;
            memcpy(kept + kept_len, line, n + 1);
            kept_len += n;
        }
        fclose(in);
    }
    /* mkdir -p of the directory, then write a temporary file and rename it
     * into place, so a reader never sees half a file. */
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0777);
            *s = '/';
        }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        free(kept);
        return pc_error(PC_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    }
    if (kept)
        fputs(kept, out);
    else
        fputs("# parconv calibrate: seconds per output x tap (direct) and per "
              "P*Q*log2(P*Q) of a tile (fft)\n", out);
    fprintf(out, "%s %s direct %.4g fft %.4g\n", pc_dtype_name(o->conv.dtype),
            pc_isa_name(isa), cd, cf);
    free(kept);
    if (ferror(out) | fclose(out) || rename(tmp, path) != 0)
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(errno));
    double dd, df;
    pc_cost_defaults(o->conv.dtype, isa, &dd, &df);
    printf("calibrated %s %s: direct %.4g s per output x tap (built-in %.4g), "
           "fft %.4g s per P*Q*log2(P*Q) (built-in %.4g)\nwrote %s\n",
           pc_dtype_name(o->conv.dtype), pc_isa_name(isa), cd, dd, cf, df, path);
    return PC_OK;
}
