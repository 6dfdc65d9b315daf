#!/usr/bin/python3
"""The output directory's files as other tools leave them: a manifest that
a tool rewrote (other indentation, other key order, as Python's json.dump or
jq write it) still serves --resume and merge, and a calibration file
reformatted so is still read.

Run by meson as outdir_test.py PARCONV_PATH SCRATCH_DIR; pctest prints a
line per case and the totals.
"""
import json
import os
import sys

import pctest
from pctest import case, clean_env, expect

EXE = SCRATCH = None

# A small workload: 7 kernels, so two shards hold 4 and 3 of them.
WORKLOAD = ["-n", "60x50", "-k", "7", "-s", "5x4", "-S", "omp", "-t", "2",
            "-q"]


def parconv(args, code=0):
    """parconv args in SCRATCH (60 s at most); its exit status must be
    code, unless code is None."""
    r = pctest.run(args, 60, env=clean_env(), cwd=SCRATCH)
    expect(code is None or r.returncode == code, f"parconv {' '.join(args)}:"
           f" exit {r.returncode}, not {code}; stderr {r.stderr.strip()!r}")
    return r


def files(d):
    """Every file of d, name -> bytes."""
    out = {}
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


def reformat(path):
    """Rewrites a JSON file as another tool would: one-space indentation,
    keys sorted."""
    with open(path) as f:
        m = json.load(f)
    with open(path, "w") as f:
        json.dump(m, f, indent=1, sort_keys=True)
    return m


_reference = {}


def reference():
    """The files of one uninterrupted run of WORKLOAD (made once)."""
    if not _reference:
        d = pctest.fresh("reference")
        parconv(WORKLOAD + ["-o", d])
        _reference.update(files(d))
    return _reference


def t_resume_reformatted():
    """A reformatted manifest and a deleted plane: --resume recomputes the
    plane, and the DIR ends byte-identical to the uninterrupted run's."""
    ref = reference()
    d = pctest.fresh("resume")
    parconv(WORKLOAD + ["-o", d])
    m = reformat(os.path.join(d, "manifest.json"))
    expect(len(m["kernels"]) == 7, f"manifest lists {len(m['kernels'])}")
    os.remove(os.path.join(d, "conv_00003.npy"))
    r = parconv([a for a in WORKLOAD if a != "-q"] + ["-o", d, "--resume"])
    expect("6 of 7 kernels complete" in r.stdout,
           f"the report does not say 6 of 7 were kept: {r.stdout!r}")
    got = files(d)
    expect(sorted(got) == sorted(ref), f"files {sorted(got)}")
    for n in ref:
        expect(got[n] == ref[n], f"{n} differs from the uninterrupted run's")


def t_resume_other_workload_named():
    """A reformatted manifest of another workload: refused, exit 2, naming
    the field that differs and both values."""
    d = pctest.fresh("resume_other")
    parconv(WORKLOAD + ["-o", d])
    reformat(os.path.join(d, "manifest.json"))
    r = parconv(WORKLOAD + ["-o", d, "--resume", "--seed", "43"], None)
    expect(r.returncode == 2, f"exit {r.returncode}, stderr {r.stderr!r}")
    why = r.stderr.split(d, 1)[-1]
    expect("different workload" in r.stderr and "seed" in why and "42" in why
           and "43" in why, f"the message does not name seed 42 and 43: "
           f"{r.stderr!r}")


def t_resume_not_manifest():
    """A manifest without its kernels list is refused with what is
    missing, exit 2."""
    d = pctest.fresh("resume_broken")
    parconv(WORKLOAD + ["-o", d])
    p = os.path.join(d, "manifest.json")
    m = reformat(p)
    del m["kernels"]
    with open(p, "w") as f:
        json.dump(m, f)
    r = parconv(WORKLOAD + ["-o", d, "--resume"], None)
    expect(r.returncode == 2 and "not a parconv manifest" in r.stderr and
           "kernels" in r.stderr, f"exit {r.returncode}, stderr {r.stderr!r}")


def shards(name):
    """Two shards of WORKLOAD into a fresh DIR; returns it."""
    d = pctest.fresh(name)
    for i in range(2):
        parconv(WORKLOAD + ["-o", d, "--shard", f"{i}/2"])
    return d


def t_merge_reformatted():
    """Two shards, one manifest reformatted: merge succeeds and the DIR is
    byte-identical to a single run's."""
    ref = reference()
    d = shards("merge")
    reformat(os.path.join(d, "manifest.shard-1-of-2.json"))
    r = parconv(["merge", d])
    expect("merged 2 shards" in r.stdout, f"stdout {r.stdout!r}")
    got = files(d)
    expect(sorted(got) == sorted(ref), f"files {sorted(got)}")
    for n in ref:
        expect(got[n] == ref[n], f"{n} differs from the single run's")


def t_merge_other_workload():
    """A shard of another workload: merge names the field, exit 1."""
    d = shards("merge_other")
    p = os.path.join(d, "manifest.shard-1-of-2.json")
    m = reformat(p)
    m["workload"]["mode"] = "same"
    with open(p, "w") as f:
        json.dump(m, f)
    r = parconv(["merge", d], None)
    expect(r.returncode == 1 and "mode" in r.stderr and "same" in r.stderr,
           f"exit {r.returncode}, stderr {r.stderr!r}")


def t_merge_corrupt_plane():
    """A plane that does not match its checksum: merge names it, exit 1,
    and writes no manifest.json."""
    d = shards("merge_corrupt")
    p = os.path.join(d, "conv_00005.npy")
    with open(p, "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\x01" * 8)
    r = parconv(["merge", d], None)
    expect(r.returncode == 1 and "conv_00005.npy" in r.stderr,
           f"exit {r.returncode}, stderr {r.stderr!r}")
    expect(not os.path.exists(os.path.join(d, "manifest.json")),
           "a failed merge wrote manifest.json")


def t_merge_incomplete():
    """A shard whose manifest is not complete: named, with the hint to
    resume it."""
    d = shards("merge_incomplete")
    p = os.path.join(d, "manifest.shard-0-of-2.json")
    m = reformat(p)
    m["kernels"] = m["kernels"][:2]
    m["complete"] = False
    m["kernels_done"] = 2
    del m["checksum"]
    with open(p, "w") as f:
        json.dump(m, f, indent=4)
    r = parconv(["merge", d], None)
    expect(r.returncode == 1 and "shard 0 of 2 is incomplete" in r.stderr and
           "--resume" in r.stderr, f"exit {r.returncode}, stderr {r.stderr!r}")


def t_calibration_layout():
    """A calibration file that a tool reformatted (json.dump indent=1,
    sort_keys=True, as jq would) is read like the one parconv calibrate
    writes."""
    p = os.path.join(SCRATCH, "layout.cal")
    pctest.write_calibration(p, {("f64", "generic"): (1e-15, 1e-3),
                                 ("f32", "avx2"): (2e-11, 3e-10)},
                             indent=1, sort_keys=True)
    r = parconv(["-n", "100", "-k", "2", "-s", "41", "-S", "serial", "--isa",
                "generic", "--calibration", p, "--json", "-"])
    j = json.loads(r.stdout)
    expect(j["model"]["constants"] == p, f"constants {j['model']}")
    expect(j["workload"]["method"] == "direct", f"method "
           f"{j['workload']['method']}: the file's constants were not used")


def main():
    global EXE, SCRATCH
    EXE, SCRATCH = pctest.arguments(
        "usage: outdir_test.py PARCONV_PATH SCRATCH_DIR")
    case("--resume from a reformatted manifest, a plane deleted",
         t_resume_reformatted)
    case("--resume, reformatted manifest of another workload: field named",
         t_resume_other_workload_named)
    case("--resume, manifest without kernels: refused", t_resume_not_manifest)
    case("merge with a reformatted shard manifest", t_merge_reformatted)
    case("merge, a shard of another workload: field named",
         t_merge_other_workload)
    case("merge, a corrupt plane: named, no manifest", t_merge_corrupt_plane)
    case("merge, an incomplete shard: named", t_merge_incomplete)
    case("a reformatted calibration file is read", t_calibration_layout)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
