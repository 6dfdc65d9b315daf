/* What the user reads: the workload, a box per strategy like the Python
 * original's, a summary table, the verification line; and the same as JSON
 * for scripts. */
#include "report.h"

#include "jsontext.h"
#include "outdir.h"

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

/* The matrices' line: the -m files (a stack's count after its name), or
 * generated. */
static void matrices_line(FILE *f, const job *j)
{
    if (!j->nsrc) {
        if (j->nmat > 1)
            fprintf(f, "  matrices   generated, %zu\n", j->nmat);
        else
            fprintf(f, "  matrix     generated\n");
        return;
    }
    fprintf(f, "  %s", j->nmat > 1 ? "matrices  " : "matrix    ");
    for (size_t i = 0; i < j->nsrc; i++) {
        const job_source *s = &j->src[i];
        bool stack = s->h5 ? s->h5->ndim == 3 : s->id.meta.ndim == 3;
        fprintf(f, "%s %s", i ? "," : "", s->path);
        if (stack)
            fprintf(f, " (%zu)", s->nmat);
    }
    fputc('\n', f);
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

double report_gflops(const job *j, const job_run *r)
{
    double flops = pc_plan_flops(j->plan) * (double)r->kernels;
    double t = r->compute;
    return t > 0 ? flops / t / 1e9 : 0;
}

/* FFT runs' GFLOP/s are the direct sum's flops over their time: a rate of
 * the equivalent direct work, not of the arithmetic done. */
static bool is_fft(const job *j)
{
    return pc_plan_method(j->plan) == PC_FFT;
}

/* A run faster than its ceiling, measured twice (see run.c): the ceiling
 * was measured under load, and %peak is not given. */
static bool under_load(const job *j, const job_run *r)
{
    return r->peak > 0 && report_gflops(j, r) > r->peak;
}

/* %peak of a direct run, -1 if there is none to give. */
static double pct_peak(const job *j, const job_run *r)
{
    if (r->peak <= 0 || under_load(j, r))
        return -1;
    return 100.0 * report_gflops(j, r) / r->peak;
}

/* More workers than usable CPUs: they took turns. */
static bool oversubscribed(const job_run *r)
{
    return r->workers > cli_cpus()->usable;
}

void report_workload(FILE *f, const job *j)
{
    const cli_options *o = j->o;
    const pc_conv_params *p = &o->conv;
    char mem[32];
    if (j->nmat > 1)
        fprintf(f, "parconv %s: %zu matrices x %zu kernel%s of %zux%zu, "
                "%zux%zu each (%zu planes)\n", PC_VERSION, j->nmat, j->total,
                j->total == 1 ? "" : "s", j->krows, j->kcols, j->rows,
                j->cols, j->planes);
    else
        fprintf(f, "parconv %s: %zu kernel%s of %zux%zu on a %zux%zu matrix\n",
                PC_VERSION, j->total, j->total == 1 ? "" : "s", j->krows,
                j->kcols, j->rows, j->cols);
    if (j->shard_n > 1)
        fprintf(f, "  shard      %zu of %zu (%s): %s %zu, %zu, ... (%zu of "
                   "them)\n", j->shard_i, j->shard_n, j->shard_from,
                job_unit(j), j->shard_i, j->shard_i + j->shard_n, j->count);
    matrices_line(f, j);
    fprintf(f, "  kernels    %s\n", input_kind(o->bank_path));
    if (!j->nsrc || !o->bank_path)
        fprintf(f, "  generator  GSL mt19937, seed %" PRIu64 ", integers in "
                "[%" PRId64 ",%" PRId64 ")\n", o->gen.seed, o->gen.lo, o->gen.hi);
    fprintf(f, "  mode       %s -> output %zux%zu per %s%s\n",
            pc_mode_name(p->mode), j->orows, j->ocols,
            j->nmat > 1 ? "plane" : "kernel",
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
    double ed, ef, td, tf, ts;
    pc_plan_estimates(j->plan, &ed, &ef);
    pc_plan_trial(j->plan, &td, &tf, &ts);
    fprintf(f, "  dtype      %s    method %s%s    isa %s%s\n",
            pc_dtype_name(p->dtype), pc_method_name(used),
            p->method == PC_AUTO ? " (auto)" : "",
            pc_isa_name(pc_plan_isa(j->plan)),
            p->isa == PC_ISA_AUTO ? " (auto)" : "");
    fprintf(f, "  model      direct ~%.3g ms/kernel, fft ~%.3g ms/kernel (one "
               "core; constants %s)%s\n", 1e3 * ed, 1e3 * ef, j->model_from,
            p->method != PC_AUTO ? ""
            : ts > 0 ? (ef < ed ? ": fft is cheaper, within the trial's margin"
                                : ": direct is cheaper, within the trial's "
                                  "margin")
            : used == PC_FFT ? ": fft is cheaper"
            : ef < ed ? ": direct, as the inputs hold NaN or Inf"
                      : ": direct is cheaper");
    if (ts > 0)
        fprintf(f, "  trial      direct %.3g ms/kernel, fft %.3g ms/kernel "
                   "(one core, best of samples in turn, %.3fs): %s is "
                   "faster\n", 1e3 * td, 1e3 * tf, ts, pc_method_name(used));
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
    const pc_cpu_info *ci = cli_cpus();
    char quota[32] = "no cgroup CPU quota";
    if (ci->quota > 0)
        snprintf(quota, sizeof quota, "cgroup quota %.3g", ci->quota);
    fprintf(f, "  CPUs       %u usable: affinity %u of %u online, %s; %u "
               "physical core%s among them\n", ci->usable, ci->affinity,
            ci->online, quota, ci->cores, ci->cores == 1 ? "" : "s");
    fprintf(f, "  threads    %u (%s)    procs %u (%s)\n", j->threads,
            j->threads_from, j->procs, j->procs_from);
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
    fprintf(f, "  memory     about %s; set-up %.5fs (padding, kernels, %s)\n",
            human_bytes(j->mem_estimate, mem, sizeof mem), j->setup_seconds,
            o->outdir ? "output arenas; the FMA ceiling is measured after the "
                        "compute, while the files are synced"
                      : "FMA ceiling");
    if (o->outdir && strcmp(o->format, "npy") == 0)
        fprintf(f, "  output     %s/%s (from the first strategy, %zu kernels "
                   "a batch)\n", o->outdir, j->nmat > 1 ? "conv_NNNNN_KKKKK.npy"
                                                      : "conv_NNNNN.npy",
                j->batch);
    else if (o->outdir)
        fprintf(f, "  output     %s, --format %s%s (from the first strategy, "
                   "%zu kernels a batch)\n", o->outdir, o->format,
                o->deflate >= 0 ? ", deflate" : "", j->batch);
    if (o->compute_once)
        fprintf(f, "  strategy   omp only: with -o parconv computes once (-S "
                   "serial,procs,threads,omp compares the strategies)\n");
    if (j->resumed)
        fprintf(f, "  resume     %zu of %zu %s complete in %s, kept\n",
                j->resumed, j->count, job_unit(j), o->outdir);
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

/* The lines under the table: what its figures are. */
static void summary_notes(FILE *f, const job *j)
{
    bool over = false, load = false;
    for (int i = 0; i < j->nruns; i++) {
        over |= oversubscribed(&j->runs[i]);
        load |= under_load(j, &j->runs[i]);
    }
    const char *span = "(from the first worker's start to the last one's "
                       "end)";
    if (is_fft(j))
        fprintf(f, "eff. GFLOP/s is direct-equivalent: the direct method's "
                   "flop count over the FFT run's compute time %s; no "
                   "%%peak for FFT runs\n", span);
    else if (j->nruns && j->runs[0].peak > 0) {
        fprintf(f, "GFLOP/s over the compute time %s; %%peak against the %s "
                   "FMA ceiling measured on the same CPUs, on as many threads "
                   "as workers up to the usable CPUs (", span,
                pc_isa_name(pc_plan_isa(j->plan)));
        for (int i = 0; i < j->nruns; i++) {
            int seen = 0;
            for (int k = 0; k < i; k++)
                seen |= j->runs[k].peak_threads == j->runs[i].peak_threads;
            if (!seen)
                fprintf(f, "%s%u: %.1f", i ? ", " : "",
                        j->runs[i].peak_threads, j->runs[i].peak);
        }
        fprintf(f, " GFLOP/s)\n");
    } else
        fprintf(f, "GFLOP/s over the compute time %s; %%peak not measured "
                   "for runs under 1 GFLOP\n", span);
    if (load)
        fprintf(f, "n/a: faster than the ceiling measured twice for it "
                   "(ceiling measured under load)\n");
    if (over)
        fprintf(f, "*: oversubscribed, more workers than the %u usable "
                   "CPU%s (%s)\n", cli_cpus()->usable,
                cli_cpus()->usable == 1 ? "" : "s", cli_cpus()->from);
}

void report_summary(FILE *f, const job *j)
{
    const job_run *ser = serial_run(j);
    /* Wide enough for the FFT's name of the column. */
    int gw = is_fft(j) ? 12 : 9;
    fprintf(f, "%-9s %-7s %7s %10s %10s %*s %7s %8s  %s\n", "strategy",
            "method", "workers", "seconds", "start/stop", gw,
            is_fft(j) ? "eff. GFLOP/s" : "GFLOP/s", "%peak", "speedup",
            "checksum");
    for (int i = 0; i < j->nruns; i++) {
        const job_run *r = &j->runs[i];
        char speed[16] = "-";
        if (ser && r->seconds > 0)
            snprintf(speed, sizeof speed, "%.2fx", ser->seconds / r->seconds);
        char pct[16] = "-";
        if (under_load(j, r))
            snprintf(pct, sizeof pct, "n/a");
        else if (r->peak > 0)
            snprintf(pct, sizeof pct, "%.1f%%", pct_peak(j, r));
        char workers[16];
        snprintf(workers, sizeof workers, "%u%s", r->workers,
                 oversubscribed(r) ? "*" : "");
        fprintf(f, "%-9s %-7s %7s %10.5f %10.5f %*.2f %7s %8s  %016" PRIx64
                   "\n", pc_strategy_name(r->strategy),
                pc_method_name(pc_plan_method(j->plan)), workers, r->seconds,
                r->seconds - r->compute, gw, report_gflops(j, r), pct, speed,
                r->checksum);
    }
    summary_notes(f, j);
    if (j->verified)
        fprintf(f, "verified: %s (checksum %016" PRIx64 ")\n",
                j->nruns > 1 ? "all strategies bit-identical"
                             : "one strategy, nothing to compare",
                j->runs[0].checksum);
    else
        fprintf(f, "MISMATCH: %s\n", j->mismatch);
    if (j->o->outdir)
        fprintf(f, "wrote %zu %s to %s%s, %.3fs writing and syncing (%u "
                   "thread%s), %.3fs of it not overlapped with computing\n",
                j->count - j->resumed,
                strcmp(j->o->format, "npy") == 0 ? "files" : "planes",
                j->o->outdir,
                j->resumed ? " (the others were complete already)" : "",
                j->write_seconds, j->writers, j->writers == 1 ? "" : "s",
                j->write_wait_seconds);
    if (j->nmat > 1)
        fprintf(f, "matrices: %zu, %.3fs reading them and giving them to the "
                   "plan (not in the strategies' seconds)\n", j->nmat,
                j->matrix_seconds);
    char rss[32];
    fprintf(f, "peak memory: %s resident\n",
            human_bytes(j->peak_rss, rss, sizeof rss));
    fprintf(f, "whole run: %.3fs from the process's start to this report\n",
            j->wall_seconds);
}

/* ---- the JSON report ---------------------------------------------------- */

/* The OMP_* and GOMP_* variables, by name. */
static json_t *omp_env(void)
{
    json_t *o = json_object();
    for (char **e = environ; o && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || (strncmp(*e, "OMP_", 4) != 0 && strncmp(*e, "GOMP_", 5) != 0))
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
        if (json_object_set_new(o, name, json_text(eq + 1))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The Slurm job's variables that are set, or null outside Slurm. */
static json_t *slurm_env(void)
{
    static const char *const vars[] = {
        "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT", "SLURM_PROCID", "SLURM_NTASKS",
        "SLURM_CPUS_PER_TASK", "SLURMD_NODENAME"};
    if (!getenv("SLURM_JOB_ID"))
        return json_null();
    json_t *o = json_object();
    for (size_t v = 0; o && v < sizeof vars / sizeof *vars; v++)
        if (getenv(vars[v]) && json_object_set_new(o, vars[v],
                                                   json_text(getenv(vars[v])))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* The CPUs the process may use, and where the usable count came from. */
static json_t *cpus_json(void)
{
    const pc_cpu_info *ci = cli_cpus();
    return json_pack("{s:i, s:i, s:o, s:i, s:o, s:i}", "online",
                     (int)ci->online, "affinity", (int)ci->affinity,
                     "cgroup_quota",
                     ci->quota > 0 ? json_sig(ci->quota, 6) : json_null(),
                     "usable", (int)ci->usable, "usable_from",
                     json_text(ci->from), "physical_cores", (int)ci->cores);
}

static json_t *environment(const job *j)
{
    int bind = (int)omp_get_proc_bind();
    json_t *omp = json_pack("{s:i, s:s, s:i, s:b, s:i}", "max_threads",
                            omp_get_max_threads(), "proc_bind",
                            bind >= 0 && bind < 5 ? bind_names[bind] : "?",
                            "num_places", omp_get_num_places(), "dynamic",
                            omp_get_dynamic() != 0, "thread_limit",
                            omp_get_thread_limit());
    return json_pack("{s:i, s:o, s:i, s:o, s:o, s:i, s:i, s:o, s:o, s:o, "
                     "s:o}", "threads", (int)j->threads, "threads_from",
                     json_text(j->threads_from), "procs", (int)j->procs,
                     "procs_from", json_text(j->procs_from), "cpus",
                     cpus_json(), "online_cpus", (int)pc_online_cpus(),
                     "physical_cores", (int)pc_physical_cores(), "omp_env",
                     omp_env(), "omp", omp, "slurm", slurm_env(), "shard",
                     j->shard_n > 1 ? json_pair(j->shard_i, j->shard_n) : json_null());
}

static json_t *model(const job *j)
{
    double ed, ef;
    pc_plan_estimates(j->plan, &ed, &ef);
    double td, tf, ts;
    pc_plan_trial(j->plan, &td, &tf, &ts);
    json_t *trial = ts > 0 ? json_pack("{s:o, s:o, s:o}", "direct_seconds",
                                       json_sig(td, 6), "fft_seconds",
                                       json_sig(tf, 6), "seconds",
                                       json_sig(ts, 4))
                           : json_null();
    return json_pack("{s:o, s:o, s:o, s:o}", "direct_seconds", json_sig(ed, 6),
                     "fft_seconds", json_sig(ef, 6), "constants",
                     json_text(j->model_from), "trial", trial);
}

static json_t *fft_info(const job *j)
{
    if (pc_plan_method(j->plan) != PC_FFT)
        return json_null();
    size_t P, Q, Tr, Tc, ntr, ntc;
    double ps;
    pc_plan_fft_info(j->plan, &P, &Q, &Tr, &Tc, &ntr, &ntc, &ps);
    const pc_conv_params *p = &j->o->conv;
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:s, s:o, s:o}", "P",
                     (json_int_t)P, "Q", (json_int_t)Q, "tile_rows",
                     (json_int_t)Tr, "tile_cols", (json_int_t)Tc, "tiles",
                     json_pair(ntr, ntc), "plan_seconds", json_fixed(ps, 6), "effort",
                     p->fft_effort == PC_FFT_MEASURE ? "measure" : "estimate",
                     "rel_error", json_sig(j->fft_error, 3), "tolerance",
                     json_sig(fft_tolerance(p->dtype), 6));
}

/* A run: direct runs give gflops and, with a ceiling, pct_peak (null
 * with pct_peak_note when it was not measured or was measured under
 * load); FFT runs give effective_gflops, the direct-equivalent rate, and
 * no %peak. */
static json_t *run_json(const job *j, const job_run *r, const job_run *ser)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:i, s:b, s:o, s:o, s:o, s:o, s:I, s:i, s:o}",
        "strategy", pc_strategy_name(r->strategy), "method",
        pc_method_name(pc_plan_method(j->plan)), "workers", (int)r->workers,
        "oversubscribed", oversubscribed(r), "seconds",
        json_fixed(r->seconds, 6), "startup_seconds",
        json_fixed(r->seconds - r->compute, 6), "compute_seconds",
        json_fixed(r->compute, 6), "speedup",
        ser && r->seconds > 0 ? json_fixed(ser->seconds / r->seconds, 4)
                              : json_null(),
        "kernels", (json_int_t)r->kernels, "retried", (int)r->retried,
        "checksum", json_hex64(r->checksum));
    /* With several matrices the counts are of planes: "planes" says so. */
    if (o && json_object_set_new(o, "planes", json_integer((json_int_t)r->kernels))) {
        json_decref(o);
        return NULL;
    }
    json_t *g = json_fixed(report_gflops(j, r), 4);
    if (!o || !g) {
        json_decref(o);
        json_decref(g);
        return NULL;
    }
    if (is_fft(j)) {
        if (json_object_set_new(o, "effective_gflops", g)) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    double pct = pct_peak(j, r);
    const char *note = r->peak <= 0 ? "not measured for runs under 1 GFLOP"
                       : pct < 0    ? "ceiling measured under load"
                                    : NULL;
    if (json_object_set_new(o, "gflops", g) ||
        json_object_set_new(o, "peak_gflops", r->peak > 0
                                                  ? json_fixed(r->peak, 4)
                                                  : json_null()) ||
        json_object_set_new(o, "pct_peak",
                            pct >= 0 ? json_fixed(pct, 2) : json_null()) ||
        (note && json_object_set_new(o, "pct_peak_note", json_text(note)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The whole report; NULL if out of memory. */
static json_t *report_object(const job *j)
{
    const job_run *ser = serial_run(j);
    json_t *runs = json_array();
    for (int i = 0; runs && i < j->nruns; i++)
        if (json_array_append_new(runs, run_json(j, &j->runs[i], ser))) {
            json_decref(runs);
            runs = NULL;
        }
    /* Stopped by a signal: the runs that completed, and where it stopped. */
    const job_run *cut = j->interrupted && j->nruns < j->o->nstrategies
                             ? &j->runs[j->nruns] : NULL;
    json_t *root = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:I, s:o, s:o, s:o, s:o}",
        "version", PC_VERSION, "workload", outdir_workload(j), "environment",
        environment(j), "model", model(j), "fft", fft_info(j), "setup_seconds",
        json_fixed(j->setup_seconds, 6), "interrupted", j->interrupted != 0,
        "signal", j->interrupted ? json_integer(j->interrupted) : json_null(),
        "kernels_done", (json_int_t)j->kernels_done, "interrupted_run",
        cut ? json_pack("{s:s, s:I}", "strategy",
                        pc_strategy_name(j->o->strategies[j->nruns]),
                        "kernels", (json_int_t)cut->kernels)
            : json_null(),
        "runs", runs, "verified",
        j->nruns ? json_boolean(j->verified) : json_null(), "mismatch",
        j->verified ? json_null() : json_text(j->mismatch));
    int bad = !root || json_object_set_new(root, "output",
                                           json_text(j->o->outdir));
    if (!bad && j->o->outdir) {
        bad |= json_object_set_new(root, "write_seconds",
                                   json_fixed(j->write_seconds, 6));
        bad |= json_object_set_new(root, "write_wait_seconds",
                                   json_fixed(j->write_wait_seconds, 6));
        bad |= json_object_set_new(root, "writer_threads",
                                   json_integer((json_int_t)j->writers));
        bad |= json_object_set_new(root, "resumed",
                                   json_integer((json_int_t)j->resumed));
    }
    if (!bad) {
        bad |= json_object_set_new(root, "matrices",
                                   json_integer((json_int_t)j->nmat));
        bad |= json_object_set_new(root, "planes_done",
                                   json_integer((json_int_t)j->kernels_done));
        bad |= json_object_set_new(root, "format",
                                   json_text(j->o->outdir ? j->o->format : NULL));
        bad |= json_object_set_new(root, "compute_once",
                                   json_boolean(j->o->compute_once));
        bad |= json_object_set_new(root, "matrix_seconds",
                                   json_fixed(j->matrix_seconds, 6));
        bad |= json_object_set_new(root, "batch_kernels",
                                   json_integer((json_int_t)j->batch));
        bad |= json_object_set_new(root, "peak_rss_bytes",
                                   json_integer((json_int_t)j->peak_rss));
        bad |= json_object_set_new(root, "wall_seconds",
                                   json_fixed(j->wall_seconds, 6));
    }
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int report_json_open(outdir_file *f, const char *path)
{
    if (strcmp(path, "-") != 0)
        return outdir_file_open(f, path, true);
    *f = (outdir_file){.fd = -1, .path = "-"};
    return PC_OK;
}

int report_json(outdir_file *f, const job *j)
{
    json_t *root = report_object(j);
    if (strcmp(f->path, "-") == 0) {
        int bad = !root || json_dumpf(root, stdout, JSON_REPORT_FLAGS) != 0 ||
                  fputc('\n', stdout) == EOF || fflush(stdout) != 0;
        json_decref(root);
        return bad ? pc_error(PC_EIO, "cannot write the JSON report") : PC_OK;
    }
    if (!root) {
        outdir_file_discard(f);
        return pc_error(PC_ENOMEM, "cannot write '%s': out of memory", f->path);
    }
    int st = outdir_file_json(f, root, JSON_REPORT_FLAGS);
    json_decref(root);
    return st;
}
