#!/usr/bin/python3
"""The Python half of bench/bench_fft.sh: times scipy's FFT convolutions
over a process pool on the inputs parconv used, checks parconv's -o outputs
against scipy's results, gathers the medians of parconv's JSON reports,
prints a table with the ratios and writes everything as JSON.

Peers, on the .npy files `parconv gen` wrote (f64, mode 'full'):

* scipy.signal.fftconvolve(matrix, k, 'full') and
  scipy.signal.oaconvolve(matrix, k, 'full') over a multiprocessing.Pool of
  all cores: pool.starmap(f, [(matrix, k, 'full') for k in bank[:N]]), the
  way a Python user spreads a bank over the cores. One pool per peer; its
  start-up (the Pool() constructor) and a warm-up map over one kernel per
  worker are timed apart; each timed map includes sending the matrix and
  each kernel to the workers and the results back (that is what a pool
  costs). scipy is slow here, so the maps get only the first N kernels and
  are reported per kernel.
* The same two functions one call at a time on one core, on the kernels
  used for the verification (they are its references).

Verification, on the first few kernels: parconv's -o files of --method fft
and --method direct against fftconvolve's and oaconvolve's results
(numpy.allclose, rtol 1e-9, atol 1e-9 * max|result|), and everyone against
the exact result (the inputs are integers, so the exact convolution is an
integer array: fftconvolve's result rounded, which oaconvolve's rounded must
equal; parconv's direct sum is exact in f64 and must equal it bit for bit).

It reports timings; it never asserts them.
"""

import argparse
import json
import multiprocessing
import os
import time

import numpy as np
import scipy
import scipy.signal

from benchlib import STRATEGIES, median
import benchlib

RTOL = 1e-9
TARGETS = {"fftconvolve_pool": 5.0, "parconv_direct_omp": 10.0}


# ---------------------------------------------------------------- parconv --

def parconv_summary(directory, prefix):
    """Medians over the reports DIR/PREFIX-N.json, per strategy."""
    reports = benchlib.load_reports(
        directory, prefix, f"bench_fft_peers: no parconv reports {prefix}-*.json in {directory}")
    strategies, methods = benchlib.strategy_medians(reports)
    return {
        "runs": len(reports),
        "kernels": reports[0]["workload"]["count"],
        "methods": sorted(m for m in methods if m),
        "workload": reports[0]["workload"],
        "environment": reports[0]["environment"],
        "fft": reports[0].get("fft"),
        "model": reports[0].get("model"),
        **benchlib.report_checks(reports),
        "strategies": strategies,
    }


# ------------------------------------------------------------------ scipy --

def scipy_pool(fn, matrix, bank, nkernels, runs, ncpu, refs):
    """pool.starmap(fn, [(matrix, k, 'full') ...]) on one pool, warmed up."""
    ks = bank[:nkernels]
    args = [(matrix, k, "full") for k in ks]
    t0 = time.perf_counter()
    pool = multiprocessing.Pool(ncpu)
    t1 = time.perf_counter()
    mapping, same_as_serial = [], True
    try:
        pool.starmap(fn, args[:ncpu])  # warm-up: imports, FFT plan caches
        t2 = time.perf_counter()
        for _ in range(runs):
            t = time.perf_counter()
            results = pool.starmap(fn, args)
            mapping.append(time.perf_counter() - t)
            for i, ref in refs.items():
                if i < len(results):
                    same_as_serial &= bool(np.array_equal(results[i], ref))
            del results
    finally:
        pool.close()
        pool.join()
    med = median(mapping)
    return {
        "what": f"multiprocessing.Pool({ncpu}).starmap(scipy.signal.{fn.__name__}, "
                f"[(matrix, k, 'full') for k in bank[:{nkernels}]])",
        "workers": ncpu,
        "start_method": multiprocessing.get_start_method(),
        "kernels": nkernels,
        "runs": runs,
        "startup_seconds": t1 - t0,
        "warmup_seconds": t2 - t1,
        "map_seconds": mapping,
        "median_map_seconds": med,
        "ms_per_kernel": med * 1000 / nkernels,
        "result_equals_one_core_call": same_as_serial,
    }


# ----------------------------------------------------------- verification --

def verify(matrix, vbank, fft_dir, direct_dir):
    """scipy's references (timed, one core) and the checks of parconv's -o
    outputs; returns (references per function, timings, checks)."""
    refs = {"fftconvolve": {}, "oaconvolve": {}}
    times = {"fftconvolve": [], "oaconvolve": []}
    checks = []
    for i in range(vbank.shape[0]):
        for name in ("fftconvolve", "oaconvolve"):
            fn = getattr(scipy.signal, name)
            t = time.perf_counter()
            refs[name][i] = fn(matrix, vbank[i], "full")
            times[name].append(time.perf_counter() - t)
        ref_fft, ref_oa = refs["fftconvolve"][i], refs["oaconvolve"][i]
        exact = np.rint(ref_fft)
        scale = float(np.abs(exact).max()) or 1.0
        c = {"kernel": i, "shape": list(ref_fft.shape),
             "scipy_fft_and_oa_round_alike": bool(np.array_equal(np.rint(ref_oa), exact)),
             "scipy_rel_err_vs_exact": {
                 "fftconvolve": float(np.abs(ref_fft - exact).max() / scale),
                 "oaconvolve": float(np.abs(ref_oa - exact).max() / scale)}}
        ok = c["scipy_fft_and_oa_round_alike"]
        for method, directory in (("fft", fft_dir), ("direct", direct_dir)):
            path = os.path.join(directory, f"conv_{i:05d}.npy")
            try:
                out = np.load(path)
            except OSError as e:
                c[method] = {"file": path, "error": str(e), "ok": False}
                ok = False
                continue
            same_shape = out.shape == ref_fft.shape
            d = {"file": os.path.basename(path), "dtype": str(out.dtype),
                 "shape_ok": same_shape}
            if same_shape:
                d["allclose_fftconvolve"] = bool(np.allclose(out, ref_fft, rtol=RTOL,
                                                             atol=RTOL * scale))
                d["allclose_oaconvolve"] = bool(np.allclose(out, ref_oa, rtol=RTOL,
                                                            atol=RTOL * scale))
                d["rel_err_vs_fftconvolve"] = float(np.abs(out - ref_fft).max() / scale)
                d["rel_err_vs_exact"] = float(np.abs(out - exact).max() / scale)
                d["equals_exact"] = bool(np.array_equal(out, exact))
                d["ok"] = d["allclose_fftconvolve"] and d["allclose_oaconvolve"] and (
                    method != "direct" or d["equals_exact"])
            else:
                d["ok"] = False
            ok &= d["ok"]
            c[method] = d
        c["ok"] = ok
        checks.append(c)
    return refs, times, checks


# ------------------------------------------------------------------ table --

def x(num, den):
    return num / den if num and den else None


def fmt_x(v):
    return f"{v:.1f}x" if v else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True, help="directory with matrix.npy and bank.npy")
    ap.add_argument("--direct-inputs", required=True,
                    help="directory with the direct run's bank.npy (the first kernels)")
    ap.add_argument("--verify-inputs", required=True,
                    help="directory with the verification bank.npy (the first kernels)")
    ap.add_argument("--verify-fft", required=True, help="parconv --method fft -o directory")
    ap.add_argument("--verify-direct", required=True, help="parconv --method direct -o directory")
    ap.add_argument("--parconv", required=True,
                    help="directory of parconv JSON reports fft-N.json and direct-N.json")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--direct-runs", type=int, default=2)
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--scipy-kernels", type=int, default=40)
    ap.add_argument("--parconv-bin", default="build/tools/parconv")
    args = ap.parse_args()

    ncpu, load_start, started, pc_version = benchlib.start(args.parconv_bin)

    matrix = np.load(os.path.join(args.inputs, "matrix.npy"))
    bank = np.load(os.path.join(args.inputs, "bank.npy"))
    dbank = np.load(os.path.join(args.direct_inputs, "bank.npy"))
    vbank = np.load(os.path.join(args.verify_inputs, "bank.npy"))
    count = bank.shape[0]
    prefixes_ok = {
        "direct_bank_is_first_kernels": bool(np.array_equal(dbank, bank[:dbank.shape[0]])),
        "verify_bank_is_first_kernels": bool(np.array_equal(vbank, bank[:vbank.shape[0]])),
    }

    fft = parconv_summary(args.parconv, "fft")
    direct = parconv_summary(args.parconv, "direct")

    # References and checks first (one core), then the pools.
    refs, ref_times, checks = verify(matrix, vbank, args.verify_fft, args.verify_direct)
    verified = all(c["ok"] for c in checks) and all(prefixes_ok.values())
    nk = min(args.scipy_kernels, count)
    peers = {}
    for name in ("fftconvolve", "oaconvolve"):
        peers[f"{name}_serial"] = {
            "what": f"scipy.signal.{name}(matrix, k, 'full'), one call at a time (one core)",
            "workers": 1, "kernels": len(ref_times[name]),
            "seconds_each": ref_times[name],
            "ms_per_kernel": median(ref_times[name]) * 1000,
            "note": "median over single kernels (the verification references)"}
        try:
            peers[f"{name}_pool"] = scipy_pool(getattr(scipy.signal, name), matrix, bank,
                                               nk, args.peer_runs, ncpu, refs[name])
        except Exception as e:  # report, do not abort the benchmark
            peers[f"{name}_pool"] = {"error": f"{type(e).__name__}: {e}"}

    st = fft["strategies"]
    omp_ms = st.get("omp", {}).get("ms_per_kernel")
    ser_ms = st.get("serial", {}).get("ms_per_kernel")
    dir_ms = direct["strategies"].get("omp", {}).get("ms_per_kernel")

    def peer_ms(name):
        return peers.get(name, {}).get("ms_per_kernel")

    ratios = {
        "fftconvolve_pool_over_parconv_fft_omp": x(peer_ms("fftconvolve_pool"), omp_ms),
        "oaconvolve_pool_over_parconv_fft_omp": x(peer_ms("oaconvolve_pool"), omp_ms),
        "parconv_direct_omp_over_parconv_fft_omp": x(dir_ms, omp_ms),
        "fftconvolve_serial_over_parconv_fft_serial": x(peer_ms("fftconvolve_serial"), ser_ms),
        "oaconvolve_serial_over_parconv_fft_serial": x(peer_ms("oaconvolve_serial"), ser_ms),
    }
    targets = {
        "parconv fft omp >= 5x faster per kernel than fftconvolve over a pool": {
            "target": TARGETS["fftconvolve_pool"],
            "measured": ratios["fftconvolve_pool_over_parconv_fft_omp"],
            "met": (ratios["fftconvolve_pool_over_parconv_fft_omp"] or 0)
            >= TARGETS["fftconvolve_pool"]},
        "parconv fft omp >= 10x faster per kernel than parconv direct omp": {
            "target": TARGETS["parconv_direct_omp"],
            "measured": ratios["parconv_direct_omp_over_parconv_fft_omp"],
            "met": (ratios["parconv_direct_omp_over_parconv_fft_omp"] or 0)
            >= TARGETS["parconv_direct_omp"]},
    }

    # ---- the table
    w = fft["workload"]
    print()
    print(f"=== {w['count']} kernels of {w['krows']}x{w['kcols']} on a {w['rows']}x{w['cols']} "
          f"matrix, {w['dtype']}, mode {w['mode']} -> {w['out_rows']}x{w['out_cols']} "
          f"per kernel, {ncpu} CPUs ===")
    f = fft.get("fft") or {}
    tiling = (f" ({f['P']}x{f['Q']} transforms, tiles of {f['tile_rows']}x{f['tile_cols']}"
              f" outputs, FFTW {f.get('effort')})" if f.get("P") else "")
    print(f"parconv --method fft{tiling}, median of {fft['runs']} runs "
          f"(set-up {fft['setup_seconds_median']:.3f} s not included; "
          + ("all runs' strategies bit-identical)" if fft["verified_all"]
             else "MISMATCH: " + "; ".join(fft["mismatches"]) + ")"))
    print(f"  {'strategy':<9} {'workers':>7} {'kernels':>7} {'ms/kernel':>10} {'total s':>9} "
          f"{'start-up s':>10} {'vs serial':>9}")
    for s in STRATEGIES:
        if s not in st:
            continue
        m = st[s]["median"]
        print(f"  {s:<9} {st[s]['workers']:>7} {fft['kernels']:>7} {st[s]['ms_per_kernel']:>10.3f} "
              f"{m['seconds']:>9.4f} {m['startup_seconds']:>10.4f} "
              f"{fmt_x(x(ser_ms, st[s]['ms_per_kernel'])):>9}")
    d = direct["strategies"].get("omp")
    if d:
        m = d["median"]
        pct = f", {m['pct_peak']:.0f}% of the FMA ceiling" if m.get("pct_peak") else ""
        print(f"parconv --method direct -S omp, the first {direct['kernels']} kernels only "
              f"(direct is slow at 64x64), median of {direct['runs']} runs")
        print(f"  {'omp':<9} {d['workers']:>7} {direct['kernels']:>7} {d['ms_per_kernel']:>10.3f} "
              f"{m['seconds']:>9.4f} {m['startup_seconds']:>10.4f}   "
              f"({m['gflops']:.0f} GFLOP/s{pct})")
    print(f"scipy {scipy.__version__} on the same inputs (\"fft omp Nx\": parconv fft omp is "
          f"N times faster per kernel; \"fft serial Nx\": parconv fft serial, for one-core peers)")
    print(f"  {'peer':<52} {'workers':>7} {'kernels':>7} {'ms/kernel':>10} "
          f"{'fft omp Nx':>10} {'fft serial Nx':>13}")
    for name, label in (("fftconvolve_pool", f"fftconvolve, Pool({ncpu}).starmap (map only)"),
                        ("oaconvolve_pool", f"oaconvolve, Pool({ncpu}).starmap (map only)"),
                        ("fftconvolve_serial", "fftconvolve, one call at a time (one core)"),
                        ("oaconvolve_serial", "oaconvolve, one call at a time (one core)")):
        p = peers[name]
        if "error" in p:
            print(f"  {label:<52} not measured: {p['error']}")
            continue
        one = p["workers"] == 1
        print(f"  {label:<52} {p['workers']:>7} {p['kernels']:>7} {p['ms_per_kernel']:>10.2f} "
              f"{fmt_x(x(p['ms_per_kernel'], omp_ms)):>10} "
              f"{fmt_x(x(p['ms_per_kernel'], ser_ms)) if one else '-':>13}")
    if d:
        print(f"  {'parconv --method direct -S omp':<52} {d['workers']:>7} {direct['kernels']:>7} "
              f"{d['ms_per_kernel']:>10.2f} {fmt_x(x(d['ms_per_kernel'], omp_ms)):>10} {'-':>13}")
    pools = [peers[n] for n in ("fftconvolve_pool", "oaconvolve_pool") if "error" not in peers[n]]
    if pools:
        print(f"  pools: ms/kernel from the first {nk} of {count} kernels (scipy is slow), median "
              f"of {args.peer_runs} maps on a warmed-up pool (start-up "
              + ", ".join(f"{p['startup_seconds']:.3f} s" for p in pools)
              + " not included); a map includes pickling the matrix and kernels out and the "
              "results back")
    print("ratios, per kernel (how many times faster parconv --method fft -S omp is):")
    for label, key, tgt in (
            ("vs scipy fftconvolve over a pool", "fftconvolve_pool_over_parconv_fft_omp",
             TARGETS["fftconvolve_pool"]),
            ("vs scipy oaconvolve over a pool", "oaconvolve_pool_over_parconv_fft_omp", None),
            ("vs parconv --method direct -S omp", "parconv_direct_omp_over_parconv_fft_omp",
             TARGETS["parconv_direct_omp"])):
        v = ratios[key]
        note = (f"   (target >= {tgt:g}x: {'met' if v and v >= tgt else 'NOT met'})"
                if tgt else "")
        print(f"  {label:<36} {fmt_x(v):>7}{note}")
    print(f"  one core: parconv fft serial vs fftconvolve "
          f"{fmt_x(ratios['fftconvolve_serial_over_parconv_fft_serial'])}, vs oaconvolve "
          f"{fmt_x(ratios['oaconvolve_serial_over_parconv_fft_serial'])}")
    if verified:
        e_fft = max(c["fft"]["rel_err_vs_exact"] for c in checks)
        e_sp = max(c["scipy_rel_err_vs_exact"]["fftconvolve"] for c in checks)
        print(f"verified on kernels {[c['kernel'] for c in checks]}: parconv -o outputs "
              f"(fft and direct) allclose to scipy fftconvolve and oaconvolve (rtol {RTOL:g}, "
              f"atol {RTOL:g} * max); max error / max vs the exact integer result: parconv fft "
              f"{e_fft:.1e}, scipy fftconvolve {e_sp:.1e}, parconv direct exact")
    else:
        print("NOT VERIFIED: " + json.dumps({"inputs": prefixes_ok,
                                             "checks": [c for c in checks if not c["ok"]]}))

    result = benchlib.result_head("parconv bench/bench_fft.sh", ncpu, load_start, pc_version)
    result["machine"]["loadavg_end"] = os.getloadavg()
    result.update({
        "settings": {"parconv_fft_runs": args.runs, "parconv_direct_runs": args.direct_runs,
                     "parconv_direct_kernels": direct["kernels"], "peer_runs": args.peer_runs,
                     "scipy_kernels": nk, "verify_kernels": int(vbank.shape[0]),
                     "rtol": RTOL},
        "notes": [
            "ms_per_kernel (parconv) = median compute_seconds (first worker's start to last worker's end) * 1000 / "
            "kernels; medians are taken per field over the runs",
            f"parconv --method direct timed on the first {direct['kernels']} kernels only "
            "(same seed, fewer kernels: the same first kernels, checked)",
            f"scipy pools timed on the first {nk} kernels only, per kernel; one warmed-up "
            "pool per peer, its start-up and warm-up timed apart; a map includes pickling",
            "ratios X_over_Y = X ms/kernel / Y ms/kernel (above 1: Y is faster)",
            "verification: parconv -o outputs of the first kernels vs scipy fftconvolve "
            "and oaconvolve (allclose rtol 1e-9, atol 1e-9 * max|result|) and vs the exact "
            "integer result",
            "timings on a shared machine are noisy; nothing is asserted",
        ],
        "workload": w,
        "parconv_fft": fft,
        "parconv_direct": direct,
        "peers": peers,
        "ratios": ratios,
        "targets": targets,
        "verified": verified,
        "verification": {"inputs": prefixes_ok, "checks": checks},
        "peer_seconds": time.time() - started,
    })
    benchlib.write_json(args.out, result)
    print(f"\nwrote {args.out}  (load average {load_start[0]:.2f} at the start of the peers, "
          f"{result['machine']['loadavg_end'][0]:.2f} at the end: numbers are noisy when "
          "others share the machine)")


if __name__ == "__main__":
    main()
