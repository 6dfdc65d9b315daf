#!/usr/bin/python3
"""The FFT method and what goes with it: --method fft on every strategy,
--method auto's choice and its cost model, --fft-plan, --wisdom, parconv
calibrate and --calibration, parconv sweep ksize, and FFT results against
the direct sum and scipy.signal.convolve2d.

Usage: fft_test.py PARCONV_PATH SCRATCH_DIR

Prints 'ok   name' or 'FAIL name: why' per case and 'N passed, M failed' at
the end; exits 1 if anything failed. Every parconv call has a timeout, and
runs with HOME in the scratch folder (and PARCONV_CALIBRATION,
XDG_CONFIG_HOME unset), so no calibration file of the host's is read or
written.
"""
import csv
import json
import os
import re
import shutil
import sys

import numpy as np
import scipy.signal

import pctest
from pctest import (FFT_TOL, case, expect, fresh, ok_run, refused,
                    run_json)

EXE = None
SCRATCH = None
HOME = None

STRATEGIES = ["serial", "procs", "threads", "omp"]


def env(**extra):
    base = {"HOME": HOME, "XDG_CONFIG_HOME": None,
            "PARCONV_CALIBRATION": None}
    base.update(extra)
    return pctest.clean_env(**base)


def best_isa():
    j, _ = run_json(["-n", "4", "-k", "1", "-s", "2", "-S", "serial", "-q",
                     "--method", "direct"])
    return j["workload"]["isa"]


def close_to(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b))


def check_fft_close(got, ref, dtype_name, what):
    """|got - ref| <= FFT_TOL * max|ref|, same shape and dtype."""
    expect(got.shape == ref.shape, f"{what}: shape {got.shape}, expected "
           f"{ref.shape}")
    want = np.float64 if dtype_name == "f64" else np.float32
    expect(got.dtype == want, f"{what}: dtype {got.dtype}, expected "
           f"{np.dtype(want)}")
    scale = float(np.max(np.abs(ref.astype(np.float64))))
    err = float(np.max(np.abs(got.astype(np.float64) -
                              ref.astype(np.float64))))
    expect(err <= FFT_TOL[dtype_name] * scale,
           f"{what}: max |error| {err:.3g} is more than "
           f"{FFT_TOL[dtype_name]} x max|ref| ({scale:.6g})")


# ---------------------------------------------------------------------------
# (a) --method fft on every strategy

def check_fft_json(j, dtype_name, krows, kcols, requested="fft"):
    w = j["workload"]
    expect(w["method"] == "fft" and w["method_requested"] == requested,
           f"workload method {w['method']!r}, requested "
           f"{w['method_requested']!r}")
    f = j.get("fft")
    expect(isinstance(f, dict), f"JSON fft is {f!r}, expected an object")
    for k in ("P", "Q", "tile_rows", "tile_cols", "tiles", "plan_seconds",
              "effort", "rel_error", "tolerance"):
        expect(k in f, f"JSON fft lacks {k!r}: {f}")
    expect(f["tolerance"] == FFT_TOL[dtype_name],
           f"fft tolerance {f['tolerance']}, expected {FFT_TOL[dtype_name]}")
    expect(0 <= f["rel_error"] <= f["tolerance"],
           f"fft rel_error {f['rel_error']} above tolerance {f['tolerance']}")
    P, Q, tr, tc = f["P"], f["Q"], f["tile_rows"], f["tile_cols"]
    expect(P >= krows and Q >= kcols, f"transform {P}x{Q} smaller than the "
           f"{krows}x{kcols} kernel")
    expect(tr == P - (krows - 1) and tc == Q - (kcols - 1),
           f"tiles of {tr}x{tc} outputs from {P}x{Q} transforms and "
           f"{krows}x{kcols} kernels (expected {P - krows + 1}x"
           f"{Q - kcols + 1})")
    nt = f["tiles"]
    expect(isinstance(nt, list) and len(nt) == 2 and min(nt) >= 1,
           f"tiles {nt!r}")
    orows, ocols = w["out_rows"], w["out_cols"]
    expect(nt[0] * tr >= orows and (nt[0] - 1) * tr < orows,
           f"{nt[0]} tile rows of {tr} for {orows} output rows")
    expect(nt[1] * tc >= ocols and (nt[1] - 1) * tc < ocols,
           f"{nt[1]} tile columns of {tc} for {ocols} output columns")
    expect(f["plan_seconds"] >= 0, f"plan_seconds {f['plan_seconds']}")
    return f


def t_fft_all_strategies(dtype_name, extra, shape, ksize, count):
    args = ["-n", shape, "-k", str(count), "-s", ksize, "--method", "fft",
            "--dtype", dtype_name, "--seed", "5", "--range", "-50:50"] + extra
    j, r = run_json(args)
    expect(j["verified"] is True and j["mismatch"] is None,
           f"verified {j['verified']}, mismatch {j['mismatch']!r}")
    expect([x["strategy"] for x in j["runs"]] == STRATEGIES,
           f"runs {[x['strategy'] for x in j['runs']]}")
    expect(all(x["method"] == "fft" for x in j["runs"]),
           f"run methods {[x['method'] for x in j['runs']]}")
    sums = {x["checksum"] for x in j["runs"]}
    expect(len(sums) == 1, f"checksums differ: {sums}")
    kr, kc = (int(v) for v in (ksize.split("x") * 2)[:2])
    f = check_fft_json(j, dtype_name, kr, kc)
    expect(f["effort"] == "estimate", f"default effort {f['effort']!r}")
    m = j["model"]
    expect(m["direct_seconds"] > 0 and m["fft_seconds"] > 0,
           f"model {m}")
    # The text report (on stderr with --json -) says the same.
    t = r.stderr
    expect(re.search(r"\bmethod fft\b", t), "text report lacks 'method fft'")
    mt = re.search(r"^  fft\s+(\d+)x(\d+) transforms, tiles of (\d+)x(\d+) "
                   r"outputs \((\d+)x(\d+) tiles\)", t, re.M)
    expect(mt, "text report lacks the 'fft ... transforms' line")
    expect([int(x) for x in mt.groups()] ==
           [f["P"], f["Q"], f["tile_rows"], f["tile_cols"]] + f["tiles"],
           f"text report's tiling {mt.groups()} differs from the JSON {f}")
    expect(re.search(r"fft vs direct on \d+ kernels?: relative error", t),
           "text report lacks the fft check line")
    expect(re.search(r"^(serial|procs|threads|omp)\s+fft\s", t, re.M),
           "summary table does not show method fft")


# ---------------------------------------------------------------------------
# (b) --method auto

def t_auto_choice():
    out = {}
    for k in (3, 41):
        j, r = run_json(["-n", "300", "-k", "4", "-s", str(k), "-S",
                         "serial"])
        w, m = j["workload"], j["model"]
        expect(w["method_requested"] == "auto",
               f"{k}x{k}: method_requested {w['method_requested']!r} (auto "
               f"is the default)")
        expect(m["constants"] == "built-in",
               f"{k}x{k}: constants {m['constants']!r} with no calibration "
               f"file")
        expect(j["verified"] is True, f"{k}x{k}: not verified")
        out[k] = (j, r)
    j3, r3 = out[3]
    j41, r41 = out[41]
    w, m = j3["workload"], j3["model"]
    expect(w["method"] == "direct", f"3x3 kernels on 300x300: auto chose "
           f"{w['method']!r}, expected direct")
    expect(m["direct_seconds"] <= m["fft_seconds"],
           f"3x3: auto chose direct but the model says {m}")
    expect(j3["fft"] is None, f"direct run has fft {j3['fft']!r}")
    expect(j3["runs"][0]["method"] == "direct", "3x3 run method")
    expect("direct is cheaper" in r3.stderr,
           "3x3: text report does not say 'direct is cheaper'")
    w, m = j41["workload"], j41["model"]
    expect(w["method"] == "fft", f"41x41 kernels on 300x300: auto chose "
           f"{w['method']!r}, expected fft")
    expect(m["fft_seconds"] < m["direct_seconds"],
           f"41x41: auto chose fft but the model says {m}")
    check_fft_json(j41, "f64", 41, 41, requested="auto")
    expect(j41["runs"][0]["method"] == "fft", "41x41 run method")
    expect("fft is cheaper" in r41.stderr,
           "41x41: text report does not say 'fft is cheaper'")
    # direct ~ outputs x taps, with one constant for both runs.
    want = (340 * 340 * 41 * 41) / (302 * 302 * 3 * 3)
    got = j41["model"]["direct_seconds"] / j3["model"]["direct_seconds"]
    expect(close_to(got, want, 1e-4), f"direct estimates' ratio {got:.6g}, "
           f"expected outputs x taps ratio {want:.6g}")


def t_auto_method_given_is_kept():
    """--method direct on a workload auto would do by FFT, and --method fft
    on one it would do directly: the JSON names the method asked for."""
    j, _ = run_json(["-n", "300", "-k", "2", "-s", "41", "-S", "serial",
                     "--method", "direct"])
    w = j["workload"]
    expect((w["method"], w["method_requested"]) == ("direct", "direct"),
           f"--method direct: {w['method']}, {w['method_requested']}")
    expect(j["fft"] is None, f"direct run has fft {j['fft']!r}")
    j, _ = run_json(["-n", "300", "-k", "2", "-s", "3", "-S", "serial",
                     "--method", "fft"])
    check_fft_json(j, "f64", 3, 3)


def t_auto_nan_direct():
    """NaN in the matrix with kernels that auto would do by FFT: auto
    computes directly, as scipy does, and says why."""
    d = fresh("auto_nan", make=True)
    rs = np.random.RandomState(3)
    m = rs.normal(size=(200, 190)) * 10
    m[50, 60] = np.nan
    m[120, 7] = np.inf
    b = rs.normal(size=(1, 41, 41))
    mp, bp = os.path.join(d, "m.npy"), os.path.join(d, "b.npy")
    np.save(mp, m)
    np.save(bp, b)
    # The same shapes without NaN: auto takes the FFT.
    clean = os.path.join(d, "clean.npy")
    np.save(clean, np.nan_to_num(m, nan=0.0, posinf=0.0))
    j, _ = run_json(["-m", clean, "-b", bp, "-S", "serial", "--mode", "same",
                     "-q"])
    expect(j["workload"]["method"] == "fft", "test premise: auto should "
           f"take the FFT here without NaN, took {j['workload']['method']}")
    out = os.path.join(d, "out")
    j, r = run_json(["-m", mp, "-b", bp, "-S", "serial", "--mode", "same",
                     "-o", out])
    expect(j["workload"]["method"] == "direct", f"auto with NaN chose "
           f"{j['workload']['method']!r}")
    expect("NaN or Inf" in r.stderr, "text report does not say auto went "
           "direct because of NaN or Inf")
    got = np.load(os.path.join(out, "conv_00000.npy"))
    ref = scipy.signal.convolve2d(m, b[0], "same")
    expect(np.array_equal(np.isnan(got), np.isnan(ref)),
           "NaN positions differ from scipy's")
    expect(np.allclose(got, ref, rtol=1e-12, equal_nan=True,
                       atol=1e-12 * np.nanmax(np.abs(ref[np.isfinite(ref)]))),
           "values differ from scipy's")
    # And --method fft is refused on them, as on a NaN fill value.
    refused(["-m", mp, "-b", bp, "-S", "serial", "--method", "fft"], (2,),
            ["NaN"])
    refused(["-n", "30", "-k", "2", "-s", "5", "--fillvalue", "nan",
             "--method", "fft", "-S", "serial"], (2,), ["NaN"])


# ---------------------------------------------------------------------------
# (c) --fft-plan measure

def t_fft_plan_measure():
    args = ["-n", "120x100", "-k", "9", "-s", "11", "--method", "fft",
            "--fft-plan", "measure", "-S", "serial,procs,threads"]
    j, r = run_json(args)
    f = check_fft_json(j, "f64", 11, 11)
    expect(f["effort"] == "measure", f"effort {f['effort']!r}")
    expect(j["verified"] is True, "not verified")
    expect(len({x["checksum"] for x in j["runs"]}) == 1,
           "checksums differ between strategies")
    expect("FFTW measure planning" in r.stderr,
           "text report does not say 'FFTW measure planning'")
    j, _ = run_json(["-n", "120x100", "-k", "9", "-s", "11", "--method",
                     "fft", "--fft-plan", "estimate", "-S", "serial"])
    expect(j["fft"]["effort"] == "estimate",
           f"--fft-plan estimate: effort {j['fft']['effort']!r}")


# ---------------------------------------------------------------------------
# (d) --wisdom FILE

WARGS = ["-n", "100x90", "-k", "3", "-s", "9", "--method", "fft", "-S",
         "serial,procs"]


def read_bytes(p):
    with open(p, "rb") as f:
        return f.read()


def t_wisdom_create_and_reuse():
    d = fresh("wisdom", make=True)
    w64 = os.path.join(d, "w64")
    j, r = run_json(WARGS + ["--wisdom", w64])
    expect(j["verified"] is True, "first run not verified")
    expect(os.path.isfile(w64), "the missing wisdom file was not created")
    data = read_bytes(w64)
    expect(len(data) > 0, "the wisdom file is empty")
    expect(data.startswith(b"(fftw-"), f"wisdom file starts with "
           f"{data[:20]!r}, expected '(fftw-'")
    expect(b"fftw_wisdom" in data[:64], f"f64 wisdom file header "
           f"{data[:64]!r} does not say fftw_wisdom")
    expect("wisdom " + w64 in r.stderr, "text report does not name the "
           "wisdom file")
    j2, _ = run_json(WARGS + ["--wisdom", w64])
    check_fft_json(j2, "f64", 9, 9)
    expect(j2["verified"] is True, "second run (wisdom imported) not "
           "verified")
    expect(read_bytes(w64).startswith(b"(fftw-"),
           "the wisdom file was spoiled by the second run")
    # f32 has its own file.
    w32 = os.path.join(d, "w32")
    j3, _ = run_json(WARGS + ["--wisdom", w32, "--dtype", "f32"])
    expect(j3["verified"] is True, "f32 run not verified")
    data32 = read_bytes(w32)
    expect(data32.startswith(b"(fftw-") and b"fftwf_wisdom" in data32[:64],
           f"f32 wisdom file header {data32[:64]!r}")
    ok_run(WARGS + ["--wisdom", w32, "--dtype", "f32", "-q"])


def t_wisdom_wrong_dtype():
    d = fresh("wisdom_dt", make=True)
    w64, w32 = os.path.join(d, "w64"), os.path.join(d, "w32")
    ok_run(WARGS + ["--wisdom", w64, "-q"])
    ok_run(WARGS + ["--wisdom", w32, "--dtype", "f32", "-q"])
    before64, before32 = read_bytes(w64), read_bytes(w32)
    refused(WARGS + ["--wisdom", w64, "--dtype", "f32"], (2,),
            ["f32", "f64", w64])
    refused(WARGS + ["--wisdom", w32, "--dtype", "f64"], (2,),
            ["f32", "f64", w32])
    expect(read_bytes(w64) == before64 and read_bytes(w32) == before32,
           "a refused run changed a wisdom file")


def t_wisdom_corrupt():
    d = fresh("wisdom_bad", make=True)
    for name, content in (
            ("garbage", b"this is not wisdom at all\n"),
            ("bad_body", b"(fftw-3.3.10 fftw_wisdom #x1 garbage ((( \n"),
            ("binary", bytes(range(256)))):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(content)
        refused(WARGS + ["--wisdom", p], (2,), [p])
        expect(read_bytes(p) == content, f"{name}: a refused run rewrote the "
               f"corrupt wisdom file")


def t_wisdom_unusable_path():
    d = fresh("wisdom_path", make=True)
    # A directory: it cannot be read as wisdom (nor written).
    refused(WARGS + ["--wisdom", d], (1, 2), [d])
    expect(os.path.isdir(d) and os.listdir(d) == [],
           "the directory given as --wisdom was changed")
    # A file in a directory that does not exist: it cannot be written.
    p = os.path.join(d, "missing", "w")
    refused(WARGS + ["--wisdom", p], (1, 2), [p])


# ---------------------------------------------------------------------------
# (e) parconv calibrate and --calibration

def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    expect(len(keys) == len(set(keys)), f"a key twice in {keys}")
    return dict(pairs)


def cal_read(path):
    """The calibration file's JSON, checked for what every one written by
    parconv calibrate holds; returns its "constants"."""
    with open(path) as f:
        text = f.read()
    try:
        cal = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError as e:
        raise AssertionError(f"{path} is not JSON ({e}): {text[:200]!r}")
    expect(cal.get("parconv") == "calibration" and cal.get("version") == 1,
           f"{path}: parconv {cal.get('parconv')!r}, version "
           f"{cal.get('version')!r}")
    c = cal.get("constants")
    expect(isinstance(c, dict), f"{path}: constants {c!r}")
    for dt, per in c.items():
        expect(dt in ("f64", "f32") and isinstance(per, dict) and per,
               f"{path}: constants[{dt!r}] = {per!r}")
        for isa, e in per.items():
            expect(isa in ("generic", "avx2", "avx512") and
                   isinstance(e, dict) and sorted(e) == ["direct", "fft"] and
                   all(isinstance(v, float) and v > 0 for v in e.values()),
                   f"{path}: constants.{dt}.{isa} = {e!r}, expected "
                   f"{{'direct': X, 'fft': Y}}, both > 0")
    return c


def t_calibrate():
    d = os.path.join(SCRATCH, "cal")
    shutil.rmtree(d, ignore_errors=True)
    path = os.path.join(d, "sub", "calibration")  # directories made too
    isa = best_isa()
    r = ok_run(["calibrate", "--calibration", path])
    expect(path in r.stdout, f"calibrate does not say where it wrote: "
           f"{r.stdout!r}")
    expect(os.path.isfile(path), "calibrate wrote no file")
    c = cal_read(path)
    expect(list(c) == ["f64"] and list(c["f64"]) == [isa],
           f"constants {c}, expected one entry, f64 {isa}")
    first = c["f64"][isa]
    cd64 = first["direct"]

    ok_run(["calibrate", "--dtype", "f32", "--calibration", path])
    c = cal_read(path)
    expect(list(c) == ["f64", "f32"] and c["f64"] == {isa: first},
           f"after the f32 calibration: {c} (the f64 entry {first} must "
           f"stay first and unchanged)")
    expect(list(c["f32"]) == [isa], f"f32 entries {c['f32']}, expected "
           f"one for {isa}")
    f32 = c["f32"][isa]
    cd32 = f32["direct"]
    # The temporary file was renamed, none left beside it.
    left = os.listdir(os.path.dirname(path))
    expect(left == ["calibration"], f"files beside the calibration: {left}")

    # A run with the file uses its constants: the direct estimate is the
    # constant times outputs x taps.
    for dt, cd in (("f64", cd64), ("f32", cd32)):
        j, r = run_json(["-n", "60x50", "-k", "2", "-s", "5x4", "-S",
                         "serial", "--dtype", dt, "--calibration", path])
        mo = j["model"]
        expect(mo["constants"] == path, f"{dt}: model constants "
               f"{mo['constants']!r}, expected {path!r}")
        want = cd * 64 * 53 * 5 * 4
        expect(close_to(mo["direct_seconds"], want, 1e-5),
               f"{dt}: direct_seconds {mo['direct_seconds']}, expected "
               f"{cd} x outputs x taps = {want:.6g}")
        expect(path in r.stderr, f"{dt}: text report does not name the "
               f"calibration file")

    # Calibrating f64 again replaces its entry and keeps the f32 one.
    ok_run(["calibrate", "--calibration", path])
    c2 = cal_read(path)
    expect(sorted(c2) == ["f32", "f64"] and c2["f32"] == {isa: f32} and
           list(c2["f64"]) == [isa], f"after calibrating f64 again: {c2}")
    left = os.listdir(os.path.dirname(path))
    expect(left == ["calibration"], f"files beside the calibration: {left}")


def write_cal(name, text):
    """SCRATCH/calfiles/name holding text, or calibration(text) as JSON if
    text is a dict of entries."""
    d = os.path.join(SCRATCH, "calfiles")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    with open(p, "w") as f:
        if isinstance(text, dict):
            json.dump(pctest.calibration(text, comment="made by hand"), f,
                      indent=2)
        else:
            f.write(text)
    return p


def t_calibration_drives_auto():
    """Constants from a file decide auto: a dear FFT makes 41x41 direct, a
    dear direct sum makes 3x3 FFT. Entries for another ISA are not
    used."""
    fft_dear = write_cal("fft_dear", {("f64", "generic"): (1e-15, 1e-3)})
    direct_dear = write_cal("direct_dear",
                            {("f64", "generic"): (1e-3, 1e-15)})
    j, _ = run_json(["-n", "100", "-k", "2", "-s", "41", "-S", "serial",
                     "--isa", "generic", "--calibration", fft_dear])
    expect(j["model"]["constants"] == fft_dear and
           j["workload"]["method"] == "direct",
           f"dear FFT: method {j['workload']['method']}, model {j['model']}")
    j, _ = run_json(["-n", "100", "-k", "2", "-s", "3", "-S", "serial",
                     "--isa", "generic", "--calibration", direct_dear])
    expect(j["model"]["constants"] == direct_dear and
           j["workload"]["method"] == "fft",
           f"dear direct: method {j['workload']['method']}, model "
           f"{j['model']}")
    expect(j["verified"] is True, "not verified")
    # f32 has no entry in these files: built-in constants.
    j, _ = run_json(["-n", "100", "-k", "2", "-s", "3", "-S", "serial",
                     "--isa", "generic", "--dtype", "f32", "--calibration",
                     direct_dear])
    expect(j["model"]["constants"] == "built-in",
           f"no f32 entry, yet constants {j['model']['constants']!r}")
    isa = best_isa()
    if isa != "generic":
        j, _ = run_json(["-n", "100", "-k", "2", "-s", "3", "-S", "serial",
                         "--calibration", direct_dear])
        expect(j["model"]["constants"] == "built-in",
               f"no {isa} entry, yet constants {j['model']['constants']!r}")


def t_calibration_default_places():
    """$PARCONV_CALIBRATION, else $HOME/.config/parconv/calibration;
    --calibration wins over both."""
    a = write_cal("env_cal", {("f64", "generic"): (3e-11, 3e-10)})
    b = write_cal("flag_cal", {("f64", "generic"): (4e-11, 4e-10)})
    home = os.path.join(SCRATCH, "home_cal")
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(os.path.join(home, ".config", "parconv"))
    h = os.path.join(home, ".config", "parconv", "calibration")
    pctest.write_calibration(h, {("f64", "generic"): (5e-11, 5e-10)})
    base = ["-n", "20", "-k", "1", "-s", "3", "-S", "serial", "--isa",
            "generic", "-q"]
    j, _ = run_json(base, env=env(HOME=home))
    expect(j["model"]["constants"] == h, f"HOME file: constants "
           f"{j['model']['constants']!r}, expected {h!r}")
    j, _ = run_json(base, env=env(HOME=home, PARCONV_CALIBRATION=a))
    expect(j["model"]["constants"] == a, f"PARCONV_CALIBRATION: constants "
           f"{j['model']['constants']!r}, expected {a!r}")
    j, _ = run_json(base + ["--calibration", b],
                    env=env(HOME=home, PARCONV_CALIBRATION=a))
    expect(j["model"]["constants"] == b, f"--calibration: constants "
           f"{j['model']['constants']!r}, expected {b!r}")


def cal_text(entries, **top):
    """A calibration file's text, one field a line (so that a syntax error
    is on a known line), from pctest.calibration(entries, **top)."""
    return json.dumps(pctest.calibration(entries, **top), indent=1) + "\n"


def t_calibration_malformed():
    """Every malformed file: exit 2, one line naming the file and what is
    wrong (PATH:LINE:COL for a syntax error)."""
    isa = best_isa()
    good = {("f64", isa): (2e-11, 1e-10)}
    # A comma missing at the end of line 3: found at line 4's token
    # (jansson gives the column where that token ends).
    syntax = ('{\n "parconv": "calibration",\n "version": 1\n '
              '"constants": {}\n}\n')
    for name, text, subs in (
            ("syntax", syntax, [":4:"]),
            ("bad_number", cal_text(good).replace("2e-11", "abc"),
             [":7:"]),
            ("bad_dtype", cal_text({("f16", isa): (2e-11, 1e-10)}),
             ["f16", "dtype"]),
            ("bad_isa", cal_text({("f64", "sse9"): (2e-11, 1e-10)}),
             ["sse9", "ISA"]),
            ("isa_auto", cal_text({("f64", "auto"): (2e-11, 1e-10)}),
             ["auto", "ISA"]),
            ("zero", cal_text({("f64", isa): (0, 1e-10)}),
             [f"f64.{isa}.direct", "> 0"]),
            ("negative", cal_text({("f64", isa): (2e-11, -1)}),
             [f"f64.{isa}.fft", "> 0"]),
            ("string", cal_text({("f64", isa): ("2e-11", 1e-10)}),
             [f"f64.{isa}.direct", "> 0"]),
            ("no_fft", cal_text(good).replace(',\n    "fft": 1e-10', ""),
             [f"f64.{isa}.fft", "missing"]),
            ("other_field", cal_text(good).replace('"fft"', '"fftw"'),
             ["fftw"]),
            ("duplicate", cal_text(good).replace(
                ' "version": 1,', ' "version": 1,\n "version": 1,'),
             [":4:", "duplicate"]),
            ("version", cal_text(good, version=2), ["version"]),
            ("not_calibration", cal_text(good, parconv="manifest"),
             ["not a parconv calibration file"]),
            ("no_constants", '{"parconv": "calibration", "version": 1}',
             ["constants"]),
            ("empty", "", [":1:"]),
            ("garbage", "hello world\n", [":1:"]),
            ("old_format", f"# parconv calibrate: ...\n\nf64 {isa} direct "
             "2e-11 fft 1e-10\n",
             ["a calibration file of an older parconv",
              "run 'parconv calibrate' again"])):
        p = write_cal(name, text)
        refused(["-n", "20", "-k", "1", "-s", "3", "-S", "serial",
                 "--calibration", p], (2,), [p] + subs)


def t_calibration_malformed_other_entry():
    """A malformed entry is an error wherever it is in the file, also one
    for another dtype than the run's (otherwise the same file is refused
    by f32 runs and accepted by f64 ones)."""
    isa = best_isa()
    p = write_cal("bad_other", cal_text({("f64", isa): (2e-11, 3e-10),
                                         ("f32", isa): (2e-11, 0)}))
    for dt in ("f32", "f64"):
        refused(["-n", "20", "-k", "1", "-s", "3", "-S", "serial", "--dtype",
                 dt, "--calibration", p], (2,), [p, f"f32.{isa}.fft"])


def t_calibration_trailing_junk():
    """Junk after the JSON, or in a number ('3e-10x'): a syntax error, at
    its line."""
    isa = best_isa()
    text = cal_text({("f64", isa): (2e-11, 3e-10)})
    nlines = text.count("\n")
    for name, junk, at in (
            ("junk_after", text + "f64 generic direct 1 fft 1\n",
             f":{nlines + 1}:"),
            ("junk_second", text + "{}\n", f":{nlines + 1}:"),
            ("junk_number", text.replace("3e-10", "3e-10x"), ":8:")):
        p = write_cal(name, junk)
        refused(["-n", "20", "-k", "1", "-s", "3", "-S", "serial",
                 "--calibration", p], (2,), [p + at])


def t_calibrate_old_format():
    """calibrate rewrites a file of an older parconv, as the message says;
    a malformed JSON file it refuses and leaves alone."""
    p = write_cal("old_rewritten", "f64 generic direct 2e-11 fft 1e-10\n")
    r = ok_run(["calibrate", "--calibration", p])
    expect("older parconv" in r.stdout, f"calibrate does not say it "
           f"replaced an old file: {r.stdout!r}")
    c = cal_read(p)
    expect(list(c) == ["f64"], f"constants {c}")
    text = '{"parconv": "calibration", "version": 1,\n "constants": [}\n'
    p = write_cal("bad_kept", text)
    refused(["calibrate", "--calibration", p], (2,), [p + ":2:"])
    with open(p) as f:
        expect(f.read() == text, f"calibrate changed the malformed {p}")


def t_calibration_missing():
    p = os.path.join(SCRATCH, "calfiles", "does_not_exist")
    refused(["-n", "20", "-k", "1", "-s", "3", "-S", "serial",
             "--calibration", p], (2,), [p])


def t_calibration_directory():
    """A directory named by --calibration is no calibration file: an error,
    not silently the built-in constants."""
    d = fresh("cal_dir", make=True)
    refused(["-n", "20", "-k", "1", "-s", "3", "-S", "serial",
             "--calibration", d], (2,), [d])


def t_calibrate_unwritable():
    d = fresh("cal_unwritable", make=True)
    refused(["calibrate", "--calibration", d], (1, 2), [d])


# ---------------------------------------------------------------------------
# (f) parconv sweep ksize

def t_sweep():
    d = fresh("sweep", make=True)
    c, jp = os.path.join(d, "s.csv"), os.path.join(d, "s.json")
    r = ok_run(["sweep", "ksize", "--from", "3", "--to", "7", "--step", "2",
                "-n", "40", "-k", "2", "--runs", "1", "--csv", c,
                "--json", jp])
    rows_txt = re.findall(r"^\s+(\d+)\s+\d+\.\d+\s+\d+\.\d+\s+(direct|fft)"
                          r"\s+\d+\.\d+\s+-?\d+\.\d%\s+(?:yes|-)$", r.stdout,
                          re.M)
    expect([int(k) for k, _ in rows_txt] == [3, 5, 7],
           f"text rows {rows_txt} (stdout {r.stdout!r})")
    expect("crossover:" in r.stdout, "text lacks the crossover line")
    with open(c, newline="") as f:
        rows = list(csv.reader(f))
    expect(len(rows) == 4, f"CSV has {len(rows)} lines, expected a header "
           f"and 3 rows: {rows}")
    head = rows[0]
    for col in ("ksize", "direct_ms", "fft_ms", "auto", "auto_ms",
                "est_direct_ms", "est_fft_ms"):
        expect(col in head, f"CSV header {head} lacks {col!r}")
    recs = [dict(zip(head, x)) for x in rows[1:]]
    expect([int(x["ksize"]) for x in recs] == [3, 5, 7],
           f"CSV ksizes {[x['ksize'] for x in recs]}")
    for x in recs:
        expect(x["auto"] in ("direct", "fft"), f"CSV auto {x['auto']!r}")
        for k in ("direct_ms", "fft_ms", "auto_ms", "est_direct_ms",
                  "est_fft_ms"):
            expect(float(x[k]) >= 0, f"CSV {k} {x[k]!r}")
        expect(float(x["auto_ms"]) == float(x[x["auto"] + "_ms"]),
               f"CSV auto_ms {x['auto_ms']} is not {x['auto']}_ms")
        # auto takes what the model says is cheaper (finite inputs), or
        # with estimates within a factor of 2 what its trial found faster;
        # the CSV rounds to 1e-6 ms, so near-ties tell nothing.
        ef, ed = float(x["est_fft_ms"]), float(x["est_direct_ms"])
        tf, td = float(x["trial_fft_ms"]), float(x["trial_direct_ms"])
        near = ef < 2 * ed and ed < 2 * ef
        expect((float(x["trial_s"]) > 0) == near, f"ksize {x['ksize']}: a "
               f"trial where the estimates are {'' if near else 'not '}"
               f"within a factor of 2, or none where they are: {x}")
        if near:
            ef, ed = tf, td
        if abs(ef - ed) > 2e-6:
            cheaper = "fft" if ef < ed else "direct"
            expect(x["auto"] == cheaper, f"ksize {x['ksize']}: auto "
                   f"{x['auto']} but the {'trial' if near else 'estimates'}"
                   f" say {cheaper}: {x}")
    est = [float(x["est_direct_ms"]) for x in recs]
    expect(est[0] < est[1] < est[2], f"direct estimates do not grow with "
           f"the kernel: {est}")
    with open(jp) as f:
        j = json.load(f)
    pts = j.get("points")
    expect(isinstance(pts, list) and len(pts) == 3, f"JSON points {pts!r}")
    expect([p["ksize"] for p in pts] == [3, 5, 7],
           f"JSON ksizes {[p['ksize'] for p in pts]}")
    expect(all(p["auto"] in ("direct", "fft") for p in pts),
           f"JSON auto {[p['auto'] for p in pts]}")
    expect([p["auto"] for p in pts] == [x["auto"] for x in recs],
           "JSON and CSV disagree on auto's choices")
    expect((j["sweep"], j["rows"], j["cols"], j["count"], j["runs"]) ==
           ("ksize", 40, 40, 2, 1), f"JSON header {j}")
    # --json -: the JSON alone on stdout, the table on stderr.
    r = ok_run(["sweep", "ksize", "--from", "4", "--to", "5", "-n", "30",
                "-k", "1", "--runs", "1", "-S", "serial", "--json", "-"])
    j = json.loads(r.stdout)
    expect([p["ksize"] for p in j["points"]] == [4] and
           j["strategy"] == "serial", f"--json -: {j}")
    expect("crossover:" in r.stderr, "--json -: the table is not on stderr")


def t_sweep_bad():
    base = ["-n", "20", "-k", "1", "--runs", "1"]
    refused(["sweep", "ksize", "--to", "7"] + base, (2,), ["--from"])
    refused(["sweep", "ksize", "--from", "3"] + base, (2,), ["--to"])
    refused(["sweep", "ksize", "--from", "9", "--to", "3"] + base, (2,),
            ["--from"])
    refused(["sweep", "--from", "3", "--to", "7"] + base, (2,), ["ksize"])
    refused(["sweep"], (2,), ["ksize"])
    refused(["sweep", "bogus", "--from", "3", "--to", "7"] + base, (2,),
            ["ksize"])
    refused(["sweep", "ksize", "--from", "3", "--to", "7", "-S",
             "serial,omp"] + base, (2,), ["-S"])
    refused(["sweep", "ksize", "--from", "3", "--to", "7", "--step", "0"]
            + base, (2,), ["--step"])
    refused(["sweep", "ksize", "--from", "3", "--to", "7", "-s", "5"]
            + base, (2,), ["--ksize"])


# ---------------------------------------------------------------------------
# (g) FFT results against the direct sum and scipy

def t_fft_files_equal_direct(dtype_name, args, strategies):
    """The files come from the first strategy (so with procs first, from
    the workers' writes into the shared arena); the others are verified
    against it."""
    d = fresh(f"files_{dtype_name}", make=True)
    outs = {}
    for meth in ("direct", "fft"):
        out = os.path.join(d, meth)
        j, _ = run_json(args + ["--dtype", dtype_name, "--method", meth,
                                "-o", out, "-S", strategies, "-q"])
        expect(j["verified"] is True, f"{meth}: not verified")
        expect(j["workload"]["method"] == meth, f"{meth}: method "
               f"{j['workload']['method']}")
        with open(os.path.join(out, "manifest.json")) as f:
            man = json.load(f)
        expect(man["workload"]["method"] == meth,
               f"{meth} manifest method {man['workload']['method']!r}")
        outs[meth] = (out, man)
    dman, fman = outs["direct"][1], outs["fft"][1]
    expect([k["file"] for k in dman["kernels"]] ==
           [k["file"] for k in fman["kernels"]],
           "the two runs wrote different file lists")
    for k in dman["kernels"]:
        a = np.load(os.path.join(outs["direct"][0], k["file"]))
        b = np.load(os.path.join(outs["fft"][0], k["file"]))
        check_fft_close(b, a, dtype_name, f"{k['file']} fft vs direct")


def t_fft_many_workers():
    for shape, count in (("10", 1), ("300x20", 20)):
        j, _ = run_json(["-n", shape, "-k", str(count), "-s", "3",
                         "--method", "fft", "-t", "7", "-p", "5", "-q"])
        expect(j["verified"] is True, f"-n {shape}: not verified")
        expect(len({x["checksum"] for x in j["runs"]}) == 1,
               f"-n {shape}: checksums differ")
        expect(all(1 <= x["workers"] <= 7 for x in j["runs"]),
               f"-n {shape}: workers {[x['workers'] for x in j['runs']]}")


def t_fft_big_kernels(dtype_name, mode, boundary):
    """Kernels larger than the matrix, by FFT, against scipy."""
    d = fresh(f"bigk_{dtype_name}_{mode}_{boundary}", make=True)
    dtype = np.float64 if dtype_name == "f64" else np.float32
    rs = np.random.RandomState(11)
    m = (rs.normal(size=(5, 6)) * 10).astype(dtype)
    b = (rs.normal(size=(3, 9, 11)) * 10).astype(dtype)
    mp, bp = os.path.join(d, "m.npy"), os.path.join(d, "b.npy")
    np.save(mp, m)
    np.save(bp, b)
    out = os.path.join(d, "out")
    fill = -1.5
    j, _ = run_json(["-m", mp, "-b", bp, "--mode", mode, "--boundary",
                     boundary, "--fillvalue", str(fill), "--dtype",
                     dtype_name, "--method", "fft", "-o", out, "-q",
                     # -o alone computes once: compare all four as before.
                     "-S", "serial,procs,threads,omp"])
    expect(j["verified"] is True and len(j["runs"]) == 4, "not verified")
    check_fft_json(j, dtype_name, 9, 11)
    expect(j["workload"]["swapped"] is (mode == "valid"),
           f"swapped {j['workload']['swapped']}")
    for k in range(3):
        ref = scipy.signal.convolve2d(m, b[k], mode, boundary, fill)
        got = np.load(os.path.join(out, f"conv_{k:05d}.npy"))
        check_fft_close(got, ref, dtype_name, f"kernel {k}")


def main():
    global EXE, SCRATCH, HOME
    EXE, SCRATCH = pctest.arguments(
        "usage: fft_test.py PARCONV_PATH SCRATCH_DIR")
    HOME = os.path.join(SCRATCH, "home")
    shutil.rmtree(HOME, ignore_errors=True)
    os.makedirs(HOME)
    pctest.ENV = env()

    case("fft, all strategies, f64 full", t_fft_all_strategies, "f64", [],
         "210x170", "13x9", 11)
    case("fft, all strategies, f32 same/symm", t_fft_all_strategies, "f32",
         ["--mode", "same", "--boundary", "symm"], "150x190", "7x12", 17)
    case("fft, all strategies, f64 valid/wrap, one kernel",
         t_fft_all_strategies, "f64", ["--mode", "valid", "--boundary",
                                       "wrap"], "90x64", "21x5", 1)
    # Pinned transform sizes that are odd, or whose Q/2+1 columns are not
    # whole strips of the column pass (fft.c), with factors 3, 5 and 7.
    case("fft, all strategies, f32 odd 63x45 transforms",
         t_fft_all_strategies, "f32", ["--fft-size", "63x45"], "200x130",
         "11x6", 5)
    case("fft, all strategies, f64 56x42 transforms (7-smooth)",
         t_fft_all_strategies, "f64", ["--mode", "same", "--fft-size",
                                       "56x42"], "120x170", "9x14", 6)
    case("auto: direct for 3x3, fft for 41x41 on 300x300", t_auto_choice)
    case("--method direct/fft kept whatever auto would do",
         t_auto_method_given_is_kept)
    case("auto with NaN/Inf computes directly; fft refused",
         t_auto_nan_direct)
    case("--fft-plan measure", t_fft_plan_measure)
    case("--wisdom: created, then imported", t_wisdom_create_and_reuse)
    case("--wisdom: file of the other dtype refused", t_wisdom_wrong_dtype)
    case("--wisdom: corrupt files refused, left alone", t_wisdom_corrupt)
    case("--wisdom: directory, missing directory", t_wisdom_unusable_path)
    case("calibrate: f64 entry, f32 entry added, run uses the file",
         t_calibrate)
    case("--calibration constants decide auto", t_calibration_drives_auto)
    case("calibration file: env, HOME, --calibration",
         t_calibration_default_places)
    case("--calibration malformed: file and what", t_calibration_malformed)
    case("--calibration malformed entry of another dtype",
         t_calibration_malformed_other_entry)
    case("--calibration junk after the JSON or a number: file:line",
         t_calibration_trailing_junk)
    case("calibrate: an old file rewritten, a malformed one refused",
         t_calibrate_old_format)
    case("--calibration missing file", t_calibration_missing)
    case("--calibration a directory", t_calibration_directory)
    case("calibrate into a directory", t_calibrate_unwritable)
    case("sweep ksize: text, CSV, JSON", t_sweep)
    case("sweep: bad inputs", t_sweep_bad)
    case("fft -o files = direct -o files (f64, same/symm)",
         t_fft_files_equal_direct, "f64",
         ["-n", "150x130", "-k", "9", "-s", "25x21", "--mode", "same",
          "--boundary", "symm", "--range", "-50:50", "--seed", "3"],
         "procs,serial")
    case("fft -o files = direct -o files (f32, full/fill)",
         t_fft_files_equal_direct, "f32",
         ["-n", "140x150", "-k", "3", "-s", "31", "--fillvalue", "2.5"],
         "threads,omp")
    case("fft: more workers than work", t_fft_many_workers)
    for dt in ("f64", "f32"):
        for mode in ("full", "same", "valid"):
            for bnd in ("fill", "wrap", "symm"):
                case(f"fft, 9x11 kernels on a 5x6 matrix, {mode}/{bnd} {dt}",
                     t_fft_big_kernels, dt, mode, bnd)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
