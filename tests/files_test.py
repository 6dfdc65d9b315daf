#!/usr/bin/python3
"""How parconv makes files, in a directory that others may write too (a
shared group directory on a cluster): every file is written to a temporary
of an unguessable name, created O_EXCL, and renamed into place, so a
symbolic link planted at any name it would use (the old scheme's
predictable '.NAME.PID.tmp', or the final name) never leads a write to the
link's target; the clean-up of killed runs' temporaries removes only
regular files of exactly the shape parconv makes; files get the mode any
new file gets (0666 less the umask).

Run by meson as files_test.py PARCONV_PATH SCRATCH_DIR; pctest prints a
line per case and the totals.
"""
import json
import os
import shutil
import re
import subprocess
import sys
import threading
import time

import numpy as np

import pctest
from pctest import LIVE, case, expect, finish, fresh, ok_run

EXE = SCRATCH = None

# Six kernels of a small workload, written with -o.
K = 6
WORKLOAD = ["-n", "40x30", "-k", str(K), "-s", "5x4", "-S", "serial,omp",
            "-t", "2", "-q"]
VICTIM_TEXT = b"a file of someone else's that parconv must not touch\n"
# The shape of a temporary parconv makes of NAME: ".NAME.XXXXXX.tmp".
TEMP = r"\.%s\.[A-Za-z0-9]{6}\.tmp"


def victims(n, name):
    """n victim files outside the run's directory, each VICTIM_TEXT."""
    d = fresh(f"victims_{name}", make=True)
    paths = []
    for i in range(n):
        p = os.path.join(d, f"victim{i}")
        with open(p, "wb") as f:
            f.write(VICTIM_TEXT)
        paths.append(p)
    return paths


def untouched(paths):
    for p in paths:
        expect(not os.path.islink(p) and os.path.isfile(p),
               f"{p} is no longer a regular file")
        with open(p, "rb") as f:
            got = f.read()
        expect(got == VICTIM_TEXT, f"{p} was written: {got[:80]!r}")


def plant(links):
    """Symbolic links, path -> target."""
    for path, target in links.items():
        os.symlink(target, path)


def keep_planting(links, p):
    """Plants links (path -> target) again whenever one is gone, until p
    ends: the old scheme removed leftover temporaries first, so a link had
    to appear between that clean-up and the write. Returns the thread."""
    def loop():
        while p.poll() is None:
            for path, target in links.items():
                try:
                    os.symlink(target, path)
                except FileExistsError:
                    pass
            time.sleep(0.0005)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def held_run(args):
    """parconv args started through a shell that waits for a line on its
    stdin and then execs parconv, so parconv's pid (the shell's) is known
    before it starts. Returns (Popen, go): go() lets it run."""
    p = subprocess.Popen(["/bin/sh", "-c", 'read go; exec "$@"', "sh", EXE]
                         + list(args), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=SCRATCH, env=pctest.clean_env())
    LIVE.append(p)

    def go():
        p.stdin.write(b"go\n")
        p.stdin.flush()
    return p, go


def t_planted_temp_links():
    """Links at every name the old scheme would have used for this run's
    temporaries (.conv_NNNNN.npy.PID.tmp, .manifest.json.PID.tmp) and at
    the JSON report's final name, planted again as soon as one is gone:
    the run succeeds, every target is untouched, the report and planes are
    regular files."""
    d = fresh("planted", make=True)
    jp = os.path.join(d, "r.json")
    p, go = held_run(WORKLOAD + ["-o", d, "--json", jp])
    names = [f".conv_{k:05d}.npy.{p.pid}.tmp" for k in range(K)] + \
            [f".manifest.json.{p.pid}.tmp", f".r.json.{p.pid}.tmp"]
    vs = victims(len(names) + 1, "planted")
    links = {os.path.join(d, n): v for n, v in zip(names, vs)}
    plant(links)
    plant({jp: vs[-1]})
    planter = keep_planting(links, p)
    go()
    rc, out, err = finish(p)
    planter.join()
    expect(rc == 0, f"exit {rc}, stderr {err!r}")
    untouched(vs)
    expect(not os.path.islink(jp), "r.json is still the planted link")
    with open(jp) as f:
        j = json.load(f)
    expect(j["interrupted"] is False and j["kernels_done"] == K,
           f"report: interrupted {j['interrupted']}, kernels_done "
           f"{j['kernels_done']}")
    for k in range(K):
        f = os.path.join(d, f"conv_{k:05d}.npy")
        expect(os.path.isfile(f) and not os.path.islink(f), f"{f} missing")
    # The links at the old names are someone else's: left as they are.
    expect(all(os.path.islink(os.path.join(d, n)) for n in names),
           "a planted link was removed")


def t_planted_final_links():
    """Links at the final names (conv_NNNNN.npy of a DIR that holds this
    workload's manifest, written again; gen's matrix.npy and bank.npy) are
    replaced by the files, never written through."""
    ref = fresh("final_ref")
    ok_run(WORKLOAD + ["-o", ref])
    d = fresh("final_links", make=True)
    vs = victims(K + 2, "final")
    # The same workload's manifest, so that a run without --resume may
    # write the DIR again; its planes are links to the victims.
    shutil.copy(os.path.join(ref, "manifest.json"), d)
    plant({os.path.join(d, f"conv_{k:05d}.npy"): vs[k] for k in range(K)})
    ok_run(WORKLOAD + ["-o", d])
    for k in range(K):
        f = os.path.join(d, f"conv_{k:05d}.npy")
        expect(not os.path.islink(f), f"{f} is still a link")
        expect(open(f, "rb").read() ==
               open(os.path.join(ref, f"conv_{k:05d}.npy"), "rb").read(),
               f"{f} differs from a run into an empty DIR")
    g = fresh("gen_links", make=True)
    plant({os.path.join(g, "matrix.npy"): vs[K],
           os.path.join(g, "bank.npy"): vs[K + 1]})
    ok_run(["gen", "-n", "8", "-k", "2", "-s", "3", "-o", g, "-q"])
    untouched(vs)
    expect(np.load(os.path.join(g, "matrix.npy")).shape == (8, 8) and
           np.load(os.path.join(g, "bank.npy")).shape == (2, 3, 3),
           "gen's files are not the arrays")


def t_clean_up_only_own():
    """The clean-up of leftover temporaries (-o, --resume, shards) removes
    this shard's regular files of exactly the shape parconv makes, and
    nothing else: not a link or a directory of that shape, not a user's
    file that merely resembles one, not another shard's."""
    d = fresh("cleanup", make=True)
    vs = victims(1, "cleanup")
    gone = [".conv_00001.npy.Zz9Zz9.tmp", ".conv_00003.npy.abcdef.tmp",
            ".manifest.shard-1-of-2.json.Qq1Qq1.tmp"]
    kept = [".conv_00000.npy.Aa1Aa1.tmp",  # shard 0's
            ".conv_00005.npy.1234.tmp",    # not six characters
            ".conv_00005.npy.abcdefg.tmp",  # seven
            ".conv_00005.npy.Ab_123.tmp",  # not a letter or digit
            ".conv_5.npy.abcdef.tmp",      # not a plane's name
            "conv_00005.npy.abcdef.tmp",   # no leading dot
            ".conv_00005.npy.abcdef.tmp.keep",
            ".manifest.json.Qq1Qq1.tmp"]   # the whole run's manifest
    for n in gone + kept:
        with open(os.path.join(d, n), "wb") as f:
            f.write(b"x")
    link = ".conv_00003.npy.LiNk00.tmp"
    plant({os.path.join(d, link): vs[0]})
    os.mkdir(os.path.join(d, ".conv_00001.npy.DiR000.tmp"))
    kept += [link, ".conv_00001.npy.DiR000.tmp"]
    ok_run(WORKLOAD + ["-o", d, "--shard", "1/2"])
    have = set(os.listdir(d))
    expect(not set(gone) & have, f"not removed: {sorted(set(gone) & have)}")
    expect(set(kept) <= have, f"removed: {sorted(set(kept) - have)}")
    untouched(vs)
    temps = [n for n in have if re.fullmatch(TEMP % r"conv_\d{5}\.npy", n)
             and n not in kept]
    expect(not temps, f"the run left temporaries {temps}")


def t_modes():
    """Files made through temporaries get 0666 less the umask, as files
    made by open(O_CREAT) do: planes, manifest, JSON report, gen's."""
    d = fresh("modes", make=True)
    jp = os.path.join(d, "r.json")
    g = os.path.join(d, "gen")
    for mask in (0o022, 0o007):
        for p in (jp,):
            if os.path.exists(p):
                os.unlink(p)
        pctest.run(WORKLOAD + ["-o", os.path.join(d, "out"), "--json", jp],
                   preexec_fn=lambda m=mask: os.umask(m))
        pctest.run(["gen", "-n", "5", "-k", "1", "-s", "2", "-o", g, "-q"],
                   preexec_fn=lambda m=mask: os.umask(m))
        for f in (jp, os.path.join(d, "out", "conv_00000.npy"),
                  os.path.join(d, "out", "manifest.json"),
                  os.path.join(g, "matrix.npy")):
            mode = os.stat(f).st_mode & 0o777
            expect(mode == 0o666 & ~mask, f"umask {mask:03o}: {f} has mode "
                   f"{mode:03o}, expected {0o666 & ~mask:03o}")


def t_json_failed_run_keeps_old():
    """A run that fails after --json FILE was checked leaves FILE as it was
    (it was never truncated) and no temporary beside it."""
    d = fresh("json_old", make=True)
    jp = os.path.join(d, "r.json")
    with open(jp, "w") as f:
        f.write("old report\n")
    r = pctest.run(["-n", "10", "-k", "2", "-s", "3", "--json", jp, "-m",
                    os.path.join(d, "missing.npy")])
    expect(r.returncode != 0, "the run did not fail")
    expect(open(jp).read() == "old report\n", "FILE was changed")
    expect(os.listdir(d) == ["r.json"], f"left {sorted(os.listdir(d))}")


def t_sweep_files():
    """sweep's --csv and --json are written whole too: links planted at
    their names are replaced, their targets untouched."""
    d = fresh("sweep_links", make=True)
    vs = victims(4, "sweep")
    names = [os.path.join(d, n) for n in ("k.csv", "k.json", "t.csv",
                                          "t.json")]
    plant(dict(zip(names, vs)))
    ok_run(["sweep", "ksize", "--from", "3", "--to", "5", "-n", "40",
            "-k", "2", "--runs", "1", "--csv", names[0], "--json", names[1],
            "-q"])
    ok_run(["sweep", "threads", "-n", "40", "-k", "2", "--runs", "1",
            "--max", "1", "--csv", names[2], "--json", names[3], "-q"])
    untouched(vs)
    for n in names:
        expect(not os.path.islink(n) and os.path.getsize(n) > 0,
               f"{n} is not the sweep's file")


def main():
    global EXE, SCRATCH
    EXE, SCRATCH = pctest.arguments(
        "usage: files_test.py PARCONV_PATH SCRATCH_DIR")
    case("links at the old temporary names and at --json FILE: targets "
         "untouched", t_planted_temp_links)
    case("links at the final names are replaced, not written through",
         t_planted_final_links)
    case("clean-up removes only this shard's own regular temporaries",
         t_clean_up_only_own)
    case("files get 0666 less the umask", t_modes)
    case("a failed run leaves --json FILE as it was", t_json_failed_run_keeps_old)
    case("sweep's --csv and --json replace links, not write through them",
         t_sweep_files)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
