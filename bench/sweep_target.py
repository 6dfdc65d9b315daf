#!/usr/bin/python3
"""The auto target over several `parconv sweep ksize --json` results (the
sweeps of bench/sweep.sh): per kernel size, auto's time against the better
of direct and FFT in each sweep and the loss, then the line

  target auto <= 10% behind the better method, ksize A..B: worst X% at
  ksize K (sweep i of N) MET/NOT MET

Each sweep's figures are its own best of --runs, direct and FFT timed in
turn; auto's time is that of the method it chose, so the loss judges the
choice.

Usage: bench/sweep_target.py SWEEP1.json [SWEEP2.json ...]
Exit status 0 (whether or not the target is met: timings are reported,
never asserted), 2 for a missing or invalid input.
"""

import sys

import benchlib  # bench/: shared with the benchmarks

TARGET = 0.10


def fail(msg, status=2):
    print(f"sweep_target: {msg}", file=sys.stderr)
    sys.exit(status)


def main(paths):
    if not paths:
        fail("usage: sweep_target.py SWEEP.json...")
    sweeps = [benchlib.read_json(p, fail)["points"] for p in paths]
    n = len(sweeps)
    ks = [p["ksize"] for p in sweeps[0]]
    print(f"auto against the better method, {n} sweep{'s' if n > 1 else ''}"
          " (ms per kernel, best of each sweep's runs; loss = auto / better - 1)")
    print(f"{'ksize':>5} " + " ".join(
        f"{'auto':>7} {'better':>7} {'loss':>6}" for _ in sweeps) +
        f" {'worst':>6}  chose")
    worst = (-1e9, None, None)
    for i, k in enumerate(ks):
        cells, row_worst, chose = [], -1e9, []
        for s, pts in enumerate(sweeps, 1):
            p = pts[i]
            if p["ksize"] != k:
                fail(f"{paths[s - 1]}: point {i} is ksize {p['ksize']}, "
                     f"{paths[0]} has {k}")
            auto = p.get("auto_ms")
            if auto is None:  # a sweep of an older parconv
                auto = p["fft_ms"] if p["auto"] == "fft" else p["direct_ms"]
            better = min(p["direct_ms"], p["fft_ms"])
            loss = auto / better - 1
            cells.append(f"{auto:7.3f} {better:7.3f} {100 * loss:5.1f}%")
            chose.append(p["auto"] + ("*" if p.get("trial") else ""))
            row_worst = max(row_worst, loss)
            if loss > worst[0]:
                worst = (loss, k, s)
        print(f"{k:5d} " + " ".join(cells) + f" {100 * row_worst:5.1f}%  "
              + ",".join(chose))
    print("(* auto timed both methods on its own inputs: the estimates were "
          "within its margin)")
    loss, k, s = worst
    print(f"target auto <= {100 * TARGET:.0f}% behind the better method, "
          f"ksize {ks[0]}..{ks[-1]}: worst {100 * loss:.1f}% at ksize {k} "
          f"(sweep {s} of {n}) {'MET' if loss <= TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main(sys.argv[1:])
