#!/usr/bin/python3
"""Plots one or more `parconv sweep threads --json FILE` results (e.g. one
with --method direct and one with --method fft): speedup over one worker
against the number of workers, one line per strategy (omp, procs) and file,
with the ideal speedup (y = x) and the parallel efficiency at the highest
worker count written beside each line. The title gives the workload and the
OpenMP runtime's settings. Writes a PNG.

Usage: bench/plot_scaling.py SWEEP.json [SWEEP.json ...] [-o OUT.png]

OUT.png defaults to the first JSON's path with the suffix .png; a last
argument ending in .png is taken as OUT.png too. Lines of one file share a
colour, lines of one strategy a line style and marker. Needs matplotlib
(Debian: python3-matplotlib); draws with the Agg backend, no display needed.
Exit status: 0 success, 2 missing or invalid input (one line on stderr),
1 the PNG could not be written.
"""

import argparse
import math
import os
import sys

import benchlib  # bench/: shared with the benchmarks

PROG = "plot_scaling"

# Colours per file: direct and FFT as in plot_crossover.py, then others.
METHOD_COLORS = {"direct": "#1f77b4", "fft": "#d95f02"}
OTHER_COLORS = ["#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                "#a6761d", "#666666", "#17becf"]
# Line style and marker per strategy.
STRATEGY_STYLES = {"omp": ("-", "o"), "procs": ("--", "s"),
                   "threads": ("-.", "^"), "serial": (":", "D")}
OTHER_STYLES = [(":", "v"), ("-.", "P"), ("--", "X")]

WORKLOAD_KEYS = ("rows", "cols", "count", "krows", "kcols", "dtype", "runs")


def fail(msg, status=2):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(status)


def number(x):
    return (isinstance(x, (int, float)) and not isinstance(x, bool)
            and math.isfinite(x))


def positive_number(x):
    return number(x) and x > 0


def load_sweep(path):
    """The sweep-threads JSON, checked; every problem is one line and exit 2.
    Returns the data with "points" grouped as {strategy: [points by
    workers]}, in the order the strategies first appear."""
    data = benchlib.read_json(path, fail)
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        fail(f"'{path}' is not a parconv sweep JSON (no \"points\" list; "
             "write one with 'parconv sweep threads ... --json FILE')")
    if data.get("sweep") != "threads":
        kind = data.get("sweep")
        fail(f"'{path}' is " + (f"a '{kind}' sweep" if isinstance(kind, str)
                                else "not marked \"sweep\": \"threads\"")
             + "; only 'parconv sweep threads' results are plotted"
             + (" (plot_crossover.py plots ksize sweeps)" if kind == "ksize" else ""))
    pts = data["points"]
    if not pts:
        fail(f"'{path}' has no points")
    lines = {}
    for i, p in enumerate(pts):
        if not isinstance(p, dict):
            fail(f"'{path}': point {i} is not an object")
        s = p.get("strategy")
        if not isinstance(s, str) or not s:
            fail(f"'{path}': point {i} has no \"strategy\" name")
        w = p.get("workers")
        if not isinstance(w, int) or isinstance(w, bool) or w < 1:
            fail(f"'{path}': point {i} ({s}) has no whole number \"workers\" >= 1")
        for key in ("seconds", "speedup", "efficiency"):
            if not positive_number(p.get(key)):
                fail(f"'{path}': point {i} ({s}, workers {w}) has no positive "
                     f"number \"{key}\"")
        if "gflops" in p and not (number(p["gflops"]) and p["gflops"] >= 0):
            fail(f"'{path}': point {i} ({s}, workers {w}): \"gflops\" is "
                 f"{p['gflops']!r}, not a number >= 0")
        if any(q["workers"] == w for q in lines.get(s, [])):
            fail(f"'{path}': {s} with {w} workers appears twice")
        lines.setdefault(s, []).append(p)
    for s in lines:
        lines[s].sort(key=lambda p: p["workers"])
    data["lines"] = lines
    return data


def workload_text(d):
    g = d.get
    text = (f"{g('count', '?')} kernels of {g('krows', '?')}x{g('kcols', '?')} "
            f"on {g('rows', '?')}x{g('cols', '?')}, {g('dtype', '?')}")
    runs = g("runs")
    if runs == 1:
        text += ", one run"
    elif runs:
        text += f", median of {runs} runs"
    return text


def file_labels(paths, datas):
    """One name per file: its method, with the file name where two files
    share a method, and a number where even that is not enough."""
    base = [str(d.get("method") or os.path.basename(p)) for p, d in zip(paths, datas)]
    labels = [b if base.count(b) == 1 else f"{b} ({os.path.basename(p)})"
              for b, p in zip(base, paths)]
    return [lab if labels.count(lab) == 1 else f"{lab} #{i + 1}"
            for i, lab in enumerate(labels)]


def spread(ys, gap, lo, hi):
    """Moves the sorted positions ys apart to at least `gap`, within [lo, hi]
    as far as they fit; returns them in the same order."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    pos = [ys[i] for i in order]
    for i in range(1, len(pos)):
        pos[i] = max(pos[i], pos[i - 1] + gap)
    over = pos[-1] - hi if pos else 0
    if over > 0:
        pos = [max(lo, y - over) for y in pos]
        for i in range(1, len(pos)):
            pos[i] = max(pos[i], pos[i - 1] + gap)
    out = [0.0] * len(ys)
    for i, y in zip(order, pos):
        out[i] = y
    return out


def fit_right(fig, ax, notes, xtext):
    """Sets the right x limit so that the notes, which start at xtext, just
    fit inside the axes (their width in pixels does not change with it)."""
    for _ in range(3):
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        need = max((n.get_window_extent(r).x1 for n in notes), default=0)
        box = ax.get_window_extent(r)
        lo, hi = ax.get_xlim()
        px_per_x = box.width / (hi - lo)
        start = box.x0 + (xtext - lo) * px_per_x
        width = need - start + 8
        # right limit such that start + width == the axes' right edge
        new_hi = lo + (xtext - lo) * box.width / max(box.width - width, 1)
        if abs(new_hi - hi) < 1e-3 * (hi - lo):
            break
        ax.set_xlim(lo, new_hi)


def split_args(argv):
    ap = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+",
                    help="files 'parconv sweep threads --json' wrote "
                         "(a last argument ending in .png is the output)")
    ap.add_argument("-o", "--output", metavar="OUT.png",
                    help="PNG to write [the first JSON's path with .png]")
    args = ap.parse_args(argv)
    inputs = list(args.json)
    out = args.output
    if len(inputs) > 1 and inputs[-1].lower().endswith(".png"):
        if out:
            fail(f"two outputs: '{inputs[-1]}' and -o '{out}'")
        out = inputs.pop()
    for p in inputs:
        if p.lower().endswith(".png"):
            fail(f"'{p}' looks like a PNG, not a sweep JSON; give the "
                 "output last, after the JSON files, or with -o")
    if not out:
        out = os.path.splitext(inputs[0])[0] + ".png"
    if os.path.realpath(out) in map(os.path.realpath, inputs):
        fail(f"the output '{out}' is one of the inputs")
    return inputs, out


def main():
    inputs, out = split_args(sys.argv[1:])
    datas = [load_sweep(p) for p in inputs]

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        fail(f"matplotlib is missing ({e}); on Debian: apt-get install python3-matplotlib")

    labels = file_labels(inputs, datas)
    same_workload = all(tuple(d.get(k) for k in WORKLOAD_KEYS)
                        == tuple(datas[0].get(k) for k in WORKLOAD_KEYS)
                        for d in datas)
    omps = []
    for d in datas:
        o = d.get("omp_runtime")
        o = o if isinstance(o, str) and o else "not recorded"
        if o not in omps:
            omps.append(o)

    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=110)

    wmax = max(p["workers"] for d in datas for ps in d["lines"].values() for p in ps)
    smax = max(p["speedup"] for d in datas for ps in d["lines"].values() for p in ps)
    top = max(wmax, smax) * 1.08 + 0.1

    # The ideal: speedup = workers (100% efficiency), and 50% efficiency.
    xend = wmax + 0.15
    ax.plot([0, xend], [0, xend], ":", color="black", lw=1.4,
            label="ideal (speedup = workers)", zorder=2)
    ax.plot([0, xend], [0, xend / 2], ":", color="0.6", lw=1,
            label="50% efficiency", zorder=1)

    strategies = []
    for d in datas:
        for s in d["lines"]:
            if s not in strategies:
                strategies.append(s)
    style = {}
    for s in strategies:
        style[s] = STRATEGY_STYLES.get(s) or OTHER_STYLES[
            len([t for t in style if t not in STRATEGY_STYLES]) % len(OTHER_STYLES)]

    ends = []          # (workers, speedup, efficiency, colour, name)
    # The first file of a method takes its colour; the others, the rest.
    others = iter(OTHER_COLORS * len(datas))
    used = set()
    for d, lab in zip(datas, labels):
        color = METHOD_COLORS.get(d.get("method"))
        if color is None or color in used:
            color = next(others)
        used.add(color)
        for s, ps in d["lines"].items():
            ls, marker = style[s]
            ws = [p["workers"] for p in ps]
            sp = [p["speedup"] for p in ps]
            name = f"{lab}, {s}"
            if not same_workload:
                name += f": {workload_text(d)}"
            ax.plot(ws, sp, ls=ls, marker=marker, color=color, ms=6, lw=1.9,
                    label=name, zorder=3)
            last = ps[-1]
            ends.append((last["workers"], last["speedup"], last["efficiency"],
                         color, f"{lab}, {s}"))

    xtext = wmax + 0.1 + 0.03 * wmax
    ax.set_xlim(0.5, xtext + 1)
    ax.set_ylim(0, top)
    ax.set_xticks(range(1, wmax + 1) if wmax <= 32
                  else [w for w in range(1, wmax + 1) if w == 1 or w % 4 == 0])

    # Efficiency at each line's highest worker count, to the right of the
    # points, moved apart where lines end close together.
    ys = spread([e[1] for e in ends], gap=0.055 * top, lo=0.03 * top,
                hi=0.97 * top)
    notes = []
    for (w, s, eff, color, name), y in zip(ends, ys):
        notes.append(ax.annotate(f"{name}: {s:.2f}x, {100 * eff:.0f}% eff. at {w}",
                    xy=(w, s), xytext=(xtext, y), textcoords="data",
                    va="center", ha="left", fontsize=8.5, color=color,
                    arrowprops=dict(arrowstyle="-", color=color, lw=0.7,
                                    alpha=0.7, shrinkA=0, shrinkB=4),
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color,
                              lw=0.6, alpha=0.9), zorder=6))

    ax.set_xlabel("workers (omp: threads, procs: processes)")
    ax.set_ylabel("speedup over one worker of the same strategy")
    ax.grid(True, alpha=0.35)

    d0 = datas[0]
    version = d0.get("version", "")
    methods = ", ".join(labels)
    if same_workload:
        sub = workload_text(d0)
    else:
        sub = "workloads differ between the files (see the legend)"
    cpus = [f"{d0.get(k)} {n}" for k, n in (("online_cpus", "online CPUs"),
                                             ("physical_cores", "physical cores"))
            if d0.get(k) is not None]
    if cpus:
        sub += "; " + ", ".join(cpus)
    omp = "OpenMP: " + (omps[0] if len(omps) == 1 else " | ".join(omps))
    ax.set_title(f"parconv {version} sweep threads: speedup vs workers "
                 f"({methods})\n{sub}\n{omp}", fontsize=10.5)

    ax.legend(loc="upper left", fontsize=8.5, framealpha=0.92)
    # The notes are kept inside the axes by fit_right, not by the layout.
    for n in notes:
        n.set_in_layout(False)
    fig.tight_layout()
    fit_right(fig, ax, notes, xtext)
    benchlib.save_figure(fig, out, fail)


if __name__ == "__main__":
    main()
