"""-o's writer: batches are stored by threads of their own while the next
batch is computed (tools/writer.c). Behaviour, never timing:
  - the files of a run in many overlapped batches are byte for byte those
    of a run in one batch (nothing to overlap), for every --format;
  - SIGKILL while planes are being written leaves no file under a final
    name that is not whole (half-written planes are only temporaries), and
    --resume then ends with the one-batch run's files;
  - SIGTERM mid-run: exit 143, the batches computed are stored and listed,
    no temporary left;
  - a write error (RLIMIT_FSIZE below a plane; a full 2 MB tmpfs as root)
    is one line naming the first plane that failed, exit 1, whatever order
    the writer's threads failed in.

Usage: writer_test.py PARCONV_PATH SCRATCH_DIR
"""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

import pctest
from pctest import Skip, case, expect, fresh, ok_run, run, spawn

# 64 f64 planes of 204x204 (333 kB each).
W = ["-S", "omp", "-n", "200", "-s", "5", "-k", "64", "--method", "direct",
     "--seed", "7", "-q"]
K = 64
DEADLINE = 60


def conv_files(d):
    return sorted(n for n in os.listdir(d)
                  if re.fullmatch(r"conv_\d{5}\.npy", n))


def temp_files(d):
    return sorted(n for n in os.listdir(d) if n.endswith(".tmp"))


def slow():
    """A calibration whose direct sum costs a thousand times the built-in
    one: batches of one kernel set (the least a batch holds), so that a
    run has several and the writer stores one while the next is computed."""
    return pctest.write_calibration(
        os.path.join(pctest.SCRATCH, "slower.cal"),
        {(dt, isa): (1e-6, 3e-5) for dt in ("f64", "f32")
         for isa in ("avx512", "avx2", "generic")})


def batched(extra, d):
    """Runs W + extra into d in batches of a kernel set; returns the JSON
    report, checked to have had several batches."""
    j, _ = pctest.run_json(W + extra + ["--calibration", slow(), "-o", d])
    expect(j["batch_kernels"] * 3 <= K, f"{j['batch_kernels']} kernels a "
           "batch: too few batches to overlap")
    expect(j["writer_threads"] >= 1 and j["write_seconds"] >= 0 and
           0 <= j["write_wait_seconds"] <= j["write_seconds"] + 1e-6,
           f"writer figures {j['writer_threads']}, {j['write_seconds']}, "
           f"{j['write_wait_seconds']}")
    return j


def one_batch(extra, d):
    """The same run in a single batch (built-in cost model, small work)."""
    j, _ = pctest.run_json(W + extra + ["-o", d])
    expect(j["batch_kernels"] == K, f"{j['batch_kernels']} kernels a batch,"
           f" expected one batch of {K}")
    return j


REF = {}


def reference(fmt):
    if fmt not in REF:
        d = fresh(f"ref_{fmt}")
        one_batch(["--format", fmt], d)
        REF[fmt] = d
    return REF[fmt]


def t_identical(fmt):
    """Overlapped batches, one batch: the same files, byte for byte (and
    the same manifest: nothing in it depends on how the run went)."""
    d = fresh(f"batched_{fmt}")
    batched(["--format", fmt], d)
    pctest.same_files(d, reference(fmt))


def wait_for(cond, what, p):
    """Polls cond() until true; fails if p ends first or DEADLINE passes."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        if cond():
            return
        if p.poll() is not None:
            raise AssertionError(f"parconv ended (status {p.returncode}) "
                                 f"before {what}")
        time.sleep(0.002)
    raise AssertionError(f"no {what} within {DEADLINE} s")


def whole_files(d, ref):
    """Every plane under its final name in d is the reference's, byte for
    byte; every plane the manifest lists is there."""
    for n in conv_files(d):
        with open(os.path.join(d, n), "rb") as a, \
                open(os.path.join(ref, n), "rb") as b:
            expect(a.read() == b.read(), f"{n} under its final name is not "
                   "the whole plane")
    m = pctest.manifest(d)
    if m:
        listed = {p["file"] for p in m.get("kernels", m.get("planes", []))
                  if isinstance(p, dict) and "file" in p}
        missing = sorted(listed - set(conv_files(d)))
        expect(not missing, f"the manifest lists missing files {missing[:3]}")


def t_kill_mid_write(nth):
    """SIGKILL once nth planes are under their final names (the writer
    busy with the next ones): only whole planes under final names; then
    --resume ends with the reference's files."""
    ref = reference("npy")
    d = fresh(f"kill_{nth}")
    cal = slow()
    p = spawn(W + ["--calibration", cal, "-o", d])
    wait_for(lambda: os.path.isdir(d) and len(conv_files(d)) >= nth and
             temp_files(d), f"{nth} planes written and more being written", p)
    p.send_signal(signal.SIGKILL)
    rc, _, _ = pctest.finish(p)
    if rc == 0:
        raise Skip("the run ended before the signal landed")
    expect(rc == -signal.SIGKILL, f"status {rc} after SIGKILL")
    whole_files(d, ref)
    ok_run(W + ["--calibration", cal, "-o", d, "--resume"])
    pctest.same_files(d, ref)


def t_term_mid_write():
    """SIGTERM while batches are written: exit 143 and one line; the
    writer finishes what was computed, so every plane in DIR is listed,
    whole, and no temporary is left."""
    ref = reference("npy")
    d = fresh("term")
    cal = slow()
    p = spawn(W + ["--calibration", cal, "-o", d])
    wait_for(lambda: os.path.isdir(d) and len(conv_files(d)) >= 3,
             "3 planes written", p)
    p.send_signal(signal.SIGTERM)
    rc, _, err = pctest.finish(p)
    if rc == 0:
        raise Skip("the run ended before the signal landed")
    expect(rc == 143, f"exit {rc} after SIGTERM, stderr {err!r}")
    line = pctest.one_line(err, "SIGTERM")
    m = re.match(r"parconv: interrupted: (\d+) of 64 kernels complete", line)
    expect(m, f"stderr {line!r}")
    man = pctest.manifest(d)
    expect(int(m.group(1)) == man["kernels_done"] == len(conv_files(d)),
           f"stderr says {m.group(1)}, manifest {man['kernels_done']}, "
           f"{len(conv_files(d))} files")
    expect(not temp_files(d), f"temporaries left: {temp_files(d)[:3]}")
    whole_files(d, ref)


def fsize_limit(soft):
    def pre():
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    return pre


def t_fsize(rep):
    """RLIMIT_FSIZE below a plane: every plane of the first batch fails,
    on whichever thread; the one named is the first, conv_00000.npy; exit
    1, one line; nothing under a final name."""
    d = fresh(f"fsize_{rep}")
    cal = slow()
    r = run(W + ["--calibration", cal, "-o", d],
            preexec_fn=fsize_limit(100000))
    expect(r.returncode == 1, f"exit {r.returncode}, stderr {r.stderr!r}")
    line = pctest.one_line(r.stderr, "file-size limit")
    expect("File too large" in line and "conv_00000.npy" in line,
           f"stderr {line!r}")
    expect(not conv_files(d) and not temp_files(d), f"left {os.listdir(d)}")


def t_disk_full():
    """A 2 MB tmpfs (root only): the disk fills in the first batches;
    exit 1, one line saying so; what is under final names is whole."""
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    ref = reference("npy")
    mnt = os.path.join(pctest.SCRATCH, "mnt_full")
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise Skip(f"mount -t tmpfs failed: {r.stderr.strip()}")
    try:
        d = os.path.join(mnt, "out")
        cal = slow()
        r = run(W + ["--calibration", cal, "-o", d])
        expect(r.returncode == 1, f"exit {r.returncode}, stderr {r.stderr!r}")
        line = pctest.one_line(r.stderr, "disk full")
        expect("No space left on device" in line, f"stderr {line!r}")
        whole_files(d, ref)
    finally:
        pctest.cleanup()
        if subprocess.run(["umount", mnt], capture_output=True,
                          timeout=10).returncode != 0:
            subprocess.run(["umount", "-l", mnt], capture_output=True,
                           timeout=10)


def t_report():
    """The readable report says what the JSON does: the writing, the part
    not overlapped, the whole run."""
    d = fresh("report")
    cal = slow()
    r = ok_run([a for a in W if a != "-q"] + ["--calibration", cal, "-o", d])
    expect(re.search(r"wrote 64 files to .*, [0-9.]+s writing and syncing "
                     r"\(\d+ threads?\), [0-9.]+s of it not overlapped",
                     r.stdout), f"no writing line in {r.stdout[-600:]!r}")
    expect(re.search(r"whole run: [0-9.]+s from the process's start",
                     r.stdout), "no whole-run line")


def main():
    pctest.arguments("usage: writer_test.py PARCONV_PATH SCRATCH_DIR")
    for fmt in ("npy", "stack", "hdf5"):
        case(f"{fmt}: overlapped batches = one batch, byte for byte",
             t_identical, fmt)
    for nth in (1, 7, 20):
        case(f"SIGKILL after {nth} planes: only whole planes, --resume "
             "completes", t_kill_mid_write, nth)
    case("SIGTERM mid-write: 143, all stored listed, no temporary",
         t_term_mid_write)
    for rep in range(3):
        case(f"file-size limit: the first plane named, exit 1 ({rep + 1})",
             t_fsize, rep)
    case("disk full (2 MB tmpfs): exit 1, whole files", t_disk_full)
    case("the report's writing and whole-run lines", t_report)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
