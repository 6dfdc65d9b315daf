/*
 * The Python module `parconv`: the library for numpy users. convolve()
 * applies a bank of kernels to a matrix or a stack of matrices, Plan
 * keeps the flipped kernels (and the FFT set-up) for many matrices of one
 * shape, choose_method() asks the cost model.
 *
 * Every call runs the library's omp strategy with the GIL released,
 * writing the planes straight into the result array (a caller-memory
 * arena). From the main thread the work runs on a thread of its own while
 * the caller wakes every 50 ms to let Python run its signal handlers: a
 * KeyboardInterrupt sets the run's cancel flag, and the run stops within
 * a few rows. Other threads never receive signals in Python, so they run
 * the work themselves.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <parconv.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

PyMODINIT_FUNC PyInit_parconv(void);

/* The interpreter's main thread, the only one that runs signal handlers. */
static unsigned long main_thread;

/* ---- errors ------------------------------------------------------------- */

/* Raises the exception that fits a library status, with its message:
 * the caller's mistakes are ValueError, memory MemoryError, the rest
 * RuntimeError. */
static void raise_status(int st, const char *msg)
{
    PyObject *type = PyExc_RuntimeError;
    if (st == PC_EUSAGE || st == PC_EINPUT)
        type = PyExc_ValueError;
    else if (st == PC_ENOMEM)
        type = PyExc_MemoryError;
    else if (st == PC_EINTERRUPTED)
        type = PyExc_KeyboardInterrupt;
    PyErr_SetString(type, msg && *msg ? msg : pc_strerror(st));
}

/* ---- arguments ---------------------------------------------------------- */

/* What convolve() and Plan() take besides the arrays. */
typedef struct {
    pc_conv_params cp;
    bool dtype_given; /* dtype=None: from the inputs */
    unsigned threads; /* 0: the default */
} options;

/* A keyword's string value, or NULL with TypeError. */
static const char *string_arg(PyObject *o, const char *what)
{
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a string, not %.100s", what,
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8(o);
}

/* The named choices: each keyword's parser (names.c) and, as scipy words
 * it for mode and boundary, what it accepts. */
enum { MODE, BOUNDARY, METHOD, ISA };
static const struct {
    const char *name;
    int (*parse)(const char *);
    const char *accepted;
} choices[] = {
    [MODE] = {"mode", pc_mode_parse, "'valid', 'same', or 'full'"},
    [BOUNDARY] = {"boundary", pc_boundary_parse,
                  "'fill', 'circular' (or 'wrap'), and 'symmetric' (or "
                  "'symm')"},
    [METHOD] = {"method", pc_method_parse, "'auto', 'direct', or 'fft'"},
    [ISA] = {"isa", pc_isa_parse,
             "'auto', 'avx512', 'avx2', or 'generic'"},
};

/* o's value for choice c into *v: 0, or -1 with TypeError or scipy's
 * ValueError. o NULL (not given) leaves *v. */
static int parse_choice(PyObject *o, int c, int *v)
{
    if (!o)
        return 0;
    const char *s = string_arg(o, choices[c].name);
    if (!s)
        return -1;
    int x = choices[c].parse(s);
    if (x < 0) {
        PyErr_Format(PyExc_ValueError, "Acceptable %s flags are %s (not "
                     "'%s').", choices[c].name, choices[c].accepted, s);
        return -1;
    }
    *v = x;
    return 0;
}

/* float32 or float64, as numpy spells a dtype (np.float32, "f4",
 * "float64", ...) or as parconv does ("f32", "f64"). */
static int parse_dtype(PyObject *o, pc_dtype *d)
{
    PyArray_Descr *descr = NULL;
    if (PyArray_DescrConverter2(o, &descr) && descr) {
        int t = descr->type_num;
        Py_DECREF(descr);
        if (t == NPY_DOUBLE || t == NPY_FLOAT) {
            *d = t == NPY_FLOAT ? PC_F32 : PC_F64;
            return 0;
        }
    } else {
        PyErr_Clear();
        int v = PyUnicode_Check(o) ? pc_dtype_parse(PyUnicode_AsUTF8(o)) : -1;
        if (v >= 0) {
            *d = (pc_dtype)v;
            return 0;
        }
    }
    PyObject *r = PyObject_Repr(o);
    PyErr_Format(PyExc_TypeError, "dtype must be float32 or float64, not %s",
                 r ? PyUnicode_AsUTF8(r) : "that");
    Py_XDECREF(r);
    return -1;
}

/* A positive thread count; None leaves 0 (the default). */
static int parse_threads(PyObject *o, unsigned *n)
{
    if (o == Py_None)
        return 0;
    if (!PyIndex_Check(o)) {
        PyErr_Format(PyExc_TypeError, "threads must be an integer or None, "
                     "not %.100s", Py_TYPE(o)->tp_name);
        return -1;
    }
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 1 || v > 4096) {
        PyErr_Format(PyExc_ValueError, "threads must be from 1 to 4096, not "
                     "%ld", v);
        return -1;
    }
    *n = (unsigned)v;
    return 0;
}

/* scipy's fillvalue: a scalar or an array of one element, real. */
static int parse_fillvalue(PyObject *o, double *v)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(o);
    if (!a)
        return -1;
    PyObject *item = NULL;
    if (PyArray_SIZE(a) != 1)
        PyErr_SetString(PyExc_ValueError,
                        "fillvalue must be scalar or an array with one element.");
    else if (!PyArray_ISBOOL(a) && !PyArray_ISINTEGER(a) && !PyArray_ISFLOAT(a))
        PyErr_Format(PyExc_TypeError, "fillvalue must be a real number, not "
                     "%.100s", Py_TYPE(o)->tp_name);
    else if ((item = PyArray_GETITEM(a, PyArray_DATA(a))))
        *v = PyFloat_AsDouble(item);
    int st = item && !PyErr_Occurred() ? 0 : -1;
    Py_XDECREF(item);
    Py_DECREF(a);
    return st;
}

/* The keywords convolve() and Plan() share, parsed into o. */
static int parse_options(PyObject *mode, PyObject *boundary, PyObject *fill,
                         PyObject *method, PyObject *dtype, PyObject *threads,
                         PyObject *isa, options *o)
{
    memset(o, 0, sizeof *o);
    pc_conv_params_default(&o->cp);
    o->cp.method = PC_AUTO;
    /* FFT sizes by the model, not by timing: a one-off call should not
     * spend longer choosing than computing, and the same shapes then give
     * the same bits. Plan times them (see plan_new). */
    o->cp.fft_model = true;
    PyObject *given[] = {[MODE] = mode, [BOUNDARY] = boundary,
                         [METHOD] = method, [ISA] = isa};
    int v[] = {[MODE] = o->cp.mode, [BOUNDARY] = o->cp.boundary,
               [METHOD] = o->cp.method, [ISA] = o->cp.isa};
    for (int c = 0; c < 4; c++)
        if (parse_choice(given[c], c, &v[c]))
            return -1;
    o->cp.mode = (pc_mode)v[MODE];
    o->cp.boundary = (pc_boundary)v[BOUNDARY];
    o->cp.method = (pc_method)v[METHOD];
    o->cp.isa = (pc_isa)v[ISA];
    if ((fill && parse_fillvalue(fill, &o->cp.fillvalue)) ||
        (threads && parse_threads(threads, &o->threads)))
        return -1;
    if (dtype && dtype != Py_None) {
        if (parse_dtype(dtype, &o->cp.dtype))
            return -1;
        o->dtype_given = true;
    }
    return 0;
}

/* The threads the program would use (tools/workers.c): OMP_NUM_THREADS,
 * else SLURM_CPUS_PER_TASK, else the CPUs the process may use (affinity,
 * cgroup quota). */
static int default_threads(unsigned *n)
{
    static pc_cpu_info ci;
    static bool have;
    int st = pc_env_count("OMP_NUM_THREADS", n);
    if (!st && !*n)
        st = pc_env_count("SLURM_CPUS_PER_TASK", n);
    if (st) {
        raise_status(st, pc_errmsg());
        return -1;
    }
    if (*n)
        return 0;
    if (!have) {
        pc_cpu_info_get(&ci);
        have = true;
    }
    *n = ci.usable ? ci.usable : 1;
    return 0;
}

/* ---- arrays ------------------------------------------------------------- */

/* Raises ValueError "what is empty (shape (...))". */
static void empty_error(const char *what, PyArrayObject *a)
{
    PyObject *shape = PyArray_IntTupleFromIntp(PyArray_NDIM(a),
                                               PyArray_DIMS(a));
    if (shape)
        PyErr_Format(PyExc_ValueError, "%s is empty (shape %S)", what, shape);
    Py_XDECREF(shape);
}

/* Whether the library can read a in place (pc_matrix_view): float32 or
 * float64 in this machine's byte order, aligned, every stride a whole
 * number of elements (a dimension of one element may have any stride:
 * it is never taken). */
static bool viewable(PyArrayObject *a)
{
    int t = PyArray_TYPE(a);
    if ((t != NPY_DOUBLE && t != NPY_FLOAT) || !PyArray_ISNOTSWAPPED(a) ||
        !PyArray_ISALIGNED(a))
        return false;
    for (int i = 0; i < PyArray_NDIM(a); i++)
        if (PyArray_DIM(a, i) > 1 &&
            PyArray_STRIDE(a, i) % (npy_intp)PyArray_ITEMSIZE(a) != 0)
            return false;
    return true;
}

/* o as an array of 2 or 3 dimensions (what they may be: dims), none of
 * them empty. Numbers of any real kind are taken; complex and others are
 * refused. in_place: o itself when viewable() (any order and strides),
 * else a C-contiguous copy in doubles; otherwise always C-contiguous
 * doubles (o itself when it is already). *f32 says whether o held
 * float32. */
static PyArrayObject *real_array(PyObject *o, const char *what,
                                 const char *dims, bool in_place, bool *f32)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(o);
    if (!a)
        return NULL;
    if (PyArray_ISCOMPLEX(a)) {
        PyErr_Format(PyExc_TypeError, "%s is complex (%S): parconv convolves "
                     "real arrays; convolve the real and imaginary parts "
                     "apart", what, (PyObject *)PyArray_DESCR(a));
        goto error;
    }
    if (!PyArray_ISBOOL(a) && !PyArray_ISINTEGER(a) && !PyArray_ISFLOAT(a)) {
        PyErr_Format(PyExc_TypeError, "%s has dtype %S, not a real number "
                     "type (bool, integer or float)", what,
                     (PyObject *)PyArray_DESCR(a));
        goto error;
    }
    int nd = PyArray_NDIM(a);
    if (nd < 2 || nd > 3) {
        PyErr_Format(PyExc_ValueError, "%s must be %s; it is %d-D", what,
                     dims, nd);
        goto error;
    }
    if (PyArray_SIZE(a) == 0) {
        empty_error(what, a);
        goto error;
    }
    *f32 = PyArray_TYPE(a) == NPY_FLOAT;
    if (in_place && viewable(a))
        return a;
    /* No copy when it is already C-contiguous doubles; FORCECAST for long
     * double, which numpy will not cast to double "safely". */
    PyArrayObject *d = (PyArrayObject *)PyArray_FROM_OTF(
        (PyObject *)a, NPY_DOUBLE, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    Py_DECREF(a);
    return d;

error:
    Py_DECREF(a);
    return NULL;
}

/* The bytes a's elements lie within, [*lo, *hi), whatever its strides. */
static void extent(PyArrayObject *a, const char **lo, const char **hi)
{
    *lo = *hi = PyArray_BYTES(a);
    for (int i = 0; i < PyArray_NDIM(a); i++) {
        npy_intp span = PyArray_STRIDE(a, i) * (PyArray_DIM(a, i) - 1);
        *(span < 0 ? lo : hi) += span;
    }
    *hi += PyArray_ITEMSIZE(a);
}

/* The result array, or out checked against it (new reference either way).
 * ndim dimensions of shape, of the compute dtype; out must also be
 * C-contiguous, writeable and apart from avoid (the matrices, read while
 * earlier results are written). */
static PyArrayObject *result(PyObject *out, int ndim, npy_intp *shape,
                             pc_dtype dtype, PyArrayObject *avoid)
{
    int type = dtype == PC_F32 ? NPY_FLOAT : NPY_DOUBLE;
    if (!out || out == Py_None)
        return (PyArrayObject *)PyArray_SimpleNew(ndim, shape, type);
    if (!PyArray_Check(out)) {
        PyErr_Format(PyExc_TypeError, "out must be a numpy array, not %.100s",
                     Py_TYPE(out)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)out;
    if (PyArray_TYPE(a) != type) {
        PyErr_Format(PyExc_TypeError, "out has dtype %S; the result is %s",
                     (PyObject *)PyArray_DESCR(a),
                     dtype == PC_F32 ? "float32" : "float64");
        return NULL;
    }
    bool same = PyArray_NDIM(a) == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = PyArray_DIM(a, i) == shape[i];
    if (!same) {
        PyObject *want = PyArray_IntTupleFromIntp(ndim, shape);
        PyObject *have = PyArray_IntTupleFromIntp(PyArray_NDIM(a),
                                                  PyArray_DIMS(a));
        if (want && have)
            PyErr_Format(PyExc_ValueError, "out has shape %S; the result's "
                         "is %S", have, want);
        Py_XDECREF(want);
        Py_XDECREF(have);
        return NULL;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a)) {
        PyErr_SetString(PyExc_ValueError, "out must be C-contiguous (and "
                        "aligned): the planes are written in place");
        return NULL;
    }
    if (!PyArray_ISWRITEABLE(a)) {
        PyErr_SetString(PyExc_ValueError, "out is read-only");
        return NULL;
    }
    const char *o0 = PyArray_BYTES(a), *o1 = o0 + PyArray_NBYTES(a), *a0, *a1;
    extent(avoid, &a0, &a1);
    if (o0 < a1 && a0 < o1) {
        PyErr_SetString(PyExc_ValueError, "out overlaps the matrix");
        return NULL;
    }
    Py_INCREF(a);
    return a;
}

/* ---- the work ----------------------------------------------------------- */

/* One call's work, done without the GIL: n matrices (mat, then each
 * mat_step bytes further), each through the plan into out + i * step. */
typedef struct {
    pc_plan *plan;       /* NULL: made by work_plan from the first matrix */
    bool own;            /* made by work_plan: it holds matrix 0 already */
    pc_conv_params cp;   /* for making it */
    const pc_bank *bank;
    pc_matrix_view mat;  /* matrix 0, read in place */
    ptrdiff_t mat_step;
    size_t n;
    char *out;
    size_t step;
    unsigned threads;
    volatile int cancel; /* set by the caller on a KeyboardInterrupt */
    int status;
    char msg[512];       /* pc_errmsg is per thread: copied out */
    /* The thread that ran it says so here. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} work;

/* Work the cost model puts below this (seconds on one core) runs on the
 * calling thread: a Ctrl-C waits for it no longer than for a line of
 * Python, and repeated small calls keep one OpenMP team instead of
 * starting a thread (and its team) each. */
#define PC_PY_INLINE_SECONDS 0.02

/* Matrix i of w's stack. */
static pc_matrix_view work_matrix(const work *w, size_t i)
{
    pc_matrix_view v = w->mat;
    v.data = (const char *)v.data + (ptrdiff_t)i * w->mat_step;
    return v;
}

/* Whether matrices [1, n) of w's stack are all finite, read in place. */
static bool rest_finite(const work *w)
{
    for (size_t k = 1; k < w->n; k++) {
        pc_matrix_view v = work_matrix(w, k);
        const float *f = v.data;
        const double *d = v.data;
        for (size_t i = 0; i < v.rows; i++)
            for (size_t j = 0; j < v.cols; j++) {
                ptrdiff_t o = (ptrdiff_t)i * v.row_stride +
                              (ptrdiff_t)j * v.col_stride;
                if (!isfinite(v.dtype == PC_F32 ? f[o] : d[o]))
                    return false;
            }
    }
    return true;
}

static void work_failed(work *w, int st)
{
    w->status = st;
    snprintf(w->msg, sizeof w->msg, "%s", pc_errmsg());
}

/* convolve's plan, made from the first matrix. */
static void work_plan(work *w)
{
    /* As a plan of one such matrix would: with NaN or Inf anywhere in the
     * stack, auto computes directly. */
    if (w->cp.method == PC_AUTO && !rest_finite(w))
        w->cp.method = PC_DIRECT;
    int st = pc_plan_create_view(&w->plan, &w->cp, &w->mat, w->bank);
    if (st)
        work_failed(w, st);
    w->own = !st;
}

static void work_do(work *w)
{
    size_t count = pc_plan_count(w->plan);
    uint64_t *sums = malloc(count * sizeof *sums);
    int st = sums ? PC_OK : pc_error(PC_ENOMEM, "cannot allocate %zu "
                                     "checksums", count);
    for (size_t i = 0; !st && i < w->n; i++) {
        pc_matrix_view m = work_matrix(w, i);
        if (w->cancel)
            st = pc_error(PC_EINTERRUPTED, "interrupted");
        else if (i > 0 || !w->own)
            st = pc_plan_set_matrix_view(w->plan, &m);
        if (st)
            break;
        pc_arena arena = {.base = w->out + i * w->step, .bytes = w->step,
                          .fd = -1};
        pc_run_params rp = {.strategy = PC_OMP, .workers = w->threads,
                            .sums = sums, .arena = &arena,
                            .cancel = &w->cancel};
        pc_run_result res;
        st = pc_run(w->plan, &rp, &res);
    }
    if (st)
        work_failed(w, st);
    free(sums);
}

static void *work_thread(void *arg)
{
    work *w = arg;
    work_do(w);
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Starts w on a thread of its own; false if it cannot (then w is to be
 * done here). */
static bool work_start(work *w, pthread_t *t)
{
    pthread_condattr_t ca;
    bool started = false;
    if (pthread_condattr_init(&ca))
        return false;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!pthread_cond_init(&w->cv, &ca)) {
        pthread_mutex_init(&w->mu, NULL);
        w->done = false;
        started = !pthread_create(t, NULL, work_thread, w);
        if (!started) {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
        }
    }
    pthread_condattr_destroy(&ca);
    return started;
}

/* Waits for the work thread, waking every 50 ms to run Python's signal
 * handlers (with the GIL, briefly); a handler that raises cancels the
 * run. Returns whether one raised. Called with the GIL released. */
static bool work_wait(work *w, pthread_t t, PyThreadState **save)
{
    bool raised = false;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->done || raised)
            continue;
        pthread_mutex_unlock(&w->mu);
        PyEval_RestoreThread(*save);
        if (PyErr_CheckSignals() < 0) {
            raised = true;
            w->cancel = 1;
        }
        *save = PyEval_SaveThread();
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    pthread_join(t, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return raised;
}

/* Whether w is long enough, by the cost model, to run apart. */
static bool work_long(const work *w)
{
    double d, f;
    pc_plan_estimates(w->plan, &d, &f);
    return (pc_plan_method(w->plan) == PC_FFT ? f : d) *
               (double)pc_plan_count(w->plan) * (double)w->n >
           PC_PY_INLINE_SECONDS;
}

/* Does w with the GIL released (making its plan first if it has none):
 * long work from the main thread on a thread of its own, so that a
 * KeyboardInterrupt is seen; the rest here. Returns 0, or -1 with an
 * exception set. */
static int run_work(work *w)
{
    bool raised = false, main = PyThread_get_thread_ident() == main_thread;
    PyThreadState *save = PyEval_SaveThread();
    if (!w->plan)
        work_plan(w);
    pthread_t t;
    if (!w->status) {
        if (main && work_long(w) && work_start(w, &t))
            raised = work_wait(w, t, &save);
        else
            work_do(w);
    }
    if (w->own)
        pc_plan_destroy(w->plan);
    PyEval_RestoreThread(save);
    if (raised)
        return -1;
    if (w->status) {
        raise_status(w->status, w->msg);
        return -1;
    }
    return 0;
}

/* ---- convolve ----------------------------------------------------------- */

/* The bank as the library takes it (K x kh x kw doubles, borrowed from
 * the array). */
static pc_bank bank_of(PyArrayObject *b)
{
    bool one = PyArray_NDIM(b) == 2;
    pc_bank bank = {one ? 1 : (size_t)PyArray_DIM(b, 0),
                    (size_t)PyArray_DIM(b, one ? 0 : 1),
                    (size_t)PyArray_DIM(b, one ? 1 : 2),
                    (double *)PyArray_DATA(b)};
    return bank;
}

/* The result's shape: [N,] [K,] R', C' (N for a stack, K for a 3-D
 * bank). Returns the number of dimensions. */
static int result_shape(bool stack, size_t n, bool one, size_t count,
                        size_t orows, size_t ocols, npy_intp *shape)
{
    int nd = 0;
    if (stack)
        shape[nd++] = (npy_intp)n;
    if (!one)
        shape[nd++] = (npy_intp)count;
    shape[nd++] = (npy_intp)orows;
    shape[nd++] = (npy_intp)ocols;
    return nd;
}

/* What the matrix and the bank may be. */
#define MATRIX_DIMS "2-D (R, C) or a 3-D stack (N, R, C)"
#define BANK_DIMS "3-D (K, kh, kw) or one 2-D kernel"

/* The matrices of a 2-D matrix or a 3-D stack (from real_array): n,
 * matrix 0 as the library reads it in place, and the bytes from one
 * matrix to the next. */
static void stack_of(PyArrayObject *m, size_t *n, pc_matrix_view *v,
                     ptrdiff_t *step)
{
    int nd = PyArray_NDIM(m);
    npy_intp esz = PyArray_ITEMSIZE(m);
    /* A dimension of one element may have any stride; it is never taken. */
    npy_intp s[3];
    for (int i = 0; i < nd; i++)
        s[i] = PyArray_DIM(m, i) > 1 ? PyArray_STRIDE(m, i) : 0;
    *n = nd == 3 ? (size_t)PyArray_DIM(m, 0) : 1;
    *step = nd == 3 ? (ptrdiff_t)s[0] : 0;
    v->data = PyArray_DATA(m);
    v->dtype = PyArray_TYPE(m) == NPY_FLOAT ? PC_F32 : PC_F64;
    v->rows = (size_t)PyArray_DIM(m, nd - 2);
    v->cols = (size_t)PyArray_DIM(m, nd - 1);
    v->row_stride = (ptrdiff_t)(s[nd - 2] / esz);
    v->col_stride = (ptrdiff_t)(s[nd - 1] / esz);
}

PyDoc_STRVAR(convolve_doc,
"convolve(matrix, bank, mode='full', boundary='fill', fillvalue=0,\n"
"         method='auto', dtype=None, threads=None, isa='auto', out=None)\n"
"--\n\n"
"Convolve a matrix (or a stack of matrices) with every kernel of a bank,\n"
"as scipy.signal.convolve2d(matrix, kernel, mode, boundary, fillvalue)\n"
"does for each pair.\n\n"
"Parameters\n"
"----------\n"
"matrix : array_like, 2-D (R, C) or 3-D (N, R, C)\n"
"    One matrix, or a stack of N matrices of one shape.\n"
"bank : array_like, 3-D (K, kh, kw) or 2-D (kh, kw)\n"
"    The kernels, or one kernel.\n"
"    Both take any real dtype (bool, integers, floats), order and strides;\n"
"    a float32 or float64 matrix (of this machine's byte order) is read in\n"
"    place, whatever its order and strides, without a copy.\n"
"mode : {'full', 'valid', 'same'}\n"
"    As scipy's, with its 'valid' rule: when the kernel is at least as\n"
"    large as the matrix in every dimension, the two are swapped; when\n"
"    neither contains the other, ValueError.\n"
"boundary : {'fill', 'wrap', 'symm'}\n"
"    As scipy's ('pad', 'circular' and 'symmetric' too).\n"
"fillvalue : scalar\n"
"    The value outside the matrix for boundary='fill'.\n"
"method : {'auto', 'direct', 'fft'}\n"
"    direct sums (SIMD, vectorised along the rows) or FFT overlap-save;\n"
"    'auto' chooses by the cost model (see choose_method; a Plan, made\n"
"    for many matrices, also times both methods where the estimates are\n"
"    within 2x, and takes the faster). FFT results are within\n"
"    1e-10 (float64) or 1e-4 (float32) of the largest output magnitude; an\n"
"    FFT cannot take NaN or Inf (ValueError; 'auto' then sums directly).\n"
"dtype : {None, float32, float64}\n"
"    What to compute in and return; None: float32 when both inputs are\n"
"    float32, else float64.\n"
"threads : int or None\n"
"    OpenMP threads; None: as the parconv program would use\n"
"    (OMP_NUM_THREADS, else SLURM_CPUS_PER_TASK, else the CPUs this\n"
"    process may use: affinity, cgroup quota).\n"
"isa : {'auto', 'avx512', 'avx2', 'generic'}\n"
"    The direct kernels' instruction set; 'auto': the best this CPU has.\n"
"out : ndarray, optional\n"
"    Where to write the result: its shape and dtype, C-contiguous,\n"
"    writeable, not overlapping the matrix.\n\n"
"Returns\n"
"-------\n"
"ndarray of shape [N,] [K,] R', C'\n"
"    (K, R', C') for a matrix and a bank, (N, K, R', C') for a stack; the\n"
"    K axis is left out for a 2-D (single) kernel, so a 2-D matrix and a\n"
"    2-D kernel give (R', C') exactly like convolve2d. R', C' follow the\n"
"    mode: full R+kh-1, same R, valid |R-kh|+1 (columns alike).\n\n"
"The work runs with the GIL released, on the library's OpenMP strategy;\n"
"Ctrl-C stops it within a moment (KeyboardInterrupt). Errors raise\n"
"ValueError (bad arguments), TypeError (bad types) or MemoryError.\n\n"
"Example\n"
"-------\n"
">>> import numpy as np, parconv\n"
">>> img = np.random.default_rng(0).random((512, 512))\n"
">>> bank = np.ones((8, 5, 5)) / 25\n"
">>> parconv.convolve(img, bank, mode='same').shape\n"
"(8, 512, 512)\n");

static PyObject *convolve(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"matrix", "bank", "mode", "boundary", "fillvalue",
                            "method", "dtype", "threads", "isa", "out", NULL};
    PyObject *mo, *bo, *mode = NULL, *boundary = NULL, *fill = NULL,
             *method = NULL, *dtype = NULL, *threads = NULL, *isa = NULL,
             *out = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOOOOOOO:convolve", names,
                                     &mo, &bo, &mode, &boundary, &fill,
                                     &method, &dtype, &threads, &isa, &out))
        return NULL;
    options o;
    if (parse_options(mode, boundary, fill, method, dtype, threads, isa, &o))
        return NULL;
    if (!o.threads && default_threads(&o.threads))
        return NULL;
    bool mf32, bf32;
    PyArrayObject *m = NULL, *b = NULL, *r = NULL;
    if (!(m = real_array(mo, "matrix", MATRIX_DIMS, true, &mf32)) ||
        !(b = real_array(bo, "bank", BANK_DIMS, false, &bf32)))
        goto done;
    if (!o.dtype_given)
        o.cp.dtype = mf32 && bf32 ? PC_F32 : PC_F64;

    size_t n, orows, ocols;
    pc_matrix_view mat;
    ptrdiff_t step;
    stack_of(m, &n, &mat, &step);
    pc_bank bank = bank_of(b);
    int swapped;
    if (pc_out_shape(o.cp.mode, mat.rows, mat.cols, bank.rows, bank.cols, &orows,
                     &ocols, &swapped)) {
        raise_status(PC_EUSAGE, pc_errmsg());
        goto done;
    }
    npy_intp shape[4];
    int nd = result_shape(PyArray_NDIM(m) == 3, n, PyArray_NDIM(b) == 2,
                          bank.count, orows, ocols, shape);
    if (!(r = result(out, nd, shape, o.cp.dtype, m)))
        goto done;
    work w = {.cp = o.cp, .bank = &bank, .mat = mat, .mat_step = step, .n = n,
              .out = PyArray_BYTES(r),
              .step = (size_t)PyArray_NBYTES(r) / n, .threads = o.threads};
    if (run_work(&w))
        Py_CLEAR(r);
done:
    Py_XDECREF(m);
    Py_XDECREF(b);
    return (PyObject *)r;
}

/* ---- Plan --------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    pc_plan *plan;
    /* One execute at a time: each fills the plan's matrix (taken without
     * the GIL, so a waiting thread holds nothing another needs). */
    pthread_mutex_t lock;
    bool locked_init;
    size_t rows, cols, count, krows, kcols, orows, ocols;
    bool one; /* a 2-D bank: no K axis */
    unsigned threads;
} PlanObject;

static void plan_dealloc(PlanObject *p)
{
    pc_plan_destroy(p->plan);
    if (p->locked_init)
        pthread_mutex_destroy(&p->lock);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

/* A shape argument: a sequence of n positive integers. */
static int shape_arg(PyObject *o, const char *what, int n, size_t *v)
{
    PyObject *seq = PySequence_Fast(o, "");
    if (!seq || PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "%s must be a tuple of %d integers",
                     what, n);
        Py_XDECREF(seq);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *x = PySequence_Fast_GET_ITEM(seq, i);
        long long e = PyIndex_Check(x) ? PyLong_AsLongLong(x) : -1;
        if (e < 1) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError) ||
                PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "%s must be %d positive "
                             "integers", what, n);
            }
            Py_DECREF(seq);
            return -1;
        }
        v[i] = (size_t)e;
    }
    Py_DECREF(seq);
    return 0;
}

static PyObject *plan_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *names[] = {"matrix_shape", "bank", "mode", "boundary",
                            "fillvalue", "method", "dtype", "threads", "isa",
                            NULL};
    PyObject *so, *bo, *mode = NULL, *boundary = NULL, *fill = NULL,
             *method = NULL, *dtype = NULL, *threads = NULL, *isa = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOOOOOO:Plan", names, &so,
                                     &bo, &mode, &boundary, &fill, &method,
                                     &dtype, &threads, &isa))
        return NULL;
    options o;
    size_t shape[2];
    if (parse_options(mode, boundary, fill, method, dtype, threads, isa, &o) ||
        shape_arg(so, "matrix_shape", 2, shape))
        return NULL;
    /* A plan serves many matrices: worth timing the FFT sizes. */
    o.cp.fft_model = false;
    if (!o.threads && default_threads(&o.threads))
        return NULL;
    bool bf32;
    PyArrayObject *b = real_array(bo, "bank", BANK_DIMS, false, &bf32);
    if (!b)
        return NULL;
    /* Without a matrix to look at, the bank's dtype decides. */
    if (!o.dtype_given)
        o.cp.dtype = bf32 ? PC_F32 : PC_F64;
    PlanObject *p = (PlanObject *)type->tp_alloc(type, 0);
    if (!p) {
        Py_DECREF(b);
        return NULL;
    }
    pc_bank bank = bank_of(b);
    p->rows = shape[0];
    p->cols = shape[1];
    p->count = bank.count;
    p->krows = bank.rows;
    p->kcols = bank.cols;
    p->one = PyArray_NDIM(b) == 2;
    p->threads = o.threads;
    /* Planned on zeros (one zero, every element of the view): the kernels
     * are flipped and converted and the FFT planned now; each execute brings its
     * matrix. */
    static const double zero = 0.0;
    pc_matrix_view zeros = {&zero, PC_F64, p->rows, p->cols, 0, 0};
    int st;
    char msg[512] = "";
    Py_BEGIN_ALLOW_THREADS
    st = pc_plan_create_view(&p->plan, &o.cp, &zeros, &bank);
    if (st)
        snprintf(msg, sizeof msg, "%s", pc_errmsg());
    Py_END_ALLOW_THREADS
    Py_DECREF(b);
    if (!st && pthread_mutex_init(&p->lock, NULL))
        st = pc_error(PC_ESYS, "cannot make the plan's lock");
    if (st) {
        raise_status(st, msg[0] ? msg : pc_errmsg());
        Py_DECREF(p);
        return NULL;
    }
    p->locked_init = true;
    pc_plan_out_shape(p->plan, &p->orows, &p->ocols);
    return (PyObject *)p;
}

PyDoc_STRVAR(execute_doc,
"execute($self, matrix, out=None)\n"
"--\n\n"
"Convolve one matrix of the plan's shape (2-D), or a stack of them\n"
"(N, R, C), with the plan's bank; returns output_shape, or (N,) +\n"
"output_shape for a stack. The matrix takes any real dtype, order and\n"
"strides (float32 and float64 read in place, without a copy); out as for\n"
"convolve(). Calls from several threads take turns.\n");

static PyObject *plan_execute(PlanObject *p, PyObject *args, PyObject *kw)
{
    static char *names[] = {"matrix", "out", NULL};
    PyObject *mo, *out = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:execute", names, &mo, &out))
        return NULL;
    bool f32;
    PyArrayObject *m = real_array(mo, "matrix", MATRIX_DIMS, true, &f32),
                  *r = NULL;
    if (!m)
        return NULL;
    size_t n;
    pc_matrix_view mat;
    ptrdiff_t step;
    stack_of(m, &n, &mat, &step);
    if (mat.rows != p->rows || mat.cols != p->cols) {
        PyErr_Format(PyExc_ValueError, "the matrix is %zux%zu; this plan's "
                     "are %zux%zu", mat.rows, mat.cols, p->rows, p->cols);
        goto done;
    }
    npy_intp shape[4];
    int nd = result_shape(PyArray_NDIM(m) == 3, n, p->one, p->count, p->orows,
                          p->ocols, shape);
    if (!(r = result(out, nd, shape, pc_plan_params(p->plan)->dtype, m)))
        goto done;
    work w = {.plan = p->plan, .mat = mat, .mat_step = step, .n = n,
              .out = PyArray_BYTES(r),
              .step = (size_t)PyArray_NBYTES(r) / n, .threads = p->threads};
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&p->lock);
    Py_END_ALLOW_THREADS
    if (run_work(&w))
        Py_CLEAR(r);
    pthread_mutex_unlock(&p->lock);
done:
    Py_DECREF(m);
    return (PyObject *)r;
}

static PyObject *plan_method(PlanObject *p, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(pc_method_name(pc_plan_method(p->plan)));
}

static PyObject *plan_fft_size(PlanObject *p, void *closure)
{
    (void)closure;
    size_t P, Q, Tr, Tc, ntr, ntc;
    double s;
    if (pc_plan_method(p->plan) != PC_FFT)
        Py_RETURN_NONE;
    pc_plan_fft_info(p->plan, &P, &Q, &Tr, &Tc, &ntr, &ntc, &s);
    return Py_BuildValue("(nn)", (Py_ssize_t)P, (Py_ssize_t)Q);
}

static PyObject *plan_output_shape(PlanObject *p, void *closure)
{
    (void)closure;
    if (p->one)
        return Py_BuildValue("(nn)", (Py_ssize_t)p->orows,
                             (Py_ssize_t)p->ocols);
    return Py_BuildValue("(nnn)", (Py_ssize_t)p->count, (Py_ssize_t)p->orows,
                         (Py_ssize_t)p->ocols);
}

static PyObject *plan_matrix_shape(PlanObject *p, void *closure)
{
    (void)closure;
    return Py_BuildValue("(nn)", (Py_ssize_t)p->rows, (Py_ssize_t)p->cols);
}

static PyObject *plan_dtype(PlanObject *p, void *closure)
{
    (void)closure;
    return (PyObject *)PyArray_DescrFromType(
        pc_plan_params(p->plan)->dtype == PC_F32 ? NPY_FLOAT : NPY_DOUBLE);
}

static PyObject *plan_threads(PlanObject *p, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(p->threads);
}

static PyObject *plan_isa(PlanObject *p, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(pc_isa_name(pc_plan_isa(p->plan)));
}

/* {"direct": s, "fft": s}: the model's seconds for count kernels. */
static PyObject *estimates(double direct, double fft, size_t count)
{
    return Py_BuildValue("{sdsd}", "direct", direct * (double)count, "fft",
                         fft * (double)count);
}

static PyObject *plan_estimates(PlanObject *p, void *closure)
{
    (void)closure;
    double d, f;
    pc_plan_estimates(p->plan, &d, &f);
    return estimates(d, f, p->count);
}

static PyObject *plan_repr(PlanObject *p)
{
    const pc_conv_params *cp = pc_plan_params(p->plan);
    return PyUnicode_FromFormat(
        "<parconv.Plan %zux%zu matrix, %zu kernel%s of %zux%zu, %s %s, %s %s, "
        "%u thread%s>", p->rows, p->cols, p->count, p->count == 1 ? "" : "s",
        p->krows, p->kcols,
        pc_mode_name(cp->mode), pc_boundary_name(cp->boundary),
        pc_method_name(pc_plan_method(p->plan)), pc_dtype_name(cp->dtype),
        p->threads, p->threads == 1 ? "" : "s");
}

static PyMethodDef plan_methods[] = {
    {"execute", (PyCFunction)(void (*)(void))plan_execute,
     METH_VARARGS | METH_KEYWORDS, execute_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef plan_getset[] = {
    {"method", (getter)plan_method, NULL,
     "'direct' or 'fft': what the plan computes with (never 'auto').", NULL},
    {"fft_size", (getter)plan_fft_size, NULL,
     "(P, Q), the FFT transform size, or None for a direct plan.", NULL},
    {"output_shape", (getter)plan_output_shape, NULL,
     "The result's shape for one matrix: (K, R', C'), or (R', C') for a "
     "2-D bank.", NULL},
    {"matrix_shape", (getter)plan_matrix_shape, NULL,
     "(R, C): the shape of the matrices the plan takes.", NULL},
    {"dtype", (getter)plan_dtype, NULL, "float32 or float64.", NULL},
    {"threads", (getter)plan_threads, NULL, "OpenMP threads per execute.",
     NULL},
    {"isa", (getter)plan_isa, NULL,
     "The instruction set of the direct kernels.", NULL},
    {"estimates", (getter)plan_estimates, NULL,
     "{'direct': s, 'fft': s}: the cost model's seconds for the whole bank "
     "on one core (what choose_method reports).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(plan_doc,
"Plan(matrix_shape, bank, mode='full', boundary='fill', fillvalue=0,\n"
"     method='auto', dtype=None, threads=None, isa='auto')\n"
"--\n\n"
"One bank of kernels for many matrices of one shape: the kernels are\n"
"flipped and converted (and, for the FFT, the transforms planned and their size timed)\n"
"once; each execute(matrix) then only brings the matrix. The arguments\n"
"are convolve()'s; dtype=None is float32 when the bank is float32, else\n"
"float64. A plan whose method is 'fft' refuses matrices holding NaN or\n"
"Inf (ValueError).\n\n"
"Attributes: method, fft_size, output_shape, matrix_shape, dtype,\n"
"threads, isa, estimates.\n\n"
"Example\n"
"-------\n"
">>> plan = parconv.Plan((480, 640), bank, mode='same')\n"
">>> for frame in frames:\n"
"...     planes = plan.execute(frame)   # (K, 480, 640)\n");

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "parconv.Plan",
    .tp_basicsize = sizeof(PlanObject),
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_repr = (reprfunc)plan_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = plan_doc,
    .tp_methods = plan_methods,
    .tp_getset = plan_getset,
    .tp_new = plan_new,
};

/* ---- choose_method ------------------------------------------------------ */

PyDoc_STRVAR(choose_doc,
"choose_method(matrix_shape, kernel_shape, count=1, mode='full',\n"
"              dtype='float64', isa='auto')\n"
"--\n\n"
"The method the cost model gives convolve(method='auto') for count\n"
"kernels of kernel_shape on a matrix of matrix_shape (finite inputs), as\n"
"scipy.signal.choose_conv_method does, and its estimates (where the two\n"
"are within 2x, a Plan times both methods and may take the other):\n"
"returns (method, {'direct': seconds, 'fft': seconds}), the seconds for\n"
"the whole bank on one core. Nothing is allocated or timed. The model's\n"
"constants are the built-in ones ('parconv calibrate' measures this\n"
"machine's for the program).\n");

static PyObject *choose_method(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *names[] = {"matrix_shape", "kernel_shape", "count", "mode",
                            "dtype", "isa", NULL};
    PyObject *ms, *ks, *mode = NULL, *dtype = NULL, *isa = NULL;
    Py_ssize_t count = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|nOOO:choose_method", names,
                                     &ms, &ks, &count, &mode, &dtype, &isa))
        return NULL;
    options o;
    size_t m[2], k[2];
    if (parse_options(mode, NULL, NULL, NULL, dtype, NULL, isa, &o) ||
        shape_arg(ms, "matrix_shape", 2, m) ||
        shape_arg(ks, "kernel_shape", 2, k))
        return NULL;
    if (count < 1) {
        PyErr_Format(PyExc_ValueError, "count must be at least 1, not %zd",
                     count);
        return NULL;
    }
    pc_method method;
    double d, f;
    int st = pc_plan_model(&o.cp, m[0], m[1], (size_t)count, k[0], k[1],
                           &method, &d, &f);
    if (st) {
        raise_status(st, pc_errmsg());
        return NULL;
    }
    PyObject *e = estimates(d, f, (size_t)count);
    return e ? Py_BuildValue("(sN)", pc_method_name(method), e) : NULL;
}

/* ---- the module --------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"convolve", (PyCFunction)(void (*)(void))convolve,
     METH_VARARGS | METH_KEYWORDS, convolve_doc},
    {"choose_method", (PyCFunction)(void (*)(void))choose_method,
     METH_VARARGS | METH_KEYWORDS, choose_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(module_doc,
"parconv: apply a bank of 2-D kernels to a matrix, exactly as\n"
"scipy.signal.convolve2d does for each kernel, on all cores.\n\n"
"    convolve(matrix, bank, ...)   one call, any shapes\n"
"    Plan(matrix_shape, bank, ...) one bank for many matrices of one shape\n"
"    choose_method(...)            direct or FFT, by the cost model\n");

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "parconv",
    .m_doc = module_doc,
    .m_size = -1,
    .m_methods = methods,
};

/* The main thread's ident, from threading (the importer may be another
 * thread). */
static int find_main_thread(void)
{
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *t = threading ? PyObject_CallMethod(threading, "main_thread", NULL)
                            : NULL;
    PyObject *id = t ? PyObject_GetAttrString(t, "ident") : NULL;
    if (id)
        main_thread = PyLong_AsUnsignedLong(id);
    Py_XDECREF(id);
    Py_XDECREF(t);
    Py_XDECREF(threading);
    return id && !PyErr_Occurred() ? 0 : -1;
}

PyMODINIT_FUNC PyInit_parconv(void)
{
    import_array();
    if (find_main_thread() || PyType_Ready(&PlanType) < 0)
        return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (!mod)
        return NULL;
    Py_INCREF(&PlanType);
    if (PyModule_AddObject(mod, "Plan", (PyObject *)&PlanType) < 0) {
        Py_DECREF(&PlanType);
        Py_DECREF(mod);
        return NULL;
    }
    if (PyModule_AddStringConstant(mod, "__version__", PC_VERSION) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
