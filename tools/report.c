/* What the user reads: the workload, a box per strategy like the Python
 * original's, a summary table, the verification line; and the same as JSON
 * for scripts. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

const char *human_bytes(double bytes, char *buf, size_t n)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (bytes >= 1000 && u < 5) {
        bytes /= 1000;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

static const char *input_kind(const char *path)
{
    return path ? path : "generated";
}

/* The OpenMP runtime's own view, not only the environment's. */
static const char *const bind_names[] = {"false", "true", "primary", "close",
                                         "spread"};
void omp_settings(char *buf, size_t n)
{
    int b = (int)omp_get_proc_bind();
    snprintf(buf, n, "omp_get_max_threads %d, proc_bind %s, places %d, "
             "dynamic %s, thread_limit %d", omp_get_max_threads(),
             b >= 0 && b < 5 ? bind_names[b] : "?", omp_get_num_places(),
             omp_get_dynamic() ? "true" : "false", omp_get_thread_limit());
}

double job_gflops(const job *j, const job_run *r)
{
    double flops = pc_plan_flops(j->plan) * (double)r->kernels;
    double t = r->compute;
    return t > 0 ? flops / t / 1e9 : 0;
}

double job_pct_peak(const job *j, const job_run *r)
{
    return r->peak > 0 ? 100.0 * job_gflops(j, r) / r->peak : 0;
}

void report_workload(FILE *f, const job *j)
{
    const cli_options *o = j->o;
    const pc_conv_params *p = &o->conv;
    char mem[32];
    fprintf(f, "parconv %s: %zu kernel%s of %zux%zu on a %zux%zu matrix\n",
            PC_VERSION, j->total, j->total == 1 ? "" : "s", j->krows, j->kcols,
            j->rows, j->cols);
    if (j->shard_n > 1)
        fprintf(f, "  shard      %zu of %zu (%s): kernels %zu, %zu, ... (%zu of "
                   "them)\n", j->shard_i, j->shard_n, j->shard_from, j->shard_i,
                j->shard_i + j->shard_n, j->count);
    fprintf(f, "  matrix     %s\n", input_kind(o->matrix_path));
    fprintf(f, "  kernels    %s\n", input_kind(o->bank_path));
    if (!o->matrix_path || !o->bank_path)
        fprintf(f, "  generator  GSL mt19937, seed %" PRIu64 ", integers in "
                "[%" PRId64 ",%" PRId64 ")\n", o->gen.seed, o->gen.lo, o->gen.hi);
    fprintf(f, "  mode       %s -> output %zux%zu per kernel%s\n",
            pc_mode_name(p->mode), j->orows, j->ocols,
            j->swapped ? " (kernel contains the matrix: inputs swapped, as "
                         "scipy does)" : "");
    if (p->mode == PC_VALID)
        fprintf(f, "  boundary   %s (no effect in valid mode)\n",
                pc_boundary_name(p->boundary));
    else if (p->boundary == PC_FILL)
        fprintf(f, "  boundary   fill, fillvalue %g\n", p->fillvalue);
    else
        fprintf(f, "  boundary   %s\n", pc_boundary_name(p->boundary));
    pc_method used = pc_plan_method(j->plan);
    double ed, ef;
    pc_plan_estimates(j->plan, &ed, &ef);
    fprintf(f, "  dtype      %s    method %s%s    isa %s%s\n",
            pc_dtype_name(p->dtype), pc_method_name(used),
            p->method == PC_AUTO ? " (auto)" : "",
            pc_isa_name(pc_plan_isa(j->plan)),
            p->isa == PC_ISA_AUTO ? " (auto)" : "");
    fprintf(f, "  model      direct ~%.3g ms/kernel, fft ~%.3g ms/kernel (one "
               "core; constants %s)%s\n", 1e3 * ed, 1e3 * ef, j->model_from,
            p->method != PC_AUTO ? ""
            : used == PC_FFT ? ": fft is cheaper"
            : ef < ed ? ": direct, as the inputs hold NaN or Inf"
                      : ": direct is cheaper");
    if (used == PC_FFT) {
        size_t P, Q, Tr, Tc, ntr, ntc;
        double ps;
        pc_plan_fft_info(j->plan, &P, &Q, &Tr, &Tc, &ntr, &ntc, &ps);
        fprintf(f, "  fft        %zux%zu transforms, tiles of %zux%zu outputs "
                   "(%zux%zu tiles), FFTW %s planning %.3fs%s%s\n", P, Q, Tr,
                Tc, ntr, ntc, p->fft_effort == PC_FFT_MEASURE ? "measure"
                                                               : "estimate",
                ps, p->wisdom ? ", wisdom " : "", p->wisdom ? p->wisdom : "");
        fprintf(f, "  check      fft vs direct on 3 kernels: relative error "
                   "%.2g (allowed %g)\n", j->fft_error,
                fft_tolerance(p->dtype));
    }
    fprintf(f, "  threads    %u (%s)    procs %u (%s)    online CPUs %u\n",
            j->threads, j->threads_from, j->procs, j->procs_from,
            pc_online_cpus());
    fprintf(f, "  OpenMP    ");
    int any = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "OMP_", 4) == 0 || strncmp(*e, "GOMP_", 5) == 0) {
            fprintf(f, " %s", *e);
            any = 1;
        }
    fprintf(f, "%s\n", any ? "" : " no OMP_* variables set");
    char omp[160];
    omp_settings(omp, sizeof omp);
    fprintf(f, "  runtime    %s\n", omp);
    const char *jobid = getenv("SLURM_JOB_ID");
    if (jobid) {
        const char *arr = getenv("SLURM_ARRAY_JOB_ID"),
                   *task = getenv("SLURM_ARRAY_TASK_ID"),
                   *cpt = getenv("SLURM_CPUS_PER_TASK"),
                   *node = getenv("SLURMD_NODENAME");
        fprintf(f, "  slurm      job %s", jobid);
        if (arr && task)
            fprintf(f, " (array job %s, task %s)", arr, task);
        if (getenv("SLURM_PROCID") && getenv("SLURM_NTASKS"))
            fprintf(f, ", task %s of %s", getenv("SLURM_PROCID"),
                    getenv("SLURM_NTASKS"));
        if (cpt)
            fprintf(f, ", %s CPUs per task", cpt);
        if (node)
            fprintf(f, ", node %s", node);
        fputc('\n', f);
    }
    fprintf(f, "  memory     about %s; set-up %.5fs (padding, kernels, FMA "
               "ceiling%s)\n",
            human_bytes(j->mem_estimate, mem, sizeof mem), j->setup_seconds,
            o->outdir ? ", output arena" : "");
    if (o->outdir)
        fprintf(f, "  output     %s/conv_NNNNN.npy (from the first strategy, "
                   "%zu kernels a batch)\n", o->outdir, j->batch);
    if (j->resumed)
        fprintf(f, "  resume     %zu of %zu kernels complete in %s, kept\n",
                j->resumed, j->count, o->outdir);
    fputc('\n', f);
}

void report_run_box(FILE *f, const job_run *r)
{
    static const char dashes[] = "--------------------";
    fprintf(f, "%s %s %s\n", dashes, pc_strategy_name(r->strategy), dashes);
    fprintf(f, "Executed in %.5fs.\n", r->seconds);
    fprintf(f, "%s-%.*s-%s\n\n", dashes, (int)strlen(pc_strategy_name(r->strategy)),
            "--------------", dashes);
}

static const job_run *serial_run(const job *j)
{
    for (int i = 0; i < j->nruns; i++)
        if (j->runs[i].strategy == PC_SERIAL)
            return &j->runs[i];
    return NULL;
}

void report_summary(FILE *f, const job *j)
{
    const job_run *ser = serial_run(j);
    fprintf(f, "%-9s %-7s %7s %10s %10s %9s %7s %8s  %s\n", "strategy",
            "method", "workers", "seconds", "start/stop", "GFLOP/s", "%peak",
            "speedup", "checksum");
    for (int i = 0; i < j->nruns; i++) {
        const job_run *r = &j->runs[i];
        char speed[16] = "-";
        if (ser && r->seconds > 0)
            snprintf(speed, sizeof speed, "%.2fx", ser->seconds / r->seconds);
        char pct[16] = "-";
        if (r->peak > 0)
            snprintf(pct, sizeof pct, "%.1f%%", job_pct_peak(j, r));
        fprintf(f, "%-9s %-7s %7u %10.5f %10.5f %9.2f %7s %8s  %016" PRIx64
                   "\n", pc_strategy_name(r->strategy),
                pc_method_name(pc_plan_method(j->plan)), r->workers, r->seconds,
                r->seconds - r->compute, job_gflops(j, r), pct, speed, r->checksum);
    }
    if (j->nruns && j->runs[0].peak > 0) {
        fprintf(f, "GFLOP/s over the compute time (the longest any worker computed); %%peak against the %s "
                   "FMA ceiling measured for the same number of workers (",
                pc_isa_name(pc_plan_isa(j->plan)));
        for (int i = 0; i < j->nruns; i++) {
            int seen = 0;
            for (int k = 0; k < i; k++)
                seen |= j->runs[k].workers == j->runs[i].workers;
            if (!seen)
                fprintf(f, "%s%u: %.1f", i ? ", " : "", j->runs[i].workers,
                        j->runs[i].peak);
        }
        fprintf(f, " GFLOP/s)\n");
    } else {
        fprintf(f, "GFLOP/s over the compute time (the longest any worker computed); %%peak not measured "
                   "for runs under 1 GFLOP\n");
    }
    if (j->verified)
        fprintf(f, "verified: %s (checksum %016" PRIx64 ")\n",
                j->nruns > 1 ? "all strategies bit-identical"
                             : "one strategy, nothing to compare",
                j->runs[0].checksum);
    else
        fprintf(f, "MISMATCH: %s\n", j->mismatch);
    if (j->o->outdir)
        fprintf(f, "wrote %zu files to %s%s, %.3fs writing\n",
                j->count - j->resumed, j->o->outdir,
                j->resumed ? " (the others were complete already)" : "",
                j->write_seconds);
    char rss[32];
    fprintf(f, "peak memory: %s resident\n",
            human_bytes(j->peak_rss, rss, sizeof rss));
}

void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_path_or_null(FILE *f, const char *s)
{
    if (s)
        json_string(f, s);
    else
        fputs("null", f);
}

/* Non-finite numbers have no JSON spelling. */
static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

void json_workload(FILE *f, const job *j, const char *in)
{
    const cli_options *o = j->o;
    fprintf(f, "{\n%s  \"rows\": %zu, \"cols\": %zu, \"count\": %zu,\n", in,
            j->rows, j->cols, j->total);
    fprintf(f, "%s  \"krows\": %zu, \"kcols\": %zu,\n", in, j->krows, j->kcols);
    fprintf(f, "%s  \"mode\": \"%s\", \"boundary\": \"%s\", \"fillvalue\": ", in,
            pc_mode_name(o->conv.mode), pc_boundary_name(o->conv.boundary));
    json_number(f, o->conv.fillvalue);
    fprintf(f, ",\n%s  \"dtype\": \"%s\", \"method\": \"%s\", "
               "\"method_requested\": \"%s\", \"isa\": \"%s\",\n",
            in, pc_dtype_name(o->conv.dtype),
            pc_method_name(pc_plan_method(j->plan)),
            pc_method_name(o->conv.method), pc_isa_name(pc_plan_isa(j->plan)));
    fprintf(f, "%s  \"out_rows\": %zu, \"out_cols\": %zu, \"swapped\": %s,\n",
            in, j->orows, j->ocols, j->swapped ? "true" : "false");
    fprintf(f, "%s  \"matrix\": ", in);
    json_path_or_null(f, o->matrix_path);
    fprintf(f, ", \"bank\": ");
    json_path_or_null(f, o->bank_path);
    fprintf(f, ",\n%s  \"seed\": ", in);
    if (o->matrix_path && o->bank_path)
        fputs("null, \"range\": null", f);
    else
        fprintf(f, "%" PRIu64 ", \"range\": [%" PRId64 ", %" PRId64 "]",
                o->gen.seed, o->gen.lo, o->gen.hi);
    fprintf(f, "\n%s}", in);
}

int report_json(FILE *f, const char *path, const job *j)
{
    bool to_stdout = f == stdout;
    const job_run *ser = serial_run(j);
    fprintf(f, "{\n  \"version\": \"%s\",\n  \"workload\": ", PC_VERSION);
    json_workload(f, j, "  ");
    fprintf(f, ",\n  \"environment\": {\"threads\": %u, \"threads_from\": ",
            j->threads);
    json_string(f, j->threads_from);
    fprintf(f, ", \"procs\": %u, \"procs_from\": ", j->procs);
    json_string(f, j->procs_from);
    fprintf(f, ", \"online_cpus\": %u, \"physical_cores\": %u,\n"
               "    \"omp_env\": {", pc_online_cpus(), pc_physical_cores());
    int n = 0;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || (strncmp(*e, "OMP_", 4) != 0 && strncmp(*e, "GOMP_", 5) != 0))
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
        fputs(n++ ? ", " : "", f);
        json_string(f, name);
        fputs(": ", f);
        json_string(f, eq + 1);
    }
    double ed, ef;
    pc_plan_estimates(j->plan, &ed, &ef);
    int bind = (int)omp_get_proc_bind();
    fprintf(f, "},\n    \"omp\": {\"max_threads\": %d, \"proc_bind\": \"%s\", "
               "\"num_places\": %d, \"dynamic\": %s, \"thread_limit\": %d},\n"
               "    \"slurm\": ", omp_get_max_threads(),
            bind >= 0 && bind < 5 ? bind_names[bind] : "?", omp_get_num_places(),
            omp_get_dynamic() ? "true" : "false", omp_get_thread_limit());
    if (getenv("SLURM_JOB_ID")) {
        static const char *const vars[] = {
            "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT", "SLURM_PROCID", "SLURM_NTASKS",
            "SLURM_CPUS_PER_TASK", "SLURMD_NODENAME"};
        fputc('{', f);
        int m = 0;
        for (size_t v = 0; v < sizeof vars / sizeof *vars; v++)
            if (getenv(vars[v])) {
                fputs(m++ ? ", " : "", f);
                json_string(f, vars[v]);
                fputs(": ", f);
                json_string(f, getenv(vars[v]));
            }
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n    \"shard\": ");
    if (j->shard_n > 1)
        fprintf(f, "[%zu, %zu]", j->shard_i, j->shard_n);
    else
        fputs("null", f);
    fprintf(f, "},\n  \"model\": {\"direct_seconds\": %.6g, \"fft_seconds\": "
               "%.6g, \"constants\": ", ed, ef);
    json_string(f, j->model_from);
    fputs("},\n  \"fft\": ", f);
    if (pc_plan_method(j->plan) == PC_FFT) {
        size_t P, Q, Tr, Tc, ntr, ntc;
        double ps;
        pc_plan_fft_info(j->plan, &P, &Q, &Tr, &Tc, &ntr, &ntc, &ps);
        fprintf(f, "{\"P\": %zu, \"Q\": %zu, \"tile_rows\": %zu, "
                   "\"tile_cols\": %zu, \"tiles\": [%zu, %zu], "
                   "\"plan_seconds\": %.6f, \"effort\": \"%s\", "
                   "\"rel_error\": %.3g, \"tolerance\": %g}",
                P, Q, Tr, Tc, ntr, ntc, ps,
                j->o->conv.fft_effort == PC_FFT_MEASURE ? "measure" : "estimate",
                j->fft_error, fft_tolerance(j->o->conv.dtype));
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n  \"setup_seconds\": %.6f,\n  \"runs\": [", j->setup_seconds);
    for (int i = 0; i < j->nruns; i++) {
        const job_run *r = &j->runs[i];
        fprintf(f, "%s\n    {\"strategy\": \"%s\", \"method\": \"%s\", "
                   "\"workers\": %u, \"seconds\": %.6f, \"startup_seconds\": "
                   "%.6f, \"compute_seconds\": %.6f, \"gflops\": %.4f, "
                   "\"peak_gflops\": ",
                i ? "," : "", pc_strategy_name(r->strategy),
                pc_method_name(pc_plan_method(j->plan)), r->workers, r->seconds,
                r->seconds - r->compute, r->compute, job_gflops(j, r));
        if (r->peak > 0)
            fprintf(f, "%.4f, \"pct_peak\": %.2f", r->peak, job_pct_peak(j, r));
        else
            fputs("null, \"pct_peak\": null", f);
        fputs(", \"speedup\": ", f);
        if (ser && r->seconds > 0)
            fprintf(f, "%.4f", ser->seconds / r->seconds);
        else
            fputs("null", f);
        fprintf(f, ", \"kernels\": %zu, \"retried\": %u, \"checksum\": \"%016"
                   PRIx64 "\"}", r->kernels, r->retried, r->checksum);
    }
    fprintf(f, "\n  ],\n  \"verified\": %s,\n  \"mismatch\": ",
            j->verified ? "true" : "false");
    json_path_or_null(f, j->verified ? NULL : j->mismatch);
    fprintf(f, ",\n  \"output\": ");
    if (j->o->outdir) {
        json_string(f, j->o->outdir);
        fprintf(f, ",\n  \"write_seconds\": %.6f, \"resumed\": %zu",
                j->write_seconds, j->resumed);
    } else {
        fputs("null", f);
    }
    fprintf(f, ",\n  \"batch_kernels\": %zu", j->batch);
    fprintf(f, ",\n  \"peak_rss_bytes\": %.0f", j->peak_rss);
    fputs("\n}\n", f);
    if (to_stdout)
        return fflush(f) ? pc_error(PC_EIO, "cannot write the JSON report") : PC_OK;
    if (ferror(f) | fclose(f))
        return pc_error(PC_EIO, "cannot write '%s': %s", path, strerror(errno));
    return PC_OK;
}
