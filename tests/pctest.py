"""The harness the Python test scripts share.

Each script runs as 'python3 tests/X.py PARCONV_PATH SCRATCH_DIR' (so this
folder is on sys.path) and imports this module. arguments() reads the two
paths; run(), ok_run(), run_json(), refused() and spawn() then run that
parconv in the scratch folder, in the environment ENV (clean_env() unless
the script sets another), each call with a timeout. A script prints
'ok   name', 'FAIL name: why' or 'skip name: why' per case (case()) and
'N passed, M failed' at the end (summary()), and exits 1 if anything
failed (2 on a usage error). What a case starts (spawn(), and the procs
workers noted in SEEN) is killed after it.
"""
import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback

# The parconv under test and the scratch folder (set by arguments()); the
# environment of every parconv call (None: clean_env()) and the seconds one
# call may take unless it says otherwise. A script may change ENV and
# TIMEOUT.
EXE = None
SCRATCH = None
ENV = None
TIMEOUT = 60

# |fft - ref| <= tol * max|ref|: the bound parconv holds its FFT results to
# (fft_tolerance in tools/).
FFT_TOL = {"f64": 1e-10, "f32": 1e-4}
# What marks a procs worker's command line (PC_WORKER_FLAG in parconv.h).
WORKER_FLAG = "--pc-worker"

passed = 0
failed = 0
skipped = 0
LIVE = []  # Popen objects started by the current case (spawn())
SEEN = {}  # worker pid -> start time, seen during the current case


# ---------------------------------------------------------------------------
# cases and the summary

class Skip(Exception):
    """Raised by a case that cannot run here (a mount, setuid, ...)."""


def report(name, why=None):
    """Counts and prints one case: passed if why is None, else failed."""
    global passed, failed
    if why is None:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {why}", flush=True)


def failure(fn, *a, **kw):
    """Runs fn(*a, **kw); returns None if it passed, else why it failed: an
    assertion's message, or any other error with its cause. Skip goes
    through."""
    try:
        fn(*a, **kw)
    except AssertionError as e:
        return str(e)
    except Skip:
        raise
    except Exception as e:  # a test error is a failure too, with its cause
        return (f"{type(e).__name__}: {e} "
                f"[{traceback.format_exc().splitlines()[-3].strip()}]")
    return None


def case(name, fn, *a, **kw):
    """Runs fn(*a, **kw) as one case: it passes unless it raises (Skip:
    skipped). Afterwards whatever the case started is killed."""
    global skipped
    try:
        report(name, failure(fn, *a, **kw))
    except Skip as e:
        skipped += 1
        print(f"skip {name}: {e}", flush=True)
    finally:
        cleanup()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def arguments(usage):
    """(PARCONV_PATH, SCRATCH_DIR) from the command line, both absolute, the
    scratch folder made; also kept as EXE and SCRATCH. If they are not two,
    prints usage and exits 2."""
    global EXE, SCRATCH
    if len(sys.argv) != 3:
        print(usage, file=sys.stderr)
        sys.exit(2)
    EXE = os.path.abspath(sys.argv[1])
    SCRATCH = os.path.abspath(sys.argv[2])
    os.makedirs(SCRATCH, exist_ok=True)
    return EXE, SCRATCH


def summary():
    """Prints 'N passed, M failed'; returns the exit status (1 if any
    failed)."""
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# running parconv

def clean_env(**extra):
    """The environment without OMP_*/GOMP_*/SLURM_* (so the host's settings
    do not leak in), plus extra (a value of None removes the variable)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMP_", "GOMP_", "SLURM_"))}
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _defaults(kw):
    """kw with env ENV (else clean_env()) and cwd SCRATCH where it has none
    (or None)."""
    if kw.get("env") is None:
        kw["env"] = ENV if ENV is not None else clean_env()
    if kw.get("cwd") is None:
        kw["cwd"] = SCRATCH
    return kw


def run(args, timeout=None, text=True, **kw):
    """Runs parconv with args, output captured (as text unless text=False);
    kw goes to subprocess.run. Running past timeout (TIMEOUT) seconds fails
    the case (AssertionError)."""
    timeout = timeout or TIMEOUT
    try:
        return subprocess.run([EXE] + list(args), capture_output=True,
                              text=text, timeout=timeout, **_defaults(kw))
    except subprocess.TimeoutExpired:
        raise AssertionError(f"timed out after {timeout}s: parconv "
                             + " ".join(args))


def ok_run(args, **kw):
    """run() that must exit 0."""
    r = run(args, **kw)
    expect(r.returncode == 0, f"parconv {' '.join(args)}: exit "
           f"{r.returncode}, stderr {r.stderr.strip()!r}")
    return r


def run_json(args, **kw):
    """ok_run() with '--json -': (the JSON report, the run)."""
    r = ok_run(args + ["--json", "-"], **kw)
    try:
        return json.loads(r.stdout), r
    except json.JSONDecodeError as e:
        raise AssertionError(f"--json - stdout is not JSON ({e}): "
                             f"{r.stdout[:300]!r}")


def one_line(err, what):
    """err is one line, 'parconv: ...'; returns it."""
    lines = err.splitlines()
    expect(len(lines) == 1, f"{what}: {len(lines)} stderr lines, expected 1: "
           f"{err!r}")
    expect(lines[0].startswith("parconv: "),
           f"{what}: stderr does not start with 'parconv: ': {lines[0]!r}")
    return lines[0]


def refused(args, codes, subs, **kw):
    """parconv args (run() with kw) must exit with one of codes, print
    nothing on stdout and one line on stderr, 'parconv: ...', that mentions
    every string in subs (case-insensitive). Returns that line."""
    r = run(args, **kw)
    what = f"parconv {' '.join(args)}"
    expect(r.returncode in codes, f"{what}: exit {r.returncode}, expected "
           f"{' or '.join(map(str, codes))} (stderr {r.stderr!r})")
    line = one_line(r.stderr, what)
    for s in subs:
        expect(s.lower() in line.lower(),
               f"{what}: stderr does not mention {s!r}: {line!r}")
    expect(r.stdout == "", f"{what}: stdout not empty: {r.stdout[:200]!r}")
    return line


def spawn(args, **kw):
    """parconv args started in the background (stdout and stderr piped, as
    text); killed after the case unless it has ended."""
    p = subprocess.Popen([EXE] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **_defaults(kw))
    LIVE.append(p)
    return p


def finish(p, timeout=None, after=""):
    """Waits for a spawn()ed parconv: (exit status, stdout, stderr). Not
    ending within timeout (TIMEOUT) seconds fails the case; after says
    what it was waiting after, for the message."""
    timeout = timeout or TIMEOUT
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"parconv did not end within {timeout}s{after}")
    return p.returncode, out, err


# ---------------------------------------------------------------------------
# files

def fresh(name, make=False):
    """SCRATCH/name, removed if it was there (and made again if make)."""
    d = os.path.join(SCRATCH, name)
    shutil.rmtree(d, ignore_errors=True)
    if make:
        os.makedirs(d)
    return d


def manifest(d):
    """DIR/manifest.json parsed, or None if there is none. It is replaced
    by rename, so every read must see a whole, valid file."""
    try:
        with open(os.path.join(d, "manifest.json")) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"manifest.json is not JSON ({e}): "
                             f"{text[:200]!r}")


def same_files(d, ref, ignore=()):
    """d holds exactly ref's files (besides the names in ignore), each byte
    for byte the same."""
    want = sorted(os.listdir(ref))
    have = sorted(n for n in os.listdir(d) if n not in ignore)
    missing = sorted(set(want) - set(have))
    more = sorted(set(have) - set(want))
    expect(not missing and not more, f"{d}: missing {missing[:5]}, "
           f"unexpected {more[:5]} ({len(have)} vs {len(want)} files)")
    differ = [n for n in want
              if not filecmp.cmp(os.path.join(ref, n), os.path.join(d, n),
                                 shallow=False)]
    expect(not differ, f"{d}: {len(differ)} files differ from {ref}: "
           f"{differ[:5]}")


def calibration(entries, **top):
    """A calibration file's JSON object as parconv calibrate writes it:
    entries maps (dtype, isa) to (direct, fft) seconds; top adds or
    replaces top-level fields."""
    constants = {}
    for (dt, isa), (cd, cf) in entries.items():
        constants.setdefault(dt, {})[isa] = {"direct": cd, "fft": cf}
    cal = {"parconv": "calibration", "version": 1, "constants": constants}
    cal.update(top)
    return cal


def write_calibration(path, entries, **dump):
    """Writes calibration(entries) to path with json.dump(**dump); returns
    path."""
    with open(path, "w") as f:
        json.dump(calibration(entries), f, **dump)
    return path


def slow_calibration(scratch):
    """Writes a calibration file with cost constants about 50 times the
    built-in ones, so that parconv cuts runs into many small batches (the
    fault tests interrupt runs between batches); returns its path."""
    return write_calibration(
        os.path.join(scratch, "slow.cal"),
        {(dt, isa): (1e-9, 3e-8) for dt in ("f64", "f32")
         for isa in ("avx512", "avx2", "generic")}, indent=2)


def fft_calibration(scratch):
    """Writes a calibration file whose constants make the direct sum cost
    a thousand times more than the built-in ones say, so that --method
    auto chooses FFT for any kernel of more than a few taps; returns its
    path."""
    return write_calibration(
        os.path.join(scratch, "fft.cal"),
        {(dt, isa): (1e-8, 1e-10) for dt in ("f64", "f32")
         for isa in ("avx512", "avx2", "generic")}, indent=2)


# ---------------------------------------------------------------------------
# processes, from /proc

def stat(pid):
    """(state, ppid, starttime) of pid, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def alive(pid, starttime):
    """pid is still that process and has not exited (a zombie has)."""
    st = stat(pid)
    return st is not None and st[2] == starttime and st[0] != "Z"


def workers_of(ppid):
    """Live processes whose parent is ppid and whose command line has the
    worker flag: {pid: starttime}."""
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = stat(int(d))
        if st and st[1] == ppid and st[0] != "Z" and \
                WORKER_FLAG.encode() in cmdline(int(d)):
            found[int(d)] = st[2]
    return found


def note_workers(p):
    """Notes p's live workers in SEEN (killed after the case); returns
    them, {pid: starttime}."""
    w = workers_of(p.pid)
    SEEN.update(w)
    return w


def wait_gone(pids, parent_pid=None, timeout=5):
    """Waits until none of pids ({pid: starttime}) is alive, nor any worker
    whose parent is parent_pid. Returns the survivors' pids, sorted (empty
    if none)."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: t for pid, t in pids.items() if alive(pid, t)}
        if parent_pid is not None:
            left.update(workers_of(parent_pid))
        if not left or time.monotonic() >= deadline:
            return sorted(left)
        time.sleep(0.02)


def send(pid, sig):
    """Sends sig to pid; False if there is no such process any more."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def kill_all(popens, pids):
    """Kills what a test started that still runs: the Popen objects (then
    reaped) and, by pid, the other processes ((pid, starttime) pairs; a
    starttime of None was never seen alive)."""
    for p in popens:
        if p.poll() is None:
            p.kill()
        try:
            p.communicate(timeout=10)
        except Exception:
            pass
    for pid, t in pids:
        if t is not None and alive(pid, t):
            send(pid, signal.SIGKILL)


def cleanup():
    """Kills whatever the current case started (LIVE, SEEN) that still
    runs."""
    kill_all(LIVE, SEEN.items())
    LIVE.clear()
    SEEN.clear()
