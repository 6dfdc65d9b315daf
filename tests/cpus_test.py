#!/usr/bin/python3
"""Workers from the CPUs the process may use, and figures that cannot
exceed the hardware: one CPU of affinity gives one worker per strategy and
no %peak above 100; more workers than usable CPUs are warned of once and
marked oversubscribed; OMP_THREAD_LIMIT shrinks the omp team and the
report says so; SLURM_CPUS_PER_TASK sets threads and processes; FFT runs
give effective GFLOP/s and no %peak; sweep threads honours -S and -t/--max
and refuses more workers than usable CPUs.

Run by meson as cpus_test.py PARCONV_PATH SCRATCH_DIR; pctest prints a line
per case and the totals. The affinity is set with sched_setaffinity in the
child (what taskset does).
"""
import os
import re
import sys

import pctest
from pctest import case, clean_env, expect, ok_run, refused, run, run_json

# 8 kernels of 10x10 on 300x300: under 1 GFLOP, no ceiling measured.
SMALL = ["-n", "300", "-k", "8"]
# 2 * 200*200 * 25 * 500 flops: 1 GFLOP, the ceiling is measured.
GFLOP = ["-n", "196", "-s", "5", "-k", "500", "--method", "direct"]


def one_cpu():
    """A preexec_fn that confines the child to one CPU of ours."""
    cpu = min(os.sched_getaffinity(0))
    return lambda: os.sched_setaffinity(0, {cpu})


def warnings(err):
    return [l for l in err.splitlines() if l.startswith("parconv: warning")]


def t_one_cpu():
    """One CPU of affinity: one worker per strategy, said to come from the
    affinity; a %peak, where there is one, is at most 100."""
    j, r = run_json(SMALL + ["-S", "procs,omp,threads"],
                    preexec_fn=one_cpu())
    e = j["environment"]
    expect(e["cpus"]["affinity"] == 1 and e["cpus"]["usable"] == 1,
           f"cpus {e['cpus']}")
    expect(re.fullmatch(r"affinity 1 of \d+ CPUs", e["threads_from"]) and
           e["threads"] == 1, f"threads {e['threads']} from "
           f"{e['threads_from']!r}")
    expect(e["procs"] == 1 and "affinity 1 of" in e["procs_from"],
           f"procs {e['procs']} from {e['procs_from']!r}")
    expect([x["workers"] for x in j["runs"]] == [1, 1, 1],
           f"workers {[x['workers'] for x in j['runs']]}")
    expect(not any(x["oversubscribed"] for x in j["runs"]),
           "a one-worker run marked oversubscribed")
    expect(not warnings(r.stderr), f"warned: {warnings(r.stderr)}")
    expect(re.search(r"^  CPUs +1 usable: affinity 1 of \d+ online",
                     r.stderr, re.M) and
           re.search(r"^  threads +1 \(affinity 1 of \d+ CPUs\) +procs 1 "
                     r"\(affinity 1 of", r.stderr, re.M),
           f"report lines: {r.stderr[:1200]!r}")
    j, _ = run_json(GFLOP + ["-S", "serial,procs,omp,threads", "-q"],
                    preexec_fn=one_cpu())
    for x in j["runs"]:
        expect(x["workers"] == 1, f"{x['strategy']}: {x['workers']} workers")
        p = x["pct_peak"]
        expect(p is None and x["pct_peak_note"] ==
               "ceiling measured under load" or
               p is not None and 0 < p <= 100 and "pct_peak_note" not in x,
               f"{x['strategy']}: pct_peak {p}, {x.get('pct_peak_note')}")


def t_oversubscribed():
    """-t 3 on one CPU: allowed, one warning naming the usable CPUs, the
    threads and omp runs marked (JSON and table), serial not."""
    j, r = run_json(SMALL + ["-S", "serial,threads,omp", "-t", "3"],
                    preexec_fn=one_cpu())
    w = warnings(r.stderr)
    expect(len(w) == 1 and "3 threads on 1 usable CPU" in w[0] and
           "oversubscribed" in w[0], f"warnings {w}")
    over = {x["strategy"]: (x["workers"], x["oversubscribed"])
            for x in j["runs"]}
    expect(over == {"serial": (1, False), "threads": (3, True),
                    "omp": (3, True)}, f"runs {over}")
    rows = re.findall(r"^(serial|threads|omp)\s+direct\s+(\d+\*?)\s", r.stderr,
                      re.M)
    expect(rows == [("serial", "1"), ("threads", "3*"), ("omp", "3*")],
           f"table rows {rows}")
    expect(re.search(r"^\*: oversubscribed, more workers than the 1 usable "
                     r"CPU \(affinity 1 of \d+ CPUs\)$", r.stderr, re.M),
           "no oversubscription footnote")
    # Procs alone with -t 3: nothing runs 3 workers, nothing is said.
    _, r = run_json(SMALL + ["-S", "procs", "-t", "3"], preexec_fn=one_cpu())
    expect(not warnings(r.stderr), f"-S procs -t 3 warned: {r.stderr!r}")


def t_thread_limit():
    """OMP_THREAD_LIMIT=1: omp asked for 2 reports the 1 it got, computes
    every row (the checksum is serial's) and the report shows 1."""
    env = clean_env(OMP_THREAD_LIMIT="1")
    j, r = run_json(SMALL + ["-S", "serial,omp", "-t", "2"], env=env)
    runs = {x["strategy"]: x for x in j["runs"]}
    expect(runs["omp"]["workers"] == 1, f"omp workers {runs['omp']['workers']}")
    expect(runs["omp"]["checksum"] == runs["serial"]["checksum"] and
           j["verified"], "omp's result differs from serial's")
    expect(re.search(r"^omp\s+direct\s+1\s", r.stderr, re.M),
           "the table does not show 1 omp worker")
    expect(j["environment"]["omp_env"].get("OMP_THREAD_LIMIT") == "1" and
           j["environment"]["omp"]["thread_limit"] == 1,
           f"environment {j['environment']['omp_env']}, "
           f"{j['environment']['omp']}")
    expect("OMP_THREAD_LIMIT=1" in r.stderr, "OpenMP line lacks the limit")
    # OMP_DYNAMIC: the runtime may give any team up to 2; still serial's
    # result, and the team reported is what it gave.
    j, _ = run_json(SMALL + ["-S", "serial,omp", "-t", "2", "-q"],
                    env=clean_env(OMP_DYNAMIC="true"))
    expect(1 <= j["runs"][1]["workers"] <= 2 and j["verified"] and
           j["environment"]["omp"]["dynamic"] is True,
           f"OMP_DYNAMIC: runs {j['runs']}")


def t_slurm_cpus():
    """SLURM_CPUS_PER_TASK=1, OMP_NUM_THREADS unset: one thread and one
    process, both said to come from it."""
    j, _ = run_json(SMALL + ["-q"], env=clean_env(SLURM_CPUS_PER_TASK="1"))
    e = j["environment"]
    expect((e["threads"], e["threads_from"], e["procs"], e["procs_from"]) ==
           (1, "SLURM_CPUS_PER_TASK", 1, "SLURM_CPUS_PER_TASK"),
           f"environment {e}")
    expect([x["workers"] for x in j["runs"]] == [1, 1, 1, 1],
           f"workers {[x['workers'] for x in j['runs']]}")
    # -p still wins; a malformed value is refused for procs too.
    j, _ = run_json(SMALL + ["-q", "-S", "procs", "-p", "2"],
                    env=clean_env(SLURM_CPUS_PER_TASK="1"))
    expect(j["runs"][0]["workers"] == 2, f"-p 2: {j['runs']}")
    refused(SMALL + ["-S", "procs"], [2], ["SLURM_CPUS_PER_TASK"],
            env=clean_env(SLURM_CPUS_PER_TASK="x"))


def t_defaults():
    """No variables: threads are the usable CPUs, processes at most those,
    and the affinity is ours; the same with OpenMP's binding on
    (OMP_PROC_BIND binds the main thread to one CPU before main)."""
    mine = len(os.sched_getaffinity(0))
    for env in (clean_env(), clean_env(OMP_PROC_BIND="close",
                                       OMP_PLACES="cores")):
        j, _ = run_json(SMALL + ["-q"], env=env)
        e = j["environment"]
        c = e["cpus"]
        expect(c["affinity"] == mine and 1 <= c["usable"] <= mine and
               c["online"] >= mine, f"cpus {c}, this process has {mine}")
        expect(e["threads"] == c["usable"] and
               e["threads_from"] == c["usable_from"], f"environment {e}")
        expect(1 <= e["procs"] <= c["usable"], f"procs {e['procs']}, cpus {c}")


def t_fft_effective():
    """An FFT run gives effective_gflops, no gflops and no %peak, and the
    table names its column and says what it is."""
    j, r = run_json(["-n", "300", "-k", "8", "-s", "40", "--method", "fft",
                     "-S", "serial,omp"])
    for x in j["runs"]:
        expect(x["effective_gflops"] > 0 and "gflops" not in x and
               "pct_peak" not in x and "peak_gflops" not in x,
               f"fft run {x}")
    expect(re.search(r"^strategy\s+method\s+workers\s+seconds\s+start/stop\s+"
                     r"eff\. GFLOP/s\s+%peak", r.stderr, re.M),
           "no 'eff. GFLOP/s' column")
    expect("direct-equivalent: the direct method's flop count over the FFT "
           "run's" in r.stderr, "no direct-equivalent footnote")
    expect("under 1 GFLOP" not in r.stderr, "the small-run footnote on FFT")
    # A small direct run: gflops, pct_peak null with the reason.
    j, r = run_json(SMALL + ["-S", "serial"])
    x = j["runs"][0]
    expect(x["gflops"] > 0 and x["pct_peak"] is None and
           x["pct_peak_note"] == "not measured for runs under 1 GFLOP" and
           "effective_gflops" not in x, f"direct run {x}")
    expect("%peak not measured for runs under 1 GFLOP" in r.stderr,
           "no small-run footnote on a small direct run")


SWEEP = ["sweep", "threads", "-n", "60", "-k", "2", "-s", "3", "--runs", "1"]


def t_sweep_strategies():
    """sweep threads times the strategies of -S only, 1..-t workers."""
    j, _ = run_json(SWEEP + ["-S", "omp"])
    expect({p["strategy"] for p in j["points"]} == {"omp"},
           f"-S omp: points {j['points']}")
    j, _ = run_json(SWEEP + ["-S", "threads,procs", "-t", "1"])
    expect([(p["strategy"], p["workers"]) for p in j["points"]] ==
           [("threads", 1), ("procs", 1)], f"points {j['points']}")
    j, _ = run_json(SWEEP)
    expect({p["strategy"] for p in j["points"]} == {"omp", "procs"},
           f"default strategies: {j['points']}")
    refused(SWEEP + ["-S", "serial,omp"], [2], ["parallel"])


def t_sweep_max():
    """More workers than usable CPUs is refused, naming them; -t and --max
    must agree; on one CPU the sweep stops at 1."""
    usable = run_json(SMALL + ["-S", "serial", "-q"])[0]["environment"][
        "cpus"]["usable"]
    refused(SWEEP + ["--max", str(usable + 1)], [2],
            [f"{usable} usable CPU", "affinity"])
    refused(SWEEP + ["-t", str(usable + 1)], [2], [f"{usable} usable CPU"])
    refused(SWEEP + ["-t", "1", "--max", "2"], [2], ["--max 2", "-t 1"])
    refused(SWEEP + ["--max", "2"], [2], ["1 usable CPU"],
            preexec_fn=one_cpu())
    j, _ = run_json(SWEEP + ["-S", "omp"], preexec_fn=one_cpu())
    expect([p["workers"] for p in j["points"]] == [1], f"points {j['points']}")
    # OMP_THREAD_LIMIT=1: omp stops at the team it gets, said on stderr.
    if usable >= 2:
        j, r = run_json(SWEEP + ["-S", "omp", "--max", "2"],
                        env=clean_env(OMP_THREAD_LIMIT="1"))
        expect([p["workers"] for p in j["points"]] == [1] and
               "omp got 1 worker for 2 asked" in r.stderr,
               f"points {j['points']}, stderr {r.stderr!r}")


def main():
    global EXE, SCRATCH
    EXE, SCRATCH = pctest.arguments(
        "usage: cpus_test.py PARCONV_PATH SCRATCH_DIR")
    case("one CPU of affinity: one worker each, %peak <= 100", t_one_cpu)
    case("-t 3 on one CPU: warned once, marked oversubscribed",
         t_oversubscribed)
    case("OMP_THREAD_LIMIT=1: the omp team reported", t_thread_limit)
    case("SLURM_CPUS_PER_TASK=1: one thread, one process", t_slurm_cpus)
    case("defaults from the usable CPUs, OMP_PROC_BIND too", t_defaults)
    case("FFT: effective GFLOP/s, no %peak", t_fft_effective)
    case("sweep threads -S, -t", t_sweep_strategies)
    case("sweep threads --max above the usable CPUs", t_sweep_max)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
