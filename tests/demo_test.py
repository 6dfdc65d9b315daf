#!/usr/bin/python3
"""parconv demo sleep|lock|task: the threads lesson.

Usage: demo_test.py PARCONV_PATH SCRATCH_DIR

Two threads that sleep overlap; behind one mutex they run one after the
other. The tests check the lines, their order, and (with generous margins)
that the sleep demo's total is about S while the lock demo's is about 2S:
overlap versus serialisation is the behaviour under test. demo task runs
one task object (function, arguments, lock) by two threads, then by two
processes of their own (their pids differ from parconv's), serialised by
the lock both times: at least 2S each.
Prints 'ok   name' or 'FAIL name: why' per case and 'N passed, M failed' at
the end; exits 1 if anything failed.
"""
import re
import sys

import pctest
from pctest import case, expect

DODO = "au dodo"
REVEIL = "au réveil"


def demo(kind, seconds=None, timeout=30):
    args = ["demo", kind]
    if seconds is not None:
        args += ["--seconds", seconds]
    r = pctest.run(args, timeout, text=False)
    expect(r.returncode == 0, f"exit {r.returncode}, stderr {r.stderr!r}")
    expect(r.stderr == b"", f"stderr not empty: {r.stderr!r}")
    try:
        out = r.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError(f"output is not UTF-8: {e}")
    return out.splitlines()


def parse(lines, kind, seconds):
    """Checks the header, the four thread lines and the timing line;
    returns (events [(id, what)], total seconds)."""
    expect(lines, "no output")
    head = re.fullmatch(rf"demo {kind}: 2 threads each sleep ([0-9.]+)s.*",
                        lines[0])
    expect(head, f"header {lines[0]!r}")
    expect(float(head.group(1)) == seconds,
           f"header says {head.group(1)}s, expected {seconds}")
    events = []
    total = None
    for line in lines[1:]:
        m = re.fullmatch(r"([01]): (au dodo|au réveil)", line)
        if m:
            events.append((int(m.group(1)), m.group(2)))
            continue
        m = re.fullmatch(r"Executed in ([0-9]+\.[0-9]+) ?s\..*", line)
        if m:
            expect(total is None, "two 'Executed in' lines")
            total = float(m.group(1))
            continue
        raise AssertionError(f"unexpected line {line!r}")
    want = sorted([(0, DODO), (1, DODO), (0, REVEIL), (1, REVEIL)])
    expect(sorted(events) == want, f"thread lines {events}, expected each "
           f"of {want} once")
    expect(total is not None, "no 'Executed in X s' line")
    expect(lines[-1].startswith("Executed in"),
           "'Executed in' is not the last line")
    for i in (0, 1):
        expect(events.index((i, DODO)) < events.index((i, REVEIL)),
               f"thread {i} woke before it slept")
    return events, total


def t_sleep(seconds_arg, seconds):
    events, total = parse(demo("sleep", seconds_arg), "sleep", seconds)
    last_dodo = max(events.index((i, DODO)) for i in (0, 1))
    first_reveil = min(events.index((i, REVEIL)) for i in (0, 1))
    expect(last_dodo < first_reveil,
           f"the sleeps do not overlap: {events}")
    expect(total >= seconds * 0.95,
           f"total {total}s is shorter than one sleep of {seconds}s")
    expect(total < 1.5 * seconds,
           f"total {total}s >= 1.5 x {seconds}s: the sleeps did not overlap")


def check_serialised(events, who="thread"):
    """events are one thread's (or process's) dodo and réveil, then the
    other's."""
    a = events[0][0]  # the thread that took the lock first
    b = 1 - a
    expect(events[0][1] == DODO, f"first event {events[0]}")
    expect(events.index((a, REVEIL)) < events.index((b, DODO)),
           f"{who} {b} slept before {who} {a} woke: {events}")
    expect(events == [(a, DODO), (a, REVEIL), (b, DODO), (b, REVEIL)],
           f"events {events}, expected one {who} after the other")


def t_lock(seconds_arg, seconds):
    events, total = parse(demo("lock", seconds_arg), "lock", seconds)
    check_serialised(events)
    expect(total >= 2 * seconds * 0.95,
           f"total {total}s < 2 x {seconds}s x 0.95: the lock did not "
           f"serialise the sleeps")


TASK_LINE = re.compile(r"([01]): (au dodo|au réveil)(?: \(pid (\d+)\))?")


def task_half(lines, who, seconds):
    """One half of demo task: four task lines, each with the pid of the
    process that printed it (None when not shown), then 'Executed in X s'.
    Checks the order and that the total is at least the two sleeps;
    returns (events [(id, what)], {id: pids of its lines})."""
    expect(len(lines) == 5, f"{who}: {len(lines)} lines, expected 4 task "
           f"lines and 'Executed in': {lines}")
    events, pids = [], {0: set(), 1: set()}
    for line in lines[:4]:
        m = TASK_LINE.fullmatch(line)
        expect(m, f"{who}: unexpected line {line!r}")
        events.append((int(m.group(1)), m.group(2)))
        pids[int(m.group(1))].add(m.group(3) and int(m.group(3)))
    check_serialised(events, who[:-1])
    m = re.fullmatch(r"Executed in ([0-9]+\.[0-9]+) ?s\..*", lines[4])
    expect(m, f"{who}: no 'Executed in X s' line after the task lines: "
           f"{lines[4]!r}")
    total = float(m.group(1))
    # A lower bound only: both runs sleep in turn, whatever else runs.
    expect(total >= 2 * seconds - 0.01,
           f"{who}: total {total}s < 2 x {seconds}s: the lock did not "
           f"serialise the runs")
    return events, pids


def t_task(seconds_arg, seconds):
    """demo task: the same task run by two threads of one process, then by
    two processes of their own; in both, one run after the other."""
    lines = demo("task", seconds_arg)
    expect(len(lines) == 13, f"{len(lines)} lines, expected 13: {lines}")
    head = re.fullmatch(r"demo task: .*2 threads.*2 processes.* sleeps "
                        r"([0-9.]+)s.*", lines[0])
    expect(head, f"header {lines[0]!r}")
    expect(float(head.group(1)) == seconds,
           f"header says {head.group(1)}s, expected {seconds}")
    m = re.fullmatch(r"threads of one process \(pid (\d+)\).*", lines[1])
    expect(m, f"threads header {lines[1]!r}")
    parent = int(m.group(1))
    _, pids = task_half(lines[2:7], "threads", seconds)
    expect(pids == {0: {None}, 1: {None}},
           f"thread lines show a pid: {lines[2:6]}")
    expect(re.fullmatch(r"processes \(posix_spawn\).*", lines[7]),
           f"processes header {lines[7]!r}")
    _, pids = task_half(lines[8:13], "processes", seconds)
    expect(all(len(p) == 1 and None not in p for p in pids.values()),
           f"each process must show one pid on its lines: {pids}")
    p0, p1 = pids[0].pop(), pids[1].pop()
    expect(len({p0, p1, parent}) == 3, f"pids {p0}, {p1} and parconv's "
           f"{parent} are not three processes")


def t_zero():
    for kind in ("sleep", "lock"):
        events, total = parse(demo(kind, "0"), kind, 0.0)
        expect(total < 1.0, f"{kind} --seconds 0 took {total}s")


def main():
    pctest.arguments(
        "usage: demo_test.py PARCONV_PATH SCRATCH_DIR")
    case("demo sleep --seconds 0.6: overlap", t_sleep, "0.6", 0.6)
    case("demo lock --seconds 0.6: serialised", t_lock, "0.6", 0.6)
    case("demo lock --seconds 0.25", t_lock, "0.25", 0.25)
    case("demo sleep --seconds 0.3", t_sleep, "0.3", 0.3)
    case("demo sleep and lock --seconds 0", t_zero)
    case("demo sleep without --seconds: 2.5s", t_sleep, None, 2.5)
    case("demo task --seconds 0.3: threads, then processes, serialised",
         t_task, "0.3", 0.3)
    case("demo task --seconds 0", t_task, "0", 0.0)
    return pctest.summary()


if __name__ == "__main__":
    sys.exit(main())
