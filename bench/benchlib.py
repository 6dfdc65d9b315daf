"""What bench/bench_peers.py and bench/bench_fft_peers.py (the Python
halves of bench/bench.sh and bench/bench_fft.sh) share: the medians of
parconv's JSON reports, the facts about the machine and the software that
go into the results, and writing the results.
"""

import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy

STRATEGIES = ("serial", "procs", "threads", "omp")
RUN_FIELDS = ("compute_seconds", "seconds", "startup_seconds", "gflops",
              "peak_gflops", "pct_peak")
# Unset by the shell scripts for the python half (set on some machines for
# old OpenBLAS builds).
ENV_UNSET_FOR_PEERS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def median(xs):
    """The median of the values that are not None; None if there are none
    (parconv writes null for peak_gflops and pct_peak where the peak is
    unknown)."""
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def git_commit():
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout
        return {"commit": head, "dirty": bool(dirty.strip())}
    except (OSError, subprocess.CalledProcessError):
        return None


def start(parconv_bin):
    """What is noted as the peers start: (online CPUs, as multiprocessing.Pool()
    would use them; load average; time.time(); `parconv --version` or None)."""
    ncpu = os.cpu_count() or 1  # what multiprocessing.Pool() would use
    load_start = os.getloadavg()
    started = time.time()
    try:
        pc_version = subprocess.run([parconv_bin, "--version"], capture_output=True,
                                    text=True).stdout.strip() or None
    except OSError:
        pc_version = None
    return ncpu, load_start, started, pc_version


def result_head(benchmark, ncpu, load_start, pc_version):
    """The first fields of the results: benchmark, date (now), machine, git,
    software and env_unset_for_peers."""
    return {
        "benchmark": benchmark,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "online_cpus": ncpu, "loadavg_start": load_start},
        "git": git_commit(),
        "software": {"parconv": pc_version, "python": sys.version.split()[0],
                     "numpy": np.__version__, "scipy": scipy.__version__},
        "env_unset_for_peers": list(ENV_UNSET_FOR_PEERS),
    }


def write_json(path, result):
    """Writes RESULT to PATH through a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------- parconv --

def load_reports(directory, prefix, missing):
    """The parconv JSON reports DIRECTORY/PREFIX-N.json in the order of N;
    exits with the message MISSING if there are none."""
    files = sorted(glob.glob(os.path.join(directory, f"{prefix}-*.json")),
                   key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0]))
    reports = []
    for path in files:
        with open(path) as f:
            reports.append(json.load(f))
    if not reports:
        raise SystemExit(missing)
    return reports


def strategy_medians(reports):
    """Per strategy in STRATEGIES that ran: workers, the median of each of
    RUN_FIELDS over the runs, ms_per_kernel (median compute_seconds * 1000 /
    the workload's count) and the samples; and the set of the runs' methods."""
    count = reports[0]["workload"]["count"]
    samples = {s: {k: [] for k in RUN_FIELDS} for s in STRATEGIES}
    workers = {}
    methods = set()
    for rep in reports:
        for run in rep["runs"]:
            s = run["strategy"]
            if s not in samples:
                continue
            workers[s] = run["workers"]
            methods.add(run.get("method"))
            for k in RUN_FIELDS:
                samples[s][k].append(run.get(k))
    strategies = {}
    for s in STRATEGIES:
        med = {k: median(v) for k, v in samples[s].items()}
        if med["compute_seconds"] is None:
            continue
        strategies[s] = {
            "workers": workers[s],
            "median": med,
            "ms_per_kernel": med["compute_seconds"] * 1000 / count,
            "samples": samples[s],
        }
    return strategies, methods


def report_checks(reports):
    """The set-up time and what parconv verified, over the reports."""
    return {
        "setup_seconds_median": median([r["setup_seconds"] for r in reports]),
        "verified_all": all(r["verified"] for r in reports),
        "mismatches": [r["mismatch"] for r in reports if not r["verified"]],
        "checksums": sorted({run["checksum"] for r in reports for run in r["runs"]}),
    }


def read_json(path, fail):
    """A JSON file's contents; every problem is one line through fail()
    (which does not return), as the plot scripts report them."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        fail(f"no such file: '{path}'")
    except IsADirectoryError:
        fail(f"'{path}' is a directory, not a sweep JSON file")
    except OSError as e:
        fail(f"cannot read '{path}': {e.strerror}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        fail(f"'{path}' is not valid JSON: {e}")


def save_figure(fig, out, fail):
    """Writes a matplotlib figure, closes it and prints the path; a file
    that cannot be written is one line through fail() with status 1."""
    import matplotlib.pyplot as plt
    try:
        fig.savefig(out)
    except OSError as e:
        fail(f"cannot write '{out}': {e.strerror or e}", status=1)
    plt.close(fig)
    print(out)


# ------------------------------------------------------------------ torch --

def torch_full_conv(torch, matrix, bank, dtype):
    """A function n -> the full convolutions of MATRIX with the first n
    kernels of BANK in DTYPE ("f32" or "f64"), computed by
    torch.nn.functional.conv2d with the kernels as n output channels: conv2d
    correlates, so the kernels are flipped and the padding is (kh-1, kw-1),
    which gives scipy.signal.convolve2d(matrix, k, 'full') for each. It
    returns a tensor of shape (n, M+kh-1, N+kw-1); the conversions are made
    here, once, outside what a caller times."""
    typ = torch.float32 if dtype == "f32" else torch.float64
    kh, kw = bank.shape[1:]
    x = torch.from_numpy(np.ascontiguousarray(matrix)).to(typ)[None, None]
    w = torch.from_numpy(np.ascontiguousarray(bank[:, ::-1, ::-1])).to(typ)[:, None]

    def run(n):
        with torch.no_grad():
            return torch.nn.functional.conv2d(x, w[:n], padding=(kh - 1, kw - 1))[0]
    return run


def torch_kernels_within(run, count, budget):
    """How many of COUNT kernels one call of RUN (torch_full_conv's) takes
    within BUDGET seconds: torch's CPU convolution is slow for large
    kernels, and a call has a fixed part (the unfolded matrix) that a few
    kernels would not amortise, so the first call, which is also the
    warm-up, takes up to 8 kernels."""
    probe = min(count, 8)
    t = time.perf_counter()
    run(probe)
    t = time.perf_counter() - t
    return max(1, min(count, int(budget * probe / max(t, 1e-9))))
