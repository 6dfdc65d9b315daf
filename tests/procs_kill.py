#!/usr/bin/python3
"""A killed procs worker makes the run fail cleanly, workers ignore
SIGTERM/SIGINT (the parent decides: it stops after the current batch and
exits 128+N), and workers never outlive their parent.

Usage: procs_kill.py PARCONV_PATH SCRATCH_DIR

Prints 'ok   name' or 'FAIL name: why' per case and 'N passed, M failed' at
the end; exits 1 if anything failed. Every wait has a timeout; whatever this
script started is killed (by pid) before it ends.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pctest
from pctest import (WORKER_FLAG, alive, case, cmdline, expect, note_workers,
                    spawn, wait_gone, workers_of)

# Long enough to be killed mid-run (several seconds with 2 workers here);
# the tests never wait for it to finish unless the program is broken.
WORKLOAD = ["-n", "3000", "-k", "400", "--method", "direct"]
# With -o: small output planes (649x649 f64), large kernels for run time
# (two batches, about 2 s in all here).
WORKLOAD_OUT = ["-n", "600", "-k", "100", "-s", "50", "--method", "direct"]
# Short enough to wait for its end (about 2 s here), long enough to signal
# its workers mid-run.
WORKLOAD_SHORT = ["-n", "3000", "-k", "96", "--method", "direct"]
# A hang detector, not a timing: the short workload takes about 2 s in
# the release build, but 10-20 times that in the sanitizer build on a busy
# machine (seen: over 30 s with two test runs sharing 2 cores).
WAIT_TIMEOUT = 120
GONE_TIMEOUT = 5

EXE = None
SCRATCH = None


def start(extra=(), new_session=False, workload=None):
    return spawn(["-S", "procs", "-p", "2"] + (workload or WORKLOAD) +
                 ["-q"] + list(extra), start_new_session=new_session)


def wait_workers(p, n=2, timeout=10):
    """Waits until n workers of p run; returns {pid: starttime}."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w = note_workers(p)
        if len(w) >= n:
            return w
        if p.poll() is not None:
            raise AssertionError(f"parconv ended (status {p.returncode}) "
                                 f"before {n} workers were seen")
        time.sleep(0.01)
    raise AssertionError(f"{n} workers did not appear within {timeout}s "
                         f"(saw {workers_of(p.pid)})")


def finish(p):
    return pctest.finish(p, WAIT_TIMEOUT, " after a worker was killed")


def t_kill_worker(sig, delay, outdir=None):
    if outdir:
        shutil.rmtree(outdir, ignore_errors=True)
    extra = ["-o", outdir] if outdir else []
    p = start(extra, workload=WORKLOAD_OUT if outdir else None)
    w = wait_workers(p)
    time.sleep(delay)
    victim = min(w)
    os.kill(victim, sig)
    rc, out, err = finish(p)
    problems = []
    if rc != 1:
        problems.append(f"exit status {rc}, expected 1")
    lines = err.splitlines()
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines, expected 1")
    else:
        line = lines[0]
        for want in ("worker", f"signal {int(sig)}"):
            if want not in line:
                problems.append(f"stderr does not mention {want!r}")
        if str(victim) not in line:
            problems.append(f"stderr does not name the killed pid {victim}")
    if out:
        problems.append(f"-q but stdout {out[:100]!r}")
    left = wait_gone(w, p.pid, GONE_TIMEOUT)
    if left:
        problems.append(f"workers still running {GONE_TIMEOUT}s after the "
                        f"parent ended: {sorted(left)}")
    if outdir:
        # The manifest is there from the start; a failed run leaves it
        # saying what is complete (not everything).
        try:
            with open(os.path.join(outdir, "manifest.json")) as f:
                man = json.load(f)
            if man.get("complete") is not False:
                problems.append(f"manifest 'complete' is "
                                f"{man.get('complete')!r}, expected false")
            elif man.get("kernels_done") != len(man.get("kernels", [])):
                problems.append("manifest kernels_done does not match its "
                                "kernel list")
        except (OSError, ValueError) as e:
            problems.append(f"no readable manifest left: {e}")
    if problems:
        raise AssertionError("; ".join(problems) + f" (stderr {err!r})")


def t_kill_parent(sig, delay, group=False, outdir=None):
    """Signal the parent (or, with group, the whole process group, as a
    terminal's Ctrl-C does). SIGKILL: parconv dies and its workers with it.
    SIGTERM/SIGINT: the workers ignore it, parconv lets the current batch
    finish and exits 128+sig with the one 'interrupted' line; nothing is
    left running either way."""
    if outdir:
        shutil.rmtree(outdir, ignore_errors=True)
    extra = ["-o", outdir] if outdir else []
    p = start(extra, new_session=group,
              workload=WORKLOAD_OUT if outdir else None)
    w = wait_workers(p)
    time.sleep(delay)
    if group:
        os.killpg(p.pid, sig)
    else:
        os.kill(p.pid, sig)
    try:
        out, err = p.communicate(timeout=WAIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"parconv survived signal {int(sig)} for "
                             f"{WAIT_TIMEOUT}s")
    problems = []
    if sig == signal.SIGKILL:
        if p.returncode != -signal.SIGKILL:
            problems.append(f"status {p.returncode} after SIGKILL")
    else:
        if p.returncode != 128 + sig:
            problems.append(f"exit status {p.returncode}, expected "
                            f"{128 + sig}")
        lines = err.splitlines()
        want = (r"parconv: interrupted: \d+ of \d+ kernels complete; rerun "
                r"with --resume" if outdir else
                rf"parconv: interrupted by signal {int(sig)}\b")
        if len(lines) != 1 or not re.match(want, lines[0]):
            problems.append(f"stderr {err!r}, expected one line "
                            f"matching {want!r}")
        if out:
            problems.append(f"-q but stdout {out[:100]!r}")
        if outdir:
            try:
                with open(os.path.join(outdir, "manifest.json")) as f:
                    man = json.load(f)
                m = re.match(r"parconv: interrupted: (\d+) of", err)
                if m and int(m.group(1)) != man.get("kernels_done"):
                    problems.append(f"stderr says {m.group(1)} kernels, "
                                    f"the manifest {man.get('kernels_done')}")
            except (OSError, ValueError) as e:
                problems.append(f"no readable manifest: {e}")
    left = wait_gone(w, timeout=GONE_TIMEOUT)
    if left:
        problems.append(f"workers {sorted(left)} still running "
                        f"{GONE_TIMEOUT}s after their parent ended "
                        f"(signal {int(sig)})")
    if problems:
        raise AssertionError("; ".join(problems))


def t_signal_worker(sig, delay):
    """SIGTERM/SIGINT to a worker: it ignores it (the parent decides), keeps
    computing, and the run completes: exit 0, nothing on stderr."""
    p = start(workload=WORKLOAD_SHORT)
    w = wait_workers(p)
    time.sleep(delay)
    victim = min(w)
    os.kill(victim, sig)
    time.sleep(0.2)
    still = alive(victim, w[victim]) or p.poll() is not None
    rc, out, err = finish(p)
    expect(rc == 0 and err == "", f"exit status {rc} (expected 0), stderr "
           f"{err!r} after signal {int(sig)} to worker {victim}")
    expect(still, f"worker {victim} died of signal {int(sig)} while the "
           f"run went on")
    left = wait_gone(w, p.pid, GONE_TIMEOUT)
    expect(not left, f"workers {sorted(left)} outlived parconv")


def t_baseline():
    """The workload does run long enough for the kill tests (>= 3 s would
    be spent if nothing were killed): two workers run for a while."""
    p = start()
    w = wait_workers(p)
    time.sleep(1.0)
    expect(p.poll() is None, "parconv finished within 1s of its workers "
           "starting: the workload is too small for these tests")
    expect(all(alive(pid, t) for pid, t in w.items()),
           "a worker ended on its own within 1s")
    for pid in w:
        cl = cmdline(pid)
        expect(WORKER_FLAG.encode() in cl, f"worker {pid} cmdline {cl}")


def main():
    global EXE, SCRATCH
    EXE, SCRATCH = pctest.arguments(
        "usage: procs_kill.py PARCONV_PATH SCRATCH_DIR")
    try:
        case("workload runs long enough, two workers", t_baseline)
        case("SIGKILL a worker: exit 1, one line, siblings gone",
             t_kill_worker, signal.SIGKILL, 0.5)
        case("SIGKILL a worker right after it starts", t_kill_worker,
             signal.SIGKILL, 0.0)
        case("SIGTERM a worker: ignored, the run completes (exit 0)",
             t_signal_worker, signal.SIGTERM, 0.3)
        case("SIGINT a worker: ignored, the run completes (exit 0)",
             t_signal_worker, signal.SIGINT, 0.3)
        case("SIGKILL a worker with -o: manifest left, not complete",
             t_kill_worker, signal.SIGKILL, 0.5,
             os.path.join(SCRATCH, "killed_out"))
        case("SIGKILL the parent: workers die with it", t_kill_parent,
             signal.SIGKILL, 0.5)
        case("SIGKILL the parent right after spawning", t_kill_parent,
             signal.SIGKILL, 0.0)
        case("SIGTERM the parent: exit 143 after the batch, no worker left",
             t_kill_parent, signal.SIGTERM, 0.5)
        case("SIGTERM the parent with -o: 143, 'N of K complete', manifest",
             t_kill_parent, signal.SIGTERM, 0.5, False,
             os.path.join(SCRATCH, "term_out"))
        case("SIGINT to the process group (Ctrl-C): 130, nothing left",
             t_kill_parent, signal.SIGINT, 0.5, True)
    finally:
        pctest.cleanup()
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
