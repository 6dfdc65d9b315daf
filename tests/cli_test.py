#!/usr/bin/python3
"""The command line: every option on a good path, and a table of bad inputs.

Usage: cli_test.py PARCONV_PATH SCRATCH_DIR

Prints 'ok   name' or 'FAIL name: why' per case and 'N passed, M failed' at
the end; exits 1 if anything failed. Every parconv call has a timeout.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

import pctest
from pctest import case, clean_env, expect, fresh, ok_run, run, run_json

EXE = None
SCRATCH = None
HERE = os.path.dirname(os.path.abspath(__file__))

LONG_OPTS = ["size", "count", "ksize", "range", "seed", "matrix", "bank",
             "mode", "boundary", "fillvalue", "dtype", "method", "strategy",
             "procs", "threads", "output", "json", "quiet", "seconds", "help",
             "version", "isa", "fft-plan", "wisdom", "calibration", "from",
             "to", "step", "runs", "csv"]
# Short forms the help text shows as '-x, --long' (-h and -V are accepted
# too but the help shows only their long forms).
SHORT_OPTS = {"n": "size", "k": "count", "s": "ksize", "m": "matrix",
              "b": "bank", "S": "strategy", "p": "procs", "t": "threads",
              "o": "output", "q": "quiet"}

# A small workload for every run that computes something.
SMALL = ["-n", "23x17", "-k", "5", "-s", "4x3"]


# ---------------------------------------------------------------------------
# (a) good paths

def long_opts_from_source():
    """The long names in the option table (tools/options.c)."""
    path = os.path.join(HERE, "..", "tools", "options.c")
    try:
        src = open(path).read()
    except OSError:
        return []
    table = re.search(r"cli_opts\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not table:
        return []
    return re.findall(r'\{\.name = "([a-z-]+)"', table.group(1))


def t_help():
    r = ok_run(["--help"])
    expect(r.stderr == "", f"stderr not empty: {r.stderr!r}")
    names = sorted(set(LONG_OPTS) | set(long_opts_from_source()))
    missing = [n for n in names if f"--{n}" not in r.stdout]
    expect(not missing, f"--help does not mention {missing}")
    for s, l in SHORT_OPTS.items():
        expect(re.search(rf"-{s}, --{l}\b", r.stdout),
               f"--help does not show '-{s}, --{l}'")
    for word in ("gen", "demo", "serial", "procs", "threads", "omp",
                 "Exit status", "peak", "calibrate", "sweep ksize", "direct",
                 "fft", "auto", "estimate", "measure",
                 "PARCONV_CALIBRATION"):
        expect(word in r.stdout, f"--help does not mention {word!r}")
    r2 = ok_run(["-h"])
    expect(r2.stdout == r.stdout, "-h differs from --help")
    # A subcommand's --help is its own (see t_subcommand_help).
    for sub in (["gen"], ["demo"], ["peak"], ["calibrate"],
                ["sweep", "ksize"]):
        r3 = ok_run(sub + ["--help"])
        expect(r3.stdout.startswith(f"Usage: parconv {sub[0]} "),
               f"{' '.join(sub)} --help does not start with its usage")


def t_sweep_help():
    """'parconv sweep --help' prints sweep's help, as 'gen --help' does
    gen's, before asking what to sweep."""
    r = ok_run(["sweep", "ksize", "--help"])
    for opt in ("--help", "-h"):
        r2 = run(["sweep", opt])
        expect(r2.returncode == 0 and r2.stdout == r.stdout and
               r2.stderr == "", f"sweep {opt}: exit {r2.returncode}, "
               f"stderr {r2.stderr.strip()!r}")


# Each subcommand, with the word it needs before its options.
SUBCOMMANDS = {"run": [], "gen": [], "demo": ["sleep"], "peak": [],
               "calibrate": [], "sweep": ["ksize"], "merge": ["DIR"]}
# Options a subcommand's help must list, and some it must not.
HELP_LISTS = {
    "run": (["size", "matrix", "mode", "method", "strategy", "output",
             "resume", "shard", "worker-timeout", "max-mem"],
            ["from", "to", "max", "seconds", "csv"]),
    "gen": (["size", "count", "ksize", "range", "seed", "dtype", "output"],
            ["matrix", "strategy", "method", "resume", "seconds"]),
    "demo": (["seconds"], ["size", "output", "threads"]),
    "peak": (["dtype", "isa", "threads"],
             ["resume", "size", "output", "from", "calibration"]),
    "calibrate": (["dtype", "isa", "calibration"], ["size", "threads"]),
    "sweep": (["from", "to", "step", "max", "runs", "csv", "json"],
              ["resume", "shard", "output", "seconds", "fft-size"]),
    "merge": ([], ["output", "size", "quiet"]),
}
OPTION_ROW = r"^  (?:-(\w), |    )--([a-z-]+)\b"


def listed(text):
    """{long name: short letter or None} of the option rows of a help."""
    return {m.group(2): m.group(1) for m in re.finditer(OPTION_ROW, text,
                                                        re.M)}


def t_subcommand_help():
    """SUBCOMMAND --help: its usage, its words, and only its options."""
    for sub in SUBCOMMANDS:
        r = ok_run([sub, "--help"])
        expect(r.stderr == "", f"{sub} --help: stderr {r.stderr!r}")
        usage = "Usage: parconv " + ("[run]" if sub == "run" else sub)
        expect(r.stdout.startswith(usage), f"{sub} --help starts "
               f"{r.stdout[:40]!r}")
        expect("Subcommands:" not in r.stdout,
               f"{sub} --help shows the overview")
        opts = listed(r.stdout)
        must, must_not = HELP_LISTS[sub]
        for name in must + ["help", "version"]:
            expect(name in opts, f"{sub} --help does not list --{name}")
        for name in must_not:
            expect(name not in opts, f"{sub} --help lists --{name}")
        r2 = ok_run(["help", sub])
        expect(r2.stdout == r.stdout, f"'help {sub}' differs from "
               f"'{sub} --help'")
    r = ok_run(["demo", "--help"])
    for word in ("sleep", "lock", "task"):
        expect(re.search(rf"^  {word} ", r.stdout, re.M),
               f"demo --help does not describe {word!r}")
    r = ok_run(["run", "--help"])
    for word in ("Signals", "Progress", "--resume", "Exit status"):
        expect(word in r.stdout, f"run --help does not mention {word!r}")


def t_help_matches_parser():
    """Every option a subcommand's help lists is accepted there, in its
    long and short forms, and every other one is refused as not applying.
    A trailing unknown option stops each call before any work."""
    helps = {sub: listed(ok_run([sub, "--help"]).stdout)
             for sub in SUBCOMMANDS}
    every = {}
    for opts in helps.values():
        every.update(opts)
    for sub, words in SUBCOMMANDS.items():
        for name, letter in every.items():
            for form in [f"--{name}"] + ([f"-{letter}"] if letter else []):
                r = run([sub] + words + [form, "--stop-here", "--stop-here"])
                refused = "does not apply" in r.stderr
                expect(refused != (name in helps[sub]),
                       f"parconv {sub} {form}: help lists it: "
                       f"{name in helps[sub]}, stderr {r.stderr.strip()!r}")


def t_overview():
    """--help: every subcommand with one line, how to get its options, then
    run's options; 'parconv help' is the same."""
    r = ok_run(["--help"])
    expect(r.stdout.startswith("Usage: parconv [SUBCOMMAND] [OPTIONS]"),
           f"--help starts {r.stdout[:40]!r}")
    for sub in SUBCOMMANDS:
        expect(re.search(rf"^  {sub} +\S", r.stdout, re.M),
               f"--help has no line for {sub!r}")
    expect("parconv SUBCOMMAND --help" in r.stdout,
           "--help does not say how to get a subcommand's options")
    expect("resume" in listed(r.stdout), "--help lacks run's options")
    expect(ok_run(["help"]).stdout == r.stdout, "'help' differs from --help")


# (arguments, the exact error line): did-you-mean, options as written.
MESSAGES = [
    (["--mdoe", "full"],
     "unknown option '--mdoe'; did you mean --mode?"),
    (["sweeep"], "unknown subcommand 'sweeep'; did you mean sweep?"),
    (["swe"], "unknown subcommand 'swe'; did you mean sweep?"),
    (["sweep", "ksise"], "sweep: unknown sweep 'ksise'; did you mean ksize?"),
    (["demo", "slep"], "demo: unknown demo 'slep'; did you mean sleep?"),
    (["help", "gne"], "unknown subcommand 'gne'; did you mean gen?"),
    (["--fromm", "3"],
     "unknown option '--fromm'; did you mean --from (an option of 'sweep')?"),
    (["--forse", "3"], "unknown option '--forse'; did you mean --force?"),
    (["--bogus"], "unknown option '--bogus' (see parconv --help)"),
    (["peak", "--bogus"],
     "unknown option '--bogus' (see parconv peak --help)"),
    (["frobnicate"], "unknown subcommand 'frobnicate' (see parconv --help)"),
    (["--quiet=1"], "option '--quiet' takes no value"),
    (["--resume=yes"], "option '--resume' takes no value"),
    (["--mode"], "option '--mode' needs a value (full, same or valid)"),
    (["-n"], "option '-n' needs a value (RxC)"),
    (["--from", "3"],
     "option --from does not apply to 'run': it is an option of 'sweep'"),
    (["peak", "-n", "5"], "option -n (--size) does not apply to 'peak': it "
     "is an option of 'run', 'gen' and 'sweep'"),
    (["--se", "1"], "option '--se' is ambiguous; did you mean --seed?"),
    (["-n", "5", "sweep"], "unexpected argument 'sweep' (the subcommand "
     "comes first: 'parconv sweep ...')"),
    (["demo", "task", "--seconds", "x"], "--seconds 'x': expected a number"),
]


def t_message(args, line):
    r = run(args)
    expect(r.returncode == 2, f"exit {r.returncode}, expected 2")
    expect(r.stderr == f"parconv: {line}\n", f"stderr {r.stderr!r}")
    expect(r.stdout == "", f"stdout {r.stdout[:100]!r}")


def help_and_messages():
    case("SUBCOMMAND --help lists its own options", t_subcommand_help)
    case("the helps list what the parser accepts", t_help_matches_parser)
    case("--help: the overview, then run's options", t_overview)
    for args, line in MESSAGES:
        case(f"message: parconv {' '.join(args)}", t_message, args, line)


def t_version():
    for opt in ("--version", "-V"):
        r = ok_run([opt])
        expect(re.fullmatch(r"parconv \d+\.\d+\.\d+\n", r.stdout),
               f"{opt} printed {r.stdout!r}")
        expect(r.stderr == "", f"stderr not empty: {r.stderr!r}")


def gen(name, args, env=None):
    d = fresh(name)
    r = ok_run(["gen", "-o", d] + args, env=env)
    m = np.load(os.path.join(d, "matrix.npy"))
    b = np.load(os.path.join(d, "bank.npy"))
    return d, m, b, r


def t_gen_shapes():
    d, m, b, r = gen("gen1", ["-n", "7x9", "-k", "3", "-s", "2x5",
                              "--range", "-3:4", "--seed", "5"])
    expect(m.shape == (7, 9), f"matrix shape {m.shape}")
    expect(b.shape == (3, 2, 5), f"bank shape {b.shape}")
    expect(m.dtype == np.float64 and b.dtype == np.float64,
           f"dtypes {m.dtype}, {b.dtype} (expected float64)")
    vals = np.concatenate([m.ravel(), b.ravel()])
    expect(np.all(vals == np.round(vals)), "values are not integers")
    expect(vals.min() >= -3 and vals.max() < 4,
           f"values outside [-3,4): {vals.min()}..{vals.max()}")
    expect(set(vals.tolist()) == set(range(-3, 4)),
           f"93 draws from 7 values should hit them all: {sorted(set(vals))}")
    expect("matrix.npy" in r.stdout and "bank.npy" in r.stdout,
           f"gen did not say what it wrote: {r.stdout!r}")


def t_gen_f32():
    d, m, b, r = gen("gen32", ["-n", "6", "-k", "2", "-s", "3", "--dtype",
                               "f32", "--range", "100:200"])
    expect(m.dtype == np.float32 and b.dtype == np.float32,
           f"dtypes {m.dtype}, {b.dtype} (expected float32)")
    expect(m.shape == (6, 6) and b.shape == (2, 3, 3),
           f"shapes {m.shape} {b.shape}")
    vals = np.concatenate([m.ravel(), b.ravel()])
    expect(vals.min() >= 100 and vals.max() < 200 and
           np.all(vals == np.round(vals)), "values outside [100,200)")
    _, m64, b64, _ = gen("gen64", ["-n", "6", "-k", "2", "-s", "3",
                                   "--range", "100:200"])
    expect(np.array_equal(m64, m) and np.array_equal(b64, b),
           "f32 gen values differ from f64 gen values")


def t_gen_defaults():
    d, m, b, r = gen("gendef", ["-q"])
    expect(r.stdout == "" and r.stderr == "",
           f"gen -q printed {r.stdout!r} {r.stderr!r}")
    expect(m.shape == (1000, 1000) and b.shape == (100, 10, 10),
           f"default shapes {m.shape} {b.shape}")
    expect(m.min() >= 0 and m.max() < 100 and b.min() >= 0 and b.max() < 100,
           "default values outside [0,100)")


def t_gen_determinism():
    args = ["-n", "9x4", "-k", "3", "-s", "3", "--seed", "123"]
    d1, m1, b1, _ = gen("det1", args)
    d2, m2, b2, _ = gen("det2", args)
    for f in ("matrix.npy", "bank.npy"):
        expect(open(os.path.join(d1, f), "rb").read() ==
               open(os.path.join(d2, f), "rb").read(),
               f"two gen runs with one seed wrote different {f}")
    _, m3, b3, _ = gen("det3", args[:-1] + ["124"])
    expect(not np.array_equal(m1, m3) and not np.array_equal(b1, b3),
           "seeds 123 and 124 gave the same numbers")
    # Seed 0 means GSL's default seed 4357.
    _, z1, zb1, _ = gen("seed0", ["-n", "5", "-k", "1", "-s", "2",
                                  "--seed", "0"])
    _, z2, zb2, _ = gen("seed4357", ["-n", "5", "-k", "1", "-s", "2",
                                     "--seed", "4357"])
    expect(np.array_equal(z1, z2) and np.array_equal(zb1, zb2),
           "--seed 0 differs from --seed 4357")


def t_gen_one_stream():
    """Matrix first, then the kernels in order, from one stream."""
    _, m1, b1, _ = gen("st1", ["-n", "2x3", "-k", "2", "-s", "2"])
    _, m2, b2, _ = gen("st2", ["-n", "1x2", "-k", "3", "-s", "2x2"])
    s1 = np.concatenate([m1.ravel(), b1.ravel()])
    s2 = np.concatenate([m2.ravel(), b2.ravel()])
    expect(np.array_equal(s1, s2), "the draws are not one stream "
           "(matrix then kernels)")
    # More kernels: the first ones are unchanged.
    _, m3, b3, _ = gen("st3", ["-n", "2x3", "-k", "4", "-s", "2"])
    expect(np.array_equal(m1, m3) and np.array_equal(b1, b3[:2]),
           "adding kernels changed the earlier draws")


def t_run_files_same_checksum(dtype, extra):
    opts = ["-n", "31x18", "-k", "6", "-s", "5x2", "--seed", "77",
            "--range", "-50:50"]
    d, _, _, _ = gen(f"files_{dtype}", opts + ["--dtype", dtype])
    mp, bp = os.path.join(d, "matrix.npy"), os.path.join(d, "bank.npy")
    common = ["--dtype", dtype, "-S", "serial,threads"] + extra
    jg, _ = run_json(opts + common)
    jf, _ = run_json(["run", "-m", mp, "-b", bp] + common)
    jm, _ = run_json(["-m", mp, "-k", "6", "-s", "5x2", "--seed", "77",
                      "--range", "-50:50"] + common)
    jb, _ = run_json(["-b", bp, "-n", "31x18", "--seed", "77",
                      "--range", "-50:50"] + common)
    ref = jg["runs"][0]["checksum"]
    for name, j in (("-m and -b", jf), ("-m only", jm), ("-b only", jb)):
        sums = [r["checksum"] for r in j["runs"]]
        expect(sums == [ref, ref], f"{name}: checksums {sums}, generated "
               f"run {ref}")
        expect(j["verified"] is True, f"{name}: not verified")
    expect(jf["workload"]["matrix"] == mp and jf["workload"]["bank"] == bp,
           "JSON workload does not name the input files")


def check_json_schema(j, strategies):
    for k in ("version", "workload", "runs", "verified"):
        expect(k in j, f"JSON lacks {k!r}")
    expect(re.fullmatch(r"\d+\.\d+\.\d+", j["version"]),
           f"version {j['version']!r}")
    w = j["workload"]
    for k in ("rows", "cols", "count", "krows", "kcols", "mode", "boundary",
              "dtype", "seed"):
        expect(k in w, f"JSON workload lacks {k!r}")
    expect([r["strategy"] for r in j["runs"]] == strategies,
           f"runs {[r['strategy'] for r in j['runs']]}, expected "
           f"{strategies}")
    for r in j["runs"]:
        for k in ("strategy", "method", "workers", "seconds", "gflops",
                  "checksum"):
            expect(k in r, f"JSON run lacks {k!r}")
        expect(isinstance(r["workers"], int) and r["workers"] >= 1,
               f"workers {r['workers']!r}")
        expect(isinstance(r["seconds"], (int, float)) and r["seconds"] >= 0,
               f"seconds {r['seconds']!r}")
        expect(isinstance(r["gflops"], (int, float)) and r["gflops"] >= 0,
               f"gflops {r['gflops']!r}")
        expect(re.fullmatch(r"[0-9a-f]{16}", r["checksum"]),
               f"checksum {r['checksum']!r}")
    expect(j["verified"] is True, f"verified {j['verified']!r}")


def t_json_file():
    path = os.path.join(fresh("jsonfile"))
    os.makedirs(path)
    jp = os.path.join(path, "r.json")
    r = ok_run(SMALL + ["--json", jp, "--seed", "9"])
    expect("Executed in" in r.stdout, "the text report is not on stdout")
    with open(jp) as f:
        j = json.load(f)
    check_json_schema(j, ["serial", "procs", "threads", "omp"])
    w = j["workload"]
    expect((w["rows"], w["cols"], w["count"], w["krows"], w["kcols"]) ==
           (23, 17, 5, 4, 3), f"workload shapes {w}")
    expect((w["mode"], w["boundary"], w["dtype"], w["seed"]) ==
           ("full", "fill", "f64", 9), f"workload {w}")
    expect(len({r["checksum"] for r in j["runs"]}) == 1,
           "strategies' checksums differ")
    expect(j["interrupted"] is False and j["signal"] is None and
           j["kernels_done"] == 5 and j["interrupted_run"] is None,
           f"a whole run: interrupted {j['interrupted']}, signal "
           f"{j['signal']}, kernels_done {j['kernels_done']}")
    expect(os.listdir(path) == ["r.json"],
           f"beside the report: {sorted(os.listdir(path))}")
    # The text report shows the same checksum.
    expect(j["runs"][0]["checksum"] in r.stdout,
           "the text report does not show the JSON checksum")


def t_json_special_files():
    """--json to a character device or a pipe is written in place:
    /dev/stdout is the report, /dev/null takes it (and no temporary is
    made beside either)."""
    before = set(os.listdir("/dev"))
    r = ok_run(SMALL + ["-q", "--json", "/dev/stdout"])
    expect(json.loads(r.stdout)["kernels_done"] == 5,
           f"--json /dev/stdout: {r.stdout[:200]!r}")
    r = ok_run(SMALL + ["-q", "--json", "/dev/null"])
    expect(r.stdout == "", f"--json /dev/null printed {r.stdout[:100]!r}")
    # Standard output redirected to a file: appended to, after the text
    # report; /dev/stdout itself stays the link it is.
    out = os.path.join(fresh("json_stdout_file", make=True), "log")
    with open(out, "w") as f:
        r = subprocess.run([EXE] + SMALL + ["--json", "/dev/stdout"],
                           stdout=f, stderr=subprocess.PIPE, timeout=60,
                           env=clean_env(), cwd=SCRATCH)
    expect(r.returncode == 0, f"exit {r.returncode}, stderr {r.stderr!r}")
    text = open(out).read()
    expect(os.path.islink("/dev/stdout"), "/dev/stdout was replaced")
    at = text.find("\n{")
    expect(text.startswith("parconv ") and "verified:" in text[:at] and
           json.loads(text[at:])["kernels_done"] == 5,
           f"log: {text[:100]!r} ... {text[at - 50:at + 50]!r}")
    made = set(os.listdir("/dev")) - before
    expect(not made, f"made in /dev: {sorted(made)}")


def t_dtype_names():
    """--dtype takes numpy's and C's names besides f64 and f32, with the
    same results; the help row names them."""
    sums = {}
    for names, canon in ((("f64", "float64", "double"), "f64"),
                         (("f32", "float32", "single"), "f32")):
        for name in names:
            j, _ = run_json(SMALL + ["--dtype", name, "-S", "serial", "-q"])
            expect(j["workload"]["dtype"] == canon,
                   f"--dtype {name}: workload dtype {j['workload']['dtype']}")
            sums.setdefault(canon, set()).add(j["runs"][0]["checksum"])
    expect(all(len(v) == 1 for v in sums.values()),
           f"checksums differ between the names of a dtype: {sums}")
    row = re.search(r"--dtype D(.*?)\[f64\]", ok_run(["--help"]).stdout, re.S)
    expect(row and all(n in row.group(1) for n in
                       ("f64", "float64", "double", "f32", "float32",
                        "single")), f"--help's --dtype row: {row and row.group(0)!r}")


def t_isa_and_peak():
    """--isa picks the kernels' instruction set (each one this CPU runs
    must verify; one it cannot run is refused); the JSON names the ISA; a
    run of 1 GFLOP or more reports pct_peak against a measured ceiling;
    parconv peak prints the ceiling."""
    isas = []
    for isa in ("generic", "avx2", "avx512"):
        r = run(["-n", "9", "-k", "3", "-s", "2", "-S", "serial,omp", "-q",
                 "--isa", isa, "--json", "-"])
        if r.returncode == 0:
            j = json.loads(r.stdout)
            expect(j["workload"]["isa"] == isa and j["verified"],
                   f"--isa {isa}: workload {j['workload']}")
            isas.append(isa)
        else:
            expect(r.returncode == 2 and "cannot run" in r.stderr,
                   f"--isa {isa} refused badly: {r.returncode} {r.stderr!r}")
    expect("generic" in isas, "the generic kernels must always run")
    r = ok_run(["peak", "--isa", "generic", "-t", "2"])
    expect(re.search(r"1 core\s+\d+\.\d GFLOP/s", r.stdout) and
           re.search(r"2 threads\s+\d+\.\d GFLOP/s", r.stdout),
           f"peak output {r.stdout!r}")
    # 2 * 200*200 * 25 * 500 flops = 1 GFLOP: the ceiling is measured.
    # --method direct: auto may time FFT as faster than the generic kernels.
    j, _ = run_json(["-n", "196", "-s", "5", "-k", "500", "-S", "serial,omp",
                     "--isa", "generic", "--method", "direct"])
    for run_ in j["runs"]:
        expect(run_["peak_gflops"] and run_["peak_gflops"] > 0 and
               0 < run_["pct_peak"], f"no ceiling in {run_}")
        expect(abs(run_["compute_seconds"] + run_["startup_seconds"] -
                   run_["seconds"]) < 1e-5, f"times do not add up: {run_}")
    j, _ = run_json(SMALL)
    expect(all(r["pct_peak"] is None for r in j["runs"]),
           "pct_peak given for a tiny run")


def t_json_stdout():
    j, r = run_json(SMALL + ["--mode", "same", "--dtype", "f32"])
    check_json_schema(j, ["serial", "procs", "threads", "omp"])
    expect(j["workload"]["dtype"] == "f32" and j["workload"]["mode"] == "same",
           f"workload {j['workload']}")
    expect("Executed in" in r.stderr and "verified:" in r.stderr,
           f"the text report is not on stderr: {r.stderr[:200]!r}")
    jq, rq = run_json(SMALL + ["--mode", "same", "--dtype", "f32", "-q"])
    expect(rq.stderr == "", f"-q --json -: stderr {rq.stderr[:200]!r}")
    expect(jq["runs"][0]["checksum"] == j["runs"][0]["checksum"],
           "checksum changed with -q")


def t_quiet():
    r = ok_run(SMALL + ["-q"])
    expect(r.stdout == "", f"-q printed {r.stdout[:200]!r}")
    expect(r.stderr == "", f"-q stderr {r.stderr[:200]!r}")
    r = ok_run(SMALL + ["--quiet", "-o", fresh("quietout")])
    expect(r.stdout == "" and r.stderr == "", "--quiet -o printed something")
    expect(os.path.exists(os.path.join(SCRATCH, "quietout", "manifest.json")),
           "--quiet -o wrote no manifest")


def t_strategy_subset():
    j, r = run_json(SMALL + ["-S", "procs,omp"])
    check_json_schema(j, ["procs", "omp"])
    boxes = re.findall(r"^-+ (\w+) -+$", r.stderr, re.M)
    expect(boxes == ["procs", "omp"], f"text boxes {boxes}")
    expect(all(r_["speedup"] is None for r_ in j["runs"]),
           "speedup given without a serial run")
    j2, _ = run_json(SMALL + ["--strategy", "omp,serial"])
    expect([x["strategy"] for x in j2["runs"]] == ["omp", "serial"],
           "--strategy omp,serial did not keep the order given")
    j3, r3 = run_json(SMALL + ["-S", "threads"])
    expect([x["strategy"] for x in j3["runs"]] == ["threads"],
           "-S threads ran other strategies")
    expect("one strategy" in r3.stderr, "single strategy: verified line "
           "does not say there was nothing to compare")


def t_workers():
    j, _ = run_json(SMALL + ["-t", "3", "-p", "3"])  # 5 kernels
    w = {r["strategy"]: r["workers"] for r in j["runs"]}
    expect(w == {"serial": 1, "procs": 3, "threads": 3, "omp": 3},
           f"workers {w}, expected serial 1 and 3 for the others")
    expect(j["environment"]["threads"] == 3 and
           j["environment"]["threads_from"] == "--threads",
           f"environment {j['environment']}")
    expect(j["environment"]["procs"] == 3 and
           j["environment"]["procs_from"] == "--procs",
           f"environment {j['environment']}")
    # Work is split by output rows: more workers than rows would idle.
    j, _ = run_json(["-n", "2x20", "-k", "2", "-s", "1x3", "--mode", "same",
                     "--threads", "3", "--procs", "3"])
    w = {r["strategy"]: r["workers"] for r in j["runs"]}
    expect(w == {"serial": 1, "procs": 2, "threads": 2, "omp": 2},
           f"workers {w}, expected capped at the 2 output rows")
    j, _ = run_json(SMALL + ["-t", "1", "-p", "2"])
    w = {r["strategy"]: r["workers"] for r in j["runs"]}
    expect(w == {"serial": 1, "procs": 2, "threads": 1, "omp": 1},
           f"workers {w}")


def threads_from_env(var, value, threads):
    """-S threads,omp with var=value alone: both run threads workers, and
    the environment says they come from var. Returns the environment."""
    j, _ = run_json(SMALL + ["-S", "threads,omp"],
                    env=clean_env(**{var: value}))
    e = j["environment"]
    expect(e["threads"] == threads and e["threads_from"] == var,
           f"{var}={value}: environment {e}")
    expect([r["workers"] for r in j["runs"]] == [threads, threads],
           f"{var}={value}: workers {[r['workers'] for r in j['runs']]}")
    return e


def t_env_threads():
    e = threads_from_env("OMP_NUM_THREADS", "1", 1)
    expect(e.get("omp_env", {}).get("OMP_NUM_THREADS") == "1",
           f"omp_env {e.get('omp_env')}")
    threads_from_env("SLURM_CPUS_PER_TASK", "3", 3)
    j, _ = run_json(SMALL, env=clean_env(OMP_NUM_THREADS="2",
                                         SLURM_CPUS_PER_TASK="3"))
    e = j["environment"]
    expect(e["threads"] == 2 and e["threads_from"] == "OMP_NUM_THREADS",
           f"OMP_NUM_THREADS wins over SLURM_CPUS_PER_TASK: {e}")
    j, _ = run_json(SMALL, env=clean_env(OMP_NUM_THREADS="1"))
    j2, _ = run_json(SMALL + ["-t", "2"], env=clean_env(OMP_NUM_THREADS="1"))
    e = j2["environment"]
    expect(e["threads"] == 2 and e["threads_from"] == "--threads",
           f"-t 2 does not win over OMP_NUM_THREADS=1: {e}")
    j, _ = run_json(SMALL, env=clean_env(OMP_NUM_THREADS="2,1"))
    expect(j["environment"]["threads"] == 2,
           f"OMP_NUM_THREADS=2,1: threads {j['environment']['threads']}")


def t_text_report():
    r = ok_run(SMALL + ["--seed", "3"])
    out = r.stdout
    expect(r.stderr == "", f"stderr {r.stderr!r}")
    boxes = re.findall(r"^-+ (\w+) -+\nExecuted in (\d+\.\d{5})s\.\n-+\n",
                       out, re.M)
    expect([b[0] for b in boxes] == ["serial", "procs", "threads", "omp"],
           f"boxes {boxes}")
    expect(re.search(r"^strategy\s+method\s+workers\s+seconds\s+start/stop\s+"
                     r"GFLOP/s\s+%peak\s+speedup\s+checksum$", out, re.M),
           "no summary table header")
    # strategy, workers, seconds, GFLOP/s, speedup, checksum (start-up and
    # %peak, '-' for runs too small to measure the ceiling, are matched but
    # not kept).
    rows = re.findall(r"^(serial|procs|threads|omp)\s+direct\s+(\d+)\s+"
                      r"(\d+\.\d+)\s+\d+\.\d+\s+(\d+\.\d+)\s+(?:\d+\.\d%|-)\s+"
                      r"(\S+)\s+([0-9a-f]{16})$", out, re.M)
    expect([x[0] for x in rows] == ["serial", "procs", "threads", "omp"],
           f"summary rows {rows}")
    expect(rows[0][4] == "1.00x", f"serial speedup {rows[0][4]}")
    expect(len({x[5] for x in rows}) == 1, "checksums differ in the table")
    m = re.search(r"^verified: .*\(checksum ([0-9a-f]{16})\)$", out, re.M)
    expect(m and m.group(1) == rows[0][5], "no or wrong 'verified:' line")
    for word in ("23x17", "5 kernels", "4x3", "seed 3", "mode", "boundary",
                 "dtype"):
        expect(word in out, f"workload header lacks {word!r}")
    # Each box's seconds match the table's.
    for (name, secs), row in zip(boxes, rows):
        expect(secs == row[2], f"{name}: box says {secs}, table {row[2]}")


def t_same_wrap():
    j, r = run_json(SMALL + ["--mode", "same", "--boundary", "wrap"])
    expect(j["verified"] is True, "not verified")
    w = j["workload"]
    expect((w["out_rows"], w["out_cols"]) == (23, 17),
           f"same mode output {w['out_rows']}x{w['out_cols']}")
    expect(w["boundary"] == "wrap", f"boundary {w['boundary']}")
    expect("verified: all strategies bit-identical" in r.stderr,
           "text report lacks the verified line")
    for mode, boundary, shape in (("valid", "symm", (20, 15)),
                                  ("full", "symm", (26, 19))):
        j, _ = run_json(SMALL + ["--mode", mode, "--boundary", boundary,
                                 "--fillvalue", "-2.5"])
        w = j["workload"]
        expect(j["verified"] and (w["out_rows"], w["out_cols"]) == shape,
               f"{mode}/{boundary}: verified {j['verified']}, out "
               f"{w['out_rows']}x{w['out_cols']}")


def t_omp_env_shown():
    env = clean_env(OMP_PROC_BIND="close", OMP_PLACES="cores")
    r = ok_run(SMALL + ["-S", "serial,omp"], env=env)
    expect("OMP_PROC_BIND=close" in r.stdout,
           "OMP_PROC_BIND=close not in the report")
    expect("OMP_PLACES=cores" in r.stdout, "OMP_PLACES=cores not in the report")
    j, _ = run_json(SMALL + ["-S", "omp"], env=env)
    expect(j["environment"]["omp_env"].get("OMP_PROC_BIND") == "close",
           f"omp_env {j['environment']['omp_env']}")
    r = ok_run(SMALL + ["-S", "serial"])
    expect("OMP_PROC_BIND" not in r.stdout, "unset OMP_PROC_BIND shown")


def t_output_dir():
    d = fresh("outdir") + "/a/b"
    r = ok_run(SMALL + ["-o", d, "--dtype", "f32"])
    files = sorted(os.listdir(d))
    expect(files == ["conv_%05d.npy" % k for k in range(5)] +
           ["manifest.json"], f"files {files}")
    a = np.load(os.path.join(d, "conv_00003.npy"))
    expect(a.shape == (26, 19) and a.dtype == np.float32,
           f"conv_00003.npy: {a.shape} {a.dtype}")
    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    expect(len(man["kernels"]) == 5, "manifest kernel count")
    expect(re.search(r"wrote 5 files to .*a/b", r.stdout),
           "no 'wrote 5 files' line")
    # A second run into the same directory works too.
    ok_run(SMALL + ["-o", d, "--dtype", "f32", "-q"])


def t_seed_changes_checksum():
    j1, _ = run_json(SMALL + ["-S", "serial", "--seed", "1"])
    j2, _ = run_json(SMALL + ["-S", "serial", "--seed", "2"])
    expect(j1["runs"][0]["checksum"] != j2["runs"][0]["checksum"],
           "seeds 1 and 2 gave the same checksum")


def t_npy_variants():
    """Big-endian, Fortran order, .npy versions 2.0 and 3.0 all read as the
    same numbers."""
    d = fresh("variants")
    os.makedirs(d)
    rs = np.random.RandomState(1)
    m = rs.normal(size=(12, 9))
    b = rs.normal(size=(3, 4, 2))
    base = os.path.join(d, "m.npy")
    np.save(base, m)
    np.save(os.path.join(d, "b.npy"), b)
    ref, _ = run_json(["-m", base, "-b", os.path.join(d, "b.npy"), "-S",
                       "serial"])
    ref = ref["runs"][0]["checksum"]
    variants = {
        "big-endian": lambda p: np.save(p, m.astype(">f8")),
        "fortran": lambda p: np.save(p, np.asfortranarray(m)),
        "v2.0": lambda p: np.lib.format.write_array(open(p, "wb"), m,
                                                    version=(2, 0)),
        "v3.0": lambda p: np.lib.format.write_array(open(p, "wb"), m,
                                                    version=(3, 0)),
    }
    for name, write in variants.items():
        p = os.path.join(d, f"m_{name}.npy")
        write(p)
        j, _ = run_json(["-m", p, "-b", os.path.join(d, "b.npy"), "-S",
                         "serial"])
        expect(j["runs"][0]["checksum"] == ref,
               f"{name} matrix gives another checksum")


def good_paths():
    case("--help mentions every option", t_help)
    case("sweep --help", t_sweep_help)
    case("--version", t_version)
    case("gen shapes, f64, --range values", t_gen_shapes)
    case("gen --dtype f32", t_gen_f32)
    case("gen defaults and -q", t_gen_defaults)
    case("gen determinism, seeds", t_gen_determinism)
    case("gen: one stream, matrix then kernels", t_gen_one_stream)
    case("run -m/-b files = generated (f64)", t_run_files_same_checksum,
         "f64", [])
    case("run -m/-b files = generated (f32, same/symm)",
         t_run_files_same_checksum, "f32", ["--mode", "same", "--boundary",
                                            "symm"])
    case("--json FILE schema", t_json_file)
    case("--json /dev/stdout and /dev/null written in place",
         t_json_special_files)
    case("--dtype f64|float64|double, f32|float32|single", t_dtype_names)
    case("--isa, peak, pct_peak", t_isa_and_peak)
    case("--json - on stdout, text on stderr", t_json_stdout)
    case("-q prints nothing", t_quiet)
    case("-S subset and order", t_strategy_subset)
    case("-t/-p workers, capped at the output rows", t_workers)
    case("OMP_NUM_THREADS / SLURM_CPUS_PER_TASK defaults", t_env_threads)
    case("text report boxes, table, verified", t_text_report)
    case("--mode same --boundary wrap verifies", t_same_wrap)
    case("OMP_* variables shown in the report", t_omp_env_shown)
    case("-o DIR files and manifest", t_output_dir)
    case("different seeds, different checksum", t_seed_changes_checksum)
    case(".npy variants read alike", t_npy_variants)


# ---------------------------------------------------------------------------
# (b) bad inputs

def make_bad_files():
    d = os.path.join(SCRATCH, "bad_inputs")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    p = lambda n: os.path.join(d, n)
    with open(p("text.txt"), "w") as f:
        f.write("hello, not a .npy file\n")
    np.save(p("vec.npy"), np.arange(5.0))
    np.save(p("m8x9.npy"), np.ones((8, 9)))
    np.save(p("m5x20.npy"), np.ones((5, 20)))
    np.save(p("b3x2x2.npy"), np.ones((3, 2, 2)))
    np.save(p("b10x3.npy"), np.ones((1, 10, 3)))
    np.save(p("complex.npy"), np.ones((3, 3), complex))
    np.save(p("f16.npy"), np.ones((3, 3), np.float16))
    np.save(p("zero_rows.npy"), np.ones((0, 3)))
    np.save(p("zero_count.npy"), np.ones((0, 3, 3)))
    np.save(p("m4d.npy"), np.ones((2, 2, 3, 3)))
    np.save(p("b4d.npy"), np.ones((2, 2, 3, 3)))
    np.save(p("scalar.npy"), np.array(5.0))
    data = open(p("m8x9.npy"), "rb").read()
    with open(p("truncated.npy"), "wb") as f:
        f.write(data[:-10])
    with open(p("header_only.npy"), "wb") as f:
        f.write(data[:20])
    open(p("empty.npy"), "wb").close()
    with open(p("regular_file"), "w") as f:
        f.write("x")
    return p


def bad_cases(p):
    """(name, args, env, exit code, substring, add -o). add -o puts
    '-o OUTDIR' in front of the arguments so that a refused run can be
    checked for leftovers."""
    E = None
    B = []

    def add(name, args, sub, code=2, env=E, out=True):
        B.append((name, args, env, code, sub, out))

    add("-n 0", ["-n", "0"], "--size")
    add("-n abc", ["-n", "abc"], "--size")
    add("-n 10x", ["-n", "10x"], "--size")
    add("-n x10", ["-n", "x10"], "--size")
    add("-n -5", ["-n", "-5"], "--size")
    add("-n 20 digits", ["-n", "99999999999999999999"], "--size")
    add("-n 3x4x5", ["-n", "3x4x5"], "--size")
    add("-n ' 5'", ["-n", " 5"], "--size")
    add("-n 2^31", ["-n", "2147483648"], "--size")
    add("-n 1.5", ["-n", "1.5"], "--size")
    add("-k 0", ["-k", "0"], "--count")
    add("-k 1e3", ["-k", "1e3"], "--count")
    add("-k too many", ["-k", "1000001"], "--count")
    add("-s 0x3", ["-s", "0x3"], "--ksize")
    add("-s 3x0", ["-s", "3x0"], "--ksize")
    add("--range 5:5", ["--range", "5:5"], "--range")
    add("--range 10:1", ["--range", "10:1"], "--range")
    add("--range a:b", ["--range", "a:b"], "--range")
    add("--range 1:", ["--range", "1:"], "--range")
    add("--range 5", ["--range", "5"], "--range")
    add("--range too wide", ["--range", "0:10000000000", "-n", "5"], "--range")
    add("--range overflow", ["--range", "0:99999999999999999999"], "--range")
    add("--seed -1", ["--seed", "-1"], "--seed")
    add("--seed x", ["--seed", "x"], "--seed")
    add("--seed 2^32", ["--seed", "4294967296"], "--seed")
    add("--mode bogus", ["--mode", "bogus"], "bogus")
    add("--boundary bogus", ["--boundary", "bogus"], "bogus")
    add("--dtype f16", ["--dtype", "f16"], "f16")
    ambiguous = ("--dtype 'float' is ambiguous: numpy's float is float64 "
                 "(f64), C's float is float32 (f32)")
    add("--dtype float", ["--dtype", "float"], ambiguous)
    add("gen --dtype float", ["gen", "--dtype", "float"], ambiguous)
    add("peak --dtype float", ["peak", "--dtype", "float"], ambiguous,
        out=False)
    add("--isa bogus", ["--isa", "sse9"], "--isa")
    add("peak --size", ["peak", "-n", "5"], "does not apply", out=False)
    add("peak --isa bogus", ["peak", "--isa", "x"], "--isa", out=False)
    add("gen --isa", ["gen", "--isa", "generic"], "does not apply")
    add("--method bogus", ["--method", "fast"], "--method")
    add("--method bogus names the choices", ["--method", "bogus"],
        "direct, fft, auto")
    add("--method ''", ["--method", ""], "--method")
    add("--fft-plan bogus", ["--fft-plan", "bogus"], "--fft-plan")
    add("--fft-plan ''", ["--fft-plan", ""], "--fft-plan")
    add("--wisdom ''", ["--wisdom", ""], "--wisdom")
    add("--calibration ''", ["--calibration", ""], "--calibration")
    add("--calibration missing file", ["-n", "10", "-k", "2", "-s", "2",
                                       "--calibration", p("missing.cal")],
        "missing.cal")
    add("--calibration malformed", ["-n", "10", "-k", "2", "-s", "2",
                                    "--calibration", p("text.txt")],
        "text.txt:1")
    add("--wisdom not a wisdom file", ["-n", "20", "-k", "2", "-s", "3",
                                       "--method", "fft", "--wisdom",
                                       p("text.txt")], "text.txt")
    add("--method fft with a NaN fill value", ["-n", "10", "-k", "2", "-s",
                                               "2", "--method", "fft",
                                               "--fillvalue", "nan"], "NaN")
    add("--method given twice", ["--method", "fft", "--method", "direct"],
        "twice")
    add("gen --method fft", ["gen", "--method", "fft"], "does not apply")
    add("gen --fft-plan", ["gen", "--fft-plan", "measure"], "does not apply")
    add("gen --wisdom", ["gen", "--wisdom", "w"], "does not apply")
    add("gen --calibration", ["gen", "--calibration", "c"], "does not apply")
    add("peak --method fft", ["peak", "--method", "fft"], "does not apply",
        out=False)
    add("calibrate --method fft", ["calibrate", "--method", "fft"],
        "does not apply", out=False)
    add("calibrate -n 5", ["calibrate", "-n", "5"], "does not apply",
        out=False)
    add("calibrate stray argument", ["calibrate", "extra"], "extra",
        out=False)
    add("calibrate --calibration ''", ["calibrate", "--calibration", ""],
        "--calibration", out=False)
    add("run --from", ["--from", "3"], "does not apply")
    add("run --to", ["--to", "3"], "does not apply")
    add("run --step", ["--step", "3"], "does not apply")
    add("run --runs", ["--runs", "3"], "does not apply")
    add("run --csv", ["--csv", "x.csv"], "does not apply")
    sw = ["sweep", "ksize", "--from", "3", "--to", "7", "-n", "20", "-k", "1"]
    add("sweep --step 0", sw + ["--step", "0"], "--step", out=False)
    add("sweep --step x", sw + ["--step", "x"], "--step", out=False)
    add("sweep --runs 10", sw + ["--runs", "10"], "--runs", out=False)
    add("sweep --runs 0", sw + ["--runs", "0"], "--runs", out=False)
    add("sweep --from 0", ["sweep", "ksize", "--from", "0", "--to", "7"],
        "--from", out=False)
    add("sweep --to 5000", ["sweep", "ksize", "--from", "3", "--to", "5000"],
        "--to", out=False)
    add("sweep --from above --to", ["sweep", "ksize", "--from", "9", "--to",
                                     "3"], "--from", out=False)
    add("sweep without --from", ["sweep", "ksize", "--to", "7"], "--from",
        out=False)
    add("sweep without --to", ["sweep", "ksize", "--from", "3"], "--to",
        out=False)
    add("sweep without ksize", ["sweep", "--from", "3", "--to", "7"],
        "ksize", out=False)
    add("sweep bogus", ["sweep", "bogus", "--from", "3", "--to", "7"],
        "ksize", out=False)
    add("sweep -S serial,omp", sw + ["-S", "serial,omp"], "-S", out=False)
    add("sweep --csv ''", sw + ["--csv", ""], "--csv", out=False)
    add("sweep --method fft", sw + ["--method", "fft"], "does not apply",
        out=False)
    add("sweep -o", sw + ["-o", "x"], "does not apply", out=False)
    add("sweep -s 5", sw + ["-s", "5"], "does not apply", out=False)
    # Sweeps read -m (and sweep threads -b) as run does.
    add("sweep -m missing", sw + ["-m", "x.npy"], "x.npy", out=False)
    add("sweep ksize -b", sw + ["-b", "x.npy"], "-b fixes", out=False)
    add("sweep stray argument", sw + ["extra"], "extra", out=False)
    add("--fillvalue abc", ["--fillvalue", "abc"], "--fillvalue")
    add("--fillvalue 1e999", ["--fillvalue", "1e999"], "--fillvalue")
    add("-S serial,bogus", ["-S", "serial,bogus"], "bogus")
    add("-S serial,serial", ["-S", "serial,serial"], "twice")
    add("-S ''", ["-S", ""], "strategy")
    add("-S ,", ["-S", ","], "strategy")
    add("-p 0", ["-p", "0"], "--procs")
    add("-p abc", ["-p", "abc"], "--procs")
    add("-t 0", ["-t", "0"], "--threads")
    add("-t 5000", ["-t", "5000"], "--threads")
    add("-t 3.5", ["-t", "3.5"], "--threads")
    add("unknown --bogus", ["--bogus"], "--bogus")
    add("unknown -Z", ["-Z"], "-Z")
    add("missing value -n", ["-n"], "-n")
    add("missing value --json", ["--json"], "--json")
    add("stray argument run foo", ["run", "foo"], "foo")
    add("-n given twice", ["-n", "5", "-n", "6"], "twice")
    add("-q given twice", ["-q", "-q"], "twice")
    add("-o ''", ["-o", ""], "--output", out=False)
    add("--json ''", ["--json", ""], "--json")
    add("-m missing.npy", ["-m", p("missing.npy")], "missing.npy")
    add("-m ''", ["-m", ""], "''")
    add("-m a directory", ["-m", os.path.dirname(p("x"))], "bad_inputs")
    add("-m a text file", ["-m", p("text.txt")], "text.txt")
    add("-m empty file", ["-m", p("empty.npy")], "empty.npy")
    add("-m truncated data", ["-m", p("truncated.npy")], "truncated")
    add("-m truncated header", ["-m", p("header_only.npy")], "header_only")
    add("-m complex dtype", ["-m", p("complex.npy")], "dtype")
    add("-m float16", ["-m", p("f16.npy")], "dtype")
    # A 3-D file is a stack of matrices (tests/dataset_test.py); 4-D is
    # nothing parconv reads.
    add("-m 4-D", ["-m", p("m4d.npy")], "(2, 2, 3, 3)")
    add("-m 0-D", ["-m", p("scalar.npy")], "2-D")
    add("-m zero rows", ["-m", p("zero_rows.npy")], "zero")
    add("-b 1-D", ["-b", p("vec.npy")], "vec.npy")
    add("-b 4-D", ["-b", p("b4d.npy")], "b4d.npy")
    add("-b zero kernels", ["-b", p("zero_count.npy")], "zero")
    add("-m with -n not matching", ["-m", p("m8x9.npy"), "-n", "8x8"],
        "--size")
    add("-b with -s not matching", ["-b", p("b3x2x2.npy"), "-s", "3"],
        "--ksize")
    add("-b with -k not matching", ["-b", p("b3x2x2.npy"), "-k", "2"],
        "--count")
    add("--mode valid, neither contains the other",
        ["--mode", "valid", "-n", "5x20", "-s", "10x3"], "valid")
    add("--mode valid with files", ["--mode", "valid", "-m", p("m5x20.npy"),
                                    "-b", p("b10x3.npy")], "valid")
    add("huge sizes exceed memory", ["-n", "1000000x1000000"], "memory")
    add("-o output exceeding memory", ["-n", "100000", "-k", "1000",
                                       "-s", "3"], "memory")
    add("OMP_NUM_THREADS=abc", ["-n", "10", "-k", "2", "-s", "2"],
        "OMP_NUM_THREADS", env={"OMP_NUM_THREADS": "abc"})
    add("OMP_NUM_THREADS=0", ["-n", "10", "-k", "2", "-s", "2"],
        "OMP_NUM_THREADS", env={"OMP_NUM_THREADS": "0"})
    add("SLURM_CPUS_PER_TASK=abc", ["-n", "10", "-k", "2", "-s", "2"],
        "SLURM_CPUS_PER_TASK", env={"SLURM_CPUS_PER_TASK": "abc"})
    add("SLURM_CPUS_PER_TASK=0", ["-n", "10", "-k", "2", "-s", "2"],
        "SLURM_CPUS_PER_TASK", env={"SLURM_CPUS_PER_TASK": "0"})
    add("gen without -o", ["gen"], "-o", out=False)
    add("gen -m x.npy -o d", ["gen", "-m", "x.npy"], "--matrix")
    add("gen --mode same", ["gen", "--mode", "same"], "--mode")
    add("gen -S serial", ["gen", "-S", "serial"], "--strategy")
    add("gen stray argument", ["gen", "extra"], "extra")
    add("demo without a kind", ["demo"], "demo", out=False)
    add("demo bogus", ["demo", "bogus"], "bogus", out=False)
    add("demo sleep --seconds -1", ["demo", "sleep", "--seconds", "-1"],
        "--seconds", out=False)
    add("demo sleep --seconds 4000", ["demo", "sleep", "--seconds", "4000"],
        "--seconds", out=False)
    add("demo lock --seconds abc", ["demo", "lock", "--seconds", "abc"],
        "--seconds", out=False)
    add("demo sleep --seconds nan", ["demo", "sleep", "--seconds", "nan"],
        "--seconds", out=False)
    add("demo sleep -n 5", ["demo", "sleep", "-n", "5"], "--size", out=False)
    add("demo sleep extra", ["demo", "sleep", "extra"], "extra", out=False)
    add("--seconds 1 on run", ["--seconds", "1"], "--seconds")
    add("-o an existing regular file", ["-n", "10", "-k", "2", "-s", "2",
                                        "-o", p("regular_file")],
        "not a directory", code=1, out=False)
    add("-o below a regular file", ["-n", "10", "-k", "2", "-s", "2",
                                    "-o", p("regular_file") + "/sub"],
        "regular_file", code=1, out=False)
    add("gen -o an existing regular file", ["gen", "-n", "5", "-k", "1",
                                            "-s", "2", "-o",
                                            p("regular_file")],
        "not a directory", code=1, out=False)
    add("--json into a missing directory", ["-n", "10", "-k", "2", "-s", "2",
                                            "--json", p("nodir") + "/r.json"],
        "r.json", code=1, out=False)
    add("--json a directory", ["-n", "10", "-k", "2", "-s", "2", "--json",
                               p("")], "Is a directory", code=1, out=False)
    return B


def t_bad(args, env, code, sub, out, idx):
    outdir = os.path.join(SCRATCH, "bad_out", f"{idx:03d}")
    shutil.rmtree(outdir, ignore_errors=True)
    full = list(args)
    if out:
        at = 1 if full and full[0] in ("run", "gen", "demo") else 0
        full[at:at] = ["-o", outdir]
    r = run(full, env=clean_env(**(env or {})))
    problems = []
    if r.returncode != code:
        problems.append(f"exit {r.returncode}, expected {code}")
    lines = r.stderr.splitlines()
    if env and any(k.startswith("OMP_") for k in env):
        # libgomp checks OMP_* itself while the program loads, before main
        # runs, and prints its own warning: parconv cannot prevent that
        # line, only add its own one.
        lines = [l for l in lines if l and not l.startswith("libgomp: ")]
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines, expected 1")
    elif sub.lower() not in lines[0].lower():
        problems.append(f"stderr does not mention {sub!r}")
    elif not lines[0].startswith("parconv: "):
        problems.append("stderr line does not start with 'parconv: '")
    if r.stdout:
        problems.append(f"stdout not empty: {r.stdout[:100]!r}")
    if out and os.path.exists(os.path.join(outdir, "manifest.json")):
        problems.append("left a manifest in the output directory")
    if out and os.path.exists(os.path.join(outdir, "matrix.npy")):
        problems.append("left gen output in the output directory")
    if problems:
        raise AssertionError("; ".join(problems) +
                             f" (stderr {r.stderr!r})")


def bad_inputs():
    p = make_bad_files()
    for i, (name, args, env, code, sub, out) in enumerate(bad_cases(p)):
        case(f"bad: {name}", t_bad, args, env, code, sub, out, i)


def main():
    global EXE, SCRATCH
    EXE, SCRATCH = pctest.arguments(
        "usage: cli_test.py PARCONV_PATH SCRATCH_DIR")
    good_paths()
    help_and_messages()
    bad_inputs()
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
