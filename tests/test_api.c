/* The library's own answers about itself: pc_plan_estimate agrees with
 * what pc_plan_create allocates (pc_plan_memory, measured on the plan's
 * mapping), and worker mode works without a parconv executable given:
 * pc_worker_check leaves a normal command line alone, and a NULL
 * worker_exe (the installed parconv) either works or fails cleanly; a
 * matrix given again (pc_plan_set_matrix) or as a view of floats or
 * doubles in any layout gives the bits of a fresh plan of its doubles. */
#include "parconv.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* An FFT plan's mapping also holds FFTW's wisdom, which the estimate
 * cannot know: a few KB, a page-rounded allowance of 1 MB is plenty. */
#define WISDOM_ALLOWANCE (1 << 20)

static void make_inputs(pc_matrix *m, pc_bank *b, size_t M, size_t N,
                        size_t K, size_t kh, size_t kw)
{
    pc_gen_params g = {.seed = 7, .lo = -9, .hi = 10};
    pc_matrix_alloc(m, M, N);
    pc_bank_alloc(b, K, kh, kw);
    pc_generate(&g, M, N, m, b);
}

/* Estimate, then plan, then compare. exact_fft: the FFT tiling is pinned
 * (or the method direct), so spectra and scratch must match exactly. */
static void estimate_case(const char *name, size_t M, size_t N, size_t K,
                          size_t kh, size_t kw, const pc_conv_params *p,
                          bool exact_fft)
{
    pc_memory est, got;
    int st = pc_plan_estimate(p, M, N, K, kh, kw, &est);
    CHECK(st == 0, "%s: estimate: %s", name, pc_errmsg());
    pc_matrix m;
    pc_bank b;
    make_inputs(&m, &b, M, N, K, kh, kw);
    pc_plan *plan;
    st = pc_plan_create(&plan, p, &m, &b);
    CHECK(st == 0, "%s: plan: %s", name, pc_errmsg());
    if (st)
        goto done;
    pc_plan_memory(plan, &got);
    size_t orows, ocols;
    pc_plan_out_shape(plan, &orows, &ocols);
    CHECK(got.sums == (double)K * (double)orows * 8, "%s: sums %g", name,
          got.sums);
    CHECK(est.sums == got.sums, "%s: sums estimated %g, are %g", name,
          est.sums, got.sums);
    if (pc_plan_method(plan) == PC_DIRECT) {
        CHECK(est.plan == got.plan, "%s: plan estimated %g, is %g", name,
              est.plan, got.plan);
        CHECK(got.spectra == 0, "%s: direct plan with spectra", name);
    } else {
        CHECK(est.plan <= got.plan && got.plan <= est.plan + WISDOM_ALLOWANCE,
              "%s: plan estimated %g, is %g (with the wisdom)", name,
              est.plan, got.plan);
        CHECK(got.spectra > 0, "%s: FFT plan without spectra", name);
    }
    if (exact_fft || pc_plan_method(plan) == PC_DIRECT) {
        CHECK(est.spectra == got.spectra, "%s: spectra estimated %g, are %g",
              name, est.spectra, got.spectra);
        CHECK(est.scratch == got.scratch, "%s: scratch estimated %g, is %g",
              name, est.scratch, got.scratch);
    } else {
        /* The tiling is chosen by timing: the estimate is the most any
         * candidate needs. */
        CHECK(est.spectra >= got.spectra, "%s: spectra estimated %g < %g",
              name, est.spectra, got.spectra);
        CHECK(est.scratch >= got.scratch, "%s: scratch estimated %g < %g",
              name, est.scratch, got.scratch);
    }
    CHECK(got.scratch > 0, "%s: no scratch", name);
    pc_plan_destroy(plan);
done:
    pc_matrix_free(&m);
    pc_bank_free(&b);
}

static void test_estimates(void)
{
    pc_conv_params p;
    pc_conv_params_default(&p);
    /* Direct: every mode, both dtypes, odd counts (sets and singles). */
    const pc_mode modes[] = {PC_FULL, PC_SAME, PC_VALID};
    for (int i = 0; i < 3; i++)
        for (int d = 0; d < 2; d++) {
            p.mode = modes[i];
            p.dtype = d ? PC_F32 : PC_F64;
            estimate_case("direct", 97, 130, 13, 7, 5, &p, true);
            estimate_case("direct, one kernel", 40, 33, 1, 3, 3, &p, true);
            estimate_case("direct, kernel larger", 6, 9, 37, 12, 15, &p, true);
        }
    pc_conv_params_default(&p);
    p.isa = PC_ISA_GENERIC;
    estimate_case("direct generic", 64, 64, 21, 5, 5, &p, true);

    /* FFT, size pinned: the same tiling, so exact. */
    pc_conv_params_default(&p);
    p.method = PC_FFT;
    p.fft_P = p.fft_Q = 64;
    estimate_case("fft 64x64", 150, 170, 11, 9, 9, &p, true);
    p.dtype = PC_F32;
    p.mode = PC_SAME;
    estimate_case("fft 64x64 f32", 150, 170, 11, 9, 9, &p, true);

    /* FFT chosen by timing, and AUTO where the model takes FFT (large
     * kernels) or direct (small ones). */
    pc_conv_params_default(&p);
    p.method = PC_FFT;
    estimate_case("fft timed", 200, 180, 5, 17, 17, &p, false);
    p.method = PC_AUTO;
    estimate_case("auto, large kernels", 256, 256, 4, 41, 41, &p, false);
    estimate_case("auto, small kernels", 256, 256, 4, 3, 3, &p, false);
    pc_memory m;
    CHECK(pc_plan_estimate(&p, 256, 256, 4, 3, 3, &m) == 0 && m.spectra == 0,
          "auto with 3x3 kernels should need no spectra: %g", m.spectra);

    /* Bad parameters and impossible sizes are refused, not overflowed. */
    pc_conv_params_default(&p);
    CHECK(pc_plan_estimate(&p, 10, 10, 0, 3, 3, &m) == PC_EUSAGE,
          "no kernels");
    CHECK(pc_plan_estimate(&p, (size_t)1 << 40, (size_t)1 << 40, 1, 3, 3,
                           &m) == PC_EUSAGE, "a matrix of 2^80 samples");
    CHECK(pc_plan_estimate(&p, 10, 10, (size_t)1 << 50, 1 << 10, 1 << 10,
                           &m) == PC_EUSAGE, "kernels of 2^70 taps");
    p.mode = PC_VALID;
    CHECK(pc_plan_estimate(&p, 10, 20, 1, 20, 10, &m) == PC_EUSAGE,
          "valid with neither input containing the other");
    pc_conv_params_default(&p);
    p.dtype = (pc_dtype)9;
    CHECK(pc_plan_estimate(&p, 10, 10, 1, 3, 3, &m) == PC_EUSAGE, "dtype 9");
}

static void test_worker_mode(void)
{
    /* A program's own command line is not a worker's. */
    char *args[] = {"prog", "--mode", "full", NULL};
    int status = 12345;
    CHECK(pc_worker_check(3, args, &status) == 0 && status == 12345,
          "pc_worker_check took a normal command line");
    CHECK(pc_worker_check(1, args, &status) == 0, "argc 1");
    /* A worker's flag with bad arguments is a worker that refuses. */
    char *bad[] = {"prog", PC_WORKER_FLAG, "x", NULL};
    CHECK(pc_worker_check(3, bad, &status) == 1 && status == 2,
          "bad worker arguments: status %d", status);

    const char *exe = pc_worker_default_exe();
    size_t n = exe ? strlen(exe) : 0;
    CHECK(n > 8 && exe[0] == '/' && strcmp(exe + n - 8, "/parconv") == 0,
          "default worker executable '%s'", exe ? exe : "(null)");

    /* NULL worker_exe: the installed parconv if there is one (then the
     * results are serial's), else a clean error naming it. */
    pc_matrix m;
    pc_bank b;
    make_inputs(&m, &b, 50, 40, 6, 5, 5);
    pc_conv_params p;
    pc_conv_params_default(&p);
    pc_plan *plan;
    if (pc_plan_create(&plan, &p, &m, &b) == 0) {
        uint64_t ref[6] = {0}, sums[6] = {0};
        pc_run_result res;
        pc_run_params rp = {.strategy = PC_SERIAL, .sums = ref};
        CHECK(pc_run(plan, &rp, &res) == 0, "serial: %s", pc_errmsg());
        rp = (pc_run_params){.strategy = PC_PROCS, .workers = 2, .sums = sums};
        int st = pc_run(plan, &rp, &res);
        if (st == 0)
            CHECK(memcmp(ref, sums, sizeof ref) == 0,
                  "procs with the installed parconv differs from serial");
        else
            CHECK((st == PC_ESYS && strstr(pc_errmsg(), exe)) ||
                  st == PC_EWORKER, "NULL worker_exe: status %d: %s", st,
                  pc_errmsg());
        printf("procs with worker_exe NULL: %s\n",
               st ? pc_errmsg() : "ran with the installed parconv");
        pc_plan_destroy(plan);
    } else {
        CHECK(0, "plan: %s", pc_errmsg());
    }
    pc_matrix_free(&m);
    pc_bank_free(&b);
}

/* xxHash64's reference values (its specification's test vectors), and a
 * change pc_hash's sums cannot see but a hash must: the signs of an even
 * number of doubles flipped together. */
static void test_xxhash64(void)
{
    static const struct {
        const char *s;
        uint64_t want;
    } v[] = {
        {"", 0xEF46DB3751D8E999ULL},
        {"a", 0xD24EC4F1A98C6E5BULL},
        {"abc", 0x44BC2CF5AD770999ULL},
        {"Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1ULL},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        CHECK(pc_xxhash64(v[i].s, strlen(v[i].s), 0) == v[i].want,
              "xxhash64(\"%s\") = %016llx", v[i].s,
              (unsigned long long)pc_xxhash64(v[i].s, strlen(v[i].s), 0));
    double a[3000], b[3000];
    for (size_t i = 0; i < 3000; i++) {
        a[i] = (double)i;
        b[i] = -(double)i;
    }
    CHECK(pc_hash(a, sizeof a) == pc_hash(b, sizeof b),
          "pc_hash now sees sign flips: the comment in parconv.h is stale");
    CHECK(pc_xxhash64(a, sizeof a, 0) != pc_xxhash64(b, sizeof b, 0),
          "xxhash64 does not see the signs of 3000 doubles flipped");
}

/* pc_plan_set_matrix: a plan made with one matrix and given another
 * computes bit for bit what a fresh plan of the other computes (with the
 * same method and FFT size), for direct and FFT, both dtypes; another
 * shape, and NaN with an FFT plan, are refused. */
static void set_matrix_case(const char *name, pc_conv_params p)
{
    const size_t M = 61, N = 47, K = 5, kh = 7, kw = 6;
    pc_matrix m0, m1;
    pc_bank b;
    make_inputs(&m0, &b, M, N, K, kh, kw);
    pc_matrix_alloc(&m1, M, N);
    for (size_t i = 0; i < M * N; i++)
        m1.data[i] = (double)((i * 7919) % 23) - 11;
    pc_plan *a = NULL, *fresh = NULL;
    int st = pc_plan_create(&a, &p, &m0, &b);
    CHECK(st == 0, "%s: plan: %s", name, pc_errmsg());
    if (!st) {
        /* The fresh plan must take the same tiling to give the same bits. */
        size_t P, Q, Tr, Tc, ntr, ntc;
        double ps;
        pc_plan_fft_info(a, &P, &Q, &Tr, &Tc, &ntr, &ntc, &ps);
        p.fft_P = P;
        p.fft_Q = Q;
        st = pc_plan_set_matrix(a, &m1);
        CHECK(st == 0, "%s: set_matrix: %s", name, pc_errmsg());
    }
    if (!st)
        st = pc_plan_create(&fresh, &p, &m1, &b);
    size_t bytes = a ? pc_plan_out_bytes(a) : 0;
    char *x = malloc(bytes ? bytes : 1), *y = malloc(bytes ? bytes : 1);
    for (size_t k = 0; !st && k < K; k++) {
        CHECK(pc_plan_execute(a, k, x) == 0 && pc_plan_execute(fresh, k, y) == 0,
              "%s: execute: %s", name, pc_errmsg());
        CHECK(memcmp(x, y, bytes) == 0, "%s: kernel %zu differs from a fresh "
              "plan's", name, k);
    }
    if (!st) {
        /* And through a strategy (the batch path). */
        uint64_t s1[5], s2[5];
        pc_run_params rp = {.strategy = PC_SERIAL, .sums = s1};
        pc_run_result res;
        CHECK(pc_run(a, &rp, &res) == 0, "%s: run: %s", name, pc_errmsg());
        rp.sums = s2;
        CHECK(pc_run(fresh, &rp, &res) == 0, "%s: run: %s", name, pc_errmsg());
        CHECK(memcmp(s1, s2, sizeof s1) == 0, "%s: run checksums differ",
              name);
        pc_matrix bad;
        pc_matrix_alloc(&bad, M + 1, N);
        CHECK(pc_plan_set_matrix(a, &bad) == PC_EUSAGE &&
              strstr(pc_errmsg(), "62x47"), "%s: another shape: %s", name,
              pc_errmsg());
        pc_matrix_free(&bad);
        m1.data[5] = 0.0 / 0.0;
        int want = pc_plan_method(a) == PC_FFT ? PC_EUSAGE : PC_OK;
        CHECK(pc_plan_set_matrix(a, &m1) == want, "%s: NaN: %s", name,
              pc_errmsg());
    }
    free(x);
    free(y);
    pc_plan_destroy(a);
    pc_plan_destroy(fresh);
    pc_matrix_free(&m0);
    pc_matrix_free(&m1);
    pc_bank_free(&b);
}

/* fn for both dtypes and methods, each mode with the boundary of the same
 * index in bnds ('valid' reads no boundary), and a fill value. */
static void each_params(void (*fn)(const char *, pc_conv_params),
                        const pc_boundary bnds[3], double fillvalue)
{
    pc_conv_params p;
    const pc_mode modes[] = {PC_FULL, PC_SAME, PC_VALID};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++) {
            pc_conv_params_default(&p);
            p.dtype = d ? PC_F32 : PC_F64;
            p.mode = modes[i];
            p.boundary = bnds[i];
            p.fillvalue = fillvalue;
            p.method = PC_DIRECT;
            fn(d ? "direct f32" : "direct f64", p);
            p.method = PC_FFT;
            fn(d ? "fft f32" : "fft f64", p);
        }
}

static void test_set_matrix(void)
{
    const pc_boundary bnds[] = {PC_FILL, PC_WRAP, PC_SYMM};
    each_params(set_matrix_case, bnds, 1.5);
}

/* Kernel by kernel, a and b compute the same bits. */
static bool same_results(const char *name, const pc_plan *a, const pc_plan *b)
{
    size_t bytes = pc_plan_out_bytes(a);
    char *x = malloc(bytes), *y = malloc(bytes);
    bool same = x && y && pc_plan_out_bytes(b) == bytes;
    for (size_t k = 0; same && k < pc_plan_count(a); k++) {
        same = pc_plan_execute(a, k, x) == 0 && pc_plan_execute(b, k, y) == 0;
        CHECK(same, "%s: execute: %s", name, pc_errmsg());
        same = same && memcmp(x, y, bytes) == 0;
    }
    free(x);
    free(y);
    return same;
}

/* The layouts a view is tested in: where element (0, 0) is and the
 * strides, for an M x N matrix in a buffer of 6*M*N elements. */
enum { C_ORDER, TRANSPOSED, REVERSED, STEPPED, NLAYOUTS };
static const char *const layout_names[NLAYOUTS] = {
    "C order", "transposed", "reversed", "stepped"};

/* x (M x N doubles, C order) laid out in buf (6*M*N elements of dt, the
 * rest NaN, so a misplaced read shows) as layout L, and the view of it. */
static pc_matrix_view lay_out(int L, pc_dtype dt, const double *x, size_t M,
                              size_t N, void *buf)
{
    ptrdiff_t m = (ptrdiff_t)M, n = (ptrdiff_t)N, base = 0, rs = n, cs = 1;
    if (L == TRANSPOSED) {
        rs = 1;
        cs = m;
    } else if (L == REVERSED) {
        base = m * n - 1;
        rs = -n;
        cs = -1;
    } else if (L == STEPPED) {
        base = 1;
        rs = 6 * n;
        cs = 3;
    }
    for (size_t i = 0; i < 6 * M * N; i++) {
        if (dt == PC_F32)
            ((float *)buf)[i] = 0.0f / 0.0f;
        else
            ((double *)buf)[i] = 0.0 / 0.0;
    }
    for (ptrdiff_t i = 0; i < m; i++)
        for (ptrdiff_t j = 0; j < n; j++) {
            ptrdiff_t o = base + i * rs + j * cs;
            if (dt == PC_F32)
                ((float *)buf)[o] = (float)x[i * n + j];
            else
                ((double *)buf)[o] = x[i * n + j];
        }
    size_t esz = pc_dtype_size(dt);
    pc_matrix_view v = {(const char *)buf + base * (ptrdiff_t)esz, dt, M, N,
                        rs, cs};
    return v;
}

/* pc_plan_set_matrix_view and pc_plan_create_view: doubles and floats in
 * every layout give bit for bit what pc_plan_set_matrix and
 * pc_plan_create give for the same values as doubles (floats converted);
 * a NULL, another shape, an unknown dtype, and NaN (read through the
 * strides) with an FFT plan are refused. */
static void view_case(const char *name, pc_conv_params p)
{
    const size_t M = 29, N = 23, K = 5, kh = 5, kw = 4;
    pc_matrix m0, m1;
    pc_bank b;
    make_inputs(&m0, &b, M, N, K, kh, kw);
    pc_matrix_alloc(&m1, M, N);
    void *buf = malloc(6 * M * N * sizeof(double));
    pc_plan *ref = NULL, *a = NULL;
    int st = pc_plan_create(&a, &p, &m0, &b);
    CHECK(st == 0, "%s: plan: %s", name, pc_errmsg());
    if (st)
        goto done;
    size_t P, Q, Tr, Tc, ntr, ntc;
    double ps;
    pc_plan_fft_info(a, &P, &Q, &Tr, &Tc, &ntr, &ntc, &ps);
    p.fft_P = P;
    p.fft_Q = Q;
    for (int d = 0; d < 2; d++) {
        pc_dtype dt = d ? PC_F32 : PC_F64;
        /* Values that a float rounds, taken as the float path takes them. */
        for (size_t i = 0; i < M * N; i++) {
            double x = (double)((i * 7919) % 23) / 7.0 - 1.3;
            m1.data[i] = dt == PC_F32 ? (double)(float)x : x;
        }
        st = pc_plan_create(&ref, &p, &m1, &b);
        CHECK(st == 0, "%s: plan: %s", name, pc_errmsg());
        for (int L = 0; !st && L < NLAYOUTS; L++) {
            pc_matrix_view v = lay_out(L, dt, m1.data, M, N, buf);
            CHECK(pc_plan_set_matrix_view(a, &v) == 0, "%s: set_matrix_view: "
                  "%s", name, pc_errmsg());
            CHECK(same_results(name, a, ref), "%s: %s %s view differs from "
                  "pc_plan_set_matrix", name, pc_dtype_name(dt),
                  layout_names[L]);
            pc_plan *fresh = NULL;
            CHECK(pc_plan_create_view(&fresh, &p, &v, &b) == 0,
                  "%s: create_view: %s", name, pc_errmsg());
            CHECK(fresh && same_results(name, fresh, ref), "%s: %s %s view "
                  "plan differs from pc_plan_create's", name,
                  pc_dtype_name(dt), layout_names[L]);
            pc_plan_destroy(fresh);
        }
        pc_plan_destroy(ref);
        ref = NULL;
    }
    /* Refusals, each with the view otherwise good. */
    pc_matrix_view v = lay_out(STEPPED, PC_F32, m1.data, M, N, buf), bad = v;
    bad.data = NULL;
    CHECK(pc_plan_set_matrix_view(a, &bad) == PC_EUSAGE, "%s: NULL data "
          "taken", name);
    pc_plan *none = NULL;
    CHECK(pc_plan_create_view(&none, &p, &bad, &b) == PC_EUSAGE && !none,
          "%s: create_view took NULL data", name);
    bad = v;
    bad.dtype = (pc_dtype)7;
    CHECK(pc_plan_set_matrix_view(a, &bad) == PC_EUSAGE &&
          strstr(pc_errmsg(), "dtype"), "%s: dtype 7: %s", name, pc_errmsg());
    bad = v;
    bad.cols = N - 1;
    CHECK(pc_plan_set_matrix_view(a, &bad) == PC_EUSAGE &&
          strstr(pc_errmsg(), "29x22"), "%s: another shape: %s", name,
          pc_errmsg());
    ((float *)buf)[1 + 6 * N * 3 + 3 * 4] = 0.0f / 0.0f; /* element (3, 4) */
    int want = pc_plan_method(a) == PC_FFT ? PC_EUSAGE : PC_OK;
    CHECK(pc_plan_set_matrix_view(a, &v) == want, "%s: NaN: %s", name,
          pc_errmsg());
done:
    free(buf);
    pc_plan_destroy(a);
    pc_matrix_free(&m0);
    pc_matrix_free(&m1);
    pc_bank_free(&b);
}

static void test_views(void)
{
    /* The full grid reflected: the most reads outside the matrix. */
    const pc_boundary bnds[] = {PC_SYMM, PC_WRAP, PC_FILL};
    each_params(view_case, bnds, -2.5);
}

int main(void)
{
    test_xxhash64();
    test_set_matrix();
    test_views();
    test_estimates();
    test_worker_mode();
    return t_summary("api");
}
