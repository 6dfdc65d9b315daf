/*
 * parconv: apply a bank of 2-D kernels to a matrix, exactly as
 * scipy.signal.convolve2d does, and compare ways of spreading the work
 * (serial loop, worker processes, POSIX threads, OpenMP).
 *
 * Life cycle, as in FFTW: build inputs, pc_plan_create() (all set-up, one
 * thread), pc_run() or pc_plan_execute() (re-entrant), pc_plan_destroy().
 * Every function that can fail returns 0 or a PC_E* code; pc_errmsg() then
 * holds a one-line description of what went wrong (per thread). The
 * library never prints (a procs worker process says why it failed on
 * stderr).
 *
 * Build against the installed library with pkg-config:
 *     cc prog.c $(pkg-config --cflags --libs parconv)
 * or, with libparconv.a, the libraries `pkg-config --static --libs parconv`
 * lists; examples/bank.c is a complete program.
 */
#ifndef PARCONV_H
#define PARCONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version; meson checks that it is the project's. */
#define PC_VERSION "0.1.0"

/* What the shared library exports: this header's functions only. */
#if defined(__GNUC__)
#define PC_API __attribute__((visibility("default")))
#else
#define PC_API
#endif

/* Status codes. PC_EUSAGE and PC_EINPUT are the caller's fault (exit 2),
 * the others are run-time failures (exit 1). */
enum pc_status {
    PC_OK = 0,
    PC_EUSAGE,    /* bad argument or combination of arguments */
    PC_EINPUT,    /* bad input file or data */
    PC_ENOMEM,    /* allocation failed or would exceed available memory */
    PC_EIO,       /* reading or writing a file failed */
    PC_ESYS,      /* a system call failed (spawn, mmap, threads) */
    PC_EWORKER,   /* a worker process or thread failed */
    PC_EMISMATCH, /* strategies disagree */
    PC_EINTERRUPTED, /* stopped by a signal (SIGTERM, SIGINT) */
};

PC_API const char *pc_strerror(int status);
/* The message of the last error set on this thread ("" if none). */
PC_API const char *pc_errmsg(void);
/* Sets the calling thread's message and returns status (for chaining). */
PC_API int pc_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef enum { PC_F64, PC_F32 } pc_dtype;
typedef enum { PC_FULL, PC_SAME, PC_VALID } pc_mode;
typedef enum { PC_FILL, PC_WRAP, PC_SYMM } pc_boundary;
/* How each convolution is computed. AUTO chooses per run from a cost
 * model (pc_plan_estimates). */
typedef enum { PC_DIRECT, PC_FFT, PC_AUTO } pc_method;
/* FFTW planning effort. */
typedef enum { PC_FFT_ESTIMATE, PC_FFT_MEASURE } pc_fft_effort;
/* Instruction sets of the direct kernels. AUTO picks the best the CPU has. */
typedef enum {
    PC_ISA_AUTO,
    PC_ISA_GENERIC, /* portable C (GCC vector extensions, 16-byte vectors) */
    PC_ISA_AVX2,    /* AVX2 + FMA, 32-byte vectors */
    PC_ISA_AVX512,  /* AVX-512F, 64-byte vectors */
    PC_NISAS
} pc_isa;
typedef enum {
    PC_SERIAL,
    PC_PROCS,
    PC_THREADS,
    PC_OMP,
    PC_NSTRATEGIES
} pc_strategy;

/* Names for the enums above, and the reverse look-up (-1 if unknown).
 * pc_dtype_parse also takes float64 and double for f64, float32 and
 * single for f32; "float" is ambiguous (numpy's is f64, C's f32): -1. */
PC_API const char *pc_dtype_name(pc_dtype d);
PC_API const char *pc_mode_name(pc_mode m);
PC_API const char *pc_boundary_name(pc_boundary b);
PC_API const char *pc_method_name(pc_method m);
PC_API const char *pc_strategy_name(pc_strategy s);
PC_API const char *pc_isa_name(pc_isa i);
PC_API int pc_dtype_parse(const char *s);
PC_API int pc_mode_parse(const char *s);
PC_API int pc_boundary_parse(const char *s);
PC_API int pc_method_parse(const char *s);
PC_API int pc_strategy_parse(const char *s);
PC_API int pc_isa_parse(const char *s);
PC_API size_t pc_dtype_size(pc_dtype d);

/* A row-major matrix of doubles. Inputs are held in double whatever the
 * compute type; the plan converts them once. */
typedef struct {
    size_t rows, cols;
    double *data;
} pc_matrix;

/* count kernels of rows x cols, stored one after the other. */
typedef struct {
    size_t count, rows, cols;
    double *data;
} pc_bank;

PC_API int pc_matrix_alloc(pc_matrix *m, size_t rows, size_t cols);
PC_API void pc_matrix_free(pc_matrix *m);
PC_API int pc_bank_alloc(pc_bank *b, size_t count, size_t rows, size_t cols);
PC_API void pc_bank_free(pc_bank *b);

/* ---- reproducible inputs (GSL mt19937) ---------------------------------- */

typedef struct {
    uint64_t seed;
    int64_t lo, hi; /* integers uniform in [lo, hi) */
} pc_gen_params;

/* One generator stream: rows x cols values for the matrix first, then the
 * kernels in order. m (allocated rows x cols) and b (allocated) may each be
 * NULL: the matrix's values are then drawn and dropped, so a generated bank
 * is the same whether the matrix was generated or loaded from a file. */
PC_API int pc_generate(const pc_gen_params *g, size_t rows, size_t cols,
                       pc_matrix *m, pc_bank *b);

/* The same stream drawn piece by piece, for a stack of N matrices: matrix
 * 0, 1, ..., N-1 (rows x cols values each), then the kernels; one matrix
 * at a time in memory. With N = 1 it is pc_generate's stream. pc_gen_open
 * refuses a bad range as pc_generate does. */
typedef struct pc_gen_stream pc_gen_stream;
PC_API int pc_gen_open(pc_gen_stream **s, const pc_gen_params *g);
/* The next n values into out (n doubles), or drawn and dropped (NULL). */
PC_API void pc_gen_draw(pc_gen_stream *s, size_t n, double *out);
PC_API void pc_gen_close(pc_gen_stream *s);

/* ---- .npy files --------------------------------------------------------- */

/* Reads a 2-D array (or, with pc_npy_read_bank, a 3-D stack or one 2-D
 * kernel) of any supported dtype, converted to double. */
PC_API int pc_npy_read_matrix(const char *path, pc_matrix *m);
PC_API int pc_npy_read_bank(const char *path, pc_bank *b);
/* The same, refusing (PC_EINPUT) before allocating an array whose doubles
 * would take more than max bytes (0: no limit). */
PC_API int pc_npy_read_matrix_max(const char *path, pc_matrix *m, double max);
PC_API int pc_npy_read_bank_max(const char *path, pc_bank *b, double max);

/* Matrix `index` of a 3-D .npy stack (N x R x C), or of a 2-D file
 * (index 0), into m, already allocated R x C: one matrix in memory
 * whatever the stack's size. C order is read from the matrix's offset;
 * Fortran order is gathered through a read-only mapping of the file
 * (slower: the matrix's elements are spread over the whole file). A
 * stack must be a regular file. PC_EUSAGE for an index or shape that the
 * file does not have; otherwise the readers' errors. */
PC_API int pc_npy_read_slice(const char *path, size_t index, pc_matrix *m);

/* What a .npy file's header says, read without its elements: its
 * element type as numpy spells it, byte order first ("<f8", "|u1",
 * ">i4"; '=' and no marker read as '<'), the order of the elements, the
 * shape (up to 3 dimensions, what the readers take), where the elements
 * start and the file's size in bytes (0 if it is not a regular file). */
typedef struct {
    char descr[8];
    bool fortran_order;
    int ndim;
    size_t shape[3];
    size_t header_bytes;
    uint64_t file_bytes;
} pc_npy_meta;

/* Reads and checks path's header as the readers do (same errors), and
 * only the header. */
PC_API int pc_npy_info(const char *path, pc_npy_meta *meta);

/* Writes a C-ordered array of ndim dimensions (1..4: 4 for a stack of
 * stacks) as .npy version 1.0. data holds doubles or floats as dtype
 * says. */
PC_API int pc_npy_write(const char *path, pc_dtype dtype, int ndim,
                        const size_t *shape, const void *data);
/* The same file's bytes written to fd, an open file the caller created
 * (for instance a temporary of mkostemp, to be renamed into place) and
 * still owns: it is neither synced nor closed. */
PC_API int pc_npy_write_fd(int fd, pc_dtype dtype, int ndim,
                           const size_t *shape, const void *data);
/* Size of the header pc_npy_write produces for this shape. */
PC_API size_t pc_npy_header_size(pc_dtype dtype, int ndim, const size_t *shape);
/* That header's bytes into out (n bytes of room); returns its size, 0 if
 * it does not fit or the arguments are invalid. */
PC_API size_t pc_npy_header(pc_dtype dtype, int ndim, const size_t *shape,
                            char *out, size_t n);

/* ---- convolution plan --------------------------------------------------- */

typedef struct {
    pc_mode mode;
    pc_boundary boundary;
    double fillvalue;
    pc_dtype dtype;
    pc_method method;
    pc_isa isa;
    pc_fft_effort fft_effort;
    const char *wisdom;   /* FFTW wisdom file: imported, then exported */
    /* The cost model: seconds per output sample per kernel tap (direct),
     * and per P*Q*log2(P*Q) of each tile transform (FFT). 0: built-in. */
    double cost_direct, cost_fft;
    /* FFT transform size to use instead of timing candidates (0: choose);
     * --resume pins the earlier run's so results are the same bits. */
    size_t fft_P, fft_Q;
    /* Choose the FFT size (when not pinned), and for AUTO the method, by
     * the cost model alone, with no timing: a function of the shapes (and
     * constants) only, so separately planned runs (the shards of a job
     * array) take the same method and size. */
    bool fft_model;
} pc_conv_params;

/* Built-in cost constants for a dtype and ISA (measured on the
 * development machine; `parconv calibrate` measures this one). */
PC_API void pc_cost_defaults(pc_dtype dtype, pc_isa isa, double *direct,
                             double *fft);

/* Whether this CPU (and OS) can run an ISA's kernels; AUTO resolves to the
 * best one. */
PC_API int pc_isa_supported(pc_isa isa);
PC_API pc_isa pc_isa_best(void);

PC_API void pc_conv_params_default(pc_conv_params *p);

/* Output shape of one kernel, or PC_EUSAGE for scipy's 'valid' rule
 * (neither input contains the other). swapped says whether scipy would swap
 * the inputs ('valid' with a kernel at least as large as the matrix). */
PC_API int pc_out_shape(pc_mode mode, size_t rows, size_t cols, size_t krows,
                        size_t kcols, size_t *orows, size_t *ocols,
                        int *swapped);

typedef struct pc_plan pc_plan;

/* All expensive set-up: padding per boundary, flipped and converted kernels.
 * The plan keeps its own copies; m and b may be freed afterwards. */
PC_API int pc_plan_create(pc_plan **plan, const pc_conv_params *p,
                          const pc_matrix *m, const pc_bank *b);
PC_API void pc_plan_destroy(pc_plan *plan);
/* Another matrix of the plan's shape (a stack of them, one plan): fills
 * the padded matrix again and, for an FFT plan, recomputes the tile
 * spectra; the kernels, the method and the FFT size stay. Results are
 * then bit for bit a fresh plan's of m (with the same method and FFT
 * size). PC_EUSAGE for another shape, or NaN/Inf in m with an FFT plan
 * (as pc_plan_create refuses them). Not while a pc_run on the plan is
 * under way; procs workers map the plan at each pc_run, so they see it. */
PC_API int pc_plan_set_matrix(pc_plan *plan, const pc_matrix *m);

/* A matrix read in place, with no copy: rows x cols elements of dtype
 * (doubles or floats), element (i, j) at
 *     ((const double or float *)data)[i * row_stride + j * col_stride],
 * strides in elements (not bytes: a numpy array's byte strides divided by
 * its itemsize) of either sign, 0 repeating an element. C order is
 * {cols, 1}, Fortran order {1, rows}. Floats are taken as doubles (exactly)
 * and then converted to the plan's dtype, as a pc_matrix of them would
 * be: the results are bit for bit the same. */
typedef struct {
    const void *data;
    pc_dtype dtype;
    size_t rows, cols;
    ptrdiff_t row_stride, col_stride;
} pc_matrix_view;

/* pc_plan_create and pc_plan_set_matrix on a view (same checks and
 * errors; PC_EUSAGE for a NULL data pointer or an unknown dtype): the view
 * is read while the call lasts and not after. pc_plan_create(p, m, b) is
 * pc_plan_create_view of the view {m->data, PC_F64, m->rows, m->cols,
 * m->cols, 1}. */
PC_API int pc_plan_create_view(pc_plan **plan, const pc_conv_params *p,
                               const pc_matrix_view *m, const pc_bank *b);
PC_API int pc_plan_set_matrix_view(pc_plan *plan, const pc_matrix_view *m);

/* Memory of a plan, in bytes. plan: its shared mapping (padded matrix,
 * flipped kernels, header) but the spectra; spectra: the FFT's
 * tile spectra (0 for direct); sums: one pc_run's row checksums (procs
 * keeps a second copy in its workers' mapping); scratch: each worker's
 * buffers. */
typedef struct {
    double plan, spectra, sums, scratch;
} pc_memory;

/* What pc_plan_create would allocate for these parameters and shapes,
 * without allocating it, from the same layout. plan, sums and scratch (for
 * direct) are exact; an FFT plan's mapping also holds FFTW's wisdom (a few
 * KB, counted in pc_plan_memory's plan). For an FFT plan whose size is not
 * pinned (fft_P, fft_Q), and for AUTO when the model would choose FFT,
 * spectra and scratch are the most any candidate size needs. Inputs are
 * assumed finite. Same errors as pc_plan_create for bad parameters. */
PC_API int pc_plan_estimate(const pc_conv_params *p, size_t rows, size_t cols,
                            size_t count, size_t krows, size_t kcols,
                            pc_memory *m);
/* The cost model's choice for these parameters and shapes, without
 * allocating or timing anything: the method a plan of them would take
 * (p->method, or for AUTO the cheaper estimate, which a plan's trial may
 * overrule near the crossover (pc_plan_trial); never AUTO) and the
 * estimates that pc_plan_estimates would report (seconds per kernel, one
 * core). Inputs are assumed finite (with NaN or Inf an AUTO plan is
 * direct). Same errors as pc_plan_create for bad parameters. */
PC_API int pc_plan_model(const pc_conv_params *p, size_t rows, size_t cols,
                         size_t count, size_t krows, size_t kcols,
                         pc_method *method, double *direct, double *fft);
/* What a plan holds, measured on its mapping. */
PC_API void pc_plan_memory(const pc_plan *plan, pc_memory *m);

PC_API size_t pc_plan_count(const pc_plan *plan);
PC_API void pc_plan_out_shape(const pc_plan *plan, size_t *orows,
                              size_t *ocols);
/* Kernels that the plan computes together (a set of vectors, an FFT
 * group): batches of a multiple of this waste nothing. */
PC_API size_t pc_plan_batch_quantum(const pc_plan *plan);
/* Bytes of one kernel's output plane. */
PC_API size_t pc_plan_out_bytes(const pc_plan *plan);
PC_API const pc_conv_params *pc_plan_params(const pc_plan *plan);
/* The ISA the plan's kernels use (never AUTO). */
PC_API pc_isa pc_plan_isa(const pc_plan *plan);
/* The method the plan uses (never AUTO), and the model's estimates of
 * seconds per kernel for each (one core). */
PC_API pc_method pc_plan_method(const pc_plan *plan);
PC_API void pc_plan_estimates(const pc_plan *plan, double *direct, double *fft);
/* AUTO with estimates within a factor of PC_TRIAL_MARGIN of each other
 * (and fft_model off): both methods were timed on the plan's own inputs
 * (one core, the best of interleaved samples) and the faster taken.
 * Seconds per kernel of each, and the seconds the trial took; zeros when
 * the model alone chose. */
#define PC_TRIAL_MARGIN 2.0
PC_API void pc_plan_trial(const pc_plan *plan, double *direct, double *fft,
                          double *seconds);
/* FFT set-up: transform size P x Q, output tile Tr x Tc, tiles down and
 * across, planning seconds (0s for a direct plan). */
PC_API void pc_plan_fft_info(const pc_plan *plan, size_t *P, size_t *Q,
                             size_t *Tr, size_t *Tc, size_t *ntr, size_t *ntc,
                             double *plan_s);
/* FFT plans: the largest |fft - direct| / max|direct| over a sample of
 * kernels (first, middle, last), on the rows where tiles meet (the first
 * and last of every tile row) and the plane's first and last 4 rows. */
PC_API int pc_plan_fft_error(const pc_plan *plan, double *rel_err);
/* Floating-point operations per kernel: 2 * out_rows * out_cols * kh * kw. */
PC_API double pc_plan_flops(const pc_plan *plan);

/* Computes kernel k into out (orows x ocols of the plan's dtype, row-major),
 * bit for bit what a strategy computes for it. Re-entrant. Strategies use
 * the faster batch path, which computes many kernels at once. */
PC_API int pc_plan_execute(const pc_plan *plan, size_t k, void *out);

/* ---- checksums ---------------------------------------------------------- */

/* A 64-bit checksum of a byte string: parallel Fletcher-style sums of
 * 64-bit words (fast enough to run on every output row as it is made),
 * mixed by xxHash64's avalanche. */
PC_API uint64_t pc_hash(const void *data, size_t n);
/* xxHash64 of a byte string with a seed: slower than pc_hash (about 8
 * GB/s against 30+) but a real hash, every bit of the input mixing into
 * every bit of the result. pc_hash's sums cancel some changes (the sign
 * bits of an even number of doubles flipped together); inputs are
 * identified by this one. */
PC_API uint64_t pc_xxhash64(const void *data, size_t n, uint64_t seed);
/* The checksum of a list of checksums (row -> kernel -> run). */
PC_API uint64_t pc_hash_combine(const uint64_t *sums, size_t n);
/* A kernel's checksum: pc_hash_combine of the pc_hash of each row
 * (0 if memory for the row checksums cannot be had). */
PC_API uint64_t pc_plane_checksum(const void *plane, size_t rows,
                                  size_t row_bytes);

/* ---- strategies --------------------------------------------------------- */

/* Memory for every kernel's output plane, its pages taken at creation.
 * shared: procs workers can map it too (a memfd, fd >= 0); only a shared
 * arena can be given to procs. Otherwise private memory (fd -1), in huge
 * pages where the kernel allows, which the other strategies write faster:
 * each process pays for its first touch of every 4 KB page of a shared
 * mapping. The strategies but procs also take memory of the caller's own
 * as {base, bytes, fd -1} (an array to fill; not for pc_arena_destroy). */
typedef struct {
    void *base;
    size_t bytes;
    int fd;
} pc_arena;

PC_API int pc_arena_create(pc_arena *a, size_t bytes, bool shared);
PC_API void pc_arena_destroy(pc_arena *a);

typedef struct {
    pc_strategy strategy;
    unsigned workers;       /* threads or processes; 0 means 1 */
    /* procs: the executable the workers run, started with PC_WORKER_FLAG
     * (see pc_worker_check); NULL: the parconv installed with this
     * library, pc_worker_default_exe(). */
    const char *worker_exe;
    /* Work is split by output rows: worker w computes rows
     * [w*R/W, (w+1)*R/W) of every kernel, so any W balances.
     * Where results go: sums[k] receives kernel k's checksum (required). If
     * arena is non-NULL, kernel k's plane is also left at
     * arena->base + k * pc_plan_out_bytes(plan). */
    uint64_t *sums;
    const pc_arena *arena;
    /* Only kernels [k0, k1) (k1 = 0: all). With an arena, kernel k's plane
     * is then at arena->base + (k - k0) * pc_plan_out_bytes(plan). */
    size_t k0, k1;
    /* procs: a worker that makes no progress for worker_timeout seconds
     * (0: no limit) is killed as hung; a failed worker's share is given to
     * a new worker up to `retries` times before the run fails. */
    double worker_timeout;
    unsigned retries;
    /* If set, becoming non-zero (a signal handler's flag) stops the run
     * within a few rows of work; pc_run then returns PC_EINTERRUPTED and
     * the results of this run are incomplete. */
    const volatile int *cancel;
} pc_run_params;

typedef struct {
    double seconds;       /* wall time of the whole strategy */
    double compute;       /* from the first worker's start to the last
                             worker's end (one monotonic clock); the rest
                             of seconds is starting workers and waiting
                             for them to stop */
    unsigned workers;     /* workers actually used: at most as many as
                             units of work, and for omp the team the
                             runtime gave (OMP_THREAD_LIMIT, OMP_DYNAMIC) */
    unsigned retried;     /* procs: workers restarted */
    char warning[1024];   /* procs: what each restarted worker did, a line
                             each */
} pc_run_result;

/* The FMA ceiling: GFLOP/s of a register-only multiply-add loop of the
 * ISA's vectors in the given number of POSIX threads (not OpenMP's, so
 * OMP_THREAD_LIMIT cannot shrink it), all started together on the
 * process's CPUs (pc_cpu_info's affinity), over the time from the first
 * one's start to the last one's end. */
PC_API int pc_peak(pc_dtype dtype, pc_isa isa, unsigned threads,
                   double *gflops);

PC_API int pc_run(const pc_plan *plan, const pc_run_params *rp,
                  pc_run_result *res);

/* Worker mode. The procs strategy starts its workers as processes of
 * their own: pc_run_params.worker_exe with PC_WORKER_FLAG and a few
 * numbers as arguments; the plan and the results are shared through
 * memory mappings whose descriptors the workers inherit. A program that
 * links the library and runs procs can be its own worker: at the very top
 * of main, before anything else,
 *
 *     int status;
 *     if (pc_worker_check(argc, argv, &status))
 *         return status;
 *
 * and pass worker_exe = "/proc/self/exe". Otherwise leave worker_exe NULL:
 * the workers are then the parconv executable installed with this library
 * (pc_worker_default_exe(); it must be of the same version, or the workers
 * fail with PC_EWORKER). */
#define PC_WORKER_FLAG "--pc-worker"
/* If argv is a worker's command line, runs the worker, sets *status to its
 * exit status and returns 1; otherwise returns 0 and leaves *status. */
PC_API int pc_worker_check(int argc, char **argv, int *status);
/* The entry point of a procs worker ("parconv --pc-worker INDEX COUNT
 * ..."). Returns the process exit status. */
PC_API int pc_worker_main(int argc, char **argv);
/* The installed parconv executable (bindir of the install prefix, fixed
 * when the library was built). */
PC_API const char *pc_worker_default_exe(void);

/* ---- system facts ------------------------------------------------------- */

PC_API unsigned pc_online_cpus(void);
/* Physical cores of the machine (hyperthread siblings counted once), 0 if
 * unknown. */
PC_API unsigned pc_physical_cores(void);

/* The CPUs this process may use, for choosing worker counts. */
typedef struct {
    unsigned online;   /* CPUs the machine has online */
    /* CPUs in the process's affinity mask (sched_getaffinity: taskset,
     * a Slurm or container cpuset). When the OpenMP runtime has bound the
     * calling thread to one place (OMP_PROC_BIND), the union of its
     * places, which it took from the affinity the process started with. */
    unsigned affinity;
    /* The cgroup CPU quota in CPUs (v2 cpu.max, v1 cpu.cfs_quota_us over
     * cpu.cfs_period_us; the smallest on the way from the process's
     * cgroup to the root, as a parent's quota holds for its children),
     * 0 if there is none. */
    double quota;
    /* Workers that can run at once: affinity, capped by the quota rounded
     * up (a quota of 1.5 CPUs gives 2: two workers share 1.5 CPUs of time
     * and get it all, one would leave a half unused); at least 1. */
    unsigned usable;
    /* Physical cores among the affinity CPUs (siblings once), 0 if the
     * topology is unknown. */
    unsigned cores;
    /* Where usable came from: "affinity 4 of 128 CPUs" or "cgroup quota
     * 1.5". */
    char from[64];
} pc_cpu_info;

PC_API int pc_cpu_info_get(pc_cpu_info *ci);
/* The same, reading /proc/self/{cgroup,mountinfo}, the cgroup files and
 * /sys/devices/system/cpu under root instead of "/" (tests give a tree of
 * their own); the affinity is always the process's. */
PC_API int pc_cpu_info_at(const char *root, pc_cpu_info *ci);
/* A count of threads or CPUs from the environment variable name, read as
 * OpenMP reads OMP_NUM_THREADS: the first entry of a list ("4" or "4,2").
 * *n is 0 if the variable is unset; PC_EUSAGE if it is not a count from 1
 * to 4096. The parconv program's default thread count is OMP_NUM_THREADS,
 * else SLURM_CPUS_PER_TASK, else pc_cpu_info's usable CPUs. */
PC_API int pc_env_count(const char *name, unsigned *n);
/* Bytes of memory this process may still use: MemAvailable, capped by the
 * cgroup limit when there is one; 0 if unknown. */
PC_API uint64_t pc_available_memory(void);

PC_API double pc_now(void); /* monotonic seconds */

#ifdef __cplusplus
}
#endif
#endif
