#!/usr/bin/python3
"""The Python half of bench/bench.sh: times the peers a user would pick
instead of parconv on the same inputs, gathers the medians of parconv's JSON
reports, prints a table per dtype and writes everything as JSON.

Peers, for each dtype (f64, f32), all on the .npy files `parconv gen` wrote:

* scipy.signal.convolve2d(matrix, k, 'full') over a multiprocessing.Pool of
  all cores, as the Python original did:
  pool.starmap(convolve2d, [(matrix, k) for k in bank]). Pool start-up (the
  Pool() constructor) and the map are timed apart; scipy is slow, so the map
  gets only the first --scipy-kernels kernels and is reported per kernel.
  The verification references below also time scipy on one core.
* OpenCV cv2.filter2D made to compute the same full convolution: the matrix
  padded with kh-1 zero rows on top and kw-1 zero columns on the left
  (cv2.copyMakeBorder, BORDER_CONSTANT, once, untimed, like parconv's plan),
  each kernel flipped (cv2.flip(k, -1), untimed, like parconv's plan),
  anchor (0,0) and a constant zero border: the output is then
  (M+kh-1) x (N+kw-1) and equals convolve2d's 'full' result, which is
  checked on a few kernels. Timed with OpenCV's own threads, with one
  thread, and with one OpenCV thread per call in a ThreadPoolExecutor of
  all cores over the kernels (cv2 releases the GIL), which is how a user
  would spread a bank over the cores.
* torch.nn.functional.conv2d (Debian's python3-torch, oneDNN) with the bank
  as output channels, kernels flipped and padding (kh-1, kw-1)
  (benchlib.torch_full_conv), with as many threads as parconv's omp run
  used; as many kernels as fit in --torch-seconds per call. Its results
  on a few kernels are checked against parconv's own (computed here with
  the binary, -o) and scipy's: equal in f64 (integer inputs: every sum is
  exact), allclose in f32.

It reports timings; it never asserts them.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import scipy
import scipy.signal

from benchlib import STRATEGIES, median
import benchlib

DTYPES = ("f64", "f32")


# ---------------------------------------------------------------- parconv --

def parconv_summary(directory, dtype):
    reports = benchlib.load_reports(
        directory, dtype, f"bench_peers: no parconv reports for {dtype} in {directory}")
    strategies, _ = benchlib.strategy_medians(reports)
    ratios = {}
    omp = strategies.get("omp")
    for s in ("threads", "procs", "serial"):
        if omp and s in strategies:
            ratios[f"{s}/omp"] = (strategies[s]["median"]["compute_seconds"] /
                                  omp["median"]["compute_seconds"])
    return {
        "runs": len(reports),
        "workload": reports[0]["workload"],
        "environment": reports[0]["environment"],
        **benchlib.report_checks(reports),
        "strategies": strategies,
        "compute_ratios": ratios,
    }


# ------------------------------------------------------------------ scipy --

def scipy_pool(matrix, bank, nkernels, runs, ncpu, ref0):
    """pool.starmap(convolve2d, ...) as the original, fresh pool each run."""
    conv = scipy.signal.convolve2d
    ks = bank[:nkernels]
    startup, mapping, identical = [], [], True
    for _ in range(runs):
        t0 = time.perf_counter()
        pool = multiprocessing.Pool(ncpu)
        t1 = time.perf_counter()
        try:
            results = pool.starmap(conv, [(matrix, k, "full") for k in ks])
            t2 = time.perf_counter()
        finally:
            pool.close()
            pool.join()
        startup.append(t1 - t0)
        mapping.append(t2 - t1)
        identical &= bool(np.array_equal(results[0], ref0))
        del results
    med_map = median(mapping)
    return {
        "what": "multiprocessing.Pool(%d).starmap(scipy.signal.convolve2d, "
                "[(matrix, k, 'full') for k in bank[:%d]])" % (ncpu, nkernels),
        "workers": ncpu,
        "start_method": multiprocessing.get_start_method(),
        "kernels": nkernels,
        "runs": runs,
        "startup_seconds": startup,
        "map_seconds": mapping,
        "median_startup_seconds": median(startup),
        "median_map_seconds": med_map,
        "ms_per_kernel": med_map * 1000 / nkernels,
        "result_equals_serial_scipy": identical,
    }


# ----------------------------------------------------------------- OpenCV --

def opencv_peer(cv2, matrix, bank, refs, nkernels, runs, ncpu, rtol):
    kh, kw = bank.shape[1:]
    # Full convolution = filter2D (a correlation) of the matrix padded with
    # kh-1 / kw-1 zeros on top / left, with the flipped kernel, anchor (0,0),
    # and zeros past the bottom / right edge.
    padded = cv2.copyMakeBorder(matrix, kh - 1, 0, kw - 1, 0,
                                cv2.BORDER_CONSTANT, value=0)
    flipped = [np.ascontiguousarray(cv2.flip(k, -1)) for k in bank[:nkernels]]
    out_shape = padded.shape
    local = threading.local()

    def conv(kf, dst=None):
        if dst is None:
            dst = getattr(local, "dst", None)
            if dst is None:
                dst = local.dst = np.empty(out_shape, matrix.dtype)
        return cv2.filter2D(padded, -1, kf, dst=dst, anchor=(0, 0), delta=0,
                            borderType=cv2.BORDER_CONSTANT)

    default_threads = cv2.getNumThreads()

    # Verification against scipy's 'full' on a few kernels, with OpenCV's
    # threads and with one thread.
    checks = []
    for nt in (default_threads, 1):
        cv2.setNumThreads(nt)
        for i, ref in refs.items():
            kf = np.ascontiguousarray(cv2.flip(bank[i], -1))
            out = conv(kf, np.empty(out_shape, matrix.dtype))
            scale = float(np.abs(ref).max()) or 1.0
            ok = out.shape == ref.shape and bool(
                np.allclose(out, ref, rtol=rtol, atol=rtol * scale))
            err = float(np.abs(out.astype(np.float64) - ref).max() / scale) \
                if out.shape == ref.shape else None
            checks.append({"kernel": i, "opencv_threads": nt, "ok": ok,
                           "max_abs_err_over_max": err,
                           "bit_identical": bool(np.array_equal(out, ref)),
                           "integer_valued": bool(np.array_equal(out, np.round(out)))})
    verified = all(c["ok"] for c in checks)

    def timed(fn):
        xs = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            xs.append(time.perf_counter() - t)
        return xs

    def serial_loop():
        for kf in flipped:
            conv(kf)

    variants = {}
    cv2.setNumThreads(default_threads)
    conv(flipped[0])  # warm-up: thread pool, dst buffer
    variants["opencv_threads"] = {
        "what": f"cv2.filter2D per kernel, OpenCV's own threads ({default_threads})",
        "workers": default_threads, "seconds": timed(serial_loop)}
    cv2.setNumThreads(1)
    conv(flipped[0])
    variants["one_thread"] = {
        "what": "cv2.filter2D per kernel, cv2.setNumThreads(1)",
        "workers": 1, "seconds": timed(serial_loop)}
    with concurrent.futures.ThreadPoolExecutor(ncpu) as ex:
        list(ex.map(conv, flipped[:ncpu]))  # warm-up: threads, dst buffers
        variants["threadpool"] = {
            "what": f"cv2.setNumThreads(1), ThreadPoolExecutor({ncpu}).map("
                    "filter2D) over the kernels",
            "workers": ncpu,
            "seconds": timed(lambda: list(ex.map(conv, flipped)))}
    cv2.setNumThreads(default_threads)
    for v in variants.values():
        v["kernels"] = nkernels
        v["median_seconds"] = median(v["seconds"])
        v["ms_per_kernel"] = v["median_seconds"] * 1000 / nkernels
    return {
        "default_threads": default_threads,
        "verified": verified,
        "verification": checks,
        "rtol": rtol,
        # Integer inputs: a direct sum in f64 is exact, so non-integer
        # outputs mean OpenCV took its DFT path (it does for CV_64F kernels
        # of 50 taps or more; CV_32F switches later).
        "f64_dft_path_suspected": bool(matrix.dtype == np.float64 and
                                       not all(c["integer_valued"] for c in checks)),
        "variants": variants,
    }


# ------------------------------------------------------------------ torch --

def parconv_planes(parconv_bin, inputs, dtype, bank, idx):
    """parconv's results for kernels IDX of BANK on the matrix of INPUTS
    (a run of the binary with those kernels, -o), as an array."""
    with tempfile.TemporaryDirectory(prefix="parconv-peers-") as d:
        sub = os.path.join(d, "bank.npy")
        np.save(sub, bank[idx])
        subprocess.run([parconv_bin, "-m", os.path.join(inputs, dtype, "matrix.npy"),
                        "-b", sub, "--dtype", dtype, "-S", "serial", "-q",
                        "-o", os.path.join(d, "out")], check=True)
        return np.stack([np.load(os.path.join(d, "out", f"conv_{i:05d}.npy"))
                         for i in range(len(idx))])


def torch_peer(torch, matrix, bank, refs, pc_planes, dtype, runs, threads, budget):
    default = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        # Checked first, on the kernels of the references.
        idx = sorted(refs)
        got = benchlib.torch_full_conv(torch, matrix, bank[idx], dtype)(len(idx)).numpy()
        checks = []
        for j, i in enumerate(idx):
            scale = float(np.abs(refs[i]).max()) or 1.0
            row = {"kernel": i}
            for name, want in (("parconv", pc_planes[j]), ("scipy", refs[i])):
                same = got[j].shape == want.shape
                row[f"equal_{name}"] = same and bool(np.array_equal(got[j], want))
                row[f"allclose_{name}"] = same and bool(np.allclose(
                    got[j], want, rtol=1e-5, atol=1e-5 * scale))
                row[f"max_abs_err_over_max_{name}"] = float(
                    np.abs(got[j].astype(np.float64) - want).max() / scale) if same else None
            checks.append(row)
        # f64 on integer inputs: every sum is exact, so equal bit for bit.
        key = "equal_parconv" if dtype == "f64" else "allclose_parconv"
        verified = all(c[key] for c in checks)
        del got

        run = benchlib.torch_full_conv(torch, matrix, bank, dtype)
        n = benchlib.torch_kernels_within(run, len(bank), budget)
        xs = []
        for _ in range(runs):
            t = time.perf_counter()
            run(n)
            xs.append(time.perf_counter() - t)
        return {
            "what": f"torch.nn.functional.conv2d, {n} kernels as output channels, "
                    f"flipped, padding (kh-1, kw-1), torch.set_num_threads({threads})",
            "version": torch.__version__, "workers": threads,
            "default_threads": default, "kernels": n, "seconds": xs,
            "median_seconds": median(xs), "ms_per_kernel": median(xs) * 1000 / n,
            "verified": verified, "check": "equal" if dtype == "f64" else "allclose",
            "verification": checks,
        }
    finally:
        torch.set_num_threads(default)


# ------------------------------------------------------------------ table --

def fmt_x(peer_ms, ref_ms):
    if not peer_ms or not ref_ms:
        return "-"
    return f"{peer_ms / ref_ms:.1f}x"


def print_table(dtype, pc, peers, args):
    w = pc["workload"]
    st = pc["strategies"]
    print()
    print(f"=== {dtype}: {w['count']} kernels of {w['krows']}x{w['kcols']} on a "
          f"{w['rows']}x{w['cols']} matrix, mode {w['mode']}, isa {w['isa']} ===")
    print(f"parconv, median of {pc['runs']} runs "
          f"(set-up {pc['setup_seconds_median']:.4f} s, shared by all strategies, not included; "
          f"{'all runs verified bit-identical' if pc['verified_all'] else 'MISMATCH: ' + '; '.join(pc['mismatches'])})")
    print(f"  {'strategy':<9} {'workers':>7} {'ms/kernel':>10} {'total s':>9} "
          f"{'start-up s':>10} {'GFLOP/s':>8} {'% FMA peak':>10}")
    for s in STRATEGIES:
        if s not in st:
            continue
        m = st[s]["median"]
        print(f"  {s:<9} {st[s]['workers']:>7} {st[s]['ms_per_kernel']:>10.3f} "
              f"{m['seconds']:>9.4f} {m['startup_seconds']:>10.4f} "
              f"{m['gflops']:>8.1f} {m['pct_peak']:>9.1f}%")
    r = pc["compute_ratios"]
    print("  ms/kernel = median compute_seconds (first worker's start to last worker's end) * 1000 / "
          f"{w['count']}; GFLOP/s and % of the FMA ceiling over the same time")
    if r:
        print("  compute time ratios (above 1: omp is faster): " + ", ".join(
            f"{k} {v:.2f}x" for k, v in r.items() if k != "serial/omp"))

    omp_ms = st.get("omp", {}).get("ms_per_kernel")
    ser_ms = st.get("serial", {}).get("ms_per_kernel")
    print(f"peers on the same inputs, median of {args.peer_runs} runs "
          f"(\"omp Nx\": parconv omp is N times faster; \"serial Nx\", for "
          f"one-core peers: parconv serial is N times faster)")
    print(f"  {'peer':<58} {'workers':>7} {'kernels':>7} {'ms/kernel':>10} "
          f"{'omp Nx':>8} {'serial Nx':>9}")

    def row(name, workers, kernels, ms):
        # The per-core comparison only for peers on one core.
        print(f"  {name:<58} {workers:>7} {kernels:>7} {ms:>10.2f} "
              f"{fmt_x(ms, omp_ms):>8} {fmt_x(ms, ser_ms) if workers == 1 else '-':>9}")

    sp = peers.get("scipy_pool")
    if sp and "error" not in sp:
        row(f"scipy convolve2d, Pool({sp['workers']}).starmap (map only)",
            sp["workers"], sp["kernels"], sp["ms_per_kernel"])
    ss = peers.get("scipy_serial")
    if ss and "error" not in ss:
        row("scipy convolve2d, one call at a time (one core)", 1,
            ss["kernels"], ss["ms_per_kernel"])
    cv = peers.get("opencv")
    if cv and "error" not in cv:
        v = cv["variants"]
        row(f"cv2.filter2D, OpenCV's threads ({cv['default_threads']})",
            v["opencv_threads"]["workers"], v["opencv_threads"]["kernels"],
            v["opencv_threads"]["ms_per_kernel"])
        row("cv2.filter2D, setNumThreads(1) (one core)", 1,
            v["one_thread"]["kernels"], v["one_thread"]["ms_per_kernel"])
        row(f"cv2.filter2D, setNumThreads(1) x ThreadPool({v['threadpool']['workers']}) over kernels",
            v["threadpool"]["workers"], v["threadpool"]["kernels"],
            v["threadpool"]["ms_per_kernel"])
    tp = peers.get("torch")
    if tp and "error" not in tp:
        row(f"torch conv2d, bank as output channels ({tp['workers']} threads)",
            tp["workers"], tp["kernels"], tp["ms_per_kernel"])
    if sp and "error" not in sp:
        est = sp["median_startup_seconds"] + sp["ms_per_kernel"] * w["count"] / 1000
        procs = (f" (parconv procs: {st['procs']['median']['seconds']:.3f} s in all)"
                 if "procs" in st else "")
        print(f"  scipy: ms/kernel from the first {sp['kernels']} kernels only (scipy is slow); "
              f"Pool({sp['workers']}) start-up {sp['median_startup_seconds']:.4f} s, not in "
              f"ms/kernel; start-up + map scaled to {w['count']} kernels ~ {est:.1f} s{procs}")
    if cv and "error" not in cv:
        note = ("verified: OpenCV output equals scipy.signal.convolve2d(matrix, kernel, 'full') "
                f"(allclose, rtol {cv['rtol']:g}) for kernels "
                f"{sorted({c['kernel'] for c in cv['verification']})} with "
                f"{cv['default_threads']} and 1 OpenCV threads"
                if cv["verified"] else "NOT VERIFIED: OpenCV output differs from scipy's: "
                + json.dumps([c for c in cv["verification"] if not c["ok"]]))
        print(f"  opencv: {note}")
        if cv["f64_dft_path_suspected"]:
            print("  opencv: f64 results are not exact integers: OpenCV took its DFT "
                  "path for CV_64F (not a direct sum)")
    if tp and "error" not in tp:
        bad = [c for c in tp["verification"]
               if not c["equal_parconv" if tp["check"] == "equal" else "allclose_parconv"]]
        print(f"  torch {tp['version']}: " + (
            f"verified: results {tp['check']} to parconv's (and scipy's) for kernels "
            f"{[c['kernel'] for c in tp['verification']]}"
            if tp["verified"] else "NOT VERIFIED: differs from parconv's: " + json.dumps(bad)))
    for name in ("scipy_pool", "scipy_serial", "opencv", "torch"):
        if name in peers and "error" in peers[name]:
            print(f"  {name}: not measured: {peers[name]['error']}")


# ------------------------------------------------------------------- main --

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True,
                    help="directory with f64/ and f32/ from parconv gen")
    ap.add_argument("--parconv", required=True,
                    help="directory of parconv JSON reports DTYPE-N.json")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--scipy-kernels", type=int, default=20)
    ap.add_argument("--cv-kernels", type=int, default=100)
    ap.add_argument("--torch-seconds", type=float, default=10.0,
                    help="seconds one torch call may take (it gets as many "
                    "kernels as fit)")
    ap.add_argument("--parconv-bin", default="build/tools/parconv")
    args = ap.parse_args()

    ncpu, load_start, started, pc_version = benchlib.start(args.parconv_bin)

    result = {
        **benchlib.result_head("parconv bench/bench.sh", ncpu, load_start, pc_version),
        "settings": {"parconv_runs": args.runs, "peer_runs": args.peer_runs,
                     "scipy_kernels": args.scipy_kernels, "cv_kernels": args.cv_kernels,
                     "torch_seconds": args.torch_seconds},
        "notes": [
            "parconv ms_per_kernel = median compute_seconds * 1000 / count; "
            "medians are taken per field over the runs",
            "peers read the same .npy files (parconv gen) as parconv",
            f"scipy pool timed on the first {args.scipy_kernels} kernels only, "
            "per kernel; the pool's start-up (Pool() constructor) is timed apart",
            "opencv: matrix padded with kh-1/kw-1 zeros on top/left and kernels "
            "flipped outside the timed region; filter2D with anchor (0,0) and "
            "BORDER_CONSTANT equals convolve2d 'full'; output buffers reused",
            "torch: conv2d with the bank as output channels, kernels flipped, "
            "padding (kh-1, kw-1), threads = parconv omp's workers; as many "
            "kernels as fit in torch_seconds per call; checked against "
            "parconv's results (equal in f64, allclose in f32)",
            "ratios peer/parconv = peer ms/kernel / parconv ms/kernel "
            "(omp for every peer, serial for the one-core comparison)",
            "timings on a shared machine are noisy; nothing is asserted",
        ],
        "dtypes": {},
    }

    # scipy first, for both dtypes: its process pools fork before OpenCV
    # (imported only afterwards) has started any thread.
    data = {}
    for dtype in DTYPES:
        matrix = np.load(os.path.join(args.inputs, dtype, "matrix.npy"))
        bank = np.load(os.path.join(args.inputs, dtype, "bank.npy"))
        count = bank.shape[0]
        peers = {}

        # scipy one call at a time: the references for the checks, timed.
        idx = sorted({0, 1, 2, count - 1} & set(range(count)))
        refs, times = {}, []
        for i in idx:
            t = time.perf_counter()
            refs[i] = scipy.signal.convolve2d(matrix, bank[i], "full")
            times.append(time.perf_counter() - t)
        peers["scipy_serial"] = {
            "what": "scipy.signal.convolve2d(matrix, k, 'full'), one call at a time",
            "workers": 1, "kernels": len(idx), "kernel_indices": idx,
            "seconds_each": times, "ms_per_kernel": median(times) * 1000,
            "note": "median over single kernels (the verification references)"}

        try:
            peers["scipy_pool"] = scipy_pool(matrix, bank, min(args.scipy_kernels, count),
                                             args.peer_runs, ncpu, refs[0])
        except Exception as e:  # report, do not abort the benchmark
            peers["scipy_pool"] = {"error": f"{type(e).__name__}: {e}"}
        data[dtype] = (matrix, bank, refs, peers)

    try:
        import cv2

        cv_info = {"version": cv2.__version__}
        for line in cv2.getBuildInformation().splitlines():
            if "Parallel framework" in line:
                cv_info["parallel_framework"] = line.split(":", 1)[1].strip()
        cv_error = None
    except ImportError as e:  # reported, the rest still runs
        cv2, cv_info, cv_error = None, None, f"cannot import cv2: {e}"

    result["software"]["opencv"] = cv_info
    try:
        import torch
        torch_error = None
    except ImportError as e:  # reported, the rest still runs
        torch, torch_error = None, f"cannot import torch: {e}"
    result["software"]["torch"] = getattr(torch, "__version__", None)

    for dtype in DTYPES:
        matrix, bank, refs, peers = data[dtype]
        count = bank.shape[0]
        pc = parconv_summary(args.parconv, dtype)
        if cv2 is None:
            peers["opencv"] = {"error": cv_error}
        else:
            try:
                peers["opencv"] = opencv_peer(
                    cv2, matrix, bank, refs, min(args.cv_kernels, count), args.peer_runs,
                    ncpu, 1e-9 if matrix.dtype == np.float64 else 1e-5)
            except Exception as e:
                peers["opencv"] = {"error": f"{type(e).__name__}: {e}"}
        if torch is None:
            peers["torch"] = {"error": torch_error}
        else:
            try:
                planes = parconv_planes(args.parconv_bin, args.inputs, dtype, bank,
                                        sorted(refs))
                threads = pc["strategies"].get("omp", {}).get("workers", ncpu)
                peers["torch"] = torch_peer(torch, matrix, bank, refs, planes, dtype,
                                            args.peer_runs, threads, args.torch_seconds)
            except Exception as e:
                peers["torch"] = {"error": f"{type(e).__name__}: {e}"}

        # peer / parconv ratios
        omp_ms = pc["strategies"].get("omp", {}).get("ms_per_kernel")
        ser_ms = pc["strategies"].get("serial", {}).get("ms_per_kernel")
        ratios = {}
        flat = {"scipy_pool": peers["scipy_pool"], "scipy_serial": peers["scipy_serial"],
                "torch": peers["torch"]}
        if "variants" in peers.get("opencv", {}):
            for k, v in peers["opencv"]["variants"].items():
                flat[f"opencv_{k}" if not k.startswith("opencv") else k] = v
        for name, p in flat.items():
            if "ms_per_kernel" in p and omp_ms:
                ratios[name] = {
                    "ms_per_kernel": p["ms_per_kernel"],
                    "peer_over_parconv_omp": p["ms_per_kernel"] / omp_ms,
                    "peer_over_parconv_serial": p["ms_per_kernel"] / ser_ms if ser_ms else None}
        result["dtypes"][dtype] = {"parconv": pc, "peers": peers, "peer_ratios": ratios}
        print_table(dtype, pc, peers, args)
        sys.stdout.flush()

    result["machine"]["loadavg_end"] = os.getloadavg()
    result["peer_seconds"] = time.time() - started
    benchlib.write_json(args.out, result)
    print(f"\nwrote {args.out}  (load average {load_start[0]:.2f} at start of the peers, "
          f"{result['machine']['loadavg_end'][0]:.2f} at the end: numbers are noisy "
          "when others share the machine)")


if __name__ == "__main__":
    main()
