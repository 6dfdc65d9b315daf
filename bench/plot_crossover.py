#!/usr/bin/python3
"""Plots a `parconv sweep ksize --json FILE` result: milliseconds per kernel
against kernel size for the direct and the FFT method, what `--method auto`
chose at each size, the measured crossover and (dashed) the cost model's
estimates. Writes a PNG.

Usage: bench/plot_crossover.py SWEEP.json [OUT.png] [--no-estimates]

OUT.png defaults to SWEEP.json with the suffix .png. Needs matplotlib
(Debian: python3-matplotlib); draws with the Agg backend, no display needed.
Exit status: 0 success, 2 missing or invalid input (one line on stderr),
1 the PNG could not be written.
"""

import argparse
import math
import os
import sys

import benchlib  # bench/: shared with the benchmarks

PROG = "plot_crossover"

DIRECT_COLOR = "#1f77b4"
FFT_COLOR = "#d95f02"
LOSS_COLOR = "#c00000"


def fail(msg, status=2):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(status)


def positive_number(x):
    return (isinstance(x, (int, float)) and not isinstance(x, bool)
            and math.isfinite(x) and x > 0)


def load_sweep(path):
    """The sweep JSON, checked; every problem is one line and exit 2."""
    data = benchlib.read_json(path, fail)
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        fail(f"'{path}' is not a parconv sweep JSON (no \"points\" list; "
             "write one with 'parconv sweep ksize ... --json FILE')")
    if data.get("sweep", "ksize") != "ksize":
        fail(f"'{path}' is a '{data.get('sweep')}' sweep; only 'ksize' sweeps are plotted")
    pts = data["points"]
    if not pts:
        fail(f"'{path}' has no points")
    for i, p in enumerate(pts):
        if not isinstance(p, dict):
            fail(f"'{path}': point {i} is not an object")
        for key in ("ksize", "direct_ms", "fft_ms"):
            if not positive_number(p.get(key)):
                fail(f"'{path}': point {i} has no positive number \"{key}\"")
        if p.get("auto") not in ("direct", "fft"):
            fail(f"'{path}': point {i} (ksize {p['ksize']}): \"auto\" is "
                 f"{p.get('auto')!r}, not \"direct\" or \"fft\"")
    pts.sort(key=lambda p: p["ksize"])
    return data


def crossover(pts):
    """The measured crossover. `parconv sweep` reports the first size at
    which FFT is faster; with noise the faster method can change back and
    forth, so the line goes where FFT stays faster (at every size from there
    on), log-interpolated between that size and the one before; both sizes
    are returned, and the other changes of the faster method."""
    faster = ["fft" if p["fft_ms"] < p["direct_ms"] else "direct" for p in pts]
    first = next((i for i, m in enumerate(faster) if m == "fft"), None)
    if first is None:
        return None
    stable = None
    if faster[-1] == "fft":
        stable = len(faster) - 1
        while stable > 0 and faster[stable - 1] == "fft":
            stable -= 1
    at = stable if stable is not None else first
    x = float(pts[at]["ksize"])
    if at > 0:
        a, b = pts[at - 1], pts[at]
        # log(direct/fft) is positive on b, negative or zero on a.
        ra = math.log(a["direct_ms"] / a["fft_ms"])
        rb = math.log(b["direct_ms"] / b["fft_ms"])
        t = -ra / (rb - ra) if rb != ra else 1.0
        x = a["ksize"] + t * (b["ksize"] - a["ksize"])
    switches = [pts[i]["ksize"] for i in range(first + 1, len(pts))
                if faster[i] != faster[i - 1]]
    return {"first_fft_ksize": pts[first]["ksize"],
            "stable_fft_ksize": pts[stable]["ksize"] if stable is not None else None,
            "interpolated": x, "at_start": at == 0, "switches": switches}


def main():
    ap = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="the file 'parconv sweep ksize --json' wrote")
    ap.add_argument("png", nargs="?",
                    help="PNG to write [the JSON's path with .png]")
    ap.add_argument("--no-estimates", action="store_true",
                    help="do not draw the cost model's estimates")
    args = ap.parse_args()

    data = load_sweep(args.json)
    out = args.png or os.path.splitext(args.json)[0] + ".png"

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError as e:
        fail(f"matplotlib is missing ({e}); on Debian: apt-get install python3-matplotlib")

    pts = data["points"]
    ks = [p["ksize"] for p in pts]
    direct = [p["direct_ms"] for p in pts]
    fft = [p["fft_ms"] for p in pts]
    chosen = [p["auto"] for p in pts]
    step = min((b - a for a, b in zip(ks, ks[1:]) if b > a), default=2)

    fig, ax = plt.subplots(figsize=(11, 6.5), dpi=110)

    # Auto's choice: a light band behind each size, coloured by method.
    for k, m in zip(ks, chosen):
        ax.axvspan(k - step / 2, k + step / 2, ymin=0, ymax=1, lw=0,
                   color=DIRECT_COLOR if m == "direct" else FFT_COLOR,
                   alpha=0.07, zorder=0)

    ax.plot(ks, direct, "-o", color=DIRECT_COLOR, ms=4, lw=1.8,
            label="direct (measured)", zorder=3)
    ax.plot(ks, fft, "-s", color=FFT_COLOR, ms=4, lw=1.8,
            label="FFT overlap-save (measured)", zorder=3)

    # Model estimates, dashed, where the JSON has them.
    has_est = False
    if not args.no_estimates:
        for key, color, name in (("est_direct_ms", DIRECT_COLOR, "direct"),
                                 ("est_fft_ms", FFT_COLOR, "FFT")):
            xy = [(p["ksize"], p[key]) for p in pts if positive_number(p.get(key))]
            if xy:
                has_est = True
                ax.plot([x for x, _ in xy], [y for _, y in xy], "--", color=color,
                        lw=1.2, alpha=0.75, label=f"{name}, cost model estimate",
                        zorder=2)

    # Auto's choice: a ring around the point of the chosen method; a red
    # cross and the loss where it picked the slower one.
    # auto's own runs where the sweep timed them (auto_ms), else the time
    # of the method it chose.
    auto_ms = [p["auto_ms"] if positive_number(p.get("auto_ms"))
               else f if m == "fft" else d
               for p, d, f, m in zip(pts, direct, fft, chosen)]
    ax.scatter(ks, auto_ms, s=90, facecolors="none", edgecolors="black",
               linewidths=1.3, zorder=4)
    worst = None
    for k, d, f, m, a in zip(ks, direct, fft, chosen, auto_ms):
        loss = a / min(d, f) - 1
        if loss > 0:
            ax.scatter([k], [a], s=70, marker="x", color=LOSS_COLOR, lw=2, zorder=5)
            if loss >= 0.05:
                ax.annotate(f"+{100 * loss:.0f}%", (k, a), xytext=(0, 9),
                            textcoords="offset points", ha="center", fontsize=8,
                            color=LOSS_COLOR, zorder=6)
            if worst is None or loss > worst[0]:
                worst = (loss, k)

    cross = crossover(pts)
    if cross:
        x = cross["interpolated"]
        ax.axvline(x, color="black", ls=":", lw=1.5, zorder=2)
        first, stable = cross["first_fft_ksize"], cross["stable_fft_ksize"]
        if stable is None:
            text = (f"FFT faster at {first}x{first} first, but not at the "
                    "largest size:\nno stable crossover")
        elif cross["at_start"]:
            text = "FFT faster at every size"
        else:
            text = (f"measured crossover ~{x:.1f}\n"
                    f"(FFT faster at every size from {stable}x{stable} on)")
        if stable is not None and first != stable:
            ax.axvline(first, color="0.45", ls=":", lw=1, zorder=2)
            text += (f"\nFFT first faster at {first}x{first} (parconv sweep's"
                     "\ncrossover, grey); faster method changes at "
                     + ", ".join(map(str, cross["switches"][:6]))
                     + (" ..." if len(cross["switches"]) > 6 else ""))
        ax.annotate(text, xy=(x, 0.97), xycoords=("data", "axes fraction"),
                    xytext=(6, 0), textcoords="offset points", ha="left",
                    va="top", fontsize=9,
                    bbox=dict(boxstyle="round,pad=0.3", fc="white", ec="0.7",
                              alpha=0.9), zorder=7)

    ax.set_yscale("log")
    ax.set_xlim(ks[0] - step / 2, ks[-1] + step / 2)
    ax.set_xlabel("kernel size k (k x k taps)")
    ax.set_ylabel("compute time per kernel (ms, log scale)")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", axis="y", alpha=0.12)

    dtype = data.get("dtype", "?")
    strategy = data.get("strategy", "?")
    workers = data.get("workers", "?")
    runs = data.get("runs")
    mode = data.get("mode")
    sub = (f"{data.get('rows', '?')}x{data.get('cols', '?')} matrix, "
           f"{data.get('count', '?')} kernels per size, {dtype}"
           + (f", mode {mode}" if mode else "")
           + f", strategy {strategy} x{workers} workers"
           + (f", median of {runs} runs" if runs and runs != 1 else "")
           + (", one run" if runs == 1 else ""))
    ax.set_title(f"parconv {data.get('version', '')}: direct vs FFT per kernel\n{sub}",
                 fontsize=11)

    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], ls="none", marker="o", ms=9, mfc="none",
                          mec="black", mew=1.3))
    labels.append("auto's choice (ring)")
    first_auto_fft = next((k for k, m in zip(ks, chosen) if m == "fft"), None)
    if "direct" in chosen:
        handles.append(Patch(facecolor=DIRECT_COLOR, alpha=0.15))
        labels.append("band: auto chose direct")
    if first_auto_fft is not None:
        handles.append(Patch(facecolor=FFT_COLOR, alpha=0.15))
        labels.append("band: auto chose FFT" + (
            f" (from {first_auto_fft}x{first_auto_fft})" if "direct" in chosen else ""))
    if worst:
        handles.append(Line2D([], [], ls="none", marker="x", color=LOSS_COLOR, mew=2))
        labels.append(f"auto chose the slower (worst +{100 * worst[0]:.1f}% at "
                      f"{worst[1]}x{worst[1]})")
    else:
        handles.append(Line2D([], [], ls="none"))
        labels.append("auto chose the faster method at every size")
    if cross:
        handles.append(Line2D([], [], color="black", ls=":", lw=1.5))
        labels.append("measured crossover")
    ax.legend(handles, labels, loc="best", fontsize=8.5, framealpha=0.92,
              ncol=2 if has_est else 1)

    fig.tight_layout()
    benchlib.save_figure(fig, out, fail)


if __name__ == "__main__":
    main()
