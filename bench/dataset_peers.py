#!/usr/bin/python3
"""The Python half of bench/dataset.sh: makes the dataset, reads back the
planes parconv wrote in each format, times scipy over a process pool on the
same inputs, checks everyone against scipy.signal.convolve2d, prints the
table with the ratios and writes everything as JSON.

Subcommands (dataset.sh calls them in this order):

  inputs   the (N, 512, 512) float64 stack and the bank (the first K kernels
           of data/gabor.npy); with --split also one .npy per matrix (for
           the per-matrix fallback only).
  extract  after a format's last timed run: the check planes read back from
           its DIR (numpy.load for npy and stack, h5py for hdf5), with the
           DIR's size (du) and layout, into a small .npz, so that DIR can
           be removed before the next format writes its gigabytes.
  report   the peers, the checks, the table and the JSON.

Peers, on the planes (n, k) in order n, then k (matrix n with kernel k),
each over a multiprocessing.Pool of all usable cores
(len(os.sched_getaffinity(0))) whose initializer opens the stack (memory-
mapped) and the bank once per worker; a task is one plane, sent back to the
parent (pickled) and dropped there, as parconv without -o drops its planes:

* scipy.signal.convolve2d(matrix, k, 'same', boundary='symm');
* scipy.signal.fftconvolve, which has no boundary option: the matrix is
  padded symmetrically (numpy.pad mode 'symmetric', which repeats the edge
  as scipy's 'symm' does) by exactly what the 'same' window needs
  (kh-1-(kh-1)//2 rows on top, (kh-1)//2 at the bottom, the same for the
  columns), and fftconvolve(padded, k, 'valid') is then the 'same' window
  of the symmetric full convolution (the window of scipy's 'same' starts at
  (kh-1)//2): padding by kh-1 everywhere and cutting that window out gives
  the same numbers with a larger FFT. Each worker pads a matrix once for
  the consecutive planes of it that it is given.

scipy is slow, so each pool gets the first P planes only (whole matrices
when P is a multiple of K) and is reported in planes per second, which
scales with the planes. Pool start-up and a warm-up of one plane per worker
are timed apart; the median of the timed maps is reported.

Checks, on a few planes (the first and last kernel of matrix 0, the middle
kernel of matrix 1, the last plane): the reference is convolve2d on one
core in this process; the convolve2d pool's results must equal it exactly,
fftconvolve's within 1e-8 of max|reference|, and parconv's planes in every
format within rtol 1e-10 (atol 1e-10 * max|reference|) for f64.

It reports timings; it never asserts them.
"""

import argparse
import glob
import json
import multiprocessing
import os
import re
import sys
import time

import numpy as np
import scipy
import scipy.signal

from benchlib import median
import benchlib

SIZE = 512
SEED = 20241112
MODE, BOUNDARY = "same", "symm"
RTOL_PARCONV = 1e-10
RTOL_FFT = 1e-8
# Every parconv configuration dataset.sh times, in its order; the first is
# the base of the ratios.
CONFIGS = ("compute", "npy", "stack", "hdf5", "hdf5deflate")


def fail(msg, status=1):
    print(f"dataset_peers: {msg}", file=sys.stderr)
    sys.exit(status)


# ----------------------------------------------------------------- inputs --

def make_stack(nmat, image):
    """N float64 matrices from data/ascent.npy (scaled to [0, 1]), each
    turned by a multiple of 90 degrees, mirrored or not, shifted
    circularly and with Gaussian noise (sigma 0.05) added, from a fixed
    seed: smooth images, none equal to another, the same on every machine
    (numpy's PCG64 stream is stable across versions)."""
    rng = np.random.default_rng(SEED)
    base = image.astype(np.float64) / 255.0
    stack = np.empty((nmat, SIZE, SIZE), dtype=np.float64)
    for n in range(nmat):
        m = np.rot90(base, n % 4)
        if (n // 4) % 2:
            m = m[:, ::-1]
        m = np.roll(m, tuple(rng.integers(0, SIZE, size=2)), axis=(0, 1))
        stack[n] = m + rng.normal(0.0, 0.05, size=m.shape)
    return stack


def cmd_inputs(args):
    image = np.load(args.image)
    if image.shape != (SIZE, SIZE):
        fail(f"{args.image} is {image.shape}, not {SIZE}x{SIZE}")
    bank = np.load(args.bank)
    if args.kernels > bank.shape[0]:
        fail(f"{args.bank} has {bank.shape[0]} kernels, {args.kernels} asked for", 2)
    os.makedirs(args.out, exist_ok=True)
    stack = make_stack(args.matrices, image)
    np.save(os.path.join(args.out, "stack.npy"), stack)
    np.save(os.path.join(args.out, "bank.npy"), np.ascontiguousarray(bank[:args.kernels],
                                                                     dtype=np.float64))
    if args.split:
        os.makedirs(os.path.join(args.out, "m"), exist_ok=True)
        for n in range(args.matrices):
            np.save(os.path.join(args.out, "m", f"m{n:05d}.npy"), stack[n])


# ---------------------------------------------------------------- extract --

def check_planes(nmat, count):
    """The planes checked: (n, k) pairs, distinct, in order."""
    want = [(0, 0), (0, count - 1), (min(1, nmat - 1), count // 2), (nmat - 1, count - 1)]
    return sorted(set(want))


def du(directory):
    """(bytes allocated as du counts them, apparent bytes, regular files)
    under DIRECTORY."""
    alloc = apparent = files = 0
    for root, _, names in os.walk(directory):
        for name in names:
            st = os.lstat(os.path.join(root, name))
            alloc += st.st_blocks * 512
            apparent += st.st_size
            files += 1
    return alloc, apparent, files


def npy_planes(directory, nmat, count):
    """{(n, k): path} of the one-file-per-plane format. The names carry the
    plane's indices as numbers: two in the path (n, then k: the dataset
    format's conv_ names, or the per-matrix fallback's mNNNNN/conv_KKKKK)
    or one (a run of one matrix: k)."""
    planes = {}
    for path in glob.glob(os.path.join(directory, "**", "conv_*.npy"), recursive=True):
        nums = [int(x) for x in re.findall(r"\d+", os.path.relpath(path, directory))]
        if len(nums) == 1 and nmat == 1:
            key = (0, nums[0])
        elif len(nums) == 2:
            key = tuple(nums)
        else:
            fail(f"npy: cannot tell the plane of {path} (numbers {nums})")
        planes[key] = path
    return planes


def stored_index(a, nk):
    """The index of plane (n, k) in a stack or HDF5 dataset: (n, k) of its
    (N, K, R', C'), or k of the (K, R', C') a run of one matrix may write."""
    return nk[1] if a.ndim == 3 and nk[0] == 0 else nk


def cmd_extract(args):
    d = args.dir
    meta = {"format": args.format, "dir_contents": sorted(os.listdir(d))[:20]}
    meta["du_bytes"], meta["apparent_bytes"], meta["files"] = du(d)
    want = check_planes(args.matrices, args.kernels)
    planes = {}
    try:
        if args.format == "npy":
            paths = npy_planes(d, args.matrices, args.kernels)
            meta["plane_files"] = len(paths)
            meta["example_names"] = sorted(os.path.relpath(p, d) for p in paths.values())[:3]
            for p in want:
                if p in paths:
                    planes[p] = np.load(paths[p])
        elif args.format == "stack":
            path = os.path.join(d, "conv.npy")
            a = np.load(path, mmap_mode="r")
            meta.update(file="conv.npy", shape=list(a.shape), dtype=str(a.dtype))
            for p in want:
                planes[p] = np.array(a[stored_index(a, p)])
        elif args.format == "hdf5":
            import h5py
            path = os.path.join(d, "conv.h5")
            with h5py.File(path, "r") as f:
                ds = f["/conv"]
                meta.update(file="conv.h5", shape=list(ds.shape), dtype=str(ds.dtype),
                            chunks=list(ds.chunks) if ds.chunks else None,
                            compression=ds.compression, compression_opts=ds.compression_opts,
                            shuffle=bool(ds.shuffle), attributes=sorted(ds.attrs.keys()),
                            datasets=sorted(f.keys()))
                for p in want:
                    planes[p] = ds[stored_index(ds, p)]
        else:
            fail(f"unknown format {args.format}", 2)
    except (OSError, KeyError, IndexError, ValueError) as e:
        meta["error"] = f"{type(e).__name__}: {e}"
    arrays = {f"plane_{n}_{k}": v for (n, k), v in planes.items()}
    np.savez(args.out, meta=json.dumps(meta), **arrays)


def load_extract(path):
    """(meta, {(n, k): plane}) of an extract, or (None, {}) if there is none."""
    if not os.path.exists(path):
        return None, {}
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        planes = {}
        for name in z.files:
            if name.startswith("plane_"):
                n, k = (int(x) for x in name.split("_")[1:])
                planes[(n, k)] = z[name]
    return meta, planes


# ------------------------------------------------------------------ scipy --

_STACK = _BANK = None
_PADDED = (None, None)  # (n, its symmetric padding) of the last plane


def _worker_init(stack_path, bank_path):
    global _STACK, _BANK
    _STACK = np.load(stack_path, mmap_mode="r")
    _BANK = np.load(bank_path)


def symm_pad(matrix, kshape):
    """The matrix extended symmetrically by what the 'same' window of a
    kshape kernel reads (see the module's docstring)."""
    (kh, kw) = kshape
    sh, sw = (kh - 1) // 2, (kw - 1) // 2
    return np.pad(matrix, ((kh - 1 - sh, sh), (kw - 1 - sw, sw)), mode="symmetric")


def convolve2d_plane(nk):
    n, k = nk
    return scipy.signal.convolve2d(np.asarray(_STACK[n]), _BANK[k], mode=MODE,
                                   boundary=BOUNDARY)


def fftconvolve_plane(nk):
    global _PADDED
    n, k = nk
    if _PADDED[0] != n:
        _PADDED = (n, symm_pad(np.asarray(_STACK[n]), _BANK.shape[1:]))
    return scipy.signal.fftconvolve(_PADDED[1], _BANK[k], mode="valid")


def scipy_pool(fn, planes, runs, ncpu, stack_path, bank_path, keep):
    """Times pool.imap(fn, planes) on one warmed-up pool; the results of the
    planes in KEEP from the last map come back with the timings."""
    chunk = max(1, len(planes) // (4 * ncpu))
    t0 = time.perf_counter()
    pool = multiprocessing.Pool(ncpu, initializer=_worker_init,
                                initargs=(stack_path, bank_path))
    t1 = time.perf_counter()
    maps, kept = [], {}
    try:
        list(pool.imap(fn, planes[:ncpu], chunksize=1))  # warm-up: imports, page cache
        t2 = time.perf_counter()
        for _ in range(runs):
            kept = {}
            t = time.perf_counter()
            for nk, out in zip(planes, pool.imap(fn, planes, chunksize=chunk)):
                if nk in keep:
                    kept[nk] = out
            maps.append(time.perf_counter() - t)
    finally:
        pool.close()
        pool.join()
    med = median(maps)
    return {
        "what": f"multiprocessing.Pool({ncpu}).imap(scipy.signal.{fn.__name__.split('_')[0]} "
                f"of one plane, the first {len(planes)} planes, chunksize {chunk})",
        "workers": ncpu,
        "start_method": multiprocessing.get_start_method(),
        "planes": len(planes),
        "runs": runs,
        "startup_seconds": t1 - t0,
        "warmup_seconds": t2 - t1,
        "map_seconds": maps,
        "median_map_seconds": med,
        "planes_per_second": len(planes) / med,
    }, kept


# ---------------------------------------------------------------- parconv --

def read_times(path):
    """{config: [wall seconds of each run]} from dataset.sh's lines
    'CONFIG RUN START END STATUS' (bash's $EPOCHREALTIME)."""
    times = {}
    with open(path) as f:
        for line in f:
            cfg, _, t0, t1, status = line.split()
            if status != "0":
                fail(f"parconv run {cfg} exited with status {status}")
            t0, t1 = (float(x.replace(",", ".")) for x in (t0, t1))
            times.setdefault(cfg, []).append(t1 - t0)
    return times


def parconv_config(cfg, walls, reports_dir, planes, per_matrix):
    """The figures of one configuration: wall-time planes/s (median of the
    runs) and, from the JSON reports, the compute and write seconds."""
    med = median(walls)
    entry = {"runs": len(walls), "wall_seconds": walls, "median_wall_seconds": med,
             "planes_per_second": planes / med}
    if per_matrix:
        return entry
    reports = benchlib.load_reports(reports_dir, cfg,
                                    f"dataset_peers: no parconv reports {cfg}-*.json")
    strategies, methods = benchlib.strategy_medians(reports)
    omp = strategies.get("omp")
    if omp:
        cs = omp["median"]["compute_seconds"]
        entry.update(workers=omp["workers"], median_compute_seconds=cs,
                     compute_planes_per_second=planes / cs if cs else None)
    entry.update(methods=sorted(m for m in methods if m),
                 median_write_seconds=median([r.get("write_seconds") for r in reports]),
                 **benchlib.report_checks(reports))
    entry["workload"] = reports[0]["workload"]
    return entry


# ----------------------------------------------------------------- report --

def rel_err(a, ref):
    scale = float(np.abs(ref).max()) or 1.0
    return float(np.abs(a - ref).max() / scale)


def close(a, ref, rtol):
    scale = float(np.abs(ref).max()) or 1.0
    return a.shape == ref.shape and bool(np.allclose(a, ref, rtol=rtol, atol=rtol * scale))


def verify(refs, c2d_kept, fft_kept, extracts):
    """Every result of a check plane against convolve2d's on one core."""
    checks = []
    for nk, ref in refs.items():
        c = {"plane": list(nk)}
        if nk in c2d_kept:
            c["convolve2d_pool_equal"] = bool(np.array_equal(c2d_kept[nk], ref))
        if nk in fft_kept:
            c["fftconvolve_rel_err"] = rel_err(fft_kept[nk], ref)
            c["fftconvolve_ok"] = fft_kept[nk].shape == ref.shape and \
                c["fftconvolve_rel_err"] <= RTOL_FFT
        for cfg, (meta, planes) in extracts.items():
            if nk not in planes:
                c[cfg] = {"ok": False, "error": (meta or {}).get("error", "plane not found")}
                continue
            out = planes[nk]
            c[cfg] = {"dtype": str(out.dtype), "shape_ok": out.shape == ref.shape,
                      "ok": close(out, ref, RTOL_PARCONV)}
            if out.shape == ref.shape:
                c[cfg]["rel_err"] = rel_err(out, ref)
        c["ok"] = (c.get("convolve2d_pool_equal", True) and c.get("fftconvolve_ok", True)
                   and all(c[cfg]["ok"] for cfg in extracts))
        checks.append(c)
    return checks


def human(nbytes):
    if nbytes is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.2f} {unit}"
        nbytes /= 1024


def labels(compress, per_matrix):
    if per_matrix:
        return {"compute": "parconv per matrix, no -o",
                "npy": "parconv per matrix, -o (npy)"}
    return {"compute": "parconv -S omp, no -o (compute only)",
            "npy": "parconv -o --format npy",
            "stack": "parconv -o --format stack",
            "hdf5": "parconv -o --format hdf5",
            "hdf5deflate": f"parconv -o --format hdf5 --compress {compress}"}


def cmd_report(args):
    ncpu_online, load_start, started, pc_version = benchlib.start(args.parconv_bin)
    ncpu = len(os.sched_getaffinity(0))
    stack_path = os.path.join(args.inputs, "stack.npy")
    bank_path = os.path.join(args.inputs, "bank.npy")
    stack = np.load(stack_path, mmap_mode="r")
    bank = np.load(bank_path)
    nmat, count = stack.shape[0], bank.shape[0]
    total = nmat * count
    order = [(n, k) for n in range(nmat) for k in range(count)]
    want = check_planes(nmat, count)

    # parconv, from dataset.sh's timings, reports and extracts.
    times = read_times(os.path.join(args.parconv, "times.tsv"))
    configs = [c for c in CONFIGS if c in times]
    if "compute" not in configs:
        fail("no parconv compute-only runs in times.tsv")
    pc = {c: parconv_config(c, times[c], args.parconv, total, args.per_matrix)
          for c in configs}
    extracts = {}
    for c in configs:
        meta, planes = load_extract(os.path.join(args.parconv, f"extract-{c}.npz"))
        if meta is not None:
            pc[c]["output"] = meta
            extracts[c] = (meta, planes)

    # References on one core, then the pools.
    refs, ref_seconds = {}, []
    for n, k in want:
        t = time.perf_counter()
        refs[(n, k)] = scipy.signal.convolve2d(np.asarray(stack[n]), bank[k], mode=MODE,
                                               boundary=BOUNDARY)
        ref_seconds.append(time.perf_counter() - t)
    peers = {}
    kept = {}
    for name, fn, nplanes in (("convolve2d_pool", convolve2d_plane, args.convolve2d_planes),
                              ("fftconvolve_pool", fftconvolve_plane, args.fftconvolve_planes)):
        try:
            peers[name], kept[name] = scipy_pool(fn, order[:min(nplanes, total)],
                                                 args.peer_runs, ncpu, stack_path,
                                                 bank_path, set(want))
        except Exception as e:  # report, do not abort the benchmark
            peers[name], kept[name] = {"error": f"{type(e).__name__}: {e}"}, {}
    peers["convolve2d_serial"] = {
        "what": "scipy.signal.convolve2d of one plane, one core (the check references)",
        "workers": 1, "planes": len(ref_seconds), "runs": 1, "seconds_each": ref_seconds,
        "planes_per_second": 1 / median(ref_seconds)}

    checks = verify(refs, kept["convolve2d_pool"], kept["fftconvolve_pool"], extracts)
    checksums = {cs for c in configs for cs in pc[c].get("checksums", [])}
    same_checksum = len(checksums) <= 1
    verified = all(c["ok"] for c in checks) and same_checksum and all(
        pc[c].get("verified_all", True) for c in configs)

    base = pc["compute"]["planes_per_second"]
    ratios = {f"parconv_{c}": pc[c]["planes_per_second"] / base for c in configs}
    for name in ("convolve2d_pool", "fftconvolve_pool", "convolve2d_serial"):
        if "error" not in peers[name]:
            ratios[name] = peers[name]["planes_per_second"] / base

    # ---- the table
    lab = labels(args.compress, args.per_matrix)
    ks = bank.shape[1:]
    print()
    print(f"=== {nmat} matrices of {SIZE}x{SIZE} x {count} kernels of {ks[0]}x{ks[1]} = "
          f"{total} planes, f64, mode {MODE}, boundary {BOUNDARY}, {ncpu} usable CPUs ===")
    if args.per_matrix:
        print("PER-MATRIX FALLBACK (one parconv per matrix, for testing the script only; "
              "not the dataset benchmark)")
    print(f"wall times: parconv's whole process (reading, computing, writing to "
          f"{args.output_fs}, {args.output_fstype}), median of the runs; scipy's maps on "
          f"a warmed-up pool")
    rows = []  # (label, planes, runs, planes/s, compute planes/s, ratio, du)
    for c in configs:
        e = pc[c]
        cps = e.get("compute_planes_per_second")
        size = e.get("output", {}).get("du_bytes")
        rows.append((lab[c], str(total), e["runs"], f"{e['planes_per_second']:.1f}",
                     f"{cps:.1f}" if cps else "-", ratios[f"parconv_{c}"],
                     human(size) if c != "compute" else "-"))
    for name, label in (("convolve2d_pool", f"scipy convolve2d, Pool({ncpu})"),
                        ("fftconvolve_pool", f"scipy fftconvolve (symm pad), Pool({ncpu})"),
                        ("convolve2d_serial", "scipy convolve2d, one core")):
        p = peers[name]
        if "error" in p:
            rows.append((label, f"not measured: {p['error']}"))
            continue
        rows.append((label, f"{p['planes']} of {total}", p["runs"],
                     f"{p['planes_per_second']:.2f}", "-", ratios[name], "-"))
    wl = max(len(r[0]) for r in rows)
    print(f"  {'method':<{wl}} {'planes':>12} {'runs':>4} {'planes/s':>9} {'compute/s':>9} "
          f"{'/ parconv':>9} {'output du':>11}")
    for r in rows:
        if len(r) == 2:
            print(f"  {r[0]:<{wl}} {r[1]}")
            continue
        print(f"  {r[0]:<{wl}} {r[1]:>12} {r[2]:>4} {r[3]:>9} {r[4]:>9} {r[5]:>#9.3g} {r[6]:>11}")
    print("  planes/s: planes / median wall seconds; compute/s: planes / parconv's own compute "
          "seconds (its JSON report); / parconv: planes/s over parconv's without -o.")
    print(f"  scipy is slow: its pools get the first planes only (matrix-major), "
          f"median of {args.peer_runs} maps; planes/s scales.")
    print("ratios (how many times as fast parconv -S omp without -o is):")
    against = [(f"scipy {name.split('_')[0]} over the pool", 1 / ratios[name])
               for name in ("convolve2d_pool", "fftconvolve_pool") if name in ratios]
    against += [(f"itself with {lab[c][len('parconv '):]}", 1 / ratios[f"parconv_{c}"])
                for c in configs[1:]]
    wl = max(len(a[0]) for a in against)
    for label, v in against:
        print(f"  vs {label:<{wl}} {v:>8.2f}x")
    sizes = [(c, pc[c]["output"]) for c in configs if "output" in pc[c]]
    if sizes:
        raw = total * SIZE * SIZE * 8
        print(f"output sizes (raw planes: {human(raw)}):")
        for c, m in sizes:
            extra = ""
            if m.get("compression"):
                extra = f", {m['compression']} {m.get('compression_opts')}, " \
                        f"shuffle {m.get('shuffle')}"
            print(f"  {c:<12} du {human(m['du_bytes']):>11}  apparent "
                  f"{human(m['apparent_bytes']):>11}  {m['files']:>5} files  "
                  f"{m['du_bytes'] / raw:.3f} of raw{extra}")
    if verified:
        worst = max((c[cfg]["rel_err"] for c in checks for cfg in extracts), default=None)
        fft_worst = max((c["fftconvolve_rel_err"] for c in checks
                         if "fftconvolve_rel_err" in c), default=None)
        print(f"verified on planes {[tuple(c['plane']) for c in checks]} against scipy "
              f"convolve2d (one core): convolve2d pool equal, fftconvolve within "
              f"{fft_worst:.1e} (allowed {RTOL_FFT:g}), parconv "
              + ", ".join(extracts) + f" within {worst:.1e} of max (allowed rtol "
              f"{RTOL_PARCONV:g}); parconv checksums "
              + ("identical in every configuration" if checksums else "not reported"))
    else:
        print("NOT VERIFIED: " + json.dumps({
            "checks": [c for c in checks if not c["ok"]],
            "checksums": sorted(checksums),
            "mismatches": {c: pc[c].get("mismatches") for c in configs
                           if not pc[c].get("verified_all", True)}}))

    result = benchlib.result_head("parconv bench/dataset.sh", ncpu_online, load_start,
                                  pc_version)
    result["machine"].update(usable_cpus=ncpu, loadavg_end=os.getloadavg())
    result.update({
        "settings": {"parconv_runs": args.runs, "parconv_deflate_runs": args.deflate_runs,
                     "peer_runs": args.peer_runs,
                     "convolve2d_planes": peers["convolve2d_pool"].get("planes"),
                     "fftconvolve_planes": peers["fftconvolve_pool"].get("planes"),
                     "compress": args.compress, "per_matrix_fallback": args.per_matrix,
                     "outputs_on": args.output_fs, "outputs_fstype": args.output_fstype,
                     "rtol_parconv": RTOL_PARCONV, "rtol_fftconvolve": RTOL_FFT},
        "inputs": {"matrices": nmat, "rows": SIZE, "cols": SIZE, "dtype": "float64",
                   "kernels": count, "kernel_shape": list(ks), "planes": total,
                   "mode": MODE, "boundary": BOUNDARY,
                   "stack": f"data/ascent.npy / 255, turned by n*90 degrees, mirrored when "
                            f"(n//4) odd, rolled and noised (sigma 0.05) from "
                            f"numpy.random.default_rng({SEED})",
                   "bank": f"data/gabor.npy[:{count}]"},
        "notes": [
            "planes_per_second = planes / median wall seconds of the runs; parconv: the "
            "whole process (reading the stack, set-up, computing, writing and syncing the "
            "outputs); scipy: one map on a warmed-up pool, results pickled back and dropped",
            "compute_planes_per_second: planes / median of parconv's own compute_seconds",
            "ratios X = X planes/s / parconv compute-only planes/s (below 1: parconv "
            "without -o is faster)",
            "scipy pools timed on the first planes only (matrix-major order)",
            "fftconvolve: symmetric numpy.pad by what the 'same' window reads, then "
            "mode 'valid'; checked against convolve2d(..., 'same', boundary='symm')",
            "timings on a shared machine are noisy; nothing is asserted",
        ],
        "parconv": pc,
        "peers": peers,
        "ratios": ratios,
        "verified": verified,
        "verification": {"checks": checks, "checksums": sorted(checksums)},
        "peer_seconds": time.time() - started,
    })
    benchlib.write_json(args.out, result)
    print(f"\nwrote {args.out}  (load average {load_start[0]:.2f} at the start of the peers, "
          f"{result['machine']['loadavg_end'][0]:.2f} at the end: numbers are noisy when "
          "others share the machine)")
    return 0 if verified else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inputs", help="write the stack and the bank")
    p.add_argument("--matrices", type=int, required=True)
    p.add_argument("--kernels", type=int, required=True)
    p.add_argument("--image", default="data/ascent.npy")
    p.add_argument("--bank", default="data/gabor.npy")
    p.add_argument("--split", action="store_true", help="also one .npy per matrix in OUT/m")
    p.add_argument("--out", required=True, help="directory")
    p = sub.add_parser("extract", help="read the check planes back from a format's DIR")
    p.add_argument("--format", required=True, choices=("npy", "stack", "hdf5"))
    p.add_argument("--dir", required=True)
    p.add_argument("--matrices", type=int, required=True)
    p.add_argument("--kernels", type=int, required=True)
    p.add_argument("--out", required=True, help=".npz file")
    p = sub.add_parser("report", help="peers, checks, table and JSON")
    p.add_argument("--inputs", required=True, help="directory with stack.npy and bank.npy")
    p.add_argument("--parconv", required=True,
                   help="directory with times.tsv, CONFIG-N.json and extract-CONFIG.npz")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--deflate-runs", type=int, default=1)
    p.add_argument("--peer-runs", type=int, default=3)
    p.add_argument("--convolve2d-planes", type=int, default=48)
    p.add_argument("--fftconvolve-planes", type=int, default=768)
    p.add_argument("--compress", default="deflate")
    p.add_argument("--per-matrix", action="store_true")
    p.add_argument("--output-fs", default="?", help="where the outputs were written")
    p.add_argument("--output-fstype", default="?")
    p.add_argument("--parconv-bin", default="build/tools/parconv")
    args = ap.parse_args()
    return {"inputs": cmd_inputs, "extract": cmd_extract, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
