#!/usr/bin/python3
"""The Python module parconv against scipy.signal.convolve2d.

Usage: python_test.py SOURCE_DIR   (with the built module on PYTHONPATH)

Random cases (fixed seed) over every mode and boundary, fill values,
float64/float32/integer/bool inputs, C, Fortran and strided layouts, kernel
shapes (even, non-square, 1x1, larger than the matrix), 2-D and 3-D
matrices and banks, out=, Plan reuse and the three methods; bad inputs
raise the right exception; the GIL is released while it computes; a
KeyboardInterrupt stops a long call; a thousand calls leak nothing. FFT
results are held to parconv's FFT tolerance, relative to max|ref|.

In a sanitizer build meson sets PC_SANITIZED=1 (and preloads the ASan
runtime): the RSS bound of the leak case is then left out (ASan keeps freed
memory in quarantine). If the module cannot be imported there, the script
says why and exits 77 (skipped).
"""
import gc
import os
import re
import signal
import sys
import threading
import time
import tracemalloc

import numpy as np
import scipy.signal

import pctest
from pctest import FFT_TOL, Skip, case, expect

SANITIZED = os.environ.get("PC_SANITIZED") == "1"

try:
    import parconv
except ImportError as e:
    if SANITIZED:
        print(f"skip: the module cannot be loaded in this sanitizer build "
              f"({e})")
        sys.exit(77)
    raise

MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
METHODS = ["direct", "fft", "auto"]
NRANDOM = 150


def clean_environment():
    """The thread count comes from OMP_NUM_THREADS and Slurm's variables:
    the host's must not leak in."""
    for k in list(os.environ):
        if k.startswith(("OMP_", "GOMP_", "SLURM_")):
            del os.environ[k]


# ---------------------------------------------------------------------------
# references

def reference(matrix, bank, mode="full", boundary="fill", fillvalue=0):
    """scipy's answer in float64, shaped as parconv's: [N,] [K,] R', C'."""
    m = np.asarray(matrix, dtype=np.float64)
    b = np.asarray(bank, dtype=np.float64)
    ms = m if m.ndim == 3 else m[None]
    bs = b if b.ndim == 3 else b[None]
    out = np.stack([np.stack([scipy.signal.convolve2d(x, k, mode, boundary,
                                                      fillvalue)
                              for k in bs]) for x in ms])
    if b.ndim == 2:
        out = out[:, 0]
    return out if m.ndim == 3 else out[0]


def check(got, ref, dtype, method, what):
    """got has ref's shape and the dtype, NaN where ref has NaN, and is
    within the tolerance elsewhere: direct sums 1e-12 (f64) or 1e-5 (f32)
    of max|ref|, FFT results FFT_TOL of it."""
    expect(got.shape == ref.shape, f"{what}: shape {got.shape}, scipy "
           f"{ref.shape}")
    expect(got.dtype == np.dtype(dtype), f"{what}: dtype {got.dtype}, "
           f"expected {np.dtype(dtype)}")
    nan = np.isnan(ref)
    expect(np.array_equal(np.isnan(got), nan), f"{what}: NaN where scipy "
           "has none, or the other way")
    fin = np.isfinite(ref)
    expect(np.array_equal(got[~fin & ~nan], ref[~fin & ~nan]),
           f"{what}: infinities differ")
    if not fin.any():
        return
    scale = float(np.max(np.abs(ref[fin])))
    key = "f64" if np.dtype(dtype) == np.float64 else "f32"
    tol = FFT_TOL[key] if method == "fft" else \
        (1e-12 if key == "f64" else 1e-5)
    err = float(np.max(np.abs(got[fin].astype(np.float64) - ref[fin])))
    expect(err <= tol * max(scale, 1e-300), f"{what}: |error| {err:.3g} > "
           f"{tol:g} * {scale:.3g}")


def valid_refused(mshape, kshape):
    """scipy's 'valid' rule: one input must contain the other."""
    a = all(m >= k for m, k in zip(mshape, kshape))
    b = all(k >= m for m, k in zip(mshape, kshape))
    return not (a or b)


# The layouts and dtypes the inputs come in: (name, make(array of floats)).
def _strided(a):
    """The same values as a view with strides in every axis."""
    big = np.zeros(a.shape[:-2] + (2 * a.shape[-2], 3 * a.shape[-1]))
    big[..., ::2, 1::3] = a
    return big[..., ::2, 1::3]


LAYOUTS = [
    ("f64", lambda a: np.ascontiguousarray(a)),
    ("f64-fortran", lambda a: np.asfortranarray(a)),
    ("f64-strided", _strided),
    ("f32", lambda a: a.astype(np.float32)),
    ("f32-fortran", lambda a: np.asfortranarray(a.astype(np.float32))),
    ("int32", lambda a: np.round(a * 10).astype(np.int32)),
    ("uint8-strided", lambda a: _strided(np.round(a * 10) % 200)
     .astype(np.uint8)),
    ("int64-fortran", lambda a: np.asfortranarray(np.round(a * 10)
                                                  .astype(np.int64))),
    ("bool", lambda a: a > 0),
]
KSHAPES = [(1, 1), (2, 2), (3, 3), (3, 4), (4, 3), (5, 5), (6, 2), (1, 7),
           (8, 8)]


def random_case(rng, i):
    """One random case: draws shapes, layouts, options; runs parconv and
    compares with scipy."""
    R, C = int(rng.integers(1, 24)), int(rng.integers(1, 24))
    if rng.random() < 0.2:
        # Larger than the matrix in both dimensions (valid swaps).
        kh, kw = R + int(rng.integers(0, 4)), C + int(rng.integers(0, 4))
    else:
        kh, kw = KSHAPES[int(rng.integers(len(KSHAPES)))]
    mode = MODES[i % 3]
    boundary = BOUNDARIES[(i // 3) % 3]
    method = METHODS[(i // 9) % 3]
    if mode == "valid" and valid_refused((R, C), (kh, kw)):
        kh, kw = min(kh, R), min(kw, C)
    stack = rng.random() < 0.3
    bank2d = rng.random() < 0.2
    K = 1 if bank2d else int(rng.integers(1, 20))
    mname, mmake = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    bname, bmake = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    mvals = rng.normal(size=((3,) if stack else ()) + (R, C))
    bvals = rng.normal(size=(() if bank2d else (K,)) + (kh, kw))
    m, b = mmake(mvals), bmake(bvals)
    fill = [0, 2.5, -1.25][int(rng.integers(3))]
    dtype = np.float32 if m.dtype == b.dtype == np.float32 else np.float64
    what = (f"case {i}: {'stack ' if stack else ''}{mname} {R}x{C}, "
            f"{'one' if bank2d else K} {bname} {kh}x{kw}, {mode} {boundary} "
            f"fill={fill} {method}")
    got = parconv.convolve(m, b, mode=mode, boundary=boundary, fillvalue=fill,
                           method=method)
    check(got, reference(m, b, mode, boundary, fill), dtype, method, what)


def random_cases():
    rng = np.random.default_rng(20240914)
    for i in range(NRANDOM):
        random_case(rng, i)


# ---------------------------------------------------------------------------
# shapes, dtypes, out=, Plan

def shapes():
    """[N,] [K,] R', C': the K axis only for a 3-D bank, N for a stack."""
    m, s = np.ones((9, 7)), np.ones((4, 9, 7))
    b3, b2 = np.ones((5, 3, 2)), np.ones((3, 2))
    for mat, bank, want in [(m, b3, (5, 11, 8)), (m, b2, (11, 8)),
                            (s, b3, (4, 5, 11, 8)), (s, b2, (4, 11, 8))]:
        got = parconv.convolve(mat, bank).shape
        expect(got == want, f"{mat.shape} with {bank.shape}: {got}, expected "
               f"{want}")
    # valid with a kernel that contains the matrix: scipy swaps them.
    got = parconv.convolve(np.ones((3, 4)), np.ones((2, 5, 6)), "valid").shape
    expect(got == (2, 3, 3), f"swapped valid: {got}")


def dtypes():
    """float32 only when both inputs are float32, or when asked."""
    f32, f64 = np.ones((6, 6), np.float32), np.ones((6, 6))
    k32, ki = np.ones((2, 2), np.float32), np.ones((2, 2), np.int16)
    for m, k, dt, want in [(f32, k32, None, np.float32),
                           (f32, ki, None, np.float64),
                           (f64, k32, None, np.float64),
                           (f64, ki, "float32", np.float32),
                           (f32, k32, np.float64, np.float64),
                           (f32, k32, "f64", np.float64)]:
        got = parconv.convolve(m, k, dtype=dt).dtype
        expect(got == want, f"{m.dtype} and {k.dtype}, dtype={dt}: {got}")
    # float32 computed, checked against scipy at float32's tolerance.
    rng = np.random.default_rng(3)
    m, b = rng.random((40, 30)), rng.random((6, 5, 5))
    for method in METHODS:
        check(parconv.convolve(m, b, dtype="float32", method=method),
              reference(m, b), np.float32, method, f"dtype=float32 {method}")


def no_copy():
    """A float64 or float32 matrix is read in place whatever its order and
    strides: convolve and Plan.execute allocate (in numpy's traced memory)
    much less than the matrix, for a C-contiguous float32 one, a Fortran
    float64 one and a sliced (strided, reversed) float32 one; an int32
    matrix is converted (so the measurement sees copies)."""
    rng = np.random.default_rng(4)
    m = rng.random((1000, 1000))
    k = np.ones((1, 1))
    out = np.empty((1000, 1000))
    plan = parconv.Plan(m.shape, k, method="direct")

    def conv(a, out):
        return parconv.convolve(a, k, out=out)

    def peak(fn, a):
        tracemalloc.start()
        fn(a, out=out)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    big = rng.random((2000, 2000)).astype(np.float32)
    cases = [("C-contiguous float64", m),
             ("C-contiguous float32", m.astype(np.float32)),
             ("Fortran float64", np.asfortranarray(m)),
             ("sliced float32", big[::2, ::-2])]
    for what, a in cases:
        size = a.size * a.itemsize
        for name, fn in (("convolve", conv), ("Plan.execute", plan.execute)):
            got = peak(fn, a)
            expect(got < size / 4, f"{name}: a {what} matrix was copied: "
                   f"{got} bytes traced")
        expect(np.array_equal(out, np.asarray(a, np.float64)),
               f"{what}: the 1x1 identity kernel did not give the matrix")
    mi = np.round(m * 100).astype(np.int32)
    expect(peak(conv, mi) >= m.nbytes, "an int32 matrix was not converted: "
           "the measurement is blind")


def in_place_bits():
    """Matrices read in place (float32 and float64, C, Fortran, sliced with
    steps and reversed, 2-D and stacks) give bit for bit what their values
    as a C-contiguous float64 copy give, in both compute dtypes and every
    method, through convolve and Plan.execute; and scipy's results."""
    rng = np.random.default_rng(14)
    b = rng.normal(size=(3, 5, 4))
    m = rng.normal(size=(60, 50))
    big = rng.normal(size=(150, 130)).astype(np.float32)
    s = rng.normal(size=(3, 40, 30))
    bigs = rng.normal(size=(6, 40, 90)).astype(np.float32)
    layouts = [("f32", m.astype(np.float32)),
               ("f64 Fortran", np.asfortranarray(m)),
               ("f32 Fortran", np.asfortranarray(m.astype(np.float32))),
               ("f32 sliced", big[10:130:2, ::-2][:, :50]),
               ("f64 transposed", np.ascontiguousarray(m.T).T),
               ("f64 stack Fortran", np.asfortranarray(s)),
               ("f32 stack sliced", bigs[::2, ::-1, 1::3])]
    for what, a in layouts:
        expect(not a.flags.c_contiguous or a.dtype == np.float32,
               f"{what}: not a strided layout")
        copy = np.ascontiguousarray(a, dtype=np.float64)
        for dt in (np.float64, np.float32):
            for method in METHODS:
                kw = dict(mode="same", boundary="symm", dtype=dt,
                          method=method)
                got = parconv.convolve(a, b, **kw)
                want = parconv.convolve(copy, b, **kw)
                expect(np.array_equal(got, want), f"{what} {np.dtype(dt)} "
                       f"{method}: differs from the float64 copy's")
                check(got, reference(copy, b, "same", "symm"), dt,
                      "fft" if method == "fft" else "direct",
                      f"{what} {np.dtype(dt)} {method}")
            p = parconv.Plan(a.shape[-2:], b, "valid", "fill", dtype=dt)
            expect(np.array_equal(p.execute(a), p.execute(copy)),
                   f"{what} {np.dtype(dt)}: Plan.execute differs from the "
                   "float64 copy's")
    # A stack read in place with NaN in its last matrix: auto sees it.
    s2 = np.asfortranarray(s)
    s2[2, 5, 7] = np.nan
    check(parconv.convolve(s2, b, method="auto"), reference(s2, b),
          np.float64, "direct", "NaN in a Fortran stack's last matrix, auto")
    raises(ValueError, "NaN", parconv.Plan((40, 30), b, method="fft")
           .execute, s2[:, ::1, ::1])
    # out may not overlap a strided matrix anywhere in its extent: this
    # stack starts at whole[3] and runs back over whole[2].
    whole = np.zeros((4, 10, 10))
    raises(ValueError, "overlaps", parconv.convolve, whole[3:1:-1],
           np.ones((1, 1)), out=whole[1:3])


def out_arg():
    """out= receives the result and is returned; a stack's too."""
    rng = np.random.default_rng(5)
    m, b = rng.random((3, 12, 10)), rng.random((4, 3, 3))
    out = np.full((3, 4, 14, 12), np.nan)
    r = parconv.convolve(m, b, out=out)
    expect(r is out, "convolve did not return out")
    check(out, reference(m, b), np.float64, "direct", "stack into out")
    out32 = np.empty((4, 12, 10), np.float32)
    r = parconv.convolve(m[0].astype(np.float32), b.astype(np.float32),
                         mode="same", out=out32)
    expect(r is out32, "convolve did not return out (f32)")
    check(out32, reference(m[0], b, "same"), np.float32, "direct", "f32 out")


def plan_reuse():
    """One Plan, many matrices (and a stack), every method, each result as
    scipy's; its attributes."""
    rng = np.random.default_rng(6)
    b = rng.normal(size=(7, 6, 5))
    for method in METHODS:
        for mode, boundary in [("full", "fill"), ("same", "symm"),
                               ("valid", "wrap")]:
            p = parconv.Plan((30, 40), b, mode=mode, boundary=boundary,
                             fillvalue=1.5, method=method)
            what = f"Plan {method} {mode} {boundary}"
            expect(p.method in ("direct", "fft"), f"{what}: method {p.method}")
            expect(method == "auto" or p.method == method,
                   f"{what}: method {p.method}")
            expect((p.fft_size is None) == (p.method == "direct"),
                   f"{what}: fft_size {p.fft_size} for {p.method}")
            ref0 = reference(np.zeros((30, 40)), b, mode, boundary, 1.5)
            expect(p.output_shape == ref0.shape[-3:], f"{what}: output_shape "
                   f"{p.output_shape}, scipy {ref0.shape}")
            expect(p.matrix_shape == (30, 40), f"{what}: {p.matrix_shape}")
            for j in range(3):
                m = rng.normal(size=(30, 40))
                if j == 1:
                    m = np.asfortranarray(m)
                check(p.execute(m), reference(m, b, mode, boundary, 1.5),
                      np.float64, p.method, f"{what}, matrix {j}")
            s = rng.integers(-5, 5, size=(2, 30, 40))
            out = np.empty((2,) + p.output_shape)
            expect(p.execute(s, out=out) is out, f"{what}: out not returned")
            check(out, reference(s, b, mode, boundary, 1.5), np.float64,
                  p.method, f"{what}, stack")
    p = parconv.Plan((8, 9), np.ones((2, 2), np.float32))
    expect(p.output_shape == (9, 10) and p.dtype == np.float32,
           f"2-D float32 bank: {p.output_shape} {p.dtype}")
    expect(p.execute(np.ones((8, 9))).dtype == np.float32, "plan dtype")
    expect("Plan" in repr(p), f"repr {repr(p)}")


def plan_threads():
    """Two threads executing one Plan at once take turns: every result is
    the one its matrix should give."""
    rng = np.random.default_rng(7)
    b = rng.normal(size=(16, 9, 9))
    p = parconv.Plan((200, 200), b, method="direct")
    mats = [rng.normal(size=(200, 200)) for _ in range(2)]
    want = [p.execute(m) for m in mats]
    bad = []

    def worker(i):
        for _ in range(15):
            if not np.array_equal(p.execute(mats[i]), want[i]):
                bad.append(i)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    expect(not bad, f"wrong results from threads {sorted(set(bad))}")


def methods_and_isas():
    """The three methods agree with scipy on a larger case (FFT to 1e-10
    relative), and so does every direct ISA this CPU runs."""
    rng = np.random.default_rng(8)
    m, b = rng.normal(size=(150, 170)), rng.normal(size=(20, 17, 13))
    ref = reference(m, b, "same", "wrap")
    for method in METHODS:
        check(parconv.convolve(m, b, "same", "wrap", method=method), ref,
              np.float64, method, f"method {method}")
    ran = 0
    for isa in ["generic", "avx2", "avx512"]:
        try:
            got = parconv.convolve(m, b, "same", "wrap", method="direct",
                                   isa=isa)
        except ValueError as e:
            expect("cannot run" in str(e), f"isa {isa}: {e}")
            continue
        ran += 1
        check(got, ref, np.float64, "direct", f"isa {isa}")
    expect(ran >= 1, "no ISA ran")


def threads_arg():
    """threads=1 and 2 give the same bits; the default follows
    OMP_NUM_THREADS, then the CPUs this process may use."""
    rng = np.random.default_rng(9)
    m, b = rng.normal(size=(60, 60)), rng.normal(size=(10, 5, 5))
    one = parconv.convolve(m, b, threads=1, method="direct")
    two = parconv.convolve(m, b, threads=2, method="direct")
    expect(np.array_equal(one, two), "threads=1 and threads=2 differ")
    cpus = len(os.sched_getaffinity(0))
    n = parconv.Plan((5, 5), np.ones((2, 2))).threads
    expect(1 <= n <= cpus, f"default threads {n}, {cpus} CPUs in affinity")
    try:
        os.environ["OMP_NUM_THREADS"] = "3"
        n = parconv.Plan((5, 5), np.ones((2, 2))).threads
        expect(n == 3, f"OMP_NUM_THREADS=3: {n} threads")
        expect(parconv.Plan((5, 5), np.ones((2, 2)), threads=1).threads == 1,
               "threads=1 does not override OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "lots"
        raises(ValueError, "OMP_NUM_THREADS", parconv.convolve, m, b)
    finally:
        del os.environ["OMP_NUM_THREADS"]


def nan_inputs():
    """NaN and Inf: direct and auto give scipy's NaN/Inf pattern; fft is
    refused, by convolve and by an FFT Plan."""
    rng = np.random.default_rng(10)
    m, b = rng.normal(size=(20, 20)), rng.normal(size=(3, 4, 4))
    m[3, 4], m[10, 11] = np.nan, np.inf
    ref = reference(m, b)
    for method in ("direct", "auto"):
        check(parconv.convolve(m, b, method=method), ref, np.float64,
              "direct", f"NaN with {method}")
    s = np.stack([rng.normal(size=(20, 20)), m])
    check(parconv.convolve(s, b, method="auto"), reference(s, b), np.float64,
          "direct", "NaN in a stack's second matrix, auto")
    raises(ValueError, "fft", parconv.convolve, m, b, method="fft")
    p = parconv.Plan((20, 20), b, method="fft")
    raises(ValueError, "NaN", p.execute, m)


# ---------------------------------------------------------------------------
# bad inputs

def raises(exc, sub, fn, *a, **kw):
    """fn(*a, **kw) raises exc (exactly that class or a subclass) whose
    message mentions sub (case-insensitive)."""
    try:
        fn(*a, **kw)
    except exc as e:
        expect(sub.lower() in str(e).lower(), f"{exc.__name__} {str(e)!r} "
               f"does not mention {sub!r}")
        return e
    except Exception as e:
        raise AssertionError(f"raised {type(e).__name__} ({e}), expected "
                             f"{exc.__name__}")
    raise AssertionError(f"no {exc.__name__} raised")


def bad_inputs():
    m, b = np.ones((8, 8)), np.ones((2, 3, 3))
    conv = parconv.convolve
    raises(ValueError, "1-D", conv, np.ones(8), b)
    raises(ValueError, "4-D", conv, np.ones((2, 2, 8, 8)), b)
    raises(ValueError, "1-D", conv, m, np.ones(3))
    raises(ValueError, "4-D", conv, m, np.ones((1, 2, 3, 3)))
    raises(ValueError, "empty", conv, np.ones((0, 8)), b)
    raises(ValueError, "empty", conv, m, np.ones((0, 3, 3)))
    raises(ValueError, "empty", conv, np.ones((0, 8, 8)), b)
    raises(TypeError, "complex", conv, m + 1j, b)
    raises(TypeError, "complex", conv, m, b.astype(np.complex64))
    raises(TypeError, "dtype", conv, m.astype(object), b)
    raises(TypeError, "dtype", conv, np.array([["a", "b"], ["c", "d"]]), b)
    raises(ValueError, "valid", conv, np.ones((3, 5)), np.ones((5, 3)),
           "valid")
    raises(ValueError, "mode", conv, m, b, "diagonal")
    raises(ValueError, "boundary", conv, m, b, boundary="mirror")
    raises(TypeError, "string", conv, m, b, mode=3)
    raises(ValueError, "method", conv, m, b, method="winograd")
    raises(ValueError, "isa", conv, m, b, isa="sse9")
    raises(TypeError, "dtype", conv, m, b, dtype=np.int32)
    raises(TypeError, "dtype", conv, m, b, dtype="complex128")
    raises(ValueError, "threads", conv, m, b, threads=0)
    raises(TypeError, "threads", conv, m, b, threads=1.5)
    raises(ValueError, "fillvalue", conv, m, b, fillvalue=[1, 2])
    raises(TypeError, "fillvalue", conv, m, b, fillvalue=1j)
    raises(ValueError, "fft", conv, np.full((8, 8), np.nan), b, method="fft")
    # out: shape, dtype, order, writeable, type, overlap.
    raises(ValueError, "shape", conv, m, b, out=np.empty((2, 10, 9)))
    raises(TypeError, "dtype", conv, m, b, out=np.empty((2, 10, 10),
                                                        np.float32))
    raises(ValueError, "contiguous", conv, m, b,
           out=np.empty((2, 10, 10), order="F"))
    ro = np.empty((2, 10, 10))
    ro.flags.writeable = False
    raises(ValueError, "read-only", conv, m, b, out=ro)
    raises(TypeError, "numpy array", conv, m, b, out=[[0.0]])
    big = np.zeros((3, 10, 10))
    raises(ValueError, "overlaps", conv, big[:2], np.ones((1, 1)),
           out=big[1:3])
    # Plan: shapes and arguments.
    raises(ValueError, "matrix_shape", parconv.Plan, (8,), b)
    raises(ValueError, "matrix_shape", parconv.Plan, (8, 0), b)
    raises(ValueError, "matrix_shape", parconv.Plan, "ab", b)
    p = parconv.Plan((8, 8), b)
    raises(ValueError, "8x8", p.execute, np.ones((8, 9)))
    raises(ValueError, "1-D", p.execute, np.ones(8))
    raises(ValueError, "count", parconv.choose_method, (8, 8), (3, 3), 0)
    raises(ValueError, "kernel_shape", parconv.choose_method, (8, 8), (3,))
    # After all that, it still computes.
    check(conv(m, b), reference(m, b), np.float64, "direct", "after errors")


# ---------------------------------------------------------------------------
# GIL, interrupts, leaks

def gil_released():
    """While one thread is inside a long convolve, another thread's short
    convolve calls keep completing, in the middle of the long one: two
    calls overlap in time. (With the GIL held, nothing else could run
    between the long call's first and last few milliseconds.) Both ways
    round: the long call in the main thread (which computes on a thread of
    its own, to see Ctrl-C) and in another thread (which computes
    itself)."""
    rng = np.random.default_rng(11)
    big_m, big_b = rng.normal(size=(600, 600)), rng.normal(size=(16, 25, 25))
    small_m, small_b = rng.normal(size=(20, 20)), rng.normal(size=(2, 3, 3))
    out = np.empty((16, 600, 600))
    # Long enough: about 0.3 s or more, measured here.
    t = time.monotonic()
    parconv.convolve(big_m, big_b, "same", out=out, method="direct")
    once = time.monotonic() - t
    reps = max(1, int(np.ceil(0.3 / max(once, 1e-3))))

    def long_calls(span):
        t0 = time.monotonic()
        for _ in range(reps):
            parconv.convolve(big_m, big_b, "same", out=out, method="direct")
        span.append((t0, time.monotonic()))

    def short_calls(running, done):
        while running():
            parconv.convolve(small_m, small_b)
            done.append(time.monotonic())

    for long_in_main in (False, True):
        span, done = [], []
        if long_in_main:
            th = threading.Thread(target=short_calls,
                                  args=(lambda: not span, done))
            th.start()
            long_calls(span)
        else:
            th = threading.Thread(target=long_calls, args=(span,))
            th.start()
            short_calls(th.is_alive, done)
        th.join()
        t0, t1 = span[0]
        mid = [x for x in done
               if t0 + 0.25 * (t1 - t0) < x < t0 + 0.75 * (t1 - t0)]
        where = "main" if long_in_main else "another"
        expect(mid, f"long call in the {where} thread: no short call "
               f"completed in its middle ({len(done)} completed, long call "
               f"{t1 - t0:.2f} s)")


def keyboard_interrupt():
    """SIGINT 0.3 s into a long call (a few seconds uninterrupted) raises
    KeyboardInterrupt in well under half the uninterrupted time, and the
    module works afterwards."""
    if threading.current_thread() is not threading.main_thread():
        raise Skip("not the main thread")
    rng = np.random.default_rng(12)
    m, k = rng.normal(size=(300, 300)), rng.normal(size=(150, 150))

    def call(n):
        # n kernels of 150x150, 'valid': long work, small output.
        b = np.broadcast_to(k, (n, 150, 150))
        parconv.convolve(m, b, "valid", out=np.empty((n, 151, 151)),
                         method="direct", threads=1)

    # Enough kernels for about 2.5 s here (at most 600: 220 MB).
    t = time.monotonic()
    call(16)
    n = min(600, max(16, int(16 * 2.5 / (time.monotonic() - t))))
    t = time.monotonic()
    call(n)
    full = time.monotonic() - t
    if full < 1.0:
        raise Skip(f"the long call took only {full:.2f} s here")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    t = time.monotonic()
    timer.start()
    try:
        call(n)
    except KeyboardInterrupt:
        took = time.monotonic() - t
    else:
        raise AssertionError(f"no KeyboardInterrupt (the call took "
                             f"{time.monotonic() - t:.2f} s)")
    finally:
        timer.join()
    expect(took < full / 2, f"interrupted after {took:.2f} s; uninterrupted "
           f"{full:.2f} s")
    small = np.ones((5, 5))
    check(parconv.convolve(small, small), reference(small, small),
          np.float64, "direct", "after the interrupt")


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Skip("no VmRSS in /proc/self/status")


def no_leaks():
    """A thousand calls (convolve in both dtypes, Plan.execute, errors)
    leave the inputs' reference counts, numpy's traced memory, open files,
    threads and (without ASan) the RSS as they were."""
    rng = np.random.default_rng(13)
    m, b = rng.normal(size=(40, 30)), rng.normal(size=(5, 4, 4))
    m32, b32 = m.astype(np.float32), b.astype(np.float32)
    mi = rng.integers(0, 9, size=(40, 30))
    p = parconv.Plan((40, 30), b, method="fft")
    nan = np.full((40, 30), np.nan)
    out = np.empty((5, 43, 33))

    def round_(i):
        parconv.convolve(m, b, method=METHODS[i % 3])
        parconv.convolve(m32, b32, "same", "symm")
        parconv.convolve(mi, b, out=out)
        p.execute(m)
        parconv.choose_method((40, 30), (4, 4), 5)
        for fn, a, kw in [(parconv.convolve, (m, b), {"mode": "bad"}),
                          (parconv.convolve, (m, b), {"out": out[:1]}),
                          (p.execute, (nan,), {})]:
            try:
                fn(*a, **kw)
            except (ValueError, TypeError):
                pass

    def fds():
        return len(os.listdir("/proc/self/fd"))

    def tasks():
        return len(os.listdir("/proc/self/task"))

    # Calls the cost model puts above 20 ms: computed on a thread of
    # their own (from the main thread), which is then joined.
    lm, lb = rng.normal(size=(300, 300)), rng.normal(size=(20, 25, 25))

    def long_call():
        parconv.convolve(lm, lb, method="direct")

    def settled(fn, want):
        """fn() once it equals want (OpenMP's threads of a finished thread
        end on their own), or after a generous deadline."""
        deadline = time.monotonic() + 10
        while fn() != want and time.monotonic() < deadline:
            time.sleep(0.01)
        return fn()

    args = (m, b, m32, b32, mi, out, nan, lm, lb)
    refs = [sys.getrefcount(x) for x in args]
    for i in range(100):  # warm-up: caches, FFTW's, numpy's, malloc's
        round_(i)
    for i in range(5):
        long_call()
    gc.collect()
    tracemalloc.start()
    fd0 = fds()
    # The main thread and its OpenMP team's other threads, once the
    # finished calls' teams have ended.
    task0 = settled(tasks, parconv.Plan((5, 5), np.ones((1, 1))).threads)
    rss0 = rss_kb()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(1000):
        round_(i)
        if i % 20 == 0:
            long_call()
    gc.collect()
    grew = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    rss = rss_kb() - rss0
    after = [sys.getrefcount(x) for x in args]
    expect(after == refs, f"reference counts {refs} became {after}")
    expect(grew < 64 * 1024, f"traced memory grew by {grew} bytes over 1000 "
           "rounds")
    expect(fds() == fd0, f"open files {fd0} -> {fds()}")
    expect(settled(tasks, task0) == task0, f"threads {task0} -> {tasks()}")
    if not SANITIZED:
        expect(rss < 16 * 1024, f"RSS grew by {rss} KB over 1000 rounds")


# ---------------------------------------------------------------------------
# the module itself

def module(source):
    """__version__ is parconv.h's PC_VERSION; the docstrings are there."""
    with open(os.path.join(source, "include", "parconv.h")) as f:
        v = re.search(r'#define PC_VERSION "([^"]+)"', f.read()).group(1)
    expect(parconv.__version__ == v, f"__version__ {parconv.__version__}, "
           f"parconv.h {v}")
    import pydoc
    text = pydoc.plain(pydoc.render_doc(parconv.convolve))
    for s in ("convolve(matrix, bank, mode='full'", "Parameters", "fillvalue",
              "KeyboardInterrupt"):
        expect(s in text, f"help(parconv.convolve) lacks {s!r}")
    for obj in (parconv, parconv.Plan, parconv.Plan.execute,
                parconv.choose_method):
        expect(obj.__doc__ and len(obj.__doc__) > 80, f"{obj}: no docstring")


def choose():
    """choose_method is what a Plan of the same shapes takes (where the
    estimates are within a factor of 2 the Plan times both methods and may
    take either), with the same estimates; both methods occur over these
    shapes."""
    seen = set()
    for ms, ks, k in [((100, 100), (3, 3), 8), ((200, 180), (41, 37), 4),
                      ((64, 300), (17, 17), 12), ((50, 50), (49, 49), 1)]:
        method, est = parconv.choose_method(ms, ks, k)
        expect(set(est) == {"direct", "fft"}, f"estimates {est}")
        p = parconv.Plan(ms, np.ones((k,) + ks))
        near = est["fft"] < 2 * est["direct"] and est["direct"] < 2 * est["fft"]
        expect(p.method == method or near, f"{ms} {ks}: choose_method "
               f"{method}, Plan {p.method}")
        for key in est:
            expect(abs(est[key] - p.estimates[key]) <= 1e-12 * est[key],
                   f"{ms} {ks}: {key} {est[key]} vs {p.estimates[key]}")
        expect(method == ("fft" if est["fft"] < est["direct"] else "direct"),
               f"{method} is not the cheaper of {est}")
        seen.add(method)
    expect(seen == {"direct", "fft"}, f"only {seen} chosen")
    m32, _ = parconv.choose_method((100, 100), (3, 3), 1, mode="valid",
                                   dtype="float32")
    expect(m32 in ("direct", "fft"), f"float32: {m32}")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    clean_environment()
    case("module", module, sys.argv[1])
    case("random cases vs scipy", random_cases)
    case("result shapes", shapes)
    case("dtypes", dtypes)
    case("no copy of float32/float64 matrices", no_copy)
    case("matrices read in place, bit for bit", in_place_bits)
    case("out=", out_arg)
    case("Plan reuse", plan_reuse)
    case("Plan from two threads", plan_threads)
    case("methods and ISAs", methods_and_isas)
    case("threads", threads_arg)
    case("NaN and Inf", nan_inputs)
    case("choose_method", choose)
    case("bad inputs", bad_inputs)
    case("GIL released", gil_released)
    case("KeyboardInterrupt", keyboard_interrupt)
    case("no leaks over 1000 calls", no_leaks)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
