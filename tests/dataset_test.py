#!/usr/bin/python3
"""Datasets: a stack of matrices per run (3-D .npy stacks, several -m,
--matrices N), N x K planes, in every output format.

Each case runs for every format of FORMATS; a format whose run says it is
"not built" is skipped. The planes are checked against
scipy.signal.convolve2d (integer inputs, so the sums are exact in f64 and
f32 and the direct method must match bit for bit), shards of a dataset
merged must equal a single run, a run interrupted between batches and
resumed must equal an uninterrupted one, byte for byte (compressed hdf5:
the values and /checksums), and the compute-once default (-o without -S:
omp alone) is checked. dataset_io_test.py uses its helpers.

Run by meson as dataset_test.py PARCONV_PATH SCRATCH_DIR; pctest prints a
line per case and the totals.
"""
import json
import os
import signal
import sys
import time

import numpy as np
import scipy.signal

try:
    import h5py
except ImportError:
    h5py = None

import pctest
from pctest import Skip, case, expect, ok_run, refused, run, run_json

FORMATS = ["npy", "stack", "hdf5"]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
FILL = 2.0
# Small, quick runs: omp on two threads, no report; FILL outside.
QUICK = ["-S", "omp", "-t", "2", "-q", "--fillvalue", str(FILL)]


def scratch(*parts):
    return os.path.join(pctest.SCRATCH, *parts)


def ints(rs, shape, hi=10):
    """Small integers as float64: sums stay exact in f32 too."""
    return rs.integers(0, hi, shape).astype(np.float64)


def save(d, name, a, fortran=False):
    p = os.path.join(d, name)
    np.save(p, np.asfortranarray(a) if fortran else a)
    return p


def formatted(args, fmt):
    """parconv args with --format fmt; a format that is not built skips
    the case."""
    r = run(args + ["--format", fmt])
    if r.returncode == 2 and "not built" in r.stderr:
        raise Skip(f"--format {fmt} is not built")
    expect(r.returncode == 0, f"parconv {' '.join(args)} --format {fmt}: "
           f"exit {r.returncode}, stderr {r.stderr.strip()!r}")
    return r


def load_planes(d, fmt, N, K):
    """The planes DIR holds, as an (N, K, R', C') array."""
    if fmt == "npy":
        name = ("conv_{n:05d}_{k:05d}.npy" if N > 1 else "conv_{k:05d}.npy")
        return np.stack([np.stack([np.load(os.path.join(d, name.format(n=n,
                                                                       k=k)))
                                   for k in range(K)]) for n in range(N)])
    if fmt == "stack":
        a = np.load(os.path.join(d, "conv.npy"), mmap_mode="r")
        want = 4 if N > 1 else 3
        expect(a.ndim == want, f"conv.npy has {a.ndim} dimensions, not {want}")
        return np.array(a).reshape((N, K) + a.shape[-2:])
    need_h5py()
    with h5py.File(os.path.join(d, "conv.h5"), "r") as f:
        return f["conv"][()]


def need_h5py():
    if h5py is None:
        raise Skip("no h5py")


def manifest_sums(m, N, K):
    """The manifest's plane checksums (hex) as an (N, K) uint64 array (0
    for a plane it does not list)."""
    sums = np.zeros((N, K), np.uint64)
    for e in m.get("planes") or m["kernels"]:
        n, k = e.get("matrix", 0), e.get("kernel", e.get("index"))
        sums[n, k] = np.uint64(int(e["checksum"], 16))
    return sums


def h5_contents(d):
    """conv.h5 in d: (/conv's values, /checksums, /conv's attributes, the
    dataset's filters (compression, its level, shuffle), its chunks)."""
    need_h5py()
    with h5py.File(os.path.join(d, "conv.h5"), "r") as f:
        c = f["conv"]
        return (c[()], f["checksums"][()], dict(c.attrs),
                (c.compression, c.compression_opts, c.shuffle), c.chunks)


def check_h5_metadata(d, N, K):
    """/checksums is (N, K) uint64 and the manifest's checksums, the
    manifest attribute is manifest.json's JSON, chunks are a plane;
    returns h5_contents()."""
    got = h5_contents(d)
    conv, sums, attrs = got[:3]
    m = pctest.manifest(d)
    expect(sums.shape == (N, K) and sums.dtype == np.uint64,
           f"/checksums is {sums.shape} {sums.dtype}")
    expect(np.array_equal(sums, manifest_sums(m, N, K)),
           "/checksums differs from the manifest's checksums")
    expect(json.loads(attrs["manifest"]) == m,
           "/conv.attrs['manifest'] is not manifest.json")
    expect(got[4] == (1, 1) + conv.shape[2:],
           f"chunks {got[4]}, not a plane ({conv.shape})")
    return got


def expected(mats, bank, mode, boundary, dtype):
    return np.stack([np.stack([scipy.signal.convolve2d(
        m, k, mode=mode, boundary=boundary, fillvalue=FILL).astype(dtype)
        for k in bank]) for m in mats])


def check(d, fmt, mats, bank, mode="full", boundary="fill", dtype=np.float64,
          what=""):
    N, K = len(mats), len(bank)
    got = load_planes(d, fmt, N, K)
    want = expected(mats, bank, mode, boundary, dtype)
    expect(got.shape == want.shape, f"{what}: shape {got.shape}, scipy "
           f"{want.shape}")
    expect(got.dtype == want.dtype, f"{what}: dtype {got.dtype}")
    bad = np.argwhere(got != want)
    expect(len(bad) == 0, f"{what}: {len(bad)} values differ from scipy, "
           f"first at {tuple(bad[0]) if len(bad) else None}")
    m = pctest.manifest(d)
    expect(m["complete"] is True, f"{what}: manifest not complete")
    key = "planes" if N > 1 else "kernels"
    expect(len(m[key]) == N * K, f"{what}: the manifest lists "
           f"{len(m[key])} of {N * K} planes")
    expect(m["format"]["name"] == fmt and m["format"]["partial"] is None,
           f"{what}: manifest format {m['format']}")


# ---------------------------------------------------------------------------
# scipy cross-checks

def t_stack(fmt):
    """A 3-D stack (4 matrices), every mode and boundary, f64 and f32."""
    d = pctest.fresh(f"stack_in_{fmt}", make=True)
    rs = np.random.default_rng(1)
    mats, bank = ints(rs, (4, 13, 11)), ints(rs, (3, 4, 3))
    m, b = save(d, "m.npy", mats), save(d, "b.npy", bank)
    for dt, npdt in (("f64", np.float64), ("f32", np.float32)):
        for mode in MODES:
            for bnd in BOUNDARIES:
                out = os.path.join(d, f"o_{dt}_{mode}_{bnd}")
                formatted(["-m", m, "-b", b, "-o", out, "--mode", mode,
                           "--boundary", bnd, "--dtype", dt, "--method",
                           "direct"] + QUICK, fmt)
                check(out, fmt, mats, bank, mode, bnd, npdt,
                      f"{dt} {mode}/{bnd}")


def t_several(fmt):
    """-m four times: a 2-D matrix, a C-ordered and a Fortran-ordered 3-D
    stack, a 2-D int16 one: 7 matrices, numbered in that order."""
    d = pctest.fresh(f"several_{fmt}", make=True)
    rs = np.random.default_rng(2)
    a, s, f = ints(rs, (9, 12)), ints(rs, (3, 9, 12)), ints(rs, (2, 9, 12))
    i16 = ints(rs, (9, 12))
    bank = ints(rs, (2, 3, 5))
    args = ["-m", save(d, "a.npy", a), "-m", save(d, "s.npy", s),
            "-m", save(d, "f.npy", f, fortran=True),
            "-m", save(d, "i.npy", i16.astype(np.int16)),
            "-b", save(d, "b.npy", bank)]
    mats = [a] + list(s) + list(f) + [i16]
    for mode in MODES:
        out = os.path.join(d, f"o_{mode}")
        formatted(args + ["-o", out, "--mode", mode, "--boundary", "symm"] +
                  QUICK, fmt)
        check(out, fmt, mats, bank, mode, "symm", what=mode)


def t_generated(fmt):
    """--matrices 3 draws matrix 0, 1, 2 then the kernels: what `gen
    --matrices 3` writes ((3, R, C) and the bank); -m of those gives the
    same planes (for npy the same files)."""
    d = pctest.fresh(f"gen_{fmt}", make=True)
    w = ["-n", "10x9", "-k", "4", "-s", "3x2"]
    ok_run(["gen", "--matrices", "3", "-o", os.path.join(d, "in"), "-q"] + w)
    mats = np.load(os.path.join(d, "in", "matrix.npy"))
    bank = np.load(os.path.join(d, "in", "bank.npy"))
    expect(mats.shape == (3, 10, 9) and bank.shape == (4, 3, 2),
           f"gen wrote {mats.shape} and {bank.shape}")
    one = pctest.fresh(f"gen1_{fmt}")
    ok_run(["gen", "-o", one, "-q"] + w)
    expect(np.array_equal(np.load(os.path.join(one, "matrix.npy")), mats[0]),
           "matrix 0 of --matrices 3 is not the one matrix of --matrices 1")
    gen_out, file_out = os.path.join(d, "g"), os.path.join(d, "f")
    formatted(["--matrices", "3", "-o", gen_out] + w + QUICK, fmt)
    check(gen_out, fmt, mats, bank, what="--matrices 3")
    formatted(["-m", os.path.join(d, "in", "matrix.npy"), "-b",
               os.path.join(d, "in", "bank.npy"), "-o", file_out] + QUICK, fmt)
    expect(np.array_equal(load_planes(gen_out, fmt, 3, 4),
                          load_planes(file_out, fmt, 3, 4)),
           "-m of gen's files differs from --matrices 3")
    if fmt == "npy":
        for n in os.listdir(gen_out):
            if n != "manifest.json":
                expect(open(os.path.join(gen_out, n), "rb").read() ==
                       open(os.path.join(file_out, n), "rb").read(),
                       f"{n} differs")


def t_fft(fmt):
    """--method fft on a stack: the spectra follow each matrix."""
    d = pctest.fresh(f"fft_{fmt}", make=True)
    rs = np.random.default_rng(3)
    mats, bank = ints(rs, (3, 40, 37)), ints(rs, (5, 9, 9))
    out = os.path.join(d, "o")
    formatted(["-m", save(d, "m.npy", mats), "-b", save(d, "b.npy", bank),
               "-o", out, "--method", "fft", "--mode", "same"] + QUICK, fmt)
    got = load_planes(out, fmt, 3, 5)
    want = expected(mats, bank, "same", "fill", np.float64)
    err = np.abs(got - want).max() / np.abs(want).max()
    expect(err <= pctest.FFT_TOL["f64"], f"fft: relative error {err:.3g}")


# ---------------------------------------------------------------------------
# shards, interruption

def same_result(d, ref, fmt, N, K):
    """d holds ref's result: for npy the same files; for the others the
    same planes and manifest, and no shard's file or manifest left; for
    hdf5 also the same /checksums (the manifest's) and filters. Byte for
    byte but for compressed hdf5, whose chunks lie in the order they were
    written."""
    if fmt == "npy":
        pctest.same_files(d, ref)
        return
    expect(np.array_equal(load_planes(d, fmt, N, K),
                          load_planes(ref, fmt, N, K)), "planes differ")
    with open(os.path.join(d, "manifest.json")) as a, \
            open(os.path.join(ref, "manifest.json")) as b:
        expect(a.read() == b.read(), "manifest.json differs")
    left = sorted(set(os.listdir(d)) - set(os.listdir(ref)))
    expect(not left, f"files left beside the merged ones: {left}")
    if fmt == "hdf5":
        got, want = check_h5_metadata(d, N, K), h5_contents(ref)
        expect(np.array_equal(got[1], want[1]), "/checksums differ")
        expect(got[3] == want[3], f"filters {got[3]}, not {want[3]}")
    if fmt == "stack" or pctest.manifest(ref)["format"]["deflate"] is None:
        pctest.same_files(d, ref)


def t_shards(fmt, extra=()):
    """3 matrices x 4 kernels (12 planes) in 2, 3, 7 and 13 shards (more
    than planes: some have none): merged, the single run's result (extra:
    more options for every run)."""
    d = pctest.fresh(f"shards_{fmt}" + ("_more" if extra else ""), make=True)
    rs = np.random.default_rng(4)
    mats, bank = ints(rs, (3, 11, 8)), ints(rs, (4, 3, 3))
    args = ["-m", save(d, "m.npy", mats), "-b", save(d, "b.npy", bank)] + \
        QUICK + list(extra)
    ref = os.path.join(d, "ref")
    formatted(args + ["-o", ref], fmt)
    for n in (2, 3, 7, 13):
        out = os.path.join(d, f"s{n}")
        for i in range(n):
            formatted(args + ["-o", out, "--shard", f"{i}/{n}"], fmt)
        r = ok_run(["merge", out])
        expect(f"merged {n} shards: all 12 planes" in r.stdout,
               f"merge said {r.stdout!r}")
        same_result(out, ref, fmt, 3, 4)
        r = ok_run(["merge", out])
        expect("already merged: 12 planes verified" in r.stdout,
               f"merge again said {r.stdout!r}")


# Long enough to be interrupted between batches: 12 matrices of 200x200,
# 16 kernels of 120x120, valid (81x81 planes), direct; the slow
# calibration makes batches small.
RESUME_W = ["--matrices", "12", "-n", "200", "-s", "120", "-k", "16",
            "--mode", "valid", "--method", "direct", "-S", "omp", "-q"]


def wait_partial(p, d, total):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = pctest.manifest(d)
        if m and 0 < m.get("planes_done", 0) < total:
            return m
        if p.poll() is not None:
            _, err = p.communicate()
            if p.returncode == 2 and "not built" in err:
                raise Skip("not built")
            raise AssertionError(f"parconv ended (status {p.returncode}, "
                                 f"{err!r}) before a partial manifest")
        time.sleep(0.003)
    raise AssertionError("no partial manifest within 60 s")


def t_resume(fmt):
    """SIGTERM between batches, then --resume: the result of a run that
    was not interrupted, byte for byte."""
    cal = pctest.slow_calibration(pctest.SCRATCH)
    w = RESUME_W + ["--calibration", cal, "--format", fmt]
    d = pctest.fresh(f"resume_{fmt}")
    p = pctest.spawn(w + ["-o", d])
    wait_partial(p, d, 192)
    p.send_signal(signal.SIGTERM)
    rc, out, err = pctest.finish(p)
    expect(rc == 143, f"exit {rc} after SIGTERM, stderr {err!r}")
    expect("planes complete; rerun with --resume" in err, f"stderr {err!r}")
    m = pctest.manifest(d)
    expect(m["complete"] is False and 0 < m["planes_done"] < 192,
           f"manifest after SIGTERM: {m['planes_done']} planes")
    r = run(w + ["-o", d, "--resume"])
    expect(r.returncode == 0, f"--resume: exit {r.returncode}, {r.stderr!r}")
    ref = pctest.fresh(f"resume_ref_{fmt}")
    ok_run(w + ["-o", ref])
    same_result(d, ref, fmt, 12, 16)


# ---------------------------------------------------------------------------
# refusals, defaults

def t_refusals():
    """Shapes that differ (named), --matrices with -m, --compress without
    hdf5, --resume with another --format."""
    d = pctest.fresh("refuse", make=True)
    a = save(d, "a.npy", np.ones((5, 6)))
    s = save(d, "s.npy", np.ones((2, 5, 6)))
    odd = save(d, "odd.npy", np.ones((2, 5, 7)))
    refused(["-m", a, "-m", s, "-m", odd, "-m", a], [2],
            ["odd.npy", "5x7", "a.npy", "5x6"])
    refused(["-m", a, "--matrices", "3"], [2], ["--matrices", "-m"])
    refused(["-o", os.path.join(d, "o"), "--compress", "deflate"], [2],
            ["--compress", "hdf5"])
    refused(["--format", "tiff"], [2], ["--format", "npy, stack, hdf5"])
    refused(["-m", save(d, "four.npy", np.ones((2, 2, 3, 3)))], [2],
            ["four.npy"])
    out = os.path.join(d, "o")
    ok_run(["-m", s, "-k", "2", "-s", "3", "-o", out] + QUICK)
    refused(["-m", s, "-k", "2", "-s", "3", "-o", out, "--resume",
             "--format", "stack"] + QUICK, [2], ["--format npy", "stack"])
    refused(["-m", s, "-k", "2", "-s", "3", "-o", out, "--format", "hdf5"] +
            QUICK, [2], ["holds results of another workload",
                         "--format npy", "hdf5", "--force"])


def t_nan_in_one_matrix():
    """NaN in matrix 1 of 3: --method auto takes the direct sum for the
    whole stack (scipy's NaN pattern), --method fft is refused."""
    d = pctest.fresh("nan", make=True)
    rs = np.random.default_rng(5)
    mats, bank = ints(rs, (3, 12, 12)), ints(rs, (2, 9, 9))
    mats[1, 4, 4] = np.nan
    m, b = save(d, "m.npy", mats), save(d, "b.npy", bank)
    cal = pctest.fft_calibration(pctest.SCRATCH)
    j, _ = run_json(["-m", m, "-b", b, "-o", os.path.join(d, "o"),
                     "--calibration", cal] + QUICK)
    expect(j["workload"]["method"] == "direct",
           f"auto chose {j['workload']['method']}")
    got = load_planes(os.path.join(d, "o"), "npy", 3, 2)
    want = expected(mats, bank, "full", "fill", np.float64)
    expect(np.array_equal(np.isnan(got), np.isnan(want)) and
           np.array_equal(np.nan_to_num(got), np.nan_to_num(want)),
           "planes differ from scipy")
    refused(["-m", m, "-b", b, "--method", "fft"] + QUICK, [2], ["NaN"])


def t_compute_once():
    """-o without -S: omp alone, said in the report; -S gives the
    comparison back; without -o all four run."""
    d = pctest.fresh("once", make=True)
    w = ["-n", "30", "-k", "3", "-s", "3", "-t", "2", "-p", "2"]
    j, r = run_json(w + ["-o", os.path.join(d, "a")])
    expect([x["strategy"] for x in j["runs"]] == ["omp"] and
           j["compute_once"] is True, f"runs {j['runs']}")
    expect("omp only" in r.stderr and "-S serial,procs,threads,omp" in r.stderr,
           "the report does not say how to compare the strategies")
    j, _ = run_json(w + ["-o", os.path.join(d, "b"), "-S",
                         "serial,procs,threads,omp"])
    expect(len(j["runs"]) == 4 and j["verified"] is True,
           f"-S with -o: runs {[x['strategy'] for x in j['runs']]}")
    j, _ = run_json(w)
    expect(len(j["runs"]) == 4 and j["compute_once"] is False,
           f"without -o: runs {[x['strategy'] for x in j['runs']]}")
    pctest.same_files(os.path.join(d, "a"), os.path.join(d, "b"))


def t_sweep_inputs():
    """sweep threads and sweep ksize read -m (its first matrix) and
    sweep threads -b."""
    d = pctest.fresh("sweep", make=True)
    rs = np.random.default_rng(6)
    m = save(d, "m.npy", ints(rs, (2, 30, 20)))
    b = save(d, "b.npy", ints(rs, (3, 4, 4)))
    j, _ = run_json(["sweep", "threads", "-m", m, "-b", b, "--max", "1",
                     "--runs", "1", "-S", "omp", "-q"])
    expect((j["rows"], j["cols"], j["count"], j["krows"]) == (30, 20, 3, 4),
           f"sweep threads timed {j['rows']}x{j['cols']}, {j['count']} "
           f"kernels of {j['krows']}")
    j, _ = run_json(["sweep", "ksize", "-m", m, "--from", "3", "--to", "5",
                     "--runs", "1", "-k", "2", "-q"])
    expect((j["rows"], j["cols"]) == (30, 20), f"sweep ksize timed "
           f"{j['rows']}x{j['cols']}")


def main():
    pctest.arguments("usage: dataset_test.py PARCONV_PATH SCRATCH_DIR")
    for fmt in FORMATS:
        case(f"{fmt}: a 3-D stack, every mode/boundary, f64 and f32",
             t_stack, fmt)
        case(f"{fmt}: -m four times, 2-D and 3-D, C and Fortran order",
             t_several, fmt)
        case(f"{fmt}: --matrices 3 = gen --matrices 3", t_generated, fmt)
        case(f"{fmt}: --method fft on a stack", t_fft, fmt)
        case(f"{fmt}: shards 2, 3, 7, 13 merged = one run", t_shards, fmt)
        if fmt == "hdf5":
            case("hdf5 --compress deflate:4: shards 2, 3, 7, 13 merged = one "
                 "run (values, /checksums)", t_shards, fmt,
                 ["--compress", "deflate:4"])
        case(f"{fmt}: SIGTERM between batches, --resume = one run",
             t_resume, fmt)
    case("refusals: shapes, --matrices with -m, --compress, --format",
         t_refusals)
    case("NaN in one matrix of a stack", t_nan_in_one_matrix)
    case("compute once with -o, four strategies without", t_compute_once)
    case("sweeps read -m and -b", t_sweep_inputs)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
