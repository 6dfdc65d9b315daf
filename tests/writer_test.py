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

# 64 f64 planes of 204x204 (333 kB each: written through the page cache),
# and 48 of 404x404 (1.3 MB: written with direct I/O, fmt_npy.c).
W = ["-S", "omp", "-n", "200", "-s", "5", "-k", "64", "--method", "direct",
     "--seed", "7", "-q"]
K = 64
BIG = ["-S", "omp", "-n", "400", "-s", "5", "-k", "48", "--method", "direct",
       "--seed", "7", "-q"]


def workload(big):
    """(the arguments, the kernel count) of the small or the big planes."""
    return (BIG, 48) if big else (W, K)
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


def batched(extra, d, big=False):
    """Runs the workload + extra into d in batches of a kernel set;
    returns the JSON report, checked to have had several batches."""
    w, k = workload(big)
    j, _ = pctest.run_json(w + extra + ["--calibration", slow(), "-o", d])
    expect(j["batch_kernels"] * 3 <= k, f"{j['batch_kernels']} kernels a "
           "batch: too few batches to overlap")
    expect(j["writer_threads"] >= 1 and j["write_seconds"] >= 0 and
           0 <= j["write_wait_seconds"] <= j["write_seconds"] + 1e-6,
           f"writer figures {j['writer_threads']}, {j['write_seconds']}, "
           f"{j['write_wait_seconds']}")
    return j


def one_batch(extra, d, big=False):
    """The same run in a single batch (built-in cost model, small work)."""
    w, k = workload(big)
    j, _ = pctest.run_json(w + extra + ["-o", d])
    expect(j["batch_kernels"] == k, f"{j['batch_kernels']} kernels a batch,"
           f" expected one batch of {k}")
    return j


REF = {}


def reference(fmt, big=False):
    if (fmt, big) not in REF:
        d = fresh(f"ref_{fmt}" + ("_big" if big else ""))
        one_batch(["--format", fmt], d, big)
        REF[fmt, big] = d
    return REF[fmt, big]


def t_identical(fmt, big=False):
    """Overlapped batches, one batch: the same files, byte for byte (and
    the same manifest: nothing in it depends on how the run went)."""
    d = fresh(f"batched_{fmt}" + ("_big" if big else ""))
    batched(["--format", fmt], d, big)
    pctest.same_files(d, reference(fmt, big))


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


def t_kill_mid_write(nth, big=False):
    """SIGKILL once nth planes are under their final names (the writer
    busy with the next ones): only whole planes under final names; then
    --resume ends with the reference's files."""
    w, _ = workload(big)
    ref = reference("npy", big)
    d = fresh(f"kill_{nth}" + ("_big" if big else ""))
    cal = slow()
    p = spawn(w + ["--calibration", cal, "-o", d])
    wait_for(lambda: os.path.isdir(d) and len(conv_files(d)) >= nth and
             temp_files(d), f"{nth} planes written and more being written", p)
    p.send_signal(signal.SIGKILL)
    rc, _, _ = pctest.finish(p)
    if rc == 0:
        raise Skip("the run ended before the signal landed")
    expect(rc == -signal.SIGKILL, f"status {rc} after SIGKILL")
    whole_files(d, ref)
    ok_run(w + ["--calibration", cal, "-o", d, "--resume"])
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


def t_fsize(limit, big=False):
    """RLIMIT_FSIZE below a plane: every plane of the first batch fails,
    on whichever thread; the one named is the first, conv_00000.npy; exit
    1, one line; nothing under a final name. A limit of whole 4 kB blocks
    lets a direct write through in part before it fails."""
    w, _ = workload(big)
    d = fresh(f"fsize_{limit}")
    cal = slow()
    r = run(w + ["--calibration", cal, "-o", d],
            preexec_fn=fsize_limit(limit))
    expect(r.returncode == 1, f"exit {r.returncode}, stderr {r.stderr!r}")
    line = pctest.one_line(r.stderr, "file-size limit")
    expect("File too large" in line and "conv_00000.npy" in line,
           f"stderr {line!r}")
    expect(not conv_files(d) and not temp_files(d), f"left {os.listdir(d)}")


def t_disk_full(big=False):
    """A 2 MB tmpfs (root only): the disk fills in the first batches;
    exit 1, one line saying so; what is under final names is whole."""
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    w, _ = workload(big)
    ref = reference("npy", big)
    mnt = os.path.join(pctest.SCRATCH, "mnt_full")
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise Skip(f"mount -t tmpfs failed: {r.stderr.strip()}")
    try:
        d = os.path.join(mnt, "out")
        cal = slow()
        r = run(w + ["--calibration", cal, "-o", d])
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
    case("npy, direct I/O: overlapped batches = one batch, byte for byte",
         t_identical, "npy", True)
    for nth in (1, 7, 20):
        case(f"SIGKILL after {nth} planes: only whole planes, --resume "
             "completes", t_kill_mid_write, nth)
    for nth in (1, 20):
        case(f"direct I/O: SIGKILL after {nth} planes: only whole planes, "
             "--resume completes", t_kill_mid_write, nth, True)
    case("SIGTERM mid-write: 143, all stored listed, no temporary",
         t_term_mid_write)
    for limit in (100000, 150001, 200003):
        case(f"file-size limit {limit}: the first plane named, exit 1",
             t_fsize, limit)
    for limit in (409600, 1048576):
        case(f"direct I/O, file-size limit {limit}: the first plane named, "
             "exit 1", t_fsize, limit, True)
    case("disk full (2 MB tmpfs): exit 1, whole files", t_disk_full)
    case("direct I/O, disk full (2 MB tmpfs): exit 1, whole files",
         t_disk_full, True)
    case("the report's writing and whole-run lines", t_report)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
