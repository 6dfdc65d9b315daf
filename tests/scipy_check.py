#!/usr/bin/python3
"""Cross-check parconv against scipy.signal.convolve2d.

Usage: scipy_check.py PARCONV_PATH SCRATCH_DIR

Random cases (fixed seed) over shapes, modes, boundaries, fill values,
dtypes and bank sizes; plus NaN/Inf inputs, boundary synonyms, integer and
Fortran-ordered .npy inputs, and a single 2-D kernel as the bank. The cases
take --method direct, fft and auto in turn (and the direct kernels' ISAs);
FFT results are held to parconv's own FFT tolerance, relative to max|ref|.
NaN/Inf inputs run with every method: fft must be refused, auto must
compute directly. Every parconv call has a timeout. Prints 'ok   name' or
'FAIL name: why' per case and 'N passed, M failed' at the end; exits 1 if
anything failed.
"""
import os
import shutil
import sys

import numpy as np
import scipy.signal

import pctest
from pctest import FFT_TOL, case, manifest

NRANDOM = 135

MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
METHODS = ["direct", "fft", "auto"]


def valid_refused(mshape, kshape):
    """scipy's 'valid' rule: one input must contain the other."""
    a = all(m >= k for m, k in zip(mshape, kshape))
    b = all(k >= m for m, k in zip(mshape, kshape))
    return not (a or b)


def tolerances(dtype, ref, method="direct"):
    """(rtol, atol) for np.allclose: direct sums to 1e-12 (f64) or 1e-5
    (f32), relative and of max|ref|; FFT results to FFT_TOL of max|ref|."""
    scale = float(np.nanmax(np.abs(ref[np.isfinite(ref)]))) \
        if np.isfinite(ref).any() else 0.0
    if method == "fft":
        tol = FFT_TOL["f64" if dtype == np.float64 else "f32"]
        return 0.0, tol * scale
    if dtype == np.float64:
        return 1e-12, 1e-12 * scale
    return 1e-5, 1e-5 * scale


def compare(got, ref, dtype, what, equal_nan=False, method="direct"):
    if got.shape != ref.shape:
        raise AssertionError(f"{what}: shape {got.shape}, scipy {ref.shape}")
    if got.dtype != np.dtype(dtype):
        raise AssertionError(f"{what}: dtype {got.dtype}, expected "
                             f"{np.dtype(dtype)}")
    rtol, atol = tolerances(dtype, ref, method)
    if equal_nan:
        if not np.array_equal(np.isnan(got), np.isnan(ref)):
            raise AssertionError(f"{what}: NaN positions differ "
                                 f"({int(np.isnan(got).sum())} vs scipy "
                                 f"{int(np.isnan(ref).sum())})")
        inf_g = np.where(np.isinf(got), np.sign(got), 0)
        inf_r = np.where(np.isinf(ref), np.sign(ref), 0)
        if not np.array_equal(inf_g, inf_r):
            raise AssertionError(f"{what}: +-Inf positions differ")
    if not np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=equal_nan):
        with np.errstate(invalid="ignore"):
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        i = np.unravel_index(np.nanargmax(diff), diff.shape)
        raise AssertionError(f"{what}: values differ, worst at {tuple(i)}: "
                             f"{got[i]!r} vs scipy {ref[i]!r} "
                             f"(method {method}, rtol {rtol}, atol "
                             f"{atol:.3g})")


def check_manifest(outdir, count, oshape, dtype_name):
    man = manifest(outdir)
    pctest.expect(man is not None, f"no manifest.json in {outdir}")
    files = [k["file"] for k in man["kernels"]]
    want = [f"conv_{k:05d}.npy" for k in range(count)]
    if files != want:
        raise AssertionError(f"manifest lists {files}, expected {want}")
    wl = man["workload"]
    if (wl["out_rows"], wl["out_cols"]) != tuple(oshape):
        raise AssertionError(f"manifest out shape {wl['out_rows']}x"
                             f"{wl['out_cols']}, expected {oshape}")
    if wl["count"] != count:
        raise AssertionError(f"manifest count {wl['count']}, expected {count}")
    if man.get("dtype") != dtype_name:
        raise AssertionError(f"manifest dtype {man.get('dtype')!r}, expected "
                             f"{dtype_name!r}")
    if list(man.get("shape", [])) != list(oshape):
        raise AssertionError(f"manifest shape {man.get('shape')}, expected "
                             f"{list(oshape)}")


# Instruction sets of the direct kernels this CPU runs; cases take them in
# turn, so every path is checked against scipy.
ISAS = []


def find_isas():
    for isa in ("generic", "avx2", "avx512"):
        r = pctest.run(["run", "-n", "3", "-k", "1", "-s", "1", "-S",
                        "serial", "-q", "--isa", isa])
        if r.returncode == 0:
            ISAS.append(isa)
    if not ISAS:
        raise SystemExit("parconv runs no --isa at all")


def cycled_method(calls):
    """The method of the calls-th case: METHODS in turn, shifted by one
    every len(MODES)*len(BOUNDARIES) cases so that it does not move in lock
    step with the random cases' mode/boundary cycle (or with the ISA)."""
    period = len(MODES) * len(BOUNDARIES)
    return METHODS[(calls + calls // period) % len(METHODS)]


def all_finite(*arrays):
    return all(np.isfinite(np.asarray(a, dtype=np.float64)).all()
               for a in arrays)


def run_case(casedir, matrix, bank, mode, boundary, fillvalue,
             dtype_name, ref_matrix=None, ref_bank=None, equal_nan=False,
             bank_file=None, strategies="serial,threads", boundary_arg=None,
             method=None):
    """Writes the inputs, runs parconv, compares with scipy.

    matrix/bank are written to .npy as given; the reference is computed on
    ref_matrix/ref_bank (default: the same arrays). bank may be 2-D (single
    kernel) when bank_file holds it that way. method is --method's value;
    None takes METHODS in turn. With NaN or Inf in the inputs, fft must be
    refused and auto must compute directly."""
    shutil.rmtree(casedir, ignore_errors=True)
    os.makedirs(casedir)
    dtype = np.float64 if dtype_name == "f64" else np.float32
    mpath = os.path.join(casedir, "matrix.npy")
    bpath = os.path.join(casedir, "bank.npy")
    out = os.path.join(casedir, "out")
    np.save(mpath, matrix)
    np.save(bpath, bank if bank_file is None else bank_file)
    rm = matrix if ref_matrix is None else ref_matrix
    rb = bank if ref_bank is None else ref_bank
    if rb.ndim == 2:
        rb = rb[None]
    args = ["run", "-m", mpath, "-b", bpath, "--mode", mode,
            "--boundary", boundary_arg or boundary,
            "--fillvalue", repr(float(fillvalue)), "--dtype", dtype_name,
            "-S", strategies, "-o", out, "-q"]
    run_case.calls = getattr(run_case, "calls", 0) + 1
    if ISAS:
        args += ["--isa", ISAS[run_case.calls % len(ISAS)]]
    if method is None:
        method = cycled_method(run_case.calls)
    args += ["--method", method]
    r = pctest.run(args)
    finite = all_finite(matrix, bank, [fillvalue])

    if mode == "valid" and valid_refused(rm.shape, rb.shape[1:]):
        # scipy refuses: make sure it really does, then parconv must too.
        try:
            scipy.signal.convolve2d(rm, rb[0], mode, boundary, fillvalue)
            raise AssertionError("scipy did not refuse (test bug)")
        except ValueError:
            pass
        if r.returncode != 2:
            raise AssertionError(f"exit {r.returncode}, expected 2 (stderr "
                                 f"{r.stderr!r})")
        lines = r.stderr.splitlines()
        if len(lines) != 1 or "valid" not in lines[0]:
            raise AssertionError(f"stderr should be one line mentioning "
                                 f"'valid': {r.stderr!r}")
        if r.stdout:
            raise AssertionError(f"stdout not empty: {r.stdout!r}")
        if os.path.exists(os.path.join(out, "manifest.json")):
            raise AssertionError("refused run left a manifest")
        return

    if method == "fft" and not finite:
        # An FFT spreads NaN and Inf over whole tiles: parconv must refuse
        # rather than give other results than scipy.
        if r.returncode != 2:
            raise AssertionError(f"--method fft with NaN/Inf inputs: exit "
                                 f"{r.returncode}, expected 2 (stderr "
                                 f"{r.stderr!r})")
        lines = r.stderr.splitlines()
        if len(lines) != 1 or "nan" not in lines[0].lower():
            raise AssertionError(f"stderr should be one line mentioning "
                                 f"NaN: {r.stderr!r}")
        if r.stdout:
            raise AssertionError(f"stdout not empty: {r.stdout!r}")
        if os.path.exists(os.path.join(out, "manifest.json")):
            raise AssertionError("refused run left a manifest")
        shutil.rmtree(casedir, ignore_errors=True)
        return

    if r.returncode != 0:
        raise AssertionError(f"exit {r.returncode}: {r.stderr.strip()!r}")
    if r.stdout:
        raise AssertionError(f"-q but stdout: {r.stdout[:200]!r}")
    # The method the run used, from the manifest: it sets the tolerance.
    wl = manifest(out)["workload"]
    used = wl.get("method")
    if wl.get("method_requested") != method:
        raise AssertionError(f"manifest method_requested "
                             f"{wl.get('method_requested')!r}, expected "
                             f"{method!r}")
    if method in ("direct", "fft") and used != method:
        raise AssertionError(f"--method {method} but the manifest says "
                             f"{used!r}")
    if method == "auto" and used not in ("direct", "fft"):
        raise AssertionError(f"--method auto: manifest method {used!r}")
    if method == "auto" and not finite and used != "direct":
        raise AssertionError(f"--method auto with NaN/Inf inputs chose "
                             f"{used!r}, expected 'direct'")
    oshape = None
    for k in range(rb.shape[0]):
        with np.errstate(invalid="ignore", over="ignore"):
            ref = scipy.signal.convolve2d(rm, rb[k], mode, boundary, fillvalue)
        got = np.load(os.path.join(out, f"conv_{k:05d}.npy"))
        compare(got, ref, dtype, f"kernel {k} ({used})", equal_nan=equal_nan,
                method=used)
        oshape = ref.shape
    extra_files = sorted(set(os.listdir(out)) - {"manifest.json"} -
                         {f"conv_{k:05d}.npy" for k in range(rb.shape[0])})
    if extra_files:
        raise AssertionError(f"unexpected files in output: {extra_files}")
    check_manifest(out, rb.shape[0], oshape, dtype_name)
    shutil.rmtree(casedir, ignore_errors=True)


def random_cases(scratch):
    rs = np.random.RandomState(20240607)
    combos = [(m, b) for m in MODES for b in BOUNDARIES]
    # Shapes forced into the first cases so every kind is covered for sure.
    forced = [
        ((1, 1), (1, 1)), ((7, 9), (1, 1)), ((1, 40), (1, 5)),
        ((40, 1), (6, 1)), ((5, 5), (12, 12)), ((3, 8), (11, 12)),
        ((60, 60), (12, 12)), ((17, 23), (4, 6)), ((6, 4), (9, 10)),
        ((2, 2), (3, 3)), ((12, 12), (12, 12)), ((10, 31), (2, 8)),
        ((1, 1), (12, 7)), ((8, 3), (5, 12)), ((33, 2), (7, 2)),
        ((29, 41), (10, 5)), ((4, 50), (3, 11)), ((60, 1), (1, 12)),
    ]
    fills = [0.0, 2.5, -1.0, 7.25, -1000.5]
    for i in range(NRANDOM):
        mode, boundary = combos[i % len(combos)]
        dtype_name = "f64" if (i // len(combos)) % 2 == 0 else "f32"
        if i < len(forced) * 1:
            mshape, kshape = forced[i]
        else:
            mshape = tuple(int(x) for x in rs.randint(1, 61, 2))
            kshape = tuple(int(x) for x in rs.randint(1, 13, 2))
            # Make kernels larger than the matrix common enough.
            if rs.rand() < 0.15:
                mshape = tuple(int(x) for x in rs.randint(1, 13, 2))
        count = int(rs.randint(1, 5))
        fill = fills[i % len(fills)] if rs.rand() < 0.8 else \
            float(np.round(rs.normal() * 10, 3))
        dtype = np.float64 if dtype_name == "f64" else np.float32
        matrix = (rs.normal(size=mshape) * 10).astype(dtype)
        bank = (rs.normal(size=(count,) + kshape) * 10).astype(dtype)
        if dtype_name == "f32":
            # The reference sees the fill value as scipy would: in f32.
            fill = float(np.float32(fill))
        name = (f"random{i:03d} {mshape[0]}x{mshape[1]} * {count}x"
                f"{kshape[0]}x{kshape[1]} {mode}/{boundary} fill={fill:g} "
                f"{dtype_name}")
        case(name, run_case, os.path.join(scratch, f"r{i:03d}"), matrix,
             bank, mode, boundary, fill, dtype_name)


def special_cases(scratch):
    rs = np.random.RandomState(7)

    # NaN and Inf in the matrix, every mode and boundary, both dtypes.
    for dtype_name, dtype in (("f64", np.float64), ("f32", np.float32)):
        m = (rs.normal(size=(14, 11)) * 10).astype(dtype)
        m[3, 4] = np.nan
        m[9, 1] = np.inf
        m[0, 10] = -np.inf
        b = (rs.normal(size=(2, 3, 4)) * 10).astype(dtype)
        for mode in MODES:
            for bnd in BOUNDARIES:
                for meth in METHODS:
                    case(f"nan/inf matrix {mode}/{bnd} {dtype_name} "
                         f"--method {meth}", run_case,
                         os.path.join(scratch, "naninf"), m, b, mode, bnd,
                         1.5, dtype_name, equal_nan=True, method=meth)

    # Inf in the fill value region: fillvalue itself infinite is not a
    # number a user types, but NaN/Inf in the kernel is.
    m = rs.normal(size=(9, 9)) * 10
    b = rs.normal(size=(1, 3, 3)) * 10
    b[0, 1, 1] = np.inf
    for meth in METHODS:
        case(f"inf in kernel full/fill f64 --method {meth}", run_case,
             os.path.join(scratch, "kinf"), m, b, "full", "fill", 0.0, "f64",
             equal_nan=True, method=meth)
    # NaN in the kernel bank only, f32.
    m32n = (rs.normal(size=(12, 10)) * 10).astype(np.float32)
    b32n = (rs.normal(size=(3, 4, 3)) * 10).astype(np.float32)
    b32n[2, 0, 1] = np.nan
    for meth in METHODS:
        case(f"nan in kernel same/symm f32 --method {meth}", run_case,
             os.path.join(scratch, "knan"), m32n, b32n, "same", "symm", 0.0,
             "f32", equal_nan=True, method=meth)

    # Boundary synonyms give the same result as scipy's own names.
    m = rs.normal(size=(13, 17)) * 10
    b = rs.normal(size=(2, 5, 4)) * 10
    for syn, canon in (("circular", "wrap"), ("symmetric", "symm"),
                       ("pad", "fill")):
        for mode in ("full", "same"):
            case(f"boundary synonym {syn} ({mode})", run_case,
                 os.path.join(scratch, "syn"), m, b, mode, canon, -1.0, "f64",
                 boundary_arg=syn)

    # Integer and other .npy input types, compared on float64 conversions.
    mi = rs.randint(-1000, 1000, size=(21, 15)).astype(np.int32)
    bi = (rs.normal(size=(3, 4, 3)) * 10)
    case("int32 matrix, f64 bank", run_case,
         os.path.join(scratch, "int32"), mi, bi, "same", "symm", 2.5, "f64",
         ref_matrix=mi.astype(np.float64))
    mu = rs.randint(0, 256, size=(30, 26)).astype(np.uint8)
    case("uint8 matrix, f64 bank", run_case,
         os.path.join(scratch, "uint8"), mu, bi, "full", "wrap", 0.0, "f64",
         ref_matrix=mu.astype(np.float64))
    bu = rs.randint(0, 256, size=(2, 3, 5)).astype(np.uint8)
    case("uint8 matrix, uint8 bank", run_case,
         os.path.join(scratch, "uint8b"), mu, bu, "valid", "fill", 0.0, "f64",
         ref_matrix=mu.astype(np.float64), ref_bank=bu.astype(np.float64))
    bi16 = rs.randint(-300, 300, size=(2, 6, 2)).astype(np.int16)
    mi64 = rs.randint(-10**6, 10**6, size=(12, 19)).astype(np.int64)
    case("int64 matrix, int16 bank", run_case,
         os.path.join(scratch, "int64"), mi64, bi16, "full", "fill", -1.0,
         "f64", ref_matrix=mi64.astype(np.float64),
         ref_bank=bi16.astype(np.float64))
    mb = rs.rand(10, 10) < 0.5
    case("bool matrix", run_case, os.path.join(scratch, "bool"), mb, bi,
         "same", "wrap", 0.0, "f64", ref_matrix=mb.astype(np.float64))
    case("uint8 matrix computed in f32", run_case,
         os.path.join(scratch, "uint8f32"), mu, bi.astype(np.float32), "same",
         "symm", 2.5, "f32", ref_matrix=mu.astype(np.float32),
         ref_bank=bi.astype(np.float32))
    # f64 files computed in f32 and f32 files computed in f64.
    m64 = rs.normal(size=(16, 12)) * 10
    b64 = rs.normal(size=(2, 3, 3)) * 10
    case("f64 files computed in f32", run_case,
         os.path.join(scratch, "f64f32"), m64, b64, "full", "symm", 2.5, "f32",
         ref_matrix=m64.astype(np.float32), ref_bank=b64.astype(np.float32))
    m32 = (rs.normal(size=(16, 12)) * 10).astype(np.float32)
    b32 = (rs.normal(size=(2, 3, 3)) * 10).astype(np.float32)
    case("f32 files computed in f64", run_case,
         os.path.join(scratch, "f32f64"), m32, b32, "same", "wrap", 0.0, "f64",
         ref_matrix=m32.astype(np.float64), ref_bank=b32.astype(np.float64))

    # Fortran-ordered files, and a single 2-D kernel as the bank.
    mf = np.asfortranarray(rs.normal(size=(11, 7)) * 10)
    bf = np.asfortranarray(rs.normal(size=(2, 4, 3)) * 10)
    case("Fortran-order matrix and bank", run_case,
         os.path.join(scratch, "fortran"), mf, bf, "full", "symm", 0.0, "f64")
    k2 = rs.normal(size=(5, 3)) * 10
    case("2-D bank file (one kernel)", run_case,
         os.path.join(scratch, "bank2d"), m64, k2[None], "same", "fill", 2.5,
         "f64", bank_file=k2)

    # A 'valid' swap: kernel at least as large as the matrix in both dims.
    ms = rs.normal(size=(3, 4)) * 10
    bs = rs.normal(size=(2, 6, 4)) * 10
    case("valid with swapped inputs", run_case,
         os.path.join(scratch, "swap"), ms, bs, "valid", "fill", 0.0, "f64")
    # All four strategies agree on a non-trivial case with -o, by every
    # method (FFT procs workers must make the parent's plans).
    mm = rs.normal(size=(40, 37)) * 10
    bb = rs.normal(size=(5, 7, 6)) * 10
    for meth in METHODS:
        case(f"all strategies, symm f64 --method {meth}", run_case,
             os.path.join(scratch, "all4"), mm, bb, "same", "symm", 0.0,
             "f64", strategies="serial,procs,threads,omp", method=meth)

    # Kernels large enough that auto should take the FFT (several tiles
    # and more kernels than one FFT group of 8), and the same by fft and
    # direct explicitly: the three methods agree with scipy.
    for i, (mshape, kshape, count, mode, bnd, dtn) in enumerate((
            ((150, 130), (25, 21), 9, "same", "symm", "f64"),
            ((140, 150), (31, 31), 3, "full", "fill", "f32"),
            ((160, 120), (23, 27), 2, "valid", "fill", "f64"),
            ((100, 110), (33, 29), 2, "full", "wrap", "f64"))):
        dtype = np.float64 if dtn == "f64" else np.float32
        ml = (rs.normal(size=mshape) * 10).astype(dtype)
        bl = (rs.normal(size=(count,) + kshape) * 10).astype(dtype)
        fill = float(dtype(-2.5))
        for meth in METHODS:
            case(f"large kernels {mshape[0]}x{mshape[1]} * {count}x"
                 f"{kshape[0]}x{kshape[1]} {mode}/{bnd} {dtn} --method "
                 f"{meth}", run_case,
                 os.path.join(scratch, f"large{i}"), ml, bl, mode, bnd, fill,
                 dtn, method=meth, strategies="serial,omp")


def main():
    _, scratch = pctest.arguments(
        "usage: scipy_check.py PARCONV_PATH SCRATCH_DIR")
    find_isas()
    print(f"instruction sets checked in turn: {', '.join(ISAS)}; methods "
          f"{', '.join(METHODS)}", flush=True)
    random_cases(scratch)
    special_cases(scratch)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
