"""The harness the Python test scripts share.

Each script runs as 'python3 tests/X.py PARCONV_PATH SCRATCH_DIR' (so this
folder is on sys.path) and imports this module. It prints 'ok   name' or
'FAIL name: why' per case and 'N passed, M failed' at the end, and exits 1
if anything failed (2 on a usage error).
"""
import os
import subprocess
import sys
import traceback

passed = 0
failed = 0


def report(name, why=None):
    """Counts and prints one case: passed if why is None, else failed."""
    global passed, failed
    if why is None:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {why}", flush=True)


def case(name, fn, *a, **kw):
    """Runs fn(*a, **kw) as one case: it passes unless it raises."""
    try:
        fn(*a, **kw)
        report(name)
    except AssertionError as e:
        report(name, str(e))
    except Exception as e:  # a test error is a failure too, with its cause
        report(name, f"{type(e).__name__}: {e} "
               f"[{traceback.format_exc().splitlines()[-3].strip()}]")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


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


def run(exe, args, timeout, text=True, **kw):
    """Runs exe with args, output captured (as text unless text=False);
    kw goes to subprocess.run. Running past timeout seconds fails the case
    (AssertionError)."""
    try:
        return subprocess.run([exe] + list(args), capture_output=True,
                              text=text, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"timed out after {timeout}s: parconv "
                             + " ".join(args))


def arguments(usage):
    """(PARCONV_PATH, SCRATCH_DIR) from the command line, both absolute, the
    scratch folder made. If they are not two, prints usage and exits 2."""
    if len(sys.argv) != 3:
        print(usage, file=sys.stderr)
        sys.exit(2)
    exe = os.path.abspath(sys.argv[1])
    scratch = os.path.abspath(sys.argv[2])
    os.makedirs(scratch, exist_ok=True)
    return exe, scratch


def summary():
    """Prints 'N passed, M failed'; returns the exit status (1 if any
    failed)."""
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def slow_calibration(scratch):
    """Writes a calibration file with cost constants about 50 times the
    built-in ones, so that parconv cuts runs into many small batches (the
    fault tests interrupt runs between batches); returns its path."""
    path = os.path.join(scratch, "slow.cal")
    with open(path, "w") as f:
        f.write("# 50x the built-in constants: small batches\n")
        for dt in ("f64", "f32"):
            for isa in ("avx512", "avx2", "generic"):
                f.write(f"{dt} {isa} direct 1e-9 fft 3e-8\n")
    return path
