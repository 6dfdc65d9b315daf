#!/usr/bin/python3
"""The job scripts in slurm/ on a real (single-node) Slurm: results of
every way of running parconv under Slurm are byte for byte those of one
plain run.

Usage: slurm_test.py PARCONV_PATH SCRATCH_DIR

Needs root: it brings up the local Slurm with slurm/slurm-local.sh start
(and stops it at the end, unless it was running already). Without root, or
when Slurm cannot start, it prints a 'skip' line and exits 77 (meson's
"skipped").

Cases, each against a plain run of the same workload (files and
manifest.json compared byte for byte; report.json is the job's own):
  parconv.sbatch (sbatch --wait, 2 CPUs: OMP_NUM_THREADS, OMP_PROC_BIND
    and the Slurm job in the JSON report);
  parconv-array-submit.sh (the array, then the merge job afterok on it)
    with 1, 2, 3, 7 and 30 shards (more shards than kernels), and with
    --array=1-3 (shards counted from SLURM_ARRAY_TASK_MIN);
  the same, 3 shards of the default method on a workload where it
    chooses FFT: the merge succeeds and equals a run pinned to the FFT
    size the manifest records;
  datasets in an array of 3 + merge: --matrices 3 --format stack and a
    3-D HDF5 input --format hdf5 (byte for byte), and the latter with
    --compress deflate:4 (the same values, /checksums and manifest);
  parconv-srun.sh as sbatch -n 3 (srun tasks as shards, then merge);
  parconv.sbatch interrupted mid-run by SIGTERM to the batch shell only
    (scancel --signal=TERM --batch, what --signal=B:TERM does at the time
    limit): the script passes it on, parconv stops after its batch (exit
    143, manifest incomplete), and a resubmission resumes to the same bytes;
  the same with REQUEUE_ON_TERM=1: the job requeues itself and completes
    (the test releases the requeued job after 2 s: Slurm would hold it
    back for 120 s);
  a real time limit: --time=1 --signal=B:TERM@55 (slurmctld sends it at
    its next time-limit check, up to 30 s late): exit 143, incomplete.

Every sbatch is wrapped in `timeout`; every job is named slurmtest-PID and
whatever is left of them is cancelled after each case. On a failure the
case's job outputs (and squeue) are printed.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

import dataset_test
import pctest
from pctest import expect, manifest, same_files

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SLURM_DIR = os.path.join(ROOT, "slurm")
SLURM_LOCAL = os.path.join(SLURM_DIR, "slurm-local.sh")

EXE = None
SCRATCH = None
ENV = None
CAL = None
NAME = f"slurmtest-{os.getpid()}"
T0 = time.monotonic()

# The small workload: 23 kernels of 7x7 on 300x300 (a second).
W = ["-n", "300", "-k", "23", "-s", "7", "--method", "direct", "-S", "omp"]
K = 23
# The long one, for interrupting: 384 kernels of 200x200 on 300x300, valid
# (101x101 outputs), several seconds; with the slow calibration file (as in
# robust_test.py) batches are small, so a SIGTERM lands between batches.
W_LONG = ["-n", "300", "-s", "200", "--mode", "valid", "-k", "384",
          "--method", "direct", "-S", "omp"]
K_LONG = 384

# For the time limit: 512 kernels of 300x300 on 600x600, valid (301x301
# outputs), on one CPU: over a minute here, while the signal comes within
# 35 s; about 400 MB of kernels.
W_TL = ["-n", "600", "-s", "300", "--mode", "valid", "-k", "512",
        "--method", "direct", "-S", "omp"]
K_TL = 512

# FFT-leaning: with the calibration CAL_FFT, --method auto (the default)
# chooses FFT for 10 kernels of 41x41 on 300x300.
W_FFT = ["-n", "300", "-k", "10", "-s", "41", "-S", "omp"]
CAL_FFT = None

REF = None
REF_LONG = None
CASE_DIR = None
# What a job writes into its output directory besides what a plain run
# does.
JOB_FILES = ("report.json",)


# ---------------------------------------------------------------------------
# plumbing

def log(msg):
    print(f"     [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def sh(cmd, timeout=30, **kw):
    kw.setdefault("env", ENV)
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}")


def cancel_ours():
    """Cancels every job of this test still known to Slurm and waits
    (bounded) until none is listed."""
    sh(["timeout", "10", "scancel", "--name", NAME], timeout=15)
    for _ in range(50):
        r = sh(["timeout", "10", "squeue", "-h", "-n", NAME, "-o", "%i"],
               timeout=15)
        if not r.stdout.strip():
            return
        time.sleep(0.2)


def dump_outputs(d):
    """Prints the job outputs in d and what squeue says of our jobs."""
    if not d or not os.path.isdir(d):
        return
    outs = sorted(f for f in os.listdir(d) if f.endswith(".out"))
    keep = 30 if len(outs) <= 4 else 8  # a 30-task array: the ends only
    for f in outs:
        with open(os.path.join(d, f), errors="replace") as fh:
            lines = fh.read().splitlines()
        print(f"     --- {f} ({len(lines)} lines, the last {keep}) ---")
        for line in lines[-keep:]:
            print(f"     | {line}")
    r = sh(["timeout", "10", "squeue", "-h", "-n", NAME, "-o",
            "%i %T %r %j"], timeout=15)
    if r.stdout.strip():
        print("     --- squeue (this test's jobs) ---")
        for line in r.stdout.splitlines():
            print(f"     | {line}")


def case(name, fn, *a):
    """A pctest case in a fresh directory (CASE_DIR, also the jobs' working
    directory); prints the job outputs when it fails; cancels what is left
    of its jobs."""
    global CASE_DIR
    CASE_DIR = os.path.join(SCRATCH, "case-" + "".join(
        c if c.isalnum() else "-" for c in name)[:40])
    shutil.rmtree(CASE_DIR, ignore_errors=True)
    os.makedirs(CASE_DIR)
    t = time.monotonic()
    why = None
    try:
        why = pctest.failure(fn, *a)
    finally:
        if why is not None:
            dump_outputs(CASE_DIR)
        cancel_ours()
        if why is None:  # a failed case's results stay for a look
            shutil.rmtree(os.path.join(CASE_DIR, "out"), ignore_errors=True)
    pctest.report(f"{name} ({time.monotonic() - t:.1f}s)", why)


def job_env(out, args, **extra):
    env = dict(ENV, PARCONV=EXE, OUT=out, PARCONV_ARGS=" ".join(args))
    env.update(extra)
    return env


def sbatch_wait(opts, script, env, timeout):
    """`timeout T sbatch --wait` in CASE_DIR: (exit status, output)."""
    cmd = ["timeout", str(timeout), "sbatch", "--wait", "-J", NAME] + \
        opts + [script]
    r = sh(cmd, timeout=timeout + 10, env=env, cwd=CASE_DIR)
    expect(r.returncode != 124, f"{' '.join(cmd[2:])}: no end within "
           f"{timeout}s")
    return r.returncode, r.stdout + r.stderr


def read_out(pattern_start):
    """The text of the job outputs in CASE_DIR whose name starts with
    pattern_start, concatenated in name order."""
    text = ""
    for f in sorted(os.listdir(CASE_DIR)):
        if f.startswith(pattern_start) and f.endswith(".out"):
            with open(os.path.join(CASE_DIR, f), errors="replace") as fh:
                text += fh.read()
    return text


def plain_run(d, args, timeout=120):
    shutil.rmtree(d, ignore_errors=True)
    r = pctest.run(args + ["-o", d, "-q"], timeout)
    expect(r.returncode == 0, f"plain run: exit {r.returncode}: "
           f"{r.stderr.strip()!r}")
    m = manifest(d)
    expect(m and m.get("complete"), f"plain run {d}: manifest not complete")


# ---------------------------------------------------------------------------
# cases

def t_single():
    out = os.path.join(CASE_DIR, "out")
    script = os.path.join(SLURM_DIR, "parconv.sbatch")
    rc, msg = sbatch_wait(["-c", "2"], script, job_env(out, W + ["-q"]), 90)
    expect(rc == 0, f"sbatch --wait parconv.sbatch: exit {rc}: {msg.strip()}")
    same_files(out, REF, JOB_FILES)
    with open(os.path.join(out, "report.json")) as f:
        rep = json.load(f)
    e = rep["environment"]
    expect(e["threads"] == 2 and e["threads_from"] == "OMP_NUM_THREADS",
           f"threads {e['threads']} from {e['threads_from']}, expected 2 "
           "from OMP_NUM_THREADS (= SLURM_CPUS_PER_TASK)")
    expect(e["omp_env"].get("OMP_PROC_BIND") == "close" and
           e["omp_env"].get("OMP_PLACES") == "cores",
           f"omp_env {e['omp_env']}")
    expect(e["omp"]["proc_bind"] == "close", f"omp {e['omp']}")
    expect(e["slurm"] and e["slurm"].get("SLURM_JOB_ID"),
           f"no Slurm job in the report: {e['slurm']}")
    expect(e["shard"] is None, f"a single job ran as a shard: {e['shard']}")
    text = read_out("parconv-")
    expect("parconv exit 0" in text, f"job output: {text!r}")


def submit_array(out, array_opt, args):
    """slurm/parconv-array-submit.sh with WAIT=1: (array id, merge id)."""
    env = job_env(out, args, WAIT="1", MERGE_SBATCH_ARGS=f"-J {NAME}")
    cmd = ["timeout", "120",
           os.path.join(SLURM_DIR, "parconv-array-submit.sh"), array_opt,
           "-c", "1", "-J", NAME]
    r = sh(cmd, timeout=130, env=env, cwd=CASE_DIR)
    expect(r.returncode != 124, "parconv-array-submit.sh: no end within 120s")
    expect(r.returncode == 0, f"parconv-array-submit.sh {array_opt}: exit "
           f"{r.returncode}: {(r.stdout + r.stderr).strip()!r}")
    ids = r.stdout.split()
    expect(len(ids) == 2 and all(i.isdigit() for i in ids),
           f"expected two job ids, got {r.stdout!r}")
    return ids


def t_array(array_opt, n, args=None, ref=None, planes=None):
    """args (W) as an array of n shards and the merge job: ref's (REF)
    result, byte for byte; planes: N x K of a dataset, else K kernels."""
    out = os.path.join(CASE_DIR, "out")
    array_id, merge_id = submit_array(out, array_opt, args or W)
    logs = [f for f in os.listdir(CASE_DIR)
            if f.startswith(f"parconv-{array_id}_")]
    expect(len(logs) == n, f"{len(logs)} shard outputs, expected {n}")
    bad = []
    for f in sorted(logs):
        with open(os.path.join(CASE_DIR, f), errors="replace") as fh:
            text = fh.read()
        if "parconv exit 0" not in text:
            errs = [line for line in text.splitlines()
                    if line.startswith(("parconv:", "parconv-array.sbatch: "
                                        "parconv exit"))]
            bad.append(f"{f}: {' / '.join(errs) or 'no exit line'}")
    expect(not bad, f"{len(bad)} of {n} shards failed: " + "; ".join(bad))
    merged = read_out(f"parconv-merge-{merge_id}")
    if n == 1:
        expect(f"already merged: {K} kernels verified" in merged,
               f"merge output: {merged!r}")
    elif planes:
        expect(f"merged {n} shards: all {planes} planes" in merged,
               f"merge output: {merged!r}")
    else:
        expect(f"merged {n} shards" in merged, f"merge output: {merged!r}")
    same_files(out, ref or REF, JOB_FILES)


def t_array_dataset(fmt, extra=()):
    """A dataset in an array of 3 shards and the merge job, as one plain
    run: --format stack of --matrices 3 (15 planes), --format hdf5 of a
    3-D HDF5 dataset (4 matrices, 20 planes) byte for byte; compressed
    (extra) the same values, /checksums and manifest."""
    if fmt == "stack":
        args, planes = ["--matrices", "3", "-n", "60x50"], 15
    else:
        src = os.path.join(CASE_DIR, "in.h5")
        data = np.random.default_rng(8).standard_normal((4, 60, 50))
        if dataset_test.h5py is None:  # a 3-D .npy stack instead
            src = os.path.join(CASE_DIR, "in.npy")
            np.save(src, data)
        else:
            with dataset_test.h5py.File(src, "w") as f:
                f.create_dataset("data/stack", data=data)
            src += ":/data/stack"
        args, planes = ["-m", src], 20
    args += ["-k", "5", "-s", "5", "--method", "direct", "-S", "omp",
             "--format", fmt] + list(extra)
    ref = os.path.join(CASE_DIR, "ref")
    plain_run(ref, args)
    if not extra:
        t_array("--array=0-2", 3, args, ref, planes)
        return
    out = os.path.join(CASE_DIR, "out")
    _, merge_id = submit_array(out, "--array=0-2", args)
    merged = read_out(f"parconv-merge-{merge_id}")
    expect(f"merged 3 shards: all {planes} planes" in merged,
           f"merge output: {merged!r}")
    for name in JOB_FILES:
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    dataset_test.same_result(out, ref, fmt, 4, 5)


def t_array_fft(n):
    """The default method (auto, choosing FFT here) in an array: the shards
    take the same FFT size, the merge job succeeds, and the result is byte
    for byte a plain run pinned to the size the manifest records."""
    out = os.path.join(CASE_DIR, "out")
    args = W_FFT + ["--calibration", CAL_FFT]
    array_id, merge_id = submit_array(out, f"--array=0-{n - 1}", args)
    merged = read_out(f"parconv-merge-{merge_id}")
    expect(f"merged {n} shards" in merged, f"merge output: {merged!r}")
    m = manifest(out)
    expect(m["workload"]["method"] == "fft",
           f"method {m['workload']['method']}, expected fft")
    ref = os.path.join(CASE_DIR, "ref")
    plain_run(ref, args + ["--fft-size", "%dx%d" % tuple(m["fft_tile"])])
    same_files(out, ref, JOB_FILES)


def t_srun():
    out = os.path.join(CASE_DIR, "out")
    script = os.path.join(SLURM_DIR, "parconv-srun.sh")
    # The node has 2 CPUs: 3 tasks need --overcommit (srun takes it from
    # the job, SLURM_OVERCOMMIT).
    rc, msg = sbatch_wait(["-n", "3", "--overcommit"], script,
                          job_env(out, W), 90)
    text = read_out("parconv-srun-")
    errs = [line for line in text.splitlines()
            if line.startswith(("parconv:", "srun: error"))]
    expect(rc == 0, f"sbatch -n 3 parconv-srun.sh: exit {rc}: "
           f"{' / '.join(errs)}")
    expect("merged 3 shards" in text, f"job output: {text!r}")
    for i in range(3):
        expect(f"{i} of 3 (srun tasks)" in text,
               f"no report of shard {i} of 3 (srun tasks) in the job output")
    same_files(out, REF, JOB_FILES)


def job_id_by_name(timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sh(["timeout", "10", "squeue", "-h", "-n", NAME, "-o", "%i"],
               timeout=15)
        ids = r.stdout.split()
        if ids:
            expect(len(ids) == 1, f"more than one job named {NAME}: {ids}")
            return ids[0]
        time.sleep(0.1)
    raise AssertionError(f"no job named {NAME} listed within {timeout}s")


def wait_partial(out, p, timeout=60):
    """Waits until out/manifest.json has some but not all kernels done
    (the run is between batches); returns kernels_done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = manifest(out)
        if m is not None:
            done = m.get("kernels_done", 0)
            expect(done < K_LONG and not m.get("complete"),
                   "the run completed before it could be interrupted")
            if done > 0:
                return done
        expect(p.poll() is None, f"the job ended early (sbatch exit "
               f"{p.returncode})")
        time.sleep(0.05)
    raise AssertionError(f"no kernel done within {timeout}s")


def interrupt_batch_shell(out, env):
    """Submits parconv.sbatch (sbatch --wait in the background), waits
    until it has done some kernels, sends SIGTERM to the batch shell only;
    returns (the sbatch Popen, job id)."""
    script = os.path.join(SLURM_DIR, "parconv.sbatch")
    p = subprocess.Popen(["timeout", "150", "sbatch", "--wait", "-J", NAME,
                          "-c", "2", script], cwd=CASE_DIR, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    try:
        jid = job_id_by_name()
        done = wait_partial(out, p)
        log(f"job {jid}: {done} of {K_LONG} kernels done; "
            "scancel --signal=TERM --batch")
        r = sh(["timeout", "10", "scancel", "--signal=TERM", "--batch", jid],
               timeout=15)
        expect(r.returncode == 0, f"scancel: {r.stderr.strip()!r}")
        return p, jid
    except BaseException:
        p.kill()
        p.communicate()
        raise


def long_env(out, **extra):
    return job_env(out, W_LONG + ["--calibration", CAL], **extra)


def t_interrupt_resume():
    out = os.path.join(CASE_DIR, "out")
    env = long_env(out)
    p, jid = interrupt_batch_shell(out, env)
    try:
        msg, _ = p.communicate(timeout=160)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("sbatch --wait did not return")
    text = read_out(f"parconv-{jid}")
    expect(p.returncode == 143, f"sbatch --wait: exit {p.returncode}, "
           f"expected 143 (the job's): {msg.strip()!r}")
    expect("SIGTERM" in text and "passing it to parconv" in text,
           "the batch script did not report passing SIGTERM on")
    expect("parconv exit 143" in text, "no 'parconv exit 143' in the output")
    m = manifest(out)
    expect(m is not None and not m.get("complete") and
           0 < m.get("kernels_done", 0) < K_LONG,
           f"manifest after the interrupt: complete {m and m.get('complete')}"
           f", kernels_done {m and m.get('kernels_done')}")
    log(f"interrupted at {m['kernels_done']} of {K_LONG}; resubmitting")
    rc, msg = sbatch_wait(["-c", "2"],
                          os.path.join(SLURM_DIR, "parconv.sbatch"), env, 120)
    expect(rc == 0, f"resubmission: exit {rc}: {msg.strip()}")
    same_files(out, REF_LONG, JOB_FILES)


def release_requeued(jid, p, timeout=60):
    """Slurm holds a requeued job back for the credential lifetime
    (cred_expire, 120 s by default: Reason=BeginTime); once the job is
    pending again, make it eligible (scontrol update StartTime=now), as
    an administrator may. Not at once but 2 s later: slurmd revoked the
    first run's credential, and one issued within the same second is
    refused ("Job credential revoked"; the job then fails). (A StartTime in
    the future would wait for the next scheduling pass, up to 30 s; the
    update itself starts one.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sh(["timeout", "10", "squeue", "-h", "-j", jid, "-o", "%T %r"],
               timeout=15)
        state = r.stdout.split()
        if state and state[0] == "PENDING":
            log(f"job {jid} requeued ({' '.join(state)}); in 2 s "
                "scontrol update StartTime=now")
            time.sleep(2)
            u = sh(["timeout", "10", "scontrol", "update", f"JobId={jid}",
                    "StartTime=now"], timeout=15)
            expect(u.returncode == 0, f"scontrol update JobId={jid} "
                   f"StartTime=now: {u.stderr.strip()!r}")
            return
        expect(p.poll() is None, f"sbatch --wait ended (exit {p.returncode})"
               " before the job was requeued")
        time.sleep(0.1)
    raise AssertionError(f"job {jid} not pending again within {timeout}s")


def t_interrupt_requeue():
    out = os.path.join(CASE_DIR, "out")
    env = long_env(out, REQUEUE_ON_TERM="1")
    p, jid = interrupt_batch_shell(out, env)
    try:
        release_requeued(jid, p)
        msg, _ = p.communicate(timeout=160)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("sbatch --wait did not return")
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    text = read_out(f"parconv-{jid}")
    expect(p.returncode == 0, f"sbatch --wait: exit {p.returncode}, "
           f"expected 0 (requeued, then completed): {msg.strip()!r}")
    expect("parconv exit 143" in text and "requeueing job" in text,
           "no interrupted run that requeued itself in the job output")
    expect("(restart 1)" in text and "parconv exit 0" in text,
           "no restart that completed in the job output (--open-mode=append)")
    same_files(out, REF_LONG, JOB_FILES)


def t_time_limit():
    """The real thing: --time=1 --signal=B:TERM@55 makes slurmctld signal
    the batch shell 5 s after the start, or rather at its next time-limit
    check (every 30 s): the workload must last longer than that."""
    out = os.path.join(CASE_DIR, "out")
    env = job_env(out, W_TL + ["--calibration", CAL])
    t = time.monotonic()
    rc, msg = sbatch_wait(["-c", "1", "--time=1", "--signal=B:TERM@55"],
                          os.path.join(SLURM_DIR, "parconv.sbatch"), env, 110)
    text = read_out("parconv-")
    m = manifest(out)
    log(f"the job ended after {time.monotonic() - t:.0f}s, "
        f"{m and m.get('kernels_done')} of {K_TL} kernels done")
    expect(rc == 143, f"sbatch --wait: exit {rc}, expected 143: "
           f"{msg.strip()!r}")
    expect("SIGTERM" in text and "passing it to parconv" in text,
           "the batch script did not report passing SIGTERM on")
    expect("parconv exit 143" in text, "no 'parconv exit 143' in the output")
    expect(m is not None and not m.get("complete") and
           m.get("kernels_done", 0) < K_TL,
           f"manifest: complete {m and m.get('complete')}, kernels_done "
           f"{m and m.get('kernels_done')}")
    shutil.rmtree(out, ignore_errors=True)  # up to a few hundred MB


# ---------------------------------------------------------------------------

def skip(why):
    print(f"skip slurm: {why}", flush=True)
    sys.exit(77)


def main():
    global EXE, SCRATCH, ENV, CAL, CAL_FFT, REF, REF_LONG
    EXE, SCRATCH = pctest.arguments(
        "usage: slurm_test.py PARCONV_PATH SCRATCH_DIR")
    if os.geteuid() != 0:
        skip("needs root (slurm/slurm-local.sh starts the Slurm daemons)")
    noconf = os.path.join(SCRATCH, "noconfig")
    os.makedirs(noconf, exist_ok=True)
    # No OMP_*/SLURM_* from the caller (this may itself run in a job).
    ENV = pctest.ENV = pctest.clean_env(PARCONV_CALIBRATION=None,
                                        XDG_CONFIG_HOME=noconf,
                                        SLURM_CONF=None)
    CAL = pctest.slow_calibration(SCRATCH)
    CAL_FFT = pctest.fft_calibration(SCRATCH)

    st = sh([SLURM_LOCAL, "status"], timeout=60)
    was_up = st.returncode == 0
    started = False
    try:
        if was_up:
            print("     (Slurm was running already; it is left running)")
        else:
            r = sh([SLURM_LOCAL, "start"], timeout=300)
            started = True  # whatever it left half-started is stopped too
            if r.returncode != 0:
                print(r.stderr.rstrip())
                skip(f"slurm/slurm-local.sh start failed "
                     f"(exit {r.returncode})")
            print("     " + (r.stdout.strip() or r.stderr.strip()
                             ).splitlines()[-1])

        REF = os.path.join(SCRATCH, "ref")
        REF_LONG = os.path.join(SCRATCH, "ref-long")
        pctest.case("plain runs (the references)", lambda: (
            plain_run(REF, W), plain_run(REF_LONG, W_LONG + [
                "--calibration", CAL])))

        case("parconv.sbatch -c 2: same bytes, OMP_* and Slurm in the report",
             t_single)
        for n in (1, 2, 3, 7, 30):
            case(f"array of {n} + merge afterok: same bytes", t_array,
                 f"--array=0-{n - 1}", n)
        case("array --array=1-3 (min 1) + merge: same bytes", t_array,
             "--array=1-3", 3)
        case("array of 3, default method (FFT) + merge: one FFT size, the "
             "bytes of a pinned run", t_array_fft, 3)
        case("array of 3 + merge, --matrices 3 --format stack: same bytes",
             t_array_dataset, "stack")
        case("array of 3 + merge, -m F.h5:/data/stack --format hdf5: same "
             "bytes", t_array_dataset, "hdf5")
        case("array of 3 + merge, hdf5 --compress deflate:4: same values "
             "and checksums", t_array_dataset, "hdf5",
             ["--compress", "deflate:4"])
        case("parconv-srun.sh as sbatch -n 3: shards, merge, same bytes",
             t_srun)
        case("SIGTERM to the batch shell: exit 143, incomplete; resubmit "
             "resumes to the same bytes", t_interrupt_resume)
        case("REQUEUE_ON_TERM=1: SIGTERM, the job requeues itself and "
             "completes the same bytes", t_interrupt_requeue)
        case("--time=1 --signal=B:TERM@55: the time-limit signal reaches "
             "parconv, exit 143, incomplete", t_time_limit)
    finally:
        cancel_ours()
        if started:
            r = sh([SLURM_LOCAL, "stop"], timeout=300)
            if r.returncode != 0:
                print(f"     slurm-local.sh stop: exit {r.returncode}: "
                      f"{r.stderr.strip()}")
    print(f"     ({time.monotonic() - T0:.0f} s in all)")
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
