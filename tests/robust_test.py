#!/usr/bin/python3
"""Batch-job robustness: -o written in batches (temporary name, fsync,
rename; the manifest from the start and after each batch), SIGTERM/SIGINT
between batches, SIGKILL at any moment, --resume to byte-identical
results, procs worker faults (--retries, --worker-timeout), a full disk, a
file-size limit, unwritable and vanishing output directories, hostile
inputs, --max-mem and progress on stderr.

Usage: robust_test.py PARCONV_PATH SCRATCH_DIR

Prints 'ok   name', 'FAIL name: why' or 'skip name: why' per case and
'N passed, M failed' at the end; exits 1 if anything failed. Every parconv
call has a timeout; whatever this script starts is killed (by pid) after
each case, and the tmpfs it mounts (as root) is unmounted.

Batches: parconv sizes a batch at about two seconds of work as its cost
model estimates it. The -o workloads here run with a calibration file
(--calibration) whose constants are far above the built-in ones (direct
50x, FFT about 100x), so that batches are a tenth of a second or so and a
run of one to three seconds has 5 to 16 of them: a signal can then land
between batches, which the tests see by watching manifest.json
("kernels_done" strictly between 0 and K) rather than by sleeping. The
calibration does not enter the manifest's workload (--resume runs use it
too, only to keep their batches small).

A file-size limit can only be tested on the manifest: parconv's own
memory (the plan and the output arena, memfd mappings at least one output
plane large) is sized against RLIMIT_FSIZE too and fails first; the cases
that show it are expected to fail until that is changed.
"""
import filecmp
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import scipy.signal

import pctest
# The runs go to the parconv under test in SCRATCH, in the environment ENV;
# what a case spawns (LIVE) and the workers it notes (SEEN) are killed
# after it.
from pctest import (LIVE, SEEN, Skip, case, cleanup, expect, finish, fresh,
                    manifest, note_workers, ok_run, one_line, refused, run,
                    same_files, send, spawn, stat, wait_gone, workers_of)

TIMEOUT = 60
EXE = None
SCRATCH = None
ENV = None
CAL = None
T0 = time.monotonic()

# Direct: 256 kernels of 200x200 on 300x300, valid -> 101x101 (80 KB a
# file, 21 MB in all): about 1.5 s (omp) to 3 s (procs) here, batches of 16.
W_D = ["-n", "300", "-s", "200", "--mode", "valid", "-k", "256",
       "--method", "direct"]
K_D = 256
# The same with 64 kernels (4 batches), for the worker faults and the
# cases that damage a finished DIR.
W_DS = ["-n", "300", "-s", "200", "--mode", "valid", "-k", "64",
        "--method", "direct"]
K_DS = 64
# FFT: 128 kernels of 300x300 on 400x400, valid (one 400x400 transform per
# kernel), 5 or 6 batches.
W_F = ["-n", "400", "-s", "300", "--mode", "valid", "-k", "128",
       "--method", "fft"]
K_F = 128
# One procs batch of several seconds (the built-in cost model makes the
# whole bank one batch): for --worker-timeout on healthy workers.
W_LONG = ["-n", "3000", "-k", "160", "--method", "direct"]

REF = {}      # workload name -> finished reference DIR


# ---------------------------------------------------------------------------
# the output directory

def conv_files(d):
    return sorted(n for n in os.listdir(d)
                  if re.fullmatch(r"conv_\d{5}\.npy", n))


def temp_files(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".tmp"))


def check_dir(d, count, shape, clean=True):
    """The state a run leaves at any moment: the manifest parses, says
    complete only when all are, lists only files that exist (each loads
    with the full shape); every conv_*.npy under its final name is whole.
    clean: the run stopped on its own (no temporaries, no file that the
    manifest does not list). Returns the manifest."""
    m = manifest(d)
    expect(m is not None, f"no manifest.json in {d}")
    listed = m["kernels"]
    expect(m["kernels_done"] == len(listed),
           f"kernels_done {m['kernels_done']} but {len(listed)} listed")
    expect(m["complete"] is (len(listed) == count),
           f"complete {m['complete']} with {len(listed)} of {count} listed")
    for e in listed:
        name = "conv_%05d.npy" % e["index"]
        expect(e["file"] == name, f"manifest entry {e}")
        expect(os.path.exists(os.path.join(d, name)),
               f"the manifest lists {name}, which does not exist")
        expect(re.fullmatch(r"[0-9a-f]{16}", e["checksum"]),
               f"manifest entry {e}")
    for n in conv_files(d):
        try:
            a = np.load(os.path.join(d, n))
        except Exception as e:
            raise AssertionError(f"{n} under its final name does not load: "
                                 f"{e}")
        expect(a.shape == tuple(shape),
               f"{n} under its final name has shape {a.shape}, not {shape}")
    if clean:
        expect(not temp_files(d), f"temporary files left: {temp_files(d)}")
        extra = set(conv_files(d)) - {e["file"] for e in listed}
        expect(not extra, f"files the manifest does not list: "
               f"{sorted(extra)[:5]}")
    return m


def wait_partial(p, d, count, above=0, procs=False, timeout=TIMEOUT):
    """Waits until d's manifest lists more than `above` and fewer than
    count kernels (the run is between batches, with some done); notes the
    procs workers seen meanwhile. Returns the manifest."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if procs:
            note_workers(p)
        m = manifest(d)
        if m and above < m["kernels_done"] < count:
            return m
        if p.poll() is not None:
            raise AssertionError(
                f"parconv ended (status {p.returncode}, stderr "
                f"{p.stderr.read()!r}) before its manifest showed between "
                f"{above} and {count} kernels done: the workload is too "
                f"short to interrupt mid-run here")
        time.sleep(0.003)
    raise AssertionError(f"no partial manifest within {timeout}s")


WL = {"direct": (W_D, K_D), "fft": (W_F, K_F), "small": (W_DS, K_DS)}


def with_count(wl, k):
    """wl with -k k instead."""
    a = list(wl)
    a[a.index("-k") + 1] = str(k)
    return a


def wl_args(strategy, wl):
    return (["-S", strategy] + (["-p", "2"] if strategy == "procs" else []) +
            WL[wl][0] + ["-q", "--calibration", CAL])


# ---------------------------------------------------------------------------
# references: uninterrupted runs that every later DIR is compared with

def t_reference(wl):
    d = fresh(f"ref_{wl}")
    r = ok_run(wl_args("omp", wl)[:-3] + ["--calibration", CAL, "-o", d])
    count = WL[wl][1]
    m = check_dir(d, count, manifest(d)["shape"])
    expect(m["complete"] is True and m["kernels_done"] == count,
           f"complete {m['complete']}, kernels_done {m['kernels_done']}")
    expect(len(conv_files(d)) == count, f"{len(conv_files(d))} files")
    mb = re.search(r"(\d+) kernels a batch", r.stdout)
    if mb:
        expect(count // int(mb.group(1)) >= 4,
               f"{mb.group(1)} kernels a batch: fewer than 4 batches, too "
               f"few to interrupt between them")
    # A second strategy into the same DIR: same bytes (nothing about how
    # the run went is in the manifest).
    if wl == "small":
        d2 = fresh("ref_small_procs")
        ok_run(wl_args("procs", wl) + ["-o", d2])
        same_files(d2, d)
    REF[wl] = d


# ---------------------------------------------------------------------------
# signals mid-run, then --resume

INTERRUPTED = re.compile(r"^parconv: interrupted: (\d+) of (\d+) kernels "
                         r"complete; rerun with --resume$")


def t_chain(strategy, wl, sigs):
    """A run into a fresh DIR gets sigs[0] once some but not all kernels
    are done; each next signal goes to a --resume run once it has added
    kernels; a last --resume finishes. After a SIGTERM/SIGINT: exit
    143/130, the interrupted line, a manifest that matches it, no
    temporaries, no worker left. After a SIGKILL: whatever is under a final
    name is whole. At the end the DIR equals the uninterrupted run's."""
    expect(wl in REF, "no reference run")
    count = WL[wl][1]
    d = fresh(f"chain_{strategy}_{wl}")
    shape = manifest(REF[wl])["shape"]
    done = 0
    for i, sig in enumerate(sigs):
        args = wl_args(strategy, wl) + ["-o", d] + (["--resume"] if i else [])
        p = spawn(args)
        m = wait_partial(p, d, count, above=done,
                         procs=strategy == "procs")
        os.kill(p.pid, sig)
        rc, out, err = finish(p)
        what = f"run {i + 1} ({signal.Signals(sig).name} after " \
               f"{m['kernels_done']} kernels)"
        expect(out == "", f"{what}: stdout {out[:100]!r}")
        if sig == signal.SIGKILL:
            expect(rc == -signal.SIGKILL, f"{what}: status {rc}")
            check_dir(d, count, shape, clean=False)
        else:
            expect(rc == 128 + sig, f"{what}: exit {rc}, expected "
                   f"{128 + sig} (stderr {err!r})")
            line = one_line(err, what)
            mm = INTERRUPTED.match(line)
            expect(mm, f"{what}: stderr {line!r}")
            m = check_dir(d, count, shape, clean=True)
            expect(int(mm.group(2)) == count and
                   int(mm.group(1)) == m["kernels_done"],
                   f"{what}: says {mm.group(1)} of {mm.group(2)}, the "
                   f"manifest lists {m['kernels_done']} of {count}")
            expect(m["complete"] is False or m["kernels_done"] == count,
                   f"{what}: manifest complete {m['complete']}")
        left = wait_gone(SEEN)
        expect(not left, f"{what}: workers {left} outlived parconv")
        done = manifest(d)["kernels_done"]
    r = run(wl_args(strategy, wl) + ["-o", d, "--resume"])
    expect(r.returncode == 0 and r.stdout == "" and r.stderr == "",
           f"final --resume: exit {r.returncode}, stderr {r.stderr!r}")
    expect(not temp_files(d), f"--resume left temporaries {temp_files(d)}")
    same_files(d, REF[wl])


def t_term_without_output():
    """No -o: SIGTERM still stops between batches, exit 143, one line."""
    args = ["-S", "omp"] + with_count(W_D, 768) + ["-q", "--calibration",
                                                   CAL]
    p = spawn(args)
    time.sleep(0.8)
    expect(p.poll() is None, "the run ended within 0.8 s: too short")
    p.send_signal(signal.SIGTERM)
    rc, out, err = finish(p)
    expect(rc == 143, f"exit {rc}, expected 143 (stderr {err!r})")
    line = one_line(err, "SIGTERM without -o")
    expect(re.match(r"parconv: interrupted by signal 15\b", line),
           f"stderr {line!r}")
    expect(out == "", f"stdout {out!r}")


def json_left(d):
    """The JSON report's temporaries left in d."""
    return sorted(n for n in os.listdir(d)
                  if re.fullmatch(r"\.r\.json\.[A-Za-z0-9]{6}\.tmp", n))


def t_json_interrupted(sig, second):
    """--json FILE of a run a signal stops (in the first strategy, or with
    second in the second one, the first complete): FILE keeps its old
    content while the run goes (nothing truncates it at the start), then
    is a whole JSON report: "interrupted": true, the signal, the kernels
    done (what the manifest lists), the runs that completed and where it
    stopped; exit 128 + signal, no temporary left beside FILE."""
    d = fresh(f"json_{signal.Signals(sig).name}", make=True)
    jp, out = os.path.join(d, "r.json"), os.path.join(d, "out")
    with open(jp, "w") as f:
        f.write("old report\n")
    args = [a for a in wl_args("omp,serial" if second else "omp", "direct")
            if a != "-q"]
    log = os.path.join(d, "log")
    with open(log, "w") as f:
        p = subprocess.Popen([EXE] + args + ["-o", out, "--json", jp],
                             stdout=f, stderr=subprocess.PIPE, text=True,
                             cwd=SCRATCH, env=ENV)
    LIVE.append(p)
    if second:
        # omp's box is printed (and flushed) once its run is complete.
        deadline = time.monotonic() + TIMEOUT
        while "Executed in" not in open(log).read():
            expect(p.poll() is None and time.monotonic() < deadline,
                   f"omp did not complete while serial ran (status "
                   f"{p.poll()})")
            time.sleep(0.003)
    else:
        wait_partial(p, out, K_D)
    expect(open(jp).read() == "old report\n", "FILE changed mid-run")
    os.kill(p.pid, sig)
    rc, _, err = finish(p)
    expect(rc == 128 + sig, f"exit {rc}, expected {128 + sig} (stderr "
           f"{err!r})")
    with open(jp) as f:
        j = json.load(f)
    m = manifest(out)
    expect(j["interrupted"] is True and j["signal"] == sig,
           f"interrupted {j['interrupted']}, signal {j['signal']}")
    expect(j["kernels_done"] == m["kernels_done"],
           f"kernels_done {j['kernels_done']}, the manifest lists "
           f"{m['kernels_done']}")
    cut = j["interrupted_run"]
    if second:
        expect([r["strategy"] for r in j["runs"]] == ["omp"] and
               j["runs"][0]["kernels"] == K_D and j["kernels_done"] == K_D
               and j["verified"] is True, f"runs {j['runs']}")
        expect(cut["strategy"] == "serial", f"interrupted_run {cut}")
    else:
        expect(j["runs"] == [] and j["verified"] is None,
               f"runs {j['runs']}, verified {j['verified']}")
        expect(cut["strategy"] == "omp" and
               0 < cut["kernels"] == j["kernels_done"] < K_D,
               f"interrupted_run {cut}, kernels_done {j['kernels_done']}")
    expect(not json_left(d), f"temporaries left: {json_left(d)}")


def t_header_before_kill():
    """The text report's header is flushed before the timed runs: a log
    that stdout goes to has it while the run goes (not only when the run
    ends), and keeps it after a SIGKILL."""
    d = fresh("header_log", make=True)
    log = os.path.join(d, "log")
    with open(log, "wb") as f:
        p = subprocess.Popen([EXE, "-S", "omp"] + with_count(W_D, 768) +
                             ["--calibration", CAL], stdout=f,
                             stderr=subprocess.DEVNULL, cwd=SCRATCH, env=ENV)
    LIVE.append(p)
    deadline = time.monotonic() + TIMEOUT
    while "\n\n" not in open(log).read():
        expect(p.poll() is None, f"parconv ended (status {p.returncode}) "
               f"before the log had the header")
        expect(time.monotonic() < deadline, "no header within "
               f"{TIMEOUT}s")
        time.sleep(0.01)
    # The run's box comes when the run ends: seen with the header, the
    # header came only then.
    expect("Executed in" not in open(log).read(), "the header reached the "
           "log only when the run ended")
    p.kill()
    p.wait()
    text = open(log).read()
    expect(re.match(r"parconv \S+: 768 kernels of 200x200 on a 300x300 "
                    r"matrix\n", text) and "\n  threads " in text,
           f"log {text[:300]!r}")


# ---------------------------------------------------------------------------
# --resume on damaged, finished, foreign and missing DIRs

def copy_ref(name, wl="small"):
    d = fresh(name)
    shutil.copytree(REF[wl], d)
    return d


def t_resume_repairs():
    """A finished DIR, damaged: a byte of data flipped, a file truncated,
    one deleted, one replaced by a wrong but well-formed file, a leftover
    temporary. --resume recomputes exactly those, keeps the others (same
    inode: not rewritten) and removes the temporary."""
    d = copy_ref("resume_damaged")
    path = lambda k: os.path.join(d, "conv_%05d.npy" % k)
    with open(path(5), "r+b") as f:
        f.seek(-8, os.SEEK_END)
        b = f.read(1)
        f.seek(-8, os.SEEK_END)
        f.write(bytes([b[0] ^ 1]))
    with open(path(9), "r+b") as f:
        f.truncate(os.path.getsize(path(9)) - 100)
    os.unlink(path(12))
    a = np.load(path(20))
    np.save(path(20), a + 1)
    tmp = os.path.join(d, ".conv_00030.npy.a1B2c3.tmp")
    with open(tmp, "wb") as f:
        f.write(b"half a file")
    kept = {k: os.stat(path(k)).st_ino for k in (0, 1, 33, 63)}
    damaged = {k: os.stat(path(k)).st_ino for k in (5, 9, 20)}
    r = run(wl_args("omp", "small") + ["-o", d, "--resume"])
    expect(r.returncode == 0, f"exit {r.returncode}, stderr {r.stderr!r}")
    same_files(d, REF["small"])
    moved = [k for k, ino in kept.items() if os.stat(path(k)).st_ino != ino]
    expect(not moved, f"complete files {moved} were rewritten")
    same = [k for k, ino in damaged.items() if os.stat(path(k)).st_ino == ino]
    expect(not same, f"damaged files {same} were not rewritten")


def t_resume_complete():
    """--resume on a finished DIR computes nothing and rewrites no file."""
    d = copy_ref("resume_complete")
    inodes = {n: os.stat(os.path.join(d, n)).st_ino for n in conv_files(d)}
    r = run(wl_args("procs", "small") + ["-o", d, "--resume"])
    expect(r.returncode == 0 and r.stderr == "",
           f"exit {r.returncode}, stderr {r.stderr!r}")
    same_files(d, REF["small"])
    moved = [n for n, i in inodes.items()
             if os.stat(os.path.join(d, n)).st_ino != i]
    expect(not moved, f"{len(moved)} complete files rewritten: {moved[:3]}")


def t_resume_fresh():
    """--resume into a DIR that does not exist yet is a plain run."""
    d = fresh("resume_fresh") + "/sub"
    r = run(wl_args("omp", "small") + ["-o", d, "--resume"])
    expect(r.returncode == 0, f"exit {r.returncode}, stderr {r.stderr!r}")
    same_files(d, REF["small"])


def refused_untouched(d, args, sub, field=None):
    """args (a --resume into d) is refused: exit 2, one line mentioning
    every string of sub, and, after the DIR's name, field (the name of what
    differs); d is left as it was."""
    before = {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}
    line = refused(args, (2,), sub)
    if field:
        why = line.split(d, 1)[-1]
        expect(field in why, f"the message does not name what differs "
               f"({field!r}): {why!r}")
    after = {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d)}
    expect(before == after, "the refused run changed the DIR")


def t_resume_other_workload():
    """--resume with another seed, count or dtype than the DIR's: refused,
    exit 2, one line that names what differs, the DIR untouched."""
    problems = []
    for i, (extra, field) in enumerate(((["--seed", "43"], "seed"),
                                        (["-k", "65"], "count"),
                                        (["--dtype", "f32"], "dtype"))):
        d = copy_ref(f"resume_other{i}")
        args = wl_args("omp", "small") + ["-o", d, "--resume"]
        if extra[0] == "-k":
            args = with_count(args, 65)
        else:
            args += extra
        try:
            refused_untouched(d, args, ["different workload"], field)
        except AssertionError as e:
            problems.append(f"{' '.join(extra)}: {e}")
    expect(not problems, "; ".join(problems))


def t_resume_bad_manifest():
    """A manifest.json that is not parconv's: refused, nothing touched."""
    d = copy_ref("resume_foreign")
    with open(os.path.join(d, "manifest.json"), "w") as f:
        f.write('{"hello": "world"}\n')
    refused_untouched(d, wl_args("omp", "small") + ["-o", d, "--resume"],
                      ["manifest"])


# ---------------------------------------------------------------------------
# procs worker faults

def stop_both_workers(p, timeout=20):
    """SIGSTOPs the two workers of one procs batch of p at once; returns
    their pids once /proc shows both stopped. If one had already ended,
    the other is let go (SIGCONT) and a later batch is tried."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w = workers_of(p.pid)
        SEEN.update(w)
        if len(w) == 2:
            for pid in w:
                send(pid, signal.SIGSTOP)
            state = {}
            until = time.monotonic() + 1
            while time.monotonic() < until and len(state) < 2:
                for pid, t in w.items():
                    st = stat(pid)
                    if st is None or st[2] != t or st[0] == "Z":
                        state[pid] = "gone"
                    elif st[0] in "Tt":
                        state[pid] = "stopped"
                time.sleep(0.001)
            if list(state.values()) == ["stopped", "stopped"]:
                return sorted(w)
            for pid in w:
                send(pid, signal.SIGCONT)
        if p.poll() is not None:
            raise AssertionError(f"parconv ended (status {p.returncode}) "
                                 f"before its workers could be stopped")
        time.sleep(0.002)
    raise AssertionError(f"no two workers could be stopped within {timeout}s")


def stop_a_worker(p, timeout=20):
    """SIGSTOPs one live procs worker of p; returns (pid, start time) once
    /proc shows it stopped (so it was alive, mid-share, when stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, t in workers_of(p.pid).items():
            SEEN[pid] = t
            if not send(pid, signal.SIGSTOP):
                continue
            until = time.monotonic() + 1
            while time.monotonic() < until:
                st = stat(pid)
                if st is None or st[2] != t or st[0] == "Z":
                    break
                if st[0] in "Tt":
                    return pid, t
                time.sleep(0.001)
        if p.poll() is not None:
            raise AssertionError(f"parconv ended (status {p.returncode}) "
                                 f"before a worker could be stopped")
        time.sleep(0.002)
    raise AssertionError(f"no worker could be stopped within {timeout}s")


def fault_run(d, extra):
    return spawn(wl_args("procs", "small") + ["-o", d] + extra)


def t_worker_killed_retried():
    """SIGKILL a worker with --retries 1: its share is computed again, exit
    0, one warning line naming it and signal 9, the same bytes."""
    d = fresh("fault_kill_retry")
    p = fault_run(d, ["--retries", "1"])
    pid, _ = stop_a_worker(p)
    os.kill(pid, signal.SIGKILL)
    rc, out, err = finish(p)
    expect(rc == 0, f"exit {rc}, expected 0 (stderr {err!r})")
    line = one_line(err, "retried worker")
    expect(line.startswith("parconv: warning: ") and "signal 9" in line and
           str(pid) in line, f"warning {line!r} does not name worker "
           f"{pid} and signal 9")
    same_files(d, REF["small"])


def t_two_workers_retried():
    """Both workers of one batch SIGKILLed (both stopped first),
    --retries 2: exit 0, the same bytes, and a
    warning for each retry (the help says 'a warning each')."""
    d = fresh("fault_kill_two")
    p = fault_run(d, ["--retries", "2"])
    a, b = stop_both_workers(p)
    os.kill(a, signal.SIGKILL)
    os.kill(b, signal.SIGKILL)
    rc, out, err = finish(p)
    expect(rc == 0, f"exit {rc}, expected 0 (stderr {err!r})")
    same_files(d, REF["small"])
    lines = err.splitlines()
    named = [pid for pid in (a, b)
             if any(f"pid {pid}" in l and l.startswith("parconv: warning: ")
                    for l in lines)]
    expect(len(lines) == 2 and named == [a, b], f"expected a warning line "
           f"for each of workers {a} and {b}, stderr {err!r}")


def t_retries_exhausted():
    """Two workers killed, --retries 1: the first is retried (a warning),
    the second fails the run: exit 1, its error line last."""
    d = fresh("fault_kill_exhausted")
    p = fault_run(d, ["--retries", "1"])
    a, b = stop_both_workers(p)
    os.kill(a, signal.SIGKILL)
    time.sleep(0.2)
    os.kill(b, signal.SIGKILL)
    rc, out, err = finish(p)
    expect(rc == 1, f"exit {rc}, expected 1 (stderr {err!r})")
    lines = err.splitlines()
    expect(lines and "signal 9" in lines[-1] and
           not lines[-1].startswith("parconv: warning") and
           all(l.startswith("parconv: warning: ") for l in lines[:-1]) and
           len(lines) <= 2, f"stderr {err!r}")
    expect(not wait_gone(SEEN), "workers outlived parconv")
    m = check_dir(d, K_DS, manifest(REF["small"])["shape"])
    expect(m["complete"] is False, "manifest says complete")


def t_worker_hung(retries):
    """SIGSTOP a worker with --worker-timeout 2: without retries exit 1,
    one line naming it 'hung', no worker left, the manifest not complete;
    with --retries 1 a warning and the same bytes."""
    d = fresh(f"fault_hung_{retries}")
    extra = ["--worker-timeout", "2"] + \
        (["--retries", str(retries)] if retries else [])
    p = fault_run(d, extra)
    pid, _ = stop_a_worker(p)
    rc, out, err = finish(p)
    line = one_line(err, "hung worker")
    expect("hung" in line and str(pid) in line,
           f"stderr does not say worker {pid} hung: {line!r}")
    left = wait_gone(SEEN)
    expect(not left, f"workers {left} outlived parconv (stopped: {pid})")
    if retries:
        expect(rc == 0, f"exit {rc}, expected 0 (stderr {err!r})")
        expect(line.startswith("parconv: warning: "), f"stderr {line!r}")
        same_files(d, REF["small"])
    else:
        expect(rc == 1, f"exit {rc}, expected 1 (stderr {err!r})")
        m = check_dir(d, K_DS, manifest(REF["small"])["shape"])
        expect(m["complete"] is False, "manifest says complete")


def t_timeout_healthy():
    """--worker-timeout 2 on healthy workers whose share takes longer than
    2 s (one batch of a few seconds): nothing is hung, the run succeeds."""
    r = run(["-S", "procs", "-p", "2"] + W_LONG +
            ["--worker-timeout", "2", "-q"], timeout=90)
    expect(r.returncode == 0 and r.stderr == "",
           f"exit {r.returncode}, stderr {r.stderr.strip()!r} (no worker "
           f"was stopped or killed)")


# ---------------------------------------------------------------------------
# disks: full, size limit, read-only, vanishing, read-only files

def mount_tmpfs(path, opts):
    os.makedirs(path, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs",
                            path], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Skip(f"mount failed: {e}")
    if r.returncode != 0:
        raise Skip(f"mount -t tmpfs failed: {r.stderr.strip()}")


def umount(path):
    cleanup()  # nothing of ours may keep it busy
    try:
        r = subprocess.run(["umount", path], capture_output=True, timeout=10)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", path], capture_output=True,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass


def fsize_limit(soft):
    """A preexec_fn: the soft file-size limit (ulimit -S -f) at soft bytes,
    the hard one as it is."""
    def pre():
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    return pre


def write_failure(d, args, reason, file_re, ref=None, rlimit=None):
    """parconv args fails writing into d: exit 1, one line naming the file
    and the reason, nothing incomplete under a final name, a manifest that
    lists only files that exist; files present equal the reference's."""
    r = run(args, preexec_fn=fsize_limit(rlimit) if rlimit else None)
    expect(r.returncode == 1, f"exit {r.returncode}, expected 1 (stderr "
           f"{r.stderr!r})")
    line = one_line(r.stderr, "write failure")
    expect(reason.lower() in line.lower(), f"stderr does not say "
           f"{reason!r}: {line!r}")
    expect(re.search(file_re, line), f"stderr does not name the file "
           f"({file_re}): {line!r}")
    count = int(args[args.index("-k") + 1])
    shape = manifest(REF["small"])["shape"] if ref else None
    m = manifest(d)
    expect(m is not None, "no manifest left")
    if shape:
        check_dir(d, count, shape, clean=False)
        for n in conv_files(d):
            expect(filecmp.cmp(os.path.join(d, n), os.path.join(ref, n),
                               shallow=False), f"{n} differs from the "
                   f"uninterrupted run's")
    expect(m["complete"] is False, "manifest says complete")
    return m


def t_disk_full():
    mnt = os.path.join(SCRATCH, "mnt_full")
    mount_tmpfs(mnt, "size=2m")
    try:
        d = os.path.join(mnt, "out")
        m = write_failure(d, wl_args("omp", "small") + ["-o", d],
                          "No space left on device",
                          r"'[^']*/out/(conv_\d{5}\.npy|manifest\.json)'",
                          ref=REF["small"])
        expect(m["kernels_done"] > 0, "the manifest lists no kernel: the "
               "batches before the disk filled up are not recorded")
    finally:
        umount(mnt)


def t_fsize_conv():
    """A soft file-size limit (40 kB) below one output file (80 kB): the
    first output file fails, named, 'File too large'; nothing else does
    (the run's memory is not a file the user asked for)."""
    d = fresh("fsize_conv")
    write_failure(d, wl_args("omp", "small") + ["-o", d], "File too large",
                  r"'[^']*/conv_00000\.npy'", ref=REF["small"],
                  rlimit=40000)
    expect(conv_files(d) == [] and temp_files(d) == [],
           f"left {os.listdir(d)}")


def t_fsize_memory():
    """A soft file-size limit of 10 MB and no -o: parconv writes no file,
    so the limit must not matter (its shared mappings are memfds, which
    the kernel sizes against RLIMIT_FSIZE too)."""
    r = run(["-S", "serial,omp", "-n", "2000", "-k", "4", "--method",
             "direct", "-q"], preexec_fn=fsize_limit(10 << 20))
    expect(r.returncode == 0 and r.stderr == "",
           f"exit {r.returncode}, stderr {r.stderr.strip()!r}")


def t_fsize_manifest():
    """A file-size limit (20 kB) that the output files (1x1) and the
    run's memory fit but the growing manifest (400 kernels) does not: the
    manifest write fails, the old manifest stays whole."""
    d = fresh("fsize_manifest")
    args = ["-S", "omp", "-n", "1", "-s", "1", "-k", "400", "--method",
            "direct", "-q", "-o", d]
    write_failure(d, args, "File too large", r"'[^']*/manifest\.json'",
                  rlimit=20000)
    check_dir(d, 400, (1, 1), clean=False)
    expect(not temp_files(d), f"temporaries left: {temp_files(d)[:3]}")


def t_readonly_fs():
    """A read-only file system (tmpfs mounted ro: EROFS holds for root
    too, unlike chmod): the DIR itself, and a DIR to be created in it."""
    mnt = os.path.join(SCRATCH, "mnt_ro")
    mount_tmpfs(mnt, "ro,size=1m")
    try:
        for d, file_re in ((mnt, r"manifest\.json"), (mnt + "/sub", r"sub")):
            r = run(wl_args("omp", "small") + ["-o", d])
            expect(r.returncode == 1, f"-o {d}: exit {r.returncode} "
                   f"(stderr {r.stderr!r})")
            line = one_line(r.stderr, f"-o {d}")
            expect("read-only file system" in line.lower() and
                   re.search(file_re, line), f"-o {d}: stderr {line!r}")
    finally:
        umount(mnt)


def as_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def t_unwritable_nobody():
    """chmod 555 DIR does not stop root, so this runs parconv as nobody
    (uid 65534): -o into the DIR, and into a DIR to be created in it."""
    base = fresh("nobody")
    os.makedirs(base)
    os.chmod(base, 0o777)
    probe = subprocess.run([EXE, "--version"], preexec_fn=as_nobody,
                           capture_output=True, timeout=10, cwd=base)
    if probe.returncode != 0:
        raise Skip(f"parconv does not run as nobody: "
                   f"{probe.stderr.decode().strip()!r}")
    ro = os.path.join(base, "ro")
    os.makedirs(ro)
    os.chmod(ro, 0o555)
    for d, file_re in ((ro, r"manifest\.json"), (ro + "/sub", r"ro/sub")):
        r = run(wl_args("omp", "small") + ["-o", d], preexec_fn=as_nobody,
                cwd=base)
        expect(r.returncode == 1, f"-o {d}: exit {r.returncode} "
               f"(stderr {r.stderr!r})")
        line = one_line(r.stderr, f"-o {d}")
        expect("permission denied" in line.lower() and
               re.search(file_re, line), f"-o {d}: stderr {line!r}")
    # --json FILE in it: refused before any work, as its temporary is
    # made at the start.
    jp = os.path.join(ro, "r.json")
    r = run(wl_args("omp", "small") + ["--json", jp], preexec_fn=as_nobody,
            cwd=base)
    line = one_line(r.stderr, f"--json {jp}")
    expect(r.returncode == 1 and "permission denied" in line.lower() and
           jp in line and r.stdout == "", f"--json {jp}: exit "
           f"{r.returncode}, stderr {line!r}")


def t_readonly_conv_file(resume, nobody):
    """A finished DIR with conv_00003.npy chmod 444, run again into it
    (rename replaces the file: the directory is writable, so this works
    for any user; as root it would anyway). With --resume the file is
    kept as it is."""
    d = copy_ref(f"ro_file_{int(resume)}_{int(nobody)}")
    f3 = os.path.join(d, "conv_00003.npy")
    if nobody:
        probe = subprocess.run([EXE, "--version"], preexec_fn=as_nobody,
                               capture_output=True, timeout=10)
        if probe.returncode != 0:
            raise Skip("parconv does not run as nobody")
        for n in os.listdir(d) + [""]:
            os.chown(os.path.join(d, n), 65534, 65534)
    os.chmod(f3, 0o444)
    ino = os.stat(f3).st_ino
    r = run(wl_args("omp", "small") + ["-o", d] +
            (["--resume"] if resume else []),
            preexec_fn=as_nobody if nobody else None)
    expect(r.returncode == 0, f"exit {r.returncode}, stderr {r.stderr!r}")
    same_files(d, REF["small"])
    st = os.stat(f3)
    print(f"     (conv_00003.npy after the run: mode {st.st_mode & 0o777:o}, "
          f"{'same file' if st.st_ino == ino else 'replaced'})", flush=True)
    if resume:
        expect(st.st_ino == ino, "--resume rewrote a complete file")


def t_dir_vanishes():
    """rm -rf DIR while the run writes batches: exit 1 (no crash), one
    line naming a file in DIR and the reason."""
    d = fresh("vanish")
    p = spawn(wl_args("omp", "direct") + ["-o", d])
    wait_partial(p, d, K_D)
    for _ in range(200):
        shutil.rmtree(d, ignore_errors=True)
        if not os.path.exists(d):
            break
        time.sleep(0.005)
    expect(not os.path.exists(d), "could not remove the DIR")
    rc, out, err = finish(p)
    expect(rc == 1, f"exit {rc}, expected 1 (stderr {err!r})")
    line = one_line(err, "vanished DIR")
    expect("no such file or directory" in line.lower() and "vanish/" in line,
           f"stderr {line!r}")
    expect(not os.path.exists(d), "the DIR came back")


# ---------------------------------------------------------------------------
# hostile inputs (the ones tests/cli_test.py does not have)

def npy(header, version=(1, 0), data=b"", hlen=None):
    h = header.encode("latin1")
    lenfmt = "<H" if version[0] == 1 else "<I"
    pre = 6 + 2 + struct.calcsize(lenfmt)
    pad = (-(pre + len(h) + 1)) % 64
    h = h + b" " * pad + b"\n"
    return (b"\x93NUMPY" + bytes(version) +
            struct.pack(lenfmt, len(h) if hlen is None else hlen) + h + data)


def make_hostile():
    d = fresh("hostile")
    os.makedirs(d)
    files = {
        "overflow.npy": npy("{'descr': '<f8', 'fortran_order': False, "
                            "'shape': (4294967296, 4294967297), }"),
        "overflow_u64.npy": npy("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (18446744073709551615, 2), }"),
        "overflow_20digits.npy": npy("{'descr': '<f8', 'fortran_order': "
                                     "False, 'shape': "
                                     "(99999999999999999999, 2), }"),
        "bank_overflow.npy": npy("{'descr': '<f8', 'fortran_order': False, "
                                 "'shape': (2097152, 2097152, 4194304), }"),
        "negative.npy": npy("{'descr': '<f8', 'fortran_order': False, "
                            "'shape': (-1, 3), }"),
        "huge_hlen_v2.npy": npy("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (2, 2), }", version=(2, 0),
                                data=b"\0" * 32, hlen=0xFFFFFFF0),
        "huge_hlen_v1.npy": npy("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (2, 2), }", data=b"\0" * 32,
                                hlen=0xFFFF),
        "not_a_dict.npy": npy("hello world"),
        "no_shape.npy": npy("{'descr': '<f8', 'fortran_order': False, }"),
        "zero_cols.npy": None,
        "bank_zero_rows.npy": None,
        "bank_zero_cols.npy": None,
        "object.npy": None,
        "structured.npy": None,
        "string.npy": None,
    }
    for n, data in files.items():
        if data is not None:
            with open(os.path.join(d, n), "wb") as f:
                f.write(data)
    p = lambda n: os.path.join(d, n)
    np.save(p("zero_cols.npy"), np.ones((3, 0)))
    np.save(p("bank_zero_rows.npy"), np.ones((2, 0, 3)))
    np.save(p("bank_zero_cols.npy"), np.ones((2, 3, 0)))
    np.save(p("object.npy"), np.array([[1, None]], dtype=object),
            allow_pickle=True)
    np.save(p("structured.npy"), np.zeros((2, 2), dtype=[("a", "<f8")]))
    np.save(p("string.npy"), np.array([["ab", "cd"]]))
    return p


def hostile_cases(p):
    m = lambda n, sub: (n, ["-m", p(n), "-k", "2", "-s", "2"], sub)
    b = lambda n, sub: (n, ["-b", p(n), "-n", "10"], sub)
    small = ["-n", "10", "-k", "2", "-s", "2"]
    return [
        m("overflow.npy", "overflow.npy"),
        m("overflow_u64.npy", "overflow_u64.npy"),
        m("overflow_20digits.npy", "overflow_20digits.npy"),
        b("bank_overflow.npy", "bank_overflow.npy"),
        m("negative.npy", "negative.npy"),
        m("huge_hlen_v2.npy", "huge_hlen_v2.npy"),
        m("huge_hlen_v1.npy", "huge_hlen_v1.npy"),
        m("not_a_dict.npy", "not_a_dict.npy"),
        m("no_shape.npy", "no_shape.npy"),
        m("zero_cols.npy", "zero"),
        b("bank_zero_rows.npy", "zero"),
        b("bank_zero_cols.npy", "zero"),
        m("object.npy", "dtype"),
        m("structured.npy", "dtype"),
        m("string.npy", "dtype"),
        ("--resume without -o", small + ["--resume"], "-o"),
        ("--resume given twice", small + ["--resume", "--resume"], "twice"),
        ("--retries given twice", small + ["--retries", "1", "--retries",
                                           "1"], "twice"),
        ("--max-mem given twice", small + ["--max-mem", "1G", "--max-mem",
                                           "1G"], "twice"),
        ("--worker-timeout given twice", small + ["--worker-timeout", "5",
                                                  "--worker-timeout", "5"],
         "twice"),
        ("--retries -1", small + ["--retries", "-1"], "--retries"),
        ("--retries x", small + ["--retries", "x"], "--retries"),
        ("--worker-timeout 0", small + ["--worker-timeout", "0"],
         "--worker-timeout"),
        ("--worker-timeout nan", small + ["--worker-timeout", "nan"],
         "--worker-timeout"),
        ("--worker-timeout -S omp", small + ["--worker-timeout", "5", "-S",
                                             "omp"], "procs"),
        ("--retries -S serial", small + ["--retries", "1", "-S", "serial"],
         "procs"),
        ("--max-mem 0", small + ["--max-mem", "0"], "--max-mem"),
        ("--max-mem 12Q", small + ["--max-mem", "12Q"], "--max-mem"),
        ("--max-mem -1G", small + ["--max-mem", "-1G"], "--max-mem"),
        ("gen --resume", ["gen"] + small + ["--resume"], "--resume"),
    ]


def t_hostile(args, sub, idx):
    """Exit 2, one line mentioning sub, no stdout. Unless the case is about
    a missing -o, '-o OUT' goes in front, and no manifest may be left."""
    out = os.path.join(SCRATCH, "hostile_out", f"{idx:02d}")
    shutil.rmtree(out, ignore_errors=True)
    full = list(args)
    if sub != "-o":
        at = 1 if full[0] == "gen" else 0
        full[at:at] = ["-o", out]
    refused(full, (2,), [sub], timeout=30)
    expect(not os.path.exists(os.path.join(out, "manifest.json")),
           "a refused run left a manifest")


def t_nan_inf_output():
    """NaN and ±Inf in the matrix: the -o files have NaN exactly where
    scipy.signal.convolve2d has, the same infinities, and the rest close;
    --resume after a lost file restores the same bytes."""
    d = fresh("naninf")
    os.makedirs(d)
    rs = np.random.RandomState(7)
    m = rs.randint(0, 100, size=(40, 37)).astype(float)
    m[3, 4] = np.nan
    m[20, 30] = np.inf
    m[39, 0] = -np.inf
    b = rs.randint(0, 10, size=(3, 5, 4)).astype(float)
    b[1, 2, 2] = 0.0   # inf * 0 is NaN
    np.save(os.path.join(d, "m.npy"), m)
    np.save(os.path.join(d, "b.npy"), b)
    out = os.path.join(d, "out")
    args = ["-m", os.path.join(d, "m.npy"), "-b", os.path.join(d, "b.npy"),
            "--method", "direct", "-S", "omp,serial", "-q", "-o", out]
    ok_run(args)
    for k in range(3):
        got = np.load(os.path.join(out, "conv_%05d.npy" % k))
        ref = scipy.signal.convolve2d(m, b[k], "full", "fill", 0)
        expect(got.shape == ref.shape, f"kernel {k}: shape {got.shape}")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref),
                                      f"kernel {k}: NaN positions")
        fin = ~np.isnan(ref)
        np.testing.assert_array_equal(got[fin & np.isinf(ref)],
                                      ref[fin & np.isinf(ref)],
                                      f"kernel {k}: infinities")
        ok = np.isfinite(ref)
        expect(np.allclose(got[ok], ref[ok], rtol=1e-12, atol=1e-9),
               f"kernel {k}: finite values differ from scipy")
    keep = {n: open(os.path.join(out, n), "rb").read()
            for n in os.listdir(out)}
    os.unlink(os.path.join(out, "conv_00001.npy"))
    ok_run(args + ["--resume"])
    now = {n: open(os.path.join(out, n), "rb").read()
           for n in os.listdir(out)}
    expect(now == keep, "--resume of a NaN result changed the DIR")


# ---------------------------------------------------------------------------
# memory guard and progress

def t_max_mem_refuses():
    out = fresh("maxmem")
    r = run(["-S", "omp", "--max-mem", "1M", "-o", out])
    expect(r.returncode == 2, f"exit {r.returncode} (stderr {r.stderr!r})")
    line = one_line(r.stderr, "--max-mem 1M")
    expect("max-mem" in line and re.search(r"\d+(\.\d+)? ?[kKMG]i?B", line),
           f"stderr lacks the estimate or 'max-mem': {line!r}")
    expect(r.stdout == "", f"stdout {r.stdout!r}")
    expect(not os.path.exists(out), "a refused run created its DIR")


def t_max_mem_runs():
    ok_run(["-S", "omp", "--max-mem", "100G", "-q"])


PROGRESS_K = 512
PROGRESS = re.compile(r"^parconv: (\w+): (\d+)/(\d+) kernels \((\d+)%\), ")


def t_progress_log():
    """stderr a pipe, a run of several seconds: 'parconv: omp: N/K kernels
    (P%), ...' lines, increasing, at most about 12; stdout the report
    only. (-q runs of several seconds print no progress: the --retries and
    --worker-timeout cases check that their stderr is the one warning.)"""
    args = ["-S", "omp"] + with_count(W_D, PROGRESS_K) + ["--calibration",
                                                          CAL]
    r = ok_run(args)
    secs = re.search(r"Executed in (\d+\.\d+)s", r.stdout)
    lines = r.stderr.splitlines()
    bad = [l for l in lines if not PROGRESS.match(l)]
    expect(not bad, f"stderr lines that are not progress: {bad[:3]}")
    done = [int(PROGRESS.match(l).group(2)) for l in lines]
    expect(all(PROGRESS.match(l).group(1) == "omp" and
               PROGRESS.match(l).group(3) == str(PROGRESS_K) for l in lines),
           f"progress lines {lines[:3]}")
    expect(done == sorted(done) and len(set(done)) == len(done),
           f"progress not increasing: {done}")
    expect(len(lines) <= 12, f"{len(lines)} progress lines")
    if secs and float(secs.group(1)) >= 3.0:
        expect(lines, f"a run of {secs.group(1)} s printed no progress")
        expect(done[-1] == PROGRESS_K, f"the last progress line says {done[-1]}")
    elif not lines:
        print(f"     (the run took {secs and secs.group(1)} s: too short to "
              f"require progress)", flush=True)
    expect("parconv:" not in r.stdout and "kernels (" not in r.stdout,
           "progress on stdout")
    expect(re.search(r"^omp\s+direct", r.stdout, re.M), "no report table")


def t_progress_tty():
    """stderr a terminal: the progress line is redrawn with '\\r' and
    cleared at the end; stdout (a pipe) has the report only."""
    args = ["-S", "omp"] + W_D + ["--calibration", CAL]
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([EXE] + args, stdout=subprocess.PIPE,
                             stderr=slave, stdin=subprocess.DEVNULL,
                             env=ENV, cwd=SCRATCH)
        LIVE.append(p)
        os.close(slave)
        slave = -1
        tty = b""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            rl, _, _ = select.select([master], [], [], 0.5)
            if rl:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                tty += chunk
            elif p.poll() is not None:
                break
        out, _ = p.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    expect(p.returncode == 0, f"exit {p.returncode}, tty {tty[-300:]!r}")
    text = tty.decode(errors="replace")
    draws = re.findall(r"\r\[omp\] (\d+)/256 kernels", text)
    # Drawn from half a second on, at most every 0.2 s, between batches.
    secs = re.search(rb"Executed in (\d+\.\d+)s", out)
    secs = float(secs.group(1)) if secs else 0.0
    need = 2 if secs >= 1.2 else 1 if secs >= 0.8 else 0
    expect(len(draws) >= need, f"{len(draws)} draws on the terminal in a "
           f"run of {secs} s: {text[:300]!r}")
    expect([int(x) for x in draws] == sorted(int(x) for x in draws),
           f"progress goes back: {draws}")
    expect("\n" not in text.replace("\r\n", ""),
           f"progress on a terminal wrote whole lines: {text[:300]!r}")
    expect(not draws or re.search(r"\r {20,}\r$", text),
           f"the line is not cleared at the end: {text[-100:]!r}")
    expect(b"\r" not in out and b"/256 kernels" not in out,
           f"progress on stdout: {out[:200]!r}")
    expect(re.search(rb"^omp\s+direct", out, re.M), "no report on stdout")


# ---------------------------------------------------------------------------

def main():
    global EXE, SCRATCH, ENV, CAL
    EXE, SCRATCH = pctest.arguments(
        "usage: robust_test.py PARCONV_PATH SCRATCH_DIR")
    noconf = os.path.join(SCRATCH, "noconfig")
    os.makedirs(noconf, exist_ok=True)
    ENV = pctest.ENV = pctest.clean_env(PARCONV_CALIBRATION=None,
                                        XDG_CONFIG_HOME=noconf)
    CAL = pctest.slow_calibration(SCRATCH)
    try:
        case("reference run, direct (16 batches)", t_reference, "direct")
        case("reference run, fft", t_reference, "fft")
        case("reference run, small; procs writes the same bytes",
             t_reference, "small")

        case("omp direct: SIGTERM, resume, SIGKILL, resume = uninterrupted",
             t_chain, "omp", "direct", [signal.SIGTERM, signal.SIGKILL])
        case("procs direct: SIGKILL, resume, SIGTERM, resume = uninterrupted",
             t_chain, "procs", "direct", [signal.SIGKILL, signal.SIGTERM])
        case("omp fft: SIGKILL, resume, SIGINT (130), resume = uninterrupted",
             t_chain, "omp", "fft", [signal.SIGKILL, signal.SIGINT])
        case("procs fft: SIGTERM, resume, SIGKILL, resume = uninterrupted",
             t_chain, "procs", "fft", [signal.SIGTERM, signal.SIGKILL])
        case("SIGTERM without -o: exit 143, 'interrupted by signal'",
             t_term_without_output)

        case("SIGTERM mid-run: --json FILE whole, interrupted, kernels done",
             t_json_interrupted, signal.SIGTERM, False)
        case("SIGINT in the second strategy: --json FILE has the first run",
             t_json_interrupted, signal.SIGINT, True)
        case("the header is in a redirected log before a SIGKILL",
             t_header_before_kill)

        case("--resume repairs damaged files, keeps the rest, drops .tmp",
             t_resume_repairs)
        case("--resume on a finished DIR rewrites nothing", t_resume_complete)
        case("--resume into a new DIR is a plain run", t_resume_fresh)
        case("--resume, other seed/count/dtype: exit 2 naming the field",
             t_resume_other_workload)
        case("--resume, foreign manifest.json: exit 2", t_resume_bad_manifest)

        case("procs: SIGKILL a worker, --retries 1: warning, same bytes",
             t_worker_killed_retried)
        case("procs: both workers of a batch killed, --retries 2: a warning "
             "each", t_two_workers_retried)
        case("procs: two workers killed, --retries 1: exit 1",
             t_retries_exhausted)
        case("procs: SIGSTOP a worker, --worker-timeout 2: exit 1 'hung'",
             t_worker_hung, 0)
        case("procs: SIGSTOP a worker, --worker-timeout 2 --retries 1: ok",
             t_worker_hung, 1)
        case("procs: --worker-timeout 2 spares healthy workers of a long "
             "batch", t_timeout_healthy)

        case("disk full (2 MB tmpfs): exit 1, whole files, manifest",
                  t_disk_full)
        case("ulimit -S -f below a file: exit 1 naming it, 'File too large'",
             t_fsize_conv)
        case("ulimit -S -f 10 MB, no -o: the run is not affected",
             t_fsize_memory)
        case("ulimit -f below the manifest: exit 1, old manifest whole",
             t_fsize_manifest)
        case("read-only file system (tmpfs ro): exit 1", t_readonly_fs)
        case("chmod 555 DIR as nobody: exit 1 'Permission denied'",
                  t_unwritable_nobody)
        case("chmod 444 conv file, rerun as root", t_readonly_conv_file,
             False, False)
        case("chmod 444 conv file, --resume as root", t_readonly_conv_file,
             True, False)
        case("chmod 444 conv file, rerun as nobody",
                  t_readonly_conv_file, False, True)
        case("DIR removed mid-run: exit 1, one line", t_dir_vanishes)

        p = make_hostile()
        for i, (name, args, sub) in enumerate(hostile_cases(p)):
            case(f"hostile: {name}", t_hostile, args, sub, i)
        case("NaN/Inf matrix: -o files match scipy, resume keeps bytes",
             t_nan_inf_output)

        case("--max-mem 1M: exit 2 with the estimate", t_max_mem_refuses)
        case("--max-mem 100G runs", t_max_mem_runs)
        case("progress lines on a non-terminal stderr",
             t_progress_log)
        case("progress redrawn with \\r on a terminal", t_progress_tty)
    finally:
        cleanup()
    print(f"{pctest.skipped} skipped; {time.monotonic() - T0:.1f} s")
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
