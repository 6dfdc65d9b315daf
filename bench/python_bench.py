#!/usr/bin/python3
"""parconv's Python module against what a numpy user would do instead.

Usage: bench/python_bench.py [--out FILE] [--runs N] [--size RxC]
           [--count N] [--count64 N] [--scipy-kernels N] [--budget S]
           [--quick] [--no-install]

Two workloads on one matrix of integers in [0,100) (numpy's
default_rng(42); not parconv's own generator): the default one (100
kernels of 10x10 on 1000x1000, mode full) and 16 kernels of 64x64. For
each, on the same inputs (float64, and float32 where the peer has it):

* parconv.convolve(matrix, bank) (its omp strategy, all usable CPUs,
  method auto), and Plan.execute(matrix, out=) (kernels packed once, the
  output reused);
* a Python loop of scipy.signal.convolve2d (one core), on the first
  --scipy-kernels kernels (it is slow) and reported per kernel;
* scipy.signal.fftconvolve over a multiprocessing.Pool of all cores
  (started beforehand, not timed), all kernels;
* OpenCV's cv2.filter2D, its own threads (python3-opencv), made to compute
  the full convolution: the matrix padded with kh-1/kw-1 zeros on
  top/left and the kernels flipped, untimed;
* torch.nn.functional.conv2d in float32 and float64 (python3-torch), the
  kernels as output channels, flipped, padding (kh-1, kw-1), as many
  threads as CPUs (torch's default is the physical cores); on as many
  kernels as fit in --budget seconds (its large kernels are slow).

Every peer's result is checked against parconv's float64 one (1e-10 of
max|ref| in float64, 1e-4 in float32), and parconv's against scipy's.
Prints ms per kernel (the median of --runs runs after one warm-up, per
kernel computed) and each peer's time over parconv's in the same dtype;
writes it all as JSON (bench-results/python.json). Timings are reported,
never asserted.

Set-up: installs what is missing (scripts/setup.sh: the build and test
packages, then PC_PYBENCH_PACKAGES: python3-opencv and python3-torch,
each optional) and builds
build/ with the module, unless --no-install (then it only needs
build/python).
"""

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np
import scipy.signal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchlib  # noqa: E402
from benchlib import median  # noqa: E402

def setup(install):
    """Installs what is missing and builds build/ (unless install is
    False), then imports parconv from build/python."""
    if install:
        sh = ('. scripts/setup.sh && pc_install "${PC_BUILD_PACKAGES[@]}" '
              '"${PC_TEST_PACKAGES[@]}" && pc_build build')
        subprocess.run(["bash", "-c", sh], cwd=ROOT, check=True)
        # The peers one at a time: one that cannot be had leaves out its
        # rows only.
        sh = ('. scripts/setup.sh && for p in "${PC_PYBENCH_PACKAGES[@]}"; '
              'do pc_install "$p" || pc_log "$p could not be installed: its '
              'rows are left out"; done')
        subprocess.run(["bash", "-c", sh], cwd=ROOT, check=True)
        pydir = os.path.join(ROOT, "build", "python")
        if not any(n.startswith("parconv") for n in
                   (os.listdir(pydir) if os.path.isdir(pydir) else [])):
            # build/ was configured before python3-dev was there.
            subprocess.run(["meson", "setup", "--reconfigure", "build"],
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            subprocess.run(["ninja", "-C", "build"], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
    sys.path.insert(0, os.path.join(ROOT, "build", "python"))
    try:
        import parconv
    except ImportError as e:
        raise SystemExit(f"python_bench: cannot import parconv from "
                         f"build/python ({e}); build it with "
                         "`meson setup build && ninja -C build` "
                         "(needs python3-dev)")
    return parconv


def timed(fn, runs, warm=True):
    """(median seconds, all seconds, the last result) of runs calls of fn,
    after one untimed call if warm."""
    if warm:
        fn()
    xs, r = [], None
    for _ in range(runs):
        r = None  # the previous result is freed before the next call
        t = time.perf_counter()
        r = fn()
        xs.append(time.perf_counter() - t)
    return median(xs), xs, r


def rel_err(got, ref):
    """max|got - ref| / max|ref| (inf for another shape)."""
    if got.shape != ref.shape:
        return float("inf")
    scale = float(np.abs(ref).max()) or 1.0
    return float(np.abs(got.astype(np.float64) - ref).max()) / scale


TOL = {"f64": 1e-10, "f32": 1e-4}


class Table:
    """The rows of one workload: printed as they come, kept for the JSON."""

    def __init__(self, title):
        self.rows = []
        self.base = {}
        print(f"\n=== {title} ===")
        print(f"  {'what':<58} {'dtype':>5} {'kernels':>7} {'ms/kernel':>10} "
              f"{'x parconv':>9}  check")

    def add(self, what, dtype, kernels, med, samples, err, base=False,
            **extra):
        ms = med * 1000 / kernels
        if base:
            self.base[dtype] = ms
        ratio = ms / self.base[dtype] if dtype in self.base else None
        ok = err <= TOL[dtype]
        self.rows.append({"what": what, "dtype": dtype, "kernels": kernels,
                          "seconds": samples, "median_seconds": med,
                          "ms_per_kernel": ms, "over_parconv": ratio,
                          "max_rel_err": err, "ok": ok, **extra})
        r = f"{ratio:.1f}x" if ratio is not None else "-"
        print(f"  {what:<58} {dtype:>5} {kernels:>7} {ms:>10.2f} {r:>9}  "
              f"{'ok' if ok else 'DIFFERS'} ({err:.1e})", flush=True)

    def skip(self, what, why):
        self.rows.append({"what": what, "error": why})
        print(f"  {what:<58} not measured: {why}", flush=True)


def pad_flip(matrix, bank):
    """For the correlating peers: the matrix padded with kh-1 zero rows on
    top and kw-1 zero columns on the left, and the kernels flipped."""
    kh, kw = bank.shape[1:]
    padded = np.pad(matrix, ((kh - 1, 0), (kw - 1, 0)))
    return padded, np.ascontiguousarray(bank[:, ::-1, ::-1])


def opencv_rows(t, cv2, m, b, ref, runs):
    """cv2.filter2D per kernel (a correlation) on the padded matrix, anchor
    (0,0), zeros past the bottom/right edge: convolve2d's full result."""
    threads = cv2.getNumThreads()
    for dt, typ in (("f64", np.float64), ("f32", np.float32)):
        padded, flipped = pad_flip(m.astype(typ), b.astype(typ))

        def run():
            out = np.empty((len(flipped),) + padded.shape, typ)
            for i, k in enumerate(flipped):
                cv2.filter2D(padded, -1, k, dst=out[i], anchor=(0, 0),
                             delta=0, borderType=cv2.BORDER_CONSTANT)
            return out

        med, xs, r = timed(run, runs)
        t.add(f"cv2.filter2D per kernel (OpenCV's {threads} threads)", dt,
              len(b), med, xs, rel_err(r, ref), threads=threads)


def torch_rows(t, torch, m, b, ref, runs, budget, ncpu):
    """conv2d with the kernels flipped as K output channels and padding
    (kh-1, kw-1) (benchlib.torch_full_conv): convolve2d's full result for
    each. torch's CPU convolution is slow for large kernels: a run takes as
    many of the kernels as fit in budget seconds (benchlib's
    torch_kernels_within, whose first call is also the warm-up)."""
    default = torch.get_num_threads()
    torch.set_num_threads(ncpu)
    try:
        for dt in ("f32", "f64"):
            run = benchlib.torch_full_conv(torch, m, b, dt)
            n = benchlib.torch_kernels_within(run, len(b), budget)
            med, xs, r = timed(lambda: run(n), runs, warm=n > 1)
            t.add(f"torch.nn.functional.conv2d ({ncpu} threads)", dt, n, med,
                  xs, rel_err(r.numpy(), ref[:n]), threads=ncpu,
                  default_threads=default)
    finally:
        torch.set_num_threads(default)


def workload(parconv, pool, ncpu, peers, name, size, count, ksize, args):
    rng = np.random.default_rng(42)
    m = rng.integers(0, 100, size).astype(np.float64)
    b = rng.integers(0, 100, (count,) + ksize).astype(np.float64)
    m32, b32 = m.astype(np.float32), b.astype(np.float32)
    t = Table(f"{name}: {count} kernels of {ksize[0]}x{ksize[1]} on a "
              f"{size[0]}x{size[1]} matrix, mode full, integers in [0,100) "
              "from numpy's default_rng(42)")
    runs = args.runs

    # parconv first: its float64 result is everyone's reference, checked
    # against scipy on the kernels the scipy loop computes.
    plan = parconv.Plan(size, b)
    med, xs, ref = timed(lambda: parconv.convolve(m, b), runs)
    ns = min(args.scipy_kernels, count)
    t0 = time.perf_counter()
    sref = np.stack([scipy.signal.convolve2d(m, k, "full") for k in b[:ns]])
    s_sec = time.perf_counter() - t0
    t.add(f"parconv.convolve ({plan.threads} threads, {plan.method})", "f64",
          count, med, xs, rel_err(ref[:ns], sref), base=True,
          threads=plan.threads, method=plan.method)
    out = np.empty_like(ref)
    med, xs, r = timed(lambda: plan.execute(m, out=out), runs)
    t.add("parconv.Plan.execute(matrix, out=)", "f64", count, med, xs,
          rel_err(r, ref))
    del out, r
    p32 = parconv.Plan(size, b32)
    med, xs, r = timed(lambda: parconv.convolve(m32, b32), runs)
    t.add(f"parconv.convolve ({p32.threads} threads, {p32.method})", "f32",
          count, med, xs, rel_err(r, ref), base=True, method=p32.method)
    del r

    t.add("scipy.signal.convolve2d, a Python loop (one core)", "f64", ns,
          s_sec, [s_sec], rel_err(sref, ref[:ns]))
    del sref

    def fft_pool():
        return np.stack(pool.starmap(scipy.signal.fftconvolve,
                                     [(m, k, "full") for k in b]))

    med, xs, r = timed(fft_pool, runs)
    t.add(f"scipy.signal.fftconvolve, multiprocessing.Pool({ncpu})", "f64",
          count, med, xs, rel_err(r, ref), workers=ncpu)
    del r

    for key, fn, extra in (("opencv", opencv_rows, ()),
                           ("torch", torch_rows, (args.budget, ncpu))):
        mod = peers.get(key)
        if isinstance(mod, str):
            t.skip(key, mod)
            continue
        try:
            fn(t, mod, m, b, ref, runs, *extra)
        except Exception as e:  # reported; the rest still runs
            t.skip(key, f"{type(e).__name__}: {e}")
    return {"size": list(size), "count": count, "ksize": list(ksize),
            "mode": "full", "inputs": "integers in [0,100), "
            "numpy.random.default_rng(42): matrix, then bank",
            "rows": t.rows}


def import_peers():
    """OpenCV and torch modules, or why not (a string)."""
    peers = {}
    for key, name in (("opencv", "cv2"), ("torch", "torch")):
        try:
            peers[key] = __import__(name)
        except ImportError as e:
            peers[key] = f"cannot import {name}: {e}"
    return peers


def size_arg(s):
    try:
        r, c = (int(x) for x in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not RxC")
    if r < 1 or c < 1:
        raise argparse.ArgumentTypeError(f"'{s}' is not RxC")
    return r, c


def positive(s):
    v = int(s)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{s} is not positive")
    return v


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results",
                                                  "python.json"))
    ap.add_argument("--runs", type=positive, default=3,
                    help="timed runs per measurement, median taken [3]")
    ap.add_argument("--size", type=size_arg, default=(1000, 1000),
                    help="the matrix [1000x1000]")
    ap.add_argument("--count", type=positive, default=100,
                    help="10x10 kernels [100]")
    ap.add_argument("--count64", type=positive, default=16,
                    help="64x64 kernels [16]")
    ap.add_argument("--scipy-kernels", type=positive, default=3,
                    help="kernels the convolve2d loop computes [3]")
    ap.add_argument("--budget", type=float, default=20,
                    help="seconds a torch run may take: it computes as "
                    "many kernels as fit, by a first call on one [20]")
    ap.add_argument("--quick", action="store_true",
                    help="a check that it all runs: 300x300, 20 and 4 "
                    "kernels, 1 run, 1 scipy kernel, budget 2 s")
    ap.add_argument("--no-install", action="store_true",
                    help="install and build nothing; use build/python")
    args = ap.parse_args()
    if args.quick:
        args.size, args.count, args.count64 = (300, 300), 20, 4
        args.runs, args.scipy_kernels, args.budget = 1, 1, 2

    parconv = setup(not args.no_install)
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    ncpu, load_start, started, pc_version = benchlib.start(
        os.path.join(ROOT, "build", "tools", "parconv"))
    # The pool forks now, before any OpenCV, torch or OpenMP thread exists.
    pool = multiprocessing.Pool(ncpu)
    pool.starmap(scipy.signal.fftconvolve, [(np.ones((4, 4)), np.ones((2, 2)))])
    peers = import_peers()
    result = benchlib.result_head("parconv bench/python_bench.py", ncpu,
                                  load_start, pc_version)
    result["software"].update({
        "parconv_module": parconv.__version__,
        "opencv": getattr(peers["opencv"], "__version__", None),
        "torch": getattr(peers["torch"], "__version__", None)})
    result["settings"] = {"runs": args.runs, "scipy_kernels":
                          args.scipy_kernels, "torch_budget_seconds":
                          args.budget, "quick": args.quick}
    result["notes"] = [
        "ms_per_kernel: median seconds of the runs (after one warm-up; the "
        "scipy loop runs once) * 1000 / kernels computed",
        "over_parconv: the row's ms_per_kernel over parconv.convolve's in "
        "the same dtype",
        "max_rel_err: max|row - parconv f64| / max|parconv f64| (parconv's "
        "own rows: against scipy.signal.convolve2d)",
        "the fftconvolve pool is started before the timings",
        "torch: as many kernels as fit in the budget (settings), by a "
        "first call on one kernel",
        "timings on a shared machine are noisy; nothing is asserted"]
    result["workloads"] = {}
    try:
        for name, count, ksize in (("default", args.count, (10, 10)),
                                   ("k64", args.count64, (64, 64))):
            result["workloads"][name] = workload(
                parconv, pool, ncpu, peers, name, args.size, count, ksize,
                args)
    finally:
        pool.close()
        pool.join()
    result["machine"]["loadavg_end"] = os.getloadavg()
    result["seconds"] = time.time() - started
    benchlib.write_json(out, result)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
