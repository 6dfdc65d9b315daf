#!/usr/bin/python3
"""Datasets in and out of files: HDF5 inputs, HDF5 compression, and the
one-file formats (stack, hdf5) interrupted, resumed and corrupted.

  - -m FILE.h5:/group/dataset (a 3-D int16 dataset in a nested group) and
    -m OTHER.h5:/img (2-D float32), in every format, every mode and
    boundary in f64 and two in f32, against scipy.signal.convolve2d;
  - hdf5 with --compress deflate:4: the values of the uncompressed run,
    the deflate and shuffle filters, chunks of a plane, /checksums and
    the manifest attribute;
  - SIGTERM between batches and SIGKILL after a flush, then --resume, for
    stack, hdf5 and compressed hdf5: the uninterrupted run's file (byte
    for byte but for compressed hdf5: its values and checksums);
  - the partial file of an interrupted stack or hdf5 run truncated or its
    first bytes overwritten: --resume refuses it (exit 2, one line naming
    it) and leaves DIR alone, --force starts afresh; one plane overwritten
    instead: that plane alone is computed again;
  - bad HDF5 specs (missing file or dataset, a group, 1-D, 4-D, strings,
    empty, no dataset path, not HDF5): exit 2, one line.

The shared checks (load_planes, expected, same_result, ...) are
dataset_test.py's. Run by meson as dataset_io_test.py PARCONV_PATH
SCRATCH_DIR; pctest prints a line per case and the totals.
"""
import os
import shutil
import signal
import sys

import numpy as np

import dataset_test as dt
import pctest
from dataset_test import check_h5_metadata, h5py, need_h5py
from pctest import Skip, case, expect, ok_run, refused, run, run_json

RTOL = {"f64": 1e-12, "f32": 1e-5}


def h5_inputs(d):
    """f.h5:/grp/sub/stack (3 x 40 x 30 int16) and g.h5:/img (40 x 30
    float32) in d, and a bank of 3 kernels of 5 x 4: (the -m/-b
    arguments, the 4 matrices and the bank as float64)."""
    need_h5py()
    rs = np.random.default_rng(7)
    stack = rs.integers(-300, 300, (3, 40, 30)).astype(np.int16)
    img = rs.standard_normal((40, 30)).astype(np.float32)
    bank = rs.standard_normal((3, 5, 4))
    with h5py.File(os.path.join(d, "f.h5"), "w") as f:
        f.create_dataset("grp/sub/stack", data=stack)
        f.create_dataset("grp/other", data=np.zeros((2, 2)))
    with h5py.File(os.path.join(d, "g.h5"), "w") as f:
        f.create_dataset("img", data=img)
    args = ["-m", os.path.join(d, "f.h5") + ":/grp/sub/stack",
            "-m", os.path.join(d, "g.h5") + ":/img",
            "-b", dt.save(d, "b.npy", bank)]
    mats = [m.astype(np.float64) for m in stack] + [img.astype(np.float64)]
    return args, mats, bank


def close_to_scipy(d, fmt, mats, bank, mode, bnd, dtype, what):
    """Every plane in d within RTOL[dtype] (of the plane's largest
    magnitude) of scipy's, in the computed dtype."""
    npdt = np.float64 if dtype == "f64" else np.float32
    got = dt.load_planes(d, fmt, len(mats), len(bank))
    want = dt.expected(mats, bank, mode, bnd, np.float64)
    expect(got.shape == want.shape and got.dtype == npdt,
           f"{what}: {got.shape} {got.dtype}, scipy {want.shape} {npdt}")
    err = np.abs(got - want).max(axis=(2, 3))
    scale = np.abs(want).max(axis=(2, 3))
    worst = np.unravel_index(np.argmax(err / scale), err.shape)
    expect((err <= RTOL[dtype] * scale).all(), f"{what}: plane {worst} off "
           f"by {err[worst] / scale[worst]:.3g} of its largest value")


def t_h5_scipy(fmt):
    """-m FILE.h5:/grp/sub/stack -m OTHER.h5:/img: every mode/boundary in
    f64, two in f32, equal scipy's; the manifest records the datasets."""
    d = pctest.fresh(f"h5in_{fmt}", make=True)
    args, mats, bank = h5_inputs(d)
    runs = [("f64", m, b) for m in dt.MODES for b in dt.BOUNDARIES] + \
        [("f32", "same", "symm"), ("f32", "full", "wrap")]
    for dtype, mode, bnd in runs:
        out = os.path.join(d, f"o_{dtype}_{mode}_{bnd}")
        dt.formatted(args + ["-o", out, "--mode", mode, "--boundary", bnd,
                             "--dtype", dtype, "--method", "direct"] +
                     dt.QUICK, fmt)
        close_to_scipy(out, fmt, mats, bank, mode, bnd, dtype,
                       f"{dtype} {mode}/{bnd}")
    m = pctest.manifest(out)
    got = [(i["dataset"], i["dtype"], i["shape"])
           for i in m["workload"]["inputs"]["matrix"]]
    expect(got == [("/grp/sub/stack", "i2", [3, 40, 30]),
                   ("/img", "f4", [40, 30])],
           f"the manifest records the inputs as {got}")
    expect(m["workload"]["matrices"] == 4 and m["planes_done"] == 12,
           f"manifest: {m['workload']['matrices']} matrices, "
           f"{m['planes_done']} planes")


# ---------------------------------------------------------------------------
# hdf5: what the file holds

def t_compress():
    """--compress deflate:4 against none (and no --compress): the same
    values and checksums; gzip level 4 after shuffle, chunks of a plane,
    /checksums and the manifest attribute; a smaller file. Bad levels
    refused."""
    d = pctest.fresh("compress", make=True)
    args, mats, bank = h5_inputs(d)
    args += ["--mode", "same"] + dt.QUICK
    outs = {}
    for name, extra in (("deflate", ["--compress", "deflate:4"]),
                        ("none", ["--compress", "none"]), ("default", [])):
        outs[name] = os.path.join(d, name)
        dt.formatted(args + ["-o", outs[name]] + extra, "hdf5")
    z = check_h5_metadata(outs["deflate"], 4, 3)
    plain = check_h5_metadata(outs["none"], 4, 3)
    expect(z[3] == ("gzip", 4, True), f"deflate:4: filters {z[3]}")
    expect(plain[3] == (None, None, False), f"none: filters {plain[3]}")
    expect(np.array_equal(z[0], plain[0]), "the values differ")
    expect(np.array_equal(z[1], plain[1]), "the checksums differ")
    expect(pctest.manifest(outs["deflate"])["format"]["deflate"] == 4,
           "the manifest does not record deflate 4")
    for a in ("mode", "matrices", "count", "out_rows", "dtype"):
        expect(z[2][a] == plain[2][a], f"attribute {a}: {z[2][a]} vs "
               f"{plain[2][a]}")
    expect((z[2]["mode"], z[2]["matrices"], z[2]["count"]) == ("same", 4, 3),
           f"attributes mode {z[2]['mode']}, matrices {z[2]['matrices']}, "
           f"count {z[2]['count']}")
    close_to_scipy(outs["deflate"], "hdf5", mats, bank, "same", "fill", "f64",
                   "deflate:4")
    pctest.same_files(outs["default"], outs["none"])
    zs, ps = (os.path.getsize(os.path.join(outs[n], "conv.h5"))
              for n in ("deflate", "none"))
    expect(zs < ps, f"deflate:4 wrote {zs} bytes, none {ps}")
    for bad in ("deflate:10", "deflate:x", "gzip"):
        refused(args + ["-o", os.path.join(d, "bad"), "--format", "hdf5",
                        "--compress", bad], [2], ["--compress", bad])


# ---------------------------------------------------------------------------
# interrupted, resumed, corrupted

# 12 matrices x 8 kernels of 120x120 on 200x200, valid (81x81 planes):
# with the slow calibration a batch is a matrix, 12 batches of a tenth of
# a second or so.
W_INT = ["--matrices", "12", "-n", "200", "-s", "120", "-k", "8",
         "--mode", "valid", "--method", "direct", "-S", "omp", "-q"]
N_INT, K_INT = 12, 8
CONFIGS = {"stack": ["--format", "stack"], "hdf5": ["--format", "hdf5"],
           "hdf5 deflate": ["--format", "hdf5", "--compress", "deflate:4"]}
REFS = {}


def w_int(config):
    return W_INT + ["--calibration", pctest.slow_calibration(pctest.SCRATCH)
                    ] + CONFIGS[config]


def final_name(config):
    return "conv.npy" if config == "stack" else "conv.h5"


def reference(config):
    """An uninterrupted run's DIR (made once)."""
    if config not in REFS:
        d = pctest.fresh("ref_" + config.replace(" ", "_"))
        r = run(w_int(config) + ["-o", d])
        if r.returncode == 2 and "not built" in r.stderr:
            raise Skip("not built")
        expect(r.returncode == 0, f"reference: exit {r.returncode}, "
               f"{r.stderr.strip()!r}")
        REFS[config] = d
    return REFS[config]


def interrupted(config, sig, name):
    """A run into SCRATCH/name stopped by sig once its manifest lists some
    planes (after a flush); returns (DIR, its manifest), checked: not
    complete, the partial recorded and there, nothing under the final
    name."""
    d = pctest.fresh(name)
    p = pctest.spawn(w_int(config) + ["-o", d])
    dt.wait_partial(p, d, N_INT * K_INT)
    p.send_signal(sig)
    rc, _, err = pctest.finish(p, after=f" after {signal.Signals(sig).name}")
    want = 128 + sig if sig == signal.SIGTERM else -sig
    expect(rc == want, f"exit {rc} after {signal.Signals(sig).name}, "
           f"expected {want} (stderr {err!r})")
    m = pctest.manifest(d)
    part = m["format"]["partial"]
    expect(m["complete"] is False and 0 < m["planes_done"] < N_INT * K_INT,
           f"manifest after the signal: complete {m['complete']}, "
           f"{m['planes_done']} planes")
    expect(part and os.path.isfile(os.path.join(d, part)),
           f"the recorded partial {part!r} is not in {os.listdir(d)}")
    expect(not os.path.exists(os.path.join(d, final_name(config))),
           f"{final_name(config)} exists before the run completed")
    return d, m


def same_as_reference(d, config):
    """d holds the reference's result: byte for byte, but for compressed
    hdf5 (chunks placed in the order they came): the same values,
    /checksums and manifest."""
    dt.same_result(d, reference(config), CONFIGS[config][1], N_INT, K_INT)


def resume(d, config, keep):
    """--resume into d: exit 0, keep planes kept (the report's
    "resumed"), the reference's result."""
    j, _ = run_json(w_int(config) + ["-o", d, "--resume"])
    expect(j["resumed"] == keep, f"--resume kept {j['resumed']} planes, "
           f"the manifest listed {keep} good ones")
    same_as_reference(d, config)


def t_interrupt(config, sig):
    """A run stopped by sig after a flush, resumed: the uninterrupted
    run's result, every plane the manifest listed kept."""
    reference(config)
    d, m = interrupted(config, sig, "int_" + config.replace(" ", "_") +
                       f"_{signal.Signals(sig).name}")
    resume(d, config, m["planes_done"])


def snapshot(d):
    return {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}


def plane_offset(path, config, n, k):
    """Where plane (n, k) starts in the partial file at path."""
    if config == "stack":
        with open(path, "rb") as f:
            np.lib.format.read_magic(f)
            np.lib.format.read_array_header_1_0(f)
            header = f.tell()
        return header + (n * K_INT + k) * 81 * 81 * 8
    need_h5py()
    with h5py.File(path, "r") as f:
        return f["conv"].id.get_chunk_info_by_coord((n, k, 0, 0)).byte_offset


def t_corrupt(config):
    """An interrupted run's partial file (the manifest's
    format.partial), with a user's file beside it: truncated to half or
    its first 8 bytes overwritten, --resume is refused (exit 2, one line
    naming it) and changes nothing in DIR; --force then gives the
    uninterrupted run's result and leaves the user's file. One plane's
    bytes overwritten instead: --resume computes that plane again and
    keeps the others."""
    ref = reference(config)
    d0, m = interrupted(config, signal.SIGTERM, "corrupt_" + config)
    part = m["format"]["partial"]
    with open(os.path.join(d0, "notes.txt"), "w") as f:
        f.write("the user's own file\n")
    for how in ("truncated", "overwritten"):
        d = os.path.join(pctest.SCRATCH, f"corrupt_{config}_{how}")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(d0, d)
        path = os.path.join(d, part)
        if how == "truncated":
            os.truncate(path, os.path.getsize(path) // 2)
        else:
            with open(path, "r+b") as f:
                f.write(b"CORRUPT!")
        before = snapshot(d)
        args = w_int(config) + ["-o", d]
        line = refused(args + ["--resume"], [2], [part])
        expect("corrupt or truncated" in line, f"{how}: {line!r}")
        expect(snapshot(d) == before, f"{how}: the refused --resume changed "
               "the DIR")
        ok_run(args + ["--force"])
        pctest.same_files(d, ref, ignore=("notes.txt",))
        expect(open(os.path.join(d, "notes.txt")).read() ==
               "the user's own file\n", "--force changed the user's file")
    d = os.path.join(pctest.SCRATCH, f"corrupt_{config}_plane")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(d0, d)
    os.remove(os.path.join(d, "notes.txt"))
    first = m["planes"][0]
    path = os.path.join(d, part)
    off = plane_offset(path, config, first["matrix"], first["kernel"])
    with open(path, "r+b") as f:
        f.seek(off + 100)
        f.write(b"\x7f" * 64)
    resume(d, config, m["planes_done"] - 1)


# ---------------------------------------------------------------------------
# bad HDF5 specs

def t_bad_h5():
    """Each refused with exit 2 and one line naming the file and what is
    wrong."""
    need_h5py()
    d = pctest.fresh("bad_h5", make=True)
    with h5py.File(os.path.join(d, "f.h5"), "w") as f:
        f.create_dataset("grp/ok", data=np.ones((4, 4)))
        f.create_dataset("one", data=np.ones(5))
        f.create_dataset("four", data=np.ones((2, 2, 3, 3)))
        f.create_dataset("s", data=np.array([[b"a", b"b"], [b"c", b"d"]]))
        f.create_dataset("vs", data=[["a", "b"], ["c", "d"]],
                         dtype=h5py.string_dtype())
        f.create_dataset("empty", shape=(0, 4, 4), dtype="f8")
        f.create_dataset("scalar", data=3.0)
    with open(os.path.join(d, "text.h5"), "w") as f:
        f.write("not HDF5\n")
    cases = [
        ("nofile.h5:/x", ["nofile.h5", "No such file"]),
        ("f.h5:/nope", ["f.h5", "no dataset", "/nope"]),
        ("f.h5:/grp/nope/x", ["f.h5", "no dataset", "/grp/nope/x"]),
        ("f.h5:/grp", ["f.h5", "/grp", "a group"]),
        ("f.h5:/one", ["f.h5", "/one", "1 dimension"]),
        ("f.h5:/four", ["f.h5", "/four", "4 dimensions"]),
        ("f.h5:/s", ["f.h5", "/s", "strings"]),
        ("f.h5:/vs", ["f.h5", "/vs", "strings"]),
        ("f.h5:/empty", ["f.h5", "/empty", "empty"]),
        ("f.h5:/scalar", ["f.h5", "/scalar", "0 dimensions"]),
        ("f.h5", ["f.h5", "name the dataset", "f.h5:/"]),
        ("x.h5", ["x.h5", "name the dataset", "x.h5:/"]),
        ("text.h5:/x", ["text.h5", "not an HDF5 file"]),
    ]
    problems = []
    for spec, subs in cases:
        out = os.path.join(d, "out")
        try:
            refused(["-m", spec, "-k", "2", "-s", "3", "-o", out] + dt.QUICK,
                    [2], subs, cwd=d)
            left = os.listdir(out) if os.path.exists(out) else []
            expect(not left, f"-m {spec}: the refused run wrote {left}")
        except AssertionError as e:
            problems.append(str(e))
    expect(not problems, "; ".join(problems))
    ok_run(["-m", "f.h5:/grp/ok", "-k", "2", "-s", "3"] + dt.QUICK, cwd=d)


def main():
    pctest.arguments("usage: dataset_io_test.py PARCONV_PATH SCRATCH_DIR")
    for fmt in dt.FORMATS:
        case(f"{fmt}: -m F.h5:/grp/sub/stack -m G.h5:/img = scipy, every "
             "mode/boundary f64, two f32", t_h5_scipy, fmt)
    case("hdf5 --compress deflate:4: values, filters, chunks, /checksums, "
         "manifest attribute", t_compress)
    for config in CONFIGS:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if config != "hdf5 deflate" and sig == signal.SIGTERM:
                continue  # dataset_test.py's t_resume
            case(f"{config}: {signal.Signals(sig).name} after a flush, "
                 "--resume = one run", t_interrupt, config, sig)
    for config in ("stack", "hdf5"):
        case(f"{config}: truncated/overwritten partial refused on --resume, "
             "--force runs afresh; a bad plane recomputed", t_corrupt, config)
    case("bad HDF5 specs: exit 2, one line", t_bad_h5)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
