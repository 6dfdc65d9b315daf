#!/usr/bin/python3
"""Results that cannot be mixed: the manifest names the inputs (a file's
dtype, shape, order, size and the hash of its values; the generator's seed
and range), so --resume and merge refuse results of other inputs; -o
refuses a DIR holding results of another workload unless --force, which
removes exactly parconv's files; merge is idempotent; the shards of the
default method (auto, choosing FFT) take the same FFT size and merge byte
for byte.

Run by meson as trust_test.py PARCONV_PATH SCRATCH_DIR; pctest prints a
line per case and the totals.
"""
import json
import os
import sys

import numpy as np

import pctest
from pctest import case, expect, ok_run, refused, same_files

EXE = SCRATCH = None
CAL = None

# A small workload of files: 7 kernels of 5x4 on 60x50.
SMALL = ["-S", "omp", "-t", "2", "-q"]
# One where --method auto chooses FFT (with CAL): 10 kernels of 41x41.
FFT = ["-n", "300", "-k", "10", "-s", "41", "-S", "omp", "-t", "2", "-q"]


def inputs(name):
    """A matrix (60x50) and a bank (7 of 5x4) of float64 deep under
    SCRATCH/name (a path of over 250 characters, as a cluster's can be:
    messages must still name the file); returns their paths."""
    d = os.path.join(pctest.fresh(name, make=True), "a-long-directory-name" * 12)
    os.makedirs(d)
    rng = np.random.default_rng(11)
    m, b = os.path.join(d, "m.npy"), os.path.join(d, "b.npy")
    np.save(m, rng.integers(0, 100, (60, 50)).astype(np.float64))
    np.save(b, rng.integers(0, 10, (7, 5, 4)).astype(np.float64))
    return m, b


def args_for(m, b, d):
    return ["-m", m, "-b", b, "-o", d] + SMALL


def listing(d):
    return sorted(os.listdir(d))


def t_resume_other_values():
    """The matrix rewritten with other values of the same shape, a plane
    deleted: --resume refuses, naming the input and both hashes."""
    m, b = inputs("values_in")
    d = pctest.fresh("values")
    ok_run(args_for(m, b, d))
    a = np.load(m)
    a[3, 4] += 1
    np.save(m, a)
    os.remove(os.path.join(d, "conv_00002.npy"))
    line = refused(args_for(m, b, d) + ["--resume"], [2],
                   ["another matrix", "m.npy", "values differ", "hash 0x",
                    "then", "now"])
    expect(line.count("0x") == 2, f"not both hashes: {line!r}")
    expect(not os.path.exists(os.path.join(d, "conv_00002.npy")),
           "the refused run wrote a plane")


def t_resume_signs_flipped():
    """The matrix negated (every sign bit flipped, an even number of them:
    a change that sums of words cannot see): --resume refuses it too."""
    m, b = inputs("signs_in")
    d = pctest.fresh("signs")
    ok_run(args_for(m, b, d))
    np.save(m, -np.load(m))
    os.remove(os.path.join(d, "conv_00002.npy"))
    refused(args_for(m, b, d) + ["--resume"], [2],
            ["another matrix", "m.npy", "values differ"])


def t_resume_other_dtype():
    """The bank as uint8 (the same values, so the same hash): --resume
    refuses, naming the dtype of each."""
    m, b = inputs("dtype_in")
    d = pctest.fresh("dtype")
    ok_run(args_for(m, b, d))
    np.save(b, np.load(b).astype(np.uint8))
    refused(args_for(m, b, d) + ["--resume"], [2],
            ["another bank", "b.npy", "dtype", "<f8", "|u1"])


def t_merge_other_inputs():
    """Shard 1 computed (with --force: its own share) after the bank
    changed: merge refuses, naming the bank and both hashes, exit 1."""
    m, b = inputs("merge_in")
    d = pctest.fresh("merge_inputs")
    ok_run(args_for(m, b, d) + ["--shard", "0/2"])
    a = np.load(b)
    a[0, 0, 0] += 1
    np.save(b, a)
    refused(args_for(m, b, d) + ["--shard", "1/2"], [2],
            ["holds results of another workload", "--force"])
    ok_run(args_for(m, b, d) + ["--shard", "1/2", "--force"])
    refused(["merge", d], [1], ["shard 1 of 2", "another bank", "b.npy",
                                "values differ", "in shard 1", "in shard 0"])
    expect(not os.path.exists(os.path.join(d, "manifest.json")),
           "a refused merge wrote manifest.json")


def t_stale_outputs():
    """-k 6 then -k 3 into the same DIR: refused (exit 2) without --force;
    with it, parconv's files of the first run are gone, nothing else is
    touched, and DIR holds what a fresh -k 3 run writes."""
    d = pctest.fresh("stale")
    ok_run(["-n", "40", "-k", "6", "-s", "3", "-o", d] + SMALL)
    refused(["-n", "40", "-k", "3", "-s", "3", "-o", d] + SMALL, [2],
            [f"'{d}' holds results of another workload", "count",
             "use --resume, another DIR, or --force to replace them"])
    theirs = ["notes.txt", "conv_extra.txt", "conv_1.npy", "conv_00001.npy.bak",
              "manifest.old", ".hidden"]
    for n in theirs:
        with open(os.path.join(d, n), "w") as f:
            f.write("the user's\n")
    # A temporary a killed run left: parconv's, so removed.
    open(os.path.join(d, ".conv_00004.npy.12345.tmp"), "w").close()
    ok_run(["-n", "40", "-k", "3", "-s", "3", "-o", d, "--force"] + SMALL)
    ref = pctest.fresh("stale_ref")
    ok_run(["-n", "40", "-k", "3", "-s", "3", "-o", ref] + SMALL)
    same_files(d, ref, theirs)
    for n in theirs:
        with open(os.path.join(d, n)) as f:
            expect(f.read() == "the user's\n", f"{n} was changed")


def t_same_workload_again():
    """The same workload again without --resume: recomputed, allowed, the
    same bytes."""
    d = pctest.fresh("again")
    ok_run(["-n", "40", "-k", "4", "-s", "3", "-o", d] + SMALL)
    ref = pctest.fresh("again_ref")
    ok_run(["-n", "40", "-k", "4", "-s", "3", "-o", ref] + SMALL)
    ok_run(["-n", "40", "-k", "4", "-s", "3", "-o", d] + SMALL)
    same_files(d, ref)


def t_unaccounted():
    """Planes without a manifest, and a manifest that is not one: refused
    without --force."""
    d = pctest.fresh("orphans", make=True)
    with open(os.path.join(d, "conv_00000.npy"), "w") as f:
        f.write("x")
    w = ["-n", "40", "-k", "2", "-s", "3", "-o", d] + SMALL
    refused(w, [2], ["holds results of another workload", "no manifest"])
    os.remove(os.path.join(d, "conv_00000.npy"))
    with open(os.path.join(d, "manifest.shard-0-of-2.json"), "w") as f:
        f.write("{not json")
    refused(w, [2], ["holds results of another workload",
                     "not a parconv manifest"])
    ok_run(w + ["--force"])
    expect(listing(d) == ["conv_00000.npy", "conv_00001.npy",
                          "manifest.json"], f"files {listing(d)}")


def t_force_usage():
    refused(["-n", "40", "-k", "2", "--force"], [2], ["--force needs -o"])
    refused(["-n", "40", "-k", "2", "-o", pctest.fresh("fu"), "--force",
             "--resume"], [2], ["--force", "--resume"])


def t_merge_twice():
    """Merged once: merge again exits 0, 'already merged'; a corrupt or
    missing plane is still an error (exit 1)."""
    d = pctest.fresh("twice")
    w = ["-n", "40", "-k", "7", "-s", "3", "-o", d] + SMALL
    for i in range(3):
        ok_run(w + ["--shard", f"{i}/3"])
    r = ok_run(["merge", d])
    expect("merged 3 shards" in r.stdout, f"stdout {r.stdout!r}")
    for _ in range(2):
        r = ok_run(["merge", d])
        expect("already merged: 7 kernels verified" in r.stdout,
               f"stdout {r.stdout!r}")
    p = os.path.join(d, "conv_00005.npy")
    with open(p, "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x01" * 8)
    refused(["merge", d], [1], ["conv_00005.npy", "checksum"])
    os.remove(p)
    refused(["merge", d], [1], ["conv_00005.npy", "missing"])


def t_merge_unsharded():
    """merge on a DIR of one unsharded run, and of --shard 0/1: verified,
    exit 0; on an incomplete one, exit 1; on an empty DIR, exit 2."""
    for extra in ([], ["--shard", "0/1"]):
        d = pctest.fresh("one")
        ok_run(["-n", "40", "-k", "5", "-s", "3", "-o", d] + SMALL + extra)
        r = ok_run(["merge", d])
        expect("already merged: 5 kernels verified" in r.stdout,
               f"{extra}: stdout {r.stdout!r}")
    p = os.path.join(d, "manifest.json")
    with open(p) as f:
        m = json.load(f)
    m["kernels"] = m["kernels"][:2]
    m["complete"] = False
    m["kernels_done"] = 2
    del m["checksum"]
    with open(p, "w") as f:
        json.dump(m, f)
    refused(["merge", d], [1], ["incomplete", "--resume"])
    refused(["merge", pctest.fresh("none", make=True)], [2], ["no manifests"])


def fft_shards(name, n, extra):
    """n shards of FFT (the default method unless extra says) into a fresh
    DIR, each shard's manifest read before the merge: (DIR, their FFT
    sizes)."""
    d = pctest.fresh(name)
    sizes = set()
    for i in range(n):
        ok_run(FFT + extra + ["--calibration", CAL, "-o", d, "--shard",
                              f"{i}/{n}"])
        with open(os.path.join(d, f"manifest.shard-{i}-of-{n}.json")) as f:
            m = json.load(f)
        expect(m["workload"]["method"] == "fft", f"shard {i} of {n}: method "
               f"{m['workload']['method']}, expected fft")
        sizes.add(tuple(m["fft_tile"]))
    return d, sizes


def t_fft_shards(n, extra):
    """n shards agree on the FFT size, merge, and equal byte for byte a
    single run pinned to that size."""
    d, sizes = fft_shards(f"fft{n}", n, extra)
    expect(len(sizes) == 1, f"the shards chose FFT sizes {sorted(sizes)}")
    r = ok_run(["merge", d])
    expect(f"merged {n} shards" in r.stdout, f"stdout {r.stdout!r}")
    P, Q = sizes.pop()
    ref = pctest.fresh(f"fft{n}_ref")
    ok_run(FFT + extra + ["--calibration", CAL, "-o", ref, "--fft-size",
                          f"{P}x{Q}"])
    same_files(d, ref)


def t_fft_adopt():
    """A DIR holding this workload computed with another FFT size (pinned
    by hand): later shards adopt it, so they merge into the same bytes."""
    d = pctest.fresh("adopt")
    ok_run(FFT + ["--calibration", CAL, "-o", d, "--fft-size", "128x128"])
    ref = pctest.fresh("adopt_ref")
    ok_run(FFT + ["--calibration", CAL, "-o", ref, "--fft-size", "128x128"])
    for i in range(2):
        ok_run(FFT + ["--calibration", CAL, "-o", d, "--shard", f"{i}/2"])
        with open(os.path.join(d, f"manifest.shard-{i}-of-2.json")) as f:
            tile = json.load(f)["fft_tile"]
        expect(tile == [128, 128], f"shard {i}: FFT size {tile}")
    ok_run(["merge", d])
    same_files(d, ref)
    # Asked for another size by hand: refused rather than mixed in.
    refused(FFT + ["--calibration", CAL, "-o", d, "--fft-size", "64x64"],
            [2], ["holds results of another workload", "FFT size 128x128"])


def main():
    global EXE, SCRATCH, CAL
    EXE, SCRATCH = pctest.arguments(
        "usage: trust_test.py PARCONV_PATH SCRATCH_DIR")
    CAL = pctest.fft_calibration(SCRATCH)
    case("--resume: a matrix of other values is refused, named",
         t_resume_other_values)
    case("--resume: a matrix with every sign flipped is refused",
         t_resume_signs_flipped)
    case("--resume: a bank of another dtype is refused, named",
         t_resume_other_dtype)
    case("merge: shards of different banks are refused, named",
         t_merge_other_inputs)
    case("stale outputs refused; --force removes exactly parconv's files",
         t_stale_outputs)
    case("the same workload again without --resume", t_same_workload_again)
    case("planes without a manifest, an unreadable manifest: refused",
         t_unaccounted)
    case("--force needs -o and excludes --resume", t_force_usage)
    case("merge twice: already merged; corrupt or missing still fail",
         t_merge_twice)
    case("merge on an unsharded and a --shard 0/1 DIR", t_merge_unsharded)
    for n in (2, 3, 7):
        case(f"{n} shards, default method (FFT): one size, same bytes",
             t_fft_shards, n, [])
    case("3 shards, --method fft: one size, same bytes", t_fft_shards, 3,
         ["--method", "fft"])
    case("later shards adopt the FFT size DIR records", t_fft_adopt)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
